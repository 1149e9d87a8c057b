//! Background scenarios: `demo` (pipelines that run, complete and re-run forever) and
//! `load` (N tasks at an aggregate event rate).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::config::Scenario;
use crate::hub::Hub;
use crate::script::ScriptKind;
use crate::tasks::{self, LaunchArgs};
use crate::trace::TraceLevel;

/// One demo pipeline and its rhythm (simulated ms).
struct DemoPipeline {
    name: &'static str,
    trace: TraceLevel,
    run_ms: u64,
    pause_ms: u64,
    delay_ms: u64,
    pipeline: fn() -> Value,
}

/// The demo set: a traced chat agent, a traced document ingest, an untraced crawler.
const DEMO: [DemoPipeline; 3] = [
    DemoPipeline { name: "Support Agent", trace: TraceLevel::Summary, run_ms: 45_000, pause_ms: 5_000, delay_ms: 0, pipeline: support_agent },
    DemoPipeline { name: "Document Ingest", trace: TraceLevel::Summary, run_ms: 30_000, pause_ms: 4_000, delay_ms: 1_500, pipeline: document_ingest },
    DemoPipeline { name: "Web Crawler", trace: TraceLevel::Off, run_ms: 60_000, pause_ms: 8_000, delay_ms: 3_000, pipeline: web_crawler },
];

/// The chat pipeline of the protocol sample.
fn support_agent() -> Value {
    json!({"source":"chat_1","project_id":"6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f","components":[
        {"id":"chat_1","provider":"chat","config":{"hideForm":true,"mode":"Source","type":"chat"}},
        {"id":"agent_rocketride_1","provider":"agent_rocketride","config":{"max_waves":15},"input":[{"lane":"questions","from":"chat_1"}]},
        {"id":"llm_openai_1","provider":"llm_openai","config":{"profile":"openai-4o"},"control":[{"classType":"llm","from":"agent_rocketride_1"}]},
        {"id":"response_answers_1","provider":"response_answers","config":{"laneName":"answers"},"input":[{"lane":"answers","from":"agent_rocketride_1"}]}]})
}

/// A webhook document pipeline (project of the sample's running task).
fn document_ingest() -> Value {
    json!({"source":"webhook_1","project_id":"b7e2a9c4-1d3f-4e5a-9b8c-7d6e5f4a3b2c","components":[
        {"id":"webhook_1","provider":"webhook","config":{"mode":"Source","type":"webhook"}},
        {"id":"parse_1","provider":"parse","config":{},"input":[{"lane":"tags","from":"webhook_1"}]},
        {"id":"embedding_1","provider":"embedding_openai","config":{},"input":[{"lane":"documents","from":"parse_1"}]},
        {"id":"qdrant_1","provider":"qdrant","config":{},"input":[{"lane":"documents","from":"embedding_1"}]}]})
}

/// An untraced crawler: counts and output, no flow.
fn web_crawler() -> Value {
    json!({"source":"crawler_1","project_id":"0c4d2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d","components":[
        {"id":"crawler_1","provider":"webcrawler","config":{"mode":"Source","type":"webcrawler"}},
        {"id":"text_1","provider":"text_splitter","config":{},"input":[{"lane":"text","from":"crawler_1"}]}]})
}

/// Starts the configured scenario for `generation`.
pub fn spawn(hub: Arc<Hub>, generation: u64) {
    match hub.config.scenario {
        Scenario::Idle => {}
        Scenario::Demo => {
            for (i, _) in DEMO.iter().enumerate() {
                tokio::spawn(demo_loop(hub.clone(), generation, i));
            }
            crate::fleet::demo::spawn(hub.clone(), generation);
        }
        Scenario::Load => spawn_load(hub, generation),
    }
}

/// Whether `generation` is still current and the server is up.
fn current(hub: &Hub, generation: u64) -> bool {
    hub.lock().generation == generation && !*hub.shutdown_signal().borrow()
}

/// Runs one demo pipeline, waits for its completion, pauses, and again, until the
/// generation changes or the server stops.
async fn demo_loop(hub: Arc<Hub>, generation: u64, index: usize) {
    let demo = &DEMO[index];
    tokio::time::sleep(hub.clock.scaled(demo.delay_ms)).await;
    while current(&hub, generation) {
        let args = LaunchArgs {
            pipeline: (demo.pipeline)(),
            name: Some(demo.name.into()),
            trace: demo.trace,
            duration_ms: Some(demo.run_ms),
            ..LaunchArgs::default()
        };
        // A client may run the same pipeline itself ("already running"): just wait.
        if let Ok(Some(body)) = tasks::execute(hub.clone(), args).await {
            let token = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["token"].as_str().map(str::to_owned));
            wait_completed(&hub, generation, token.as_deref()).await;
        }
        tokio::time::sleep(hub.clock.scaled(demo.pause_ms)).await;
    }
}

/// Polls until the task is completed or gone, or the generation changes.
async fn wait_completed(hub: &Hub, generation: u64, token: Option<&str>) {
    let Some(token) = token else { return };
    while current(hub, generation) {
        let done = hub.lock().tasks.get(token).is_none_or(|t| t.completed_at.is_some());
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Starts `--tasks` load tasks sharing `--rate` events per second (seeded by `--seed`).
fn spawn_load(hub: Arc<Hub>, generation: u64) {
    let n = hub.config.load_tasks.max(1);
    let rate = f64::from(hub.config.load_rate) / f64::from(n);
    for i in 0..n {
        let source = format!("load_{i}");
        let pipeline = json!({"source": source, "project_id": "10ad0000-0000-4000-8000-000000000000",
            "components": [{"id": source, "provider": "webhook"}]});
        let args = LaunchArgs {
            pipeline,
            name: Some(format!("Load {i}")),
            trace: TraceLevel::Summary,
            script: Some(ScriptKind::Load { rate }),
            seed: Some(hub.config.seed.wrapping_add(u64::from(i))),
            startup_ms: Some(0),
            ..LaunchArgs::default()
        };
        let hub = hub.clone();
        tokio::spawn(async move {
            if current(&hub, generation) {
                let _ = tasks::execute(hub, args).await;
            }
        });
    }
}

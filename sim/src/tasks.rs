//! The task registry and the task commands: `execute`, `terminate`,
//! `rrext_get_task_status`, `rrext_get_token`, `rrext_get_tasks` (spec §5).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::clock::epoch_s;
use crate::dap::{CmdError, CmdResult};
use crate::fake::Fake;
use crate::hub::{Hub, State, TaskCmd, TaskEntry};
use crate::json::{array_of, to_text, Obj};
use crate::pipeline::{self, Plan};
use crate::script::ScriptKind;
use crate::status::{state, TaskStatus};
use crate::tokens::{public_token, task_token, USER_ID};
use crate::trace::TraceLevel;

/// Run numbers: a replaced or reset task's old runner sees a different number and stops.
static RUNS: AtomicU64 = AtomicU64::new(1);

/// `execute` arguments the simulator reads (spec §5.1), plus simulator knobs.
#[derive(Debug, Clone, Default)]
pub struct LaunchArgs {
    /// `pipeline` object.
    pub pipeline: Value,
    /// `source` override.
    pub source: Option<String>,
    /// `name` display prefix.
    pub name: Option<String>,
    /// `pipelineTraceLevel` as the engine reads it (spec §4.3 gating).
    pub trace: TraceLevel,
    /// `ttl` seconds.
    pub ttl: Option<u64>,
    /// Simulator: end naturally after this many simulated ms (absent: run until terminated).
    pub duration_ms: Option<u64>,
    /// Simulator: STARTING → RUNNING time in simulated ms (default 400).
    pub startup_ms: Option<u64>,
    /// Simulator: force a script instead of choosing by source provider.
    pub script: Option<ScriptKind>,
    /// Simulator: seed of the script content.
    pub seed: Option<u64>,
}

impl LaunchArgs {
    /// Reads the arguments of an `execute` request (or a control `/_sim/execute` body).
    pub fn from_args(args: &Map<String, Value>) -> Self {
        let u64_arg = |k: &str| args.get(k).and_then(Value::as_u64);
        LaunchArgs {
            pipeline: args.get("pipeline").cloned().unwrap_or(Value::Null),
            source: args.get("source").and_then(Value::as_str).map(str::to_owned),
            name: args.get("name").and_then(Value::as_str).map(str::to_owned),
            trace: TraceLevel::from_arg(args.get("pipelineTraceLevel")),
            ttl: u64_arg("ttl"),
            duration_ms: u64_arg("durationMs"),
            startup_ms: u64_arg("startupMs"),
            script: None,
            seed: u64_arg("seed"),
        }
    }
}

/// Everything `launch` derives from the pipeline before registering the task.
struct Resolved {
    project_id: String,
    source: String,
    provider: String,
    component_name: String,
}

/// Validates the pipeline like `task_server.py` does (spec §5.1 errors).
fn resolve(args: &LaunchArgs) -> Result<Resolved, CmdError> {
    let Some(pipeline) = args.pipeline.as_object() else {
        return Err(CmdError::new("'NoneType' object has no attribute 'get'", "cmd_task.py", 150));
    };
    let source = args.source.clone().or_else(|| pipeline.get("source").and_then(Value::as_str).map(str::to_owned));
    let Some(source) = source.filter(|s| !s.is_empty()) else {
        return Err(CmdError::new("Pipeline does not have a source component defined", "task_server.py", 1062));
    };
    let components = pipeline.get("components").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let Some(comp) = components.iter().find(|c| c.get("id").and_then(Value::as_str) == Some(&source)) else {
        return Err(CmdError::new(
            format!("Pipeline source component \"{source}\" not found in components list"),
            "task_server.py",
            1068,
        ));
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let component_name = text(comp.get("name"))
        .or_else(|| text(comp.pointer("/config/name")))
        .unwrap_or_else(|| source.clone());
    Ok(Resolved {
        project_id: text(pipeline.get("project_id")).unwrap_or_default(),
        provider: text(comp.get("provider")).unwrap_or_default(),
        component_name,
        source,
    })
}

/// Registers (or replaces a completed) task and starts its runner. Returns the
/// `execute` response body and a receiver that fires once the task is RUNNING.
pub fn launch(hub: &Arc<Hub>, args: LaunchArgs) -> Result<(String, oneshot::Receiver<()>), CmdError> {
    let r = resolve(&args)?;
    let token = task_token(USER_ID, &r.project_id, &r.source);
    let id = format!("{}.{}", &token[3..11], r.source);
    let mut st = hub.lock();
    if st.tasks.get(&token).is_some_and(|t| t.completed_at.is_none()) {
        return Err(CmdError::new("Pipeline is already running.", "task_server.py", 1141));
    }
    let name_prefix = args.name.clone().unwrap_or_else(|| id.clone());
    let name = format!("{name_prefix}.{}", r.component_name);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let order = st.tasks.get(&token).map_or(run, |t| t.order);
    let (ctl, ctl_rx) = mpsc::channel(4);
    let (running_tx, running_rx) = oneshot::channel();
    let script = args.script.unwrap_or_else(|| ScriptKind::for_provider(&r.provider));
    let status = TaskStatus {
        name: name.clone(),
        project_id: r.project_id.clone(),
        source: r.source.clone(),
        start_time: epoch_s(),
        ..TaskStatus::default()
    };
    let entry = TaskEntry {
        public_token: public_token(&token),
        token: token.clone(),
        id: id.clone(),
        project_id: r.project_id.clone(),
        source: r.source.clone(),
        provider: r.provider.clone(),
        pipeline: args.pipeline.clone(),
        status,
        completed_at: None,
        run,
        order,
        name_prefix,
        ttl: args.ttl.unwrap_or(900),
        last_status: Instant::now(),
        log_next: 1,
        status_logged: None,
        status_held_until: None,
        ctl,
    };
    let body = execute_body(&entry);
    let task = entry.task_ref();
    let task_source = task.source.clone();
    st.tasks.insert(token, entry);
    let plan = Plan {
        task,
        run,
        generation: st.generation,
        trace: args.trace,
        duration_ms: args.duration_ms,
        startup_ms: args.startup_ms.unwrap_or(400),
        script,
        fake: Fake::from_pipeline(&args.pipeline, &task_source),
        pipeline: args.pipeline,
        seed: args.seed.unwrap_or(hub.config.seed ^ run),
    };
    drop(st);
    pipeline::spawn(hub.clone(), plan, ctl_rx, running_tx);
    Ok((body, running_rx))
}

/// The `execute` response body (spec §5.1).
fn execute_body(t: &TaskEntry) -> String {
    Obj::new()
        .set("id", &t.id)
        .set("token", &t.token)
        .set("publicToken", &t.public_token)
        .set("projectId", &t.project_id)
        .set("source", &t.source)
        .set("provider", &t.provider)
        .done()
}

/// `execute`: returns only once the task is RUNNING (spec §5.1, §7).
pub async fn execute(hub: Arc<Hub>, args: LaunchArgs) -> CmdResult {
    let (body, running) = launch(&hub, args)?;
    match running.await {
        Ok(()) => Ok(Some(body)),
        Err(_) => Err(CmdError::new("Task has already completed", "task_server.py", 1190)),
    }
}

/// The error for unknown tokens (spec §5.2, `task_server.py:674`).
pub fn not_running() -> CmdError {
    CmdError::new("Your pipeline is not running", "task_server.py", 674)
}

/// `terminate`: STOPPING … `end`, then the body-less response ~100 ms later (Errata 2).
pub async fn terminate(hub: Arc<Hub>, token: Option<String>) -> CmdResult {
    let ctl = {
        let st = hub.lock();
        let task = token.as_deref().and_then(|t| st.tasks.get(t)).ok_or_else(not_running)?;
        if task.completed_at.is_some() {
            return Ok(None);
        }
        task.ctl.clone()
    };
    let (reply, done) = oneshot::channel();
    if ctl.send(TaskCmd::Terminate(reply)).await.is_ok() {
        // The runner may vanish (reset) before replying; the response is sent anyway.
        let _ = done.await;
    }
    tokio::time::sleep(hub.clock.scaled(100)).await;
    Ok(None)
}

/// Restarts a running task in place (spec §4.2 restart sequence).
pub async fn restart(hub: Arc<Hub>, token: &str) -> CmdResult {
    let ctl = {
        let st = hub.lock();
        let task = st.tasks.get(token).filter(|t| t.completed_at.is_none()).ok_or_else(not_running)?;
        task.ctl.clone()
    };
    let (reply, done) = oneshot::channel();
    ctl.send(TaskCmd::Restart(reply)).await.map_err(|_| not_running())?;
    done.await.map_err(|_| not_running())?;
    Ok(None)
}

/// `rrext_get_task_status`: `TASK_STATUS` without `__id` (spec §5.2).
pub fn get_task_status(st: &State, token: Option<&str>) -> CmdResult {
    let task = token.and_then(|t| st.tasks.get(t)).ok_or_else(not_running)?;
    Ok(Some(to_text(&task.status)))
}

/// `rrext_get_token`: the first registered task of projectId+source (spec §5.3).
pub fn get_token(st: &State, project_id: Option<&str>, source: Option<&str>) -> CmdResult {
    let task = st
        .tasks_in_order()
        .into_iter()
        .find(|t| Some(t.project_id.as_str()) == project_id && Some(t.source.as_str()) == source)
        .ok_or_else(|| CmdError::new("Your pipeline is not running", "task_server.py", 629))?;
    Ok(Some(Obj::new().set("token", &task.token).done()))
}

/// `rrext_get_tasks`: RUNNING tasks with their full pipeline (spec §5.5).
pub fn get_tasks(st: &State) -> CmdResult {
    let items: Vec<String> = st
        .tasks_in_order()
        .into_iter()
        .filter(|t| t.status.state == state::RUNNING)
        .map(|t| {
            Obj::new()
                .set("name", &t.status.name)
                .set("description", "")
                .set("source", &t.source)
                .set("token", &t.token)
                .set("status", &t.status)
                .set("pipeline", &t.pipeline)
                .done()
        })
        .collect();
    Ok(Some(Obj::new().raw("tasks", &array_of(&items)).done()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_validation_errors() {
        let missing = resolve(&LaunchArgs::default()).err().unwrap();
        assert!(missing.message.contains("NoneType"));
        let args = LaunchArgs {
            pipeline: serde_json::json!({"project_id":"p","components":[{"id":"a","provider":"chat"}]}),
            ..LaunchArgs::default()
        };
        assert_eq!(resolve(&args).err().unwrap().message, "Pipeline does not have a source component defined");
        let args = LaunchArgs { source: Some("b".into()), ..args };
        assert_eq!(resolve(&args).err().unwrap().message, "Pipeline source component \"b\" not found in components list");
    }
}

//! Control API shapes, send log, dashboard and scenarios.

mod common;

use std::time::Duration;

use common::*;
use runwatch_sim::{Config, Scenario};
use serde_json::json;

#[tokio::test]
async fn control_shapes_and_404() {
    let sim = sim().await;
    let (status, health) = http(&sim, "GET", "/_sim/health", None).await;
    assert_eq!(status, 200);
    assert_eq!(health["ok"], true);
    assert_eq!(health["scenario"], "idle");
    assert_eq!(http(&sim, "GET", "/elsewhere", None).await.0, 404);
    assert_eq!(http(&sim, "GET", "/task/service", None).await.0, 400, "plain GET is not an upgrade");

    let exec = sim_execute(&sim, json!({"projectId":"p","source":"webhook_1","name":"Ingest"})).await;
    for k in ["id", "token", "publicToken", "projectId", "source", "provider"] {
        assert!(exec[k].is_string(), "execute body has {k}: {exec}");
    }
    let (status, err) = http(&sim, "POST", "/_sim/execute", Some(json!({"projectId":"p","source":"webhook_1"}))).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("Pipeline is already running.")));

    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["task","dashboard"]})).await;
    let (_, conns) = http(&sim, "GET", "/_sim/connections", None).await;
    assert_eq!(conns[0]["authenticated"], true);
    assert_eq!(conns[0]["clientName"], "test");
    assert_eq!(conns[0]["monitors"], json!([{"key":"*","mask":160,"types":["TASK","DASHBOARD"]}]));

    let (status, _) = http(&sim, "POST", "/_sim/terminate", Some(json!({"token": exec["token"]}))).await;
    assert_eq!(status, 200);
    let (_, tasks) = http(&sim, "GET", "/_sim/tasks", None).await;
    assert_eq!(tasks[0]["completed"], true);

    let (status, bad) = http(&sim, "POST", "/_sim/faults", Some(json!({"kind":"nope"}))).await;
    assert_eq!(status, 400);
    assert!(bad["error"].as_str().unwrap().contains("bad fault"));
}

#[tokio::test]
async fn send_log_records_routing_facts_and_pages() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"projectId":"p","source":"chat_1","types":["summary","sse"]})).await;
    sim_execute(&sim, json!({"projectId":"p","source":"chat_1"})).await;
    c.until(|v| is_event(v, "apaevt_sse")).await;
    let log = log_since(&sim, 0).await;
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries[0]["kind"], "open", "the connection's start comes first");
    assert_eq!(entries[0]["conn"], 1);
    assert_eq!(entries[0]["path"], "/task/service");
    assert_eq!(entries[1]["kind"], "response");
    assert_eq!(entries[1]["command"], "auth");
    assert_eq!(entries[1]["seq"], 1);
    assert_eq!(entries[1]["conn"], 1);
    let sse = entries.iter().find(|e| e["event"] == "apaevt_sse").unwrap();
    assert_eq!(sse["bit"], 64);
    assert_eq!(sse["pipeId"], 0);
    assert_eq!(sse["keys"], json!(["p.p.chat_1"]));
    assert_eq!(sse["projectId"], "p");
    assert!(sse["taskId"].as_str().unwrap().ends_with(".chat_1"));
    assert!(sse["atMs"].as_u64().unwrap() > 1_600_000_000_000);
    let indices: Vec<u64> = entries.iter().map(|e| e["i"].as_u64().unwrap()).collect();
    assert!(indices.windows(2).all(|w| w[1] == w[0] + 1));
    let later = log_since(&sim, 2).await;
    assert_eq!(later["entries"][0]["i"], 2);
    assert_eq!(later["truncated"], false);
}

#[tokio::test]
async fn send_log_capacity_reports_truncation() {
    let sim = sim_with(Config { send_log_capacity: 2, ..Config::default() }).await;
    let mut c = Client::authed(&sim).await;
    for _ in 0..3 {
        c.call("rrext_ping", json!({})).await;
    }
    // open, auth response, three ping responses: the first three are gone.
    let log = log_since(&sim, 0).await;
    assert_eq!(log["truncated"], true);
    assert_eq!(log["oldest"], 3);
    assert_eq!(log["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn dashboard_uses_display_labels_and_lower_case_flags() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["summary","task"]})).await;
    c.monitor(json!({"projectId":"61e1aa6b-0000","source":"webhook_1","types":["summary","flow"]})).await;
    let d = c.call("rrext_dashboard", json!({})).await;
    let monitors = &d["body"]["connections"][0]["monitors"];
    assert_eq!(monitors, &json!([{"key":"All tasks","flags":["summary","task"]},{"key":"61e1aa6b.webhook_1","flags":["summary","flow"]}]));
    sim_execute(&sim, json!({"projectId":"61e1aa6b-0000","source":"webhook_1","name":"Scopes"})).await;
    let d = c.call("rrext_dashboard", json!({})).await;
    assert_eq!(d["body"]["connections"][0]["monitors"][1]["key"], "Scopes.webhook_1", "label changes once a task exists");
    assert_eq!(d["body"]["overview"]["activeTasks"], 1);
    assert_eq!(d["body"]["tasks"][0]["state"], 3);
}

#[tokio::test]
async fn demo_scenario_has_live_pipelines_with_output() {
    let sim = sim_with(Config { scenario: Scenario::Demo, ..Config::default() }).await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["task","output","sse","flow"]})).await;
    let mut names = std::collections::BTreeSet::new();
    c.until(|v| {
        names.insert(v["event"].as_str().unwrap_or("").to_owned());
        names.contains("apaevt_sse") && names.contains("output") && names.contains("apaevt_flow")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, tasks) = http(&sim, "GET", "/_sim/tasks", None).await;
    assert_eq!(tasks.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn load_scenario_produces_its_rate() {
    let config = Config { scenario: Scenario::Load, load_tasks: 2, load_rate: 2000, ..Config::default() };
    let sim = sim_with(config).await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["output","sse","flow"]})).await;
    let start = std::time::Instant::now();
    let frames = c.until(|_| start.elapsed() >= Duration::from_millis(500)).await;
    // 2000/s for 0.5 s ≈ 1000 events; allow wide slack for a loaded CI machine.
    assert!(frames.len() > 300, "only {} events", frames.len());
}

#[tokio::test]
async fn flat_out_load_follows_the_reader_without_drops_and_stamps_events() {
    let config = Config { scenario: Scenario::Load, load_tasks: 2, load_rate: 0, ..Config::default() };
    let sim = sim_with(config).await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["ALL"]})).await;
    let mut events = 0;
    let frames = c
        .until(|v| {
            events += usize::from(v["type"] == "event");
            events >= 5000
        })
        .await;
    let events: Vec<_> = frames.iter().filter(|v| v["type"] == "event").collect();
    // Flat-out never overruns the connection's queue: no frame is lost, seqs have no hole.
    let seqs: Vec<u64> = frames.iter().filter_map(|v| v["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "a hole in {seqs:?}");
    // The real-frame mix, and a send stamp on every task event.
    let share = |name: &str| events.iter().filter(|v| v["event"] == name).count() as f64 / events.len() as f64;
    assert!((share("apaevt_flow") - 0.52).abs() < 0.03, "flow {}", share("apaevt_flow"));
    assert!((share("apaevt_status_update") - 0.29).abs() < 0.03, "status {}", share("apaevt_status_update"));
    assert!((share("apaevt_task") - 0.07).abs() < 0.02, "task {}", share("apaevt_task"));
    assert!(events.iter().filter(|v| v["event"] != "apaevt_dashboard").all(|v| v["body"]["eventTime"].is_f64()));
}

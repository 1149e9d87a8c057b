//! Task lifecycle frames (spec §4.2, §5.1, Errata 2 and 5) and cleanup (§3.6).

mod common;

use common::*;
use runwatch_sim::Config;
use serde_json::{json, Value};

/// Collapses runs of identical labels (periodic statuses) for order assertions.
fn dedup(labels: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        if out.last() != Some(&l) {
            out.push(l);
        }
    }
    out
}

#[tokio::test]
async fn execute_answers_after_running_with_deterministic_ids() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"projectId":"proj-chat","source":"chat_1","types":["summary","task"]})).await;
    let seq = c.request("execute", json!({"pipeline": chat_pipeline(), "name":"Support Agent"})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    let labels: Vec<String> = frames.iter().map(label).collect();
    assert_eq!(labels, vec!["status:1", "apaevt_task:begin", "status:2", "status:3", "response:execute"]);
    let body = &frames[4]["body"];
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("tk_") && token.len() == 35);
    assert_eq!(body["id"].as_str().unwrap(), format!("{}.chat_1", &token[3..11]));
    assert!(body["publicToken"].as_str().unwrap().starts_with("pk_"));
    assert_eq!(body["provider"], "chat");
    assert_eq!(frames[1]["body"]["name"], "Support Agent.chat_1");
    assert_eq!(frames[3]["body"]["serviceUp"], true);
    // A second execute of the same pipeline while running fails.
    let r = c.call("execute", json!({"pipeline": chat_pipeline()})).await;
    assert_eq!(r["message"], "Pipeline is already running.");
    // rrext_get_task_status has no __id; rrext_get_token finds the same token.
    let st = c.call("rrext_get_task_status", json!({"token": token})).await;
    assert_eq!(st["body"]["state"], 3);
    assert!(st["body"].get("__id").is_none());
    let tk = c.call("rrext_get_token", json!({"projectId":"proj-chat","source":"chat_1"})).await;
    assert_eq!(tk["body"]["token"], token);
    let tasks = c.call("rrext_get_tasks", json!({})).await;
    assert_eq!(tasks["body"]["tasks"][0]["token"], token);
}

#[tokio::test]
async fn flow_events_only_with_a_truthy_trace_level() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["flow","output"]})).await;
    sim_execute(&sim, json!({"projectId":"a","source":"chat_1"})).await;
    let frames = c.until(|v| is_event(v, "output")).await;
    assert!(frames.iter().all(|v| !is_event(v, "apaevt_flow")), "no trace level → no flow");
    sim_execute(&sim, json!({"projectId":"b","source":"chat_1","pipelineTraceLevel":"summary"})).await;
    let flow = c.until(|v| is_event(v, "apaevt_flow") && v["body"]["project_id"] == "b").await.pop().unwrap();
    let b = &flow["body"];
    assert_eq!(b["op"], "begin");
    assert_eq!(b["pipes"], json!(["Question 1"]));
    assert_eq!(b["trace"], json!({}));
    assert!(b["__id"].as_str().unwrap().ends_with(".chat_1"));
    let enter = c.until(|v| is_event(v, "apaevt_flow") && v["body"]["project_id"] == "b").await.pop().unwrap();
    assert_eq!(enter["body"]["op"], "enter");
    assert_eq!(enter["body"]["pipes"].as_array().unwrap().len(), 2, "enter pushes the component");
}

#[tokio::test]
async fn natural_completion_sends_a_final_status_after_end() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["summary","task"]})).await;
    sim_execute(&sim, json!({"projectId":"p","source":"webhook_1","durationMs":1500})).await;
    let frames = c.until(|v| label(v) == "apaevt_task:end").await;
    let tail = c.json().await;
    let mut labels = dedup(frames.iter().map(label).collect());
    labels.push(label(&tail));
    let n = labels.len();
    assert_eq!(&labels[n - 4..], &["status:4", "status:6c", "apaevt_task:end", "status:6c"], "{labels:?}");
    let final_status = &tail["body"];
    assert_eq!(final_status["status"], "Stopped", "snapshot exit-code bug (§4.2)");
    assert_eq!(final_status["exitCode"], 1);
    assert_eq!(final_status["metrics"]["cpu_percent"], 0.0, "final status zeroes metrics (Errata 5)");
    assert!(final_status["tokens"]["total"].as_f64().unwrap() > 0.0, "but keeps tokens");
    assert!(final_status["endTime"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn fixed_exit_code_completes_as_state_5() {
    let sim = sim_with(Config { exit_code_bug: false, ..Config::default() }).await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["summary","task"]})).await;
    sim_execute(&sim, json!({"projectId":"p","source":"webhook_1","durationMs":500})).await;
    c.until(|v| label(v) == "apaevt_task:end").await;
    let tail = c.json().await;
    assert_eq!(label(&tail), "status:5c");
    assert_eq!(tail["body"]["status"], "Completed");
}

#[tokio::test]
async fn terminate_order_and_late_response() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let task = sim_execute(&sim, json!({"projectId":"p","source":"chat_1"})).await;
    c.monitor(json!({"token":"*","types":["summary","task"]})).await;
    let seq = c.request("terminate", json!({"token": task["token"]})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    let labels = dedup(frames.iter().map(label).collect());
    let n = labels.len();
    assert_eq!(&labels[n - 5..], &["status:3", "status:4", "status:6c", "apaevt_task:end", "response:terminate"], "{labels:?}");
    let service_down = &frames[frames.len() - 5]["body"];
    assert_eq!(service_down["serviceUp"], false);
    assert!(frames.last().unwrap().get("body").is_none(), "terminate answers without a body");
}

#[tokio::test]
async fn slow_execute_is_overtaken_by_fast_commands() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let exec = c.request("execute", json!({"pipeline": chat_pipeline(), "startupMs": 4000})).await;
    let ping = c.request("rrext_ping", json!({})).await;
    let frames = c.until(|v| is_response_to(v, exec)).await;
    let order: Vec<u64> = frames.iter().filter(|v| v["type"] == "response").map(|v| v["request_seq"].as_u64().unwrap()).collect();
    assert_eq!(order, vec![ping, exec]);
}

#[tokio::test]
async fn cleanup_silently_deletes_project_keys_and_announces_task_removed() {
    let config = Config { cleanup_delay_ms: 100, cleanup_scan_ms: 50, ..Config::default() };
    let sim = sim_with(config).await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["dashboard"]})).await;
    c.monitor(json!({"projectId":"p","source":"s1","types":["summary"]})).await;
    c.monitor(json!({"projectId":"p","source":"s1","pipeId":1,"types":["sse"]})).await;
    c.monitor(json!({"projectId":"p","source":"*","types":["task"]})).await;
    let task = sim_execute(&sim, json!({"projectId":"p","source":"s1","durationMs":200})).await;
    let removed = c.until(|v| label(v) == "apaevt_dashboard:task_removed").await.pop().unwrap();
    assert_eq!(removed["body"]["taskId"], task["id"]);
    let keys: Vec<String> = monitors(&sim).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec!["*".to_owned(), "p.p.*".to_owned()], "p.p.s1 and p.p.s1.1 are gone; others survive");
    let st = c.call("rrext_get_task_status", json!({"token": task["token"]})).await;
    assert_eq!(st["message"], "Your pipeline is not running");
    assert_eq!(st["trace"], json!({"file":"task_server.py","lineno":674}));
}

#[tokio::test]
async fn running_status_has_every_field_and_growing_counts() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"projectId":"p","source":"webhook_1","types":["summary"]})).await;
    sim_execute(&sim, json!({"projectId":"p","source":"webhook_1","pipelineTraceLevel":"metadata"})).await;
    let mut last: Option<Value> = None;
    for _ in 0..3 {
        last = c.until(|v| is_event(v, "apaevt_status_update") && v["body"]["completedCount"].as_u64() > Some(0)).await.pop();
    }
    let b = last.unwrap()["body"].clone();
    let fields: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
    for f in ["name", "project_id", "source", "completed", "state", "startTime", "endTime", "debuggerAttached", "status",
        "warnings", "errors", "currentObject", "currentSize", "notes", "totalSize", "totalCount", "completedSize",
        "completedCount", "failedSize", "failedCount", "wordsSize", "wordsCount", "rateSize", "rateCount", "serviceUp",
        "exitCode", "exitMessage", "pipeflow", "metrics", "tokens", "__id"] {
        assert!(fields.contains(&f), "missing {f}");
    }
    assert_eq!(b["pipeflow"]["totalPipes"], 4);
    assert!(b["metrics"]["cpu_memory_mb"].as_f64().unwrap() > 0.0);
    assert!(b["pipeflow"]["byPipe"].as_object().unwrap().keys().all(|k| k.parse::<u32>().is_ok()));
}

#[tokio::test]
async fn restart_sends_restarting_then_restart_action() {
    let sim = sim().await;
    let task = sim_execute(&sim, json!({"projectId":"p","source":"chat_1"})).await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["summary","task"]})).await;
    let (status, _) = http(&sim, "POST", "/_sim/restart_task", Some(json!({"token": task["token"]}))).await;
    assert_eq!(status, 200);
    let frames = c.until(|v| label(v) == "status:3" && v["body"]["status"] == "").await;
    let labels = dedup(frames.iter().map(label).collect());
    let n = labels.len();
    assert_eq!(&labels[n - 5..], &["status:6", "status:1", "apaevt_task:restart", "status:2", "status:3"], "{labels:?}");
}

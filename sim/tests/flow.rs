//! `apaevt_flow` (spec §4.3, §5.1 `pipelineTraceLevel`), checked on the exact wire text.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn is_flow(v: &Value, op: &str) -> bool {
    is_event(v, "apaevt_flow") && v["body"]["op"] == op
}

#[tokio::test]
async fn enter_and_leave_traces_keep_the_wire_key_order() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["flow"]})).await;
    sim_execute(&sim, json!({"pipeline": chat_pipeline(), "pipelineTraceLevel":"summary"})).await;
    // The sample: {"lane":"questions","data":null}; invoke traces put `invoke` after `lane`.
    let enter = c.until_text(|v| is_flow(v, "enter")).await;
    assert!(enter.contains(r#""trace":{"lane":"questions","data":null},"project_id":"proj-chat""#), "{enter}");
    let invoke = c.until_text(|v| is_flow(v, "enter")).await;
    assert!(invoke.contains(r#""trace":{"lane":"invoke","invoke":"llm","data":null}"#), "{invoke}");
    let leave = c.until_text(|v| is_flow(v, "leave")).await;
    assert!(leave.contains(r#""trace":{"lane":"invoke","invoke":"llm","result":"continue","data":null}"#), "{leave}");
    let end = c.until_text(|v| is_flow(v, "end")).await;
    assert!(end.contains(r#""trace":{"name":"Question 1","answers":"#), "SUMMARY: the result is the trace: {end}");
}

#[tokio::test]
async fn level_none_produces_no_flow_frames_and_no_pipe_stacks() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["flow","output","summary"]})).await;
    // "none" is truthy, so the server would forward FLOW, but the engine traces nothing.
    let task = sim_execute(&sim, json!({"projectId":"p","source":"webhook_1","pipelineTraceLevel":"none"})).await;
    let frames = c.until(|v| is_event(v, "output")).await;
    let more = c.until(|v| is_event(v, "output")).await;
    assert!(frames.iter().chain(&more).all(|v| !is_event(v, "apaevt_flow")), "no flow for \"none\"");
    let st = c.call("rrext_get_task_status", json!({"token": task["token"]})).await;
    assert_eq!(st["body"]["pipeflow"]["byPipe"], json!({}), "byPipe is fed by the same frames");
}

#[tokio::test]
async fn metadata_level_end_has_an_empty_trace() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["flow"]})).await;
    sim_execute(&sim, json!({"projectId":"p","source":"webhook_1","pipelineTraceLevel":"metadata"})).await;
    let enter = tokio::time::timeout(Duration::from_secs(5), c.until(|v| is_flow(v, "enter"))).await.unwrap();
    assert!(enter.last().unwrap()["body"]["trace"]["lane"].is_string(), "enter/leave traced at METADATA");
    let end = c.until(|v| is_flow(v, "end")).await.pop().unwrap();
    assert_eq!(end["body"]["trace"], json!({}), "the result rides on `end` only at SUMMARY and up");
}

//! Scripted pipelines (`fake` in the source config, the conformance kit's convention): the
//! run follows the script, as the stand-in engine behind the recorded sessions runs it.

mod common;

use common::*;
use runwatch_sim::Config;
use serde_json::{json, Value};

fn pipeline(fake: Value) -> Value {
    json!({"source":"webhook_1","project_id":"proj-fake","components":[
        {"id":"webhook_1","provider":"webhook","config":{"mode":"Source","type":"webhook","fake":fake}},
        {"id":"parse_1","provider":"parse","input":[{"lane":"text","from":"webhook_1"}]}]})
}

/// Subscribes to everything, executes, and collects frames up to `apaevt_task end` (or,
/// for a service run, up to the `n`-th processed line).
async fn run(c: &mut Client, fake: Value, trace: &str) -> (Value, Vec<Value>) {
    c.monitor(json!({"token":"*","types":255})).await;
    let seq = c.request("execute", json!({"pipeline": pipeline(fake.clone()), "pipelineTraceLevel": trace})).await;
    let mut frames = c.until(|v| is_response_to(v, seq)).await;
    let resp = frames.pop().unwrap();
    assert_eq!(resp["success"], true, "{resp}");
    if fake["mode"] == "service" {
        let n = fake["objects"].as_u64().unwrap();
        let processed = |v: &Value| u64::from(is_event(v, "output") && v["body"]["output"].as_str().unwrap().contains("processed"));
        let mut seen: u64 = frames.iter().map(processed).sum();
        if seen < n {
            frames.extend(c.until(|v| {
                seen += processed(v);
                seen == n
            }).await);
        }
    } else {
        // A short run can end before the execute response is read: look at what came first.
        if !frames.iter().any(|v| label(v) == "apaevt_task:end") {
            frames.extend(c.until(|v| label(v) == "apaevt_task:end").await);
        }
        let end = frames.iter().rposition(|v| label(v) == "apaevt_task:end").unwrap();
        if !frames[end..].iter().any(|v| is_event(v, "apaevt_status_update")) {
            frames.extend(c.until(|v| is_event(v, "apaevt_status_update")).await);
        }
    }
    (resp, frames)
}

fn outputs(frames: &[Value]) -> Vec<String> {
    frames.iter().filter(|v| is_event(v, "output")).map(|v| v["body"]["output"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_batch_script_runs_its_objects_then_exits_like_the_snapshot_server() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let (resp, frames) = run(&mut c, json!({"objects":2,"interval":0.2,"mode":"batch","pipes":2}), "metadata").await;
    let token = resp["body"]["token"].as_str().unwrap();
    let out = outputs(&frames);
    assert!(out[0].starts_with(&format!("fake-engine: task {}... source=webhook_1 trace=1 objects=2 mode=batch", &token[..11])), "{out:?}");
    assert_eq!(out[1], "webhook_1: processed object-1.txt on pipe 0 (1024 bytes)\n");
    assert_eq!(out[2], "webhook_1: processed object-2.txt on pipe 1 (2048 bytes)\n");
    let messages: Vec<&str> = frames.iter().filter(|v| is_event(v, "apaevt_status_message")).map(|v| v["body"]["message"].as_str().unwrap()).collect();
    assert_eq!(messages, vec!["Loading pipeline", "Running", "Completed"]);
    let sse: Vec<&Value> = frames.iter().filter(|v| is_event(v, "apaevt_sse")).collect();
    assert_eq!(sse.len(), 2);
    assert_eq!(sse[1]["body"]["pipe_id"], 1);
    let running = frames.iter().find(|v| is_event(v, "apaevt_status_update") && v["body"]["state"] == 3).unwrap();
    assert_eq!((running["body"]["status"].as_str(), running["body"]["serviceUp"].as_bool()), (Some("Running"), Some(true)));
    // The snapshot's exit_code bug: an >EXIT line ends the run as state 6 with exit code 1.
    let states: Vec<u64> = frames.iter().filter(|v| is_event(v, "apaevt_status_update")).map(|v| v["body"]["state"].as_u64().unwrap()).collect();
    assert_eq!(&states[states.len() - 4..], &[3, 4, 6, 6], "Completed (service down), STOPPING, final, final again after end");
    let err = frames.iter().find(|v| label(v) == "apaevt_dashboard:task_error").unwrap();
    assert_eq!(err["body"]["exitCode"], 1);
    assert!(err["body"]["exitMessage"].is_null(), "an empty exit message is sent as null");
    let last = frames.last().unwrap();
    assert_eq!((last["body"]["completed"].as_bool(), last["body"]["totalCount"].as_u64(), last["body"]["wordsCount"].as_u64()), (Some(true), Some(2), Some(18)));
    // Flow at metadata: one object's trace, begin … end, with the stack mirrored.
    let flow: Vec<&Value> = frames.iter().filter(|v| is_event(v, "apaevt_flow") && v["body"]["id"] == 0).collect();
    let ops: Vec<&str> = flow.iter().map(|v| v["body"]["op"].as_str().unwrap()).collect();
    assert_eq!(ops, vec!["begin", "enter", "leave", "enter", "leave", "enter", "leave", "enter", "leave", "end"]);
    assert_eq!(flow[3]["body"]["trace"], json!({"lane":"text","data":{"length":44}}));
    assert_eq!(flow[9]["body"]["trace"], json!({}), "no result below summary");
}

#[tokio::test]
async fn without_an_exit_line_a_clean_exit_completes() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let (_, frames) = run(&mut c, json!({"objects":1,"interval":0.1,"exitLine":false,"sse":false}), "").await;
    let fin = frames.iter().rfind(|v| is_event(v, "apaevt_status_update")).unwrap();
    assert_eq!((fin["body"]["state"].as_u64(), fin["body"]["exitCode"].as_i64()), (Some(5), Some(0)));
    assert!(frames.iter().all(|v| label(v) != "apaevt_dashboard:task_error"));
    assert!(frames.iter().all(|v| !is_event(v, "apaevt_sse") && !is_event(v, "apaevt_flow")), "sse:false, untraced");
}

#[tokio::test]
async fn a_non_zero_exit_code_fails_the_run_on_the_fixed_server() {
    let sim = sim_with(Config { exit_code_bug: false, ..Config::default() }).await;
    let mut c = Client::authed(&sim).await;
    let (_, frames) = run(&mut c, json!({"objects":1,"interval":0.1,"exitCode":3,"errors":["bad object"]}), "").await;
    let err = frames.iter().find(|v| label(v) == "apaevt_dashboard:task_error").unwrap();
    assert_eq!(err["body"]["exitCode"], 3);
    let detail = frames.iter().find(|v| is_event(v, "apaevt_status_error")).unwrap();
    assert_eq!(detail["body"]["message"], "bad object");
    let fin = frames.iter().rfind(|v| is_event(v, "apaevt_status_update")).unwrap();
    assert_eq!(fin["body"]["state"], 6);
    assert_eq!(fin["body"]["errors"], json!(["bad object"]));
}

#[tokio::test]
async fn a_service_script_waits_for_data_until_terminated() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let (resp, frames) = run(&mut c, json!({"objects":1,"interval":0.1,"mode":"service","startupDelay":0.5}), "full").await;
    let end = frames.iter().find(|v| is_event(v, "apaevt_flow") && v["body"]["op"] == "end").unwrap();
    assert_eq!(end["body"]["trace"]["path"], "fake://webhook_1/object-1.txt", "the result rides on `end` at full");
    // The idle message can come before the last object's output has been read.
    let idle = |v: &Value| is_event(v, "apaevt_status_message") && v["body"]["message"] == "Waiting for data";
    if !frames.iter().any(idle) {
        c.until(idle).await;
    }
    let t = c.call("terminate", json!({"token": resp["body"]["token"]})).await;
    assert_eq!(t["success"], true);
    let st = c.call("rrext_get_task_status", json!({"token": resp["body"]["token"]})).await;
    assert_eq!((st["body"]["state"].as_u64(), st["body"]["status"].as_str()), (Some(6), Some("Stopped")));
}

//! `--newer` mode (spec §8.5): per-stream `logSeq`/`eventTime` stamping, `beginSeq`, the
//! final status with `final: true`, and `rrext_log` chapters/read with paging.

mod common;

use common::*;
use runwatch_sim::{Config, Handle};
use serde_json::{json, Value};

const PROJECT: &str = "proj-log";

async fn newer() -> Handle {
    sim_with(Config { newer: true, exit_code_bug: false, ..Config::default() }).await
}

/// A scripted batch pipeline: 3 objects, traced, every event kind.
fn pipeline() -> Value {
    json!({"source":"webhook_1","project_id":PROJECT,"components":[
        {"id":"webhook_1","provider":"webhook","config":{"mode":"Source","fake":{"objects":3,"interval":0.2,"mode":"batch","warnings":["w"]}}},
        {"id":"parse_1","provider":"parse","input":[{"lane":"text","from":"webhook_1"}]}]})
}

fn stream(extra: Value) -> Value {
    let mut args = json!({"projectId":PROJECT,"source":"webhook_1","runKind":"dev"});
    args.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    args
}

/// Executes the pipeline on `c` (subscribed to everything) and returns every frame up to
/// the response of a ping sent after `end` (so nothing of the run is still in flight).
async fn run(c: &mut Client) -> Vec<Value> {
    let seq = c.request("execute", json!({"pipeline": pipeline(), "pipelineTraceLevel": "summary", "name": "Log"})).await;
    let mut frames = c.until(|v| is_response_to(v, seq)).await;
    assert_eq!(frames.last().unwrap()["success"], true, "{frames:?}");
    frames.extend(c.until(|v| label(v) == "apaevt_task:end").await);
    let ping = c.request("rrext_ping", json!({})).await;
    frames.extend(c.until(|v| is_response_to(v, ping)).await);
    frames
}

fn log_seq(v: &Value) -> Option<u64> {
    v["body"]["logSeq"].as_u64()
}

/// Reads the whole stream from `from` in pages of `page`, following `nextSeq`.
async fn read_all(c: &mut Client, from: u64, page: u64) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = json!({"fromSeq": from});
    for _ in 0..100 {
        let mut args = stream(json!({"subcommand":"read","maxEvents":page}));
        args.as_object_mut().unwrap().extend(cursor.as_object().unwrap().clone());
        let r = c.call("rrext_log", args).await;
        assert_eq!(r["success"], true, "{r}");
        let got = r["body"]["events"].as_array().unwrap().clone();
        assert!(got.len() as u64 <= page);
        events.extend(got);
        match r["body"]["nextSeq"].as_u64() {
            Some(next) => cursor = json!({"cursor": next}),
            None => return events,
        }
    }
    panic!("paging did not end");
}

#[tokio::test]
async fn task_events_are_stamped_per_stream_and_seeds_are_not() {
    let sim = newer().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["DASHBOARD"]})).await;
    let seeded = c.monitor(json!({"projectId":PROJECT,"source":"webhook_1","types":255})).await;
    assert_eq!(seeded["success"], true);
    let frames = run(&mut c).await;
    let events: Vec<&Value> = frames.iter().filter(|v| v["type"] == "event").collect();
    let task_events: Vec<&&Value> = events.iter().filter(|v| v["event"] != "apaevt_dashboard").collect();
    for e in &task_events {
        assert!(e["body"]["eventTime"].as_f64().unwrap() > 1.6e9, "{e}");
        assert!(log_seq(e).is_some(), "{e}");
        assert_eq!(e["body"]["project_id"], PROJECT, "identity is added: {e}");
        assert!(e["body"]["source"].is_string(), "{e}");
    }
    for e in events.iter().filter(|v| v["event"] == "apaevt_dashboard") {
        assert!(e["body"].get("logSeq").is_none() && e["body"].get("eventTime").is_none(), "{e}");
    }
    // STARTING comes from the fresh counter before the writer opens: logSeq 1.
    let starting = task_events[0];
    assert_eq!((starting["event"].as_str(), starting["body"]["state"].as_u64(), log_seq(starting)), (Some("apaevt_status_update"), Some(1), Some(1)));
    // The writer opens and takes the next seq for run-begin; begin carries it as beginSeq.
    let begin = task_events.iter().find(|v| label(v) == "apaevt_task:begin").unwrap();
    let begin_seq = begin["body"]["beginSeq"].as_u64().unwrap();
    assert_eq!(begin_seq, 2);
    assert_eq!(log_seq(begin), Some(begin_seq + 1));
    let seqs: Vec<u64> = task_events.iter().skip(1).filter_map(|v| log_seq(v)).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "strictly increasing after STARTING: {seqs:?}");
    // The final status carries final:true, precedes `end`, and no status follows `end`.
    let statuses: Vec<&&&Value> = task_events.iter().filter(|v| is_event(v, "apaevt_status_update")).collect();
    let last = statuses.last().unwrap();
    assert_eq!(last["body"]["final"], true);
    assert_eq!(last["body"]["state"], 5, "the newer server reads the exit code right");
    assert_eq!(last["body"]["metrics"]["cpu_percent"], 0.0);
    let end_at = task_events.iter().position(|v| label(v) == "apaevt_task:end").unwrap();
    assert!(task_events[end_at..].iter().all(|v| !is_event(v, "apaevt_status_update")));
    assert!(task_events[..end_at].iter().all(|v| v["body"].get("final").is_none() || v["body"]["state"] == 5));
    // Flow frames name their component.
    let enter = task_events.iter().find(|v| is_event(v, "apaevt_flow") && v["body"]["op"] == "enter").unwrap();
    assert_eq!(enter["body"]["component"], "parse_1");
}

#[tokio::test]
async fn chapters_and_paged_reads_replay_the_run() {
    let sim = newer().await;
    let mut c = Client::authed(&sim).await;
    let empty = c.call("rrext_log", stream(json!({"subcommand":"chapters"}))).await;
    assert_eq!(
        empty["body"],
        json!({"chapters":[],"segments":[],"startTime":null,"endTime":null,"horizonSeq":0,"completed":true}),
        "a stream never logged"
    );
    c.monitor(json!({"projectId":PROJECT,"source":"webhook_1","types":255})).await;
    let live = run(&mut c).await;
    let begin = live.iter().find(|v| label(v) == "apaevt_task:begin").unwrap();
    let begin_seq = begin["body"]["beginSeq"].as_u64().unwrap();

    let ch = c.call("rrext_log", stream(json!({"subcommand":"chapters"}))).await["body"].clone();
    assert_eq!(ch["chapters"].as_array().unwrap().len(), 1);
    assert_eq!(ch["chapters"][0]["beginSeq"], begin_seq);
    assert_eq!(ch["chapters"][0]["outcome"], "ok");
    assert!(ch["chapters"][0]["endTime"].as_f64().is_some());
    assert_eq!(ch["segments"][0]["seq"], begin_seq);
    assert_eq!(ch["segments"][0]["chapterStart"], true);
    assert_eq!(ch["completed"], true);

    let replay = read_all(&mut c, 0, 5).await;
    let seqs: Vec<u64> = replay.iter().map(|e| log_seq(e).unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "log order, no duplicates across pages: {seqs:?}");
    assert_eq!(seqs[0], begin_seq, "STARTING (logSeq 1) was sent before the writer opened");
    let first = &replay[0];
    assert_eq!((first["event"].as_str(), first["body"]["action"].as_str()), (Some("apaevt_log_lifecycle"), Some("run-begin")));
    let last = replay.last().unwrap();
    assert_eq!((last["body"]["action"].as_str(), last["body"]["outcome"].as_str()), (Some("run-end"), Some("ok")));
    let names: Vec<&str> = replay.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert!(names.contains(&"exited") && names.contains(&"terminated"), "debugger-only events are logged: {names:?}");
    // Every live non-status event of the run is in the log with identical stamps.
    for v in live.iter().filter(|v| v["type"] == "event" && !is_event(v, "apaevt_status_update")) {
        let Some(seq) = log_seq(v) else { continue };
        let stored = replay.iter().find(|e| log_seq(e) == Some(seq)).unwrap_or_else(|| panic!("{v} not in the log"));
        assert_eq!(stored["event"], v["event"]);
        assert_eq!(stored["body"]["eventTime"], v["body"]["eventTime"]);
    }
    // Statuses are sampled; the final one is always kept.
    let logged_final = replay.iter().rfind(|e| is_event(e, "apaevt_status_update")).unwrap();
    assert_eq!(logged_final["body"]["final"], true);
    // Engine events carry __id at the top level, task-built ones in the body.
    let out = replay.iter().find(|e| is_event(e, "output")).unwrap();
    assert!(out["__id"].is_string() && out["body"].get("__id").is_none(), "{out}");
    let end = replay.iter().find(|e| e["event"] == "apaevt_task" && e["body"]["action"] == "end").unwrap();
    assert!(end["body"]["__id"].is_string());

    // Bounds and filters.
    let r = c.call("rrext_log", stream(json!({"subcommand":"read","fromSeq":begin_seq,"toSeq":begin_seq + 2}))).await;
    assert_eq!(r["body"]["events"].as_array().unwrap().len(), 3);
    assert!(r["body"].get("nextSeq").is_none());
    let r = c.call("rrext_log", stream(json!({"subcommand":"read","types":["output"]}))).await;
    assert!(r["body"]["events"].as_array().unwrap().iter().all(|e| e["event"] == "output"));
    assert_eq!(r["body"]["events"].as_array().unwrap().len(), 4, "banner + 3 objects");
    let r = c.call("rrext_log", stream(json!({"subcommand":"read","runKind":"deploy"}))).await;
    assert_eq!(r["body"], json!({"events":[]}));
}

#[tokio::test]
async fn a_second_run_starts_a_new_chapter_past_the_first() {
    let sim = newer().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"projectId":PROJECT,"source":"webhook_1","types":["TASK","SUMMARY","OUTPUT"]})).await;
    let first = run(&mut c).await;
    let last_first = first.iter().filter_map(log_seq).max().unwrap();
    let second = run(&mut c).await;
    let starting = second.iter().find(|v| is_event(v, "apaevt_status_update") && v["body"]["state"] == 1).unwrap();
    assert_eq!(log_seq(starting), Some(1), "a fresh task counts from 1 until its writer opens");
    let begin = second.iter().find(|v| label(v) == "apaevt_task:begin").unwrap();
    assert!(begin["body"]["beginSeq"].as_u64().unwrap() > last_first, "the stream continues");
    let ch = c.call("rrext_log", stream(json!({"subcommand":"chapters"}))).await["body"].clone();
    assert_eq!(ch["chapters"].as_array().unwrap().len(), 2);
    assert_eq!(ch["chapters"][1]["beginSeq"], begin["body"]["beginSeq"]);
}

#[tokio::test]
async fn terminate_ends_the_chapter_cancelled_and_errors_follow_the_spec() {
    let sim = newer().await;
    let mut c = Client::authed(&sim).await;
    let mut p = pipeline();
    p["components"][0]["config"]["fake"]["mode"] = json!("service");
    let r = c.call("execute", json!({"pipeline": p})).await;
    let ch = c.call("rrext_log", stream(json!({"subcommand":"chapters"}))).await["body"].clone();
    assert_eq!(ch["completed"], false, "a writer is open while the run is live");
    assert!(ch["chapters"][0]["outcome"].is_null());
    c.call("terminate", json!({"token": r["body"]["token"]})).await;
    let ch = c.call("rrext_log", stream(json!({"subcommand":"chapters"}))).await["body"].clone();
    assert_eq!(ch["chapters"][0]["outcome"], "cancelled");
    let err = |r: Value| r["message"].as_str().unwrap().to_owned();
    assert_eq!(err(c.call("rrext_log", json!({})).await), "Subcommand is required");
    assert_eq!(err(c.call("rrext_log", json!({"subcommand":"tail"})).await), "Unknown subcommand: tail");
    assert_eq!(err(c.call("rrext_log", json!({"subcommand":"read","projectId":PROJECT,"source":"webhook_1"})).await), "runKind must be one of ['deploy', 'dev']");
}

#[tokio::test]
async fn the_snapshot_server_has_no_run_log() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let r = c.call("rrext_log", stream(json!({"subcommand":"chapters"}))).await;
    assert_eq!(r["message"], "Invalid command: rrext_log");
    c.monitor(json!({"projectId":PROJECT,"source":"webhook_1","types":["TASK","SUMMARY"]})).await;
    let frames = run(&mut c).await;
    assert!(frames.iter().all(|v| v["body"].get("logSeq").is_none() && v["body"].get("final").is_none()));
    let begin = frames.iter().find(|v| label(v) == "apaevt_task:begin").unwrap();
    assert!(begin["body"].get("beginSeq").is_none());
}

//! The bounded drop-oldest subscriber queue under a slow reader (erratum 6), and the
//! `/_sim/faults` kinds on fleet-rlm sockets.

mod fleet_support;

use std::time::Duration;

use fleet_support::*;
use runwatch_sim::config::FleetConfig;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The id of the fleet socket with `role` (and `session_id` for events).
async fn conn_id(sim: &runwatch_sim::Handle, role: &str, session: Option<&str>) -> u64 {
    let conns = control_get(sim, "/_sim/fleet/connections").await;
    conns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["role"] == role && session.is_none_or(|s| c["session_id"] == s))
        .and_then(|c| c["id"].as_u64())
        .expect("connection listed")
}

async fn conn_row(sim: &runwatch_sim::Handle, id: u64) -> Value {
    let conns = control_get(sim, "/_sim/fleet/connections").await;
    conns.as_array().unwrap().iter().find(|c| c["id"] == id).cloned().expect("row")
}

/// Reads every frame of a run. What arrives: `execution_started` and the early steps, holes
/// where frames were dropped silently (no marker), and at the end at least the newest `cap`
/// frames without a hole. Returns (frames received, holes, steps missing, tail length in steps).
async fn read_run(ws: &mut Ws, cap: usize) -> (usize, usize, u64, usize) {
    let frames = ws.until(|v| v["type"] == "execution_completed").await;
    assert_eq!(frames[0]["type"], "execution_started", "the early frames arrive");
    assert!(frames.iter().all(|v| v["type"].as_str().unwrap().starts_with("execution_")), "no gap marker of any kind");
    let idx: Vec<u64> = frames.iter().filter(|v| v["type"] == "execution_step").map(step_index).collect();
    let holes: Vec<usize> = (1..idx.len()).filter(|&i| idx[i] != idx[i - 1] + 1).collect();
    let missing: u64 = idx[0] - 1 + holes.iter().map(|&i| idx[i] - idx[i - 1] - 1).sum::<u64>();
    let tail = idx.len() - holes.last().copied().unwrap_or(0);
    assert!(tail >= cap - 1, "the newest {cap} frames arrive: tail of {tail} steps + the completion");
    (frames.len(), holes.len(), missing, tail)
}

#[tokio::test]
async fn a_subscriber_that_does_not_read_gets_the_early_steps_then_the_newest_256() {
    let sim = sim_default().await;
    // A client with a small receive buffer that reads nothing until the run is over.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(sim.addr).await.unwrap();
    let req = format!("ws://{}/api/v1/ws/execution/events?session_id=flood", sim.addr).into_client_request().unwrap();
    let (ws, _) = tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await.unwrap();
    let mut ws = Ws::from_stream(ws);
    wait_subscribers(&sim, 1).await;
    let id = conn_id(&sim, "events", Some("flood")).await;
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"flood","script":"flood","steps":4000,"pad":3000,"wait":true})).await;
    let row = conn_row(&sim, id).await;
    let dropped = row["dropped"].as_u64().unwrap();
    assert!(dropped > 0, "the queue overflowed: {row}");
    assert_eq!(row["queued"].as_u64().unwrap(), 256, "{row}");
    let (received, holes, missing, tail) = read_run(&mut ws, 256).await;
    assert_eq!(received as u64 + dropped, row["frames_out"].as_u64().unwrap());
    // A reader that never read: one hole between the head and exactly the newest 256 frames.
    assert_eq!((holes, missing, tail), (1, dropped, 255));
    // The send log marks the dropped frames.
    let log = http(&sim, "GET", &format!("/_sim/log?conn={id}&limit=100000"), &[], None).await.body;
    let marked = log["entries"].as_array().unwrap().iter().filter(|e| e["fault"] == "drop_oldest").count();
    assert_eq!(marked as u64, dropped);
}

#[tokio::test]
async fn a_slow_writer_overflows_the_queue_the_same_way_and_the_bound_is_configurable() {
    let sim = sim(FleetConfig { max_queue: 32, ..FleetConfig::default() }).await;
    let mut ws = Ws::events(&sim, "slow").await;
    wait_subscribers(&sim, 1).await;
    let id = conn_id(&sim, "events", Some("slow")).await;
    control(&sim, "/_sim/faults", json!({"kind":"slow_writer","delayMs":5,"conn":id})).await;
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"slow","script":"flood","steps":400,"pad":0,"wait":true})).await;
    let id_row = conn_row(&sim, id).await;
    let (received, holes, missing, _) = read_run(&mut ws, 32).await;
    // A reader that keeps reading slowly overflows the bound of 32: frames are dropped (in
    // one or more holes: how many depends on how the producer and the slow writer
    // interleave on a loaded machine), and the counts add up.
    assert!(holes >= 1 && missing > 0, "{holes} holes, {missing} missing");
    assert_eq!(missing, id_row["dropped"].as_u64().unwrap());
    assert_eq!(received as u64 + missing, id_row["frames_out"].as_u64().unwrap());
}

#[tokio::test]
async fn half_open_withholds_and_clearing_resumes() {
    let sim = sim_default().await;
    let mut ws = Ws::events(&sim, "ho").await;
    wait_subscribers(&sim, 1).await;
    let id = conn_id(&sim, "events", Some("ho")).await;
    let applied = control(&sim, "/_sim/faults", json!({"kind":"half_open","conn":id})).await;
    assert_eq!(applied["conns"], json!([id]));
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"ho","pace":0,"wait":true})).await;
    assert!(ws.silent_for(Duration::from_millis(200)).await);
    let r = http(&sim, "DELETE", "/_sim/faults", &[], None).await;
    assert_eq!(r.status, 200);
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"ho","pace":0})).await;
    let first = ws.json().await;
    assert_eq!(first["type"], "execution_started");
    assert_eq!(first["run_id"], "default:anonymous:ho:2");
}

#[tokio::test]
async fn duplicate_and_injected_frames() {
    let sim = sim_default().await;
    let mut ev = Ws::events(&sim, "f").await;
    let mut chat = Ws::chat(&sim).await;
    wait_subscribers(&sim, 1).await;
    let id = conn_id(&sim, "events", Some("f")).await;
    control(&sim, "/_sim/faults", json!({"kind":"duplicate","rate":1.0,"conn":id})).await;
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"f","pace":0,"wait":true})).await;
    let a = ev.json().await;
    let b = ev.json().await;
    assert_eq!(a, b);
    assert_eq!(a["type"], "execution_started");
    ev.until(|v| v["type"] == "execution_completed").await;
    ev.json().await; // the completion's duplicate
    http(&sim, "DELETE", "/_sim/faults", &[], None).await;

    // Injection faults reach both fleet sockets, shaped like their frames.
    let r = control(&sim, "/_sim/faults", json!({"kind":"garbage","count":2})).await;
    assert_eq!(r["frames"], 4);
    for ws in [&mut ev, &mut chat] {
        assert!(matches!(ws.recv().await, Got::BadText(_)));
        assert!(matches!(ws.recv().await, Got::BadText(_)));
    }
    control(&sim, "/_sim/faults", json!({"kind":"oversized","bytes":200000,"conn":id})).await;
    match ev.recv().await {
        Got::Json(v) => {
            assert_eq!(v["type"], "execution_step");
            assert!(v.to_string().len() > 190_000);
        }
        other => panic!("expected an oversized step, got {other:?}"),
    }
    // Each injected step has a fresh id: a client holding one must not take the next for its copy.
    control(&sim, "/_sim/faults", json!({"kind":"proto_keys","conn":id})).await;
    control(&sim, "/_sim/faults", json!({"kind":"proto_keys","conn":id})).await;
    let (p1, p2) = (ev.json().await, ev.json().await);
    assert_ne!(p1["step"]["id"], p2["step"]["id"]);
    control(&sim, "/_sim/faults", json!({"kind":"unknown_event"})).await;
    assert_eq!(ev.json().await["type"], "execution_sim_unknown");
    assert_eq!(kind(&chat.json().await), "sim_unknown_kind");
    control(&sim, "/_sim/faults", json!({"kind":"binary","conn":id})).await;
    assert!(matches!(ev.recv().await, Got::Binary(_)));
    control(&sim, "/_sim/faults", json!({"kind":"truncated","conn":id})).await;
    assert!(matches!(ev.recv().await, Got::BadText(_)));
    control(&sim, "/_sim/faults", json!({"kind":"invalid_utf8","conn":id})).await;
    assert!(matches!(ev.recv().await, Got::Ended(_)), "tungstenite rejects invalid UTF-8");
}

#[tokio::test]
async fn drop_all_kills_or_closes_fleet_sockets() {
    let sim = sim_default().await;
    let mut ev = Ws::events(&sim, "k").await;
    let mut chat = Ws::chat(&sim).await;
    wait_subscribers(&sim, 1).await;
    chat.message("long #long=3000", "k").await;
    chat.until(|v| kind(v) == "assistant_token").await;
    let chat_id = conn_id(&sim, "chat", None).await;
    // Killing the chat socket mid-turn: subscribers get the null completion.
    let r = control(&sim, "/_sim/faults", json!({"kind":"drop_all","conn":chat_id})).await;
    assert_eq!(r["conns"], json!([chat_id]));
    let done = ev.until(|v| v["type"] == "execution_completed").await.pop().unwrap();
    assert_eq!((done["step"].clone(), done["summary"].clone()), (Value::Null, Value::Null));
    let end = loop {
        match chat.recv().await {
            Got::Json(_) => continue,
            other => break other,
        }
    };
    assert!(matches!(end, Got::Ended(_)), "{end:?}");
    // A close code instead of a kill.
    control(&sim, "/_sim/faults", json!({"kind":"drop_all","code":1012})).await;
    assert!(matches!(ev.recv().await, Got::Close(Some(1012))));
}

#[tokio::test]
async fn refuse_reset_and_restart_cover_fleet_sockets() {
    let sim = sim_default().await;
    control(&sim, "/_sim/faults", json!({"kind":"refuse","seconds":5})).await;
    let url = format!("ws://{}/api/v1/ws/execution", sim.addr);
    let err = tokio_tungstenite::connect_async(url).await.expect_err("refused");
    assert!(err.to_string().contains("503"), "{err}");
    http(&sim, "DELETE", "/_sim/faults", &[], None).await;
    let mut ev = Ws::events(&sim, "r").await;
    wait_subscribers(&sim, 1).await;
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"r","script":"long","tokens":5000})).await;
    ev.json().await;
    control(&sim, "/_sim/reset", json!({})).await;
    let tail = loop {
        match ev.recv().await {
            Got::Json(_) => continue,
            other => break other,
        }
    };
    assert!(matches!(tail, Got::Ended(_)), "{tail:?}");
    assert!(control_get(&sim, "/_sim/fleet/turns").await.as_array().unwrap().is_empty());
    assert!(control_get(&sim, "/_sim/fleet/connections").await.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn reorder_swaps_neighbours_and_restart_drops_fleet_sockets() {
    let sim = sim_default().await;
    let mut ev = Ws::events(&sim, "ro").await;
    wait_subscribers(&sim, 1).await;
    let id = conn_id(&sim, "events", Some("ro")).await;
    control(&sim, "/_sim/faults", json!({"kind":"reorder","rate":1.0,"conn":id})).await;
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"ro","pace":0,"wait":true})).await;
    let a = ev.json().await;
    let b = ev.json().await;
    assert_eq!(a["type"], "execution_step", "the start was swapped with the first step");
    assert_eq!(b["type"], "execution_started");
    http(&sim, "DELETE", "/_sim/faults", &[], None).await;
    control(&sim, "/_sim/faults", json!({"kind":"restart"})).await;
    let end = loop {
        match ev.recv().await {
            Got::Json(_) => continue,
            other => break other,
        }
    };
    assert!(matches!(end, Got::Ended(_)), "{end:?}");
}

#[tokio::test]
async fn the_send_log_names_each_fleet_frame_and_a_step_only_fault_touches_steps_only() {
    let sim = sim_default().await;
    let mut ws = Ws::events(&sim, "ids").await;
    wait_subscribers(&sim, 1).await;
    let id = conn_id(&sim, "events", Some("ids")).await;
    control(&sim, "/_sim/faults", json!({"kind":"duplicate","rate":1.0,"conn":id,"event":"execution_step"})).await;
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"ids","script":"normal","pace":0,"wait":true})).await;
    let frames = ws.until(|v| v["type"] == "execution_completed").await;
    let log = http(&sim, "GET", &format!("/_sim/log?conn={id}&limit=100000"), &[], None).await.body;
    let entries: Vec<&Value> = log["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "event").collect();
    let steps: Vec<&Value> = entries.iter().copied().filter(|e| e["event"] == "execution_step").collect();
    let copies = steps.iter().filter(|e| e["fault"] == "duplicated").count();
    assert_eq!(copies * 2, steps.len(), "every step is sent twice");
    assert!(entries.iter().filter(|e| e["event"] != "execution_step").all(|e| e.get("fault").is_none()), "started and completed are not");
    // Each entry carries the ids of the frame it logs, in wire order.
    for (entry, frame) in entries.iter().zip(frames.iter()) {
        assert_eq!(entry["runId"], frame["run_id"]);
        if frame["step"].is_object() {
            assert_eq!(entry["stepId"], frame["step"]["id"]);
            assert_eq!(entry["parentId"], frame["step"]["parent_id"]);
        }
    }
    assert_eq!(entries.last().unwrap()["status"], "completed");
}

//! Fault injection: every kind is observable on the wire and recorded in the send log.

mod common;

use std::time::Duration;

use common::*;
use runwatch_sim::Config;
use serde_json::{json, Value};

/// Applies a fault through the control API and returns its answer.
async fn fault(sim: &runwatch_sim::Handle, spec: Value) -> Value {
    let (status, v) = http(sim, "POST", "/_sim/faults", Some(spec)).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Log entries carrying `fault`.
async fn logged(sim: &runwatch_sim::Handle, fault: &str) -> Vec<Value> {
    let log = log_since(sim, 0).await;
    log["entries"].as_array().unwrap().iter().filter(|e| e["fault"] == fault).cloned().collect()
}

#[tokio::test]
async fn injected_frames_arrive_and_are_logged() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let cases = [
        ("garbage", json!({"kind":"garbage","count":2})),
        ("truncated", json!({"kind":"truncated"})),
        ("nan", json!({"kind":"nan"})),
        ("binary", json!({"kind":"binary"})),
        ("invalid_utf8", json!({"kind":"invalid_utf8"})),
        ("proto_keys", json!({"kind":"proto_keys"})),
        ("unknown_event", json!({"kind":"unknown_event"})),
        ("bad_types", json!({"kind":"bad_types"})),
        ("unknown_response", json!({"kind":"unknown_response"})),
        ("deep_nesting", json!({"kind":"deep_nesting","depth":1000})),
        ("oversized", json!({"kind":"oversized","bytes":200000})),
    ];
    for (kind, spec) in cases {
        let applied = fault(&sim, spec).await;
        assert_eq!(applied["kind"], kind);
        assert_eq!(applied["conns"].as_array().unwrap().len(), 1, "{applied}");
        let got = c.recv().await;
        match kind {
            "garbage" | "truncated" | "nan" => assert!(matches!(got, Got::BadText(_)), "{kind}: {got:?}"),
            "binary" => assert!(matches!(got, Got::Binary(_)), "{got:?}"),
            // tungstenite refuses invalid UTF-8 in a text frame: the client sees an error.
            "invalid_utf8" => {
                assert!(matches!(got, Got::Ended(_)), "{got:?}");
                c = Client::authed(&sim).await;
            }
            // JSON, but not a `Value`: serde_json's strings cannot hold the lone surrogate
            // escapes its data carries (JSON.parse reads them).
            "proto_keys" => assert!(
                matches!(&got, Got::BadText(t) if t.contains(r#""__proto__":{"polluted":true}"#)
                    && t.contains(r#""\udc80key":"caf\udce9""#)
                    && serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()),
                "{got:?}"
            ),
            "unknown_event" => assert!(matches!(&got, Got::Json(v) if v["event"] == "apaevt_sim_unknown")),
            "bad_types" => assert!(matches!(&got, Got::Json(v) if v["body"]["state"] == "3")),
            "unknown_response" => assert!(matches!(&got, Got::Json(v) if v["request_seq"] == 987654321)),
            "deep_nesting" => assert!(matches!(got, Got::BadText(_)), "serde_json's recursion limit trips"),
            "oversized" => assert!(matches!(&got, Got::Json(v) if v["body"]["output"].as_str().unwrap().len() > 199_000)),
            _ => unreachable!(),
        }
        if kind == "garbage" {
            assert!(matches!(c.recv().await, Got::BadText(_)), "second garbage frame");
        }
        assert!(!logged(&sim, kind).await.is_empty(), "{kind} logged");
    }
    let nan = &logged(&sim, "nan").await[0];
    assert_eq!(nan["event"], "apaevt_status_update");
}

#[tokio::test]
async fn lying_seq_jumps_ahead_without_moving_the_counter() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    fault(&sim, json!({"kind":"lying_seq"})).await;
    let lie = c.json().await;
    assert_eq!(lie["seq"], 1_000_001);
    let r = c.call("rrext_ping", json!({})).await;
    assert_eq!(r["seq"], 2, "the real counter continues");
    assert_eq!(logged(&sim, "lying_seq").await[0]["seq"], 1_000_001);
}

#[tokio::test]
async fn drop_and_duplicate_are_seeded_and_logged() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    fault(&sim, json!({"kind":"duplicate","rate":1.0})).await;
    let seq = c.request("rrext_ping", json!({})).await;
    let a = c.json().await;
    let b = c.json().await;
    assert!(is_response_to(&a, seq) && a == b, "sent twice");
    assert_eq!(logged(&sim, "duplicated").await.len(), 1);
    http(&sim, "DELETE", "/_sim/faults", None).await;
    fault(&sim, json!({"kind":"drop","rate":1.0})).await;
    c.request("rrext_ping", json!({})).await;
    assert!(c.silent_for(Duration::from_millis(200)).await, "dropped");
    let dropped = logged(&sim, "dropped").await;
    assert_eq!(dropped[0]["seq"], 3, "the dropped frame consumed its seq (a gap)");
    http(&sim, "DELETE", "/_sim/faults", None).await;
    let r = c.call("rrext_ping", json!({})).await;
    assert_eq!(r["seq"], 4);
}

#[tokio::test]
async fn reorder_swaps_adjacent_frames() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["dashboard"]})).await;
    fault(&sim, json!({"kind":"reorder","rate":1.0,"conn":1})).await;
    c.request("rrext_ping", json!({})).await;
    c.request("rrext_ping", json!({})).await;
    let a = c.json().await;
    let b = c.json().await;
    assert!(a["seq"].as_u64() > b["seq"].as_u64(), "second frame first: {a} {b}");
    assert!(!logged(&sim, "reordered").await.is_empty());
}

#[tokio::test]
async fn half_open_withholds_frames_but_keeps_reading() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    fault(&sim, json!({"kind":"half_open","seconds":0.3})).await;
    c.request("rrext_ping", json!({})).await;
    assert!(c.silent_for(Duration::from_millis(150)).await);
    assert_eq!(logged(&sim, "half_open").await.len(), 1, "request was read and answered into the void");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = c.call("rrext_ping", json!({})).await;
    assert_eq!(r["seq"], 3, "sending resumes after the window; the withheld frame is a gap");
}

#[tokio::test]
async fn slow_writer_delays_frames() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    fault(&sim, json!({"kind":"slow_writer","delayMs":150})).await;
    let t = std::time::Instant::now();
    c.call("rrext_ping", json!({})).await;
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn drop_all_refuse_and_revoke_key() {
    let sim = sim_with(Config { api_keys: vec!["a".into(), "b".into()], ..Config::default() }).await;
    let mut c = Client::connect(&sim).await;
    c.call("auth", json!({"auth":"a"})).await;
    fault(&sim, json!({"kind":"drop_all"})).await;
    assert!(matches!(c.recv().await, Got::Ended(_)), "dropped without a close frame");
    assert_eq!(logged(&sim, "drop_all").await[0]["kind"], "close");

    fault(&sim, json!({"kind":"refuse","seconds":0.3})).await;
    let err = tokio_tungstenite::connect_async(format!("{}?attempt=2", sim.ws_url())).await.unwrap_err().to_string();
    assert!(err.contains("503"), "{err}");
    let log = log_since(&sim, 0).await;
    let refused: Vec<_> = log["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "refused").collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0]["path"], "/task/service?attempt=2", "the request path tells attempts apart");
    tokio::time::sleep(Duration::from_millis(350)).await;

    let mut a = Client::connect(&sim).await;
    a.call("auth", json!({"auth":"a"})).await;
    let mut b = Client::connect(&sim).await;
    b.call("auth", json!({"auth":"b"})).await;
    fault(&sim, json!({"kind":"revoke_key","key":"a"})).await;
    assert!(matches!(a.recv().await, Got::Close(Some(1000))));
    assert_eq!(b.call("rrext_ping", json!({})).await["success"], true, "other keys unaffected");
    let mut again = Client::connect(&sim).await;
    assert_eq!(again.call("auth", json!({"auth":"a"})).await["message"], "Invalid API key");
}

#[tokio::test]
async fn restart_forgets_tasks_and_connections() {
    let sim = sim().await;
    sim_execute(&sim, json!({"projectId":"p","source":"chat_1"})).await;
    let mut c = Client::authed(&sim).await;
    fault(&sim, json!({"kind":"restart"})).await;
    assert!(matches!(c.recv().await, Got::Ended(_)));
    let mut c = Client::authed(&sim).await;
    let tasks = c.call("rrext_get_tasks", json!({})).await;
    assert_eq!(tasks["body"]["tasks"], json!([]));
}

#[tokio::test]
async fn cli_faults_apply_at_start() {
    let spec = runwatch_sim::faults::FaultSpec::parse_cli("slow_writer:120").unwrap();
    let sim = sim_with(Config { faults: vec![spec], ..Config::default() }).await;
    let t = std::time::Instant::now();
    Client::authed(&sim).await;
    assert!(t.elapsed() >= Duration::from_millis(120));
}

/// A `nan` status holds its task's periodic status for a while (statuses come every 50 ms
/// at the tests' speed), so a page has time to draw it before a regular one replaces it.
#[tokio::test]
async fn a_nan_status_holds_its_tasks_next_regular_status() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["summary"]})).await;
    let task = sim_execute(&sim, json!({"projectId":"p","source":"webhook_1","name":"Held"})).await;
    let running = |v: &Value| is_event(v, "apaevt_status_update") && v["body"]["state"] == 3 && v["body"]["__id"] == task["id"];
    c.until(running).await;
    c.until(running).await;
    fault(&sim, json!({"kind":"nan"})).await;
    let nan_at = loop {
        if let Got::BadText(text) = c.recv().await {
            assert!(text.contains("\"cpu_percent\":NaN") && text.contains(task["id"].as_str().unwrap()), "{text}");
            break std::time::Instant::now();
        }
    };
    c.until(running).await;
    let held = nan_at.elapsed();
    assert!(held >= Duration::from_millis(300), "the next regular status came {held:?} after the NaN one");
}

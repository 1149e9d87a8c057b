//! fleet-rlm connection checks, auth and close codes (spec §2), the chat socket's first
//! frame (§3.1, erratum 3), and the HTTP probes (§7) with CORS.

mod fleet_support;

use std::time::Duration;

use fleet_support::*;
use runwatch_sim::config::FleetConfig;
use serde_json::{json, Value};

fn auth_required() -> FleetConfig {
    FleetConfig { auth_required: true, jwt_secret: "dev-secret".into(), ..FleetConfig::default() }
}

/// An error frame with `code`, then a close with `close`.
async fn expect_refusal(ws: &mut Ws, code: &str, close: u16) {
    let err = ws.json().await;
    assert_eq!(err["type"], "error", "{err}");
    assert_eq!(err["code"], code, "{err}");
    assert!(err["message"].is_string());
    match ws.recv().await {
        Got::Close(c) => assert_eq!(c, Some(close)),
        other => panic!("expected close {close}, got {other:?}"),
    }
}

#[tokio::test]
async fn access_token_authenticates_both_sockets_and_scopes_events() {
    let sim = sim(auth_required()).await;
    let tok = control(&sim, "/_sim/fleet/token", json!({"tenant":"t 1","user":"u1","ttl_s":600})).await;
    assert_eq!(tok["workspace_id"], "t-1", "sanitised tenant");
    let token = tok["access_token"].as_str().unwrap();
    let mut events = Ws::connect(&sim, &format!("/api/v1/ws/execution/events?session_id=s1&access_token={token}")).await;
    // Debug query identity of another user: same session, different identity → nothing.
    let mut other = Ws::connect(&sim, "/api/v1/ws/execution/events?session_id=s1&debug_tenant_id=t2&debug_user_id=u2").await;
    let mut chat = Ws::connect(&sim, &format!("/api/v1/ws/execution?access_token={token}")).await;
    wait_subscribers(&sim, 2).await;
    chat.message("list the workspace files", "s1").await;
    let frames = events.until(|v| v["type"] == "execution_completed").await;
    assert_eq!(frames[0]["type"], "execution_started");
    assert_eq!(frames[0]["workspace_id"], "t-1");
    assert_eq!(frames[0]["user_id"], "u1");
    assert_eq!(frames[0]["run_id"], "t-1:u1:s1:1");
    chat.until(|v| kind(v) == "final").await;
    assert!(other.silent_for(Duration::from_millis(200)).await, "another identity must see nothing");
}

#[tokio::test]
async fn bad_or_missing_auth_closes_1008_after_auth_failed() {
    let sim = sim(auth_required()).await;
    let mut ws = Ws::chat(&sim).await;
    expect_refusal(&mut ws, "auth_failed", 1008).await;
    let mut ws = Ws::connect(&sim, "/api/v1/ws/execution/events?session_id=s&access_token=not.a.jwt").await;
    expect_refusal(&mut ws, "auth_failed", 1008).await;
    // Signed with another secret.
    let wrong = runwatch_sim::fleet::auth::sign("change-me", "t", "u", None, &Value::Null);
    let mut ws = Ws::connect(&sim, &format!("/api/v1/ws/execution?access_token={wrong}")).await;
    expect_refusal(&mut ws, "auth_failed", 1008).await;
    // Expired.
    let old = runwatch_sim::fleet::auth::sign("dev-secret", "t", "u", Some(-5.0), &Value::Null);
    let mut ws = Ws::connect(&sim, &format!("/api/v1/ws/execution?access_token={old}")).await;
    expect_refusal(&mut ws, "auth_failed", 1008).await;
    // A token offered as a subprotocol is ignored: no subprotocol is selected (browsers
    // accept that; the socket then gets auth_failed / 1008 like any tokenless one).
    let good = runwatch_sim::fleet::auth::sign("dev-secret", "t", "u", None, &Value::Null);
    let head = raw_upgrade(&sim, &format!("bearer, {good}")).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(!head.to_ascii_lowercase().contains("sec-websocket-protocol"), "{head}");
    // The Authorization header works (non-browser clients).
    let mut ws = Ws::connect_with(&sim, "/api/v1/ws/execution", &[("authorization", &format!("Bearer {good}"))]).await;
    ws.send_json(json!({"type":"cancel"})).await;
    assert_eq!(kind(&ws.json().await), "cancelled");
}

#[tokio::test]
async fn optional_auth_falls_back_to_anonymous() {
    let sim = sim_default().await;
    let mut events = Ws::connect(&sim, "/api/v1/ws/execution/events?session_id=a&access_token=garbage").await;
    wait_subscribers(&sim, 1).await;
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"a","pace":0})).await;
    let started = events.json().await;
    assert_eq!(started["type"], "execution_started");
    assert_eq!((started["workspace_id"].as_str(), started["user_id"].as_str()), (Some("default"), Some("anonymous")));
    assert_eq!(started["step"], Value::Null);
    assert_eq!(started["summary"], Value::Null);
}

#[tokio::test]
async fn query_checks_close_1008_with_their_codes() {
    let sim = sim_default().await;
    let mut ws = Ws::connect(&sim, "/api/v1/ws/execution?workspace_id=w").await;
    expect_refusal(&mut ws, "unsupported_identity_query_params", 1008).await;
    let mut ws = Ws::connect(&sim, "/api/v1/ws/execution/events?session_id=s&user_id=u").await;
    expect_refusal(&mut ws, "unsupported_identity_query_params", 1008).await;
    let mut ws = Ws::connect(&sim, "/api/v1/ws/execution?session_id=s").await;
    expect_refusal(&mut ws, "execution_query_session_id_removed", 1008).await;
    let mut ws = Ws::connect(&sim, "/api/v1/ws/execution/events").await;
    expect_refusal(&mut ws, "missing_session_id", 1008).await;
}

#[tokio::test]
async fn planner_missing_is_an_error_then_a_normal_close() {
    let sim = sim(FleetConfig { planner_missing: true, ..FleetConfig::default() }).await;
    let mut ws = Ws::chat(&sim).await;
    expect_refusal(&mut ws, "planner_missing", 1000).await;
    let r = http(&sim, "GET", "/ready", &[], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["ready"], false);
    assert_eq!(r.body["planner"], "missing");
    let r = http(&sim, "POST", "/api/v1/runtime/tests/lm", &[], None).await;
    assert_eq!((r.body["ok"].as_bool(), r.body["preflight_ok"].as_bool()), (Some(false), Some(false)));
    assert_eq!(r.body["error"], "LM preflight checks failed.");
}

#[tokio::test]
async fn offline_daytona_ends_the_first_message_with_1011() {
    let sim = sim(FleetConfig { daytona_missing: true, ..FleetConfig::default() }).await;
    let mut ws = Ws::chat(&sim).await;
    ws.message("hello", "s").await;
    let status = ws.json().await;
    assert_eq!(kind(&status), "status");
    assert_eq!(status["data"]["text"], "Preparing Daytona workspace...");
    assert_eq!(status["data"]["payload"], json!({"phase":"startup","runtime":{"runtime_mode":"daytona_pilot"}}));
    let err = ws.json().await;
    assert_eq!(err["code"], "sandbox_unavailable");
    assert_eq!(err["details"]["error_type"], "DaytonaConfigError");
    assert!(matches!(ws.recv().await, Got::Close(Some(1011))));
}

#[tokio::test]
async fn first_frame_rules() {
    let sim = sim_default().await;
    // Invalid JSON first: error, close 1011.
    let mut ws = Ws::chat(&sim).await;
    ws.send_text("{not json").await;
    expect_refusal(&mut ws, "internal_error", 1011).await;
    // Binary first: the same.
    let mut ws = Ws::chat(&sim).await;
    ws.send_binary(b"{}").await;
    expect_refusal(&mut ws, "internal_error", 1011).await;
    // A blank message and a JSON array get the startup status, then the bare error; open.
    for first in [json!({"type":"message","content":"  ","session_id":"s"}), json!([1, 2])] {
        let mut ws = Ws::chat(&sim).await;
        ws.send_json(first).await;
        assert_eq!(ws.json().await["data"]["text"], "Preparing Daytona workspace...");
        assert_eq!(ws.json().await, json!({"type":"error","message":"Message content cannot be empty"}));
        ws.send_json(json!({"type":"cancel"})).await;
        let c = ws.json().await;
        assert_eq!(kind(&c), "cancelled");
        assert_eq!(c["data"]["payload"], Value::Null, "idle cancel has a null payload");
        assert_eq!(c["data"]["text"], "Request cancelled.");
        assert_eq!(c["data"]["event_id"].as_str().unwrap().len(), 36, "dashed uuid");
    }
    // Invalid JSON once the loop runs: error frame, then the socket drops (no close frame).
    let mut ws = Ws::chat(&sim).await;
    ws.send_json(json!({"type":"cancel"})).await;
    assert_eq!(kind(&ws.json().await), "cancelled");
    ws.send_text("nope").await;
    assert_eq!(ws.json().await["code"], "internal_error");
    assert!(matches!(ws.recv().await, Got::Ended(_)), "no close frame (1006)");
}

#[tokio::test]
async fn bare_and_structured_message_errors_keep_the_socket_open() {
    let sim = sim_default().await;
    let mut ws = Ws::chat(&sim).await;
    ws.send_json(json!({"type":"bogus"})).await;
    assert_eq!(ws.json().await, json!({"type":"error","message":"Unknown message type: bogus"}));
    ws.send_json(json!({"type":"command","command":""})).await;
    assert_eq!(ws.json().await, json!({"type":"error","message":"Command name cannot be empty"}));
    ws.send_json(json!({"content":"x","workspace_id":"w"})).await;
    assert_eq!(ws.json().await["code"], "unsupported_identity_fields");
    ws.send_json(json!({"content":"x","max_depth":3})).await;
    assert_eq!(ws.json().await["code"], "daytona_max_depth_removed");
    ws.send_json(json!({"content":"x","repo_ref":"main"})).await;
    assert_eq!(ws.json().await["code"], "daytona_repo_ref_requires_repo");
    ws.send_json(json!({"type":"command","command":"list_files","args":{}})).await;
    let r = ws.json().await;
    assert_eq!(r["type"], "command_result");
    assert_eq!(r["result"]["status"], "ok");
    assert_eq!(r["version"], 1);
}

#[tokio::test]
async fn probes_have_the_spec_shapes() {
    let sim = sim_default().await;
    let r = http(&sim, "GET", "/health", &[], None).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"ok":true,"version":"0.5.0"})));
    let rid = r.header("x-request-id").expect("X-Request-ID");
    assert!(rid.len() == 8 && rid.chars().all(|c| c.is_ascii_hexdigit()), "{rid}");
    let r = http(&sim, "GET", "/ready", &[], None).await;
    assert_eq!(
        r.body,
        json!({"ready":true,"planner_configured":true,"planner":"ready","database":"disabled","database_required":false,"sandbox_provider":"daytona"})
    );
    let s = http(&sim, "GET", "/api/v1/runtime/status", &[], None).await;
    assert_eq!(s.status, 200);
    assert_eq!(s.body["ready"], false, "ready needs both cached tests");
    assert_eq!(s.body["tests"], json!({"lm": null, "daytona": null}));
    for k in ["app_env", "write_enabled", "active_models", "sandbox_provider", "llm", "mlflow", "daytona", "guidance"] {
        assert!(s.body.get(k).is_some(), "status lacks {k}");
    }
    let lm = http(&sim, "POST", "/api/v1/runtime/tests/lm", &[], None).await;
    assert_eq!(lm.body["kind"], "lm");
    assert_eq!(lm.body["ok"], true);
    for k in ["preflight_ok", "checked_at", "checks", "guidance", "latency_ms", "output_preview", "error"] {
        assert!(lm.body.get(k).is_some(), "lm test lacks {k}");
    }
    assert_eq!(lm.body["checks"], json!({"model_set":true,"api_key_set":true}));
    let d = http(&sim, "POST", "/api/v1/runtime/tests/daytona", &[], None).await;
    assert_eq!(d.body["kind"], "daytona");
    assert_eq!(d.body["checks"]["configured"], true);
    let s = http(&sim, "GET", "/api/v1/runtime/status", &[], None).await;
    assert_eq!(s.body["ready"], true);
    assert_eq!(s.body["tests"]["lm"]["ok"], true);
    let me = http(&sim, "GET", "/api/v1/auth/me", &[("X-Debug-Tenant-Id", "t 9"), ("X-Debug-User-Id", "u9")], None).await;
    assert_eq!(me.body["tenant_id"], "t-9");
    assert_eq!(me.body["email"], "None", "the snapshot's debug-header bug");
}

#[tokio::test]
async fn probes_need_auth_when_required_except_health_and_ready() {
    let sim = sim(auth_required()).await;
    assert_eq!(http(&sim, "GET", "/health", &[], None).await.status, 200);
    assert_eq!(http(&sim, "GET", "/ready", &[], None).await.status, 200);
    let r = http(&sim, "GET", "/api/v1/runtime/status", &[], None).await;
    assert_eq!(r.status, 401);
    assert!(r.body["detail"].as_str().unwrap().starts_with("Missing dev auth"));
    // Query tokens are not accepted on HTTP.
    let token = runwatch_sim::fleet::auth::sign("dev-secret", "t", "u", None, &Value::Null);
    let r = http(&sim, "GET", &format!("/api/v1/runtime/status?access_token={token}"), &[], None).await;
    assert_eq!(r.status, 401);
    let bearer = format!("Bearer {token}");
    let r = http(&sim, "GET", "/api/v1/runtime/status", &[("Authorization", &bearer)], None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn cors_lets_another_loopback_origin_call_the_probes() {
    let sim = sim_default().await;
    let origin = ("Origin", "http://127.0.0.1:5173");
    let pre = http(
        &sim,
        "OPTIONS",
        "/api/v1/traces/feedback",
        &[origin, ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "content-type,authorization")],
        None,
    )
    .await;
    assert_eq!(pre.status, 200);
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert!(pre.header("access-control-allow-methods").unwrap().contains("POST"));
    assert_eq!(pre.header("access-control-allow-headers"), Some("content-type,authorization"));
    let r = http(&sim, "GET", "/api/v1/runtime/status", &[origin], None).await;
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn trace_feedback_validates_and_finds_the_final_trace() {
    let sim = sim_default().await;
    let r = http(&sim, "POST", "/api/v1/traces/feedback", &[], Some(r#"{"is_correct":true}"#)).await;
    assert_eq!(r.status, 422);
    assert!(r.body["detail"].is_array());
    let r = http(&sim, "POST", "/api/v1/traces/feedback", &[], Some(r#"{"trace_id":"tr-x"}"#)).await;
    assert_eq!(r.status, 422);
    let r = http(&sim, "POST", "/api/v1/traces/feedback", &[], Some(r#"{"trace_id":"tr-x","is_correct":true}"#)).await;
    assert_eq!(r.status, 404);
    // A real final carries the ids.
    let mut chat = Ws::chat(&sim).await;
    chat.message("hi #pace=0", "fb").await;
    let fin = chat.until(|v| kind(v) == "final").await.pop().unwrap();
    let trace = fin["data"]["payload"]["mlflow_trace_id"].as_str().unwrap().to_owned();
    let req = fin["data"]["payload"]["mlflow_client_request_id"].as_str().unwrap().to_owned();
    let body = json!({"client_request_id": req, "is_correct": false, "expected_response": "four files"}).to_string();
    let r = http(&sim, "POST", "/api/v1/traces/feedback", &[], Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, json!({"ok":true,"trace_id":trace,"client_request_id":req,"feedback_logged":true,"expectation_logged":true}));
    // Another user may not rate it.
    let body = json!({"trace_id": trace, "is_correct": true}).to_string();
    let r = http(&sim, "POST", "/api/v1/traces/feedback", &[("X-Debug-Tenant-Id", "x"), ("X-Debug-User-Id", "y")], Some(&body)).await;
    assert_eq!(r.status, 403);
    assert_eq!(control_get(&sim, "/_sim/fleet/feedback").await.as_array().unwrap().len(), 1);

    let off = fleet_support::sim(FleetConfig { mlflow: false, ..FleetConfig::default() }).await;
    let r = http(&off, "POST", "/api/v1/traces/feedback", &[], Some(r#"{"trace_id":"tr-x","is_correct":true}"#)).await;
    assert_eq!(r.status, 503);
}

/// A hand-made upgrade of the chat socket offering `protocols`; returns the response head.
async fn raw_upgrade(sim: &runwatch_sim::Handle, protocols: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(sim.addr).await.unwrap();
    let req = format!(
        "GET /api/v1/ws/execution HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {protocols}\r\n\r\n",
        sim.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(WAIT, s.read_exact(&mut byte)).await.unwrap().unwrap();
        buf.push(byte[0]);
    }
    String::from_utf8_lossy(&buf).to_string()
}

#[tokio::test]
async fn protocol_pings_drop_a_peer_that_never_answers() {
    let sim = sim(FleetConfig { ping_ms: 300, ..FleetConfig::default() }).await;
    let mut reading = Ws::events(&sim, "p").await;
    let _idle = Ws::events(&sim, "p").await;
    wait_subscribers(&sim, 2).await;
    // The reading client answers pings (tungstenite does while it polls); the idle one does not.
    assert!(reading.silent_for(Duration::from_millis(1500)).await);
    let conns = control_get(&sim, "/_sim/fleet/connections").await;
    assert_eq!(conns.as_array().unwrap().len(), 1, "{conns}");
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"p","pace":0})).await;
    assert_eq!(reading.json().await["type"], "execution_started");
}

#[tokio::test]
async fn a_queued_offline_script_fails_the_next_socket_at_startup() {
    let sim = sim_default().await;
    control(&sim, "/_sim/fleet/script", json!({"script":"offline"})).await;
    let mut ws = Ws::chat(&sim).await;
    ws.message("hello", "off").await;
    assert_eq!(ws.json().await["data"]["text"], "Preparing Daytona workspace...");
    expect_refusal(&mut ws, "sandbox_unavailable", 1011).await;
    // The tag works the same on a fresh socket's first message.
    let mut ws = Ws::chat(&sim).await;
    ws.message("hello #offline", "off").await;
    ws.json().await;
    expect_refusal(&mut ws, "sandbox_unavailable", 1011).await;
}

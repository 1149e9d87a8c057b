//! Auth handshake (spec §1.3, Errata 3 and 6).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn auth_success_echoes_the_key_as_user_token() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let r = c.call("auth", json!({"auth":"Bearer sim-key","clientName":"t"})).await;
    assert_eq!(r["seq"], 1, "server seq starts at 1");
    assert_eq!(r["success"], true);
    assert_eq!(r["body"]["userToken"], "sim-key", "Bearer prefix stripped, key echoed");
    assert_eq!(r["body"]["userId"], "local");
    assert_eq!(r["body"]["capabilities"], json!(["oss"]));
    let pong = c.call("rrext_ping", json!({})).await;
    assert_eq!(pong["body"], json!({"pong": true}));
}

#[tokio::test]
async fn bad_key_fails_broadcasts_auth_failed_and_closes_1000() {
    let sim = sim().await;
    let mut dash = Client::authed(&sim).await;
    dash.monitor(json!({"token":"*","types":["DASHBOARD"]})).await;
    let mut c = Client::connect(&sim).await;
    let r = c.call("auth", json!({"auth":"wrong"})).await;
    assert_eq!(r["success"], false);
    assert_eq!(r["message"], "Invalid API key");
    assert_eq!(r["trace"], json!({"file":"task_conn.py","lineno":311}));
    assert!(matches!(c.recv().await, Got::Close(Some(1000))));
    let ev = dash.until(|v| is_event(v, "apaevt_dashboard") && v["body"]["action"] == "auth_failed").await.pop().unwrap();
    assert_eq!(ev["body"]["code"], 401);
    assert_eq!(ev["body"]["reason"], "Invalid API key");
    assert_eq!(ev["body"]["__id"], "");
}

#[tokio::test]
async fn missing_credential_is_no_authorization_provided() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let r = c.call("auth", json!({"auth":""})).await;
    assert_eq!(r["message"], "No authorization provided");
    assert!(matches!(c.recv().await, Got::Close(Some(1000))));
}

#[tokio::test]
async fn anything_else_before_auth_is_not_authenticated_then_close() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let probe = c.call("rrext_public_probe", json!({})).await;
    assert_eq!(probe["success"], true, "public commands work before auth");
    assert!(probe["body"]["version"].is_object(), "the engine build, as recorded");
    let r = c.call("rrext_ping", json!({})).await;
    assert_eq!(r["success"], false);
    assert_eq!(r["message"], "Not authenticated");
    assert_eq!(r["trace"]["lineno"], 264);
    assert!(matches!(c.recv().await, Got::Close(Some(1000))));
}

#[tokio::test]
async fn sixth_auth_call_is_too_many_attempts() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    for _ in 0..5 {
        let r = c.call("auth", json!({"auth":"sim-key"})).await;
        assert_eq!(r["success"], true, "successes count toward the cap");
    }
    let r = c.call("auth", json!({"auth":"sim-key"})).await;
    assert_eq!(r["message"], "Too many authentication attempts");
    assert!(matches!(c.recv().await, Got::Close(Some(1000))));
}

#[tokio::test]
async fn malformed_json_before_auth_gets_no_reply_and_socket_stays_open() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    c.send_text("{not json").await;
    assert!(c.silent_for(Duration::from_millis(200)).await, "no reply to malformed JSON");
    let r = c.call("auth", json!({"auth":"sim-key"})).await;
    assert_eq!(r["success"], true, "socket still usable");
    assert_eq!(r["seq"], 1, "nothing was sent before");
}

#[tokio::test]
async fn deauth_returns_to_unauthenticated_mode() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let r = c.call("deauth", json!({})).await;
    assert_eq!(r["body"], json!({}));
    let r = c.call("rrext_ping", json!({})).await;
    assert_eq!(r["message"], "Not authenticated");
}

#[tokio::test]
async fn unknown_rrext_command_is_invalid_command() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let r = c.call("rrext_nope", json!({})).await;
    assert_eq!(r["message"], "Invalid command: rrext_nope");
    let r = c.call("rrext_public_nope", json!({})).await;
    assert_eq!(r["message"], "Invalid command: rrext_public_nope");
}

#[tokio::test]
async fn seq_is_per_connection_and_resets_on_reconnect() {
    let sim = sim().await;
    let mut a = Client::authed(&sim).await;
    let r = a.call("rrext_ping", json!({})).await;
    assert_eq!(r["seq"], 2);
    drop(a);
    let mut b = Client::connect(&sim).await;
    let r = b.call("auth", json!({"auth":"sim-key"})).await;
    assert_eq!(r["seq"], 1, "a new socket starts at 1 again");
}

#[tokio::test]
async fn task_credentials_are_scoped_to_their_task() {
    let sim = sim().await;
    let task = sim_execute(&sim, json!({"projectId":"p","source":"chat_1"})).await;
    sim_execute(&sim, json!({"projectId":"other","source":"chat_1"})).await;
    let mut c = Client::connect(&sim).await;
    let r = c.call("auth", json!({"auth": task["token"]})).await;
    assert_eq!(r["success"], true);
    // token:"*" silently becomes the task's own key (spec §3.2).
    c.monitor(json!({"token":"*","types":["task"]})).await;
    assert_eq!(monitors(&sim).await, vec![("p.p.chat_1".to_owned(), 32)]);
    let mut stale = Client::connect(&sim).await;
    let r = stale.call("auth", json!({"auth":"tk_00000000000000000000000000000000"})).await;
    assert_eq!(r["message"], "Bad request");
}

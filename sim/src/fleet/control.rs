//! Control calls of the fleet-rlm side, under `/_sim/fleet/` (loopback only, like the rest
//! of `/_sim/`). Faults go through the shared `POST /_sim/faults`; `conn` ids are listed by
//! `GET /_sim/fleet/connections`.
//!
//! | call | body / query | does |
//! | --- | --- | --- |
//! | `GET /_sim/fleet/connections` | | live fleet sockets: `id`, `role` (`chat` / `events` + `session_id` / `pending`), identity, `queued`, `dropped`, `turn` |
//! | `POST /_sim/fleet/turn` | `{session_id, script?, workspace_id?, user_id?, content?, tokens?, steps?, pad?, code?, seed?, pace?, trace?, wait?}` | starts a scripted turn with no chat socket (events stream only); answers `{inst, run_id, session_id, seed}`, after the turn ended when `wait` |
//! | `POST /_sim/fleet/script` | `{script, session_id?, tokens?, steps?, pad?, code?, seed?, pace?}` | the next chat `message` (of that session, or any) runs this script instead of the one its text names |
//! | `POST /_sim/fleet/cancel` | `{session_id?}` | cancels running turns (all, or that session's) as a client `cancel` would |
//! | `GET /_sim/fleet/turns` | | running turns |
//! | `GET /_sim/fleet/hitl` | | HITL requests raised and their resolutions |
//! | `POST /_sim/fleet/token` | `{tenant, user, ttl_s?, claims?}` | a dev HS256 `access_token` signed with `--fleet-jwt-secret` |
//! | `GET /_sim/fleet/feedback` | | trace feedback received |

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::turn::{self, MsgOpts, Stop, TurnOpts};
use super::{auth, Identity, Queued};
use crate::hub::Hub;

/// Longest a `wait: true` turn call waits.
const WAIT_MAX: Duration = Duration::from_secs(120);

/// Routes (merged into the `/_sim` router).
pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/fleet/connections", get(connections))
        .route("/fleet/turn", post(start_turn))
        .route("/fleet/script", post(queue_script))
        .route("/fleet/cancel", post(cancel))
        .route("/fleet/turns", get(turns))
        .route("/fleet/hitl", get(hitl))
        .route("/fleet/token", post(token))
        .route("/fleet/feedback", get(feedback))
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

// The error is axum's `Response`, returned as it is: its size is the framework's.
#[allow(clippy::result_large_err)]
fn object(body: &Bytes) -> Result<Map<String, Value>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad("body must be a JSON object")),
    }
}

#[allow(clippy::result_large_err)] // as `object`
fn opts(body: &Map<String, Value>) -> Result<TurnOpts, Response> {
    let mut b = body.clone();
    b.entry("script").or_insert_with(|| json!("normal"));
    serde_json::from_value(Value::Object(b)).map_err(|e| bad(format!("bad turn options: {e}")))
}

async fn connections(State(hub): State<Arc<Hub>>) -> Json<Value> {
    let st = hub.lock();
    Json(json!(st.fleet.conns.values().map(|c| c.view()).collect::<Vec<_>>()))
}

async fn start_turn(State(hub): State<Arc<Hub>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let o = match opts(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(session_id) = s("session_id").filter(|s| !s.is_empty()) else { return bad("session_id is required") };
    let who = Identity::of(&s("workspace_id").unwrap_or_else(|| "default".into()), &s("user_id").unwrap_or_else(|| "anonymous".into()));
    let content = s("content").unwrap_or_else(|| format!("scripted {:?} turn", o.script).to_lowercase());
    let msg = MsgOpts {
        trace: body.get("trace").and_then(Value::as_bool).unwrap_or(true),
        execution_mode: s("execution_mode").unwrap_or_else(|| "auto".into()),
    };
    let started = {
        let mut st = hub.lock();
        turn::start(&hub, &mut st, None, who, session_id, content, o, msg)
    };
    if body.get("wait").and_then(Value::as_bool).unwrap_or(false) {
        let t0 = Instant::now();
        while hub.lock().fleet.turns.contains_key(&started.inst) && t0.elapsed() < WAIT_MAX {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Json(json!(started)).into_response()
}

async fn queue_script(State(hub): State<Arc<Hub>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !body.contains_key("script") {
        return bad("script is required");
    }
    let o = match opts(&body) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let session_id = body.get("session_id").and_then(Value::as_str).map(str::to_owned);
    let mut st = hub.lock();
    st.fleet.queued.push_back(Queued { session_id, opts: o });
    Json(json!({"ok": true, "queued": st.fleet.queued.len()})).into_response()
}

async fn cancel(State(hub): State<Arc<Hub>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let session = body.get("session_id").and_then(Value::as_str);
    let st = hub.lock();
    let insts: Vec<u64> = st.fleet.turns.values().filter(|t| session.is_none_or(|s| t.session_id == s)).map(|t| t.inst).collect();
    let cancelled: Vec<u64> = insts.into_iter().filter(|i| turn::request_stop(&st, *i, Stop::Cancel)).collect();
    Json(json!({"cancelled": cancelled})).into_response()
}

async fn turns(State(hub): State<Arc<Hub>>) -> Json<Value> {
    let st = hub.lock();
    let rows: Vec<Value> = st
        .fleet
        .turns
        .values()
        .map(|t| {
            json!({"inst": t.inst, "run_id": t.run_id, "session_id": t.session_id, "workspace_id": t.identity.workspace_id,
                "user_id": t.identity.user_id, "chat": t.chat, "script": t.script})
        })
        .collect();
    Json(json!(rows))
}

async fn hitl(State(hub): State<Arc<Hub>>) -> Json<Value> {
    let st = hub.lock();
    Json(json!(st.fleet.hitl.values().collect::<Vec<_>>()))
}

async fn token(State(hub): State<Arc<Hub>>, body: Bytes) -> Response {
    let body = match object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let (Some(tenant), Some(user)) = (s("tenant"), s("user")) else { return bad("tenant and user are required") };
    let ttl = body.get("ttl_s").and_then(Value::as_f64);
    let claims = body.get("claims").cloned().unwrap_or(Value::Null);
    let t = auth::sign(&hub.config.fleet.jwt_secret, &tenant, &user, ttl, &claims);
    let who = Identity::of(&tenant, &user);
    Json(json!({"access_token": t, "workspace_id": who.workspace_id, "user_id": who.user_id})).into_response()
}

async fn feedback(State(hub): State<Arc<Hub>>) -> Json<Value> {
    Json(json!(hub.lock().fleet.feedback))
}

//! The control API under `/_sim/` (loopback peers only): plain HTTP + JSON for tests,
//! benchmarks and the demo to drive the simulator.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::dap::CmdError;
use crate::faults::FaultSpec;
use crate::hub::Hub;
use crate::inject;
use crate::lifecycle;
use crate::registry;
use crate::tasks::{self, LaunchArgs};

/// Most log entries one `GET /_sim/log` returns unless `limit` says otherwise.
const DEFAULT_LOG_LIMIT: usize = 50_000;

/// Routes of the control API (mounted at `/_sim`).
pub fn router() -> Router<Arc<Hub>> {
    Router::new()
        .route("/health", get(health))
        .route("/execute", post(execute))
        .route("/terminate", post(terminate))
        .route("/restart_task", post(restart_task))
        .route("/tasks", get(list_tasks))
        .route("/connections", get(connections))
        .route("/log", get(log))
        .route("/faults", post(add_fault).delete(clear_faults).get(list_faults))
        .route("/reset", post(reset))
        .merge(crate::fleet::control::router())
        .layer(middleware::from_fn(loopback_only))
}

/// Rejects non-loopback peers with 403.
async fn loopback_only(ConnectInfo(peer): ConnectInfo<SocketAddr>, req: Request, next: Next) -> Response {
    if peer.ip().is_loopback() {
        next.run(req).await
    } else {
        (StatusCode::FORBIDDEN, "the control API answers loopback peers only").into_response()
    }
}

/// A control API error: HTTP 400 with `{error}`.
struct ApiError(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({ "error": self.0 }))).into_response()
    }
}

impl From<CmdError> for ApiError {
    fn from(e: CmdError) -> Self {
        ApiError(e.message)
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Parses a JSON object body; an empty body is `{}` (no Content-Type needed).
fn object_body(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError("body must be a JSON object".into())),
    }
}

/// Parses the JSON text a command produced.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// `GET /_sim/health`.
async fn health(State(hub): State<Arc<Hub>>) -> Json<Value> {
    let st = hub.lock();
    Json(json!({
        "ok": true,
        "scenario": format!("{:?}", hub.config.scenario).to_lowercase(),
        "newer": hub.config.newer,
        "speed": hub.config.speed,
        "connections": st.conns.len(),
        "tasks": st.tasks.len(),
        "generation": st.generation,
        "logNext": st.log.next_index(),
    }))
}

/// The pipeline a control `execute` runs when the body gives none: the source plus
/// any `components`, source provider from `provider` (default by name: chat or webhook).
fn control_pipeline(body: &Map<String, Value>) -> Value {
    if let Some(p) = body.get("pipeline") {
        return p.clone();
    }
    let source = body.get("source").and_then(Value::as_str).unwrap_or_default();
    let guess = if source.contains("chat") { "chat" } else { "webhook" };
    let provider = body.get("provider").and_then(Value::as_str).unwrap_or(guess);
    let mut components = vec![json!({"id": source, "provider": provider, "config": {"mode": "Source", "type": provider}})];
    if let Some(extra) = body.get("components").and_then(Value::as_array) {
        components.extend(extra.iter().cloned());
    }
    json!({"source": source, "project_id": body.get("projectId").cloned().unwrap_or(Value::Null), "components": components})
}

/// `POST /_sim/execute` — starts a scripted pipeline without a client; answers like the
/// `execute` command once the task is RUNNING.
async fn execute(State(hub): State<Arc<Hub>>, body: Bytes) -> ApiResult {
    let body = object_body(&body)?;
    let mut args = body.clone();
    args.insert("pipeline".into(), control_pipeline(&body));
    let result = tasks::execute(hub, LaunchArgs::from_args(&args)).await?;
    Ok(Json(result.as_deref().map(parse).unwrap_or(Value::Null)))
}

/// Reads `{token}`.
fn token_of(body: &Bytes) -> Result<String, ApiError> {
    object_body(body)?
        .get("token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError("token is required".into()))
}

/// `POST /_sim/terminate {token}` — the `terminate` command's sequence.
async fn terminate(State(hub): State<Arc<Hub>>, body: Bytes) -> ApiResult {
    let token = token_of(&body)?;
    tasks::terminate(hub, Some(token)).await?;
    Ok(Json(json!({"ok": true})))
}

/// `POST /_sim/restart_task {token}` — restart in place (spec §4.2).
async fn restart_task(State(hub): State<Arc<Hub>>, body: Bytes) -> ApiResult {
    let token = token_of(&body)?;
    tasks::restart(hub.clone(), &token).await?;
    Ok(Json(json!({"ok": true})))
}

/// `GET /_sim/tasks` — registered tasks.
async fn list_tasks(State(hub): State<Arc<Hub>>) -> Json<Value> {
    let st = hub.lock();
    let items: Vec<Value> = st
        .tasks
        .values()
        .map(|t| {
            json!({
                "token": t.token, "publicToken": t.public_token, "id": t.id, "projectId": t.project_id,
                "source": t.source, "name": t.status.name, "state": t.status.state,
                "completed": t.completed_at.is_some(), "startTime": t.status.start_time,
            })
        })
        .collect();
    Json(Value::Array(items))
}

/// One monitor of `GET /_sim/connections`: the key, its bitmask and the mask's flag names
/// (as the SDK's `serverSubscriptions()` spells them, so the two views compare directly).
#[derive(Serialize)]
struct MonitorView {
    key: String,
    mask: u8,
    types: Vec<&'static str>,
}

/// One row of `GET /_sim/connections`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnView {
    id: u64,
    authenticated: bool,
    client_name: String,
    client_version: String,
    seq: u64,
    monitors: Vec<MonitorView>,
}

/// `GET /_sim/connections` — the real registry keys and masks of every connection.
async fn connections(State(hub): State<Arc<Hub>>) -> Json<Vec<ConnView>> {
    let st = hub.lock();
    let rows = st
        .conns
        .values()
        .map(|c| ConnView {
            id: c.id,
            authenticated: c.authenticated,
            client_name: c.client_name.clone(),
            client_version: c.client_version.clone(),
            seq: c.seq,
            monitors: c.monitors.iter().map(|(k, m)| MonitorView { key: k.clone(), mask: *m, types: registry::type_names(*m) }).collect(),
        })
        .collect();
    Json(rows)
}

/// `GET /_sim/log?since=N&conn=ID&limit=L`.
async fn log(State(hub): State<Arc<Hub>>, Query(q): Query<HashMap<String, String>>) -> Result<Response, ApiError> {
    let num = |k: &str| q.get(k).map(|v| v.parse::<u64>().map_err(|_| ApiError(format!("{k} must be an integer")))).transpose();
    let since = num("since")?.unwrap_or(0);
    let conn = num("conn")?;
    let limit = num("limit")?.map(|l| l as usize).unwrap_or(DEFAULT_LOG_LIMIT);
    let page = hub.lock().log.page(since, conn, limit);
    Ok(Json(page).into_response())
}

/// `POST /_sim/faults {kind, ...}` — applies a fault now.
async fn add_fault(State(hub): State<Arc<Hub>>, body: Bytes) -> ApiResult {
    let spec: FaultSpec = serde_json::from_slice(&body).map_err(|e| ApiError(format!("bad fault: {e}")))?;
    let applied = inject::apply(&hub, &spec).map_err(ApiError)?;
    Ok(Json(serde_json::to_value(applied).unwrap_or(Value::Null)))
}

/// `DELETE /_sim/faults` — clears every standing fault.
async fn clear_faults(State(hub): State<Arc<Hub>>) -> Json<Value> {
    inject::clear(&hub);
    Json(json!({"ok": true}))
}

/// `GET /_sim/faults` — the standing faults.
async fn list_faults(State(hub): State<Arc<Hub>>) -> Json<Value> {
    let st = hub.lock();
    let mut v = serde_json::to_value(&st.faults).unwrap_or(Value::Null);
    v["refusing"] = json!(st.faults.refusing());
    v["halfOpen"] = json!(st.conns.values().filter(|c| c.half_open_until.is_some()).map(|c| c.id).collect::<Vec<_>>());
    Json(v)
}

/// `POST /_sim/reset` — closes every connection, forgets tasks, faults and the log
/// entries (indices keep growing), and restarts the scenario.
async fn reset(State(hub): State<Arc<Hub>>) -> Json<Value> {
    let generation = lifecycle::reset(&hub, lifecycle::ResetKind::Full);
    Json(json!({"ok": true, "generation": generation}))
}

//! fleet-rlm HTTP routes (spec §7) and the two WebSocket paths, with the local server's
//! CORS (`*`, preflight answered) and an `X-Request-ID` (8 hex) on every HTTP response.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::{self, Source};
use super::conn;
use super::frames::iso_now;
use crate::hub::Hub;

/// The package version this simulator follows.
pub const VERSION: &str = "0.5.0";
/// Simulated latency of a connectivity test (ms, scaled by `--speed`).
const TEST_LATENCY_MS: u64 = 420;

/// Every fleet-rlm route.
pub fn routes() -> Router<Arc<Hub>> {
    let http = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/api/v1/runtime/status", get(runtime_status))
        .route("/api/v1/runtime/tests/lm", post(test_lm))
        .route("/api/v1/runtime/tests/daytona", post(test_daytona))
        .route("/api/v1/traces/feedback", post(feedback))
        .route("/api/v1/auth/me", get(me))
        .layer(middleware::from_fn(cors));
    Router::new()
        .route("/api/v1/ws/execution", get(conn::upgrade_chat))
        .route("/api/v1/ws/execution/events", get(conn::upgrade_events))
        .merge(http)
}

/// CORS as the local server configures it (`*`), and `X-Request-ID`.
async fn cors(req: Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let has_origin = req.headers().contains_key(header::ORIGIN);
    let mut res = if preflight {
        let mut r = (StatusCode::OK, "OK").into_response();
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"));
        let asked = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
        if let Some(v) = asked {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        r
    } else {
        next.run(req).await
    };
    let h = res.headers_mut();
    if has_origin || preflight {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    let id = format!("{:08x}", fastrand::u32(..));
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    res
}

fn detail(status: StatusCode, detail: Value) -> Response {
    (status, Json(json!({ "detail": detail }))).into_response()
}

/// HTTP auth (no query tokens); `Err` is the 401 response.
// The error is axum's `Response`, returned as it is: its size is the framework's.
#[allow(clippy::result_large_err)]
fn http_auth(hub: &Hub, headers: &HeaderMap) -> Result<auth::Authed, Response> {
    auth::authenticate(&hub.config.fleet, headers, None).map_err(|e| detail(StatusCode::UNAUTHORIZED, json!(e)))
}

/// `GET /health`.
async fn health() -> Json<Value> {
    Json(json!({"ok": true, "version": VERSION}))
}

/// `GET /ready` (always 200).
async fn ready(State(hub): State<Arc<Hub>>) -> Json<Value> {
    let planner = !hub.config.fleet.planner_missing;
    Json(json!({
        "ready": planner,
        "planner_configured": planner,
        "planner": if planner { "ready" } else { "missing" },
        "database": "disabled",
        "database_required": false,
        "sandbox_provider": "daytona",
    }))
}

fn lm_checks(hub: &Hub) -> Value {
    let ok = !hub.config.fleet.planner_missing;
    json!({"model_set": ok, "api_key_set": ok})
}

fn daytona_checks(hub: &Hub) -> Value {
    let ok = !hub.config.fleet.daytona_missing;
    json!({"api_key_set": ok, "api_url_set": ok, "target_set": ok, "legacy_api_base_url_ok": true, "configured": ok})
}

/// `GET /api/v1/runtime/status`.
async fn runtime_status(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    if let Err(r) = http_auth(&hub, &headers) {
        return r;
    }
    let cfg = &hub.config.fleet;
    let (lm, daytona) = {
        let st = hub.lock();
        (st.fleet.test_lm.clone(), st.fleet.test_daytona.clone())
    };
    let passed = |t: &Option<Value>| t.as_ref().is_some_and(|v| v["ok"] == true);
    let planner = !cfg.planner_missing;
    let mut guidance = Vec::new();
    if cfg.planner_missing {
        guidance.push("Set DSPY_LM_MODEL and DSPY_LLM_API_KEY to configure the planner LM.");
    }
    if cfg.daytona_missing {
        guidance.push("Set DAYTONA_API_KEY, DAYTONA_API_URL and DAYTONA_TARGET to use the Daytona sandbox.");
    }
    let model = planner.then_some("openai/gpt-4o-mini");
    Json(json!({
        "app_env": "local",
        "write_enabled": true,
        "ready": planner && !cfg.daytona_missing && passed(&lm) && passed(&daytona),
        "active_models": {"planner": model, "delegate": model, "delegate_small": model},
        "sandbox_provider": "daytona",
        "llm": {
            "model_set": planner, "api_key_set": planner, "planner_configured": planner,
            "startup_status": if planner { "ready" } else { "missing" }, "startup_error": null,
        },
        "mlflow": {
            "enabled": cfg.mlflow, "auto_start_enabled": false,
            "startup_status": if cfg.mlflow { "ready" } else { "disabled" }, "startup_error": null,
        },
        "daytona": {
            "api_key_set": !cfg.daytona_missing, "api_url_set": !cfg.daytona_missing, "target_set": !cfg.daytona_missing,
            "legacy_api_base_url_ok": true, "configured": !cfg.daytona_missing,
            "guidance": if cfg.daytona_missing { json!(["Set DAYTONA_API_KEY."]) } else { json!([]) },
        },
        "tests": {"lm": lm, "daytona": daytona},
        "guidance": guidance,
    }))
    .into_response()
}

/// A `RuntimeConnectivityTestResponse`, after the simulated call when preflight passes.
async fn connectivity(hub: &Hub, kind: &str, preflight_ok: bool, checks: Value) -> Value {
    let name = if kind == "lm" { "LM" } else { "Daytona" };
    if !preflight_ok {
        return json!({
            "kind": kind, "ok": false, "preflight_ok": false, "checked_at": iso_now(), "checks": checks,
            "guidance": [format!("Configure the {name} settings and retry.")],
            "latency_ms": null, "output_preview": null, "error": format!("{name} preflight checks failed."),
        });
    }
    tokio::time::sleep(hub.clock.scaled(TEST_LATENCY_MS)).await;
    let preview = if kind == "lm" { json!("OK") } else { json!("1 sandbox listed") };
    json!({
        "kind": kind, "ok": true, "preflight_ok": true, "checked_at": iso_now(), "checks": checks,
        "guidance": [], "latency_ms": TEST_LATENCY_MS, "output_preview": preview, "error": null,
    })
}

/// `POST /api/v1/runtime/tests/lm` (result cached for the status).
async fn test_lm(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    if let Err(r) = http_auth(&hub, &headers) {
        return r;
    }
    let v = connectivity(&hub, "lm", !hub.config.fleet.planner_missing, lm_checks(&hub)).await;
    hub.lock().fleet.test_lm = Some(v.clone());
    Json(v).into_response()
}

/// `POST /api/v1/runtime/tests/daytona` (result cached for the status).
async fn test_daytona(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    if let Err(r) = http_auth(&hub, &headers) {
        return r;
    }
    let v = connectivity(&hub, "daytona", !hub.config.fleet.daytona_missing, daytona_checks(&hub)).await;
    hub.lock().fleet.test_daytona = Some(v.clone());
    Json(v).into_response()
}

/// `POST /api/v1/traces/feedback`.
async fn feedback(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Bytes) -> Response {
    let who = match http_auth(&hub, &headers) {
        Ok(a) => a.identity,
        Err(r) => return r,
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => {
            let e = json!([{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary or object to extract fields from", "input": other}]);
            return detail(StatusCode::UNPROCESSABLE_ENTITY, e);
        }
        Err(e) => {
            let e = json!([{"type": "json_invalid", "loc": ["body", e.column()], "msg": "JSON decode error", "input": {}, "ctx": {"error": e.to_string()}}]);
            return detail(StatusCode::UNPROCESSABLE_ENTITY, e);
        }
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(str::to_owned);
    let Some(is_correct) = body.get("is_correct").and_then(Value::as_bool) else {
        let e = json!([{"type": "missing", "loc": ["body", "is_correct"], "msg": "Field required", "input": body}]);
        return detail(StatusCode::UNPROCESSABLE_ENTITY, e);
    };
    let (trace_id, request_id) = (text("trace_id"), text("client_request_id"));
    if trace_id.is_none() && request_id.is_none() {
        let e = json!([{"type": "value_error", "loc": ["body"], "msg": "Value error, Either trace_id or client_request_id is required", "input": body, "ctx": {"error": {}}}]);
        return detail(StatusCode::UNPROCESSABLE_ENTITY, e);
    }
    if !hub.config.fleet.mlflow {
        return detail(StatusCode::SERVICE_UNAVAILABLE, json!("MLflow tracing is disabled."));
    }
    let mut st = hub.lock();
    let found = st.fleet.traces.iter().find(|(t, (r, _))| trace_id.as_ref() == Some(*t) || request_id.as_ref() == Some(r));
    let Some((t, (r, owner))) = found.map(|(t, (r, o))| (t.clone(), (r.clone(), o.clone()))) else {
        return detail(StatusCode::NOT_FOUND, json!("Trace not found."));
    };
    if owner != who {
        return detail(StatusCode::FORBIDDEN, json!("Trace belongs to another user."));
    }
    let expectation = text("expected_response").is_some();
    st.fleet.feedback.push(json!({"trace_id": t, "client_request_id": r, "is_correct": is_correct, "comment": body.get("comment"), "expected_response": body.get("expected_response")}));
    Json(json!({"ok": true, "trace_id": t, "client_request_id": r, "feedback_logged": true, "expectation_logged": expectation})).into_response()
}

/// `GET /api/v1/auth/me`.
async fn me(State(hub): State<Arc<Hub>>, headers: HeaderMap) -> Response {
    let a = match http_auth(&hub, &headers) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let email = match (&a.email, a.source) {
        (Some(e), _) => json!(e),
        (None, Source::DebugHeaders) => json!("None"),
        (None, _) => Value::Null,
    };
    Json(json!({
        "tenant_claim": a.tenant_claim, "user_claim": a.user_claim, "email": email, "name": a.name,
        "tenant_id": a.identity.workspace_id, "user_id": a.identity.user_id,
    }))
    .into_response()
}

//! The HTTP probes' shapes (spec §7): typed responses, typed errors by status, request
//! bodies in the server's spelling.

use runwatch::core::wire::DecodeErrorKind;
use runwatch::protocol::fleet_rlm::http::*;
use serde_json::{json, Value};

#[test]
fn health_and_ready_decode() {
    let health = decode_health(200, r#"{"ok":true,"version":"0.5.0"}"#).unwrap();
    assert_eq!((health.ok, health.version.as_str()), (true, "0.5.0"));
    let ready = decode_ready(200, r#"{"ready":false,"planner_configured":false,"planner":"missing","database":"disabled","database_required":false,"sandbox_provider":"daytona"}"#).unwrap();
    assert_eq!((ready.ready, ready.planner.as_str(), ready.database.as_str()), (false, "missing", "disabled"));
    assert_eq!(serde_json::to_value(&ready).unwrap()["plannerConfigured"], false);
}

#[test]
fn runtime_status_decodes_with_its_nested_parts_and_cached_tests() {
    let body = json!({
        "app_env": "local", "write_enabled": true, "ready": false,
        "active_models": {"planner": "openai/gpt-4o", "delegate": null, "delegate_small": null},
        "sandbox_provider": "daytona",
        "llm": {"model_set": true, "api_key_set": false, "planner_configured": false, "startup_status": "missing", "startup_error": null},
        "mlflow": {"enabled": false, "auto_start_enabled": false, "startup_status": "disabled", "startup_error": null},
        "daytona": {"api_key_set": false, "api_url_set": false, "target_set": false, "legacy_api_base_url_ok": true, "configured": false, "guidance": ["Set DAYTONA_API_KEY"], "region": "eu"},
        "tests": {"lm": null, "daytona": {"kind": "daytona", "ok": false, "preflight_ok": false, "checked_at": "2026-11-23T00:00:00+00:00",
            "checks": {"api_key_set": false, "configured": false}, "guidance": [], "latency_ms": null, "output_preview": null, "error": "Daytona preflight checks failed."}},
        "guidance": ["Configure an LM"]
    });
    let status = decode_runtime_status(200, &body.to_string()).unwrap();
    assert_eq!((status.app_env.as_str(), status.write_enabled, status.ready), ("local", Some(true), false));
    assert_eq!(status.active_models.planner.as_deref(), Some("openai/gpt-4o"));
    assert!(status.llm.model_set && !status.llm.api_key_set);
    assert_eq!(status.daytona.extra.get("region").map(|v| v.get()), Some("\"eu\""), "nested undeclared keys are kept");
    assert!(status.tests.lm.is_none());
    let daytona = status.tests.daytona.as_ref().unwrap();
    assert_eq!((daytona.kind.as_str(), daytona.ok, daytona.checks["configured"]), ("daytona", false, false));
    let js = serde_json::to_value(&status).unwrap();
    assert_eq!(js["activeModels"]["planner"], "openai/gpt-4o");
    assert!(js["activeModels"].get("delegate").is_none(), "absent values are missing keys");
}

#[test]
fn a_connectivity_test_decodes() {
    let lm = decode_connectivity_test(200, r#"{"kind":"lm","ok":false,"preflight_ok":false,"checked_at":"2026-11-23T00:00:00+00:00","checks":{"model_set":false,"api_key_set":false},"guidance":["Set DSPY_LM_MODEL"],"latency_ms":null,"output_preview":null,"error":"LM preflight checks failed."}"#).unwrap();
    assert_eq!((lm.ok, lm.error.as_deref(), lm.guidance.len()), (false, Some("LM preflight checks failed."), 1));
    assert_eq!(TEST_LM, "/api/v1/runtime/tests/lm");
}

#[test]
fn feedback_bodies_are_written_in_the_servers_spelling_and_need_an_id() {
    let none = FeedbackRequest { is_correct: true, ..FeedbackRequest::default() };
    assert!(none.to_body().is_err(), "the server would answer 422");
    let request = FeedbackRequest { trace_id: Some("tr-1".into()), is_correct: false, comment: Some("wrong file".into()), ..FeedbackRequest::default() };
    let body: Value = serde_json::from_str(&request.to_body().unwrap()).unwrap();
    assert_eq!(body, json!({"trace_id": "tr-1", "is_correct": false, "comment": "wrong file"}));
    let ok = decode_feedback(200, r#"{"ok":true,"trace_id":"tr-1","client_request_id":null,"feedback_logged":true,"expectation_logged":false}"#).unwrap();
    assert_eq!((ok.ok, ok.trace_id.as_deref(), ok.client_request_id), (true, Some("tr-1"), None));
}

#[test]
fn error_statuses_become_typed_errors() {
    assert!(matches!(decode_feedback(503, r#"{"detail":"MLflow tracing is disabled"}"#), Err(HttpError::Unavailable { message }) if message == "MLflow tracing is disabled"));
    let invalid = decode_feedback(422, r#"{"detail":[{"loc":["body"],"msg":"trace_id or client_request_id is required","type":"value_error"}]}"#);
    let Err(HttpError::Validation { detail, .. }) = invalid else { panic!("{invalid:?}") };
    assert_eq!(detail.parse::<serde_json::Value>().unwrap()[0]["type"], "value_error");
    assert!(matches!(decode_runtime_status(401, r#"{"detail":"Missing dev auth headers"}"#), Err(HttpError::Unauthorized { status: 401, .. })));
    assert!(matches!(decode_feedback(404, r#"{"detail":"Trace not found"}"#), Err(HttpError::NotFound { .. })));
    assert!(matches!(decode_health(502, "<html>bad gateway</html>"), Err(HttpError::Status { status: 502, .. })));
    let Err(HttpError::Decode { error }) = decode_health(200, r#"{"ok":"yes"}"#) else { panic!() };
    assert_eq!(error.kind, DecodeErrorKind::WrongShape);
    let js = serde_json::to_value(HttpError::NotFound { message: "x".into() }).unwrap();
    assert_eq!(js, json!({"kind": "notFound", "message": "x"}));
}

#[test]
fn who_am_i_decodes_even_with_the_servers_none_string() {
    let me = decode_identity(200, r#"{"tenant_claim":"t1","user_claim":"u1","email":"None","name":null,"tenant_id":"t1","user_id":"u1"}"#).unwrap();
    assert_eq!((me.tenant_id.as_str(), me.user_id.as_str(), me.email.as_deref(), me.name), ("t1", "u1", Some("None"), None));
}

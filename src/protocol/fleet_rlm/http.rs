//! The HTTP probes (spec §7): request and response shapes, and decoders that turn a status
//! and a body into a typed value or a typed error. The fetch itself is the shell's.
//!
//! Every route but `/health` and `/ready` takes the same auth as the sockets except the
//! query token: a `Authorization: Bearer` header (or the debug headers).

use serde::Serialize;
use tsify::Tsify;

use super::json::{decode, decode_fields, Extra, OrDefault};
use crate::core::json_read::{self, Decode, JsonText};
use crate::core::wire::{DecodeError, ObjectText};

/// The routes, relative to the server root.
pub const HEALTH: &str = "/health";
pub const READY: &str = "/ready";
pub const RUNTIME_STATUS: &str = "/api/v1/runtime/status";
pub const TEST_LM: &str = "/api/v1/runtime/tests/lm";
pub const TEST_DAYTONA: &str = "/api/v1/runtime/tests/daytona";
pub const TRACE_FEEDBACK: &str = "/api/v1/traces/feedback";
pub const AUTH_ME: &str = "/api/v1/auth/me";

/// Declares a response struct with `extra`.
macro_rules! response {
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* pub $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
            /// Keys this SDK does not declare, as sent.
            #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
            #[tsify(optional, type = "Record<string, unknown>")]
            pub extra: Extra,
        }
        decode_fields!($name { $($field),* });
    };
}

response! {
    /// `GET /health`.
    Health {
        pub ok: bool,
        pub version: String,
    }
}

response! {
    /// `GET /ready`: always HTTP 200, even when not ready. `ready` means the planner LM was
    /// built (no network check) and the database is present if required.
    Ready {
        pub ready: bool,
        pub planner_configured: bool,
        /// `ready` | `missing`.
        #[tsify(type = "\"ready\" | \"missing\" | (string & {})")]
        pub planner: String,
        /// `ready` | `missing` | `disabled` | `degraded`.
        #[tsify(type = "\"ready\" | \"missing\" | \"disabled\" | \"degraded\" | (string & {})")]
        pub database: String,
        pub database_required: bool,
        /// `"daytona"`.
        pub sandbox_provider: String,
    }
}

response! {
    /// `GET /api/v1/runtime/status`. `ready` here also needs both cached connectivity tests
    /// to have passed.
    RuntimeStatus {
        pub app_env: String,
        /// Local only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub write_enabled: Option<bool>,
        pub ready: bool,
        #[tsify(type = "ActiveModels")]
        pub active_models: ActiveModels,
        pub sandbox_provider: String,
        #[tsify(type = "LlmStatus")]
        pub llm: LlmStatus,
        #[tsify(type = "MlflowStatus")]
        pub mlflow: MlflowStatus,
        #[tsify(type = "DaytonaStatus")]
        pub daytona: DaytonaStatus,
        #[tsify(type = "CachedTests")]
        pub tests: CachedTests,
        pub guidance: OrDefault<Vec<String>>,
    }
}

response! {
    /// The models in use.
    ActiveModels {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub planner: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub delegate: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub delegate_small: Option<String>,
    }
}

response! {
    /// LM configuration of the runtime status.
    LlmStatus {
        pub model_set: bool,
        pub api_key_set: bool,
        pub planner_configured: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub startup_status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub startup_error: Option<String>,
    }
}

response! {
    /// MLflow configuration of the runtime status.
    MlflowStatus {
        pub enabled: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub auto_start_enabled: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub startup_status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub startup_error: Option<String>,
    }
}

response! {
    /// Daytona configuration of the runtime status.
    DaytonaStatus {
        pub api_key_set: bool,
        pub api_url_set: bool,
        pub target_set: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub legacy_api_base_url_ok: Option<bool>,
        pub configured: bool,
        pub guidance: OrDefault<Vec<String>>,
    }
}

response! {
    /// The cached connectivity test results (absent until run).
    CachedTests {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "ConnectivityTest")]
        pub lm: Option<ConnectivityTest>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "ConnectivityTest")]
        pub daytona: Option<ConnectivityTest>,
    }
}

response! {
    /// `POST /api/v1/runtime/tests/lm` and `/daytona` (no request body): a real call, its
    /// result cached by the server. Missing configuration is HTTP 200 with `ok: false`.
    ConnectivityTest {
        /// `lm` | `daytona`.
        #[tsify(type = "\"lm\" | \"daytona\" | (string & {})")]
        pub kind: String,
        pub ok: bool,
        pub preflight_ok: bool,
        /// ISO-8601.
        pub checked_at: String,
        /// `{model_set, api_key_set}` for `lm`; `{api_key_set, api_url_set, target_set,
        /// legacy_api_base_url_ok, configured}` for `daytona`.
        #[tsify(type = "Record<string, boolean>")]
        pub checks: OrDefault<std::collections::BTreeMap<String, bool>>,
        pub guidance: OrDefault<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub latency_ms: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub output_preview: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error: Option<String>,
    }
}

/// `POST /api/v1/traces/feedback` body. One of `traceId` / `clientRequestId` is required
/// (the `final` payload's `mlflowTraceId` / `mlflowClientRequestId`).
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_id: Option<String>,
    pub is_correct: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_response: Option<String>,
}

impl FeedbackRequest {
    /// The JSON body, in the server's snake_case; `Err` without either id (the server
    /// would answer 422).
    pub fn to_body(&self) -> Result<String, String> {
        if self.trace_id.is_none() && self.client_request_id.is_none() {
            return Err("feedback needs traceId or clientRequestId".into());
        }
        Ok(ObjectText::new()
            .field("is_correct", &self.is_correct)
            .field_if("trace_id", self.trace_id.as_ref())
            .field_if("client_request_id", self.client_request_id.as_ref())
            .field_if("comment", self.comment.as_ref())
            .field_if("expected_response", self.expected_response.as_ref())
            .text())
    }
}

response! {
    /// `POST /api/v1/traces/feedback` response.
    FeedbackResponse {
        pub ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub trace_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_request_id: Option<String>,
        pub feedback_logged: bool,
        pub expectation_logged: bool,
    }
}

response! {
    /// `GET /api/v1/auth/me`: the identity the sockets must share. (`email` may be the
    /// string `"None"`: a server bug with debug headers.)
    Identity {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tenant_claim: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub user_claim: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub email: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub name: Option<String>,
        pub tenant_id: String,
        pub user_id: String,
    }
}

/// Why an HTTP call did not give its typed result. Discriminated on `kind`.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq, thiserror::Error)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum HttpError {
    /// 401/403: the credential is missing or refused (or the trace is another user's).
    #[error("HTTP {status}: {message}")]
    Unauthorized { status: u16, message: String },
    /// 404.
    #[error("HTTP 404: {message}")]
    NotFound { message: String },
    /// 422: the body broke a rule; `detail` is FastAPI's list.
    #[error("HTTP 422: {message}")]
    Validation {
        message: String,
        #[tsify(type = "unknown")]
        detail: JsonText,
    },
    /// 503: the feature is off (e.g. MLflow disabled for feedback).
    #[error("HTTP 503: {message}")]
    Unavailable { message: String },
    /// Any other non-2xx status.
    #[error("HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// A 2xx whose body is not the expected shape.
    #[error("{error}")]
    Decode { error: DecodeError },
}

/// Decodes a response of `status` with `body` into `T`, or the typed error.
pub fn decode_response<T: for<'a> Decode<'a>>(what: &str, status: u16, body: &str) -> Result<T, HttpError> {
    if (200..300).contains(&status) {
        return decode(what, body).map_err(|error| HttpError::Decode { error });
    }
    // FastAPI's `detail`: a message, or (422) a list of rule failures.
    let detail: JsonText = json_read::member(body, "detail").and_then(|text| json_read::from_str(text).ok()).unwrap_or_default();
    let message = match json_read::from_str::<Option<String>>(detail.get()) {
        Ok(Some(text)) => super::auth::scrub(&text),
        Ok(None) => format!("{what} failed"),
        Err(_) => super::auth::scrub(detail.get()),
    };
    Err(match status {
        401 | 403 => HttpError::Unauthorized { status, message },
        404 => HttpError::NotFound { message },
        422 => HttpError::Validation { message, detail },
        503 => HttpError::Unavailable { message },
        _ => HttpError::Status { status, message },
    })
}

/// `GET /health`.
pub fn decode_health(status: u16, body: &str) -> Result<Health, HttpError> {
    decode_response("GET /health", status, body)
}

/// `GET /ready`.
pub fn decode_ready(status: u16, body: &str) -> Result<Ready, HttpError> {
    decode_response("GET /ready", status, body)
}

/// `GET /api/v1/runtime/status`.
pub fn decode_runtime_status(status: u16, body: &str) -> Result<RuntimeStatus, HttpError> {
    decode_response("GET /api/v1/runtime/status", status, body)
}

/// `POST /api/v1/runtime/tests/lm` or `/daytona`.
pub fn decode_connectivity_test(status: u16, body: &str) -> Result<ConnectivityTest, HttpError> {
    decode_response("POST /api/v1/runtime/tests", status, body)
}

/// `POST /api/v1/traces/feedback`.
pub fn decode_feedback(status: u16, body: &str) -> Result<FeedbackResponse, HttpError> {
    decode_response("POST /api/v1/traces/feedback", status, body)
}

/// `GET /api/v1/auth/me`.
pub fn decode_identity(status: u16, body: &str) -> Result<Identity, HttpError> {
    decode_response("GET /api/v1/auth/me", status, body)
}

//! fleet-rlm's error frames and close codes (spec §2.3, §3.3), typed.
//!
//! Every close the server initiates is preceded by an error frame; the frame says why
//! (`code`), the close code only says how bad. [`ErrorClass`] sorts the codes by what a
//! client can do about them, and [`ConnectionError`] joins a close code with the error
//! frame that preceded it.

use serde::Serialize;
use tsify::Tsify;

use super::json::{decode_fields, Extra};
use crate::core::json_read::{self, decode_object, Decode, Reader};

/// `{"type":"error", "code"?, "message", "details"?}`: a structured error (with `code`) or
/// a bare one (without). Mid-turn stream errors leave the socket open; connection-time
/// errors are followed by a close.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerError {
    /// The server's code; absent on bare errors ("Message content cannot be empty", "A run
    /// is already in progress…").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "\"auth_failed\" | \"tenant_forbidden\" | \"auth_provider_missing\" | \"unsupported_identity_query_params\" | \"execution_query_session_id_removed\" | \"missing_session_id\" | \"planner_initialization_failed\" | \"durable_state_unavailable\" | \"planner_missing\" | \"sandbox_unavailable\" | \"llm_timeout\" | \"llm_rate_limited\" | \"internal_error\" | \"daytona_repo_ref_requires_repo\" | \"daytona_max_depth_removed\" | \"unsupported_identity_fields\" | \"durable_state_write_failed\" | \"durable_state_backpressure\" | \"run_start_persist_failed\" | \"run_status_persist_failed\" | (string & {})")]
    pub code: Option<String>,
    /// Human-readable text (credentials scrubbed).
    #[serde(default)]
    pub message: String,
    /// `details.error_type`, the server-side exception class, and any other detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ErrorDetails>,
    /// What a client can do about it, derived from `code` (not on the wire).
    pub class: ErrorClass,
    /// Top-level keys this SDK does not declare, as sent.
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// `details` of a structured error.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// The exception class, e.g. `"DaytonaConfigError"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Other detail keys, as sent.
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// An error frame's body (its `type` is the envelope's, not a field).
impl<'a> Decode<'a> for ServerError {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        let mut extra = Extra::default();
        decode_object!(r, ServerError { code: "code", message: "message" => or_default, details: "details" },
            |key| extra.keep(r, key, &["type"]), class: ErrorClass::Uncoded, extra: extra)
    }
}

decode_fields!(ErrorDetails { error_type });

/// What a client can do about an error, by its code.
#[derive(Tsify, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ErrorClass {
    /// The credential was refused (`auth_failed`, `tenant_forbidden`): retrying with the
    /// same credential cannot help; the SDK stops reconnecting.
    Auth,
    /// The request broke a rule (identity or session parameters, forbidden message fields):
    /// a client bug; the same request fails again.
    Request,
    /// The server is not set up to run turns (no LM, no auth provider, no database):
    /// an operator must act; reconnecting only helps after that.
    ServerSetup,
    /// A turn failed while streaming (sandbox, LLM timeout or rate limit, internal error);
    /// the socket stays open and a new message may succeed.
    Stream,
    /// The server could not persist turn state (strict database mode).
    Persistence,
    /// A bare error without a code (empty message, a run already in progress, an invalid
    /// payload).
    Uncoded,
    /// A code this SDK does not know.
    Other,
}

impl ErrorClass {
    /// The class of `code`.
    #[must_use]
    pub fn of(code: Option<&str>) -> ErrorClass {
        let Some(code) = code else { return ErrorClass::Uncoded };
        match code {
            "auth_failed" | "tenant_forbidden" => ErrorClass::Auth,
            "unsupported_identity_query_params" | "execution_query_session_id_removed" | "missing_session_id"
            | "unsupported_identity_fields" | "daytona_repo_ref_requires_repo" | "daytona_max_depth_removed" => {
                ErrorClass::Request
            }
            "auth_provider_missing" | "planner_initialization_failed" | "durable_state_unavailable" | "planner_missing" => {
                ErrorClass::ServerSetup
            }
            "sandbox_unavailable" | "llm_timeout" | "llm_rate_limited" | "internal_error" => ErrorClass::Stream,
            c if c.starts_with("durable_state_") || c.ends_with("_persist_failed") => ErrorClass::Persistence,
            _ => ErrorClass::Other,
        }
    }
}

/// What a WebSocket close code means on this server (spec §2.3).
#[derive(Tsify, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum CloseMeaning {
    /// 1000: a normal close; from the server only after `planner_missing` (no LM configured).
    Normal,
    /// 1001: the peer went away.
    GoingAway,
    /// 1006: no close frame (the server's handler exited, e.g. after invalid JSON mid-loop;
    /// or the network dropped).
    Abnormal,
    /// 1008: policy (auth, identity or session parameters).
    Policy,
    /// 1011: the server failed to start the runtime (sandbox, LM, database, auth provider).
    ServerError,
    /// Any other code.
    Other,
}

impl CloseMeaning {
    /// The meaning of close `code`.
    #[must_use]
    pub fn of(code: u16) -> CloseMeaning {
        match code {
            1000 => CloseMeaning::Normal,
            1001 => CloseMeaning::GoingAway,
            1006 => CloseMeaning::Abnormal,
            1008 => CloseMeaning::Policy,
            1011 => CloseMeaning::ServerError,
            _ => CloseMeaning::Other,
        }
    }
}

/// Why the server closed a socket: the close code and the error frame that preceded it on
/// the same socket (when one did).
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionError {
    /// The WebSocket close code.
    pub code: u16,
    /// What the code means on this server.
    pub meaning: CloseMeaning,
    /// The error frame sent just before the close.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub error: Option<ServerError>,
    /// Reconnecting can succeed without anything changing: false for a refused credential
    /// and for a broken request.
    pub retryable: bool,
}

impl ConnectionError {
    /// Joins close `code` with the error frame that preceded it.
    #[must_use]
    pub fn from_close(code: u16, preceding: Option<&ServerError>) -> ConnectionError {
        let class = preceding.map(|e| e.class);
        let retryable = !matches!(class, Some(ErrorClass::Auth | ErrorClass::Request));
        ConnectionError { code, meaning: CloseMeaning::of(code), error: preceding.cloned(), retryable }
    }
}

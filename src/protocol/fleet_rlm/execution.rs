//! The execution stream's events (spec §4): what `/api/v1/ws/execution/events` sends, bare
//! objects discriminated on `type`, each about one run of a session.
//!
//! Like the chat events, these types know nothing of the transport. Every key is always
//! present on the wire (a pydantic dump, `null` where there is no value); here a `null`
//! is an absent value.

use std::borrow::Cow;

use serde::Serialize;
use tsify::Tsify;

use super::json::{decode, decode_error, decode_fields, Extra, OrDefault};
use crate::core::json_read::{self, read_fields, JsonText};
use crate::core::wire::{DecodeError, DecodeErrorKind};

/// One event of the execution stream. `switch (ev.type)` narrows it.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecutionEvent {
    /// A run started (no step, no summary).
    ExecutionStarted(RunStarted),
    /// A step of the run.
    ExecutionStep(StepEvent),
    /// The run ended: the terminal output step (already sent as a step) and the summary;
    /// both absent when the chat socket dropped mid-turn (the run was cancelled).
    ExecutionCompleted(RunCompleted),
    /// A `type` this SDK does not know, or a known one that did not decode; nothing is lost.
    Unknown(UnknownExecutionEvent),
}

/// Declares an execution event body: the run's identity, the given fields, `extra`.
macro_rules! run_event {
    ($(#[$meta:meta])* $name:ident, ignore $ignore:expr, { $($(#[$field_meta:meta])* pub $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// `"<workspace>:<user>:<session_id>:<turn_index>"`; may repeat (spec §0.8).
            pub run_id: String,
            pub workspace_id: String,
            pub user_id: String,
            pub session_id: String,
            $($(#[$field_meta])* pub $field: $ty,)*
            /// Keys this SDK does not declare, as sent.
            #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
            #[tsify(optional, type = "Record<string, unknown>")]
            pub extra: Extra,
        }

        decode_fields!($name { run_id, workspace_id, user_id, session_id, $($field),* }, ignore $ignore);
    };
}

run_event! {
    /// `execution_started`.
    RunStarted, ignore STARTED_IGNORED, {}
}

run_event! {
    /// `execution_step`.
    StepEvent, ignore STEP_IGNORED, {
        #[tsify(type = "ExecutionStep")]
        pub step: Box<ExecutionStep>,
    }
}

run_event! {
    /// `execution_completed`.
    RunCompleted, ignore COMPLETED_IGNORED, {
        /// The terminal output (or error) step; absent when the chat socket dropped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "ExecutionStep")]
        pub step: Option<Box<ExecutionStep>>,
        /// The run's summary; absent when the chat socket dropped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "RunSummary")]
        pub summary: Option<Box<RunSummary>>,
    }
}

/// An execution event this SDK could not type.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UnknownExecutionEvent {
    /// The wire `type`.
    pub name: String,
    /// The whole object as sent.
    #[tsify(type = "unknown")]
    pub raw: JsonText,
    /// Why a known `type` did not decode; absent for an unknown one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub decode_error: Option<DecodeError>,
}

/// One node of a run's execution graph (`ExecutionStep`, spec §4.2).
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStep {
    /// `"<run_id>:s<N>"`; N counts from 1 per run. See [`ExecutionStep::index`].
    pub id: String,
    /// The parent step, or `"<run_id>:root"` (a virtual root that is never sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// `llm` | `tool` | `repl` | `memory` | `output`.
    #[serde(rename = "type")]
    #[tsify(type = "\"llm\" | \"tool\" | \"repl\" | \"memory\" | \"output\" | (string & {})")]
    pub step_type: String,
    /// Tool name, thought, `repl_execute`, `assistant_output`, … (truncated by the server).
    pub label: OrDefault<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<i64>,
    /// `root_rlm` | `sub_agent` | `delegate` | `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "\"root_rlm\" | \"sub_agent\" | \"delegate\" | \"unknown\" | (string & {})")]
    pub actor_kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// `"<actor_kind>:<actor_id>"`, `"<actor_kind>:depth-<d>"` or the bare actor kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane_key: Option<String>,
    /// Sanitised by the server (truncated, secrets `"<redacted>"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub input: Option<JsonText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub output: Option<JsonText>,
    /// Epoch seconds. Not an order: a later step can carry an earlier time (errata 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
    /// 0.6.x adds a per-run sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

impl ExecutionStep {
    /// N of the id's `:s<N>` suffix: the order steps were built in, which is the order
    /// to show them in (arrival and timestamps are not).
    #[must_use]
    pub fn index(&self) -> Option<u64> {
        step_index(&self.id)
    }
}

/// N of a step id ending in `:s<N>`.
#[must_use]
pub fn step_index(id: &str) -> Option<u64> {
    let (_, tail) = id.rsplit_once(":s")?;
    tail.parse().ok()
}

/// `summary` of `execution_completed` (`build_execution_completion_summary`).
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_mode: Option<String>,
    /// The user's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `completed` | `error` | `cancelled` | `needs_human_review`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "\"completed\" | \"error\" | \"cancelled\" | \"needs_human_review\" | (string & {})")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[tsify(type = "unknown[]")]
    pub iterations: OrDefault<Vec<JsonText>>,
    #[tsify(type = "unknown[]")]
    pub callbacks: OrDefault<Vec<JsonText>>,
    #[tsify(type = "unknown[]")]
    pub prompts: OrDefault<Vec<JsonText>>,
    #[tsify(type = "unknown[]")]
    pub context_sources: OrDefault<Vec<JsonText>>,
    #[tsify(type = "unknown[]")]
    pub sources: OrDefault<Vec<JsonText>>,
    #[tsify(type = "unknown[]")]
    pub attachments: OrDefault<Vec<JsonText>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "FinalArtifact")]
    pub final_artifact: Option<FinalArtifact>,
    /// The nested `summary` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "SummaryDetail")]
    pub summary: Option<SummaryDetail>,
    #[tsify(type = "unknown[]")]
    pub warnings: OrDefault<Vec<JsonText>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub human_review: Option<JsonText>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// `final_artifact` of a run summary.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FinalArtifact {
    /// `"assistant_response"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `{ text, final_markdown, summary }` for an assistant response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub value: Option<JsonText>,
    /// `"RETURN"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalization_mode: Option<String>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// The nested `summary` block of a run summary.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SummaryDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[tsify(type = "unknown[]")]
    pub warnings: OrDefault<Vec<JsonText>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub error: Option<JsonText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub human_review: Option<JsonText>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

// `type` is the step's kind; the field has another name (`type` is Rust's keyword).
decode_fields!(ExecutionStep {
    id, parent_id, step_type = "type", label, depth, actor_kind, actor_id, lane_key, input, output, timestamp, sequence,
});
decode_fields!(RunSummary {
    run_id, runtime_mode, task, status, termination_reason, duration_ms, iterations, callbacks, prompts,
    context_sources, sources, attachments, final_artifact, summary, warnings, human_review,
});
decode_fields!(FinalArtifact { kind, value, finalization_mode });
decode_fields!(SummaryDetail { termination_reason, duration_ms, warnings, error, human_review });

/// Keys of the envelope that are not fields of the concrete body.
const STARTED_IGNORED: &[&str] = &["type", "step", "summary"];
const STEP_IGNORED: &[&str] = &["type", "summary"];
const COMPLETED_IGNORED: &[&str] = &["type"];

/// Decodes one execution-stream object. `Err` only when it is not a JSON object with a
/// string `type`; a known `type` with the wrong shape gives [`ExecutionEvent::Unknown`]
/// with the reason.
pub fn decode_execution_event(text: &str) -> Result<ExecutionEvent, DecodeError> {
    let name = type_of(text, "execution event")?;
    let decoded = match name.as_ref() {
        "execution_started" => decode(&name, text).map(ExecutionEvent::ExecutionStarted),
        "execution_step" => decode(&name, text).map(ExecutionEvent::ExecutionStep),
        "execution_completed" => decode(&name, text).map(ExecutionEvent::ExecutionCompleted),
        _ => return Ok(unknown(name.into_owned(), text, None)),
    };
    Ok(decoded.unwrap_or_else(|error| unknown(name.into_owned(), text, Some(error))))
}

fn unknown(name: String, text: &str, decode_error: Option<DecodeError>) -> ExecutionEvent {
    let raw = json_read::from_str(text).unwrap_or_default();
    ExecutionEvent::Unknown(UnknownExecutionEvent { name, raw, decode_error })
}

/// The `type` of a JSON object; `what` names it in the error.
pub(crate) fn type_of<'a>(text: &'a str, what: &str) -> Result<Cow<'a, str>, DecodeError> {
    let kind: Option<Cow<'a, str>> = json_read::read_all(text, |r| {
        read_fields!(r, "struct TypeOnly", { kind: "type" });
        json_read::need(r, kind, "type")
    })
    .map_err(|e| {
        let mut error = decode_error(what, text, &e);
        if error.kind == DecodeErrorKind::WrongShape {
            error.kind = DecodeErrorKind::NotAnEnvelope;
        }
        error
    })?;
    kind.ok_or_else(|| DecodeError { kind: DecodeErrorKind::NotAnEnvelope, reason: format!("{what}: no string `type`") })
}

//! The chat stream's events (spec §3.4): what `/api/v1/ws/execution` sends inside
//! `{"type":"event","data":{…}}`, typed by `kind`.
//!
//! These types know nothing of the transport: a later SSE transport of the same events
//! decodes each event's data with [`decode_chat_event`] and reuses them unchanged.
//!
//! Every payload carries the runtime context twice, flattened into the payload and under
//! `payload.runtime` (spec §3.4). It is kept once, as `runtime`; the flattened copies are
//! not repeated in `extra`. A kind this SDK does not know arrives as `unknown` with its raw
//! payload, and so does a known kind whose payload has the wrong shape (with the reason),
//! so no event is ever dropped.

use serde::Serialize;
use tsify::Tsify;

use super::json::{decode, decode_fields, Extra, OrDefault};
use crate::core::json_read::{self, Decode, JsonObject, JsonText, RawJson};
use crate::core::wire::DecodeError;

/// One chat event, discriminated on `kind` (the wire's own spelling, e.g. `"reasoning_step"`).
/// `switch (ev.kind)` narrows it.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChatEvent {
    /// Progress text: DSPy status, bootstrap, startup ("Preparing Daytona workspace...").
    Status(StreamEvent<StatusPayload>),
    /// A chunk of the agent's thought (only when the message asked for `trace`).
    ReasoningStep(StreamEvent<ReasoningPayload>),
    /// A chunk of the answer; concatenate the chunks of a turn.
    AssistantToken(StreamEvent<RuntimePayload>),
    /// A tool started.
    ToolCall(StreamEvent<ToolCallPayload>),
    /// `tool_call` of `plan_code_change`.
    PlanUpdate(StreamEvent<ToolCallPayload>),
    /// `tool_call` of an RLM tool (`forced` in forced RLM mode).
    RlmExecuting(StreamEvent<ToolCallPayload>),
    /// `tool_call` of a memory tool.
    MemoryUpdate(StreamEvent<ToolCallPayload>),
    /// A tool finished.
    ToolResult(StreamEvent<ToolResultPayload>),
    /// One ReAct step, sent after the prediction (duplicates the live tool events).
    TrajectoryStep(StreamEvent<TrajectoryPayload>),
    /// The agent asks the user (answer with the `resolve_hitl` command).
    HitlRequest(StreamEvent<HitlRequestPayload>),
    /// A `hitl_request` was answered.
    HitlResolved(StreamEvent<HitlResolvedPayload>),
    /// The turn's answer: terminal.
    Final(StreamEvent<FinalPayload>),
    /// The turn was cancelled (or a cancel arrived while idle): terminal.
    Cancelled(StreamEvent<CancelledPayload>),
    /// Declared by the server but sent as an error frame instead in 0.5.x; terminal.
    Error(StreamEvent<RuntimePayload>),
    /// Declared, not sent by 0.5.x.
    Warning(StreamEvent<RuntimePayload>),
    /// Declared, not sent by the server (the official UI synthesises it).
    CommandAck(StreamEvent<RuntimePayload>),
    /// Declared, not sent by the server (the official UI synthesises it).
    CommandReject(StreamEvent<RuntimePayload>),
    /// 0.6.x sends the execution events inside the chat stream too.
    ExecutionStarted(StreamEvent<RuntimePayload>),
    /// 0.6.x, see `execution_started`.
    ExecutionStep(StreamEvent<RuntimePayload>),
    /// 0.6.x, see `execution_started`.
    ExecutionCompleted(StreamEvent<RuntimePayload>),
    /// A kind this SDK does not know, or a known kind whose payload did not decode.
    Unknown(UnknownChatEvent),
}

/// The fields every chat event has; `P` is its typed payload.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StreamEvent<P> {
    /// The event's text (a token, a thought, a status line, the full answer).
    pub text: String,
    /// The payload; absent when the server sent `null` (the idle `cancelled`). Boxed:
    /// payloads carry the runtime context and are large.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub payload: Option<Box<P>>,
    /// ISO-8601 with `+00:00`; absent on `hitl_resolved`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub timestamp: Option<String>,
    /// `2` (`1` on `hitl_resolved`, `3` on 0.6.x).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub version: Option<u32>,
    /// Opaque id: 32 hex digits, or a UUID with dashes. Random, so not an order.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub event_id: Option<String>,
    /// 0.6.x: `event_id` is `"<run_id>:<sequence>"` and this is the sequence.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub sequence: Option<u64>,
    /// Keys of `data` this SDK does not declare, as sent.
    #[serde(skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// A chat event this SDK could not type; nothing of it is lost.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UnknownChatEvent {
    /// The wire `kind`.
    pub name: String,
    /// The event's text.
    pub text: String,
    /// The payload as sent (`null` included).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub payload: Option<JsonText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub event_id: Option<String>,
    /// Why a known kind's payload did not decode; absent for an unknown kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub decode_error: Option<DecodeError>,
    #[serde(skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// The runtime context on (almost) every event (spec §3.4), from `payload.runtime` (or
/// from the flattened keys when a payload has no `runtime` object).
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeContext {
    /// 0 for the root agent, more for sub-agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<i64>,
    /// e.g. `"ROOT_INTERLOCUTOR"`, `"RLM_DELEGATE"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_session_active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_max_iters: Option<i64>,
    /// `auto` / `rlm_only` / `tools_only`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_mode: Option<String>,
    /// `"daytona_pilot"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_volume_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_path: Option<String>,
    /// `created` / `reused` / `resumed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_transition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_degraded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_failure_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_failure_phase: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_fallback_used: Option<bool>,
    /// Sub-agent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate_depth: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate_id: Option<String>,
    /// Other context keys (e.g. `sub_agent_*`), as sent.
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// The runtime context's wire keys ([`RUNTIME_KEYS`], which payloads also carry flattened)
/// and its decoder, from one list.
macro_rules! runtime_context_fields {
    ($($field:ident),* $(,)?) => {
        /// The wire names of the runtime context, which payloads also carry flattened.
        const RUNTIME_KEYS: &[&str] = &[$(stringify!($field)),*];
        decode_fields!(RuntimeContext { $($field),* });
    };
}

runtime_context_fields!(
    depth, max_depth, execution_profile, sandbox_active, provider_session_active, effective_max_iters,
    execution_mode, runtime_mode, volume_name, configured_volume_name, sandbox_id, provider_session_id,
    workspace_path, sandbox_transition, runtime_degraded, runtime_failure_category, runtime_failure_phase,
    runtime_fallback_used, delegate_depth, delegate_id,
);

/// A payload type: its own keys, `runtime` and `extra`.
pub trait Payload: for<'a> Decode<'a> {
    /// Where the runtime context goes.
    fn runtime_mut(&mut self) -> &mut Option<RuntimeContext>;
}

/// Declares a payload struct: the given fields, then `runtime` and `extra`.
macro_rules! payload {
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* pub $field:ident: $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
            /// The runtime context (spec §3.4).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[tsify(optional, type = "RuntimeContext")]
            pub runtime: Option<RuntimeContext>,
            /// Payload keys this SDK does not declare, as sent.
            #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
            #[tsify(optional, type = "Record<string, unknown>")]
            pub extra: Extra,
        }

        // The flattened copies of the runtime context are not undeclared keys.
        decode_fields!($name { $($field,)* runtime }, ignore RUNTIME_KEYS);

        impl Payload for $name {
            fn runtime_mut(&mut self) -> &mut Option<RuntimeContext> {
                &mut self.runtime
            }
        }
    };
}

payload! {
    /// A payload with nothing but the runtime context (`assistant_token` and the kinds the
    /// 0.5.x server does not send).
    RuntimePayload {}
}

payload! {
    /// `status`.
    StatusPayload {
        /// The DSPy status line as sent, e.g. `"Tool result: …"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub raw_status: Option<String>,
        /// `"startup"` on the "Preparing Daytona workspace..." status.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub phase: Option<String>,
        /// True when streaming fell back to non-streaming.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error_type: Option<String>,
        /// Bootstrap status: the repository and paths the sandbox was set up with.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub repo_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub repo_ref: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub context_paths: Option<Vec<String>>,
    }
}

payload! {
    /// `reasoning_step`.
    ReasoningPayload {
        /// `"next_thought"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source: Option<String>,
    }
}

payload! {
    /// `tool_call`, `plan_update`, `rlm_executing`, `memory_update`.
    ToolCallPayload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub raw_status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub raw_call: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tool_name: Option<String>,
        /// The tool's arguments, as sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "unknown")]
        pub tool_args: Option<JsonText>,
        /// A string snippet of the tool's input.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "unknown")]
        pub tool_input: Option<JsonText>,
        /// Forced RLM mode (`rlm_executing`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub forced: Option<bool>,
    }
}

payload! {
    /// `tool_result`.
    ToolResultPayload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub raw_status: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tool_name: Option<String>,
        /// Only on a "Tool result: …" status.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "unknown")]
        pub tool_output: Option<JsonText>,
    }
}

payload! {
    /// `trajectory_step`.
    TrajectoryPayload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub step_index: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub total_steps: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub step_data: Option<TrajectoryStepData>,
    }
}

/// One ReAct step of a `trajectory_step`.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrajectoryStepData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub input: Option<JsonText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub tool_args: Option<JsonText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub output: Option<JsonText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub observation: Option<JsonText>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

payload! {
    /// `hitl_request`: answer with `resolve_hitl` and this `messageId`.
    HitlRequestPayload {
        /// The id to answer (a UUID the host adds).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message_id: Option<String>,
        /// The choices offered (clarification questions).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub options: Option<Vec<String>>,
        /// The memory action to confirm (instead of `options`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "unknown")]
        pub action: Option<JsonText>,
        /// The tool that asked, e.g. `"clarification_questions"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub requires_response: Option<bool>,
    }
}

payload! {
    /// `hitl_resolved`.
    HitlResolvedPayload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub message_id: Option<String>,
        /// The action label chosen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resolution: Option<String>,
        /// `"command"`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source: Option<String>,
    }
}

payload! {
    /// `cancelled`.
    CancelledPayload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub history_turns: Option<u64>,
    }
}

payload! {
    /// `final` (spec §3.4, `_build_final_payload`).
    FinalPayload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub schema_version: Option<u32>,
        /// Flat `thought_N` / `tool_name_N` / `tool_args_N` / `observation_N`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "Record<string, unknown>")]
        pub trajectory: Option<JsonObject>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub history_turns: Option<u64>,
        #[tsify(type = "unknown[]")]
        pub guardrail_warnings: OrDefault<Vec<JsonText>>,
        pub citations: OrDefault<Vec<Citation>>,
        pub sources: OrDefault<Vec<Source>>,
        pub attachments: OrDefault<Vec<Attachment>>,
        #[tsify(type = "unknown[]")]
        pub citation_anchors: OrDefault<Vec<JsonText>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub delegate_calls_turn: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub runtime_module_calls_turn: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub recursive_delegate_calls_turn: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub delegate_fallback_count_turn: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub delegate_result_truncated_count_turn: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub final_reasoning: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "unknown")]
        pub recursive_repair: Option<JsonText>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub human_review: Option<HumanReview>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error_type: Option<String>,
        /// With `mlflowClientRequestId`, the ids `POST /api/v1/traces/feedback` takes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mlflow_trace_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mlflow_client_request_id: Option<String>,
        /// A run result the agent returned, passed through.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "unknown")]
        pub run_result: Option<JsonText>,
    }
}

/// A numbered citation of a `final` answer.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_char: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_char: Option<u64>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// A web source of a `final` answer.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// `"web"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// A file attached to a `final` answer.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// `human_review` of a `final` payload.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HumanReview {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown[]")]
    pub repair_steps: Option<Vec<JsonText>>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

decode_fields!(TrajectoryStepData { index, thought, tool_name, input, tool_args, output, observation });
decode_fields!(Citation { number, title, url, source_id, anchor_id, description, quote, start_char, end_char });
decode_fields!(Source { source_id, kind, title, canonical_url, display_url, description, quote });
decode_fields!(Attachment { attachment_id, name, url, preview_url, mime_type, media_type, size_bytes, kind, description });
decode_fields!(HumanReview { required, reason, repair_mode, repair_target, repair_steps });

/// The `data` object of a chat event, before its payload is typed.
#[derive(Default)]
struct RawData<'a> {
    kind: Option<String>,
    text: OrDefault<String>,
    /// The payload's text; `None` when it is missing or `null`.
    payload: Option<RawJson<'a>>,
    timestamp: Option<String>,
    version: Option<u32>,
    event_id: Option<String>,
    sequence: Option<u64>,
    extra: Extra,
}

decode_fields!(RawData<'a> { kind, text, payload, timestamp, version, event_id, sequence });

/// Decodes the `data` object of a chat event. `Err` only when `data` is not an object with
/// a string `kind`; a payload of the wrong shape gives [`ChatEvent::Unknown`] with the reason.
pub fn decode_chat_event(data: &str) -> Result<ChatEvent, DecodeError> {
    let raw: RawData = decode("chat event data", data)?;
    let kind = raw.kind.clone().ok_or_else(|| DecodeError {
        kind: crate::core::wire::DecodeErrorKind::WrongShape,
        reason: "chat event data: missing field `kind`".into(),
    })?;
    let typed = match kind.as_str() {
        "status" => typed(raw, ChatEvent::Status),
        "reasoning_step" => typed(raw, ChatEvent::ReasoningStep),
        "assistant_token" => typed(raw, ChatEvent::AssistantToken),
        "tool_call" => typed(raw, ChatEvent::ToolCall),
        "plan_update" => typed(raw, ChatEvent::PlanUpdate),
        "rlm_executing" => typed(raw, ChatEvent::RlmExecuting),
        "memory_update" => typed(raw, ChatEvent::MemoryUpdate),
        "tool_result" => typed(raw, ChatEvent::ToolResult),
        "trajectory_step" => typed(raw, ChatEvent::TrajectoryStep),
        "hitl_request" => typed(raw, ChatEvent::HitlRequest),
        "hitl_resolved" => typed(raw, ChatEvent::HitlResolved),
        "final" => typed(raw, ChatEvent::Final),
        "cancelled" => typed(raw, ChatEvent::Cancelled),
        "error" => typed(raw, ChatEvent::Error),
        "warning" => typed(raw, ChatEvent::Warning),
        "command_ack" => typed(raw, ChatEvent::CommandAck),
        "command_reject" => typed(raw, ChatEvent::CommandReject),
        "execution_started" => typed(raw, ChatEvent::ExecutionStarted),
        "execution_step" => typed(raw, ChatEvent::ExecutionStep),
        "execution_completed" => typed(raw, ChatEvent::ExecutionCompleted),
        _ => unknown(raw, kind, None),
    };
    Ok(typed)
}

/// Types the payload as `P` and wraps the event with `variant`; a payload that does not
/// decode keeps the event as `unknown`, with the reason.
fn typed<P: Payload>(raw: RawData<'_>, variant: fn(StreamEvent<P>) -> ChatEvent) -> ChatEvent {
    let payload = match raw.payload {
        None => None,
        Some(RawJson(text)) => match decode_payload::<P>(text) {
            Ok(payload) => Some(Box::new(payload)),
            Err(error) => {
                let kind = raw.kind.clone().unwrap_or_default();
                return unknown(raw, kind, Some(error));
            }
        },
    };
    let RawData { text, timestamp, version, event_id, sequence, extra, .. } = raw;
    variant(StreamEvent { text: text.0, payload, timestamp, version, event_id, sequence, extra })
}

/// A payload with the runtime context kept once: from `runtime`, else from the flattened keys.
fn decode_payload<P: Payload>(text: &str) -> Result<P, DecodeError> {
    let mut payload: P = decode("chat event payload", text)?;
    if payload.runtime_mut().is_none() {
        // The payload's own keys are not the context's undeclared ones.
        let flat = RuntimeContext { extra: Extra::default(), ..decode("chat event payload", text)? };
        if flat != RuntimeContext::default() {
            *payload.runtime_mut() = Some(flat);
        }
    }
    Ok(payload)
}

fn unknown(raw: RawData<'_>, name: String, decode_error: Option<DecodeError>) -> ChatEvent {
    let payload = raw.payload.and_then(|p| json_read::from_str(p.0).ok());
    let RawData { text, timestamp, version, event_id, extra, .. } = raw;
    ChatEvent::Unknown(UnknownChatEvent { name, text: text.0, payload, timestamp, version, event_id, decode_error, extra })
}

impl ChatEvent {
    /// The wire `event_id`, when the server sent one.
    #[must_use]
    pub fn event_id(&self) -> Option<&str> {
        macro_rules! event_id_of {
            ($($variant:ident),*) => {
                match self {
                    $(ChatEvent::$variant(e) => e.event_id.as_deref(),)*
                    ChatEvent::Unknown(u) => u.event_id.as_deref(),
                }
            };
        }
        event_id_of!(
            Status, ReasoningStep, AssistantToken, ToolCall, PlanUpdate, RlmExecuting, MemoryUpdate, ToolResult,
            TrajectoryStep, HitlRequest, HitlResolved, Final, Cancelled, Error, Warning, CommandAck, CommandReject,
            ExecutionStarted, ExecutionStep, ExecutionCompleted
        )
    }

    /// The wire `kind`.
    #[must_use]
    pub fn kind(&self) -> &str {
        match self {
            ChatEvent::Status(_) => "status",
            ChatEvent::ReasoningStep(_) => "reasoning_step",
            ChatEvent::AssistantToken(_) => "assistant_token",
            ChatEvent::ToolCall(_) => "tool_call",
            ChatEvent::PlanUpdate(_) => "plan_update",
            ChatEvent::RlmExecuting(_) => "rlm_executing",
            ChatEvent::MemoryUpdate(_) => "memory_update",
            ChatEvent::ToolResult(_) => "tool_result",
            ChatEvent::TrajectoryStep(_) => "trajectory_step",
            ChatEvent::HitlRequest(_) => "hitl_request",
            ChatEvent::HitlResolved(_) => "hitl_resolved",
            ChatEvent::Final(_) => "final",
            ChatEvent::Cancelled(_) => "cancelled",
            ChatEvent::Error(_) => "error",
            ChatEvent::Warning(_) => "warning",
            ChatEvent::CommandAck(_) => "command_ack",
            ChatEvent::CommandReject(_) => "command_reject",
            ChatEvent::ExecutionStarted(_) => "execution_started",
            ChatEvent::ExecutionStep(_) => "execution_step",
            ChatEvent::ExecutionCompleted(_) => "execution_completed",
            ChatEvent::Unknown(u) => &u.name,
        }
    }
}

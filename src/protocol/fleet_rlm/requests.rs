//! What a client sends on the chat socket (spec §3.2): `message`, `cancel` and `command`,
//! typed for the app (camelCase) and written to the wire in the server's snake_case.

use serde::Serialize;
use tsify::Tsify;

use super::json::{decode_fields, Extra};
use crate::core::json_read::{JsonObject, JsonText};
use crate::core::wire::ObjectText;

/// A `message`: starts a turn.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MessageRequest {
    /// The user's message; must not be blank.
    pub content: String,
    /// The session; the events socket of the same session (and identity) sees the turn's
    /// run. Without it the server makes up a fresh one nobody can have subscribed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `false` suppresses `reasoning_step` events (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<bool>,
    /// Accepted, unused by the 0.5.x server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "\"compact\" | \"verbose\" | \"off\"")]
    pub trace_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "\"auto\" | \"rlm_only\" | \"tools_only\"")]
    pub execution_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    /// Requires `repoUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_concurrency: Option<u32>,
}

impl MessageRequest {
    /// A message with `content` for `session_id`, everything else the server's default.
    #[must_use]
    pub fn new(content: impl Into<String>, session_id: impl Into<String>) -> Self {
        Self { content: content.into(), session_id: Some(session_id.into()), ..Self::default() }
    }

    /// Refuses what the server would refuse (as an error frame, after a sandbox start).
    pub fn validate(&self) -> Result<(), String> {
        if self.content.trim().is_empty() {
            return Err("message content cannot be empty".into());
        }
        if self.repo_ref.is_some() && self.repo_url.is_none() {
            return Err("repoRef requires repoUrl".into());
        }
        if self.session_id.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err("sessionId must not be blank".into());
        }
        Ok(())
    }

    /// The wire frame.
    #[must_use]
    pub fn to_wire(&self) -> String {
        ObjectText::new()
            .field("type", "message")
            .field("content", &self.content)
            .field_if("session_id", self.session_id.as_ref())
            .field_if("trace", self.trace.as_ref())
            .field_if("trace_mode", self.trace_mode.as_ref())
            .field_if("execution_mode", self.execution_mode.as_ref())
            .field_if("docs_path", self.docs_path.as_ref())
            .field_if("repo_url", self.repo_url.as_ref())
            .field_if("repo_ref", self.repo_ref.as_ref())
            .field_if("context_paths", self.context_paths.as_ref())
            .field_if("batch_concurrency", self.batch_concurrency.as_ref())
            .text()
    }
}

/// The `cancel` frame: ends the running turn with `cancelled`.
pub const CANCEL_FRAME: &str = r#"{"type":"cancel"}"#;

/// A `command`: `resolve_hitl`, or one of the agent's tools (spec §3.2).
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommandRequest {
    /// `resolve_hitl`, or a tool: `list_files`, `read_file_slice`, `memory_tree`, `reset`, …
    #[tsify(type = "\"resolve_hitl\" | \"load_document\" | \"fetch_web_document\" | \"set_active_document\" | \"list_documents\" | \"list_files\" | \"read_file_slice\" | \"find_files\" | \"chunk_host\" | \"chunk_sandbox\" | \"parallel_semantic_map\" | \"rlm_query\" | \"summarize_document\" | \"extract_logs\" | \"grounded_answer\" | \"triage_logs\" | \"plan_code_change\" | \"memory_tree\" | \"memory_action_intent\" | \"memory_structure_audit\" | \"memory_structure_migration_plan\" | \"clarification_questions\" | \"propose_memory_update\" | \"read_buffer\" | \"clear_buffer\" | \"save_buffer\" | \"load_volume\" | \"process_document\" | \"write_to_file\" | \"edit_core_memory\" | \"reset\" | (string & {})")]
    pub command: String,
    /// The command's arguments (sent as `{}` when empty).
    #[serde(default)]
    #[tsify(type = "Record<string, unknown>")]
    pub args: JsonObject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The command that answers a `hitl_request`.
pub const RESOLVE_HITL: &str = "resolve_hitl";

impl CommandRequest {
    /// Answers the `hitl_request` `message_id` with `action_label` (one of its options).
    #[must_use]
    pub fn resolve_hitl(session_id: impl Into<String>, message_id: impl Into<String>, action_label: impl Into<String>) -> Self {
        let (message_id, action_label): (String, String) = (message_id.into(), action_label.into());
        let args = ObjectText::new().field("message_id", &message_id).field("action_label", &action_label).object();
        Self { command: RESOLVE_HITL.into(), args, session_id: Some(session_id.into()) }
    }

    /// Refuses what the server would refuse.
    pub fn validate(&self) -> Result<(), String> {
        if self.command.trim().is_empty() {
            return Err("command name cannot be empty".into());
        }
        let has = |key: &str| self.args.string_at(key).is_some_and(|s| !s.is_empty());
        if self.command == RESOLVE_HITL && !(has("message_id") && has("action_label")) {
            return Err("resolve_hitl requires message_id and action_label".into());
        }
        Ok(())
    }

    /// The wire frame.
    #[must_use]
    pub fn to_wire(&self) -> JsonText {
        ObjectText::new()
            .field("type", "command")
            .field("command", &self.command)
            .field("args", &self.args)
            .field_if("session_id", self.session_id.as_ref())
            .done()
    }
}

/// The result of a successful `resolve_hitl`.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HitlResolution {
    /// `"ok"`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The action label recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

decode_fields!(HitlResolution { status, message_id, resolution });

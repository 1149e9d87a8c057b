//! The chat socket's client frames (spec §3.1–§3.2): the first frame (startup status,
//! agent startup, close 1011 on bad JSON / binary or offline Daytona), then the loop over
//! `message` / `cancel` / `command` with at most one turn per socket.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::conn::{self, echo_close};
use super::frames::{self, iso_now, uuid};
use super::turn::{self, MsgOpts, Script, Stop, TurnOpts};
use crate::hub::{Hub, State};
use crate::json::Obj;

/// Tool commands the agent dispatches (`COMMAND_DISPATCH`); the simulator answers them
/// with a canned ok result.
const TOOL_COMMANDS: [&str; 30] = [
    "load_document",
    "fetch_web_document",
    "set_active_document",
    "list_documents",
    "list_files",
    "read_file_slice",
    "find_files",
    "chunk_host",
    "chunk_sandbox",
    "parallel_semantic_map",
    "rlm_query",
    "summarize_document",
    "extract_logs",
    "grounded_answer",
    "triage_logs",
    "plan_code_change",
    "memory_tree",
    "memory_action_intent",
    "memory_structure_audit",
    "memory_structure_migration_plan",
    "clarification_questions",
    "propose_memory_update",
    "read_buffer",
    "clear_buffer",
    "save_buffer",
    "load_volume",
    "process_document",
    "write_to_file",
    "edit_core_memory",
    "reset",
];

/// Reads the chat socket until it closes or is killed.
pub async fn read_loop<S>(hub: &Arc<Hub>, id: u64, mut stream: SplitStream<WebSocketStream<S>>, mut killed: watch::Receiver<bool>, pong: &AtomicU64)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut agent_ready = false;
    loop {
        let msg = tokio::select! {
            msg = stream.next() => msg,
            _ = killed.wait_for(|k| *k) => return,
        };
        let parsed: Result<Value, (String, &str)> = match msg {
            Some(Ok(Message::Text(t))) => {
                serde_json::from_str(t.as_str()).map_err(|e| (format!("Invalid JSON: {e}"), "JSONDecodeError"))
            }
            Some(Ok(Message::Binary(_))) => Err(("'text'".to_owned(), "KeyError")),
            Some(Ok(Message::Close(_))) => return echo_close(&mut stream).await,
            None | Some(Err(_)) => return,
            Some(Ok(Message::Pong(_))) => {
                conn::saw_pong(hub, pong);
                continue;
            }
            Some(Ok(_)) => continue,
        };
        if hub.lock().fleet.conns.get(&id).is_none_or(|c| c.closing) {
            continue;
        }
        let value = match parsed {
            Ok(v) => v,
            Err((message, error_type)) => {
                let mut st = hub.lock();
                conn::send(&mut st, id, frames::error("internal_error", &message, Some(error_type)), "error");
                // Before the loop runs: close 1011; inside it the handler just exits (1006).
                if agent_ready {
                    conn::abort(&mut st, id, "handler_exit");
                } else {
                    conn::close(&mut st, id, 1011, None);
                }
                continue;
            }
        };
        if !agent_ready {
            if !startup(hub, id, &value, &mut killed).await {
                continue;
            }
            agent_ready = true;
        }
        let mut st = hub.lock();
        handle(hub, &mut st, id, value);
    }
}

/// The first frame: "Preparing Daytona workspace..." for a message (sent before the
/// message is validated, erratum 3), then the agent startup. False when the socket was
/// closed (offline Daytona) or killed meanwhile.
async fn startup(hub: &Arc<Hub>, id: u64, first: &Value, killed: &mut watch::Receiver<bool>) -> bool {
    let is_message = first.as_object().is_none_or(|o| o.get("type").is_none_or(|t| t == "message"));
    let content = first.get("content").and_then(Value::as_str).unwrap_or_default();
    let pace = TurnOpts::from_text(content).and_then(|o| o.pace).unwrap_or(hub.config.fleet.pace);
    let mut offline = hub.config.fleet.daytona_missing || TurnOpts::from_text(content).is_some_and(|o| o.script == Script::Offline);
    if is_message {
        // A queued `offline` script for this message's session acts at startup.
        let session = first.get("session_id").and_then(Value::as_str);
        let mut st = hub.lock();
        let next = st.fleet.queued.iter().position(|q| q.session_id.is_none() || q.session_id.as_deref() == session);
        if let Some(i) = next.filter(|&i| st.fleet.queued[i].opts.script == Script::Offline) {
            st.fleet.queued.remove(i);
            offline = true;
        }
    }
    let wait = |ms| {
        let d = turn::scaled(hub, ms, pace);
        let mut k = killed.clone();
        async move {
            tokio::select! {
                _ = tokio::time::sleep(d) => true,
                _ = k.wait_for(|k| *k) => false,
            }
        }
    };
    if is_message {
        if !wait(turn::STARTUP_STATUS_MS).await {
            return false;
        }
        let mut st = hub.lock();
        let event_id = uuid(st.fleet.rng(hub.config.seed), false);
        let payload = r#"{"phase":"startup","runtime":{"runtime_mode":"daytona_pilot"}}"#;
        let frame = frames::event("status", "Preparing Daytona workspace...", Some(payload), Some(&iso_now()), 2, &event_id);
        conn::send(&mut st, id, frame, "event:status");
    }
    if !wait(turn::STARTUP_MS - turn::STARTUP_STATUS_MS).await {
        return false;
    }
    if offline && is_message {
        let mut st = hub.lock();
        let msg = "Missing DAYTONA_API_KEY. Set DAYTONA_API_KEY (and DAYTONA_API_URL / DAYTONA_TARGET) to use the Daytona sandbox.";
        conn::send(&mut st, id, frames::error("sandbox_unavailable", msg, Some("DaytonaConfigError")), "error");
        conn::close(&mut st, id, 1011, None);
        return false;
    }
    true
}

fn send(st: &mut State, id: u64, text: String, label: &str) {
    conn::send(st, id, text, label);
}

/// One client frame once the agent is up.
fn handle(hub: &Arc<Hub>, st: &mut State, id: u64, frame: Value) {
    let Value::Object(obj) = frame else {
        return send(st, id, frames::bare_error("Message content cannot be empty"), "error");
    };
    let kind = match obj.get("type") {
        None | Some(Value::Null) => "message".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return send(st, id, frames::bare_error(&format!("Invalid payload: type must be a string, got {other}")), "error"),
    };
    match kind.as_str() {
        "message" => on_message(hub, st, id, &obj),
        "cancel" => on_cancel(hub, st, id),
        "command" => on_command(hub, st, id, &obj),
        other => send(st, id, frames::bare_error(&format!("Unknown message type: {other}")), "error"),
    }
}

fn on_message(hub: &Arc<Hub>, st: &mut State, id: u64, obj: &Map<String, Value>) {
    let Some(c) = st.fleet.conns.get(&id) else { return };
    let identity = c.identity.clone();
    if c.turn.is_some() {
        let msg = "A run is already in progress. Cancel it or wait for completion before sending another message.";
        return send(st, id, frames::bare_error(msg), "error");
    }
    if obj.contains_key("workspace_id") || obj.contains_key("user_id") {
        let msg = "workspace_id and user_id cannot be set in messages; identity comes from authentication";
        return send(st, id, frames::error("unsupported_identity_fields", msg, None), "error");
    }
    if obj.contains_key("max_depth") {
        let msg = "max_depth is no longer accepted in messages";
        return send(st, id, frames::error("daytona_max_depth_removed", msg, None), "error");
    }
    let content = match obj.get("content") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return send(st, id, frames::bare_error("Invalid payload: content must be a string"), "error"),
    };
    if content.trim().is_empty() {
        return send(st, id, frames::bare_error("Message content cannot be empty"), "error");
    }
    let has = |k: &str| obj.get(k).and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if has("repo_ref") && !has("repo_url") {
        return send(st, id, frames::error("daytona_repo_ref_requires_repo", "repo_ref requires repo_url", None), "error");
    }
    let session_id = match obj.get("session_id").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(s) => s.to_owned(),
        None => uuid(st.fleet.rng(hub.config.seed), true),
    };
    let queued = st.fleet.queued.iter().position(|q| q.session_id.as_ref().is_none_or(|s| *s == session_id));
    let opts = match queued.and_then(|i| st.fleet.queued.remove(i)) {
        Some(q) => q.opts,
        None => TurnOpts::from_text(content).unwrap_or_else(|| TurnOpts::of(Script::Normal)),
    };
    let msg = MsgOpts {
        trace: obj.get("trace").and_then(Value::as_bool).unwrap_or(true),
        execution_mode: obj.get("execution_mode").and_then(Value::as_str).unwrap_or("auto").to_owned(),
    };
    turn::start(hub, st, Some(id), identity, session_id, content.to_owned(), opts, msg);
}

fn on_cancel(hub: &Arc<Hub>, st: &mut State, id: u64) {
    let running = st.fleet.conns.get(&id).and_then(|c| c.turn);
    if let Some(inst) = running {
        if turn::request_stop(st, inst, Stop::Cancel) {
            return;
        }
    }
    // Idle: an immediate `cancelled` with a null payload and a dashed event id.
    let event_id = uuid(st.fleet.rng(hub.config.seed), true);
    let frame = frames::event("cancelled", "Request cancelled.", None, Some(&iso_now()), 2, &event_id);
    send(st, id, frame, "event:cancelled");
}

fn on_command(hub: &Arc<Hub>, st: &mut State, id: u64, obj: &Map<String, Value>) {
    let command = obj.get("command").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
    if command.is_empty() {
        return send(st, id, frames::bare_error("Command name cannot be empty"), "error");
    }
    let empty = Map::new();
    let args = obj.get("args").and_then(Value::as_object).unwrap_or(&empty);
    let arg = |k: &str| args.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let seed = hub.config.seed;
    let result = if command == "resolve_hitl" {
        match (arg("message_id"), arg("action_label")) {
            (Some(message_id), Some(label)) => {
                // Any message id is accepted (erratum 2); a known one is marked resolved.
                if let Some(h) = st.fleet.hitl.get_mut(&message_id) {
                    h.resolution = Some(label.clone());
                }
                let payload = Obj::new().set("message_id", &message_id).set("resolution", &label).set("source", "command").done();
                let event_id = uuid(st.fleet.rng(seed), true);
                send(st, id, frames::event("hitl_resolved", &label, Some(&payload), None, 1, &event_id), "event:hitl_resolved");
                Obj::new().set("status", "ok").set("message_id", &message_id).set("resolution", &label).done()
            }
            (message_id, _) => Obj::new()
                .set("status", "error")
                .set("error", "resolve_hitl requires message_id and action_label")
                .set("message_id", &message_id)
                .done(),
        }
    } else if TOOL_COMMANDS.contains(&command.as_str()) {
        Obj::new().set("status", "ok").set("output", &format!("{command}: simulated by runwatch-sim")).done()
    } else {
        Obj::new().set("status", "error").set("error", &format!("Unknown command: {command}")).raw("message_id", "null").done()
    };
    let event_id = uuid(st.fleet.rng(seed), true);
    send(st, id, frames::command_result(&command, &result, &event_id), "command_result");
}

//! Turns of the chat socket, assembled: what was asked, the answer streamed so far, the
//! tools called, the questions asked and answered, and how the turn ended, so an app can
//! render a turn without reassembling it from events.
//!
//! The chat stream names no turn: at most one turn runs per socket (spec §3.1), so every
//! event between a `message` and its terminal event (`final`, `cancelled`, an error frame)
//! belongs to that turn. `hitl_resolved` is matched by `message_id` instead, since it may
//! answer a question of an earlier turn, from any socket of the session.
//!
//! Read as snapshots like the RocketRide task store: [`Turns::snapshot`] hands out the same
//! `Arc` until something changes, and unchanged turns keep their `Arc`.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use tsify::Tsify;

use super::chat_events::{ChatEvent, FinalPayload, HitlRequestPayload, StreamEvent, ToolCallPayload, ToolResultPayload};
use super::errors::ServerError;
use super::requests::MessageRequest;
use crate::core::json_read::JsonText;

/// Turns kept at most (the oldest ended ones go first).
pub const MAX_TURNS: usize = 50;
/// Tool activities kept per turn (the oldest go first, counted in `toolsDropped`).
pub const MAX_TOOLS: usize = 200;

/// Where a turn is.
#[derive(Tsify, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum TurnState {
    /// The message was sent; nothing has come back yet.
    Sent,
    /// Events are arriving.
    Running,
    /// `final` arrived.
    Completed,
    /// An error frame ended it (`error` holds it).
    Error,
    /// `cancelled` arrived.
    Cancelled,
    /// The chat socket dropped mid-turn; the server cancelled the turn (it is never
    /// resumed, and the SDK never re-sends the message on its own).
    Interrupted,
}

impl TurnState {
    /// True once the turn is over.
    #[must_use]
    pub fn is_ended(self) -> bool {
        !matches!(self, TurnState::Sent | TurnState::Running)
    }
}

/// One turn, as of one snapshot.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Turn {
    /// Client-side id, increasing, never reused.
    pub turn_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub session_id: Option<String>,
    /// The message sent.
    pub content: String,
    pub state: TurnState,
    /// Engine clock (ms) when the message was sent and when the turn ended.
    pub started_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub ended_at: Option<u64>,
    /// The latest `status` text.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub status: Option<String>,
    /// The answer: the `assistant_token` chunks so far, replaced by the full `final` text.
    pub answer: String,
    /// The `reasoning_step` chunks, concatenated.
    pub reasoning: String,
    /// Tools called, in order.
    pub tools: Vec<ToolActivity>,
    /// Tool activities evicted by the per-turn bound.
    pub tools_dropped: u64,
    /// Questions the agent asked (`hitl_request`) and their answers.
    pub hitl: Vec<HitlPrompt>,
    /// The `final` payload (citations, sources, attachments, trace ids…).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub final_payload: Option<Box<FinalPayload>>,
    /// The error frame that ended the turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub error: Option<ServerError>,
    /// The app asked to cancel.
    pub cancel_requested: bool,
    /// Events received for this turn.
    pub events: u64,
}

/// A tool the agent called in a turn.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolActivity {
    /// The tool's name (or the event text when the payload names none).
    pub name: String,
    /// The starting event's kind: `tool_call`, `plan_update`, `rlm_executing`, `memory_update`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub args: Option<JsonText>,
    /// `tool_result` arrived.
    pub finished: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub output: Option<JsonText>,
}

/// A question the agent asked, and its answer once known.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HitlPrompt {
    /// Answer with `CommandRequest.resolveHitl(session, messageId, label)`.
    pub message_id: String,
    pub text: String,
    /// The choices offered.
    pub options: Vec<String>,
    /// The memory action to confirm, when that is the question.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "unknown")]
    pub action: Option<JsonText>,
    /// The answer recorded by the server (`hitl_resolved` or the command's result).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub resolution: Option<String>,
}

/// An immutable view of the turns: the same object until something changes.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TurnsSnapshot {
    /// Increases with every change; 0 when nothing happened yet.
    pub version: u64,
    /// Oldest first.
    #[tsify(type = "Turn[]")]
    #[serde(serialize_with = "serialize_turns")]
    pub turns: Vec<Arc<Turn>>,
}

fn serialize_turns<S: Serializer>(turns: &[Arc<Turn>], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(turns.iter().map(|t| &**t))
}

/// The turns of one chat connection's life (across reconnects).
#[derive(Debug, Default)]
pub struct Turns {
    turns: VecDeque<Arc<Turn>>,
    next_id: u64,
    version: u64,
    cached: Option<Arc<TurnsSnapshot>>,
}

impl Turns {
    /// The snapshot of the current version.
    pub fn snapshot(&mut self) -> Arc<TurnsSnapshot> {
        if let Some(s) = &self.cached {
            return s.clone();
        }
        let snapshot = Arc::new(TurnsSnapshot { version: self.version, turns: self.turns.iter().cloned().collect() });
        self.cached = Some(snapshot.clone());
        snapshot
    }

    /// Changes with every change of the content.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The turn running now, if any.
    #[must_use]
    pub fn current(&self) -> Option<&Turn> {
        self.turns.back().map(|t| &**t).filter(|t| !t.state.is_ended())
    }

    /// A message was sent at `now_ms`: a new turn, which is returned.
    pub fn start(&mut self, now_ms: u64, message: &MessageRequest) -> u64 {
        self.next_id += 1;
        let turn = Turn {
            turn_id: self.next_id,
            session_id: message.session_id.clone(),
            content: message.content.clone(),
            state: TurnState::Sent,
            started_at: now_ms,
            ended_at: None,
            status: None,
            answer: String::new(),
            reasoning: String::new(),
            tools: Vec::new(),
            tools_dropped: 0,
            hitl: Vec::new(),
            final_payload: None,
            error: None,
            cancel_requested: false,
            events: 0,
        };
        if self.turns.len() >= MAX_TURNS.max(1) {
            self.turns.pop_front();
        }
        self.turns.push_back(Arc::new(turn));
        self.changed();
        self.next_id
    }

    /// The app asked to cancel the current turn.
    pub fn cancel_requested(&mut self) {
        self.with_current(|turn| turn.cancel_requested = true);
    }

    /// A chat event arrived at `now_ms`. Returns the turn it was applied to.
    pub fn on_event(&mut self, now_ms: u64, event: &ChatEvent) -> Option<u64> {
        if let ChatEvent::HitlResolved(e) = event {
            let id = e.payload.as_ref().and_then(|p| p.message_id.clone())?;
            let resolution = e.payload.as_ref().and_then(|p| p.resolution.clone()).unwrap_or_else(|| e.text.clone());
            return self.resolve_hitl(&id, &resolution);
        }
        self.with_current(|turn| {
            turn.events += 1;
            turn.state = TurnState::Running;
            apply(turn, now_ms, event);
        })
    }

    /// An error frame arrived: it ends the current turn.
    pub fn on_error(&mut self, now_ms: u64, error: &ServerError) -> Option<u64> {
        self.with_current(|turn| {
            turn.events += 1;
            turn.error = Some(error.clone());
            end(turn, now_ms, TurnState::Error);
        })
    }

    /// The socket dropped: the current turn is over (the server cancelled it).
    pub fn interrupted(&mut self, now_ms: u64) -> Option<u64> {
        self.with_current(|turn| end(turn, now_ms, TurnState::Interrupted))
    }

    /// The question `message_id` was answered with `resolution`.
    pub fn resolve_hitl(&mut self, message_id: &str, resolution: &str) -> Option<u64> {
        let index = self.turns.iter().rposition(|t| t.hitl.iter().any(|h| h.message_id == message_id))?;
        let turn = Arc::make_mut(&mut self.turns[index]);
        let prompt = turn.hitl.iter_mut().find(|h| h.message_id == message_id)?;
        if prompt.resolution.as_deref() == Some(resolution) {
            return Some(turn.turn_id);
        }
        prompt.resolution = Some(resolution.to_owned());
        let id = turn.turn_id;
        self.changed();
        Some(id)
    }

    fn with_current(&mut self, f: impl FnOnce(&mut Turn)) -> Option<u64> {
        let turn = self.turns.back_mut().filter(|t| !t.state.is_ended())?;
        let turn = Arc::make_mut(turn);
        f(turn);
        let id = turn.turn_id;
        self.changed();
        Some(id)
    }

    fn changed(&mut self) {
        self.version += 1;
        self.cached = None;
    }
}

/// Applies one event of the turn.
fn apply(turn: &mut Turn, now_ms: u64, event: &ChatEvent) {
    match event {
        ChatEvent::Status(e) => turn.status = Some(e.text.clone()),
        ChatEvent::ReasoningStep(e) => turn.reasoning.push_str(&e.text),
        ChatEvent::AssistantToken(e) => turn.answer.push_str(&e.text),
        ChatEvent::ToolCall(e) | ChatEvent::PlanUpdate(e) | ChatEvent::RlmExecuting(e) | ChatEvent::MemoryUpdate(e) => {
            tool_started(turn, event.kind(), e);
        }
        ChatEvent::ToolResult(e) => tool_finished(turn, e),
        ChatEvent::HitlRequest(e) => hitl_asked(turn, e),
        ChatEvent::Final(e) => {
            turn.answer = e.text.clone();
            turn.final_payload = e.payload.clone();
            end(turn, now_ms, TurnState::Completed);
        }
        ChatEvent::Cancelled(_) => end(turn, now_ms, TurnState::Cancelled),
        ChatEvent::Error(e) => {
            turn.status = Some(e.text.clone());
            end(turn, now_ms, TurnState::Error);
        }
        // Trajectory steps repeat the live tool events; the rest carry nothing a turn shows.
        _ => {}
    }
}

fn end(turn: &mut Turn, now_ms: u64, state: TurnState) {
    turn.state = state;
    turn.ended_at = Some(now_ms);
}

fn tool_started(turn: &mut Turn, kind: &str, e: &StreamEvent<ToolCallPayload>) {
    let payload = e.payload.as_ref();
    let name = payload.and_then(|p| p.tool_name.clone()).unwrap_or_else(|| e.text.clone());
    let args = payload.and_then(|p| p.tool_args.clone().or_else(|| p.tool_input.clone()));
    if turn.tools.len() >= MAX_TOOLS {
        turn.tools.remove(0);
        turn.tools_dropped += 1;
    }
    turn.tools.push(ToolActivity { name, kind: kind.to_owned(), args, finished: false, output: None });
}

/// Pairs a result with the latest unfinished call of the same tool (or the latest
/// unfinished call when the result names no tool).
fn tool_finished(turn: &mut Turn, e: &StreamEvent<ToolResultPayload>) {
    let payload = e.payload.as_ref();
    let name = payload.and_then(|p| p.tool_name.as_deref());
    let open = turn.tools.iter_mut().rev().find(|t| !t.finished && name.is_none_or(|n| t.name == n));
    if let Some(tool) = open {
        tool.finished = true;
        tool.output = payload.and_then(|p| p.tool_output.clone());
    }
}

fn hitl_asked(turn: &mut Turn, e: &StreamEvent<HitlRequestPayload>) {
    let payload = e.payload.as_ref();
    let Some(message_id) = payload.and_then(|p| p.message_id.clone()) else { return };
    turn.hitl.push(HitlPrompt {
        message_id,
        text: e.text.clone(),
        options: payload.and_then(|p| p.options.clone()).unwrap_or_default(),
        action: payload.and_then(|p| p.action.clone()),
        resolution: None,
    });
}

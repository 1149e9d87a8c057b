//! The chat socket plug-in (`/api/v1/ws/execution`, spec §3) and [`ChatClient`], the
//! engine with it.
//!
//! What this wire needs beyond the shared engine:
//! - the credential travels in the URL (built by [`super::auth::socket_url`]), so the
//!   socket is live once open; an `auth_failed` / `tenant_forbidden` error frame refuses
//!   it, which stops reconnecting;
//! - no application ping (the engine's heartbeat is off);
//! - `message` and `cancel` are frames, not requests: their answer is the turn's event
//!   stream, assembled in [`Turns`];
//! - `command_result` names no request: the engine matches it to the oldest command of
//!   the same name in flight, so commands get typed replies and timeouts from the
//!   engine's request table;
//! - a reconnect never re-sends a message (the server cancelled the turn when the socket
//!   dropped; re-sending would start a new one): the turn ends `interrupted` and the
//!   `resync` says so.

use std::sync::Arc;

use super::auth::Endpoint;
use super::chat_events::ChatEvent;
use super::errors::{ErrorClass, ServerError};
use super::frames::{decode_chat_frame, ChatFrame, ServerFrame};
use super::json::decode;
use super::requests::{CommandRequest, HitlResolution, MessageRequest, CANCEL_FRAME, RESOLVE_HITL};
use super::socket::{report_undecoded, utf8, NoRequest};
use super::turns::{Turn, Turns, TurnsSnapshot};
use crate::core::connection::{Connection, EngineConfig, Link, Protocol, Resynced};
use crate::core::lifecycle::ConnState;
use crate::core::outputs::{RequestError, SubId, Unreplayable, UnreplayableReason};
use crate::core::sorted_map::SortedSet;
use crate::core::time::{Duration, Instant};
use crate::core::json_read::JsonText;
use crate::core::json_write::to_json;
use crate::core::wire::{DecodeError, Frame, FrameBody, Response};

/// The connection engine speaking fleet-rlm's chat socket.
pub type ChatClient = Connection<FleetChat>;

/// Tunables. `Default` suits a browser app.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatConfig {
    /// The engine's tunables; `request_timeout` is the default timeout of commands, which
    /// run in the sandbox (2 minutes by default).
    pub engine: EngineConfig,
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self { engine: EngineConfig { request_timeout: Duration::from_secs(120), ..EngineConfig::default() } }
    }
}

/// Why a message or a cancel was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The server would refuse it; nothing was sent.
    #[error("{0}")]
    Invalid(String),
    /// One turn runs per socket: cancel it or wait for its end.
    #[error("a turn is already running on this socket")]
    TurnInProgress,
    /// The socket is not live (messages are never queued: a late turn is a surprise).
    #[error("the chat socket is not connected")]
    NotConnected,
    /// No turn is running.
    #[error("no turn is running")]
    NoTurn,
}

/// fleet-rlm's chat part of a connection. See the module docs.
#[derive(Debug, Default)]
pub struct FleetChat {
    /// The app's listeners; every frame goes to all of them.
    listeners: SortedSet<SubId>,
    turns: Turns,
    /// The latest error frame of the current socket: what a close that follows means.
    last_error: Option<ServerError>,
    /// Turns the lost connection cut short, for the next `resync`.
    interrupted: Vec<u64>,
    /// The `event_id`s of the current turn's events, so a repeated frame is dropped and
    /// counted instead of, say, doubling the answer's text.
    seen: RecentIds,
}

/// How many event ids [`RecentIds`] remembers.
const RECENT_IDS: usize = 1024;

/// The latest event ids, oldest forgotten first. Cleared at each turn: 0.6.x ids are
/// `"<run_id>:<sequence>"`, and a turn after a failed one reuses the run id (spec §0.8).
#[derive(Debug, Default)]
struct RecentIds {
    order: std::collections::VecDeque<String>,
    set: std::collections::HashSet<String>,
}

impl RecentIds {
    /// Remembers `id`; false when it is already remembered.
    fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == RECENT_IDS {
            if let Some(oldest) = self.order.pop_front() {
                self.set.remove(&oldest);
            }
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }

    fn clear(&mut self) {
        self.order.clear();
        self.set.clear();
    }
}

impl Connection<FleetChat> {
    /// A chat client that immediately asks the shell to open its first socket.
    pub fn new(config: ChatConfig, now: Instant) -> Self {
        Connection::start(FleetChat::default(), config.engine, now)
    }

    /// Adds listener `id`: every frame from now on is delivered to it.
    pub fn listen(&mut self, id: SubId) {
        self.with_protocol(self.now(), |chat, _| chat.listeners.insert(id));
    }

    /// Removes listener `id`.
    pub fn unlisten(&mut self, id: SubId) {
        self.with_protocol(self.now(), |chat, _| chat.listeners.remove(&id));
    }

    /// Sends `message` at `now`, starting a turn; returns its id. Refused while a turn
    /// runs or the socket is not live.
    pub fn send_message(&mut self, now: Instant, message: &MessageRequest) -> Result<u64, ChatError> {
        message.validate().map_err(ChatError::Invalid)?;
        self.with_protocol(now, |chat, link| {
            if chat.turns.current().is_some() {
                return Err(ChatError::TurnInProgress);
            }
            if link.state() != ConnState::Live || !link.send_frame(message.to_wire()) {
                return Err(ChatError::NotConnected);
            }
            chat.seen.clear();
            Ok(chat.turns.start(link.now().as_millis(), message))
        })
    }

    /// Asks the server to cancel the running turn (it ends with `cancelled`).
    pub fn cancel(&mut self, now: Instant) -> Result<(), ChatError> {
        self.with_protocol(now, |chat, link| {
            if chat.turns.current().is_none() {
                return Err(ChatError::NoTurn);
            }
            if !link.send_frame(CANCEL_FRAME.to_owned()) {
                return Err(ChatError::NotConnected);
            }
            chat.turns.cancel_requested();
            Ok(())
        })
    }

    /// The turns, as an immutable snapshot (the same `Arc` until something changes).
    pub fn turns(&mut self) -> Arc<TurnsSnapshot> {
        self.with_protocol(self.now(), |chat, _| chat.turns.snapshot())
    }

    /// Changes exactly when [`Self::turns`] would return new content.
    #[must_use]
    pub fn turns_version(&self) -> u64 {
        self.protocol().turns.version()
    }

    /// The turn running now.
    #[must_use]
    pub fn current_turn(&self) -> Option<&Turn> {
        self.protocol().turns.current()
    }

    /// The endpoint to build the socket URL for ([`super::auth::socket_url`]).
    #[must_use]
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Chat
    }

    /// The latest error frame on the current (or last) socket: what a close that followed
    /// it means (see [`super::errors::ConnectionError::from_close`]).
    #[must_use]
    pub fn preceding_error(&self) -> Option<&ServerError> {
        self.protocol().last_error.as_ref()
    }
}

impl Protocol for FleetChat {
    type Event = ChatFrame;
    type Request = NoRequest;
    type Timer = ();
    type Call = CommandRequest;
    type Args = JsonText;

    const AUTH_BY_REQUEST: bool = false;
    const HEARTBEAT: bool = false;
    const CORRELATE_BY_COMMAND: bool = true;

    fn decode(&mut self, bytes: &[u8]) -> Result<Frame<ChatFrame>, DecodeError> {
        let text = utf8(bytes)?;
        let body = match decode_chat_frame(text)? {
            ServerFrame::Chat(ChatFrame::Event(event)) if event.event_id().is_some_and(|id| !self.seen.insert(id)) => {
                FrameBody::Duplicate
            }
            ServerFrame::Chat(frame) => FrameBody::Event(frame),
            ServerFrame::CommandResult(result) => FrameBody::Response(command_response(result)),
        };
        Ok(Frame { seq: None, body })
    }

    /// `args` is the whole `command` frame ([`CommandRequest::to_wire`]): the wire has no
    /// request id to put `seq` in.
    fn request_frame(_seq: u64, _command: &str, args: &JsonText) -> String {
        args.get().to_owned()
    }

    /// Never called: the credential is in the URL.
    fn auth_request(&mut self, _credential: &str) -> (&'static str, JsonText) {
        ("auth", JsonText::null())
    }

    fn call_request(call: &CommandRequest) -> Result<(String, JsonText, Option<Duration>), String> {
        call.validate()?;
        Ok((call.command.clone(), call.to_wire(), None))
    }

    /// `resolve_hitl` answers a typed [`HitlResolution`]; a tool command its result object.
    fn decode_reply(call: &CommandRequest, body: Option<&str>) -> Result<Option<String>, RequestError> {
        let Some(body) = body else { return Ok(None) };
        if call.command != RESOLVE_HITL {
            return Ok(Some(body.to_owned()));
        }
        let resolution: HitlResolution =
            decode::<HitlResolution>("resolve_hitl result", body).map_err(|e| RequestError::BadResponse { message: e.to_string() })?;
        Ok(Some(to_json(&resolution)?))
    }

    /// Never called: the wire has no application ping.
    fn ping_request() -> (&'static str, JsonText) {
        ("ping", JsonText::null())
    }

    fn on_authenticated(&mut self, link: &mut Link<Self>, _body: Option<&str>) {
        self.last_error = None;
        link.subscribed();
    }

    fn on_response(&mut self, _link: &mut Link<Self>, request: NoRequest, _response: Response) {
        match request {}
    }

    fn on_request_expired(&mut self, _link: &mut Link<Self>, request: NoRequest) {
        match request {}
    }

    fn on_app_reply(&mut self, _link: &mut Link<Self>, call: &CommandRequest, _response: &Response) {
        if call.command != RESOLVE_HITL {
            return;
        }
        let label = |key: &str| call.args.string_at(key);
        if let (Some(message_id), Some(resolution)) = (label("message_id"), label("action_label")) {
            self.turns.resolve_hitl(&message_id, &resolution);
        }
    }

    fn on_event(&mut self, link: &mut Link<Self>, seq: Option<u64>, frame: ChatFrame) {
        let now = link.now().as_millis();
        match &frame {
            ChatFrame::Event(event) => {
                if let ChatEvent::Unknown(unknown) = event {
                    report_undecoded(link, seq, &unknown.name, unknown.decode_error.as_ref());
                }
                self.turns.on_event(now, event);
            }
            ChatFrame::Error(error) => {
                self.last_error = Some(error.clone());
                if error.class == ErrorClass::Auth {
                    link.reject_credential(error.message.clone());
                }
                self.turns.on_error(now, error);
            }
            ChatFrame::Unknown(_) => {}
        }
        link.deliver(self.listeners.iter().copied().collect(), seq, frame);
    }

    fn on_reconnected(&mut self, _link: &mut Link<Self>) -> Resynced {
        let unreplayable = std::mem::take(&mut self.interrupted)
            .into_iter()
            .map(|turn| Unreplayable {
                stream: format!("turn {turn}"),
                reason: UnreplayableReason::Unsupported,
                message: "the socket dropped mid-turn: the server cancelled the turn and keeps no replay; \
                          the message was not re-sent (send it again to start a new turn)"
                    .into(),
                from: None,
                to: None,
            })
            .collect();
        Resynced { unreplayable, ..Resynced::default() }
    }

    fn on_lost(&mut self, link: &mut Link<Self>) {
        if let Some(turn) = self.turns.interrupted(link.now().as_millis()) {
            self.interrupted.push(turn);
        }
    }

    fn on_timer(&mut self, _link: &mut Link<Self>, _timer: ()) {}
}

/// A `command_result` as the engine's response: matched by command name; failed when its
/// status is not `"ok"`.
fn command_response(result: super::frames::CommandResult) -> Response {
    let (success, message, body) = match result.outcome() {
        Ok(body) => (true, None, Some(body.get().into())),
        Err(message) => (false, Some(message), None),
    };
    Response { request_seq: None, command: result.command, success, message, trace: None, body }
}

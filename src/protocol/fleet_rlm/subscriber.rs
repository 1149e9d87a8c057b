//! The events socket plug-in (`/api/v1/ws/execution/events?session_id=…`, spec §4–§5) and
//! [`EventsClient`], the engine with it.
//!
//! A passive subscription: nothing is sent, the session is in the URL, and every frame is
//! one execution event of the session, kept in a [`RunStore`]. What the plug-in adds:
//! - copies of steps already held are dropped here (counted as ignored frames by the
//!   engine and as duplicates by the store);
//! - a reconnect re-joins the same session (the URL is the same) and its `resync` says
//!   what may be lost: the server has no replay, so runs going at the loss are marked
//!   `possiblyIncomplete` and runs that started and ended offline are never seen;
//! - "connected but no events": when the app says a turn runs on the chat socket and
//!   nothing at all arrives here within `stall_after`, a `stalled` diagnostic says what
//!   to check (the server sends `execution_started` as the turn starts).

use std::sync::Arc;

use serde::Serialize;
use tsify::Tsify;

use super::auth::Endpoint;
use super::errors::{ErrorClass, ServerError};
use super::execution::{decode_execution_event, type_of, ExecutionEvent};
use super::frames::decode_error_frame;
use super::runs::{RunStore, RunsConfig, RunsSnapshot};
use super::socket::{report_undecoded, utf8, NoRequest};
use crate::core::connection::{Connection, EngineConfig, Link, Protocol, Resynced};
use crate::core::lifecycle::ConnState;
use crate::core::outputs::{Diagnostic, RequestError, SubId, Unreplayable, UnreplayableReason};
use crate::core::sorted_map::SortedSet;
use crate::core::time::{Duration, Instant};
use crate::core::json_write::quoted;
use crate::core::wire::{DecodeError, Frame, FrameBody, Response};

/// The connection engine speaking fleet-rlm's events socket.
pub type EventsClient = Connection<FleetEvents>;

/// Tunables.
#[derive(Clone, Debug, PartialEq)]
pub struct EventsConfig {
    pub engine: EngineConfig,
    /// The session watched (the same string the chat messages carry).
    pub session_id: String,
    /// How long a turn may run with nothing arriving here before `stalled` (default 15 s).
    pub stall_after: Duration,
    pub runs: RunsConfig,
}

impl EventsConfig {
    /// Defaults for watching `session_id`.
    #[must_use]
    pub fn new(session_id: impl Into<String>) -> Self {
        Self { engine: EngineConfig::default(), session_id: session_id.into(), stall_after: Duration::from_secs(15), runs: RunsConfig::default() }
    }
}

/// What the events socket delivers: an execution event, or an error frame (a refused
/// connection; a close follows).
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum SubscriberFrame {
    Execution(ExecutionEvent),
    Error(ErrorFrame),
}

/// `{"type":"error",…}` on the events socket.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ErrorFrame {
    Error(ServerError),
}

/// The plug-in's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// A turn runs and nothing arrived yet: time to say so.
    Stall,
}

/// fleet-rlm's events part of a connection. See the module docs.
#[derive(Debug)]
pub struct FleetEvents {
    session_id: String,
    stall_after: Duration,
    listeners: SortedSet<SubId>,
    runs: RunStore,
    last_error: Option<ServerError>,
    /// A turn runs on the chat socket (the app says so).
    turn_running: bool,
    /// A frame arrived since the turn started.
    heard: bool,
}

impl Connection<FleetEvents> {
    /// An events client that immediately asks the shell to open its first socket (at the
    /// URL [`super::auth::socket_url`] builds for `config.session_id`).
    pub fn new(config: EventsConfig, now: Instant) -> Self {
        let protocol = FleetEvents {
            session_id: config.session_id,
            stall_after: config.stall_after,
            listeners: SortedSet::default(),
            runs: RunStore::new(config.runs),
            last_error: None,
            turn_running: false,
            heard: false,
        };
        Connection::start(protocol, config.engine, now)
    }

    /// Adds listener `id`: every frame from now on is delivered to it.
    pub fn listen(&mut self, id: SubId) {
        self.with_protocol(self.now(), |events, _| events.listeners.insert(id));
    }

    /// Removes listener `id`.
    pub fn unlisten(&mut self, id: SubId) {
        self.with_protocol(self.now(), |events, _| events.listeners.remove(&id));
    }

    /// A turn of this session started on the chat socket at `now`: if nothing arrives here
    /// within `stall_after`, a `stalled` diagnostic follows.
    pub fn turn_started(&mut self, now: Instant) {
        self.with_protocol(now, |events, link| {
            events.turn_running = true;
            events.heard = false;
            link.set_timer(Timer::Stall, link.now() + events.stall_after);
        });
    }

    /// The turn ended (or the chat socket dropped).
    pub fn turn_ended(&mut self, now: Instant) {
        self.with_protocol(now, |events, link| {
            events.turn_running = false;
            link.clear_timer(Timer::Stall);
        });
    }

    /// The runs, as an immutable snapshot (the same `Arc` until something changes).
    pub fn runs(&mut self) -> Arc<RunsSnapshot> {
        self.with_protocol(self.now(), |events, _| events.runs.snapshot())
    }

    /// Changes exactly when [`Self::runs`] would return new content.
    #[must_use]
    pub fn runs_version(&self) -> u64 {
        self.protocol().runs.version()
    }

    /// The endpoint to build the socket URL for, on every attempt: the same session, so a
    /// reconnect re-joins it.
    #[must_use]
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Events { session_id: self.protocol().session_id.clone() }
    }

    /// The run store (its version and counters).
    #[must_use]
    pub fn run_store(&self) -> &RunStore {
        &self.protocol().runs
    }

    /// The latest error frame on the current (or last) socket.
    #[must_use]
    pub fn preceding_error(&self) -> Option<&ServerError> {
        self.protocol().last_error.as_ref()
    }
}

impl Protocol for FleetEvents {
    type Event = SubscriberFrame;
    type Request = NoRequest;
    type Timer = Timer;
    /// The events socket takes no calls.
    type Call = NoRequest;
    type Args = ();

    const AUTH_BY_REQUEST: bool = false;
    const HEARTBEAT: bool = false;

    fn decode(&mut self, bytes: &[u8]) -> Result<Frame<SubscriberFrame>, DecodeError> {
        self.heard = true;
        let text = utf8(bytes)?;
        if type_of(text, "execution event")? == "error" {
            let error = decode_error_frame(text)?;
            return Ok(Frame { seq: None, body: FrameBody::Event(SubscriberFrame::Error(ErrorFrame::Error(error))) });
        }
        let event = decode_execution_event(text)?;
        if self.runs.is_duplicate(&event) {
            self.runs.count_duplicate(&event);
            return Ok(Frame { seq: None, body: FrameBody::Duplicate });
        }
        Ok(Frame { seq: None, body: FrameBody::Event(SubscriberFrame::Execution(event)) })
    }

    /// Never called: nothing is sent on this socket.
    fn request_frame(_seq: u64, _command: &str, _args: &()) -> String {
        String::new()
    }

    /// Never called: the credential is in the URL.
    fn auth_request(&mut self, _credential: &str) -> (&'static str, ()) {
        ("auth", ())
    }

    fn call_request(call: &NoRequest) -> Result<(String, (), Option<Duration>), String> {
        match *call {}
    }

    fn decode_reply(call: &NoRequest, _body: Option<&str>) -> Result<Option<String>, RequestError> {
        match *call {}
    }

    /// Never called: the wire has no application ping.
    fn ping_request() -> (&'static str, ()) {
        ("ping", ())
    }

    fn on_authenticated(&mut self, link: &mut Link<Self>, _body: Option<&str>) {
        self.last_error = None;
        link.subscribed();
        // The stall clock starts when this socket can hear anything.
        if self.turn_running && !self.heard {
            link.set_timer(Timer::Stall, link.now() + self.stall_after);
        }
    }

    fn on_response(&mut self, _link: &mut Link<Self>, request: NoRequest, _response: Response) {
        match request {}
    }

    fn on_request_expired(&mut self, _link: &mut Link<Self>, request: NoRequest) {
        match request {}
    }

    fn on_event(&mut self, link: &mut Link<Self>, seq: Option<u64>, frame: SubscriberFrame) {
        link.clear_timer(Timer::Stall);
        match &frame {
            SubscriberFrame::Execution(event) => {
                if let ExecutionEvent::Unknown(unknown) = event {
                    report_undecoded(link, seq, &unknown.name, unknown.decode_error.as_ref());
                }
                self.runs.apply(event);
            }
            SubscriberFrame::Error(ErrorFrame::Error(error)) => {
                self.last_error = Some(error.clone());
                if error.class == ErrorClass::Auth {
                    link.reject_credential(error.message.clone());
                }
            }
        }
        link.deliver(self.listeners.iter().copied().collect(), seq, frame);
    }

    fn on_reconnected(&mut self, _link: &mut Link<Self>) -> Resynced {
        let going: Vec<&str> = self.runs.running().collect();
        let message = format!(
            "fleet-rlm keeps no replay: execution events of session {} sent while offline are lost. \
             Runs going at the loss ({}) may miss steps and are marked possiblyIncomplete; their \
             execution_completed summary, when it comes, is complete. Runs that started and ended \
             while offline are not seen at all (GET /api/v1/sessions/{{id}}/turns has the transcript).",
            quoted(&self.session_id),
            if going.is_empty() { "none".to_owned() } else { going.join(", ") },
        );
        let lost = Unreplayable { stream: self.session_id.clone(), reason: UnreplayableReason::Unsupported, message, from: None, to: None };
        Resynced { resubscribed: vec![format!("session_id={}", self.session_id)], unreplayable: vec![lost], ..Resynced::default() }
    }

    fn on_lost(&mut self, _link: &mut Link<Self>) {
        self.runs.connection_lost();
    }

    fn on_timer(&mut self, link: &mut Link<Self>, timer: Timer) {
        match timer {
            Timer::Stall if self.turn_running && !self.heard && link.state() == ConnState::Live => {
                let silent_ms = self.stall_after.as_millis() as u64;
                let message = stall_message(&self.session_id, silent_ms);
                link.diagnostic(Diagnostic::Stalled { epoch: link.epoch(), silent_ms, message });
            }
            Timer::Stall => {}
        }
    }
}

/// What to check when a turn runs and its events do not arrive.
fn stall_message(session_id: &str, silent_ms: u64) -> String {
    format!(
        "the events socket of session {session} is open but nothing arrived in {} s while a turn runs \
         (the server sends execution_started when a turn starts). Check: a reverse proxy buffering or \
         compressing the WebSocket (turn buffering off for /api/v1/ws/); the two sockets authenticating \
         as the same tenant and user (events go only to the chat socket's identity); the chat message \
         carrying session_id {session}.",
        silent_ms / 1000,
        session = quoted(session_id),
    )
}

//! The connection engine every protocol shares: [`Connection<P>`].
//!
//! It owns what any engine's stream needs, written once: the lifecycle (connect,
//! authenticate, subscribe, live, backoff), one timer table, the request table and the
//! offline queue of app requests, heartbeats, seq ordering, loss handling and one output
//! queue in which state changes, events, diagnostics and replies leave in the order they
//! happened. A [`Protocol`] plug-in supplies the wire: decoding, its auth/ping frames,
//! its subscribe round, routing events to subscriptions and re-seeding after a reconnect.
//! The plug-in acts on the connection only through a [`Link`].
//!
//! Like quinn-proto's `Connection` it does no IO. The shell feeds it socket events and
//! time and drains it after every input, in this order:
//!
//! 1. [`Connection::poll_action`] — open or close a socket;
//! 2. [`Connection::poll_transmit`] — frames to send on the current socket;
//! 3. [`Connection::poll_output`] — state changes, events, diagnostics, replies;
//! 4. [`Connection::poll_timeout`] — when to call [`Connection::handle_timeout`] next.
//!
//! Inputs carry the socket's epoch (from [`Action::Open`]); anything from an older socket
//! is ignored, so a late close or frame of a dead socket can never corrupt the new one.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;


use super::backoff::BackoffConfig;
use super::lifecycle::{Action, ConnState, Lifecycle, LifecycleConfig, LossReason, Wake};
use super::outputs::{
    Delivered, Delivery, Diagnostic, LostTail, Output, ReplayedRange, RequestError, StateChange, SubId, Unreplayable,
};
use super::requests::Requests;
use super::seq::{SeqConfig, SeqEvent, SeqTracker};
use super::time::{earliest, Duration, Instant};
use super::timers::Timers;
use super::wire::{DecodeError, Frame, FrameBody, Response};

/// How many lost connections one `resync` reports at most (the newest are kept).
const MAX_LOST_TAILS: usize = 32;

/// A protocol plug-in: what one engine's wire needs beyond the shared engine.
///
/// Every hook gets the [`Link`] to send requests, deliver events, report diagnostics and
/// set its own timers. Hooks run in the order the inputs happened; outputs they produce
/// leave in that order too.
pub trait Protocol: Sized {
    /// The typed event subscriptions receive.
    type Event: Clone + fmt::Debug;
    /// Tags of the requests the plug-in sends itself (subscribe calls, re-seed reads).
    type Request: Clone + fmt::Debug;
    /// The plug-in's own timers.
    type Timer: Copy + Eq + Ord + fmt::Debug;
    /// A typed request an app makes.
    type Call: Clone + fmt::Debug;
    /// A request's arguments, as the plug-in builds them and [`Self::request_frame`] writes.
    type Args;

    /// False for a wire whose credential travels in the socket URL (the shell puts it there
    /// before opening, as browsers must for fleet-rlm): no auth request is sent, no
    /// credential is asked for, and the socket counts as authenticated once open. Such a
    /// server refuses a credential with a frame, which the plug-in reports through
    /// [`Link::reject_credential`].
    const AUTH_BY_REQUEST: bool = true;
    /// False for a wire without an application-level ping (the browser answers the
    /// server's protocol pings by itself): the engine sends no heartbeat, and a quiet
    /// socket is not taken for a dead one.
    const HEARTBEAT: bool = true;
    /// True for a wire whose responses carry no request id and answer each command in
    /// the order sent: a response without `request_seq` belongs to the oldest request of
    /// the same command sent on the socket and not yet answered. If that request already
    /// timed out, the response is its late answer (reported as an unknown response), never
    /// credited to a newer request.
    const CORRELATE_BY_COMMAND: bool = false;

    /// Decodes one inbound frame (`Err` when not even the envelope is readable).
    fn decode(&mut self, bytes: &[u8]) -> Result<Frame<Self::Event>, DecodeError>;
    /// Encodes one request frame.
    fn request_frame(seq: u64, command: &str, args: &Self::Args) -> String;
    /// The first request on a new socket, carrying the credential; it never goes into a
    /// URL, a log or a diagnostic. Not called when [`Self::AUTH_BY_REQUEST`] is false.
    fn auth_request(&mut self, credential: &str) -> (&'static str, Self::Args);
    /// The command, arguments and default timeout (`None`: the engine's) of an app call;
    /// `Err` with the reason refuses it before sending (e.g. `auth`, which the plug-in
    /// manages itself).
    fn call_request(call: &Self::Call) -> Result<(String, Self::Args, Option<Duration>), String>;
    /// Decodes the result body of a successful app call into JSON text (`None`: no value).
    fn decode_reply(call: &Self::Call, body: Option<&str>) -> Result<Option<String>, RequestError>;
    /// The heartbeat request, sent after a silence. Not called when [`Self::HEARTBEAT`] is
    /// false.
    fn ping_request() -> (&'static str, Self::Args);
    /// The credential was accepted (`body` is the server's answer): (re-)establish the
    /// desired subscriptions with [`Link::send`] and call [`Link::subscribed`] once they
    /// are all answered (at once when there is nothing to send).
    fn on_authenticated(&mut self, link: &mut Link<Self>, body: Option<&str>);
    /// A response to one of the plug-in's own requests.
    fn on_response(&mut self, link: &mut Link<Self>, request: Self::Request, response: Response);
    /// One of the plug-in's requests got no answer in time.
    fn on_request_expired(&mut self, link: &mut Link<Self>, request: Self::Request);
    /// A successful answer to an app call (e.g. to learn what `execute` started).
    fn on_app_reply(&mut self, _link: &mut Link<Self>, _call: &Self::Call, _response: &Response) {}
    /// A typed event, in the connection's order; route it with [`Link::deliver`].
    fn on_event(&mut self, link: &mut Link<Self>, seq: Option<u64>, event: Self::Event);
    /// The connection is live again after a loss: re-seed what the offline interval may
    /// have changed. Returns the keys re-subscribed and what was re-seeded, for `resync`.
    /// A plug-in that replays the offline interval from a server log sets
    /// [`Resynced::replaying`] and calls [`Link::finish_resync`] when the replay is done;
    /// the `resync` diagnostic waits until then.
    fn on_reconnected(&mut self, link: &mut Link<Self>) -> Resynced;
    /// The connection is gone: the server forgot everything it held for it.
    fn on_lost(&mut self, link: &mut Link<Self>);
    /// One of the plug-in's timers fired.
    fn on_timer(&mut self, link: &mut Link<Self>, timer: Self::Timer);
    /// Events of received frames the plug-in holds back for now (counted as `buffered`
    /// until they are delivered).
    fn held_frames(&self) -> usize {
        0
    }
}

/// What a reconnect re-established, reported in the `resync` diagnostic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resynced {
    /// Server keys re-subscribed (credentials redacted).
    pub resubscribed: Vec<String>,
    /// What was re-seeded.
    pub reseeded: Vec<String>,
    /// Missed windows closed from a server log (when known at once).
    pub replayed: Vec<ReplayedRange>,
    /// What could not be replayed (when known at once).
    pub unreplayable: Vec<Unreplayable>,
    /// A replay is under way: `resync` is reported by [`Link::finish_resync`].
    pub replaying: bool,
}

/// Tunables of the engine. `Default` is what a browser dashboard wants.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    pub backoff: BackoffConfig,
    pub seq: SeqConfig,
    /// Connecting + authenticating + subscribing must finish within this.
    pub connect_timeout: Duration,
    /// Default timeout of app requests.
    pub request_timeout: Duration,
    /// Send a ping after this long without any inbound frame.
    pub heartbeat_interval: Duration,
    /// Declare the socket dead when a ping gets no answer within this.
    pub heartbeat_timeout: Duration,
    /// Frames larger than this are dropped unread.
    pub max_frame_bytes: usize,
    /// Requests in flight (including queued ones) at most.
    pub max_requests: usize,
    /// Seed of the injected RNG (backoff jitter); the browser shell draws it from
    /// `crypto.getRandomValues`.
    pub rng_seed: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            backoff: BackoffConfig::default(),
            seq: SeqConfig::default(),
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(20),
            heartbeat_timeout: Duration::from_secs(10),
            max_frame_bytes: 8 << 20,
            max_requests: 1024,
            rng_seed: 0,
        }
    }
}

/// Counters the app can read at any time. Every frame received is counted once by its
/// outcome, so `framesReceived` = `responses + eventsDelivered + eventsUnmatched +
/// duplicates + late + decodeErrors + oversized + ignored + buffered`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ClientStats {
    pub epoch: u32,
    pub frames_received: u64,
    /// Frames that answered a request (ours or the app's), or that matched none.
    pub responses: u64,
    /// Event frames delivered to at least one subscription.
    pub events_delivered: u64,
    /// Event frames no subscription matched (e.g. a seed for tasks outside every scope).
    pub events_unmatched: u64,
    /// Frames dropped as copies of one already received.
    pub duplicates: u64,
    /// Event frames dropped because they arrived after their gap was reported.
    pub late: u64,
    pub decode_errors: u64,
    /// Frames over `maxFrameBytes`, dropped unread.
    pub oversized: u64,
    /// Frames the client does not act on (e.g. a request from the server).
    pub ignored: u64,
    /// Frames waiting in the reorder buffer for a missing predecessor, and events the
    /// protocol holds back (behind a task lookup, or until a replay is done).
    pub buffered: u64,
    /// Holes reported (`gap` diagnostics) and the frames they cover (never received).
    pub gaps: u64,
    pub missing: u64,
    /// Events the SDK delivered from command results (re-seeded statuses; no frame).
    pub reseeded: u64,
    /// Events dropped from full per-subscription buffers (`overflow` diagnostics).
    pub overflowed: u64,
    /// Events missed while offline and delivered from the server's log (not frames:
    /// they arrived inside log responses, which `responses` counts).
    pub replayed: u64,
    pub reconnects: u64,
    pub requests_in_flight: u32,
}

/// What a request in flight is for.
#[derive(Clone, Debug)]
enum Pending<R, C> {
    Auth,
    Ping,
    App(AppCall<C>),
    Protocol(R),
}

/// An app call: its id (chosen by the app-facing side) and what it asked.
#[derive(Clone, Debug)]
struct AppCall<C> {
    id: u32,
    call: C,
    timeout: Duration,
}

/// An app call waiting for the connection to be live.
struct Queued<C, A> {
    app: AppCall<C>,
    command: String,
    args: A,
    deadline: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer<T> {
    Heartbeat,
    Protocol(T),
}

/// The engine's side of a connection, as the plug-in sees it.
pub struct Link<P: Protocol> {
    config: EngineConfig,
    lifecycle: Lifecycle,
    requests: Requests<Pending<P::Request, P::Call>>,
    timers: Timers<Timer<P::Timer>>,
    transmit: VecDeque<String>,
    outputs: VecDeque<Output<P::Event>>,
    queued: VecDeque<Queued<P::Call, P::Args>>,
    /// A heartbeat ping is in flight.
    pinging: bool,
    /// The connection went live during the current input (`Some(offline)` after a loss).
    went_live: Option<Option<Duration>>,
    auth_message: Option<String>,
    /// Subscribed connections lost since the last live one (for the next `resync`).
    lost: Vec<LostTail>,
    /// A `resync` waiting for the plug-in's replay ([`Link::finish_resync`]).
    pending_resync: Option<Diagnostic>,
    /// A replay report given while `on_reconnected` runs (the replay ended at once).
    early_report: Option<(Vec<ReplayedRange>, Vec<Unreplayable>)>,
    /// `on_reconnected` is running.
    reconnecting: bool,
    /// The plug-in reported the credential refused ([`Link::reject_credential`]).
    rejected: Option<String>,
    /// Seq and command of the requests sent on the current socket and not yet answered
    /// (timed-out ones included: their answer may still come), oldest first, when
    /// responses are correlated by command ([`Protocol::CORRELATE_BY_COMMAND`]).
    commands: VecDeque<(u64, String)>,
    stats: ClientStats,
    now: Instant,
}

impl<P: Protocol> Link<P> {
    /// The current time, as of the input being handled.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The current connection number.
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.lifecycle.epoch()
    }

    /// The connection state.
    #[must_use]
    pub fn state(&self) -> ConnState {
        self.lifecycle.state()
    }

    /// True while subscribing or live: requests can be sent now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        matches!(self.state(), ConnState::Subscribing | ConnState::Live)
    }

    /// Sends a request of the plug-in's own; its answer comes to
    /// [`Protocol::on_response`]. False (nothing sent) when too many are in flight.
    pub fn send(&mut self, command: &str, args: P::Args, request: P::Request) -> bool {
        let timeout = self.config.request_timeout;
        self.send_within(command, args, request, timeout)
    }

    /// [`Link::send`] with its own timeout, for a request whose answer something waits on
    /// (a lost answer then costs `timeout`, not the app requests' default).
    pub fn send_within(&mut self, command: &str, args: P::Args, request: P::Request, timeout: Duration) -> bool {
        self.send_request(command, args, Some(timeout), Pending::Protocol(request))
    }

    /// Sends a frame that is not a request: nothing waits for an answer (e.g. a chat
    /// message, answered by a stream of events). False (nothing sent) without a connected
    /// socket.
    pub fn send_frame(&mut self, frame: String) -> bool {
        if !self.is_connected() {
            return false;
        }
        self.transmit.push_back(frame);
        true
    }

    /// The server refused the credential by a frame rather than by answering an auth
    /// request (a URL credential, [`Protocol::AUTH_BY_REQUEST`] false): once the current
    /// input is handled the connection stops for good in `authFailed` with `message`, as
    /// for a refused auth request. Retrying cannot help. A no-op without a socket.
    pub fn reject_credential(&mut self, message: String) {
        if self.state().has_socket() {
            self.rejected = Some(message);
        }
    }

    /// Hands the event of a frame to `subscriptions` (ascending ids). An empty list counts
    /// the event as unmatched.
    pub fn deliver(&mut self, subscriptions: Vec<SubId>, seq: Option<u64>, event: P::Event) {
        if subscriptions.is_empty() {
            self.stats.events_unmatched += 1;
            return;
        }
        self.stats.events_delivered += 1;
        self.push_delivery(subscriptions, seq, false, event);
    }

    /// Hands an event the plug-in built from a command result (a re-seeded status) to
    /// `subscriptions`; it has no `seq` and no frame of its own.
    pub fn deliver_reseeded(&mut self, subscriptions: Vec<SubId>, event: P::Event) {
        if !subscriptions.is_empty() {
            self.stats.reseeded += 1;
            self.push_delivery(subscriptions, None, false, event);
        }
    }

    /// Hands `event`, missed while offline and read back from the server's log, to
    /// `subscriptions`, marked `replayed`. An empty list delivers nothing.
    pub fn deliver_replayed(&mut self, subscriptions: Vec<SubId>, event: P::Event) {
        if !subscriptions.is_empty() {
            self.stats.replayed += 1;
            self.push_delivery(subscriptions, None, true, event);
        }
    }

    fn push_delivery(&mut self, subscriptions: Vec<SubId>, seq: Option<u64>, replayed: bool, event: P::Event) {
        let event = Arc::new(Delivered { epoch: self.epoch(), seq, replayed, event });
        self.outputs.push_back(Output::Deliver(Delivery { subscriptions, event }));
    }

    /// The replay announced by [`Resynced::replaying`] is done: the `resync` diagnostic
    /// leaves now, with what was replayed and what could not be. A no-op without one.
    pub fn finish_resync(&mut self, replayed: Vec<ReplayedRange>, unreplayable: Vec<Unreplayable>) {
        if self.reconnecting {
            let (r, u) = self.early_report.get_or_insert_with(Default::default);
            r.extend(replayed);
            u.extend(unreplayable);
            return;
        }
        if let Some(mut diagnostic) = self.pending_resync.take() {
            if let Diagnostic::Resync { replayed: r, unreplayable: u, .. } = &mut diagnostic {
                r.extend(replayed);
                u.extend(unreplayable);
            }
            self.diagnostic(diagnostic);
        }
    }

    /// Reports a diagnostic, in order with everything else.
    pub fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.outputs.push_back(Output::Diagnostic(Box::new(diagnostic)));
    }

    /// The subscribe round after authentication is complete: the connection goes live.
    pub fn subscribed(&mut self) {
        if self.state() != ConnState::Subscribing {
            return;
        }
        let offline = self.lifecycle.subscribed(self.now);
        self.pump();
        self.went_live = Some(offline);
    }

    /// Arms (or moves) one of the plug-in's timers.
    pub fn set_timer(&mut self, timer: P::Timer, at: Instant) {
        self.timers.set(Timer::Protocol(timer), at);
    }

    /// Disarms one of the plug-in's timers.
    pub fn clear_timer(&mut self, timer: P::Timer) {
        self.timers.clear(Timer::Protocol(timer));
    }

    fn send_request(&mut self, command: &str, args: P::Args, timeout: Option<Duration>, pending: Pending<P::Request, P::Call>) -> bool {
        match self.requests.start(self.now, timeout, pending) {
            Ok(seq) => {
                self.transmit.push_back(P::request_frame(seq, command, &args));
                if P::CORRELATE_BY_COMMAND {
                    if self.commands.len() >= self.config.max_requests {
                        // Bounded: forget the oldest timed-out request still owed an answer.
                        let requests = &self.requests;
                        if let Some(i) = self.commands.iter().position(|(s, _)| requests.get(*s).is_none()) {
                            self.commands.remove(i);
                        }
                    }
                    self.commands.push_back((seq, command.to_owned()));
                }
                true
            }
            Err(_) => false,
        }
    }

    /// The seq of the oldest unanswered request sent with `command`, for a response that
    /// names no request ([`Protocol::CORRELATE_BY_COMMAND`]).
    fn oldest_request_for(&mut self, command: &str) -> Option<u64> {
        if !P::CORRELATE_BY_COMMAND {
            return None;
        }
        let i = self.commands.iter().position(|(_, c)| c == command)?;
        self.commands.remove(i).map(|(seq, _)| seq)
    }

    /// Moves lifecycle transitions to the output queue at once, so a state change always
    /// precedes what happens in the new state.
    fn pump(&mut self) {
        while let Some(t) = self.lifecycle.poll_transition() {
            let message = (t.new_state == ConnState::AuthFailed).then(|| self.auth_message.take()).flatten();
            if t.new_state == ConnState::Connecting && t.epoch > 1 {
                self.stats.reconnects += 1;
            }
            let change = StateChange { new_state: t.new_state, old_state: t.old_state, epoch: t.epoch, reason: t.reason, message };
            self.outputs.push_back(Output::State(change));
        }
    }

    fn reply(&mut self, id: u32, result: Result<Option<String>, RequestError>) {
        self.outputs.push_back(Output::Reply { id, result });
    }

    fn arm_heartbeat(&mut self) {
        if P::HEARTBEAT && self.state() == ConnState::Live {
            self.timers.set(Timer::Heartbeat, self.now + self.config.heartbeat_interval);
        }
    }

    fn send_ping(&mut self) {
        if P::HEARTBEAT && self.state() == ConnState::Live && !self.pinging {
            let (command, args) = P::ping_request();
            let timeout = Some(self.config.heartbeat_timeout);
            self.pinging = self.send_request(command, args, timeout, Pending::Ping);
        }
    }

    fn flush_queued(&mut self) {
        while self.state() == ConnState::Live {
            let Some(q) = self.queued.pop_front() else { break };
            let (id, timeout) = (q.app.id, q.app.timeout);
            if !self.send_request(&q.command, q.args, Some(timeout), Pending::App(q.app)) {
                self.reply(id, Err(RequestError::Busy));
            }
        }
    }

    fn expire_queued(&mut self, now: Instant) {
        let (expired, kept): (Vec<_>, Vec<_>) = self.queued.drain(..).partition(|q| q.deadline <= now);
        self.queued = kept.into();
        for q in expired {
            self.reply(q.app.id, Err(RequestError::Timeout { timeout_ms: q.app.timeout.as_millis() as u64 }));
        }
    }

    /// Fails every app request in flight with `err()`; the plug-in's are dropped.
    fn fail_in_flight(&mut self, err: impl Fn() -> RequestError) {
        for (_, pending) in self.requests.drain() {
            if let Pending::App(app) = pending {
                self.reply(app.id, Err(err()));
            }
        }
    }

    /// Fails every request: in flight with `err()`, queued ones too.
    fn fail_pending(&mut self, err: impl Fn() -> RequestError) {
        self.fail_in_flight(&err);
        for q in std::mem::take(&mut self.queued) {
            self.reply(q.app.id, Err(err()));
        }
    }

    /// Reports a frame (`seq`) or a command result that could not be decoded.
    pub fn decode_error(&mut self, seq: Option<u64>, event: Option<String>, error: DecodeError) {
        self.stats.decode_errors += 1;
        let epoch = self.epoch();
        self.diagnostic(Diagnostic::DecodeError { epoch, seq, event, error });
    }
}

/// One connection to one engine, generic over its protocol. See the module docs for the
/// poll order.
pub struct Connection<P: Protocol> {
    protocol: P,
    link: Link<P>,
    seq: SeqTracker<FrameBody<P::Event>>,
}

impl<P: Protocol> Connection<P> {
    /// A connection that immediately asks the shell to open its first socket.
    pub fn start(protocol: P, config: EngineConfig, now: Instant) -> Self {
        let lifecycle_config = LifecycleConfig {
            backoff: config.backoff.clone(),
            connect_timeout: config.connect_timeout,
            ..LifecycleConfig::default()
        };
        let link = Link {
            lifecycle: Lifecycle::start(lifecycle_config, config.rng_seed, now),
            requests: Requests::new(config.max_requests),
            timers: Timers::new(),
            transmit: VecDeque::new(),
            outputs: VecDeque::new(),
            queued: VecDeque::new(),
            pinging: false,
            went_live: None,
            auth_message: None,
            lost: Vec::new(),
            pending_resync: None,
            early_report: None,
            reconnecting: false,
            rejected: None,
            commands: VecDeque::new(),
            stats: ClientStats::default(),
            now,
            config: config.clone(),
        };
        let mut connection = Self { protocol, link, seq: SeqTracker::new(config.seq) };
        connection.link.pump();
        connection
    }

    // ── getters ─────────────────────────────────────────────────────────────

    /// The connection state.
    #[must_use]
    pub fn state(&self) -> ConnState {
        self.link.state()
    }

    /// The current connection number.
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.link.epoch()
    }

    /// The time of the latest input.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.link.now
    }

    /// The largest frame the connection decodes.
    #[must_use]
    pub fn max_frame_bytes(&self) -> usize {
        self.link.config.max_frame_bytes
    }

    /// The protocol plug-in (its own getters).
    #[must_use]
    pub fn protocol(&self) -> &P {
        &self.protocol
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        let seq = self.seq.stats();
        ClientStats {
            epoch: self.epoch(),
            duplicates: seq.duplicates + self.link.stats.duplicates,
            gaps: seq.gaps,
            missing: seq.missing,
            buffered: (self.seq.buffered() + self.protocol.held_frames()) as u64,
            requests_in_flight: (self.link.requests.len() + self.link.queued.len()) as u32,
            ..self.link.stats.clone()
        }
    }

    // ── inputs from the shell ───────────────────────────────────────────────

    /// The socket of `epoch` opened: the shell is asked for the credential (or, for a
    /// credential in the URL, the plug-in's subscribe round starts at once).
    pub fn handle_open(&mut self, now: Instant, epoch: u32) {
        if !self.is_current(epoch, now) || self.state() != ConnState::Connecting {
            return;
        }
        self.link.lifecycle.opened();
        self.link.pump();
        if P::AUTH_BY_REQUEST {
            self.link.outputs.push_back(Output::NeedCredential { epoch });
        } else {
            self.authenticated(None);
            self.settle();
        }
    }

    /// The credential for the socket of `epoch` (or why obtaining it failed).
    pub fn provide_credential(&mut self, now: Instant, epoch: u32, credential: Result<String, String>) {
        if !self.is_current(epoch, now) || self.state() != ConnState::Authenticating {
            return;
        }
        // A blank credential (a token not loaded yet) is not sent: the engine would refuse it
        // for good (`authFailed`); as a failed attempt it is retried with backoff instead.
        let credential = credential.and_then(|c| if c.trim().is_empty() { Err("the auth callback gave an empty credential".to_string()) } else { Ok(c) });
        match credential {
            Ok(credential) => {
                let (command, args) = self.protocol.auth_request(&credential);
                self.link.send_request(command, args, None, Pending::Auth);
            }
            Err(message) => {
                self.link.diagnostic(Diagnostic::CredentialError { message });
                self.lose(LossReason::Protocol { message: "the credential callback failed".into() });
            }
        }
    }

    /// A frame arrived on the socket of `epoch`.
    pub fn handle_frame(&mut self, now: Instant, epoch: u32, bytes: &[u8]) {
        if !self.frame_arrived(now, epoch) {
            return;
        }
        if bytes.len() > self.link.config.max_frame_bytes {
            self.oversized(epoch, bytes.len());
            return;
        }
        match self.protocol.decode(bytes) {
            Err(error) => self.link.decode_error(None, None, error),
            Ok(frame) => match frame.seq.filter(|&s| s > 0) {
                // In order with nothing held, as nearly every frame is: no list to go through.
                Some(seq) if self.seq.take_next(seq) => self.process(Some(seq), frame.body),
                Some(seq) => {
                    let mut out = Vec::new();
                    self.seq.push(now, seq, frame.body, &mut out);
                    self.apply_seq(out);
                }
                None => self.process(None, frame.body),
            },
        }
        self.settle();
    }

    /// A frame of at least `bytes` bytes arrived that the shell dropped unread because it
    /// is over [`Self::max_frame_bytes`] (so a huge frame is never copied into the module).
    pub fn handle_oversized_frame(&mut self, now: Instant, epoch: u32, bytes: usize) {
        if self.frame_arrived(now, epoch) {
            self.oversized(epoch, bytes);
        }
    }

    /// The socket of `epoch` closed (or failed to open).
    pub fn handle_close(&mut self, now: Instant, epoch: u32, code: u16, reason: &str) {
        if self.is_current(epoch, now) {
            self.lose(LossReason::Closed { code, reason: reason.to_string() });
        }
    }

    /// The browser came back online or the page became visible.
    pub fn handle_wake(&mut self, now: Instant, why: Wake) {
        self.link.now = now;
        // A socket that survived a network change may be a zombie: check it now.
        self.link.send_ping();
        self.link.lifecycle.wake(now, why);
        self.link.pump();
    }

    /// The page is being hidden (`pagehide`: into the back/forward cache, or unloaded): the
    /// socket is closed cleanly now, where the browser would cut it and report that only
    /// after a restore, and the client waits for `handle_wake` (`pageshow`) to reconnect.
    pub fn handle_page_hidden(&mut self, now: Instant) {
        self.link.now = now;
        if self.state().has_socket() {
            self.lose(LossReason::PageHidden);
        } else {
            self.link.lifecycle.hold();
            self.link.pump();
        }
    }

    /// Feeds the wall clock beside the monotonic one; after a detected sleep the current
    /// socket is checked with an immediate ping.
    pub fn handle_clocks(&mut self, now: Instant, wall_ms: u64) {
        self.link.now = now;
        if self.link.lifecycle.observe_clocks(now, wall_ms) {
            self.link.send_ping();
        }
        self.link.pump();
    }

    /// Fires every deadline that is due. A spurious call is a no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.link.now = now;
        if self.link.lifecycle.connect_deadline_passed(now) {
            self.lose(LossReason::ConnectTimeout);
        }
        self.link.lifecycle.handle_timeout(now);
        self.link.pump();
        let mut out = Vec::new();
        self.seq.handle_timeout(now, &mut out);
        self.apply_seq(out);
        self.expire_requests(now);
        self.link.expire_queued(now);
        for timer in self.link.timers.pop_expired(now) {
            match timer {
                Timer::Heartbeat => self.link.send_ping(),
                Timer::Protocol(t) => self.protocol.on_timer(&mut self.link, t),
            }
        }
        self.settle();
    }

    // ── app intents ─────────────────────────────────────────────────────────

    /// Runs a plug-in intent (subscribe, unsubscribe, …) with the link, then settles.
    pub fn with_protocol<R>(&mut self, now: Instant, f: impl FnOnce(&mut P, &mut Link<P>) -> R) -> R {
        self.link.now = now.max(self.link.now);
        let result = f(&mut self.protocol, &mut self.link);
        self.settle();
        result
    }

    /// Sends app call `id` once the connection is live; its result arrives as
    /// [`Output::Reply`] with that id. `id` is chosen by the app-facing side (so it can
    /// cross a `postMessage` boundary); a refusal is returned and also not replied.
    pub fn call(&mut self, id: u32, call: P::Call, timeout: Option<Duration>) -> Result<(), RequestError> {
        if self.state().is_final() {
            return Err(RequestError::Closed);
        }
        let (command, args, default_timeout) = P::call_request(&call).map_err(|message| RequestError::Invalid { message })?;
        let link = &mut self.link;
        if link.requests.len() + link.queued.len() >= link.config.max_requests {
            return Err(RequestError::Busy);
        }
        let timeout = timeout.or(default_timeout).unwrap_or(link.config.request_timeout);
        let deadline = link.now + timeout;
        link.queued.push_back(Queued { app: AppCall { id, call, timeout }, command, args, deadline });
        link.flush_queued();
        Ok(())
    }

    /// Closes for good: the socket is closed, requests fail with `closed`, timers stop.
    pub fn close(&mut self) {
        if self.state().is_final() {
            return;
        }
        let mut out = Vec::new();
        self.seq.flush(&mut out);
        self.apply_seq(out);
        self.link.fail_pending(|| RequestError::Closed);
        self.link.lifecycle.close();
        self.link.pump();
        self.forget_connection();
        self.link.timers.clear_all();
    }

    // ── outputs ─────────────────────────────────────────────────────────────

    /// Next socket action for the shell.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.link.lifecycle.poll_action()
    }

    /// Next frame to send on the current socket.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.link.transmit.pop_front()
    }

    /// Next output for the app.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output<P::Event>> {
        self.link.outputs.pop_front()
    }

    /// Every pending output, in order (what calling [`Connection::poll_output`] until it is
    /// empty would give), in one move: `list`, which must be empty, and the core's list
    /// trade places, so a shell that hands back its emptied list allocates none per input.
    pub fn swap_outputs(&mut self, list: &mut VecDeque<Output<P::Event>>) {
        debug_assert!(list.is_empty(), "swap_outputs takes an empty list");
        std::mem::swap(list, &mut self.link.outputs);
    }

    /// When [`Connection::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queued = self.link.queued.iter().map(|q| q.deadline).min();
        let link = &self.link;
        // One at a time, not `[…].into_iter().flatten().min()`: the array's iterator was
        // moved whole (an 88-byte copy in wasm) every time the shell asked, once per frame.
        let mut next = earliest(link.lifecycle.poll_timeout(), self.seq.poll_timeout());
        next = earliest(next, link.requests.poll_timeout());
        next = earliest(next, link.timers.next());
        earliest(next, queued)
    }

    // ── internals ───────────────────────────────────────────────────────────

    fn is_current(&mut self, epoch: u32, now: Instant) -> bool {
        self.link.now = now;
        epoch == self.epoch()
    }

    /// Counts a frame of the current socket (any frame proves it alive); false for a frame
    /// of an old socket or one that arrives with no socket in use, which is ignored.
    fn frame_arrived(&mut self, now: Instant, epoch: u32) -> bool {
        if !self.is_current(epoch, now) || !self.state().has_socket() {
            return false;
        }
        self.link.stats.frames_received += 1;
        self.link.arm_heartbeat();
        // A request past its deadline has timed out, whether or not the timer has run yet
        // (a browser may queue its task behind this frame): a reply in this frame is late.
        self.expire_requests(now);
        true
    }

    /// Fails every in-flight request whose deadline is at or before `now`.
    fn expire_requests(&mut self, now: Instant) {
        for (_, pending) in self.link.requests.expire(now) {
            self.request_expired(pending);
        }
    }

    fn oversized(&mut self, epoch: u32, bytes: usize) {
        self.link.stats.oversized += 1;
        let limit = self.link.config.max_frame_bytes as u64;
        self.link.diagnostic(Diagnostic::OversizedFrame { epoch, bytes: bytes as u64, limit });
    }

    /// After every input: a connection that went live reports its resync, starts its
    /// heartbeat and sends the requests that waited for it.
    fn settle(&mut self) {
        if let Some(message) = self.link.rejected.take() {
            self.credential_rejected(message);
        }
        if let Some(offline) = self.link.went_live.take() {
            if let Some(offline) = offline {
                self.link.reconnecting = true;
                let mut resynced = self.protocol.on_reconnected(&mut self.link);
                self.link.reconnecting = false;
                if let Some((replayed, unreplayable)) = self.link.early_report.take() {
                    resynced.replayed.extend(replayed);
                    resynced.unreplayable.extend(unreplayable);
                    resynced.replaying = false;
                }
                let lost = std::mem::take(&mut self.link.lost);
                let (epoch, offline_ms) = (self.epoch(), offline.as_millis() as u64);
                let Resynced { resubscribed, reseeded, replayed, unreplayable, replaying } = resynced;
                let diagnostic =
                    Diagnostic::Resync { epoch, offline_ms, lost, resubscribed, reseeded, replayed, unreplayable };
                if replaying {
                    self.link.pending_resync = Some(diagnostic);
                } else {
                    self.link.diagnostic(diagnostic);
                }
            }
            self.link.arm_heartbeat();
            self.link.flush_queued();
        }
    }

    fn apply_seq(&mut self, out: Vec<SeqEvent<FrameBody<P::Event>>>) {
        let epoch = self.epoch();
        for ev in out {
            match ev {
                SeqEvent::Deliver { seq, item } => self.process(Some(seq), item),
                SeqEvent::Gap { first, last } => {
                    let missing = last - first + 1;
                    self.link.diagnostic(Diagnostic::Gap { epoch, first, last, missing });
                }
                SeqEvent::Duplicate { seq } => self.link.diagnostic(Diagnostic::Duplicate { epoch, seq }),
                SeqEvent::Late { seq, item } => {
                    self.link.diagnostic(Diagnostic::Late { epoch, seq });
                    // Dropping a late event keeps order; a late response still answers its
                    // request (dropping it would only turn into a timeout).
                    match item {
                        FrameBody::Response(response) => self.on_response(response),
                        _ => self.link.stats.late += 1,
                    }
                }
                SeqEvent::Anomaly { seq, expected } => {
                    self.link.diagnostic(Diagnostic::SeqAnomaly { epoch, seq, expected });
                }
            }
        }
    }

    fn process(&mut self, seq: Option<u64>, body: FrameBody<P::Event>) {
        match body {
            FrameBody::Response(response) => self.on_response(response),
            FrameBody::Event(event) => self.protocol.on_event(&mut self.link, seq, event),
            FrameBody::UndecodableEvent { event, error } => self.link.decode_error(seq, Some(event), error),
            FrameBody::Ignored { .. } => self.link.stats.ignored += 1,
            FrameBody::Duplicate => self.link.stats.duplicates += 1,
        }
    }

    fn on_response(&mut self, response: Response) {
        self.link.stats.responses += 1;
        let request_seq = response.request_seq.or_else(|| self.link.oldest_request_for(&response.command));
        let Some(pending) = request_seq.and_then(|s| self.link.requests.complete(s)) else {
            let (epoch, request_seq, command) = (self.epoch(), response.request_seq, response.command);
            self.link.diagnostic(Diagnostic::UnknownResponse { epoch, request_seq, command });
            return;
        };
        match pending {
            Pending::Auth => self.on_auth(response),
            Pending::Ping => self.link.pinging = false,
            Pending::App(app) => {
                let result = if response.success {
                    self.protocol.on_app_reply(&mut self.link, &app.call, &response);
                    P::decode_reply(&app.call, response.body.as_deref())
                } else {
                    Err(server_error(&response))
                };
                self.link.reply(app.id, result);
            }
            Pending::Protocol(request) => self.protocol.on_response(&mut self.link, request, response),
        }
    }

    fn on_auth(&mut self, response: Response) {
        if !response.success {
            // Every auth failure is a rejection of the credential: stop.
            let message = response.message.clone().unwrap_or_else(|| "authentication failed".into());
            return self.credential_rejected(message);
        }
        self.authenticated(response.body.as_deref());
    }

    fn authenticated(&mut self, body: Option<&str>) {
        self.link.lifecycle.authenticated();
        self.link.pump();
        self.protocol.on_authenticated(&mut self.link, body);
    }

    /// The server refused the credential: stop for good in `authFailed`.
    fn credential_rejected(&mut self, message: String) {
        self.link.auth_message = Some(message);
        self.link.lifecycle.auth_rejected();
        self.link.pump();
        self.forget_connection();
        self.link.fail_pending(|| RequestError::Closed);
    }

    fn request_expired(&mut self, pending: Pending<P::Request, P::Call>) {
        match pending {
            Pending::Auth => {} // the connect deadline handles a silent handshake
            Pending::Ping => self.lose(LossReason::HeartbeatTimeout),
            Pending::App(app) => {
                self.link.reply(app.id, Err(RequestError::Timeout { timeout_ms: app.timeout.as_millis() as u64 }));
            }
            Pending::Protocol(request) => self.protocol.on_request_expired(&mut self.link, request),
        }
    }

    /// Gives up on the current connection: flushes what the seq buffer holds, fails
    /// requests in flight, lets the plug-in forget the server's state, backs off.
    fn lose(&mut self, reason: LossReason) {
        if !self.state().has_socket() {
            return;
        }
        let mut out = Vec::new();
        self.seq.flush(&mut out);
        self.apply_seq(out);
        self.note_lost_tail();
        self.link.lifecycle.lost(self.link.now, reason);
        self.link.pump();
        self.forget_connection();
        if self.state().is_final() {
            self.link.fail_pending(|| RequestError::Closed);
        }
    }

    /// Everything tied to the socket that is gone: seq state, requests in flight, unsent
    /// frames, the heartbeat, and what the server held for it.
    fn forget_connection(&mut self) {
        self.seq.reset();
        self.link.fail_in_flight(|| RequestError::ConnectionLost);
        self.link.commands.clear();
        self.link.transmit.clear();
        self.link.pinging = false;
        self.link.went_live = None;
        self.link.timers.clear(Timer::Heartbeat);
        self.protocol.on_lost(&mut self.link);
        // A replay the loss cut short: report what the plug-in did not.
        self.link.finish_resync(Vec::new(), Vec::new());
    }

    /// Remembers where a subscribed connection's stream broke off, for the next `resync`.
    /// Only subscribed connections can have had events; the list is bounded because a
    /// server that keeps failing mid-subscribe would otherwise grow it while offline.
    fn note_lost_tail(&mut self) {
        if self.link.is_connected() {
            if self.link.lost.len() == MAX_LOST_TAILS {
                self.link.lost.remove(0);
            }
            let last_seq = self.seq.expected().saturating_sub(1);
            self.link.lost.push(LostTail { epoch: self.epoch(), last_seq });
        }
    }
}

fn server_error(response: &Response) -> RequestError {
    RequestError::Server {
        message: response.message.clone().unwrap_or_else(|| format!("{} failed", response.command)),
        trace: response.trace.clone(),
    }
}

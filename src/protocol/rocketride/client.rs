//! The sans-IO RocketRide monitor client.
//!
//! [`Client`] owns the whole protocol: authentication, the desired subscription set and
//! its merge into server keys, request correlation, seq ordering, heartbeats, reconnect
//! with resubscribe and re-seed. It does no IO: the shell feeds it socket events and time,
//! and drains what it produces, in this order after every input:
//!
//! 1. [`Client::poll_action`] — open or close a socket;
//! 2. [`Client::poll_transmit`] — text frames to send on the current socket;
//! 3. [`Client::poll_output`] — state changes, routed events, diagnostics, replies;
//! 4. [`Client::poll_timeout`] — when to call [`Client::handle_timeout`] next.
//!
//! Inputs carry the socket's epoch (from [`Action::Open`]); anything from an older socket
//! is ignored, so a late close or frame of a dead socket can never corrupt the new one.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;

use super::commands::{self, Command};
use super::envelope::{decode_frame, FrameBody, Response};
use super::events::{RocketRideEvent, TaskEvent, TaskRef};
use super::monitor_types::MonitorTypes;
use super::outputs::{Delivered, Delivery, Diagnostic, LostTail, Output, RequestError, StateChange};
use super::scope::Scope;
use super::subscriptions::{EventRoute, MonitorCall, Registry, SubId};
use super::task_status::TaskStatus;
use crate::core::backoff::BackoffConfig;
use crate::core::lifecycle::{Action, ConnState, Lifecycle, LifecycleConfig, LossReason, Wake};
use crate::core::requests::Requests;
use crate::core::seq::{SeqConfig, SeqEvent, SeqTracker};
use crate::core::time::{Duration, Instant};
use crate::core::timers::Timers;

/// How many lost connections one `resync` reports at most (the newest are kept).
const MAX_LOST_TAILS: usize = 32;

/// Tunables. `Default` is what a browser dashboard wants.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    pub backoff: BackoffConfig,
    pub seq: SeqConfig,
    /// Connecting + authenticating + subscribing must finish within this.
    pub connect_timeout: Duration,
    /// Default timeout of app requests.
    pub request_timeout: Duration,
    /// Send `rrext_ping` after this long without any inbound frame.
    pub heartbeat_interval: Duration,
    /// Declare the socket dead when a ping gets no answer within this.
    pub heartbeat_timeout: Duration,
    /// Frames larger than this are dropped unread (the server allows 250 MB).
    pub max_frame_bytes: usize,
    /// Requests in flight (including queued ones) at most.
    pub max_requests: usize,
    /// Sent in `auth` so the engine's dashboards can name this client.
    pub client_name: String,
    pub client_version: String,
    /// After a task ends, re-assert its source subscriptions this much later: the server
    /// deletes them silently ~5–6 min after completion (spec §3.6).
    pub reassert_after_end: Duration,
    /// Seed of the injected RNG (backoff jitter).
    pub rng_seed: u64,
}

impl Default for ClientConfig {
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
            client_name: "runwatch".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            reassert_after_end: Duration::from_secs(370),
            rng_seed: 0,
        }
    }
}

/// Counters the app can read at any time.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ClientStats {
    pub epoch: u32,
    pub frames_received: u64,
    pub events_delivered: u64,
    pub duplicates: u64,
    pub gaps: u64,
    pub missing: u64,
    pub late: u64,
    pub decode_errors: u64,
    pub reconnects: u64,
    pub requests_in_flight: u32,
}

/// What a request in flight is for.
#[derive(Clone, Debug)]
enum Pending {
    Auth,
    Monitor(MonitorCall),
    Ping,
    App { id: u32, timeout: Duration },
    ReseedStatus { task_id: String },
    ReseedDashboard,
}

/// An app request waiting for the connection to be live.
struct Queued {
    id: u32,
    command: String,
    args: Value,
    deadline: Instant,
    timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Heartbeat,
    Reassert,
}

/// The RocketRide monitor client state machine. See the module docs for the poll order.
pub struct Client {
    config: ClientConfig,
    lifecycle: Lifecycle,
    registry: Registry,
    requests: Requests<Pending>,
    seq: SeqTracker<FrameBody>,
    timers: Timers<Timer>,
    transmit: VecDeque<String>,
    outputs: VecDeque<Output>,
    queued: VecDeque<Queued>,
    next_app_id: u32,
    /// Monitor calls of the current (re)subscribe round still unanswered.
    subscribing: usize,
    /// A heartbeat ping is in flight.
    pinging: bool,
    /// Task tokens the server returned (`execute`): token → task id, for re-seeding.
    tokens: BTreeMap<String, String>,
    /// Source keys to re-assert, by when (after their task ended).
    reassert: Vec<(Instant, String, String)>,
    auth_message: Option<String>,
    /// Subscribed connections lost since the last live one (for the next `resync`).
    lost: Vec<LostTail>,
    stats: ClientStats,
    now: Instant,
}

impl Client {
    /// A client that immediately asks the shell to open its first socket.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let lifecycle_config = LifecycleConfig {
            backoff: config.backoff.clone(),
            connect_timeout: config.connect_timeout,
            ..LifecycleConfig::default()
        };
        let lifecycle = Lifecycle::start(lifecycle_config, config.rng_seed, now);
        let mut client = Self {
            registry: Registry::new(4096),
            requests: Requests::new(config.max_requests),
            seq: SeqTracker::new(config.seq.clone()),
            lifecycle,
            timers: Timers::new(),
            transmit: VecDeque::new(),
            outputs: VecDeque::new(),
            queued: VecDeque::new(),
            next_app_id: 1,
            subscribing: 0,
            pinging: false,
            tokens: BTreeMap::new(),
            reassert: Vec::new(),
            auth_message: None,
            lost: Vec::new(),
            stats: ClientStats::default(),
            now,
            config,
        };
        client.pump_lifecycle();
        client
    }

    // ── getters ─────────────────────────────────────────────────────────────

    /// The connection state.
    #[must_use]
    pub fn state(&self) -> ConnState {
        self.lifecycle.state()
    }

    /// The current connection number.
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.lifecycle.epoch()
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> ClientStats {
        let seq = self.seq.stats();
        ClientStats {
            epoch: self.epoch(),
            duplicates: seq.duplicates,
            gaps: seq.gaps,
            missing: seq.missing,
            late: seq.late,
            requests_in_flight: (self.requests.len() + self.queued.len()) as u32,
            ..self.stats.clone()
        }
    }

    /// The server keys and masks this client believes the server holds.
    #[must_use]
    pub fn held_subscriptions(&self) -> Vec<(String, MonitorTypes)> {
        self.registry.held().into_iter().map(|(k, t)| (k.to_string(), t)).collect()
    }

    // ── inputs from the shell ───────────────────────────────────────────────

    /// The socket of `epoch` opened: the shell is asked for the credential.
    pub fn handle_open(&mut self, now: Instant, epoch: u32) {
        if !self.is_current(epoch, now) || self.state() != ConnState::Connecting {
            return;
        }
        self.lifecycle.opened();
        self.outputs.push_back(Output::NeedCredential { epoch });
        self.pump_lifecycle();
    }

    /// The credential for the socket of `epoch` (or why obtaining it failed). Sent as
    /// the first request; it never goes into a URL, a log or a diagnostic.
    pub fn provide_credential(&mut self, now: Instant, epoch: u32, credential: Result<String, String>) {
        if !self.is_current(epoch, now) || self.state() != ConnState::Authenticating {
            return;
        }
        match credential {
            Ok(credential) => {
                let args = commands::auth_arguments(&credential, &self.config.client_name, &self.config.client_version);
                self.send_request(Command::AUTH, args, None, Pending::Auth);
            }
            Err(message) => {
                self.diagnostic(Diagnostic::CredentialError { message });
                self.lose(LossReason::Protocol { message: "the credential callback failed".into() });
            }
        }
        self.pump_lifecycle();
    }

    /// A text (or binary) frame arrived on the socket of `epoch`.
    pub fn handle_frame(&mut self, now: Instant, epoch: u32, bytes: &[u8]) {
        if !self.frame_arrived(now, epoch) {
            return;
        }
        if bytes.len() > self.config.max_frame_bytes {
            self.oversized(epoch, bytes.len());
            return;
        }
        match decode_frame(bytes) {
            Err(error) => self.decode_error(None, None, error),
            Ok(frame) => match frame.seq.filter(|&s| s > 0) {
                Some(seq) => {
                    let mut out = Vec::new();
                    self.seq.push(now, seq, frame.body, &mut out);
                    self.apply_seq(out);
                }
                None => self.process(None, frame.body),
            },
        }
        self.pump_lifecycle();
    }

    /// A frame of at least `bytes` bytes arrived that the shell dropped unread because it
    /// is over [`Self::max_frame_bytes`] (so a huge frame is never copied into the module).
    pub fn handle_oversized_frame(&mut self, now: Instant, epoch: u32, bytes: usize) {
        if self.frame_arrived(now, epoch) {
            self.oversized(epoch, bytes);
            self.pump_lifecycle();
        }
    }

    /// Counts a frame of the current socket (any frame proves it alive); false for a frame
    /// of an old socket or one that arrives with no socket in use, which is ignored.
    fn frame_arrived(&mut self, now: Instant, epoch: u32) -> bool {
        if !self.is_current(epoch, now) || !self.state().has_socket() {
            return false;
        }
        self.stats.frames_received += 1;
        self.arm_heartbeat();
        true
    }

    /// The largest frame the client decodes.
    #[must_use]
    pub fn max_frame_bytes(&self) -> usize {
        self.config.max_frame_bytes
    }

    fn oversized(&mut self, epoch: u32, bytes: usize) {
        let limit = self.config.max_frame_bytes as u64;
        self.diagnostic(Diagnostic::OversizedFrame { epoch, bytes: bytes as u64, limit });
    }

    /// The socket of `epoch` closed (or failed to open).
    pub fn handle_close(&mut self, now: Instant, epoch: u32, code: u16, reason: &str) {
        if !self.is_current(epoch, now) {
            return;
        }
        self.lose(LossReason::Closed { code, reason: reason.to_string() });
        self.pump_lifecycle();
    }

    /// The browser came back online or the page became visible.
    pub fn handle_wake(&mut self, now: Instant, why: Wake) {
        self.now = now;
        if self.state() == ConnState::Live {
            // A socket that survived a network change may be a zombie: check it now.
            self.send_ping();
        }
        self.lifecycle.wake(now, why);
        self.pump_lifecycle();
    }

    /// Feeds the wall clock beside the monotonic one; after a detected sleep the
    /// current socket is checked with an immediate ping.
    pub fn handle_clocks(&mut self, now: Instant, wall_ms: u64) {
        self.now = now;
        if self.lifecycle.observe_clocks(now, wall_ms) && self.state() == ConnState::Live {
            self.send_ping();
        }
        self.pump_lifecycle();
    }

    /// Fires every deadline that is due. A spurious call is a no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.lifecycle.handle_timeout(now);
        let mut out = Vec::new();
        self.seq.handle_timeout(now, &mut out);
        self.apply_seq(out);
        for (_, pending) in self.requests.expire(now) {
            self.request_expired(pending);
        }
        self.expire_queued(now);
        for timer in self.timers.pop_expired(now) {
            match timer {
                Timer::Heartbeat => self.send_ping(),
                Timer::Reassert => self.reassert_due(now),
            }
        }
        self.pump_lifecycle();
    }

    // ── app intents ─────────────────────────────────────────────────────────

    /// Adds a subscription; its events are delivered with its id.
    pub fn subscribe(&mut self, scope: Scope, types: MonitorTypes) -> SubId {
        let id = self.registry.subscribe(scope, types);
        self.sync_subscriptions();
        id
    }

    /// Removes a subscription. Unknown ids are ignored.
    pub fn unsubscribe(&mut self, id: SubId) {
        if self.registry.unsubscribe(id) {
            self.sync_subscriptions();
        }
    }

    /// Sends `command` with `args` when the connection is live; the result arrives as
    /// [`Output::Reply`] with the returned id.
    pub fn request(&mut self, command: &str, args: Value, timeout: Option<Duration>) -> Result<u32, RequestError> {
        if self.state().is_final() {
            return Err(RequestError::Closed);
        }
        if command == Command::AUTH {
            let message = "`auth` is managed by the client; pass the credential in the options".into();
            return Err(RequestError::Invalid { message });
        }
        if self.requests.len() + self.queued.len() >= self.config.max_requests {
            return Err(RequestError::Busy);
        }
        let id = self.next_app_id;
        self.next_app_id += 1;
        let timeout = timeout.unwrap_or(self.config.request_timeout);
        let deadline = self.now + timeout;
        self.queued.push_back(Queued { id, command: command.to_string(), args, deadline, timeout });
        self.flush_queued();
        Ok(id)
    }

    /// Closes the client for good; pending requests fail with `closed`.
    pub fn close(&mut self) {
        self.lifecycle.close();
        self.fail_pending(|| RequestError::Closed);
        self.timers.clear_all();
        self.pump_lifecycle();
    }

    // ── outputs for the shell ───────────────────────────────────────────────

    /// Next socket action.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.lifecycle.poll_action()
    }

    /// Next frame to send on the current socket.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.transmit.pop_front()
    }

    /// Next output for the app.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Client::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queued = self.queued.iter().map(|q| q.deadline).min();
        [self.lifecycle.poll_timeout(), self.seq.poll_timeout(), self.requests.poll_timeout(), self.timers.next(), queued]
            .into_iter()
            .flatten()
            .min()
    }

    // ── internals ───────────────────────────────────────────────────────────

    fn is_current(&mut self, epoch: u32, now: Instant) -> bool {
        self.now = now;
        epoch == self.lifecycle.epoch()
    }

    /// Moves lifecycle transitions to the app as state changes.
    fn pump_lifecycle(&mut self) {
        while let Some(t) = self.lifecycle.poll_transition() {
            let message = (t.new_state == ConnState::AuthFailed).then(|| self.auth_message.take()).flatten();
            if t.new_state == ConnState::Connecting && t.epoch > 1 {
                self.stats.reconnects += 1;
            }
            let change = StateChange { new_state: t.new_state, old_state: t.old_state, epoch: t.epoch, reason: t.reason, message };
            self.outputs.push_back(Output::State(change));
        }
    }

    fn diagnostic(&mut self, d: Diagnostic) {
        self.outputs.push_back(Output::Diagnostic(d));
    }

    fn decode_error(&mut self, seq: Option<u64>, event: Option<String>, error: super::envelope::DecodeError) {
        self.stats.decode_errors += 1;
        let epoch = self.epoch();
        self.diagnostic(Diagnostic::DecodeError { epoch, seq, event, error });
    }

    fn apply_seq(&mut self, out: Vec<SeqEvent<FrameBody>>) {
        let epoch = self.epoch();
        for ev in out {
            match ev {
                SeqEvent::Deliver { seq, item } => self.process(Some(seq), item),
                SeqEvent::Gap { first, last } => {
                    let missing = last - first + 1;
                    self.diagnostic(Diagnostic::Gap { epoch, first, last, missing });
                }
                SeqEvent::Duplicate { seq } => self.diagnostic(Diagnostic::Duplicate { epoch, seq }),
                SeqEvent::Late { seq, item } => {
                    self.diagnostic(Diagnostic::Late { epoch, seq });
                    // Dropping a late event keeps order; a late response still answers its
                    // request (dropping it would only turn into a timeout).
                    if let FrameBody::Response(response) = item {
                        self.on_response(response);
                    }
                }
                SeqEvent::Anomaly { seq, expected } => self.diagnostic(Diagnostic::SeqAnomaly { epoch, seq, expected }),
            }
        }
    }

    fn process(&mut self, seq: Option<u64>, body: FrameBody) {
        match body {
            FrameBody::Response(response) => self.on_response(response),
            FrameBody::Event(event) => self.on_event(seq, event),
            FrameBody::UndecodableEvent { event, error } => self.decode_error(seq, Some(event), error),
            FrameBody::Ignored { .. } => {}
        }
    }

    // ── requests ────────────────────────────────────────────────────────────

    fn send_request(&mut self, command: &str, args: Value, timeout: Option<Duration>, pending: Pending) -> bool {
        match self.requests.start(self.now, timeout, pending) {
            Ok(seq) => {
                self.transmit.push_back(commands::request_frame(seq, command, &args));
                true
            }
            Err(_) => false,
        }
    }

    fn on_response(&mut self, response: Response) {
        let Some(pending) = response.request_seq.and_then(|s| self.requests.complete(s)) else {
            let (epoch, request_seq, command) = (self.epoch(), response.request_seq, response.command);
            self.diagnostic(Diagnostic::UnknownResponse { epoch, request_seq, command });
            return;
        };
        match pending {
            Pending::Auth => self.on_auth(response),
            Pending::Monitor(call) => self.on_monitor(call, response),
            Pending::Ping => self.pinging = false,
            Pending::App { id, .. } => self.reply(id, response),
            Pending::ReseedStatus { task_id } => self.on_reseed_status(task_id, response),
            Pending::ReseedDashboard => self.on_reseed_dashboard(response),
        }
    }

    fn reply(&mut self, id: u32, response: Response) {
        let result = if response.success {
            if let Some(learned) = commands::learn_from_result(&response.command, response.body.as_deref()) {
                self.learn_token(&learned.token, &learned.project_id, &learned.source);
            }
            Ok(response.body.map(|b| b.get().to_string()))
        } else {
            Err(server_error(&response))
        };
        self.outputs.push_back(Output::Reply { id, result });
    }

    fn request_expired(&mut self, pending: Pending) {
        match pending {
            Pending::Auth => {} // the connect deadline handles a silent handshake
            Pending::Ping => self.lose(LossReason::HeartbeatTimeout),
            Pending::Monitor(call) => {
                self.registry.call_failed(&call);
                let key = call.key.to_string();
                self.diagnostic(Diagnostic::SubscribeError { key, message: "no response to rrext_monitor".into() });
                self.monitor_answered();
                // The server may have applied the call all the same: send the key's desired
                // mask again, or it could keep a mask nobody wants until the next reconnect.
                self.sync_subscriptions();
            }
            Pending::App { id, timeout } => {
                let timeout_ms = timeout.as_millis() as u64;
                self.outputs.push_back(Output::Reply { id, result: Err(RequestError::Timeout { timeout_ms }) });
            }
            Pending::ReseedStatus { .. } | Pending::ReseedDashboard => {}
        }
    }

    fn flush_queued(&mut self) {
        while self.state() == ConnState::Live {
            let Some(q) = self.queued.pop_front() else { break };
            if !self.send_request(&q.command, q.args, Some(q.timeout), Pending::App { id: q.id, timeout: q.timeout }) {
                self.outputs.push_back(Output::Reply { id: q.id, result: Err(RequestError::Busy) });
            }
        }
    }

    fn expire_queued(&mut self, now: Instant) {
        let (expired, kept): (Vec<_>, Vec<_>) = self.queued.drain(..).partition(|q| q.deadline <= now);
        self.queued = kept.into();
        for q in expired {
            let timeout_ms = q.timeout.as_millis() as u64;
            self.outputs.push_back(Output::Reply { id: q.id, result: Err(RequestError::Timeout { timeout_ms }) });
        }
    }

    /// Fails every app request in flight with `err()`; other requests are dropped.
    fn fail_in_flight(&mut self, err: impl Fn() -> RequestError) {
        for (_, pending) in self.requests.drain() {
            if let Pending::App { id, .. } = pending {
                self.outputs.push_back(Output::Reply { id, result: Err(err()) });
            }
        }
    }

    /// Fails every request: in flight with `err()`, queued ones too.
    fn fail_pending(&mut self, err: impl Fn() -> RequestError) {
        self.fail_in_flight(&err);
        for q in std::mem::take(&mut self.queued) {
            self.outputs.push_back(Output::Reply { id: q.id, result: Err(err()) });
        }
    }

    // ── auth, subscriptions, heartbeat ──────────────────────────────────────

    fn on_auth(&mut self, response: Response) {
        if !response.success {
            // Every auth failure is a rejection of the credential (spec §1.3): stop.
            self.auth_message = response.message.clone().or_else(|| Some("authentication failed".into()));
            self.lifecycle.auth_rejected();
            self.fail_pending(|| RequestError::Closed);
            return;
        }
        self.lifecycle.authenticated();
        self.registry.connection_lost();
        let calls = self.registry.sync();
        self.subscribing = calls.len();
        for call in calls {
            self.send_monitor(call);
        }
        if self.subscribing == 0 {
            self.enter_live();
        }
    }

    fn send_monitor(&mut self, call: MonitorCall) {
        let args = call.arguments();
        if !self.send_request(Command::MONITOR, args, Some(self.config.request_timeout), Pending::Monitor(call.clone())) {
            self.registry.call_failed(&call);
        }
    }

    fn on_monitor(&mut self, call: MonitorCall, response: Response) {
        if !response.success {
            self.registry.call_failed(&call);
            let message = response.message.unwrap_or_default();
            self.diagnostic(Diagnostic::SubscribeError { key: call.key.to_string(), message });
        }
        self.monitor_answered();
    }

    fn monitor_answered(&mut self) {
        if self.subscribing > 0 {
            self.subscribing -= 1;
            if self.subscribing == 0 && self.state() == ConnState::Subscribing {
                self.enter_live();
            }
        }
    }

    fn enter_live(&mut self) {
        let resubscribed: Vec<String> = self.registry.held().iter().map(|(k, _)| k.to_string()).collect();
        if let Some(offline) = self.lifecycle.subscribed(self.now) {
            let reseeded = self.reseed();
            let (epoch, offline_ms) = (self.epoch(), offline.as_millis() as u64);
            let lost = std::mem::take(&mut self.lost);
            self.diagnostic(Diagnostic::Resync { epoch, offline_ms, lost, resubscribed, reseeded });
        }
        self.arm_heartbeat();
        self.flush_queued();
    }

    /// Applies subscription changes to the server when connected (otherwise the next
    /// connection sends the whole desired set).
    fn sync_subscriptions(&mut self) {
        if matches!(self.state(), ConnState::Live | ConnState::Subscribing) {
            for call in self.registry.sync() {
                self.send_monitor(call);
            }
        }
    }

    fn arm_heartbeat(&mut self) {
        if self.state() == ConnState::Live {
            self.timers.set(Timer::Heartbeat, self.now + self.config.heartbeat_interval);
        }
    }

    fn send_ping(&mut self) {
        if self.state() == ConnState::Live && !self.pinging {
            let timeout = Some(self.config.heartbeat_timeout);
            self.pinging = self.send_request(Command::PING, Value::Object(Default::default()), timeout, Pending::Ping);
        }
    }

    /// Gives up on the current connection: flushes what the seq buffer holds, fails
    /// requests in flight, forgets the server's subscription state.
    fn lose(&mut self, reason: LossReason) {
        if !self.state().has_socket() {
            return;
        }
        let mut out = Vec::new();
        self.seq.flush(&mut out);
        self.apply_seq(out);
        self.note_lost_tail();
        self.seq.reset();
        self.fail_in_flight(|| RequestError::ConnectionLost);
        self.transmit.clear();
        self.subscribing = 0;
        self.pinging = false;
        self.timers.clear(Timer::Heartbeat);
        self.registry.connection_lost();
        self.lifecycle.lost(self.now, reason);
        if self.state().is_final() {
            self.fail_pending(|| RequestError::Closed);
        }
    }

    /// Remembers where a subscribed connection's stream broke off, for the next `resync`.
    /// Only subscribed connections can have had events; the list is bounded because a
    /// server that keeps failing mid-subscribe would otherwise grow it while offline.
    fn note_lost_tail(&mut self) {
        if matches!(self.state(), ConnState::Subscribing | ConnState::Live) {
            if self.lost.len() == MAX_LOST_TAILS {
                self.lost.remove(0);
            }
            let last_seq = self.seq.expected().saturating_sub(1);
            self.lost.push(LostTail { epoch: self.epoch(), last_seq });
        }
    }

    // ── events ──────────────────────────────────────────────────────────────

    fn on_event(&mut self, seq: Option<u64>, event: RocketRideEvent) {
        self.learn_from_event(&event);
        let epoch = self.epoch();
        if let RocketRideEvent::Task(TaskEvent::Running { tasks }) = &event {
            self.deliver_running(seq, tasks.clone());
            return;
        }
        let subscriptions = self.registry.route(&route_of(&event));
        if !subscriptions.is_empty() {
            self.deliver(subscriptions, epoch, seq, event);
        }
    }

    fn deliver(&mut self, subscriptions: Vec<SubId>, epoch: u32, seq: Option<u64>, event: RocketRideEvent) {
        self.stats.events_delivered += 1;
        let event = Arc::new(Delivered { epoch, seq, event });
        self.outputs.push_back(Output::Deliver(Delivery { subscriptions, event }));
    }

    /// The `running` seed lists every visible task whatever the scope (spec §3.4): each
    /// TASK subscription gets only the tasks its scope matches (all-task scopes get all).
    fn deliver_running(&mut self, seq: Option<u64>, tasks: Vec<TaskRef>) {
        let mut per_sub: BTreeMap<SubId, Vec<TaskRef>> = BTreeMap::new();
        let everything = EventRoute { types: Some(MonitorTypes::TASK), task_id: None, project_id: None, source: None, pipe_id: None, server_event: false };
        for id in self.registry.route(&everything) {
            per_sub.insert(id, tasks.clone());
        }
        for task in &tasks {
            let route = EventRoute { task_id: Some(&task.id), project_id: Some(&task.project_id), source: Some(&task.source), ..everything };
            for id in self.registry.route(&route) {
                let mine = per_sub.entry(id).or_default();
                if !mine.contains(task) {
                    mine.push(task.clone());
                }
            }
        }
        let epoch = self.epoch();
        for (id, tasks) in per_sub {
            self.deliver(vec![id], epoch, seq, RocketRideEvent::Task(TaskEvent::Running { tasks }));
        }
    }

    fn learn_from_event(&mut self, event: &RocketRideEvent) {
        match event {
            RocketRideEvent::Task(TaskEvent::Running { tasks }) => {
                for t in tasks {
                    self.learn_task(&t.id, &t.project_id, &t.source);
                }
            }
            RocketRideEvent::Task(TaskEvent::End(t)) => {
                self.learn_task(&t.task_id, &t.project_id, &t.source);
                self.schedule_reassert(&t.project_id, &t.source);
            }
            RocketRideEvent::Dashboard(d) => {
                if let Some(task_id) = d.removed_task_id() {
                    self.task_removed(task_id);
                }
            }
            other => {
                if let (Some(task_id), Some((project_id, source))) = (other.task_id(), other.project_source()) {
                    let (t, p, s) = (task_id.to_string(), project_id.to_string(), source.to_string());
                    self.learn_task(&t, &p, &s);
                }
            }
        }
    }

    fn learn_task(&mut self, task_id: &str, project_id: &str, source: &str) {
        if task_id.is_empty() {
            return;
        }
        self.registry.learn_task(task_id, project_id, source);
        self.sync_subscriptions();
    }

    fn learn_token(&mut self, token: &str, project_id: &str, source: &str) {
        let task_id = commands::task_id_of(token, source);
        self.tokens.insert(token.to_string(), task_id);
        self.registry.learn_token(token, project_id, source);
        self.sync_subscriptions();
    }

    /// The server deleted this task's source keys on every connection (spec §3.6).
    fn task_removed(&mut self, task_id: &str) {
        let before = self.registry.held();
        self.registry.task_removed(task_id);
        self.announce_reasserted(&before, "the server removed the task and its subscriptions");
    }

    fn schedule_reassert(&mut self, project_id: &str, source: &str) {
        let at = self.now + self.config.reassert_after_end;
        self.reassert.retain(|(_, p, s)| !(p == project_id && s == source));
        // Bounded: a dashboard watching thousands of sources keeps the most recent.
        if self.reassert.len() >= 1024 {
            self.reassert.remove(0);
        }
        self.reassert.push((at, project_id.to_string(), source.to_string()));
        self.arm_reassert();
    }

    fn arm_reassert(&mut self) {
        match self.reassert.iter().map(|(at, _, _)| *at).min() {
            Some(at) => self.timers.set(Timer::Reassert, at),
            None => self.timers.clear(Timer::Reassert),
        }
    }

    fn reassert_due(&mut self, now: Instant) {
        let (due, kept): (Vec<_>, Vec<_>) = self.reassert.drain(..).partition(|(at, _, _)| *at <= now);
        self.reassert = kept;
        let before = self.registry.held();
        for (_, project_id, source) in due {
            self.registry.forget_source_keys(&project_id, &source);
        }
        self.announce_reasserted(&before, "the task ended; the server drops its subscriptions after cleanup");
        self.arm_reassert();
    }

    /// Syncs and reports every key that had to be re-sent since `before`.
    fn announce_reasserted(&mut self, before: &[(super::scope::ServerKey, MonitorTypes)], reason: &str) {
        if !matches!(self.state(), ConnState::Live | ConnState::Subscribing) {
            return;
        }
        for call in self.registry.sync() {
            if before.iter().any(|(k, _)| *k == call.key) && !call.types.is_empty() {
                self.diagnostic(Diagnostic::Reasserted { key: call.key.to_string(), reason: reason.into() });
            }
            self.send_monitor(call);
        }
    }

    // ── re-seeding after a reconnect ────────────────────────────────────────

    /// Requests fresh state the offline interval may have changed: the status of every
    /// task whose token is known and that a SUMMARY subscription would see, and the
    /// server dashboard (which also refreshes the task directory). Returns what was asked.
    fn reseed(&mut self) -> Vec<String> {
        let mut reseeded = Vec::new();
        let tokens: Vec<(String, String)> = self.tokens.iter().map(|(t, id)| (t.clone(), id.clone())).collect();
        for (token, task_id) in tokens {
            if !self.wants_status(&task_id) {
                continue;
            }
            let args = commands::token_arguments(&token);
            let pending = Pending::ReseedStatus { task_id: task_id.clone() };
            if self.send_request(Command::GET_TASK_STATUS, args, Some(self.config.request_timeout), pending) {
                reseeded.push(task_id);
            }
        }
        let timeout = Some(self.config.request_timeout);
        if self.send_request(Command::DASHBOARD, Value::Object(Default::default()), timeout, Pending::ReseedDashboard) {
            reseeded.push("dashboard".into());
        }
        reseeded
    }

    fn wants_status(&self, task_id: &str) -> bool {
        let (project_id, source) = match self.registry.directory().lookup(task_id) {
            Some((p, s)) => (Some(p), Some(s)),
            None => (None, None),
        };
        let route = EventRoute { types: Some(MonitorTypes::SUMMARY), task_id: Some(task_id), project_id, source, pipe_id: None, server_event: false };
        !self.registry.route(&route).is_empty()
    }

    fn on_reseed_status(&mut self, task_id: String, response: Response) {
        let Some(body) = response.body.filter(|_| response.success) else { return };
        match TaskStatus::from_json(body.get()) {
            Ok(status) => {
                let event = RocketRideEvent::task_status(task_id, status);
                self.on_event(None, event);
            }
            Err(error) => self.decode_error(None, Some(Command::GET_TASK_STATUS.into()), error),
        }
    }

    fn on_reseed_dashboard(&mut self, response: Response) {
        let Some(body) = response.body.filter(|_| response.success) else { return };
        for (task_id, project_id, source) in commands::dashboard_tasks(body.get()) {
            self.learn_task(&task_id, &project_id, &source);
        }
    }
}

/// The routing facts of an event.
fn route_of(event: &RocketRideEvent) -> EventRoute<'_> {
    let (project_id, source) = match event.project_source() {
        Some((p, s)) => (Some(p), Some(s)),
        None => (None, None),
    };
    EventRoute {
        types: event.monitor_type(),
        task_id: event.task_id(),
        project_id,
        source,
        pipe_id: event.pipe_id(),
        server_event: event.is_server_event(),
    }
}

fn server_error(response: &Response) -> RequestError {
    RequestError::Server {
        message: response.message.clone().unwrap_or_else(|| format!("{} failed", response.command)),
        trace: response.trace.clone(),
    }
}

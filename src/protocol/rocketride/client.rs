//! The RocketRide plug-in of the connection engine, and [`Client`], the engine with it.
//!
//! [`RocketRide`] holds what only this wire needs: the desired subscription set and its
//! merge into server keys ([`Registry`]), the subscribe round after authentication,
//! routing each typed event to the subscriptions whose scope and types match, learning
//! tasks and tokens, re-seeding after a reconnect and re-asserting the subscriptions the
//! server deletes silently after a task's cleanup (spec §3.6). Everything every engine
//! needs (lifecycle, requests, heartbeat, seq order, loss handling, the output queue) is
//! [`Connection`]'s; see its docs for the poll order.

use std::collections::VecDeque;


use super::calls::Call;
use super::commands::{self, Command};
use super::envelope::{decode_frame, DecodeError, Frame, Response};
use super::events::{RocketRideEvent, TaskEvent, TaskRef};
use super::monitor_types::MonitorTypes;
use super::outputs::{Diagnostic, RequestError};
use super::replay::{self, LogRequest, Replay, ReplayConfig, Step, StreamId};
use super::scope::{Scope, ServerKey};
use super::seed::{ListedTask, Report, Seeder};
use super::subscriptions::{EventRoute, MonitorCall, Placement, Registry, SubId};
use super::task_status::TaskStatus;
use super::results::TokenResult;
use crate::core::connection::{Connection, EngineConfig, Link, Protocol, Resynced};
use crate::core::json_read::{self, JsonText};
use crate::core::lifecycle::ConnState;
use crate::core::sorted_map::{SortedMap, SortedSet};
use crate::core::time::{Duration, Instant};

/// Why held events go out with their task still unplaced.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Unplaced {
    /// The server answered the lookup and its task list does not name the task.
    NotListed,
    /// No answer came (why): the lookup may be asked again.
    NoAnswer(&'static str),
}

impl Unplaced {
    fn reason(self) -> &'static str {
        match self {
            Unplaced::NotListed => "the server's task list does not name it",
            Unplaced::NoAnswer(why) => why,
        }
    }
}

/// Events held back (in order) while the server is asked where an unknown task belongs;
/// past this many they are released with a report rather than held without bound.
const MAX_HELD: usize = 10_000;
/// How long events held for a task lookup wait for its answer. The server answers
/// `rrext_dashboard` within milliseconds; an answer lost on a live connection would otherwise
/// hold them (and every event behind them) for the 30 s of an app request.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Task tokens remembered at most (for seeding statuses).
const MAX_TOKENS: usize = 4096;
/// Tasks remembered as "looked up and still unknown", so they are not looked up again.
const MAX_LOOKED_UP: usize = 1024;

/// The connection engine speaking RocketRide's DAP monitor protocol.
pub type Client = Connection<RocketRide>;

/// Tunables. `Default` is what a browser dashboard wants.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// The engine's tunables (backoff, timeouts, heartbeat, limits, RNG seed).
    pub engine: EngineConfig,
    /// Sent in `auth` so the engine's dashboards can name this client.
    pub client_name: String,
    pub client_version: String,
    /// After a task ends, re-assert its source subscriptions this much later: the server
    /// deletes them silently ~5–6 min after completion (spec §3.6).
    pub reassert_after_end: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            engine: EngineConfig::default(),
            client_name: "runwatch".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            reassert_after_end: Duration::from_secs(370),
        }
    }
}

/// A request the plug-in sends itself.
#[derive(Clone, Debug)]
pub enum Request {
    Monitor(MonitorCall),
    /// `rrext_dashboard` at the start of a seed round.
    SeedList,
    /// `rrext_get_token` for a listed task whose token is unknown.
    SeedToken { task: ListedTask },
    /// `rrext_get_task_status` for a listed task.
    SeedStatus { task_id: String },
    /// `rrext_dashboard`, to learn where the tasks of held events belong.
    Lookup,
    /// `rrext_log`, replaying what a stream missed while offline.
    Log(LogRequest),
}

/// What an app asks of the subscriptions. Ids are chosen by the app-facing side, so an
/// intent can cross a `postMessage` boundary and the app has its id at once.
#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    /// Adds subscription `id`; its events are delivered with that id.
    Subscribe { id: SubId, scope: Scope, types: MonitorTypes },
    /// Removes subscription `id` (unknown ids are ignored); the server subscription is
    /// narrowed only when no other subscription needs it.
    Unsubscribe { id: SubId },
}

/// The plug-in's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    Reassert,
}

/// RocketRide's part of a connection. See the module docs.
pub struct RocketRide {
    config: ClientConfig,
    registry: Registry,
    /// Monitor calls of the current (re)subscribe round still unanswered.
    subscribing: usize,
    /// Task tokens learned (`execute`, `rrext_get_token`): task id → token, for seeding.
    tokens: SortedMap<String, String>,
    seeder: Seeder,
    /// Some connection has been live (a later `live` completes a reconnect).
    was_live: bool,
    /// Source keys to re-assert, by when (after their task ended).
    reassert: Vec<(Instant, String, String)>,
    /// The connection authenticated with a task token (`tk_`/`pk_`, spec §3.2): the server
    /// forces every subscription onto that one task, so everything it sends is that task's.
    task_scoped: bool,
    /// Events of the current connection held, in order, behind one whose task is unknown.
    held: VecDeque<(Option<u64>, RocketRideEvent)>,
    lookup_in_flight: bool,
    looked_up: SortedSet<String>,
    /// Gapless recovery from a newer server's run log (spec §8.5.6).
    replay: Replay,
}

impl Connection<RocketRide> {
    /// A client that immediately asks the shell to open its first socket.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let engine = config.engine.clone();
        let protocol = RocketRide {
            config,
            registry: Registry::new(4096),
            subscribing: 0,
            tokens: SortedMap::new(),
            seeder: Seeder::default(),
            was_live: false,
            reassert: Vec::new(),
            task_scoped: false,
            held: VecDeque::new(),
            lookup_in_flight: false,
            looked_up: SortedSet::default(),
            replay: Replay::new(ReplayConfig::default()),
        };
        Connection::start(protocol, engine, now)
    }

    /// Carries out one app intent (see [`Intent`]).
    pub fn apply(&mut self, intent: Intent) {
        let now = self.now();
        self.with_protocol(now, |rr, link| {
            match intent {
                Intent::Subscribe { id, scope, types } => {
                    rr.registry.subscribe(id, scope, types);
                    if link.state() == ConnState::Live && rr.registry.has_unseeded_scopes() {
                        rr.start_seed(link, false);
                    }
                }
                Intent::Unsubscribe { id } => {
                    if !rr.registry.unsubscribe(id) {
                        return;
                    }
                }
            }
            rr.sync_subscriptions(link);
        });
    }

    /// The server keys and masks this client believes the server holds.
    #[must_use]
    pub fn held_subscriptions(&self) -> Vec<(String, MonitorTypes)> {
        self.protocol().registry.held().into_iter().map(|(k, t)| (k.to_string(), t)).collect()
    }
}

impl Protocol for RocketRide {
    type Event = RocketRideEvent;
    type Request = Request;
    type Timer = Timer;
    type Call = Call;
    type Args = JsonText;

    fn decode(&mut self, bytes: &[u8]) -> Result<Frame, DecodeError> {
        decode_frame(bytes)
    }

    fn request_frame(seq: u64, command: &str, args: &JsonText) -> String {
        commands::request_frame(seq, command, args)
    }

    fn auth_request(&mut self, credential: &str) -> (&'static str, JsonText) {
        let bare = credential.strip_prefix("Bearer ").unwrap_or(credential);
        self.task_scoped = bare.starts_with("tk_") || bare.starts_with("pk_");
        self.registry.set_watch_cleanup(!self.task_scoped);
        let args = commands::auth_arguments(credential, &self.config.client_name, &self.config.client_version);
        (Command::AUTH, args)
    }

    fn call_request(call: &Call) -> Result<(String, JsonText, Option<Duration>), String> {
        match call.command() {
            Command::AUTH => Err("`auth` is managed by the client; pass the credential in the options".into()),
            command => Ok((command.to_string(), call.arguments(), call.default_timeout())),
        }
    }

    fn decode_reply(call: &Call, body: Option<&str>) -> Result<Option<String>, RequestError> {
        call.decode(body)
    }

    fn ping_request() -> (&'static str, JsonText) {
        (Command::PING, JsonText::empty_object())
    }

    fn on_authenticated(&mut self, link: &mut Link<Self>, _body: Option<&str>) {
        self.registry.connection_lost();
        let calls = self.registry.sync();
        self.subscribing = calls.len();
        for call in calls {
            self.send_monitor(link, call);
        }
        if self.subscribing == 0 {
            self.went_live(link);
        }
    }

    fn on_response(&mut self, link: &mut Link<Self>, request: Request, response: Response) {
        match request {
            Request::Monitor(call) => self.on_monitor(link, call, response),
            Request::SeedList => self.on_seed_list(link, &response),
            Request::SeedToken { task } => self.on_seed_token(link, task, response),
            Request::SeedStatus { task_id } => self.on_seed_status(link, task_id, response),
            Request::Lookup => {
                self.learn_listed(link, &response);
                self.lookup_done(link, Unplaced::NotListed);
            }
            Request::Log(request) => {
                let mut steps = Vec::new();
                self.replay.on_response(request, &response, &mut steps);
                self.run_replay(link, steps);
            }
        }
    }

    fn on_request_expired(&mut self, link: &mut Link<Self>, request: Request) {
        match request {
            Request::Monitor(call) => {
                self.registry.call_failed(&call);
                let key = call.key.to_string();
                link.diagnostic(Diagnostic::SubscribeError { key, message: "no response to rrext_monitor".into() });
                self.monitor_answered(link);
                // The server may have applied the call all the same: send the key's desired
                // mask again, or it could keep a mask nobody wants until the next reconnect.
                self.sync_subscriptions(link);
            }
            Request::SeedList => self.seeder.abandon(),
            Request::SeedToken { task } => self.seed_answered(link, &task.id, Err("no answer to rrext_get_token".into())),
            Request::SeedStatus { task_id } => self.seed_answered(link, &task_id, Err("no answer to rrext_get_task_status".into())),
            Request::Lookup => self.lookup_done(link, Unplaced::NoAnswer("the server did not answer the task lookup")),
            Request::Log(request) => {
                let mut steps = Vec::new();
                self.replay.on_expired(request, &mut steps);
                self.run_replay(link, steps);
            }
        }
    }

    /// `execute` teaches the task's token whether it was sent typed or raw, so the
    /// response's command echo is what counts, not the call.
    fn on_app_reply(&mut self, link: &mut Link<Self>, _call: &Call, response: &Response) {
        if let Some(learned) = commands::learn_from_result(&response.command, response.body.as_deref()) {
            self.learn_token(link, &learned.id, &learned.token, &learned.project_id, &learned.source);
        }
    }

    fn on_event(&mut self, link: &mut Link<Self>, seq: Option<u64>, event: RocketRideEvent) {
        let log_seq = replay::log_seq_of(&event);
        if log_seq.is_none() && !self.replay.recovering() {
            return self.apply_live(link, seq, event);
        }
        let stream = self.stream_of(&event);
        let mut steps = Vec::new();
        self.replay.on_live(seq, log_seq, stream, event, &mut steps);
        self.run_replay(link, steps);
    }

    /// The seed round this reconnect started is reported in its own `reseeded`
    /// diagnostic once every status it asked for has arrived.
    fn on_reconnected(&mut self, link: &mut Link<Self>) -> Resynced {
        let resubscribed = self.registry.held().iter().map(|(k, _)| k.to_string()).collect();
        let mut steps = Vec::new();
        let registry = &self.registry;
        let replaying = self.replay.start(|stream, task_id| wanted_names(registry, stream, task_id), &mut steps);
        self.run_replay(link, steps);
        Resynced { resubscribed, reseeded: vec!["dashboard".into()], replaying, ..Resynced::default() }
    }

    fn on_lost(&mut self, link: &mut Link<Self>) {
        self.seeder.abandon();
        self.lookup_done(link, Unplaced::NoAnswer("the connection was lost before the task lookup answered"));
        self.subscribing = 0;
        self.registry.connection_lost();
        let mut steps = Vec::new();
        self.replay.on_lost(&mut steps);
        self.run_replay(link, steps);
    }

    fn held_frames(&self) -> usize {
        self.held.len() + self.replay.held()
    }

    fn on_timer(&mut self, link: &mut Link<Self>, timer: Timer) {
        match timer {
            Timer::Reassert => self.reassert_due(link),
        }
    }
}

impl RocketRide {
    // ── replay (spec §8.5.6, see `replay.rs`) ───────────────────────────────

    /// Carries out what the replay asks for, in order.
    fn run_replay(&mut self, link: &mut Link<Self>, steps: Vec<Step>) {
        let mut steps = VecDeque::from(steps);
        while let Some(step) = steps.pop_front() {
            match step {
                Step::Send { args, request } => {
                    if !link.send(replay::LOG_COMMAND, args, Request::Log(request.clone())) {
                        let mut more = Vec::new();
                        self.replay.on_expired(request, &mut more);
                        steps.extend(more);
                    }
                }
                Step::Live { seq, event } => self.apply_live(link, seq, event),
                Step::Replayed { stream, event } => self.apply_replayed(link, &stream, event),
                Step::Finished { replayed, unreplayable } => link.finish_resync(replayed, unreplayable),
            }
        }
    }

    /// The run-log stream of an event: its body's `(projectId, source)`, or the directory's
    /// for its task.
    fn stream_of(&self, event: &RocketRideEvent) -> Option<StreamId> {
        let (p, s) = event.named_stream().or_else(|| self.registry.directory().lookup(event.task_id()?))?;
        Some(StreamId::new(p, s))
    }

    /// An event missed while offline, read back from the log: routed like a live one,
    /// delivered marked replayed.
    fn apply_replayed(&mut self, link: &mut Link<Self>, stream: &StreamId, event: RocketRideEvent) {
        if let Some(task_id) = event.task_id().filter(|id| self.registry.directory().lookup(id).is_none()) {
            let task_id = task_id.to_owned();
            self.learn_task(link, &task_id, &stream.project_id, &stream.source);
        }
        self.learn_from_event(link, &event);
        link.deliver_replayed(self.subscribers(&event), event);
    }

    /// A live event (or a seed) applied: learned from, then routed or held for a lookup.
    fn apply_live(&mut self, link: &mut Link<Self>, seq: Option<u64>, event: RocketRideEvent) {
        self.learn_from_event(link, &event);
        self.seeder.observe(&event);
        // Asked even when events are already held: a placement the held keys imply is
        // learned now, so the event routes by it when the held ones are released. Without
        // a socket (events a replay releases on a loss) nothing can be looked up.
        let look_up = self.must_look_up(link, &event);
        if link.state().has_socket() && (look_up || !self.held.is_empty()) {
            return self.hold(link, seq, event);
        }
        self.route(link, seq, event);
    }

    // ── subscriptions ───────────────────────────────────────────────────────

    fn send_monitor(&mut self, link: &mut Link<Self>, call: MonitorCall) {
        let args = call.arguments();
        if !link.send(Command::MONITOR, args, Request::Monitor(call.clone())) {
            self.registry.call_failed(&call);
        }
    }

    fn on_monitor(&mut self, link: &mut Link<Self>, call: MonitorCall, response: Response) {
        if !response.success {
            self.registry.call_failed(&call);
            let message = response.message.unwrap_or_default();
            link.diagnostic(Diagnostic::SubscribeError { key: call.key.to_string(), message });
        }
        self.monitor_answered(link);
    }

    fn monitor_answered(&mut self, link: &mut Link<Self>) {
        if self.subscribing > 0 {
            self.subscribing -= 1;
            if self.subscribing == 0 {
                self.went_live(link);
            }
        }
    }

    /// The subscribe round is done: the connection goes live and, after a reconnect or for
    /// scopes the server does not seed, a seed round starts.
    fn went_live(&mut self, link: &mut Link<Self>) {
        link.subscribed();
        let reconnect = std::mem::replace(&mut self.was_live, true);
        if reconnect || self.registry.has_unseeded_scopes() {
            self.start_seed(link, reconnect);
        }
    }

    /// Applies subscription changes to the server when connected (otherwise the next
    /// connection sends the whole desired set).
    fn sync_subscriptions(&mut self, link: &mut Link<Self>) {
        if link.is_connected() {
            for call in self.registry.sync() {
                self.send_monitor(link, call);
            }
        }
    }

    // ── events ──────────────────────────────────────────────────────────────

    /// Delivers one event to every subscription it matches.
    fn route(&mut self, link: &mut Link<Self>, seq: Option<u64>, event: RocketRideEvent) {
        if let RocketRideEvent::Task(TaskEvent::Running { tasks }) = &event {
            let tasks = tasks.clone();
            return self.deliver_running(link, seq, tasks);
        }
        link.deliver(self.subscribers(&event), seq, event);
    }

    /// The subscriptions an event goes to. On a task-token connection every task event is
    /// the credential's task's (the server forces every subscription onto it), so scope
    /// cannot narrow it further; an event that names no task still needs a scope that
    /// covers everything.
    fn subscribers(&self, event: &RocketRideEvent) -> Vec<SubId> {
        if self.task_scoped && event.task_id().is_some_and(|id| !id.is_empty()) {
            let route = EventRoute { types: event.monitor_type(), server_event: event.is_server_event(), ..EventRoute::default() };
            return self.registry.route_any_scope(&route);
        }
        self.registry.route(&route_of(event))
    }

    /// True when `event` names a task the SDK cannot place yet and a project or source
    /// subscription may want it (`output`, `apaevt_sse` and DETAIL bodies carry only the
    /// task id). A placement the held keys imply is learned on the spot.
    fn must_look_up(&mut self, link: &mut Link<Self>, event: &RocketRideEvent) -> bool {
        let (Some(task_id), Some(types)) = (event.task_id(), event.monitor_type()) else { return false };
        let known = event.project_source().is_some() || self.registry.directory().lookup(task_id).is_some();
        if task_id.is_empty() || known || self.task_scoped || self.looked_up.contains(task_id) {
            return false;
        }
        self.place(link, task_id, types)
    }

    /// Places an unknown task by the keys that could have made the server send an event
    /// of `types` about it; true when that cannot tell (several projects could). A single
    /// possible project is learned.
    fn place(&mut self, link: &mut Link<Self>, task_id: &str, types: MonitorTypes) -> bool {
        match self.registry.place_unknown(task_id, types) {
            Placement::Complete => false,
            Placement::Project(project_id) => {
                let source = task_id.split_once('.').map_or("", |(_, s)| s).to_string();
                self.learn_task(link, task_id, &project_id, &source);
                false
            }
            Placement::Ambiguous => true,
        }
    }

    /// Holds `event` (and, to keep order, everything after it) until the server's task
    /// list says where its task belongs.
    fn hold(&mut self, link: &mut Link<Self>, seq: Option<u64>, event: RocketRideEvent) {
        self.held.push_back((seq, event));
        if self.held.len() >= MAX_HELD {
            return self.release(link, Unplaced::NoAnswer("too many events waited for the task lookup"));
        }
        if !self.lookup_in_flight {
            self.lookup_in_flight = link.send_within(Command::DASHBOARD, JsonText::empty_object(), Request::Lookup, LOOKUP_TIMEOUT);
            if !self.lookup_in_flight {
                self.release(link, Unplaced::NoAnswer("the task lookup could not be sent"));
            }
        }
    }

    /// The task lookup ended (answered, unanswered, or its connection lost): the held
    /// events go out.
    fn lookup_done(&mut self, link: &mut Link<Self>, why: Unplaced) {
        self.lookup_in_flight = false;
        self.release(link, why);
    }

    /// Delivers every held event in order. Events whose task is still unknown go to the
    /// subscriptions that match regardless (e.g. `*`), and an `unroutable` diagnostic
    /// names the task, so a scoped subscription that may have missed it is told why.
    fn release(&mut self, link: &mut Link<Self>, why: Unplaced) {
        let held: Vec<_> = self.held.drain(..).collect();
        if self.looked_up.len() > MAX_LOOKED_UP {
            self.looked_up.clear();
        }
        for (seq, event) in held {
            let task_id = event.task_id().unwrap_or_default().to_string();
            let unknown = self.registry.directory().lookup(&task_id).is_none() && event.project_source().is_none();
            if unknown && event.monitor_type().is_some_and(|t| self.place(link, &task_id, t)) {
                let epoch = link.epoch();
                let reason = format!("could not tell which project task {task_id} belongs to: {}; delivered only to subscriptions that match it without knowing", why.reason());
                link.diagnostic(Diagnostic::Unroutable { epoch, seq, task_id: task_id.clone(), reason });
                // Only the server's own list settles it: after a lookup that went
                // unanswered (a lost response, say), the task's next event asks again.
                if why == Unplaced::NotListed {
                    self.looked_up.insert(task_id);
                }
            }
            self.route(link, seq, event);
        }
    }

    /// The `running` seed lists every visible task whatever the scope (spec §3.4): each
    /// TASK subscription gets only the tasks its scope matches (all-task scopes get all).
    fn deliver_running(&mut self, link: &mut Link<Self>, seq: Option<u64>, tasks: Vec<TaskRef>) {
        let mut per_sub: SortedMap<SubId, Vec<TaskRef>> = SortedMap::new();
        let everything = EventRoute { types: Some(MonitorTypes::TASK), ..EventRoute::default() };
        for id in self.registry.route(&everything) {
            per_sub.insert(id, tasks.clone());
        }
        for task in &tasks {
            let route = EventRoute { task_id: Some(&task.id), project_id: Some(&task.project_id), source: Some(&task.source), ..everything };
            for id in self.registry.route(&route) {
                let mine = per_sub.get_or_insert_with(id, Vec::new);
                if !mine.contains(task) {
                    mine.push(task.clone());
                }
            }
        }
        if per_sub.is_empty() {
            return link.deliver(Vec::new(), seq, RocketRideEvent::Task(TaskEvent::Running { tasks }));
        }
        for (id, tasks) in per_sub {
            link.deliver(vec![id], seq, RocketRideEvent::Task(TaskEvent::Running { tasks }));
        }
    }

    fn learn_from_event(&mut self, link: &mut Link<Self>, event: &RocketRideEvent) {
        match event {
            RocketRideEvent::Task(TaskEvent::Running { tasks }) => {
                for t in tasks {
                    self.learn_task(link, &t.id, &t.project_id, &t.source);
                }
            }
            RocketRideEvent::Task(TaskEvent::End(t)) => {
                self.learn_task(link, &t.task_id, &t.project_id, &t.source);
                self.schedule_reassert(link, &t.project_id, &t.source);
            }
            RocketRideEvent::Dashboard(d) => {
                if let Some(task_id) = d.removed_task_id() {
                    self.task_removed(link, task_id);
                }
            }
            other => {
                if let (Some(task_id), Some((project_id, source))) = (other.task_id(), other.project_source()) {
                    self.learn_task(link, task_id, project_id, source);
                }
            }
        }
    }

    fn learn_task(&mut self, link: &mut Link<Self>, task_id: &str, project_id: &str, source: &str) {
        if task_id.is_empty() {
            return;
        }
        self.registry.learn_task(task_id, project_id, source);
        self.sync_subscriptions(link);
    }

    fn learn_token(&mut self, link: &mut Link<Self>, task_id: &str, token: &str, project_id: &str, source: &str) {
        self.learn_task(link, task_id, project_id, source);
        // Bounded like the directory: a dashboard of thousands of tasks keeps the newest.
        if self.tokens.len() >= MAX_TOKENS && !self.tokens.contains_key(task_id) {
            self.tokens.pop_first();
        }
        self.tokens.insert(task_id.to_owned(), token.to_owned());
        self.registry.learn_token(token, project_id, source);
        self.sync_subscriptions(link);
    }

    // ── silent subscription deletion (spec §3.6) ────────────────────────────

    /// The server deleted this task's source keys on every connection.
    fn task_removed(&mut self, link: &mut Link<Self>, task_id: &str) {
        let before = self.registry.held();
        self.registry.task_removed(task_id);
        self.announce_reasserted(link, &before, "the server removed the task and its subscriptions");
    }

    fn schedule_reassert(&mut self, link: &mut Link<Self>, project_id: &str, source: &str) {
        let at = link.now() + self.config.reassert_after_end;
        self.reassert.retain(|(_, p, s)| !(p == project_id && s == source));
        // Bounded: a dashboard watching thousands of sources keeps the most recent.
        if self.reassert.len() >= 1024 {
            self.reassert.remove(0);
        }
        self.reassert.push((at, project_id.to_string(), source.to_string()));
        self.arm_reassert(link);
    }

    fn arm_reassert(&mut self, link: &mut Link<Self>) {
        match self.reassert.iter().map(|(at, _, _)| *at).min() {
            Some(at) => link.set_timer(Timer::Reassert, at),
            None => link.clear_timer(Timer::Reassert),
        }
    }

    fn reassert_due(&mut self, link: &mut Link<Self>) {
        let now = link.now();
        let (due, kept): (Vec<_>, Vec<_>) = self.reassert.drain(..).partition(|(at, _, _)| *at <= now);
        self.reassert = kept;
        let before = self.registry.held();
        for (_, project_id, source) in due {
            self.registry.forget_source_keys(&project_id, &source);
        }
        self.announce_reasserted(link, &before, "the task ended; the server drops its subscriptions after cleanup");
        self.arm_reassert(link);
    }

    /// Syncs and reports every key that had to be re-sent since `before`.
    fn announce_reasserted(&mut self, link: &mut Link<Self>, before: &[(ServerKey, MonitorTypes)], reason: &str) {
        if !link.is_connected() {
            return;
        }
        for call in self.registry.sync() {
            if before.iter().any(|(k, _)| *k == call.key) && !call.types.is_empty() {
                link.diagnostic(Diagnostic::Reasserted { key: call.key.to_string(), reason: reason.into() });
            }
            self.send_monitor(link, call);
        }
    }

    // ── seeding (see `seed.rs`) ─────────────────────────────────────────────

    fn start_seed(&mut self, link: &mut Link<Self>, reconnect: bool) {
        if self.seeder.start(reconnect) && !link.send(Command::DASHBOARD, JsonText::empty_object(), Request::SeedList) {
            self.seeder.abandon();
        }
    }

    /// Learns where every task of an `rrext_dashboard` answer belongs; `None` if it failed.
    fn learn_listed(&mut self, link: &mut Link<Self>, response: &Response) -> Option<Vec<ListedTask>> {
        let body = response.body.as_ref().filter(|_| response.success)?;
        let listed = commands::dashboard_tasks(body);
        for t in &listed {
            self.learn_task(link, &t.id, &t.project_id, &t.source);
        }
        Some(listed)
    }

    fn on_seed_list(&mut self, link: &mut Link<Self>, response: &Response) {
        let Some(listed) = self.learn_listed(link, response) else { return self.seeder.abandon() };
        let registry = &self.registry;
        let fetch = self.seeder.plan(&listed, |t| registry.needs_client_seed(&t.id, &t.project_id, &t.source));
        for task in fetch {
            match self.tokens.get(&task.id).cloned() {
                Some(token) => self.fetch_status(link, &task.id, &token),
                None => {
                    let args = commands::project_source_arguments(&task.project_id, &task.source);
                    let id = task.id.clone();
                    if !link.send(Command::GET_TOKEN, args, Request::SeedToken { task }) {
                        self.seeder.not_sent(&id);
                    }
                }
            }
        }
        self.seed_progress(link);
    }

    fn on_seed_token(&mut self, link: &mut Link<Self>, task: ListedTask, response: Response) {
        let token = response.body.as_ref().filter(|_| response.success).and_then(|b| json_read::from_str::<TokenResult>(b).ok());
        match token {
            Some(TokenResult { token }) => {
                self.learn_token(link, &task.id, &token, &task.project_id, &task.source);
                self.fetch_status(link, &task.id, &token);
            }
            None => {
                let reason = response.message.unwrap_or_else(|| "rrext_get_token gave no token".into());
                self.seed_answered(link, &task.id, Err(reason));
            }
        }
    }

    fn fetch_status(&mut self, link: &mut Link<Self>, task_id: &str, token: &str) {
        let request = Request::SeedStatus { task_id: task_id.to_owned() };
        if !link.send(Command::GET_TASK_STATUS, commands::token_arguments(token), request) {
            self.seeder.not_sent(task_id);
        }
    }

    fn on_seed_status(&mut self, link: &mut Link<Self>, task_id: String, response: Response) {
        let outcome = match response.body.as_ref().filter(|_| response.success) {
            None => Err(response.message.clone().unwrap_or_else(|| "rrext_get_task_status failed".into())),
            Some(body) => match TaskStatus::from_json(body) {
                Ok(status) => {
                    let event = RocketRideEvent::task_status(task_id.clone(), status);
                    self.learn_from_event(link, &event);
                    self.seeder.observe(&event);
                    link.deliver_reseeded(self.subscribers(&event), event);
                    Ok(())
                }
                Err(error) => {
                    let reason = error.to_string();
                    link.decode_error(None, Some(Command::GET_TASK_STATUS.into()), error);
                    Err(reason)
                }
            },
        };
        self.seed_answered(link, &task_id, outcome);
    }

    fn seed_answered(&mut self, link: &mut Link<Self>, task_id: &str, outcome: Result<(), String>) {
        self.seeder.answered(task_id, outcome);
        self.seed_progress(link);
    }

    /// Reports a finished reconnect round and starts the round asked for meanwhile.
    fn seed_progress(&mut self, link: &mut Link<Self>) {
        let Some((report, again)) = self.seeder.finished() else { return };
        if report.reconnect {
            let Report { statuses, ended, failed, .. } = report;
            link.diagnostic(Diagnostic::Reseeded { epoch: link.epoch(), statuses, ended, failed });
        }
        if let Some(reconnect) = again {
            self.start_seed(link, reconnect);
        }
    }
}

/// The event names the subscriptions would receive live from `stream` (its task
/// `task_id`, when known): what a replay reads and delivers.
fn wanted_names(registry: &Registry, stream: &StreamId, task_id: Option<&str>) -> Vec<&'static str> {
    let bits = [MonitorTypes::TASK, MonitorTypes::SUMMARY, MonitorTypes::FLOW, MonitorTypes::SSE, MonitorTypes::OUTPUT, MonitorTypes::DETAIL];
    let (project_id, source) = (Some(stream.project_id.as_str()), Some(stream.source.as_str()));
    let wanted = bits.into_iter().filter(|&bit| {
        let route = EventRoute { types: Some(bit), task_id, project_id, source, pipe_id: None, server_event: false };
        !registry.route(&route).is_empty()
    });
    replay::event_names(wanted.fold(MonitorTypes::empty(), |a, b| a | b))
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

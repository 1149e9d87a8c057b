//! Shared server state and the outbound path.
//!
//! Like the real server's single asyncio loop, all protocol state sits behind one lock.
//! Every outbound frame gets its connection's next seq and its send-log entry while the
//! lock is held, so the log order is each connection's wire order.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::clock::{epoch_s, Clock};
use crate::config::Config;
use crate::dap::{CmdResult, Frame, Request};
use crate::faults::{Faults, Verdict};
use crate::json::Obj;
use crate::registry::{bit, candidate_keys, matching_keys, Monitors, ALL_KEY};
use crate::runlog::RunLog;
use crate::sendlog::{Entry, EntryKind, Meta, SendLog};
use crate::status::TaskStatus;
use crate::trace::TraceLevel;

/// Per-connection outbound queue bound; frames beyond it are logged as `queue_full`.
const OUT_QUEUE: usize = 65_536;

/// What the writer task of a connection is asked to do.
#[derive(Debug)]
pub enum Out {
    /// A text frame; `reorder` asks the writer to swap it with the next frame.
    Text { text: String, reorder: bool },
    /// A raw frame (fault injection).
    Raw(Message),
    /// Send a close frame with this code, then end the connection.
    Close(u16),
}

/// How an authenticated connection may see tasks (spec §1.3 credential kinds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// API key: every task (OSS maps every key to user/team `local`).
    Account,
    /// `tk_…` (full rights on one task) or `pk_…` (`public`: SSE only) credential.
    Task { token: String, public: bool },
}

/// One live WebSocket connection.
#[derive(Debug)]
pub struct ConnEntry {
    /// Connection id (also `connectionId` in dashboard events).
    pub id: u64,
    /// Client IP (admission counts unauthenticated sockets per IP).
    pub peer: IpAddr,
    /// Last server seq used (spec §2.3: starts at 1 per connection).
    pub seq: u64,
    /// Whether `auth` succeeded (and no `deauth` since).
    pub authenticated: bool,
    /// Whether `auth` ever succeeded: the client name and version are known.
    pub identified: bool,
    /// Lifetime `auth` calls (spec §1.3: more than 5 fail).
    pub auth_attempts: u32,
    /// Credential of the current authentication.
    pub credential: Option<String>,
    /// Credential kind.
    pub scope: Scope,
    /// `clientName` from `auth`.
    pub client_name: String,
    /// `clientVersion` from `auth`.
    pub client_version: String,
    /// `clientId` from `auth`.
    pub client_id: String,
    /// Registry key → bitmask (spec §3.2).
    pub monitors: Monitors,
    /// Epoch seconds of the upgrade.
    pub connected_at: f64,
    /// Epoch seconds of the last inbound frame.
    pub last_activity: f64,
    /// Inbound frames.
    pub messages_in: u64,
    /// Outbound frames queued.
    pub messages_out: u64,
    /// While set and in the future, frames are withheld (half-open fault).
    pub half_open_until: Option<Instant>,
    /// A close was queued: nothing more is sent.
    pub closing: bool,
    tx: mpsc::Sender<Out>,
    kill: Arc<watch::Sender<bool>>,
}

/// The whole mutable protocol state.
pub struct State {
    /// Live connections by id.
    pub conns: BTreeMap<u64, ConnEntry>,
    /// Registered tasks by token.
    pub tasks: BTreeMap<String, TaskEntry>,
    /// The send log.
    pub log: SendLog,
    /// Active faults.
    pub faults: Faults,
    /// Seeded RNG for fault decisions.
    pub rng: fastrand::Rng,
    /// Newer-server run log (spec §8.5).
    pub runlog: RunLog,
    /// Newer mode: how often a status update is logged (5 s simulated).
    status_sample: Duration,
    /// Bumped by reset/restart: runners and scenario loops of older generations stop.
    pub generation: u64,
    /// The fleet-rlm side (`crate::fleet`): its sockets, subscribers, turns.
    pub fleet: crate::fleet::FleetState,
    next_conn: u64,
    newer: bool,
    /// Load scenario: stamp `eventTime` on every task event even outside newer mode, so a
    /// benchmark can measure send-to-callback latency.
    stamp_time: bool,
}

/// Identity of a task, as its events need it.
#[derive(Debug, Clone)]
pub struct TaskRef {
    /// Task token.
    pub token: String,
    /// Display id `<8 hex>.<source>`.
    pub id: String,
    /// Project id.
    pub project_id: String,
    /// Source component id.
    pub source: String,
}

/// A request to a task's runner.
#[derive(Debug)]
pub enum TaskCmd {
    /// Terminate; the reply fires right after `apaevt_task end`.
    Terminate(oneshot::Sender<()>),
    /// Restart in place; the reply fires when RUNNING again.
    Restart(oneshot::Sender<()>),
}

/// One registered task (running, or completed and awaiting cleanup).
#[derive(Debug)]
pub struct TaskEntry {
    /// `tk_…` token.
    pub token: String,
    /// `pk_…` public token.
    pub public_token: String,
    /// Display id `<8 hex>.<source>`.
    pub id: String,
    /// Project id.
    pub project_id: String,
    /// Source component id.
    pub source: String,
    /// Source component provider.
    pub provider: String,
    /// The pipeline as executed.
    pub pipeline: Value,
    /// Current `TASK_STATUS`.
    pub status: TaskStatus,
    /// Set when the run ended; cleanup removes the task `cleanup_delay_ms` later.
    pub completed_at: Option<Instant>,
    /// Run number of the live runner.
    pub run: u64,
    /// Registration order: the server's task dict keeps insertion order, and a re-run
    /// replaces the completed control in place (spec §3.6), so listings follow this.
    pub order: u64,
    /// The execute `name` (or the task id without one): the first part of `name`.
    pub name_prefix: String,
    /// Idle TTL in seconds (reported only).
    pub ttl: u64,
    /// When the last `apaevt_status_update` of this task was built (status cadence:
    /// at most one periodic update per second).
    pub last_status: Instant,
    /// Newer mode: this task's next `logSeq` (a fresh task counts from 1, spec §8.5.2).
    pub log_next: u64,
    /// Newer mode: when a status update was last written to the run log.
    pub status_logged: Option<Instant>,
    /// A `nan` fault holds the periodic status until then, so that a client has time to
    /// draw the NaN status before the next regular one replaces it.
    pub status_held_until: Option<Instant>,
    /// Channel to the runner.
    pub ctl: mpsc::Sender<TaskCmd>,
}

impl TaskEntry {
    /// The identity events need.
    pub fn task_ref(&self) -> TaskRef {
        TaskRef { token: self.token.clone(), id: self.id.clone(), project_id: self.project_id.clone(), source: self.source.clone() }
    }
}

/// The server: configuration, clock and the locked state.
pub struct Hub {
    /// Configuration it was started with.
    pub config: Config,
    /// Simulated-time scaling.
    pub clock: Clock,
    /// Server start (dashboard `serverUptime`).
    pub started: Instant,
    state: Mutex<State>,
    shutdown: watch::Sender<bool>,
}

impl Hub {
    /// A hub for `config` with an empty state.
    pub fn new(config: Config) -> std::io::Result<Arc<Hub>> {
        let log = SendLog::new(config.send_log_capacity, config.send_log_file.as_deref())?;
        let state = State {
            conns: BTreeMap::new(),
            tasks: BTreeMap::new(),
            log,
            faults: Faults::default(),
            rng: fastrand::Rng::with_seed(config.seed),
            runlog: RunLog::default(),
            status_sample: Clock::new(config.speed).scaled(crate::runlog::STATUS_SAMPLE_MS),
            generation: 0,
            fleet: crate::fleet::FleetState::default(),
            next_conn: 1,
            newer: config.newer,
            stamp_time: config.scenario == crate::config::Scenario::Load,
        };
        let (shutdown, _) = watch::channel(false);
        Ok(Arc::new(Hub { clock: Clock::new(config.speed), config, started: Instant::now(), state: Mutex::new(state), shutdown }))
    }

    /// Locks the state (a poisoned lock is recovered: the state stays usable).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A receiver that flips to `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops background loops and closes every connection.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
        let mut st = self.lock();
        let ids: Vec<u64> = st.conns.keys().copied().collect();
        for id in ids {
            st.kill(id, "shutdown");
        }
    }
}

/// The half of a new connection that its reader and writer tasks keep.
pub struct ConnHandles {
    /// Connection id.
    pub id: u64,
    /// Outbound queue.
    pub rx: mpsc::Receiver<Out>,
    /// Flips to `true` when the connection must end at once.
    pub killed: watch::Receiver<bool>,
    /// Sender side of `killed`.
    pub kill: Arc<watch::Sender<bool>>,
}

impl State {
    /// Registers a new connection, upgraded from a request to `path`, and logs its start.
    pub fn register(&mut self, path: &str, peer: IpAddr) -> ConnHandles {
        let id = self.next_conn;
        self.next_conn += 1;
        self.log.push(Entry::upgrade(id, EntryKind::Open, path));
        let (tx, rx) = mpsc::channel(OUT_QUEUE);
        let (kill, killed) = watch::channel(false);
        let kill = Arc::new(kill);
        let now = epoch_s();
        self.conns.insert(
            id,
            ConnEntry {
                id,
                peer,
                seq: 0,
                authenticated: false,
                identified: false,
                auth_attempts: 0,
                credential: None,
                scope: Scope::Account,
                client_name: String::new(),
                client_version: String::new(),
                client_id: String::new(),
                monitors: Monitors::new(),
                connected_at: now,
                last_activity: now,
                messages_in: 0,
                messages_out: 0,
                half_open_until: None,
                closing: false,
                tx,
                kill: kill.clone(),
            },
        );
        ConnHandles { id, rx, killed, kill }
    }

    /// A fresh connection id from the shared counter (fleet-rlm sockets use it too, so a
    /// fault's `conn` names one socket of either protocol).
    pub fn alloc_conn_id(&mut self) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        id
    }

    /// Open sockets from `ip` that have not authenticated (spec §1.3 admission).
    pub fn unauthenticated_from(&self, ip: IpAddr) -> usize {
        self.conns.values().filter(|c| c.peer == ip && !c.authenticated && !c.closing).count()
    }

    /// Forgets a closed connection and announces it as `connection_removed` (spec §4.7).
    /// The real server announces every socket that goes away, including one whose `auth`
    /// failed: that one has no tenant, so its event carries `clientName`/`clientVersion`
    /// `null` and goes to every `*`+DASHBOARD subscriber (recorded `auth_bad_key`).
    pub fn unregister(&mut self, id: u64) {
        let Some(c) = self.conns.remove(&id) else { return };
        c.kill.send_replace(true);
        let (name, version) = if c.identified {
            (Some(c.client_name.as_str()), Some(c.client_version.as_str()))
        } else {
            (None, None)
        };
        let body = crate::hub::dashboard_body("connection_removed")
            .set("connectionId", &c.id)
            .set("clientName", &name)
            .set("clientVersion", &version);
        self.emit_dashboard(body);
    }

    /// Sends `frame` to connection `conn` with its next seq, through the fault filters.
    /// Returns the seq used, or `None` if the connection is gone or closing.
    pub fn send(&mut self, conn: u64, frame: Frame) -> Option<u64> {
        let c = self.conns.get_mut(&conn).filter(|c| !c.closing)?;
        c.seq += 1;
        c.messages_out += 1;
        let seq = c.seq;
        let text = frame.render(seq);
        let entry = frame.log_entry(conn, seq, text.len());
        let half_open = c.half_open_until.is_some_and(|t| t > Instant::now());
        let verdict = self.faults.verdict(conn, entry.event.as_deref(), half_open, &mut self.rng);
        let tx = c.tx.clone();
        match verdict {
            Verdict::Withhold(label) => {
                self.log.push(entry.with_fault(label));
            }
            Verdict::Send { duplicate, reorder } => {
                let label = reorder.then_some("reordered");
                let i = self.log.push(match label {
                    Some(l) => entry.clone().with_fault(l),
                    None => entry.clone(),
                });
                if tx.try_send(Out::Text { text: text.clone(), reorder }).is_err() {
                    self.log.mark(i, "queue_full");
                }
                if duplicate {
                    let j = self.log.push(entry.with_fault("duplicated"));
                    if tx.try_send(Out::Text { text, reorder: false }).is_err() {
                        self.log.mark(j, "queue_full");
                    }
                }
            }
        }
        Some(seq)
    }

    /// Answers `req` on `conn`.
    pub fn respond(&mut self, conn: u64, req: &Request, result: CmdResult) {
        self.send(conn, Frame::response(req, result));
    }

    /// Queues an injected frame outside the fault filters and logs `entry`, which names
    /// the fault. Returns false when the connection is gone or its queue is full.
    pub fn inject(&mut self, conn: u64, msg: Message, mut entry: Entry) -> bool {
        let Some(c) = self.conns.get_mut(&conn).filter(|c| !c.closing) else { return false };
        c.messages_out += 1;
        entry.bytes = Some(msg.len());
        let ok = c.tx.try_send(Out::Raw(msg)).is_ok();
        let i = self.log.push(entry);
        if !ok {
            self.log.mark(i, "queue_full");
        }
        ok
    }

    /// Takes the next seq of `conn` for an injected frame.
    pub fn next_seq(&mut self, conn: u64) -> Option<u64> {
        let c = self.conns.get_mut(&conn)?;
        c.seq += 1;
        Some(c.seq)
    }

    /// Queues a graceful close with `code`; nothing is sent after it.
    pub fn close(&mut self, conn: u64, code: u16, fault: Option<&str>) {
        let Some(c) = self.conns.get_mut(&conn).filter(|c| !c.closing) else { return };
        c.closing = true;
        let _ = c.tx.try_send(Out::Close(code));
        let mut entry = Entry::new(conn, EntryKind::Close);
        entry.code = Some(code);
        entry.fault = fault.map(str::to_owned);
        self.log.push(entry);
    }

    /// Drops `conn` at once without a close frame (the peer sees 1006).
    pub fn kill(&mut self, conn: u64, fault: &str) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        c.closing = true;
        c.kill.send_replace(true);
        self.log.push(Entry::new(conn, EntryKind::Close).with_fault(fault));
    }

    /// Broadcasts a task event to every connection whose registry delivers it
    /// (spec §3.2 delivery rule: OR of pipe, project, project-wildcard and `*` keys).
    pub fn emit_task_event(&mut self, task: &TaskRef, event: &str, event_bit: u8, body: Obj, pipe_id: Option<i64>) {
        self.emit_task_event_with(task, event, event_bit, body, pipe_id, false);
    }

    /// [`State::emit_task_event`]; `final_status` marks the run's final status, which the
    /// newer server's log always keeps.
    pub fn emit_task_event_with(&mut self, task: &TaskRef, event: &str, event_bit: u8, body: Obj, pipe_id: Option<i64>, final_status: bool) {
        let body = self.stamp(task, event, body, final_status).set("__id", &task.id).done();
        let candidates = candidate_keys(&task.project_id, &task.source, pipe_id);
        let targets: Vec<(u64, Vec<String>)> = self
            .conns
            .values()
            .filter(|c| c.authenticated && may_see(&c.scope, task, event_bit))
            .filter_map(|c| {
                let keys = matching_keys(&c.monitors, &candidates, event_bit);
                (!keys.is_empty()).then_some((c.id, keys))
            })
            .collect();
        for (conn, keys) in targets {
            let meta = task_meta(task, event_bit, pipe_id, keys);
            self.send(conn, Frame::Event { name: event.to_owned(), body: body.clone(), meta });
        }
    }

    /// Newer-server mode (spec §8.5.2): stamps `eventTime` and the task's next `logSeq`, adds
    /// `project_id`/`source` to bodies that lack `project_id`, and records the event in the
    /// run log while the run's writer is open (statuses sampled, the final one always).
    fn stamp(&mut self, task: &TaskRef, event: &str, body: Obj, final_status: bool) -> Obj {
        if !self.newer {
            return if self.stamp_time { body.set("eventTime", &epoch_s()) } else { body };
        }
        let Some(t) = self.tasks.get_mut(&task.token) else { return body };
        let event_time = epoch_s();
        let log_seq = t.log_next;
        t.log_next += 1;
        let mut body = body.set("eventTime", &event_time).set("logSeq", &log_seq);
        let has_identity = matches!(event, "apaevt_status_update" | "apaevt_flow");
        if !has_identity {
            body = body.set("project_id", &task.project_id);
            if event != "apaevt_task" {
                body = body.set("source", &task.source);
            }
        }
        if event == "apaevt_status_update" && !final_status {
            let every = self.status_sample;
            if t.status_logged.is_some_and(|at| at.elapsed() < every) || !self.runlog.is_open(&task.project_id, &task.source) {
                return body;
            }
            t.status_logged = Some(Instant::now());
        }
        let line = log_line(task, event, &body);
        self.runlog.record(&task.project_id, &task.source, log_seq, event_time, event, line);
        body
    }

    /// Newer mode: an event the task stamps and logs but never sends to monitors (the
    /// debugger-only `exited`/`terminated`, spec §8.5.2 "holes are normal").
    pub fn log_only(&mut self, task: &TaskRef, event: &str, body: Obj) {
        if self.newer {
            self.stamp(task, event, body, true);
        }
    }

    /// Newer mode: opens the run's log writer after the STARTING status (spec §8.5.2): lifts
    /// the task's counter past the stream's `lastSeq` and writes `run-begin`. Returns the
    /// chapter's `beginSeq` (`None` outside newer mode).
    pub fn open_run_log(&mut self, task: &TaskRef, trace: TraceLevel) -> Option<u64> {
        if !self.newer {
            return None;
        }
        let t = self.tasks.get_mut(&task.token)?;
        let pipeline_hash = crate::tokens::short_hash(&t.pipeline.to_string());
        let body = Obj::new()
            .set("action", "run-begin")
            .set("schemaVer", &1)
            .set("projectId", &task.project_id)
            .set("source", &task.source)
            .set("runKind", crate::runlog::RUN_KIND)
            .set("trigger", "execute")
            .set("user", crate::tokens::USER_ID)
            .set("pipelineHash", &pipeline_hash)
            .set("traceLevel", trace.name());
        let seq = self.runlog.open(&task.project_id, &task.source, &mut t.log_next, epoch_s(), body);
        t.status_logged = None;
        Some(seq)
    }

    /// Newer mode: a log-only marker in the open chapter (`restart`).
    pub fn log_marker(&mut self, task: &TaskRef, action: &str) {
        if !self.newer {
            return;
        }
        let Some(t) = self.tasks.get_mut(&task.token) else { return };
        let seq = t.log_next;
        t.log_next += 1;
        self.runlog.marker(&task.project_id, &task.source, seq, epoch_s(), Obj::new().set("action", action));
    }

    /// Newer mode: closes the run's log (`run-end {outcome, detail}`, spec §8.5.3).
    pub fn close_run_log(&mut self, task: &TaskRef, outcome: &str, detail: &str) {
        if !self.newer {
            return;
        }
        let Some(t) = self.tasks.get_mut(&task.token) else { return };
        let seq = t.log_next;
        t.log_next += 1;
        self.runlog.close(&task.project_id, &task.source, seq, epoch_s(), outcome, detail);
    }

    /// Flat-out load: how many more frames may be queued before the fullest outbound queue
    /// of a connection that subscribed to anything holds `limit` frames (0 when nobody
    /// listens), so a flat-out producer runs exactly as fast as its slowest reader.
    pub fn load_room(&self, limit: usize) -> usize {
        let listening = self.conns.values().filter(|c| c.authenticated && !c.closing && c.monitors.iter().next().is_some());
        let mut room = None;
        for c in listening {
            let queued = c.tx.max_capacity() - c.tx.capacity();
            room = Some(room.unwrap_or(limit).min(limit.saturating_sub(queued)));
        }
        room.unwrap_or(0)
    }

    /// Whether the simulator runs as the newer server (`--newer`).
    pub fn newer(&self) -> bool {
        self.newer
    }

    /// Sends a server event to every `*`+DASHBOARD connection (spec §3.2, §4.7). `fields`
    /// starts from [`dashboard_body`].
    pub fn emit_dashboard(&mut self, fields: Obj) {
        let body = fields.set("__id", "").done();
        let targets: Vec<u64> = self
            .conns
            .values()
            .filter(|c| c.authenticated && c.monitors.get(ALL_KEY).is_some_and(|m| m & bit::DASHBOARD != 0))
            .map(|c| c.id)
            .collect();
        for conn in targets {
            let meta = Meta { bit: Some(bit::DASHBOARD), keys: Some(vec![ALL_KEY.to_owned()]), ..Meta::default() };
            self.send(conn, Frame::Event { name: "apaevt_dashboard".into(), body: body.clone(), meta });
        }
    }

    /// The task token a request acts on: `arguments.token` (or top-level `token`), except
    /// that task credentials force their own task (spec §3.2, `get_task_token`).
    pub fn request_token(&self, conn: u64, req: &Request) -> Option<String> {
        match self.conns.get(&conn).map(|c| &c.scope) {
            Some(Scope::Task { token, .. }) => Some(token.clone()),
            _ => req.token().filter(|t| !t.is_empty()).map(str::to_owned),
        }
    }

    /// Registered tasks in the server's dict order (registration; re-runs in place).
    pub fn tasks_in_order(&self) -> Vec<&TaskEntry> {
        let mut tasks: Vec<&TaskEntry> = self.tasks.values().collect();
        tasks.sort_by_key(|t| t.order);
        tasks
    }

    /// The `TaskRef` of a registered task.
    pub fn task_ref(&self, token: &str) -> Option<TaskRef> {
        self.tasks.get(token).map(TaskEntry::task_ref)
    }
}

/// The stored line of a logged event (spec §8.5.3 "shape of a replayed event"): events the
/// engine originated carry `__id` at the top level and not in `body`; events the task builds
/// carry it in `body`.
fn log_line(task: &TaskRef, event: &str, body: &Obj) -> String {
    let engine = !matches!(event, "apaevt_status_update" | "apaevt_task" | "exited" | "terminated");
    let head = Obj::new().set("type", "event").set("event", event);
    if engine {
        head.set("__id", &task.id).raw("body", &body.clone().done()).done()
    } else {
        head.raw("body", &body.clone().set("__id", &task.id).done()).done()
    }
}

/// The head of an `apaevt_dashboard` body: `action`, then `timestamp`, as recorded; the
/// action's own fields follow and `__id: ""` ends it.
pub fn dashboard_body(action: &str) -> Obj {
    Obj::new().set("action", action).set("timestamp", &epoch_s())
}

/// Whether a connection's credential lets it receive this task event (spec §1.3:
/// `tk_` sees only its task, `pk_` only that task's SSE).
fn may_see(scope: &Scope, task: &TaskRef, event_bit: u8) -> bool {
    match scope {
        Scope::Account => true,
        Scope::Task { token, public } => *token == task.token && (!public || event_bit == bit::SSE),
    }
}

/// Send-log routing facts of a task event.
pub fn task_meta(task: &TaskRef, event_bit: u8, pipe_id: Option<i64>, keys: Vec<String>) -> Meta {
    Meta {
        task_id: Some(task.id.clone()),
        project_id: Some(task.project_id.clone()),
        source: Some(task.source.clone()),
        pipe_id,
        bit: Some(event_bit),
        keys: Some(keys),
    }
}

//! The task store: a bounded, materialized view of RocketRide task *runs*, fed with the
//! events the connection delivers, read as immutable, versioned snapshots.
//!
//! It does no IO and reads no clock: [`TaskStore::apply_batch`] takes the deliveries of
//! one subscription in the order the engine emitted them plus the time (`now`, in
//! milliseconds of whatever clock the caller uses; the browser shell passes `Date.now()`),
//! and [`TaskStore::snapshot`] hands out an `Arc` that stays the same object until the
//! content changes, so a UI can compare snapshots by identity (React's
//! `useSyncExternalStore`). Unchanged runs keep their `Arc` from one snapshot to the next.
//!
//! ```text
//!   Delivered { epoch, seq, event }  ──apply_batch(now, …)──▶  runs by (taskId, startTime)
//!   reconnect / offline knowledge    ──mark_resync / mark_ended_offline──▶
//!   snapshot()  ◀── Arc<TaskSnapshot> { version, runs: [Arc<TaskRun>] }
//! ```
//!
//! # Telling runs apart (spec §0 facts 4–5, §8.1 item 3)
//!
//! Task tokens and task ids are deterministic per (user, project, source), so every run of
//! a pipeline has the same `taskId`. A run is identified by `(taskId, startTime)`, with
//! `startTime` from `TASK_STATUS` (kept across an in-place restart). Events that carry no
//! `startTime` (`apaevt_task` begin/end/restart, flow, output, SSE, DETAIL) belong to the
//! task's *current* run: its newest run that has not ended, else its newest run. Such an
//! event for a task with no run yet opens a *pending* run (`startTime: null`), which the
//! task's next status adopts. The synthetic "Not running" seed (`state` 0, `__id` =
//! `"<projectId>.<source>"`, spec §3.4) is not a run: it tells the store that nothing of
//! that source is running any more.
//!
//! # Ending
//!
//! A run ends on the first of: `apaevt_task end`; a `completed` status; a newer run of the
//! same task (`superseded`); a seed saying the task no longer runs (the TASK `running` list
//! without it, or a "Not running" status of its source); `task_removed` on the dashboard;
//! or [`TaskStore::mark_ended_offline`]. The final status that follows `end` (spec errata 2)
//! still updates the ended run. A later live status of the newest run (a restart) reopens it.
//! At most one run per task is ever un-ended.
//!
//! # Reconnects
//!
//! The store consumes whatever the SDK delivers: seeds on subscribe, re-seeded statuses,
//! the TASK `running` seed after every reconnect (which ends runs that ended while the
//! client was offline). When deliveries of a newer connection (`epoch`) begin, or when the
//! shell calls [`TaskStore::mark_resync`] on a `resync` diagnostic, every un-ended run not
//! yet heard of on that connection is flagged `stale` until an event about it arrives.
//! [`TaskStore::mark_ended_offline`] is the hook for code that learns by other means
//! (e.g. `rrext_dashboard` or `rrext_get_task_status` after a reconnect) that a task ended
//! while the client was offline.
//!
//! # Bounds
//!
//! At most [`StoreConfig::max_runs`] runs (the runs that ended longest ago are evicted
//! first, then the oldest live ones), a bounded output tail, bounded error and warning
//! lists and a bounded number of pipes per run; every eviction is counted ([`StoreStats`],
//! and per run `outputDropped`/`errorsDropped`/`warningsDropped`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::{Serialize, Serializer};
use tsify::Tsify;

use crate::core::id_map::IdMap;
use crate::core::sorted_map::SortedMap;

use super::events::{FlowEvent, FlowOp, RocketRideEvent, SseEvent, TaskEvent, TaskLifecycle, TaskRef};
use super::outputs::Delivered;
use super::task_status::{TaskState, TaskStatus};

/// Bounds of a [`TaskStore`]. `Default` suits a dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Runs kept at most (default 200).
    pub max_runs: usize,
    /// Output lines kept per run, newest last (default 200).
    pub max_output_lines: usize,
    /// Errors kept per run (default 50, as many as a `TASK_STATUS` carries).
    pub max_errors: usize,
    /// Warnings kept per run (default 50).
    pub max_warnings: usize,
    /// Pipes whose flow stack is kept per run (default 64).
    pub max_pipes: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { max_runs: 200, max_output_lines: 200, max_errors: 50, max_warnings: 50, max_pipes: 64 }
    }
}

/// One run of a task, as of one snapshot. Read-only.
#[derive(Clone, Debug, PartialEq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    /// Store-local id, increasing and never reused: a stable key for lists (`key={run.runId}`).
    pub run_id: u64,
    /// The task id `"<8 hex of token>.<source>"`, the same for every run of a pipeline.
    pub task_id: String,
    /// Project id; `null` until an event that names it (a status, lifecycle or flow event).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub project_id: Option<String>,
    /// Source component id.
    pub source: String,
    /// Display name (`"<execute name>.<component>"`); `null` until an event names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub name: Option<String>,
    /// Epoch seconds from `TASK_STATUS`: with `projectId` and `source`, the run's identity.
    /// `null` while the run is pending (known only from events that carry no start time).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub start_time: Option<f64>,
    /// Where the run is, derived from the lifecycle and the latest status.
    pub phase: RunPhase,
    /// The latest `TASK_STATUS`, or `null` before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub status: Option<Arc<TaskStatus>>,
    /// Lifecycle facts.
    pub lifecycle: RunLifecycle,
    /// True when the connection was re-established and nothing about this (un-ended) run has
    /// arrived since: what it shows may be out of date.
    pub stale: bool,
    /// Live component stack per pipe, by ascending `pipeId` (from `apaevt_flow`).
    pub flow: Vec<PipeFlow>,
    /// The newest output lines (without their trailing newline), oldest first.
    #[tsify(type = "string[]")]
    pub output: VecDeque<String>,
    /// Output lines received in total.
    pub output_total: u64,
    /// Output lines evicted from `output` by its bound.
    pub output_dropped: u64,
    /// Errors, oldest first: the status's list merged with DETAIL `statusError` lines.
    #[tsify(type = "string[]")]
    pub errors: VecDeque<String>,
    /// Errors evicted by the bound.
    pub errors_dropped: u64,
    /// Warnings, oldest first: the status's list merged with DETAIL `statusWarning` lines.
    #[tsify(type = "string[]")]
    pub warnings: VecDeque<String>,
    /// Warnings evicted by the bound.
    pub warnings_dropped: u64,
    /// The latest DETAIL `statusMessage` text.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub message: Option<String>,
    /// `apaevt_sse` events received.
    pub sse_count: u64,
    /// The latest `apaevt_sse` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub last_sse: Option<SseEvent>,
    /// When the store first heard of the run (the caller's clock, ms).
    pub first_seen_at: u64,
    /// When the run last changed (the caller's clock, ms).
    pub updated_at: u64,
    /// The snapshot version in which the run last changed: equal values mean equal runs.
    pub version: u64,
    /// Order of ending, for eviction (oldest ended first).
    #[serde(skip)]
    end_order: u64,
}

/// Where a run is. `unknown` when only output-like events were seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub enum RunPhase {
    Unknown,
    Starting,
    Running,
    Stopping,
    Restarting,
    Ended,
}

/// Lifecycle facts of a run (spec §4.1, §4.2).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct RunLifecycle {
    /// `apaevt_task begin` was seen.
    pub begun: bool,
    /// A TASK `running` seed listed the task while this run was current.
    pub listed: bool,
    /// In-place restarts seen (`apaevt_task restart`); `startTime` stays the same.
    pub restarts: u32,
    /// When the last restart was seen (caller's clock, ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub last_restart_at: Option<u64>,
    /// The run is over.
    pub ended: bool,
    /// How the store learned that it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub ended_by: Option<EndCause>,
    /// When the store learned that it ended (caller's clock, ms); the server's end time is
    /// `status.endTime`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub ended_at: Option<u64>,
    /// The server removed the task (`task_removed`, ~5–6 min after it completed).
    pub removed: bool,
}

/// How the store learned that a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub enum EndCause {
    /// `apaevt_task end`.
    End,
    /// A `completed` status.
    Status,
    /// A newer run of the same task started.
    Superseded,
    /// A seed said the task no longer runs (a TASK `running` list without it, or a
    /// "Not running" status of its source), e.g. it ended while the client was offline.
    NotRunning,
    /// The server removed the task (`task_removed`).
    Removed,
    /// Reported through [`TaskStore::mark_ended_offline`].
    Offline,
}

/// The live component stack of one pipe.
#[derive(Clone, Debug, PartialEq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct PipeFlow {
    /// Pipe index (flow `pipeId`).
    pub pipe_id: u64,
    /// The stack after the latest flow step, outermost (the object) first; empty between
    /// objects.
    pub stack: Vec<String>,
    /// The latest step.
    pub last_op: FlowOp,
    /// Objects that left the pipe (`end` steps).
    pub objects: u64,
}

/// An immutable view of the store: the same object until the content changes.
#[derive(Clone, Debug, PartialEq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TaskSnapshot {
    /// Increases with every change; `0` for the empty store.
    pub version: u64,
    /// Every run held, oldest first (ascending `runId`).
    #[tsify(type = "TaskRun[]")]
    #[serde(serialize_with = "serialize_runs")]
    pub runs: Vec<Arc<TaskRun>>,
}

fn serialize_runs<S: Serializer>(runs: &[Arc<TaskRun>], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(runs.iter().map(|r| &**r))
}

/// Counters of what the store did with its input. Reading them never changes a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    /// Deliveries applied.
    pub events: u64,
    /// Deliveries ignored as copies of one already applied (same connection and `seq`).
    pub duplicates: u64,
    /// Deliveries that concern no run (dashboard and account events, unknown events).
    pub ignored: u64,
    /// Statuses that describe no run (the "Not running" seed).
    pub not_runs: u64,
    /// Runs created.
    pub runs_created: u64,
    /// Runs evicted by `maxRuns` (ended ones first).
    pub runs_evicted: u64,
    /// Of those, runs that had not ended.
    pub live_runs_evicted: u64,
    /// Output lines, errors and warnings evicted from runs by their bounds (also counted per run).
    pub output_dropped: u64,
    pub errors_dropped: u64,
    pub warnings_dropped: u64,
    /// Flow events of pipes beyond `maxPipes`, not kept.
    pub pipes_dropped: u64,
    /// Reconnects noticed (a newer connection's deliveries, or `mark_resync`).
    pub resyncs: u64,
}

/// The store. See the module docs.
#[derive(Debug)]
pub struct TaskStore {
    config: StoreConfig,
    runs: IdMap<Arc<TaskRun>>,
    /// Task id → its runs.
    by_task: SortedMap<String, TaskRuns>,
    next_run_id: u64,
    version: u64,
    /// Something changed since the last published version.
    dirty: bool,
    /// The newest `(epoch, seq)` applied, for dropping copies.
    last: Option<(u32, u64)>,
    /// The newest connection seen.
    epoch: Option<u32>,
    /// The newest connection `mark_resync` ran for.
    resynced: u32,
    end_counter: u64,
    stats: StoreStats,
    cached: Option<Arc<TaskSnapshot>>,
    /// Run id → the last connection on which something about it arrived (not part of
    /// the snapshot, so it lives outside the runs).
    seen_epoch: IdMap<u32>,
    /// Runs changed since the last publish, whose phase is recomputed then.
    touched: Vec<u64>,
}

/// The runs of one task, by id.
#[derive(Debug, Default)]
struct TaskRuns {
    /// All of them, ascending.
    all: Vec<u64>,
    /// Those that have not ended, ascending: one at most between events. Kept so that the
    /// events of a task with many ended runs need not look at each (a busy dashboard's
    /// tasks keep up to `max_runs` of them).
    live: Vec<u64>,
    /// The start time of each run that has one, and the run, in the order they were set.
    timed: Vec<(f64, u64)>,
}

impl Default for TaskStore {
    fn default() -> Self {
        Self::new(StoreConfig::default())
    }
}

impl TaskStore {
    /// An empty store (version 0).
    pub fn new(config: StoreConfig) -> Self {
        let config = StoreConfig {
            max_runs: config.max_runs.max(1),
            max_output_lines: config.max_output_lines,
            max_errors: config.max_errors,
            max_warnings: config.max_warnings,
            max_pipes: config.max_pipes,
        };
        Self {
            config,
            runs: IdMap::default(),
            by_task: SortedMap::new(),
            next_run_id: 1,
            version: 0,
            dirty: false,
            last: None,
            epoch: None,
            resynced: 0,
            end_counter: 0,
            stats: StoreStats::default(),
            cached: None,
            seen_epoch: IdMap::default(),
            touched: Vec::new(),
        }
    }

    /// The current version: it changes exactly when the snapshot's content does.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Counters (see [`StoreStats`]).
    #[must_use]
    pub fn stats(&self) -> &StoreStats {
        &self.stats
    }

    /// The runs held, oldest first.
    pub fn runs(&self) -> impl Iterator<Item = &Arc<TaskRun>> {
        self.runs.values()
    }

    /// One run by id.
    #[must_use]
    pub fn run(&self, run_id: u64) -> Option<&Arc<TaskRun>> {
        self.runs.get(&run_id)
    }

    /// The snapshot of the current version: the same `Arc` until something changes.
    pub fn snapshot(&mut self) -> Arc<TaskSnapshot> {
        if let Some(s) = &self.cached {
            return s.clone();
        }
        let snapshot = Arc::new(TaskSnapshot { version: self.version, runs: self.runs.values().cloned().collect() });
        self.cached = Some(snapshot.clone());
        snapshot
    }

    /// Applies one delivery. Returns true when the content (and the version) changed.
    pub fn apply(&mut self, now: u64, delivered: &Delivered) -> bool {
        self.apply_batch(now, std::iter::once(delivered))
    }

    /// Applies the deliveries of one batch, in order; the version moves at most once.
    /// Returns true when the content changed.
    pub fn apply_batch<'a>(&mut self, now: u64, batch: impl IntoIterator<Item = &'a Delivered>) -> bool {
        for delivered in batch {
            self.apply_one(now, delivered);
        }
        self.publish()
    }

    /// The connection `epoch` went live after a loss (the `resync` diagnostic): every
    /// un-ended run not heard of on it yet becomes `stale`. Idempotent per epoch; returns
    /// true when the content changed.
    pub fn mark_resync(&mut self, now: u64, epoch: u32) -> bool {
        self.resync(now, epoch);
        self.publish()
    }

    /// The current run of `task_id` ended while the client was offline (learned e.g. from
    /// `rrext_dashboard` or `rrext_get_task_status` after a reconnect): it ends with cause
    /// `offline`. Returns true when a run was ended.
    pub fn mark_ended_offline(&mut self, now: u64, task_id: &str) -> bool {
        if let Some(id) = self.live_run(task_id) {
            self.end(id, now, EndCause::Offline);
        }
        self.publish()
    }

    // ── input ───────────────────────────────────────────────────────────────

    fn publish(&mut self) -> bool {
        // The property tests run in debug builds: every change they make is checked here.
        debug_assert!(self.index_agrees(), "the task index differs from the runs: {:?}", self.by_task);
        for id in std::mem::take(&mut self.touched) {
            let Some(run) = self.runs.get_mut(&id) else { continue };
            let phase = phase_of(run);
            if run.phase != phase {
                // Already written in this round, so the run is not shared: no copy.
                Arc::make_mut(run).phase = phase;
            }
        }
        if !self.dirty {
            return false;
        }
        self.dirty = false;
        self.version += 1;
        self.cached = None;
        true
    }

    fn apply_one(&mut self, now: u64, d: &Delivered) {
        if let Some(seq) = d.seq {
            let key = (d.epoch, seq);
            if self.last.is_some_and(|last| key <= last) {
                self.stats.duplicates += 1;
                return;
            }
            self.last = Some(key);
        }
        if self.epoch.is_some_and(|e| d.epoch > e) {
            self.resync(now, d.epoch);
        }
        self.epoch = Some(self.epoch.map_or(d.epoch, |e| e.max(d.epoch)));
        self.stats.events += 1;
        let epoch = d.epoch;
        use RocketRideEvent as E;
        match &d.event {
            E::TaskStatus(e) => self.on_status(now, epoch, &e.task_id, &e.status),
            E::Task(TaskEvent::Running { tasks }) => self.on_running(now, epoch, tasks),
            E::Task(TaskEvent::Begin(t)) => self.on_begin(now, epoch, t),
            E::Task(TaskEvent::End(t)) => self.on_end(now, epoch, t),
            E::Task(TaskEvent::Restart(t)) => self.on_restart(now, epoch, t),
            E::Flow(f) => self.on_flow(now, epoch, f),
            E::Output(o) => {
                let id = self.current_or_pending(now, epoch, &o.task_id);
                let max = self.config.max_output_lines;
                let run = self.touch(id, now, epoch);
                let line = o.output.strip_suffix('\n').unwrap_or(&o.output);
                let line = line.strip_suffix('\r').unwrap_or(line);
                run.output.push_back(line.to_owned());
                run.output_total += 1;
                let dropped = trim(&mut run.output, max);
                run.output_dropped += dropped;
                self.stats.output_dropped += dropped;
            }
            E::Sse(s) => {
                let id = self.current_or_pending(now, epoch, &s.task_id);
                let run = self.touch(id, now, epoch);
                run.sse_count += 1;
                run.last_sse = Some(s.clone());
            }
            E::StatusError(t) => {
                let id = self.current_or_pending(now, epoch, &t.task_id);
                let max = self.config.max_errors;
                let run = self.touch(id, now, epoch);
                run.errors.push_back(t.message.clone());
                let dropped = trim(&mut run.errors, max);
                run.errors_dropped += dropped;
                self.stats.errors_dropped += dropped;
            }
            E::StatusWarning(t) => {
                let id = self.current_or_pending(now, epoch, &t.task_id);
                let max = self.config.max_warnings;
                let run = self.touch(id, now, epoch);
                run.warnings.push_back(t.message.clone());
                let dropped = trim(&mut run.warnings, max);
                run.warnings_dropped += dropped;
                self.stats.warnings_dropped += dropped;
            }
            E::StatusMessage(t) => {
                let id = self.current_or_pending(now, epoch, &t.task_id);
                self.touch(id, now, epoch).message = Some(t.message.clone());
            }
            E::Dashboard(dash) => match dash.removed_task_id() {
                Some(task_id) => self.on_removed(now, task_id),
                None => self.stats.ignored += 1,
            },
            // Folded into TASK_STATUS by the server (counts, object, metrics, notes, …).
            E::StatusObject(_)
            | E::StatusCounts(_)
            | E::StatusDownload(_)
            | E::StatusMetrics(_)
            | E::StatusUser(_)
            | E::StatusInfo(_) => {
                let Some(task_id) = d.event.task_id() else { return };
                if let Some(id) = self.current_run(task_id) {
                    self.seen(id, epoch);
                }
            }
            E::Account(_) | E::Unknown(_) => self.stats.ignored += 1,
        }
    }

    fn on_status(&mut self, now: u64, epoch: u32, task_id: &str, status: &Arc<TaskStatus>) {
        let start = status.start_time;
        let timed = start.is_finite() && start > 0.0;
        let synthetic = status.state == TaskState::None
            && (!timed || status.name.is_empty() || is_synthetic_id(task_id, &status.project_id, &status.source));
        if synthetic {
            // Spec §3.4: no task of this source is registered. A `source:"*"` seed is always
            // this, whatever runs, so it says nothing.
            self.stats.not_runs += 1;
            if status.source != "*" && !status.project_id.is_empty() {
                let ended: Vec<u64> = self
                    .runs
                    .values()
                    .filter(|r| {
                        !r.lifecycle.ended
                            && r.source == status.source
                            && r.project_id.as_deref() == Some(status.project_id.as_str())
                    })
                    .map(|r| r.run_id)
                    .collect();
                for id in ended {
                    self.end(id, now, EndCause::NotRunning);
                }
            }
            return;
        }
        let id = if !timed {
            self.current_or_pending(now, epoch, task_id)
        } else if let Some(id) = self.find(task_id, start) {
            id
        } else if let Some(id) = self.adoptable(task_id, status.completed) {
            self.touch(id, now, epoch);
            self.set_start(id, start);
            id
        } else {
            let source = source_of(task_id, &status.source);
            let id = self.create(now, epoch, task_id, source);
            self.set_start(id, start);
            // A status older than another run of this task ends at once.
            let newer = self.runs_of(task_id).any(|r| r.run_id != id && r.start_time.is_some_and(|s| s > start));
            if newer {
                self.end(id, now, EndCause::Superseded);
            }
            id
        };
        self.set_status(now, epoch, id, status);
    }

    fn set_status(&mut self, now: u64, epoch: u32, id: u64, status: &Arc<TaskStatus>) {
        let run = &self.runs[&id];
        if run.status.as_deref() == Some(status) && !run.stale {
            self.seen(id, epoch);
            return;
        }
        let (max_errors, max_warnings) = (self.config.max_errors, self.config.max_warnings);
        let run = self.touch(id, now, epoch);
        let (old_errors, old_warnings) =
            run.status.as_deref().map_or((None, None), |s| (Some(&s.errors.0), Some(&s.warnings.0)));
        let mut dropped = (0, 0);
        if old_errors != Some(&status.errors.0) {
            dropped.0 = merge_window(&mut run.errors, &status.errors, max_errors);
        }
        if old_warnings != Some(&status.warnings.0) {
            dropped.1 = merge_window(&mut run.warnings, &status.warnings, max_warnings);
        }
        run.errors_dropped += dropped.0;
        run.warnings_dropped += dropped.1;
        if !status.name.is_empty() {
            run.name = Some(status.name.clone());
        }
        if !status.project_id.is_empty() {
            run.project_id = Some(status.project_id.clone());
        }
        // The event's own snapshot, shared: no copy of the status per event.
        run.status = Some(Arc::clone(status));
        let live = matches!(
            status.state,
            TaskState::Starting | TaskState::Initializing | TaskState::Running | TaskState::Stopping
        );
        let task_id = run.task_id.clone();
        self.stats.errors_dropped += dropped.0;
        self.stats.warnings_dropped += dropped.1;
        if status.completed && status.status != "Restarting" {
            self.end(id, now, EndCause::Status);
        } else if live && self.runs[&id].lifecycle.ended && self.newest_by_start(&task_id) == Some(id) {
            // (Start times do not change above, so asking only now gives the same answer.)
            self.reopen(id, now);
        }
        if !self.runs[&id].lifecycle.ended {
            self.end_others(now, &task_id, id);
        }
    }

    fn on_running(&mut self, now: u64, epoch: u32, tasks: &[TaskRef]) {
        for t in tasks {
            let inferred = |r: &TaskRun| matches!(r.lifecycle.ended_by, Some(EndCause::NotRunning | EndCause::Offline));
            let id = match (self.live_run(&t.id), self.current_run(&t.id)) {
                (Some(id), _) => id,
                // The server lists it after all: an inferred end was wrong.
                (None, Some(id)) if inferred(&self.runs[&id]) => {
                    self.reopen(id, now);
                    id
                }
                (None, _) => {
                    let id = self.create(now, epoch, &t.id, &t.source);
                    self.runs_mut(id).project_id = Some(t.project_id.clone());
                    id
                }
            };
            let r = &self.runs[&id];
            if !r.lifecycle.listed || r.name.is_none() || r.stale {
                let run = self.touch(id, now, epoch);
                run.lifecycle.listed = true;
                if run.name.is_none() && !t.name.is_empty() {
                    run.name = Some(t.name.clone());
                }
                if run.project_id.is_none() {
                    run.project_id = Some(t.project_id.clone());
                }
            }
        }
        // Every task in states 1–4 the caller can see is listed (spec §3.4): a run of ours
        // that is not has ended, typically while the client was offline.
        let gone: Vec<u64> = self
            .runs
            .values()
            .filter(|r| !r.lifecycle.ended && !tasks.iter().any(|t| t.id == r.task_id))
            .map(|r| r.run_id)
            .collect();
        for id in gone {
            self.end(id, now, EndCause::NotRunning);
        }
    }

    fn on_begin(&mut self, now: u64, epoch: u32, t: &TaskLifecycle) {
        // The STARTING status comes before `begin` (spec §4.2) and opened the run already.
        let id = match self.live_run(&t.task_id) {
            Some(id) if !self.runs[&id].lifecycle.begun && self.runs[&id].lifecycle.restarts == 0 => id,
            _ => self.create(now, epoch, &t.task_id, &t.source),
        };
        let run = self.touch(id, now, epoch);
        run.lifecycle.begun = true;
        name_from(run, t);
        self.end_others(now, &t.task_id, id);
    }

    fn on_end(&mut self, now: u64, epoch: u32, t: &TaskLifecycle) {
        let id = match self.live_run(&t.task_id) {
            Some(id) => id,
            None if self.by_task.contains_key(&t.task_id) => {
                // Its run ended already (e.g. on its completed status): nothing new.
                if let Some(id) = self.current_run(&t.task_id) {
                    self.seen(id, epoch);
                }
                return;
            }
            None => self.create(now, epoch, &t.task_id, &t.source),
        };
        name_from(self.touch(id, now, epoch), t);
        self.end(id, now, EndCause::End);
    }

    fn on_restart(&mut self, now: u64, epoch: u32, t: &TaskLifecycle) {
        let id = match self.current_run(&t.task_id) {
            Some(id) => id,
            None => self.create(now, epoch, &t.task_id, &t.source),
        };
        let run = self.touch(id, now, epoch);
        run.lifecycle.restarts += 1;
        run.lifecycle.last_restart_at = Some(now);
        name_from(run, t);
        if self.runs[&id].lifecycle.ended {
            self.reopen(id, now);
        }
        self.end_others(now, &t.task_id, id);
    }

    fn on_flow(&mut self, now: u64, epoch: u32, f: &FlowEvent) {
        let id = self.current_or_pending(now, epoch, f.task_id());
        let max_pipes = self.config.max_pipes;
        let at = self.runs[&id].flow.binary_search_by_key(&f.pipe_id(), |p| p.pipe_id);
        if at.is_err() && self.runs[&id].flow.len() >= max_pipes {
            self.stats.pipes_dropped += 1;
            self.seen(id, epoch);
            return;
        }
        let run = self.touch(id, now, epoch);
        if run.project_id.is_none() && !f.project_id().is_empty() {
            run.project_id = Some(f.project_id().to_owned());
        }
        let pipe = match at {
            Ok(i) => &mut run.flow[i],
            Err(i) => {
                run.flow.insert(i, PipeFlow { pipe_id: f.pipe_id(), stack: Vec::new(), last_op: f.op(), objects: 0 });
                &mut run.flow[i]
            }
        };
        // The event carries the whole stack after the step (spec §4.3): take it as is, so a
        // missed step never leaves a wrong stack behind. Its strings are written into the
        // old stack's (a pipe's stack changes by a step at a time) rather than allocated anew.
        f.pipes().clone_into(&mut pipe.stack);
        pipe.last_op = f.op();
        if f.op() == FlowOp::End {
            pipe.objects += 1;
        }
    }

    fn on_removed(&mut self, now: u64, task_id: &str) {
        let Some(id) = self.current_run(task_id) else {
            self.stats.ignored += 1;
            return;
        };
        if !self.runs[&id].lifecycle.removed {
            self.runs_mut(id).lifecycle.removed = true;
            self.stamp(id, now);
        }
        self.end(id, now, EndCause::Removed);
    }

    fn resync(&mut self, now: u64, epoch: u32) {
        if epoch <= self.resynced {
            return;
        }
        self.resynced = epoch;
        self.stats.resyncs += 1;
        let seen = &self.seen_epoch;
        let stale: Vec<u64> = self
            .runs
            .values()
            .filter(|r| !r.lifecycle.ended && !r.stale && seen.get(&r.run_id).is_some_and(|e| *e < epoch))
            .map(|r| r.run_id)
            .collect();
        for id in stale {
            self.runs_mut(id).stale = true;
            self.stamp(id, now);
        }
    }

    // ── runs ────────────────────────────────────────────────────────────────

    fn runs_of<'a>(&'a self, task_id: &str) -> impl DoubleEndedIterator<Item = &'a Arc<TaskRun>> + 'a {
        self.by_task.get(task_id).into_iter().flat_map(|t| &t.all).map(move |id| &self.runs[id])
    }

    /// The task's run with this start time (one at most: a timed status finds it before it
    /// would make another). Looked for from the newest end, where a running task's is.
    fn find(&self, task_id: &str, start: f64) -> Option<u64> {
        let timed = &self.by_task.get(task_id)?.timed;
        timed.iter().rev().find(|(s, _)| *s == start).map(|(_, id)| *id)
    }

    /// Gives run `id` its start time (once: a run's start time never changes).
    fn set_start(&mut self, id: u64, start: f64) {
        let run = self.runs_mut(id);
        debug_assert!(run.start_time.is_none(), "run {id} had a start time already");
        run.start_time = Some(start);
        self.task_runs_mut(id).timed.push((start, id));
    }

    /// The task's run that has not ended (the newest such).
    fn live_run(&self, task_id: &str) -> Option<u64> {
        self.by_task.get(task_id)?.live.last().copied()
    }

    /// The run untimed events belong to: the live one, else the newest.
    fn current_run(&self, task_id: &str) -> Option<u64> {
        let runs = self.by_task.get(task_id)?;
        runs.live.last().or(runs.all.last()).copied()
    }

    fn current_or_pending(&mut self, now: u64, epoch: u32, task_id: &str) -> u64 {
        match self.current_run(task_id) {
            Some(id) => id,
            None => self.create(now, epoch, task_id, ""),
        }
    }

    /// The run with the latest start time (pending runs count as newest; of runs that
    /// tie, the last made). Read from the index: a status of an ended run asks this, and
    /// such a task may hold many runs.
    fn newest_by_start(&self, task_id: &str) -> Option<u64> {
        let runs = self.by_task.get(task_id)?;
        if runs.timed.len() < runs.all.len() {
            let pending = |id: &&u64| !runs.timed.iter().any(|(_, timed)| timed == *id);
            return runs.all.iter().rev().find(pending).copied();
        }
        runs.timed.iter().copied().max_by(by_start).map(|(_, id)| id)
    }

    /// The pending run a timed status of `task_id` takes over: the task's newest run, when
    /// it has no start time yet and has not ended (or the status is the final one).
    fn adoptable(&self, task_id: &str, completed: bool) -> Option<u64> {
        let id = *self.by_task.get(task_id)?.all.last()?;
        let run = &self.runs[&id];
        (run.start_time.is_none() && (!run.lifecycle.ended || completed)).then_some(id)
    }

    fn create(&mut self, now: u64, epoch: u32, task_id: &str, source: &str) -> u64 {
        let id = self.next_run_id;
        self.next_run_id += 1;
        let run = TaskRun {
            run_id: id,
            task_id: task_id.to_owned(),
            project_id: None,
            source: source_of(task_id, source).to_owned(),
            name: None,
            start_time: None,
            phase: RunPhase::Unknown,
            status: None,
            lifecycle: RunLifecycle::default(),
            stale: false,
            flow: Vec::new(),
            output: VecDeque::new(),
            output_total: 0,
            output_dropped: 0,
            errors: VecDeque::new(),
            errors_dropped: 0,
            warnings: VecDeque::new(),
            warnings_dropped: 0,
            message: None,
            sse_count: 0,
            last_sse: None,
            first_seen_at: now,
            updated_at: now,
            version: self.version + 1,
            end_order: 0,
        };
        self.runs.insert(id, Arc::new(run));
        self.seen_epoch.insert(id, epoch);
        self.touched.push(id);
        let runs = self.by_task.get_or_insert_with(task_id.to_owned(), TaskRuns::default);
        runs.all.push(id);
        runs.live.push(id);
        self.stats.runs_created += 1;
        self.dirty = true;
        self.evict(id);
        id
    }

    /// Keeps at most `max_runs`: the runs that ended longest ago go first, then the
    /// oldest live ones; never `keep`.
    fn evict(&mut self, keep: u64) {
        while self.runs.len() > self.config.max_runs {
            let ended = self.runs.values().filter(|r| r.lifecycle.ended && r.run_id != keep).min_by_key(|r| r.end_order);
            let victim = match ended {
                Some(r) => r.run_id,
                None => {
                    self.stats.live_runs_evicted += 1;
                    match self.runs.keys().find(|id| **id != keep) {
                        Some(id) => *id,
                        None => return,
                    }
                }
            };
            let run = self.runs.remove(&victim).expect("victim is held");
            self.seen_epoch.remove(&victim);
            if let Some(runs) = self.by_task.get_mut(&run.task_id) {
                runs.all.retain(|id| *id != victim);
                runs.live.retain(|id| *id != victim);
                runs.timed.retain(|(_, id)| *id != victim);
                if runs.all.is_empty() {
                    self.by_task.remove(&run.task_id);
                }
            }
            self.stats.runs_evicted += 1;
            self.dirty = true;
        }
    }

    /// The run for writing (copy-on-write: snapshots keep the old one).
    fn runs_mut(&mut self, id: u64) -> &mut TaskRun {
        self.dirty = true;
        // One entry per run and burst of writes, not per write (publish looks each one up).
        if self.touched.last() != Some(&id) {
            self.touched.push(id);
        }
        let run = Arc::make_mut(self.runs.get_mut(&id).expect("run is held"));
        run.version = self.version + 1;
        run
    }

    /// The run for writing because an event about it arrived on `epoch`.
    fn touch(&mut self, id: u64, now: u64, epoch: u32) -> &mut TaskRun {
        self.note_epoch(id, epoch);
        let run = self.runs_mut(id);
        run.updated_at = now;
        run.stale = false;
        run
    }

    /// Notes that an event about `id` arrived, changing the run only if it was stale.
    fn seen(&mut self, id: u64, epoch: u32) {
        self.note_epoch(id, epoch);
        if self.runs[&id].stale {
            self.runs_mut(id).stale = false;
        }
    }

    fn note_epoch(&mut self, id: u64, epoch: u32) {
        // Every held run has an entry, made with it.
        if let Some(seen) = self.seen_epoch.get_mut(&id) {
            *seen = (*seen).max(epoch);
        }
    }

    fn stamp(&mut self, id: u64, now: u64) {
        self.runs_mut(id).updated_at = now;
    }

    fn end(&mut self, id: u64, now: u64, cause: EndCause) {
        if self.runs[&id].lifecycle.ended {
            return;
        }
        self.end_counter += 1;
        let order = self.end_counter;
        let run = self.runs_mut(id);
        run.lifecycle.ended = true;
        run.lifecycle.ended_by = Some(cause);
        run.lifecycle.ended_at = Some(now);
        run.stale = false;
        run.end_order = order;
        self.stamp(id, now);
        self.task_runs_mut(id).live.retain(|live| *live != id);
    }

    fn reopen(&mut self, id: u64, now: u64) {
        let run = self.runs_mut(id);
        run.lifecycle.ended = false;
        run.lifecycle.ended_by = None;
        run.lifecycle.ended_at = None;
        self.stamp(id, now);
        let live = &mut self.task_runs_mut(id).live;
        if let Err(at) = live.binary_search(&id) {
            live.insert(at, id);
        }
    }

    /// Whether `by_task` lists exactly the runs held, as live exactly those not ended, and
    /// as timed exactly those with a start time (in any order), and gives the same newest
    /// run by start time as the runs do.
    fn index_agrees(&self) -> bool {
        let mut expected: HashMap<&str, TaskRuns> = HashMap::new();
        for run in self.runs.values() {
            let runs = expected.entry(&run.task_id).or_default();
            runs.all.push(run.run_id);
            if !run.lifecycle.ended {
                runs.live.push(run.run_id);
            }
            if let Some(start) = run.start_time {
                runs.timed.push((start, run.run_id));
            }
        }
        let same = |task: &str, want: &TaskRuns| {
            let Some(have) = self.by_task.get(task) else { return false };
            let mut timed = have.timed.clone();
            timed.sort_by_key(|(_, id)| *id);
            have.all == want.all && have.live == want.live && timed == want.timed
        };
        // What newest_by_start reads from the index, found from the runs themselves.
        let newest = |task: &str| {
            let key = |r: &Arc<TaskRun>| (r.start_time.unwrap_or(f64::INFINITY), r.run_id);
            self.runs_of(task).map(key).max_by(by_start).map(|(_, id)| id)
        };
        expected.len() == self.by_task.len()
            && expected.iter().all(|(task, want)| same(task, want) && self.newest_by_start(task) == newest(task))
    }

    /// The index entry of `id`'s task.
    fn task_runs_mut(&mut self, id: u64) -> &mut TaskRuns {
        let task_id = &self.runs[&id].task_id;
        self.by_task.get_mut(task_id.as_str()).expect("a held run's task is indexed")
    }

    /// Ends every other un-ended run of the task: at most one run of a task is live.
    fn end_others(&mut self, now: u64, task_id: &str, keep: u64) {
        let live = self.by_task.get(task_id).map_or(&[][..], |t| &t.live);
        let others: Vec<u64> = live.iter().copied().filter(|id| *id != keep).collect();
        for id in others {
            self.end(id, now, EndCause::Superseded);
        }
    }
}

/// Orders `(startTime, runId)` pairs by start time, then (for a tie) by run id.
fn by_start(a: &(f64, u64), b: &(f64, u64)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// Where a run is, from its lifecycle and latest status.
fn phase_of(run: &TaskRun) -> RunPhase {
    if run.lifecycle.ended {
        return RunPhase::Ended;
    }
    match run.status.as_deref().map(|s| s.state) {
        Some(TaskState::Starting | TaskState::Initializing) => RunPhase::Starting,
        Some(TaskState::Running) => RunPhase::Running,
        Some(TaskState::Stopping) => RunPhase::Stopping,
        Some(TaskState::Cancelled) => RunPhase::Restarting,
        Some(_) => RunPhase::Unknown,
        None if run.lifecycle.listed => RunPhase::Running,
        None if run.lifecycle.begun => RunPhase::Starting,
        None => RunPhase::Unknown,
    }
}

fn name_from(run: &mut TaskRun, t: &TaskLifecycle) {
    if !t.name.is_empty() {
        run.name = Some(t.name.clone());
    }
    if !t.project_id.is_empty() {
        run.project_id = Some(t.project_id.clone());
    }
}

/// Whether `task_id` is `<project_id>.<source>`: the id the server makes up for a status
/// of a source with no task registered (spec §3.4).
fn is_synthetic_id(task_id: &str, project_id: &str, source: &str) -> bool {
    task_id.strip_prefix(project_id).and_then(|rest| rest.strip_prefix('.')) == Some(source)
}

/// The source of a run: as given, else the part of the task id after its first dot.
fn source_of<'a>(task_id: &'a str, given: &'a str) -> &'a str {
    if !given.is_empty() && given != "*" {
        return given;
    }
    task_id.split_once('.').map_or("", |(_, s)| s)
}

/// Drops the oldest entries beyond `max`; returns how many.
fn trim(list: &mut VecDeque<String>, max: usize) -> u64 {
    let over = list.len().saturating_sub(max);
    list.drain(..over);
    over as u64
}

/// Merges the server's window of the newest lines (`TASK_STATUS.errors`/`warnings`, the
/// last 50) into `list`, which holds earlier windows and DETAIL lines, newest last.
///
/// The window ends with everything sent before it; the largest prefix of it that `list`
/// ends with is already held, and the rest is appended. Identical repeated lines make the
/// alignment ambiguous; the largest overlap wins, so nothing is shown twice. Returns how
/// many lines the bound evicted.
fn merge_window(list: &mut VecDeque<String>, window: &[String], max: usize) -> u64 {
    let held = list.len();
    let mut start = 0;
    for e in (1..=window.len()).rev() {
        let k = e.min(held);
        if k > 0 && window[e - k..e].iter().eq(list.range(held - k..)) {
            start = e;
            break;
        }
    }
    list.extend(window[start..].iter().cloned());
    trim(list, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> VecDeque<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn window(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The debug check the property tests rely on catches an index that went wrong.
    #[test]
    fn index_check_catches_planted_faults() {
        let mut store = TaskStore::default();
        let first = store.create(0, 1, "aaaaaaaa.chat_1", "chat_1");
        store.end(first, 1, EndCause::End);
        let second = store.create(2, 1, "aaaaaaaa.chat_1", "chat_1");
        store.set_start(second, 100.5);
        assert!(store.index_agrees());
        assert_eq!(store.live_run("aaaaaaaa.chat_1"), Some(second));
        assert_eq!(store.find("aaaaaaaa.chat_1", 100.5), Some(second));

        fn runs(store: &mut TaskStore) -> &mut TaskRuns {
            store.by_task.get_mut("aaaaaaaa.chat_1").unwrap()
        }
        runs(&mut store).live.insert(0, first); // an ended run listed as live
        assert!(!store.index_agrees());
        runs(&mut store).live.remove(0);
        runs(&mut store).all.pop(); // a held run missing
        assert!(!store.index_agrees());
        runs(&mut store).all.push(second);
        runs(&mut store).timed.push((7.0, first)); // a start time the run does not have
        assert!(!store.index_agrees());
        runs(&mut store).timed.pop();
        assert!(store.index_agrees());
        store.by_task.insert("bbbbbbbb.chat_2".into(), TaskRuns::default()); // a task with no run
        assert!(!store.index_agrees());
    }

    #[test]
    fn merge_window_appends_only_what_is_new() {
        let mut l = lines(&[]);
        assert_eq!(merge_window(&mut l, &window(&["a", "b"]), 50), 0);
        assert_eq!(l, lines(&["a", "b"]));
        merge_window(&mut l, &window(&["a", "b"]), 50);
        assert_eq!(l, lines(&["a", "b"]), "the same window twice");
        l.push_back("c".into()); // a DETAIL line before the next status
        merge_window(&mut l, &window(&["a", "b", "c", "d"]), 50);
        assert_eq!(l, lines(&["a", "b", "c", "d"]));
        // The server's window slid (it keeps the last 50): alignment by the tail.
        merge_window(&mut l, &window(&["c", "d", "e"]), 50);
        assert_eq!(l, lines(&["a", "b", "c", "d", "e"]));
        // No overlap at all: everything is new.
        merge_window(&mut l, &window(&["x"]), 50);
        assert_eq!(l, lines(&["a", "b", "c", "d", "e", "x"]));
        assert_eq!(merge_window(&mut l, &window(&["x", "y", "z"]), 4), 4);
        assert_eq!(l, lines(&["e", "x", "y", "z"]));
    }

    #[test]
    fn source_from_task_id() {
        assert_eq!(source_of("bee3a8ea.chat_1", ""), "chat_1");
        assert_eq!(source_of("bee3a8ea.chat_1", "*"), "chat_1");
        assert_eq!(source_of("bee3a8ea.chat_1", "webhook"), "webhook");
        assert_eq!(source_of("nodot", ""), "");
    }
}

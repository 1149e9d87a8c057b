//! The runs of one session as the execution stream shows them: each run's step tree,
//! status and summary, bounded, read as snapshots like the RocketRide task store (the same
//! `Arc` until something changes; unchanged runs keep theirs).
//!
//! `run_id` can repeat (it counts history turns, spec §0.8), so a run *instance* is opened
//! by each `execution_started`; steps and completions go to the newest instance of their
//! `run_id`. A step of an unknown run opens an instance that did not see its start
//! (`sawStart: false`: the client joined mid-run and missed the steps before).
//!
//! A step frame repeating an id the run already holds is dropped and counted; the copy
//! of the output step inside `execution_completed` is expected (spec §4.3) and not
//! counted. Once a run has ended, a frame of its `run_id` that is not a copy of what it
//! holds (a step with a held id but other content, a step past its last index, another
//! completion) belongs to a newer run that reused the id: a failed turn leaves the
//! history as it was, so the next turn has the same `run_id` (spec §0.8), and a client
//! that missed its `execution_started` (away, or a half-open socket) would otherwise merge
//! the two runs and drop the new run's first steps as copies. Holes in the step indices
//! are the only trace of the server's silent drop-oldest queue (errata 6) and of a
//! reconnect (no replay): they are listed in `missing`.

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use tsify::Tsify;

use super::execution::{ExecutionEvent, ExecutionStep, RunCompleted, RunSummary};
use super::step_tree::{build_tree, step_key, StepKey, StepNode};
use crate::core::sorted_map::SortedMap;

/// Bounds of a [`RunStore`]. `Default` suits a dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunsConfig {
    /// Runs kept at most (the ones that ended longest ago go first). Default 50.
    pub max_runs: usize,
    /// Steps kept per run (later ones are counted in `stepsDropped`). Default 2000.
    pub max_steps: usize,
    /// Missing step indices listed per run at most (all are counted). Default 100.
    pub max_missing_listed: usize,
}

impl Default for RunsConfig {
    fn default() -> Self {
        Self { max_runs: 50, max_steps: 2000, max_missing_listed: 100 }
    }
}

/// How a run ended, or that it has not.
#[derive(Tsify, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    Running,
    Completed,
    Error,
    Cancelled,
    NeedsHumanReview,
    /// `execution_completed` without step and summary: the chat socket dropped mid-turn
    /// and the server cancelled the run.
    Interrupted,
    /// A summary status this SDK does not know (see `summary.status`).
    Ended,
    /// A new run with the same `run_id` started before this one's completion arrived
    /// (it was lost, e.g. while offline).
    Unfinished,
}

/// One run, as of one snapshot.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    /// Store-local id, increasing, never reused: the key of a run instance.
    pub run_key: u64,
    pub run_id: String,
    pub session_id: String,
    pub workspace_id: String,
    pub user_id: String,
    pub status: RunStatus,
    /// `execution_started` was seen (false: joined mid-run, earlier steps never came).
    pub saw_start: bool,
    /// The connection was lost while the run was going: steps of the offline interval
    /// are missing (the server has no replay).
    pub possibly_incomplete: bool,
    /// The step tree: top-level steps in index order, each with its children.
    pub tree: Vec<StepNode>,
    /// Steps held.
    pub steps: u64,
    /// Copies of steps already held, dropped.
    pub duplicates: u64,
    /// Steps beyond `maxSteps`, not kept.
    pub steps_dropped: u64,
    /// Step indices below the highest one seen that never arrived (the first
    /// `maxMissingListed`), and how many there are.
    pub missing: Vec<u64>,
    pub missing_count: u64,
    /// The summary of `execution_completed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub summary: Option<RunSummary>,
    /// The snapshot version in which the run last changed.
    pub version: u64,
}

/// An immutable view of the store.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunsSnapshot {
    pub version: u64,
    /// Oldest first.
    #[tsify(type = "Run[]")]
    #[serde(serialize_with = "serialize_runs")]
    pub runs: Vec<Arc<Run>>,
}

fn serialize_runs<S: Serializer>(runs: &[Arc<Run>], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(runs.iter().map(|r| &**r))
}

/// Counters of what the store did.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RunStats {
    pub events: u64,
    pub duplicates: u64,
    pub steps_dropped: u64,
    pub runs_created: u64,
    pub runs_evicted: u64,
    /// Events of no known type (delivered, not applied).
    pub ignored: u64,
}

/// A run while it is held.
#[derive(Debug)]
struct RunState {
    run_id: String,
    session_id: String,
    workspace_id: String,
    user_id: String,
    status: RunStatus,
    saw_start: bool,
    possibly_incomplete: bool,
    steps: SortedMap<StepKey, ExecutionStep>,
    ids: HashSet<String>,
    duplicates: u64,
    steps_dropped: u64,
    summary: Option<RunSummary>,
    ended_order: Option<u64>,
    /// The published view, dropped when the run changes.
    view: Option<Arc<Run>>,
    version: u64,
}

/// The store. See the module docs.
#[derive(Debug, Default)]
pub struct RunStore {
    config: RunsConfig,
    runs: SortedMap<u64, RunState>,
    next_key: u64,
    version: u64,
    ended_counter: u64,
    stats: RunStats,
    cached: Option<Arc<RunsSnapshot>>,
}

impl RunStore {
    #[must_use]
    pub fn new(config: RunsConfig) -> Self {
        Self { config, ..Self::default() }
    }

    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    #[must_use]
    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// The run ids of runs still going.
    pub fn running(&self) -> impl Iterator<Item = &str> {
        self.runs.values().filter(|r| r.status == RunStatus::Running).map(|r| r.run_id.as_str())
    }

    /// True when `event` is a step its run already holds (a copy to drop).
    #[must_use]
    pub fn is_duplicate(&self, event: &ExecutionEvent) -> bool {
        let ExecutionEvent::ExecutionStep(e) = event else { return false };
        self.newest(&e.run_id).and_then(|k| self.runs.get(&k)).is_some_and(|r| r.holds_copy(&e.step))
    }

    /// Counts a copy dropped before [`Self::apply`].
    pub fn count_duplicate(&mut self, event: &ExecutionEvent) {
        let ExecutionEvent::ExecutionStep(e) = event else { return };
        self.stats.duplicates += 1;
        if let Some(key) = self.newest(&e.run_id) {
            self.touch(key).duplicates += 1;
        }
    }

    /// Applies one event. Returns true when the content changed.
    pub fn apply(&mut self, event: &ExecutionEvent) -> bool {
        self.stats.events += 1;
        let before = self.version;
        match event {
            ExecutionEvent::ExecutionStarted(e) => {
                self.supersede(&e.run_id);
                self.open(&e.run_id, &e.session_id, &e.workspace_id, &e.user_id, true);
            }
            ExecutionEvent::ExecutionStep(e) => {
                let key = match self.newest(&e.run_id) {
                    Some(key) if self.runs[&key].takes_step(&e.step) => key,
                    _ => self.open(&e.run_id, &e.session_id, &e.workspace_id, &e.user_id, false),
                };
                self.add_step(key, &e.step);
            }
            ExecutionEvent::ExecutionCompleted(e) => self.complete(e),
            ExecutionEvent::Unknown(_) => self.stats.ignored += 1,
        }
        self.version != before
    }

    /// The connection was lost: runs still going may miss steps.
    pub fn connection_lost(&mut self) {
        let keys: Vec<u64> = self.runs.iter().filter(|(_, r)| r.status == RunStatus::Running).map(|(k, _)| *k).collect();
        for key in keys {
            self.touch(key).possibly_incomplete = true;
        }
    }

    /// The snapshot of the current version.
    pub fn snapshot(&mut self) -> Arc<RunsSnapshot> {
        if let Some(s) = &self.cached {
            return s.clone();
        }
        let max_missing = self.config.max_missing_listed;
        let runs = self.runs.iter_mut().map(|(key, run)| published(*key, run, max_missing)).collect();
        let snapshot = Arc::new(RunsSnapshot { version: self.version, runs });
        self.cached = Some(snapshot.clone());
        snapshot
    }

    // ── internals ───────────────────────────────────────────────────────────

    /// The newest instance of `run_id`.
    fn newest(&self, run_id: &str) -> Option<u64> {
        self.runs.iter().rev().find(|(_, r)| r.run_id == run_id).map(|(k, _)| *k)
    }

    fn open(&mut self, run_id: &str, session_id: &str, workspace_id: &str, user_id: &str, saw_start: bool) -> u64 {
        self.next_key += 1;
        self.stats.runs_created += 1;
        let run = RunState {
            run_id: run_id.to_owned(),
            session_id: session_id.to_owned(),
            workspace_id: workspace_id.to_owned(),
            user_id: user_id.to_owned(),
            status: RunStatus::Running,
            saw_start,
            possibly_incomplete: false,
            steps: SortedMap::new(),
            ids: HashSet::new(),
            duplicates: 0,
            steps_dropped: 0,
            summary: None,
            ended_order: None,
            view: None,
            version: 0,
        };
        self.runs.insert(self.next_key, run);
        self.touch(self.next_key);
        self.evict();
        self.next_key
    }

    /// A new start of `run_id`: a still-running instance of it will never complete.
    fn supersede(&mut self, run_id: &str) {
        if let Some(key) = self.newest(run_id).filter(|k| self.runs[k].status == RunStatus::Running) {
            self.end(key, RunStatus::Unfinished);
        }
    }

    fn add_step(&mut self, key: u64, step: &ExecutionStep) {
        let max_steps = self.config.max_steps;
        let run = self.runs.get(&key).expect("instance exists");
        if run.ids.contains(&step.id) {
            return;
        }
        if run.steps.len() >= max_steps {
            self.stats.steps_dropped += 1;
            self.touch(key).steps_dropped += 1;
            return;
        }
        let run = self.touch(key);
        run.ids.insert(step.id.clone());
        run.steps.insert(step_key(step), step.clone());
    }

    fn complete(&mut self, e: &RunCompleted) {
        let key = match self.newest(&e.run_id) {
            Some(key) if self.runs[&key].takes_completion(e) => key,
            _ => self.open(&e.run_id, &e.session_id, &e.workspace_id, &e.user_id, false),
        };
        if let Some(step) = &e.step {
            self.add_step(key, step);
        }
        let status = match (&e.step, &e.summary) {
            (None, None) => RunStatus::Interrupted,
            (_, summary) => status_of(summary.as_ref().and_then(|s| s.status.as_deref())),
        };
        self.touch(key).summary = e.summary.as_deref().cloned();
        self.end(key, status);
    }

    fn end(&mut self, key: u64, status: RunStatus) {
        self.ended_counter += 1;
        let order = self.ended_counter;
        let run = self.touch(key);
        run.status = status;
        run.ended_order = Some(order);
    }

    /// Marks run `key` changed and returns it.
    fn touch(&mut self, key: u64) -> &mut RunState {
        self.version += 1;
        self.cached = None;
        let version = self.version;
        let run = self.runs.get_mut(&key).expect("run exists");
        run.view = None;
        run.version = version;
        run
    }

    /// Drops runs beyond the bound: the one that ended longest ago, else the oldest.
    fn evict(&mut self) {
        while self.runs.len() > self.config.max_runs.max(1) {
            let ended = self.runs.iter().filter_map(|(k, r)| r.ended_order.map(|o| (o, *k))).min().map(|(_, k)| k);
            let Some(key) = ended.or_else(|| self.runs.keys().next().copied()) else { return };
            self.runs.remove(&key);
            self.stats.runs_evicted += 1;
            self.version += 1;
            self.cached = None;
        }
    }
}

impl RunState {
    /// Holds a step with this id: while running, any frame with the id is a copy; once
    /// ended, only one with the same content (a later run may reuse the ids, see the module docs).
    fn holds_copy(&self, step: &ExecutionStep) -> bool {
        self.ids.contains(&step.id) && (self.status == RunStatus::Running || self.steps.get(&step_key(step)) == Some(step))
    }

    /// A step of `run_id` belongs here: the run is going, or the step is a copy or a late
    /// step below its last index (REPL steps may trail the completion).
    fn takes_step(&self, step: &ExecutionStep) -> bool {
        if self.status == RunStatus::Running {
            return true;
        }
        if self.ids.contains(&step.id) {
            return self.holds_copy(step);
        }
        let last = self.steps.keys().map(|(i, _)| *i).filter(|i| *i != u64::MAX).max();
        matches!((step.index(), last), (Some(i), Some(last)) if i < last)
    }

    /// A completion of `run_id` belongs here: the run is going, or it repeats the
    /// completion that ended it.
    fn takes_completion(&self, e: &RunCompleted) -> bool {
        if self.status == RunStatus::Running {
            return true;
        }
        let same_step = match &e.step {
            Some(step) => self.holds_copy(step),
            None => self.status == RunStatus::Interrupted,
        };
        same_step && e.summary.as_deref() == self.summary.as_ref()
    }
}

fn status_of(summary_status: Option<&str>) -> RunStatus {
    match summary_status {
        Some("completed") => RunStatus::Completed,
        Some("error") => RunStatus::Error,
        Some("cancelled") => RunStatus::Cancelled,
        Some("needs_human_review") => RunStatus::NeedsHumanReview,
        _ => RunStatus::Ended,
    }
}

/// The run's view, built only when it changed since the last snapshot.
fn published(run_key: u64, run: &mut RunState, max_missing: usize) -> Arc<Run> {
    if let Some(view) = &run.view {
        return view.clone();
    }
    let fresh = Arc::new(view(run_key, run, max_missing));
    run.view = Some(fresh.clone());
    fresh
}

/// The published view of a run.
fn view(run_key: u64, run: &RunState, max_missing: usize) -> Run {
    let (missing, missing_count) = missing_indices(&run.steps, max_missing);
    Run {
        run_key,
        run_id: run.run_id.clone(),
        session_id: run.session_id.clone(),
        workspace_id: run.workspace_id.clone(),
        user_id: run.user_id.clone(),
        status: run.status,
        saw_start: run.saw_start,
        possibly_incomplete: run.possibly_incomplete,
        tree: build_tree(&run.steps),
        steps: run.steps.len() as u64,
        duplicates: run.duplicates,
        steps_dropped: run.steps_dropped,
        missing,
        missing_count,
        summary: run.summary.clone(),
        version: run.version,
    }
}

/// Indices in `1..=max` that no step has: the first `limit` of them, and their count.
/// The walk stops once `limit` are listed, so a huge index costs nothing.
fn missing_indices(steps: &SortedMap<StepKey, ExecutionStep>, limit: usize) -> (Vec<u64>, u64) {
    let have: HashSet<u64> = steps.keys().map(|(i, _)| *i).filter(|i| *i != u64::MAX).collect();
    let Some(&max) = have.iter().max() else { return (Vec::new(), 0) };
    let count = max - have.len() as u64;
    let listed = (1..=max).filter(|i| !have.contains(i)).take(limit).collect();
    (listed, count)
}

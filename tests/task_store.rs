//! The task store (`protocol::rocketride::store`) fed with delivered events, natively:
//! runs of one pipeline told apart by `startTime`, lifecycle, flow, output, errors,
//! reconnects, bounds, snapshot identity, and property tests over random interleavings,
//! orders and duplicates. Events are built from wire JSON, as the server sends them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use runwatch::protocol::rocketride::events::{decode_event, RocketRideEvent};
use runwatch::protocol::rocketride::outputs::Delivered;
use runwatch::protocol::rocketride::store::{EndCause, RunPhase, StoreConfig, TaskRun, TaskStore};
use serde_json::value::RawValue;
use serde_json::{json, Value};

const P: &str = "proj-1";
const SRC: &str = "chat_1";
const TASK: &str = "bee3a8ea.chat_1";
const S1: f64 = 1780052401.5;
const S2: f64 = 1780052460.25;

fn event(name: &str, body: Value) -> RocketRideEvent {
    decode_event(name, &RawValue::from_string(body.to_string()).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A full `TASK_STATUS` body (spec §4.2) of `task` started at `start`.
fn status_body(task: &str, project: &str, source: &str, state: i64, start: f64, completed: bool) -> Value {
    json!({
        "name": format!("Agent.{source}"), "project_id": project, "source": source,
        "completed": completed, "state": state, "startTime": start, "endTime": if completed { start + 60.0 } else { 0.0 },
        "debuggerAttached": false, "status": if completed { "Completed" } else { "" },
        "warnings": [], "errors": [], "currentObject": "", "currentSize": 0, "notes": [],
        "totalSize": 0, "totalCount": 0, "completedSize": 0, "completedCount": 0,
        "failedSize": 0, "failedCount": 0, "wordsSize": 0, "wordsCount": 0, "rateSize": 0, "rateCount": 0,
        "serviceUp": state == 3, "exitCode": 0, "exitMessage": "",
        "pipeflow": {"totalPipes": 1, "byPipe": {}},
        "metrics": {"cpu_percent": 0.0, "cpu_memory_mb": 0.0, "gpu_memory_mb": 0.0,
            "peak_cpu_percent": 0.0, "peak_cpu_memory_mb": 0.0, "peak_gpu_memory_mb": 0.0,
            "avg_cpu_percent": 0.0, "avg_cpu_memory_mb": 0.0, "avg_gpu_memory_mb": 0.0},
        "tokens": {"cpu_utilization": 0.0, "cpu_memory": 0.0, "gpu_memory": 0.0, "gpu_inference": 0.0, "custom": {}, "total": 0.0},
        "__id": task
    })
}

fn status(task: &str, state: i64, start: f64) -> RocketRideEvent {
    event("apaevt_status_update", status_body(task, P, SRC, state, start, false))
}

fn status_with(task: &str, state: i64, start: f64, f: impl FnOnce(&mut Value)) -> RocketRideEvent {
    let mut body = status_body(task, P, SRC, state, start, state >= 5);
    f(&mut body);
    event("apaevt_status_update", body)
}

fn final_status(task: &str, start: f64) -> RocketRideEvent {
    event("apaevt_status_update", status_body(task, P, SRC, 5, start, true))
}

/// The synthetic "Not running" seed of a `{projectId, source}` subscription (spec §3.4).
fn not_running(project: &str, source: &str) -> RocketRideEvent {
    let mut body = status_body(&format!("{project}.{source}"), project, source, 0, 0.0, false);
    body["name"] = json!("");
    body["status"] = json!("Not running");
    event("apaevt_status_update", body)
}

fn lifecycle(action: &str, task: &str) -> RocketRideEvent {
    event("apaevt_task", json!({"action": action, "name": format!("Agent.{SRC}"), "projectId": P, "source": SRC, "__id": task}))
}

fn running(tasks: &[&str]) -> RocketRideEvent {
    let tasks: Vec<Value> =
        tasks.iter().map(|t| json!({"id": t, "name": format!("Agent.{SRC}"), "projectId": P, "source": SRC})).collect();
    event("apaevt_task", json!({"action": "running", "tasks": tasks, "__id": ""}))
}

fn flow(task: &str, pipe: u64, op: &str, pipes: &[&str]) -> RocketRideEvent {
    event("apaevt_flow", json!({"id": pipe, "op": op, "pipes": pipes, "trace": {}, "project_id": P, "source": SRC, "__id": task}))
}

fn output(task: &str, line: &str) -> RocketRideEvent {
    event("output", json!({"category": "console", "output": format!("{line}\n"), "__id": task}))
}

fn detail(name: &str, task: &str, message: &str) -> RocketRideEvent {
    event(name, json!({"message": message, "__id": task}))
}

/// Feeds events with increasing seqs on one connection.
struct Feed {
    store: TaskStore,
    epoch: u32,
    seq: u64,
    now: u64,
}

impl Feed {
    fn new() -> Self {
        Self::with(StoreConfig::default())
    }

    fn with(config: StoreConfig) -> Self {
        Self { store: TaskStore::new(config), epoch: 1, seq: 0, now: 1_000 }
    }

    fn push(&mut self, event: RocketRideEvent) -> bool {
        self.seq += 1;
        self.now += 10;
        let d = Delivered { epoch: self.epoch, seq: Some(self.seq), replayed: false, event };
        self.store.apply(self.now, &d)
    }

    fn all(&mut self, events: impl IntoIterator<Item = RocketRideEvent>) {
        for e in events {
            self.push(e);
        }
    }

    /// A new connection: seq starts again.
    fn reconnect(&mut self) {
        self.epoch += 1;
        self.seq = 0;
    }

    fn runs(&mut self) -> Vec<Arc<TaskRun>> {
        self.store.snapshot().runs.clone()
    }
}

/// One natural run: STARTING before `begin` (spec §4.2), flow, output, the final status,
/// `end`, and the final status again after `end` (errata 2).
fn natural_run(task: &str, start: f64) -> Vec<RocketRideEvent> {
    vec![
        status(task, 1, start),
        lifecycle("begin", task),
        status(task, 2, start),
        status(task, 3, start),
        flow(task, 0, "begin", &["Question 1"]),
        flow(task, 0, "enter", &["Question 1", "agent_1"]),
        output(task, "thinking"),
        flow(task, 0, "leave", &["Question 1"]),
        flow(task, 0, "end", &[]),
        status(task, 4, start),
        final_status(task, start),
        lifecycle("end", task),
        final_status(task, start),
    ]
}

#[test]
fn two_runs_of_the_same_pipeline_are_told_apart() {
    let mut f = Feed::new();
    f.all(natural_run(TASK, S1));
    f.all(natural_run(TASK, S2)[..8].to_vec());
    let runs = f.runs();
    assert_eq!(runs.len(), 2);
    let (a, b) = (&runs[0], &runs[1]);
    assert_eq!((a.task_id.as_str(), b.task_id.as_str()), (TASK, TASK), "the task id repeats across runs");
    assert_eq!((a.start_time, b.start_time), (Some(S1), Some(S2)));
    assert!(a.run_id < b.run_id);
    assert!(a.lifecycle.ended && a.lifecycle.begun);
    assert_eq!(a.lifecycle.ended_by, Some(EndCause::Status), "the completed status came before `end`");
    assert_eq!(a.phase, RunPhase::Ended);
    assert_eq!(a.status.as_ref().unwrap().state.to_wire(), 5);
    assert_eq!(a.output, ["thinking"]);
    assert_eq!((a.flow[0].objects, a.flow[0].stack.len()), (1, 0));
    assert!(!b.lifecycle.ended && b.lifecycle.begun);
    assert_eq!(b.phase, RunPhase::Running);
    assert_eq!(b.flow[0].stack, ["Question 1"], "the stack after `leave`");
    assert_eq!(b.output, ["thinking"]);
    assert_eq!((b.project_id.as_deref(), b.source.as_str(), b.name.as_deref()), (Some(P), SRC, Some("Agent.chat_1")));
}

#[test]
fn the_not_running_seed_is_no_run_and_ends_what_ran_there() {
    let mut f = Feed::new();
    f.push(not_running(P, SRC));
    assert!(f.runs().is_empty());
    assert_eq!(f.store.stats().not_runs, 1);
    assert_eq!(f.store.version(), 0, "nothing changed");
    f.all([status(TASK, 3, S1), output(TASK, "x")]);
    // After a reconnect the seed says the source runs nothing: the run ended offline.
    f.reconnect();
    f.push(not_running(P, SRC));
    let runs = f.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].lifecycle.ended_by, Some(EndCause::NotRunning));
    // The project-wide seed (`source:"*"`) always says "Not running" (spec §3.4 quirk).
    f.push(status(TASK, 3, S2));
    f.push(not_running(P, "*"));
    assert!(!f.runs()[1].lifecycle.ended);
}

#[test]
fn a_timed_named_state_none_status_is_a_seed_only_under_the_made_up_id() {
    // State 0 with a start time and a name: a seed only when its id is `<project>.<source>`.
    let seed = |task: &str| event("apaevt_status_update", status_body(task, P, SRC, 0, S1, false));
    let mut f = Feed::new();
    f.push(seed(&format!("{P}.{SRC}")));
    assert!(f.runs().is_empty(), "the made-up id is no run");
    assert_eq!(f.store.stats().not_runs, 1);
    // Ids that only start like it, or have the source without its dot, are tasks.
    for near in [format!("{P}.{SRC}x"), format!("{P}{SRC}"), format!("x{P}.{SRC}")] {
        f.push(seed(&near));
    }
    assert_eq!(f.runs().len(), 3);
    assert_eq!(f.store.stats().not_runs, 1);
}

#[test]
fn a_restart_keeps_the_run() {
    let mut f = Feed::new();
    f.all(natural_run(TASK, S1)[..5].to_vec());
    f.all([
        status_with(TASK, 6, S1, |b| b["status"] = json!("Restarting")),
        status(TASK, 1, S1),
        lifecycle("restart", TASK),
        status(TASK, 2, S1),
        status(TASK, 3, S1),
    ]);
    let runs = f.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].lifecycle.restarts, 1);
    assert!(!runs[0].lifecycle.ended);
    assert_eq!(runs[0].phase, RunPhase::Running);
}

#[test]
fn the_restarting_status_shows_as_restarting() {
    let mut f = Feed::new();
    f.all([status(TASK, 3, S1), status_with(TASK, 6, S1, |b| b["status"] = json!("Restarting"))]);
    assert_eq!(f.runs()[0].phase, RunPhase::Restarting);
}

#[test]
fn lifecycle_without_statuses_makes_pending_runs() {
    let mut f = Feed::new();
    f.all([lifecycle("begin", TASK), output(TASK, "a"), lifecycle("end", TASK)]);
    f.all([lifecycle("begin", TASK), output(TASK, "b")]);
    let runs = f.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].start_time, None);
    assert_eq!(runs[0].lifecycle.ended_by, Some(EndCause::End));
    assert_eq!(runs[0].output, ["a"]);
    assert_eq!(runs[1].output, ["b"]);
    assert_eq!(runs[1].phase, RunPhase::Starting);
    assert_eq!(runs[1].project_id.as_deref(), Some(P));
    // The next status adopts the pending run instead of opening another.
    f.push(status(TASK, 3, S2));
    let runs = f.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].start_time, Some(S2));
    assert_eq!(runs[1].phase, RunPhase::Running);
}

#[test]
fn output_of_an_unknown_task_opens_a_pending_run() {
    let mut f = Feed::new();
    f.push(output("0a1b2c3d.webhook_2", "late joiner"));
    let runs = f.runs();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].source.as_str(), runs[0].project_id.as_deref()), ("webhook_2", None));
}

#[test]
fn the_running_seed_opens_runs_that_statuses_adopt() {
    let mut f = Feed::new();
    f.push(running(&[TASK, "11111111.other"]));
    let runs = f.runs();
    assert_eq!(runs.len(), 2);
    assert!(runs.iter().all(|r| r.lifecycle.listed && r.phase == RunPhase::Running && r.start_time.is_none()));
    let id = runs[0].run_id;
    f.push(status(TASK, 3, S1));
    let runs = f.runs();
    assert_eq!((runs.len(), runs[0].run_id, runs[0].start_time), (2, id, Some(S1)));
}

#[test]
fn after_a_reconnect_runs_go_stale_and_the_running_seed_ends_what_ended_offline() {
    let other = "11111111.other";
    let mut f = Feed::new();
    f.all([status(TASK, 3, S1), status(other, 3, S1)]);
    let before = f.store.stats().resyncs;
    f.reconnect();
    // The resync diagnostic reaches the store before anything of the new connection.
    assert!(f.store.mark_resync(f.now, f.epoch));
    assert!(f.runs().iter().all(|r| r.stale));
    assert!(!f.store.mark_resync(f.now, f.epoch), "idempotent per connection");
    f.push(running(&[other]));
    let runs = f.runs();
    assert_eq!(runs[0].lifecycle.ended_by, Some(EndCause::NotRunning), "ended while offline");
    assert!(!runs[0].stale);
    assert!(!runs[1].stale && !runs[1].lifecycle.ended, "still running, and confirmed");
    assert_eq!(f.store.stats().resyncs, before + 1);
}

#[test]
fn an_inferred_end_is_undone_when_the_server_lists_the_task_again() {
    let mut f = Feed::new();
    f.push(status(TASK, 3, S1));
    f.store.mark_ended_offline(f.now, TASK);
    f.push(running(&[TASK]));
    f.push(status(TASK, 3, S1));
    let runs = f.runs();
    assert_eq!(runs.len(), 1, "no second run for the same one");
    assert!(!runs[0].lifecycle.ended && runs[0].lifecycle.listed);
    assert_eq!(runs[0].phase, RunPhase::Running);
}

#[test]
fn a_newer_connection_marks_runs_stale_by_itself() {
    let mut f = Feed::new();
    f.all([status(TASK, 3, S1), status("11111111.other", 3, S1)]);
    f.reconnect();
    f.push(status(TASK, 3, S1));
    let runs = f.runs();
    assert!(!runs[0].stale, "refreshed on the new connection");
    assert!(runs[1].stale, "nothing about it since the reconnect");
    assert_eq!(f.store.stats().resyncs, 1);
}

#[test]
fn mark_ended_offline_ends_the_current_run() {
    let mut f = Feed::new();
    f.push(status(TASK, 3, S1));
    assert!(f.store.mark_ended_offline(5_000, TASK));
    let run = &f.runs()[0];
    assert_eq!((run.lifecycle.ended_by, run.lifecycle.ended_at), (Some(EndCause::Offline), Some(5_000)));
    assert!(!f.store.mark_ended_offline(6_000, TASK), "nothing left to end");
    assert!(!f.store.mark_ended_offline(6_000, "unknown.task"));
}

#[test]
fn a_newer_run_supersedes_one_whose_end_was_missed() {
    let mut f = Feed::new();
    f.all([status(TASK, 3, S1), status(TASK, 1, S2)]);
    let runs = f.runs();
    assert_eq!(runs[0].lifecycle.ended_by, Some(EndCause::Superseded));
    assert!(!runs[1].lifecycle.ended);
    // A late status of the older run does not bring it back.
    f.push(status(TASK, 3, S1));
    let runs = f.runs();
    assert!(runs[0].lifecycle.ended && !runs[1].lifecycle.ended);
}

#[test]
fn task_removed_marks_the_run() {
    let mut f = Feed::new();
    f.all(natural_run(TASK, S1));
    f.push(event("apaevt_dashboard", json!({"action": "task_removed", "taskId": TASK, "timestamp": 1.0, "__id": ""})));
    let run = &f.runs()[0];
    assert!(run.lifecycle.removed && run.lifecycle.ended);
    assert_eq!(run.lifecycle.ended_by, Some(EndCause::Status), "the first cause is kept");
}

#[test]
fn errors_and_warnings_merge_status_and_detail_without_repeats() {
    let mut f = Feed::new();
    f.push(status(TASK, 3, S1));
    f.push(detail("apaevt_status_error", TASK, "e1"));
    f.push(status_with(TASK, 3, S1, |b| b["errors"] = json!(["e1"])));
    f.push(detail("apaevt_status_error", TASK, "e2"));
    f.push(detail("apaevt_status_warning", TASK, "w1"));
    f.push(status_with(TASK, 3, S1, |b| {
        b["errors"] = json!(["e1", "e2", "e3"]);
        b["warnings"] = json!(["w1"]);
    }));
    f.push(detail("apaevt_status_message", TASK, "loading"));
    let run = &f.runs()[0];
    assert_eq!(run.errors, ["e1", "e2", "e3"]);
    assert_eq!(run.warnings, ["w1"]);
    assert_eq!(run.message.as_deref(), Some("loading"));
}

#[test]
fn flow_stacks_are_kept_per_pipe() {
    let mut f = Feed::new();
    f.all([
        status(TASK, 3, S1),
        flow(TASK, 1, "begin", &["b.pdf"]),
        flow(TASK, 0, "begin", &["a.pdf"]),
        flow(TASK, 0, "enter", &["a.pdf", "parse"]),
        flow(TASK, 1, "enter", &["b.pdf", "embed"]),
        flow(TASK, 1, "enter", &["b.pdf", "embed", "store"]),
    ]);
    let run = &f.runs()[0];
    let pipes: Vec<(u64, Vec<String>)> = run.flow.iter().map(|p| (p.pipe_id, p.stack.clone())).collect();
    assert_eq!(pipes, vec![(0, vec!["a.pdf".into(), "parse".into()]), (1, vec!["b.pdf".into(), "embed".into(), "store".into()])]);
}

#[test]
fn sse_is_counted() {
    let mut f = Feed::new();
    f.push(status(TASK, 3, S1));
    f.push(event("apaevt_sse", json!({"pipe_id": 2, "type": "thinking", "__id": TASK})));
    f.push(event("apaevt_sse", json!({"pipe_id": 2, "type": "acting", "data": {"tool": "x"}, "__id": TASK})));
    let run = &f.runs()[0];
    assert_eq!(run.sse_count, 2);
    assert_eq!(run.last_sse.as_ref().map(|s| s.kind.as_str()), Some("acting"));
}

#[test]
fn duplicates_change_nothing() {
    let mut f = Feed::new();
    let d = Delivered { epoch: 1, seq: Some(5), replayed: false, event: status(TASK, 3, S1) };
    assert!(f.store.apply(1, &d));
    let snap = f.store.snapshot();
    assert!(!f.store.apply(2, &d));
    let older = Delivered { epoch: 1, seq: Some(4), replayed: false, event: output(TASK, "late") };
    assert!(!f.store.apply(3, &older));
    assert!(Arc::ptr_eq(&snap, &f.store.snapshot()));
    assert_eq!(f.store.stats().duplicates, 2);
    // Re-seeded events (no seq) are applied; an identical status changes nothing.
    let reseed = Delivered { epoch: 1, seq: None, replayed: false, event: status(TASK, 3, S1) };
    assert!(!f.store.apply(4, &reseed));
}

#[test]
fn snapshots_are_immutable_and_change_identity_only_with_content() {
    let mut f = Feed::new();
    let empty = f.store.snapshot();
    assert_eq!((empty.version, empty.runs.len()), (0, 0));
    assert!(Arc::ptr_eq(&empty, &f.store.snapshot()));
    f.all([status(TASK, 3, S1), status("11111111.other", 3, S1)]);
    let one = f.store.snapshot();
    assert!(one.version > empty.version && !Arc::ptr_eq(&empty, &one));
    f.push(output(TASK, "line"));
    let two = f.store.snapshot();
    assert!(two.version > one.version);
    assert!(one.runs[0].output.is_empty(), "an older snapshot never changes");
    assert_eq!(two.runs[0].output, ["line"]);
    assert!(Arc::ptr_eq(&one.runs[1], &two.runs[1]), "an unchanged run is shared");
    assert_eq!(two.runs[0].version, two.version);
    assert_eq!(two.runs[1].version, one.version);
    // A batch moves the version once.
    let batch: Vec<Delivered> = (0..5).map(|i| Delivered { epoch: 1, seq: Some(100 + i), replayed: false, event: output(TASK, "b") }).collect();
    assert!(f.store.apply_batch(9_999, &batch));
    assert_eq!(f.store.version(), two.version + 1);
}

#[test]
fn bounds_evict_the_oldest_ended_runs_first_and_count() {
    let config = StoreConfig { max_runs: 3, max_output_lines: 2, max_errors: 2, max_warnings: 1, max_pipes: 1 };
    let mut f = Feed::with(config);
    f.all([status("00000001.a", 3, S1), status("00000002.b", 3, S1)]);
    f.all(natural_run("00000003.c", S1)); // ended
    f.push(status("00000004.d", 3, S1)); // fourth run: the ended one goes, not an older live one
    let tasks: BTreeSet<String> = f.runs().iter().map(|r| r.task_id.clone()).collect();
    assert_eq!(tasks, ["00000001.a", "00000002.b", "00000004.d"].map(String::from).into());
    assert_eq!((f.store.stats().runs_evicted, f.store.stats().live_runs_evicted), (1, 0));
    f.push(status("00000005.e", 3, S1)); // nothing ended: the oldest live run goes
    assert_eq!(f.runs()[0].task_id, "00000002.b");
    assert_eq!((f.store.stats().runs_evicted, f.store.stats().live_runs_evicted), (2, 1));
    for line in ["1", "2", "3", "4"] {
        f.push(output("00000005.e", line));
    }
    f.all([
        detail("apaevt_status_error", "00000005.e", "x"),
        detail("apaevt_status_error", "00000005.e", "y"),
        detail("apaevt_status_error", "00000005.e", "z"),
        detail("apaevt_status_warning", "00000005.e", "w1"),
        detail("apaevt_status_warning", "00000005.e", "w2"),
        flow("00000005.e", 0, "begin", &["o"]),
        flow("00000005.e", 1, "begin", &["o"]),
    ]);
    let run = f.runs().into_iter().find(|r| r.task_id == "00000005.e").unwrap();
    assert_eq!((run.output.iter().cloned().collect::<Vec<_>>(), run.output_total, run.output_dropped), (vec!["3".into(), "4".into()], 4, 2));
    assert_eq!((run.errors.len(), run.errors_dropped, run.warnings.len(), run.warnings_dropped), (2, 1, 1, 1));
    assert_eq!(run.flow.len(), 1);
    let stats = f.store.stats();
    assert_eq!((stats.output_dropped, stats.errors_dropped, stats.warnings_dropped, stats.pipes_dropped), (2, 1, 1, 1));
}

#[test]
fn snapshot_serialises_for_javascript() {
    let mut f = Feed::new();
    f.all(natural_run(TASK, S1)[..8].to_vec());
    let js = serde_json::to_value(&*f.store.snapshot()).unwrap();
    let run = &js["runs"][0];
    assert_eq!(js["version"], json!(f.store.version()));
    for key in ["runId", "taskId", "projectId", "startTime", "phase", "status", "lifecycle", "stale", "flow", "output", "errors", "warnings", "sseCount", "version"] {
        assert!(run.get(key).is_some(), "{key} missing: {run}");
    }
    assert_eq!(run["phase"], "running");
    assert!(run.get("lastSse").is_none(), "absent values are missing keys, declared optional");
    assert!(run["lifecycle"].get("endedBy").is_none());
    assert_eq!(run["flow"][0]["lastOp"], "leave");
    assert_eq!(run["status"]["state"], "running");
    assert!(run.get("endOrder").is_none());
}

#[test]
fn typescript_declarations() {
    use runwatch::protocol::rocketride::store::{RunLifecycle, TaskSnapshot};
    use tsify::Tsify;
    let run = TaskRun::DECL;
    for field in ["runId: number;", "startTime?: number;", "status?: TaskStatus;", "output: string[];", "lastSse?: SseEvent;", "phase: RunPhase;"] {
        assert!(run.contains(field), "TaskRun lacks {field}: {run}");
    }
    assert!(TaskSnapshot::DECL.contains("runs: TaskRun[];"));
    assert!(RunLifecycle::DECL.contains("endedBy?: EndCause;"));
}

// ── property tests ──────────────────────────────────────────────────────────

const TASKS: [&str; 2] = ["aaaaaaaa.chat_1", "bbbbbbbb.chat_2"];
const STARTS: [f64; 3] = [100.5, 200.25, 300.0];

/// Any event of the store's alphabet, with no order.
fn any_event() -> impl Strategy<Value = RocketRideEvent> {
    let task = prop::sample::select(TASKS.to_vec());
    let start = prop::sample::select(STARTS.to_vec());
    prop_oneof![
        (task.clone(), 0..7i64, start.clone(), any::<bool>())
            .prop_map(|(t, s, st, c)| event("apaevt_status_update", status_body(t, P, SRC, s, st, c))),
        Just(not_running(P, SRC)),
        (task.clone(), prop::sample::select(vec!["begin", "end", "restart"])).prop_map(|(t, a)| lifecycle(a, t)),
        prop::sample::subsequence(TASKS.to_vec(), 0..=2).prop_map(|ts| running(&ts)),
        (task.clone(), 0..3u64, prop::sample::select(vec!["begin", "enter", "leave", "end"]))
            .prop_map(|(t, p, op)| flow(t, p, op, &["o", "c"])),
        (task.clone(), "[a-z]{1,3}").prop_map(|(t, l)| output(t, &l)),
        (task.clone(), "[a-z]{1,2}").prop_map(|(t, m)| detail("apaevt_status_error", t, &m)),
        (task, "[a-z]{1,2}").prop_map(|(t, m)| detail("apaevt_status_warning", t, &m)),
    ]
}

fn small() -> StoreConfig {
    StoreConfig { max_runs: 4, max_output_lines: 3, max_errors: 3, max_warnings: 3, max_pipes: 2 }
}

fn check_invariants(store: &mut TaskStore, config: &StoreConfig) {
    let snap = store.snapshot();
    assert!(snap.runs.len() <= config.max_runs);
    let mut live: BTreeMap<&str, u32> = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for run in &snap.runs {
        assert!(run.output.len() <= config.max_output_lines);
        assert!(run.errors.len() <= config.max_errors && run.warnings.len() <= config.max_warnings);
        assert!(run.flow.len() <= config.max_pipes);
        assert!(run.version <= snap.version);
        assert_eq!(run.lifecycle.ended, run.phase == RunPhase::Ended);
        assert_eq!(run.lifecycle.ended, run.lifecycle.ended_by.is_some());
        if !run.lifecycle.ended {
            *live.entry(&run.task_id).or_default() += 1;
        }
        if let Some(start) = run.start_time {
            assert!(keys.insert((run.task_id.clone(), start.to_bits())), "two runs of one (taskId, startTime)");
        }
        assert!(!run.task_id.starts_with(P), "a synthetic seed became a run");
    }
    assert!(live.values().all(|n| *n <= 1), "more than one live run of a task: {live:?}");
    assert!(snap.runs.windows(2).all(|w| w[0].run_id < w[1].run_id));
}

/// A realistic sequence of `runs` runs of one task, in the server's order.
fn task_runs(task: &'static str, runs: usize) -> Vec<RocketRideEvent> {
    STARTS[..runs].iter().flat_map(|s| natural_run(task, *s)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any order of any events (with duplicates and reconnects): the store never panics,
    /// stays within its bounds, keeps one live run per task and one run per
    /// (taskId, startTime), and its version and snapshot identity move only together.
    #[test]
    fn any_order_keeps_the_invariants(
        events in prop::collection::vec((any_event(), 0..4u8), 0..80),
    ) {
        let config = small();
        let mut store = TaskStore::new(config.clone());
        let (mut epoch, mut seq, mut now) = (1u32, 0u64, 0u64);
        for (event, how) in events {
            now += 7;
            let d = match how {
                0 => Delivered { epoch, seq: None, replayed: false, event },          // re-seeded
                1 if seq > 0 => Delivered { epoch, seq: Some(seq), replayed: false, event }, // a copy's seq
                2 if seq % 5 == 4 => { epoch += 1; seq = 1; Delivered { epoch, seq: Some(1), replayed: false, event } }
                _ => { seq += 1; Delivered { epoch, seq: Some(seq), replayed: false, event } }
            };
            let before = store.snapshot();
            let changed = store.apply(now, &d);
            let after = store.snapshot();
            prop_assert_eq!(changed, !Arc::ptr_eq(&before, &after));
            prop_assert_eq!(changed, after.version == before.version + 1);
            prop_assert!(changed || after.version == before.version);
            check_invariants(&mut store, &config);
        }
    }

    /// Each delivery given twice (same connection and seq) ends in the same runs as given once.
    #[test]
    fn duplicates_are_no_ops(events in prop::collection::vec(any_event(), 0..60)) {
        let mut once = TaskStore::new(small());
        let mut twice = TaskStore::new(small());
        for (i, event) in events.into_iter().enumerate() {
            let d = Delivered { epoch: 1, seq: Some(i as u64 + 1), replayed: false, event };
            once.apply(i as u64, &d);
            twice.apply(i as u64, &d);
            prop_assert!(!twice.apply(i as u64, &d));
        }
        prop_assert_eq!(&*once.snapshot(), &*twice.snapshot());
    }

    /// Synthetic "Not running" seeds alone never make a run.
    #[test]
    fn seeds_alone_make_no_run(n in 0..20usize, source in "[a-z_*]{1,6}") {
        let mut store = TaskStore::default();
        for i in 0..n {
            store.apply(i as u64, &Delivered { epoch: 1, seq: Some(i as u64 + 1), replayed: false, event: not_running(P, &source) });
        }
        prop_assert!(store.snapshot().runs.is_empty());
    }

    /// Runs of two pipelines, interleaved at random (each task's own order kept, as the
    /// server sends it): every run is told apart, ended, and holds its own output and flow.
    #[test]
    fn interleaved_runs_are_told_apart(runs_a in 1..=3usize, runs_b in 1..=3usize, picks in prop::collection::vec(any::<bool>(), 0..200)) {
        let mut a = task_runs(TASKS[0], runs_a).into_iter().peekable();
        let mut b = task_runs(TASKS[1], runs_b).into_iter().peekable();
        let mut f = Feed::new();
        let mut picks = picks.into_iter();
        while a.peek().is_some() || b.peek().is_some() {
            let take_a = match (a.peek().is_some(), b.peek().is_some()) {
                (true, true) => picks.next().unwrap_or(true),
                (has_a, _) => has_a,
            };
            let next = if take_a { a.next() } else { b.next() };
            f.push(next.unwrap());
        }
        let runs = f.runs();
        prop_assert_eq!(runs.len(), runs_a + runs_b);
        for (task, n) in [(TASKS[0], runs_a), (TASKS[1], runs_b)] {
            let mine: Vec<_> = runs.iter().filter(|r| r.task_id == task).collect();
            let starts: Vec<Option<f64>> = mine.iter().map(|r| r.start_time).collect();
            prop_assert_eq!(starts, STARTS[..n].iter().map(|s| Some(*s)).collect::<Vec<_>>());
            for r in mine {
                prop_assert!(r.lifecycle.ended && r.lifecycle.begun);
                prop_assert_eq!(r.lifecycle.ended_by, Some(EndCause::Status));
                prop_assert_eq!(r.output.iter().cloned().collect::<Vec<_>>(), vec!["thinking".to_string()]);
                prop_assert_eq!(r.flow[0].objects, 1);
            }
        }
    }
}

//! The runner of one scripted task: the lifecycle frames of spec §4.2 (and Errata 2 and
//! 5) around the activity of a [`Script`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::clock::epoch_s;
use crate::hub::{Hub, State, TaskRef};
use crate::json::Obj;
use crate::registry::bit;
use crate::script::{Script, ScriptKind, Step};
use crate::status::{sample_metrics, state, Metrics, TaskStatus};
use crate::tasks::TaskCmd;
use crate::trace::TraceLevel;

/// Everything a runner needs to know about its task.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Task identity.
    pub task: TaskRef,
    /// Run number; the runner stops when the registry holds another run.
    pub run: u64,
    /// Server generation; the runner stops after a reset/restart.
    pub generation: u64,
    /// The engine trace level: which `apaevt_flow` frames exist (spec §4.3).
    pub trace: TraceLevel,
    /// End naturally after this much simulated time.
    pub duration_ms: Option<u64>,
    /// STARTING → RUNNING in simulated ms.
    pub startup_ms: u64,
    /// Workload.
    pub script: ScriptKind,
    /// The executed pipeline (for the component chain).
    pub pipeline: Value,
    /// Script seed.
    pub seed: u64,
}

/// Simulated milliseconds per activity tick of chat and ingest scripts.
const TICK_MS: u64 = 250;
/// Real tick of load scripts (their rate is per real second).
const LOAD_TICK: Duration = Duration::from_millis(20);
/// Simulated ms between `TASK_STATUS` updates (spec §4.2: ~1 Hz).
const STATUS_MS: u64 = 1000;

/// Starts the runner of a freshly registered task.
pub fn spawn(hub: Arc<Hub>, plan: Plan, ctl: mpsc::Receiver<TaskCmd>, running: oneshot::Sender<()>) {
    let script = Script::new(plan.script, &plan.pipeline, &plan.task.source, plan.seed);
    let runner = Runner { hub, plan, script, samples: 0, rate_mark: (0, 0, Instant::now()) };
    tokio::spawn(runner.run(ctl, running));
}

struct Runner {
    hub: Arc<Hub>,
    plan: Plan,
    script: Script,
    samples: u64,
    rate_mark: (u64, u64, Instant),
}

impl Runner {
    async fn run(mut self, mut ctl: mpsc::Receiver<TaskCmd>, running: oneshot::Sender<()>) {
        if !self.start_sequence("begin").await {
            return;
        }
        let _ = running.send(());
        self.main_loop(&mut ctl).await;
    }

    /// STARTING status, `begin`/`restart`, INITIALIZING, RUNNING (spec §4.2 order).
    async fn start_sequence(&mut self, action: &str) -> bool {
        let half = self.hub.clock.scaled(self.plan.startup_ms / 2);
        let pipes = self.plan.script.pipes();
        let started = locked(&self.hub, &self.plan, |st, p| {
            set_status(st, p, |s| s.state = state::STARTING);
            emit_task_action(st, p, action);
        });
        if started.is_none() {
            return false;
        }
        tokio::time::sleep(half).await;
        if locked(&self.hub, &self.plan, |st, p| set_status(st, p, |s| s.state = state::INITIALIZING)).is_none() {
            return false;
        }
        tokio::time::sleep(half).await;
        let up = locked(&self.hub, &self.plan, |st, p| {
            set_status(st, p, |s| {
                s.state = state::RUNNING;
                s.status = String::new();
                s.service_up = true;
                s.pipeflow.total_pipes = pipes;
            })
        });
        up.is_some()
    }

    /// Activity ticks, ~1 Hz status, commands and the natural end; bounded by the
    /// duration, a terminate, a reset or shutdown.
    async fn main_loop(&mut self, ctl: &mut mpsc::Receiver<TaskCmd>) {
        let load = matches!(self.plan.script, ScriptKind::Load { .. });
        let tick = if load { LOAD_TICK } else { self.hub.clock.scaled(TICK_MS) };
        let status_every = self.hub.clock.scaled(STATUS_MS);
        let deadline = self.plan.duration_ms.map(|d| Instant::now() + self.hub.clock.scaled(d));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut next_status = Instant::now() + status_every;
        let mut last_tick = Instant::now();
        let mut shutdown = self.hub.shutdown_signal();
        loop {
            tokio::select! {
                cmd = ctl.recv() => match cmd {
                    Some(TaskCmd::Terminate(reply)) => {
                        self.terminate_sequence();
                        let _ = reply.send(());
                        return;
                    }
                    Some(TaskCmd::Restart(reply)) => {
                        if !self.restart_sequence().await {
                            return;
                        }
                        let _ = reply.send(());
                    }
                    None => return,
                },
                _ = interval.tick() => {
                    let now = Instant::now();
                    let tick_s = if load { (now - last_tick).as_secs_f64() } else { TICK_MS as f64 / 1000.0 };
                    last_tick = now;
                    if !self.activity(tick_s) {
                        return;
                    }
                    if now >= next_status {
                        next_status = now + status_every;
                        if !self.status_tick() {
                            return;
                        }
                    }
                    if deadline.is_some_and(|d| now >= d) {
                        self.complete().await;
                        return;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Applies one tick of script steps.
    fn activity(&mut self, tick_s: f64) -> bool {
        let steps = self.script.tick(tick_s);
        locked(&self.hub, &self.plan, |st, p| steps.into_iter().for_each(|s| apply(st, p, s))).is_some()
    }

    /// The periodic status: sampled metrics, rates over the last interval.
    fn status_tick(&mut self) -> bool {
        self.samples += 1;
        let samples = self.samples;
        let (count0, size0, t0) = self.rate_mark;
        let sim_s = (t0.elapsed().as_secs_f64() * self.hub.config.speed).max(0.001);
        let rng = self.script.rng();
        let mark = locked(&self.hub, &self.plan, |st, p| {
            set_status(st, p, |s| {
                sample_metrics(s, rng, samples);
                s.rate_count = ((s.completed_count - count0) as f64 / sim_s).round() as u64;
                s.rate_size = ((s.completed_size - size0) as f64 / sim_s).round() as u64;
                (s.completed_count, s.completed_size)
            })
        });
        let Some((count, size)) = mark else { return false };
        self.rate_mark = (count, size, Instant::now());
        true
    }

    /// Natural exit: STOPPING, final, `end`, (task_error), final again (Errata 2).
    async fn complete(&mut self) {
        let beat = self.hub.clock.scaled(50);
        if locked(&self.hub, &self.plan, |st, p| set_status(st, p, stopping)).is_none() {
            return;
        }
        tokio::time::sleep(beat).await;
        let bug = self.hub.config.exit_code_bug;
        let finished = locked(&self.hub, &self.plan, |st, p| {
            // Spec §4.2 bug: the engine's `>EXIT` is read as exitCode 1 → state 6 "Stopped".
            let (code, st_code, text) = if bug { (1, state::CANCELLED, "Stopped") } else { (0, state::COMPLETED, "Completed") };
            set_status(st, p, |s| finish(s, st_code, text, code));
            emit_task_action(st, p, "end");
            if bug {
                let body = Obj::new()
                    .set("action", "task_error")
                    .set("taskId", &p.task.id)
                    .set("exitCode", &code)
                    .set("exitMessage", "");
                st.emit_dashboard(body);
            }
            mark_completed(st, p);
        });
        if finished.is_none() {
            return;
        }
        tokio::time::sleep(beat).await;
        locked(&self.hub, &self.plan, |st, p| set_status(st, p, |_| ()));
    }

    /// `terminate`: status with serviceUp false, STOPPING, final CANCELLED, `end` (Errata 2).
    fn terminate_sequence(&mut self) {
        locked(&self.hub, &self.plan, |st, p| {
            set_status(st, p, |s| s.service_up = false);
            set_status(st, p, stopping);
            set_status(st, p, |s| finish(s, state::CANCELLED, "Stopped", 0));
            emit_task_action(st, p, "end");
            mark_completed(st, p);
        });
    }

    /// Restart in place: a transient "Restarting" status, then STARTING → RUNNING with
    /// `apaevt_task restart` instead of `begin`, keeping `startTime` (spec §4.2).
    async fn restart_sequence(&mut self) -> bool {
        let ok = locked(&self.hub, &self.plan, |st, p| {
            set_status(st, p, |s| {
                s.state = state::CANCELLED;
                s.status = "Restarting".into();
                s.service_up = false;
            })
        });
        ok.is_some() && self.start_sequence("restart").await
    }
}

/// Runs `f` on the state if the runner's task is still the registered run.
fn locked<R>(hub: &Hub, plan: &Plan, f: impl FnOnce(&mut State, &Plan) -> R) -> Option<R> {
    let mut st = hub.lock();
    let current =
        st.generation == plan.generation && st.tasks.get(&plan.task.token).is_some_and(|t| t.run == plan.run);
    current.then(|| f(&mut st, plan))
}

/// STOPPING (spec §4.2).
fn stopping(s: &mut TaskStatus) {
    s.state = state::STOPPING;
    s.status = "Stopping".into();
}

/// The final status: completed, ended, metrics zeroed, tokens kept (Errata 5).
fn finish(s: &mut TaskStatus, state_code: u8, text: &str, exit_code: i64) {
    s.completed = true;
    s.state = state_code;
    s.status = text.into();
    s.end_time = epoch_s();
    s.service_up = false;
    s.exit_code = exit_code;
    s.metrics = Metrics::default();
    s.rate_count = 0;
    s.rate_size = 0;
    s.current_object.clear();
    s.current_size = 0;
    s.pipeflow.by_pipe.clear();
}

fn mark_completed(st: &mut State, p: &Plan) {
    if let Some(t) = st.tasks.get_mut(&p.task.token) {
        t.completed_at = Some(Instant::now());
    }
}

/// Mutates the task's status and sends it as `apaevt_status_update`.
fn set_status<R>(st: &mut State, p: &Plan, f: impl FnOnce(&mut TaskStatus) -> R) -> R {
    let Some(t) = st.tasks.get_mut(&p.task.token) else { return f(&mut TaskStatus::default()) };
    let out = f(&mut t.status);
    let body = Obj::from_struct(&t.status);
    st.emit_task_event(&p.task, "apaevt_status_update", bit::SUMMARY, body, None);
    out
}

/// `apaevt_task {action, name, projectId, source}` (spec §4.1).
fn emit_task_action(st: &mut State, p: &Plan, action: &str) {
    let name = st.tasks.get(&p.task.token).map(|t| t.status.name.clone()).unwrap_or_default();
    let body = Obj::new()
        .set("action", action)
        .set("name", &name)
        .set("projectId", &p.task.project_id)
        .set("source", &p.task.source);
    st.emit_task_event(&p.task, "apaevt_task", bit::TASK, body, None);
}

/// Applies one script step: state changes, then its event.
fn apply(st: &mut State, p: &Plan, step: Step) {
    match step {
        Step::FlowBegin { pipe, object } => flow(st, p, pipe, "begin", "{}", |stack| *stack = vec![object]),
        Step::Enter { pipe, comp, trace } => flow(st, p, pipe, "enter", &trace, |stack| stack.push(comp)),
        Step::Leave { pipe, trace } => flow(st, p, pipe, "leave", &trace, |stack| {
            stack.pop();
        }),
        // Below SUMMARY the engine does not attach the object's result to `end`.
        Step::FlowEnd { pipe, result } => {
            let trace = if p.trace.end_has_result() { result.as_str() } else { "{}" };
            flow(st, p, pipe, "end", trace, Vec::clear)
        }
        Step::Sse { pipe, kind, data } => {
            let body = Obj::new().set("pipe_id", &pipe).set("type", kind).set("data", &data);
            st.emit_task_event(&p.task, "apaevt_sse", bit::SSE, body, Some(i64::from(pipe)));
        }
        Step::Output(line) => {
            let body = Obj::new().set("category", "console").set("output", &format!("{line}\n"));
            st.emit_task_event(&p.task, "output", bit::OUTPUT, body, None);
        }
        Step::Progress { object, size, words, failed } => progress(st, p, object, size, words, failed),
        Step::Counts => counts(st, p),
        Step::Warning(message) => {
            if let Some(t) = st.tasks.get_mut(&p.task.token) {
                t.status.push_warning(message.clone());
            }
            let body = Obj::new().set("message", &message);
            st.emit_task_event(&p.task, "apaevt_status_warning", bit::DETAIL, body, None);
        }
    }
}

/// Updates the pipe's stack (mirrored into `pipeflow.byPipe`) and sends
/// `apaevt_flow {id, op, pipes, trace, project_id, source}` (spec §4.3). Without an
/// engine trace level there is no trace frame, so neither happens.
fn flow(st: &mut State, p: &Plan, pipe: u32, op: &str, trace: &str, edit: impl FnOnce(&mut Vec<String>)) {
    if !p.trace.traces() {
        return;
    }
    let Some(t) = st.tasks.get_mut(&p.task.token) else { return };
    let stack = t.status.pipeflow.by_pipe.entry(pipe).or_default();
    edit(stack);
    let pipes = stack.clone();
    let body = Obj::new()
        .set("id", &pipe)
        .set("op", op)
        .set("pipes", &pipes)
        .raw("trace", trace)
        .set("project_id", &p.task.project_id)
        .set("source", &p.task.source);
    st.emit_task_event(&p.task, "apaevt_flow", bit::FLOW, body, None);
}

/// An object finished: counts grow and DETAIL `apaevt_status_object` is sent.
fn progress(st: &mut State, p: &Plan, object: String, size: u64, words: u64, failed: bool) {
    let Some(t) = st.tasks.get_mut(&p.task.token) else { return };
    let s = &mut t.status;
    s.current_object = object.clone();
    s.current_size = size;
    s.total_count += 1;
    s.total_size += size;
    if failed {
        s.failed_count += 1;
        s.failed_size += size;
    } else {
        s.completed_count += 1;
        s.completed_size += size;
        s.words_count += words;
        s.words_size += words * 6;
    }
    let body = Obj::new().set("object", &object).set("size", &size);
    st.emit_task_event(&p.task, "apaevt_status_object", bit::DETAIL, body, None);
}

/// DETAIL `apaevt_status_counts` with the current counts (spec §4.6).
fn counts(st: &mut State, p: &Plan) {
    let Some(t) = st.tasks.get(&p.task.token) else { return };
    let s = &t.status;
    let body = Obj::new()
        .set("totalSize", &s.total_size)
        .set("totalCount", &s.total_count)
        .set("completedSize", &s.completed_size)
        .set("completedCount", &s.completed_count)
        .set("failedSize", &s.failed_size)
        .set("failedCount", &s.failed_count)
        .set("wordsSize", &s.words_size)
        .set("wordsCount", &s.words_count)
        .set("rateSize", &s.rate_size)
        .set("rateCount", &s.rate_count);
    st.emit_task_event(&p.task, "apaevt_status_counts", bit::DETAIL, body, None);
}

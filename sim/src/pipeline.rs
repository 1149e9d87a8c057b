//! The runner of one scripted task: the lifecycle frames of spec §4.2 (and Errata 2 and
//! 5) around the activity of a [`Script`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::clock::epoch_s;
use crate::fake::{self, Fake, Graph, Mode};
use crate::hub::{Hub, State, TaskCmd, TaskRef};
use crate::json::Obj;
use crate::registry::bit;
use crate::script::{Script, ScriptKind, Step};
use crate::status::{sample_metrics, state, Metrics, TaskStatus};
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
    /// The pipeline's `fake` script: when present the run follows it (see [`crate::fake`])
    /// instead of the simulator's own script content.
    pub fake: Option<Fake>,
}

/// Simulated milliseconds per activity tick of chat and ingest scripts.
const TICK_MS: u64 = 250;
/// Real tick of load scripts (their rate is per real second); short, so a given rate
/// arrives smoothly rather than in bursts.
const LOAD_TICK: Duration = Duration::from_millis(2);
/// Flat-out load: frames a subscribed connection may have queued before producing pauses.
const FLAT_OUT_QUEUE: usize = 2048;
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
        if let Some(fake) = self.plan.fake.clone() {
            return self.run_fake(fake, ctl, running).await;
        }
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
            begin_or_restart(st, p, action);
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

    /// Applies one tick of script steps (flat-out load: as many as the readers take).
    fn activity(&mut self, tick_s: f64) -> bool {
        let steps = match self.plan.script {
            ScriptKind::Load { rate } if rate <= 0.0 => {
                let room = self.hub.lock().load_room(FLAT_OUT_QUEUE);
                // Tasks share the room; each takes its part so the queue stays bounded.
                let share = room / self.hub.config.load_tasks.max(1) as usize;
                self.script.load_steps(share)
            }
            _ => self.script.tick(tick_s),
        };
        locked(&self.hub, &self.plan, |st, p| steps.into_iter().for_each(|s| apply(st, p, s))).is_some()
    }

    /// The periodic status: sampled metrics, rates over the last interval. None while a
    /// `nan` fault holds it (the interval's rates then span the hold).
    fn status_tick(&mut self) -> bool {
        if self.status_held() {
            return true;
        }
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

    /// Whether a `nan` fault holds this task's periodic status now.
    fn status_held(&self) -> bool {
        let st = self.hub.lock();
        let until = st.tasks.get(&self.plan.task.token).and_then(|t| t.status_held_until);
        until.is_some_and(|at| Instant::now() < at)
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
            end_run(st, p, st_code, text, code);
        });
        if finished.is_none() || self.hub.config.newer {
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
            end_run(st, p, state::CANCELLED, "Stopped", 0);
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

/// One timed step of a scripted (`fake`) run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FakeAt {
    /// The engine is up: banner line and "Loading pipeline".
    Banner,
    /// "Running" and the service is up: RUNNING.
    Up,
    /// Object `i` (1-based).
    Object(u64),
    /// Service mode after the last object: "Waiting for data".
    Idle,
    /// Batch mode after the last object: the run ends.
    Exit,
}

impl Runner {
    /// The timeline of a scripted run whose engine starts at `t0` (simulated durations
    /// scaled by `--speed`).
    fn fake_timeline(&self, fake: &Fake, t0: Instant) -> VecDeque<(Instant, FakeAt)> {
        let clock = self.hub.clock;
        let banner = t0 + clock.scaled(fake::BOOT_MS);
        let up = banner + clock.scaled(fake.startup_delay_ms);
        let mut line = VecDeque::from([(banner, FakeAt::Banner), (up, FakeAt::Up)]);
        let mut last = up;
        for i in 1..=fake.objects {
            last = up + clock.scaled(fake.interval_ms.saturating_mul(i));
            line.push_back((last, FakeAt::Object(i)));
        }
        line.push_back((last, if fake.mode == Mode::Batch { FakeAt::Exit } else { FakeAt::Idle }));
        line
    }

    /// A scripted run (spec: the kit's `fake` convention, see [`crate::fake`]): the
    /// lifecycle frames of spec §4.2 around the stand-in engine's activity, with the ~1 Hz
    /// status (at most one per second, on a one-second grid from the start, also while
    /// starting up), terminate and restart at any time.
    async fn run_fake(mut self, fake: Fake, mut ctl: mpsc::Receiver<TaskCmd>, running: oneshot::Sender<()>) {
        let graph = Graph::new(&self.plan.pipeline);
        let mut running = Some(running);
        let mut restarted: Option<oneshot::Sender<()>> = None;
        if !self.fake_start("begin") {
            return;
        }
        let t0 = Instant::now();
        let mut timeline = self.fake_timeline(&fake, t0);
        let every = self.hub.clock.scaled(STATUS_MS);
        let mut tick = tokio::time::interval_at((t0 + every).into(), every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut shutdown = self.hub.shutdown_signal();
        loop {
            let next = timeline.front().map(|(at, _)| *at);
            let wake = next.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                cmd = ctl.recv() => match cmd {
                    Some(TaskCmd::Terminate(reply)) => {
                        self.terminate_sequence();
                        let _ = reply.send(());
                        return;
                    }
                    Some(TaskCmd::Restart(reply)) => {
                        let ok = locked(&self.hub, &self.plan, |st, p| {
                            set_status(st, p, |s| {
                                s.state = state::CANCELLED;
                                s.status = "Restarting".into();
                                s.service_up = false;
                            })
                        });
                        if ok.is_none() || !self.fake_start("restart") {
                            return;
                        }
                        timeline = self.fake_timeline(&fake, Instant::now());
                        restarted = Some(reply);
                    }
                    None => return,
                },
                _ = tokio::time::sleep_until(wake.into()), if next.is_some() => {
                    let Some((_, at)) = timeline.pop_front() else { continue };
                    let alive = match at {
                        FakeAt::Banner => {
                            let banner = fake.banner(&self.plan.task.token, &self.plan.task.source, self.plan.trace);
                            self.steps(vec![Step::Output(banner), Step::Message("Loading pipeline".into())])
                        }
                        FakeAt::Up => {
                            let rng = self.script.rng();
                            let up = locked(&self.hub, &self.plan, |st, p| {
                                apply(st, p, Step::Message("Running".into()));
                                set_status(st, p, |s| {
                                    sample_metrics(s, rng, 1);
                                    s.state = state::RUNNING;
                                    s.service_up = true;
                                });
                            });
                            if let Some(tx) = running.take() {
                                let _ = tx.send(());
                            }
                            if let Some(tx) = restarted.take() {
                                let _ = tx.send(());
                            }
                            up.is_some()
                        }
                        FakeAt::Object(i) => {
                            let steps = fake::object_steps(&fake, &graph, &self.plan.task.source, self.plan.trace, i);
                            self.steps(steps)
                        }
                        FakeAt::Idle => self.steps(vec![Step::Message("Waiting for data".into())]),
                        FakeAt::Exit => {
                            self.fake_exit(&fake).await;
                            return;
                        }
                    };
                    if !alive {
                        return;
                    }
                }
                _ = tick.tick() => {
                    if !self.fake_status_tick(every) {
                        return;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }

    /// STARTING, `begin`/`restart` and INITIALIZING at once (recorded within a few ms).
    fn fake_start(&mut self, action: &str) -> bool {
        locked(&self.hub, &self.plan, |st, p| {
            set_status(st, p, |s| {
                s.state = state::STARTING;
                s.status = String::new();
            });
            begin_or_restart(st, p, action);
            set_status(st, p, |s| s.state = state::INITIALIZING);
        })
        .is_some()
    }

    /// Applies engine steps at once.
    fn steps(&mut self, steps: Vec<Step>) -> bool {
        locked(&self.hub, &self.plan, |st, p| steps.into_iter().for_each(|s| apply(st, p, s))).is_some()
    }

    /// The periodic status of a scripted run: at most one per `every`, while the task is
    /// starting or running, with sampled metrics and rates.
    fn fake_status_tick(&mut self, every: Duration) -> bool {
        let due = {
            let st = self.hub.lock();
            st.tasks
                .get(&self.plan.task.token)
                .filter(|t| t.run == self.plan.run && t.completed_at.is_none())
                .map(|t| t.last_status.elapsed() >= every && (state::STARTING..=state::RUNNING).contains(&t.status.state))
        };
        match due {
            None => false,
            Some(false) => true,
            Some(true) => self.status_tick(),
        }
    }

    /// Natural end of a batch run: the job "Completed", the service down (a status),
    /// then the exit: STOPPING, the final status, `end`, `task_error` for a non-zero exit
    /// code, and one more final status (Errata 2; not in `--newer` mode, spec §8.6).
    /// With `exitLine` the snapshot server reads the `>EXIT` line's code as 1 (spec §4.2).
    async fn fake_exit(&mut self, fake: &Fake) {
        let code = if fake.exit_line && self.hub.config.exit_code_bug { 1 } else { fake.exit_code };
        let finished = locked(&self.hub, &self.plan, |st, p| {
            apply(st, p, Step::Message("Completed".into()));
            set_status(st, p, |s| s.service_up = false);
            set_status(st, p, |s| {
                stopping(s);
                s.exit_code = code;
            });
            let (state_code, text) = if code == 0 { (state::COMPLETED, "Completed") } else { (state::CANCELLED, "Stopped") };
            end_run(st, p, state_code, text, code);
        });
        if finished.is_none() || self.hub.config.newer {
            return;
        }
        tokio::time::sleep(self.hub.clock.scaled(5)).await;
        locked(&self.hub, &self.plan, |st, p| set_status(st, p, |_| ()));
    }
}

/// The end of a run after STOPPING: the final status (completed, `final` in `--newer`
/// mode), `apaevt_task end`, and `task_error` for a non-zero exit code (spec §4.1, §4.2,
/// §4.7). Marks the task completed.
///
/// In `--newer` mode (spec §8.6): the final status carries `final: true` and zeroes only the
/// current CPU/GPU figures; the debugger-only `exited`/`terminated` are stamped and logged
/// between it and `end`; after `end` the run log closes with the run's outcome.
fn end_run(st: &mut State, p: &Plan, state_code: u8, text: &str, code: i64) {
    let newer = st.newer();
    let Some(t) = st.tasks.get_mut(&p.task.token) else { return };
    finish(&mut t.status, state_code, text, code, newer);
    t.last_status = Instant::now();
    let mut body = Obj::from_struct(&t.status);
    if newer {
        body = body.set("final", &true);
    }
    st.emit_task_event_with(&p.task, "apaevt_status_update", bit::SUMMARY, body, None, true);
    let exited = Obj::new().set("exitReason", &exit_message(st, p)).set("exitCode", &code).set("message", text);
    st.log_only(&p.task, "exited", exited);
    st.log_only(&p.task, "terminated", Obj::new());
    emit_task_action(st, p, "end");
    let outcome = match (state_code, code) {
        (_, c) if c != 0 => "error",
        (state::COMPLETED, _) => "ok",
        _ => "cancelled",
    };
    st.close_run_log(&p.task, outcome, text);
    if code != 0 {
        // `exitMessage: status.exitMessage or None`: an empty message is sent as null.
        let message = st.tasks.get(&p.task.token).map(|t| t.status.exit_message.clone()).filter(|m| !m.is_empty());
        let body = crate::hub::dashboard_body("task_error")
            .set("taskId", &p.task.id)
            .set("exitCode", &code)
            .set("exitMessage", &message);
        st.emit_dashboard(body);
    }
    mark_completed(st, p);
}

fn exit_message(st: &State, p: &Plan) -> String {
    st.tasks.get(&p.task.token).map(|t| t.status.exit_message.clone()).unwrap_or_default()
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

/// The final status: completed, ended, metrics zeroed, tokens kept (Errata 5); the newer
/// server zeroes only the current CPU/GPU figures (spec §8.6).
fn finish(s: &mut TaskStatus, state_code: u8, text: &str, exit_code: i64, newer: bool) {
    s.completed = true;
    s.state = state_code;
    s.status = text.into();
    s.end_time = epoch_s();
    s.service_up = false;
    s.exit_code = exit_code;
    if newer {
        s.metrics.cpu_percent = 0.0;
        s.metrics.cpu_memory_mb = 0.0;
        s.metrics.gpu_memory_mb = 0.0;
    } else {
        s.metrics = Metrics::default();
    }
    s.rate_count = 0;
    s.rate_size = 0;
    // The recorded final statuses keep `currentObject` and the pipes (with empty stacks).
    s.pipeflow.by_pipe.values_mut().for_each(Vec::clear);
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
    t.last_status = Instant::now();
    let body = Obj::from_struct(&t.status);
    st.emit_task_event(&p.task, "apaevt_status_update", bit::SUMMARY, body, None);
    out
}

/// `apaevt_task begin` (opening the newer server's run log first, whose chapter id it then
/// carries as `beginSeq`, spec §8.6) or `restart` (a log-only `restart` marker first).
fn begin_or_restart(st: &mut State, p: &Plan, action: &str) {
    if action == "begin" {
        let begin_seq = st.open_run_log(&p.task, p.trace);
        emit_task_action_with(st, p, action, st.newer().then_some(begin_seq));
    } else {
        st.log_marker(&p.task, action);
        emit_task_action(st, p, action);
    }
}

/// `apaevt_task {action, name, projectId, source}` (spec §4.1).
fn emit_task_action(st: &mut State, p: &Plan, action: &str) {
    emit_task_action_with(st, p, action, None);
}

/// [`emit_task_action`], with `beginSeq` when given (newer mode `begin`).
fn emit_task_action_with(st: &mut State, p: &Plan, action: &str, begin_seq: Option<Option<u64>>) {
    let name = st.tasks.get(&p.task.token).map(|t| t.status.name.clone()).unwrap_or_default();
    let mut body = Obj::new()
        .set("action", action)
        .set("name", &name)
        .set("projectId", &p.task.project_id)
        .set("source", &p.task.source);
    if let Some(seq) = begin_seq {
        body = body.set("beginSeq", &seq);
    }
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
        Step::Status => set_status(st, p, |_| ()),
        Step::Task(action) => emit_task_action(st, p, action),
        Step::Dashboard(added) => {
            let action = if added { "connection_added" } else { "connection_removed" };
            let body = crate::hub::dashboard_body(action)
                .set("connectionId", &9000)
                .set("clientName", "load-peer")
                .set("clientVersion", "1.0.0");
            let body = if added { body.set("clientId", "local") } else { body };
            st.emit_dashboard(body);
        }
        Step::Counts => counts(st, p),
        Step::Warning(message) => {
            if let Some(t) = st.tasks.get_mut(&p.task.token) {
                t.status.push_warning(message.clone());
            }
            let body = Obj::new().set("message", &message);
            st.emit_task_event(&p.task, "apaevt_status_warning", bit::DETAIL, body, None);
        }
        Step::Error(message) => {
            if let Some(t) = st.tasks.get_mut(&p.task.token) {
                t.status.push_error(message.clone());
            }
            let body = Obj::new().set("message", &message);
            st.emit_task_event(&p.task, "apaevt_status_error", bit::DETAIL, body, None);
        }
        Step::Message(message) => {
            if let Some(t) = st.tasks.get_mut(&p.task.token) {
                t.status.status = message.clone();
            }
            let body = Obj::new().set("message", &message);
            st.emit_task_event(&p.task, "apaevt_status_message", bit::DETAIL, body, None);
        }
        Step::Object { object, size } => {
            if let Some(t) = st.tasks.get_mut(&p.task.token) {
                t.status.current_object = object.clone();
                t.status.current_size = size;
            }
            let body = Obj::new().set("object", &object).set("size", &size);
            st.emit_task_event(&p.task, "apaevt_status_object", bit::DETAIL, body, None);
        }
        Step::Done { size, words, words_size, pipes } => {
            if let Some(t) = st.tasks.get_mut(&p.task.token) {
                let s = &mut t.status;
                s.total_count += 1;
                s.total_size += size;
                s.completed_count += 1;
                s.completed_size += size;
                s.words_count += words;
                s.words_size += words_size;
                s.pipeflow.total_pipes = pipes;
                for pipe in 0..pipes.min(64) {
                    s.pipeflow.by_pipe.entry(pipe).or_default();
                }
            }
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
    let newer = st.newer();
    let Some(t) = st.tasks.get_mut(&p.task.token) else { return };
    let stack = t.status.pipeflow.by_pipe.entry(pipe).or_default();
    // The component the op refers to (newer servers, spec §8.6): the one entered or left;
    // the source for begin and end.
    let top = stack.last().filter(|_| stack.len() > 1).cloned();
    edit(stack);
    let pipes = stack.clone();
    let component = match op {
        "enter" => pipes.last().cloned(),
        "leave" => top,
        _ => None,
    }
    .unwrap_or_else(|| p.task.source.clone());
    let mut body = Obj::new().set("id", &pipe).set("op", op).set("pipes", &pipes);
    if newer {
        body = body.set("component", &component);
    }
    let body = body
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

//! Scripted turns: what a fleet-rlm turn sends on the chat socket and on the events
//! stream, in the order and with the quirks of spec §3.4 and §4.
//!
//! A turn is chosen by a `#tag` in the message text (`#error`, `#long=800`, `#hitl`, ...),
//! by a script queued with `POST /_sim/fleet/script`, or started without a chat socket with
//! `POST /_sim/fleet/turn`. Content comes from a per-turn seeded RNG (`seed`, default
//! `--seed` + the run instance number), so the same seed gives the same frames apart from
//! timestamps. Delays are simulated milliseconds, scaled by `--speed` and by `pace`.
//!
//! Quirks reproduced: `execution_started` before the first chat event; status texts
//! "Calling tool:" / "Tool finished." have no step; REPL hook steps pass through a queue, so
//! `repl_result` arrives after the later-built `tool_result` step (ids out of order) and REPL
//! steps carry the sandbox's earlier timestamps; `trajectory_step` steps duplicate the live
//! tool steps; terminal order (`final`: output step + `execution_completed` queued before the
//! chat `final`; `cancelled` / errors: chat frame first); a dropped chat socket ends the run
//! with `execution_completed` whose step and summary are null; `run_id` reuses the turn
//! index after a failed turn.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use super::conn::{self, emit_events};
use super::frames::{self, iso_now, uuid, Ending, RuntimeCtx, Step};
use super::{Hitl, Identity};
use crate::clock::epoch_s;
use crate::hub::{Hub, State};
use crate::json::{to_text, Obj};

/// How a running turn is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep going.
    Run,
    /// `cancel` from the client (or the cancel script): ends with `cancelled`.
    Cancel,
    /// The chat socket went away: `execution_completed` with null step and summary.
    Disconnect,
    /// Reset/restart: stop without another frame.
    Abort,
}

/// The scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    /// Reasoning, a tool call with REPL steps, a short answer, `final`.
    Normal,
    /// A long `assistant_token` stream (`tokens`, default 400), then `final`.
    Long,
    /// A tool call, then a streamed error (`code`, default `llm_timeout`); the socket stays open.
    Error,
    /// A `clarification_questions` tool result raising `hitl_request`, then `final` (the
    /// run does not wait, as in 0.5.0).
    Hitl,
    /// Like `hitl`, but the run waits for `resolve_hitl` (simulator extension).
    HitlWait,
    /// A token stream that is cancelled after a third of `tokens`, as if the client sent `cancel`.
    Cancel,
    /// `steps` REPL steps (default 2000) with `pad`-byte outputs, as fast as possible.
    Flood,
    /// The offline server: `sandbox_unavailable` then close 1011 (chat socket only).
    Offline,
}

impl Script {
    /// Parses a script name.
    pub fn parse(name: &str) -> Option<Script> {
        serde_json::from_value(Value::String(name.to_owned())).ok()
    }
}

/// A turn request: the script and its parameters.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TurnOpts {
    /// Which script.
    pub script: Script,
    /// Token count of `long` / `cancel`.
    #[serde(default)]
    pub tokens: Option<u32>,
    /// Step count of `flood`.
    #[serde(default)]
    pub steps: Option<u32>,
    /// Extra bytes in each `flood` step output.
    #[serde(default)]
    pub pad: Option<usize>,
    /// Error code of `error`.
    #[serde(default)]
    pub code: Option<String>,
    /// Content seed.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Delay multiplier (overrides `--fleet-pace`).
    #[serde(default)]
    pub pace: Option<f64>,
}

impl TurnOpts {
    /// A script with default parameters.
    pub fn of(script: Script) -> Self {
        TurnOpts { script, tokens: None, steps: None, pad: None, code: None, seed: None, pace: None }
    }

    /// Reads `#script[=n]`, `#seed=n`, `#pace=x`, `#code=c` tags from a message text;
    /// `None` when it names no script.
    pub fn from_text(text: &str) -> Option<TurnOpts> {
        let mut opts: Option<TurnOpts> = None;
        let (mut seed, mut pace, mut code) = (None, None, None);
        for word in text.split_whitespace() {
            let Some(tag) = word.strip_prefix('#') else { continue };
            let (name, arg) = match tag.split_once('=') {
                Some((n, a)) => (n, Some(a)),
                None => (tag, None),
            };
            match name {
                "seed" => seed = arg.and_then(|a| a.parse().ok()),
                "pace" => pace = arg.and_then(|a| a.parse().ok()),
                "code" => code = arg.map(str::to_owned),
                _ => {
                    if let Some(script) = Script::parse(name) {
                        let mut o = TurnOpts::of(script);
                        let n = arg.and_then(|a| a.parse().ok());
                        match script {
                            Script::Flood => o.steps = n,
                            _ => o.tokens = n,
                        }
                        opts = Some(o);
                    }
                }
            }
        }
        let mut o = opts.or_else(|| (seed.is_some() || pace.is_some()).then(|| TurnOpts::of(Script::Normal)))?;
        o.seed = o.seed.or(seed);
        o.pace = o.pace.or(pace);
        o.code = o.code.or(code);
        Some(o)
    }
}

/// Message fields a turn uses.
#[derive(Debug, Clone)]
pub struct MsgOpts {
    /// `trace` (false suppresses `reasoning_step`).
    pub trace: bool,
    /// `execution_mode`.
    pub execution_mode: String,
}

impl Default for MsgOpts {
    fn default() -> Self {
        MsgOpts { trace: true, execution_mode: "auto".into() }
    }
}

/// A running turn.
#[derive(Debug)]
pub struct TurnInfo {
    /// Run instance number (unique, unlike `run_id`).
    pub inst: u64,
    /// `<workspace>:<user>:<session>:<turn index>`.
    pub run_id: String,
    /// Session.
    pub session_id: String,
    /// Identity.
    pub identity: Identity,
    /// Chat socket, if a client started it.
    pub chat: Option<u64>,
    /// Script.
    pub script: Script,
    /// Stop request.
    pub stop: watch::Sender<Stop>,
}

/// What `start` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    /// Run instance number.
    pub inst: u64,
    /// `run_id`.
    pub run_id: String,
    /// Session (generated when the message had none).
    pub session_id: String,
    /// Content seed.
    pub seed: u64,
}

/// Registers and starts a turn: emits `execution_started` now (under the lock) and spawns
/// the runner. `chat` is the chat socket, `None` for a control-started turn.
#[allow(clippy::too_many_arguments)]
pub fn start(hub: &Arc<Hub>, st: &mut State, chat: Option<u64>, who: Identity, session_id: String, task: String, opts: TurnOpts, msg: MsgOpts) -> Started {
    st.fleet.runs_started += 1;
    let inst = st.fleet.runs_started;
    let history = st.fleet.history.get(&(who.clone(), session_id.clone())).copied().unwrap_or(0);
    let run_id = format!("{}:{}:{}:{}", who.workspace_id, who.user_id, session_id, history + 1);
    let seed = opts.seed.unwrap_or_else(|| hub.config.seed.wrapping_add(inst));
    let (stop_tx, stop_rx) = watch::channel(Stop::Run);
    st.fleet.turns.insert(
        inst,
        TurnInfo { inst, run_id: run_id.clone(), session_id: session_id.clone(), identity: who.clone(), chat, script: opts.script, stop: stop_tx },
    );
    if let Some(c) = chat.and_then(|c| st.fleet.conns.get_mut(&c)) {
        c.turn = Some(inst);
    }
    let started = frames::execution("execution_started", &run_id, &who, &session_id, None, None);
    emit_events(st, &who, &session_id, &started, "execution_started");
    let ctx = RuntimeCtx {
        execution_mode: msg.execution_mode.clone(),
        sandbox_id: format!("sbx-{:04x}", fnv(&format!("{}:{}:{session_id}", who.workspace_id, who.user_id)) & 0xffff),
        transition: if history == 0 { "created" } else { "reused" },
    };
    let pace = opts.pace.unwrap_or(hub.config.fleet.pace).max(0.0);
    let run = Run {
        hub: hub.clone(),
        inst,
        run_id: run_id.clone(),
        who,
        session_id: session_id.clone(),
        chat,
        task,
        rng: fastrand::Rng::with_seed(seed),
        ctx,
        next_step: 0,
        pace,
        stop: stop_rx,
        answer: String::new(),
        trace: msg.trace,
        last_tool: None,
        history,
        trajectory: Vec::new(),
    };
    tokio::spawn(run.run(opts));
    Started { inst, run_id, session_id, seed }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// One tool of the normal script.
struct Tool {
    name: &'static str,
    args: &'static str,
    code: &'static str,
    stdout: &'static str,
    thought: &'static str,
    answer: &'static str,
}

const TOOLS: [Tool; 3] = [
    Tool {
        name: "list_files",
        args: r#"{"path":"."}"#,
        code: "print(sorted(os.listdir('.')))",
        stdout: "['README.md', 'main.py', 'setup.py']",
        thought: "I should inspect the workspace first.",
        answer: "The workspace contains 3 files: README.md, main.py and setup.py.",
    },
    Tool {
        name: "read_file_slice",
        args: r#"{"path":"main.py","start_line":1,"num_lines":20}"#,
        code: "print(open('main.py').read()[:800])",
        stdout: "import sys\n\ndef main():\n    print('hello')\n",
        thought: "I need to read main.py before answering.",
        answer: "main.py defines a single main() function that prints a greeting.",
    },
    Tool {
        name: "find_files",
        args: r#"{"pattern":"*.py"}"#,
        code: "print([p for p in os.listdir('.') if p.endswith('.py')])",
        stdout: "['main.py', 'setup.py']",
        thought: "Let me look for the Python sources.",
        answer: "There are two Python files in the workspace: main.py and setup.py.",
    },
];

/// Filler words of long answers.
const WORDS: [&str; 24] = [
    "the", "pipeline", "reads", "each", "document", "and", "splits", "it", "into", "chunks", "before", "embedding", "them", "with", "a",
    "small", "model", "so", "that", "retrieval", "stays", "fast", "under", "load",
];

/// A turn in progress.
struct Run {
    hub: Arc<Hub>,
    inst: u64,
    run_id: String,
    who: Identity,
    session_id: String,
    chat: Option<u64>,
    task: String,
    rng: fastrand::Rng,
    ctx: RuntimeCtx,
    next_step: u32,
    pace: f64,
    stop: watch::Receiver<Stop>,
    answer: String,
    trace: bool,
    last_tool: Option<String>,
    history: u32,
    /// `(thought, tool_name, tool_args, observation)` per ReAct step, for `final`.
    trajectory: Vec<(String, String, String, String)>,
}

/// Why a script stopped early.
type Halt = Stop;

impl Run {
    async fn run(mut self, opts: TurnOpts) {
        let outcome = match opts.script {
            Script::Normal | Script::Offline => self.normal(None).await,
            Script::Long => self.normal(Some(opts.tokens.unwrap_or(400).max(1))).await,
            Script::Error => self.error(opts.code.as_deref().unwrap_or("llm_timeout")).await,
            Script::Hitl => self.hitl(false).await,
            Script::HitlWait => self.hitl(true).await,
            Script::Cancel => self.cancel_script(opts.tokens.unwrap_or(300).max(3)).await,
            Script::Flood => self.flood(opts.steps.unwrap_or(2000), opts.pad.unwrap_or(512)).await,
        };
        match outcome {
            Ok(()) => {}
            Err(Stop::Cancel) => self.cancelled(),
            Err(Stop::Disconnect) => self.disconnected(),
            Err(Stop::Abort | Stop::Run) => {}
        }
        let mut st = self.hub.lock();
        st.fleet.turns.remove(&self.inst);
        if let Some(c) = self.chat.and_then(|c| st.fleet.conns.get_mut(&c)) {
            if c.turn == Some(self.inst) {
                c.turn = None;
            }
        }
    }

    /// Waits `ms` simulated milliseconds (times pace); returns the stop request if one came.
    async fn pause(&mut self, ms: u64) -> Result<(), Halt> {
        let now = *self.stop.borrow();
        if now != Stop::Run {
            return Err(now);
        }
        let d = self.hub.clock.scaled(ms).mul_f64(self.pace);
        if d.is_zero() {
            tokio::task::yield_now().await;
        } else {
            let _ = tokio::time::timeout(d, self.stop.wait_for(|s| *s != Stop::Run)).await;
        }
        match *self.stop.borrow() {
            Stop::Run => Ok(()),
            other => Err(other),
        }
    }

    fn step_id(&mut self) -> String {
        self.next_step += 1;
        format!("{}:s{}", self.run_id, self.next_step)
    }

    fn root(&self) -> String {
        format!("{}:root", self.run_id)
    }

    /// A root-agent step (depth 0, `root_rlm`).
    fn step(&mut self, kind: &'static str, label: &str, parent: Option<String>, input: String, output: String, ts: f64) -> Step {
        Step {
            id: self.step_id(),
            parent_id: parent.unwrap_or_else(|| self.root()),
            kind,
            label: label.to_owned(),
            depth: Some(0),
            actor_kind: "root_rlm",
            input,
            output,
            timestamp: ts,
        }
    }

    /// Sends a chat event (if a chat socket runs this turn).
    fn chat_event(&mut self, kind: &str, text: &str, payload: &str) {
        let Some(chat) = self.chat else { return };
        if self.aborted() {
            return;
        }
        let id = uuid(&mut self.rng, false);
        let frame = frames::event(kind, text, Some(payload), Some(&iso_now()), 2, &id);
        let mut st = self.hub.lock();
        conn::send(&mut st, chat, frame, &format!("event:{kind}"));
    }

    /// Whether a reset stopped the run (it then sends nothing more, even between pauses).
    fn aborted(&self) -> bool {
        *self.stop.borrow() == Stop::Abort
    }

    fn emit_step(&self, step: &Step) {
        if self.aborted() {
            return;
        }
        let frame = frames::execution("execution_step", &self.run_id, &self.who, &self.session_id, Some(&step.render()), None);
        let mut st = self.hub.lock();
        emit_events(&mut st, &self.who, &self.session_id, &frame, "execution_step");
    }

    fn payload(&self, o: Obj) -> String {
        self.ctx.enrich(o).done()
    }

    /// A chat event and, per the step builder's mapping, its step.
    fn chat_with_step(&mut self, kind: &str, text: &str, payload: String) {
        self.chat_event(kind, text, &payload);
        let now = epoch_s();
        let step = match kind {
            "status" if !(text.starts_with("Calling tool:") || text.starts_with("Tool finished.")) => Some(self.step(
                "llm",
                text,
                None,
                Obj::new().set("event_kind", "status").done(),
                Obj::new().set("text", text).done(),
                now,
            )),
            "reasoning_step" => Some(self.step("llm", text, None, payload, "null".into(), now)),
            _ => None,
        };
        if let Some(s) = step {
            self.emit_step(&s);
        }
    }

    async fn reason(&mut self, thought: &str) -> Result<(), Halt> {
        if self.trace {
            let p = self.payload(Obj::new().set("source", "next_thought"));
            self.chat_with_step("reasoning_step", thought, p);
            self.pause(300).await?;
        }
        Ok(())
    }

    /// "Calling tool" status + `tool_call` (+ its tool step); returns the tool step's time.
    async fn tool_call(&mut self, name: &str, args: &str) -> Result<f64, Halt> {
        let status = format!("Calling tool: {name}");
        let p = self.payload(Obj::new().set("raw_status", &status));
        self.chat_with_step("status", &status, p);
        // `tool_args` is optional and absent from the capture; the trajectory carries them.
        let _ = args;
        let p = self.payload(Obj::new().set("raw_status", &status).set("raw_call", name).set("tool_name", name));
        self.chat_event("tool_call", &format!("tool call: {name}"), &p);
        let ts = epoch_s();
        let step = self.step("tool", name, None, p, "null".into(), ts);
        self.last_tool = Some(step.id.clone());
        self.emit_step(&step);
        self.pause(150).await?;
        Ok(ts)
    }

    /// "Tool finished." status + `tool_result` (+ its step, parented to the tool call).
    fn tool_result(&mut self, name: &str, output: Option<&str>) -> Step {
        let status = if output.is_some() { format!("Tool result: {}", output.unwrap_or_default()) } else { "Tool finished.".to_owned() };
        let p = self.payload(Obj::new().set("raw_status", &status));
        self.chat_with_step("status", &status, p);
        let mut o = Obj::new().set("raw_status", &status).set("tool_name", name);
        if let Some(out) = output {
            o = o.set("tool_output", out);
        }
        let p = self.payload(o);
        let text = if output.is_some() { "tool result: completed" } else { "tool result: finished" };
        self.chat_event("tool_result", text, &p);
        let input = Obj::new().set("event_kind", "tool_result").set("tool_name", name).done();
        let parent = self.last_tool.clone();
        self.step("tool", name, parent, input, p, epoch_s())
    }

    /// The REPL steps of one sandbox execution (built now, sent by the caller).
    fn repl_steps(&mut self, code: &str, stdout: &str, start_ts: f64, duration_ms: u64) -> (Step, Step) {
        let hash = format!("{:016x}", fnv(code));
        let start_in = Obj::new()
            .set("phase", "start")
            .set("timestamp", &start_ts)
            .set("execution_profile", "RLM_DELEGATE")
            .set("code_hash", &hash)
            .set("code_preview", code)
            .done();
        let exec = Step {
            id: self.step_id(),
            parent_id: self.root(),
            kind: "repl",
            label: "repl_execute".into(),
            depth: None,
            actor_kind: "delegate",
            input: start_in,
            output: "null".into(),
            timestamp: start_ts,
        };
        let end_ts = start_ts + duration_ms as f64 / 1000.0;
        let out = Obj::new()
            .set("phase", "complete")
            .set("timestamp", &end_ts)
            .set("execution_profile", "RLM_DELEGATE")
            .set("code_hash", &hash)
            .set("code_preview", code)
            .set("duration_ms", &duration_ms)
            .set("success", &true)
            .set("result_kind", "stdout")
            .set("stdout_preview", stdout)
            .done();
        let result = Step {
            id: self.step_id(),
            parent_id: exec.id.clone(),
            kind: "repl",
            label: "repl_result".into(),
            depth: None,
            actor_kind: "delegate",
            input: Obj::new().set("event_kind", "repl_complete").set("code_hash", &hash).done(),
            output: out,
            timestamp: end_ts,
        };
        (exec, result)
    }

    /// Streams `text` as `assistant_token` chunks of one word.
    async fn stream_answer(&mut self, text: &str, every_ms: u64) -> Result<(), Halt> {
        let words: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
        for w in words {
            let p = self.payload(Obj::new());
            self.chat_event("assistant_token", &w, &p);
            self.answer.push_str(&w);
            self.pause(every_ms).await?;
        }
        Ok(())
    }

    /// The tool phase shared by the scripts: reasoning, the call, REPL steps out of order,
    /// the result. Returns the tool used.
    async fn tool_phase(&mut self) -> Result<&'static Tool, Halt> {
        let tool = &TOOLS[self.rng.usize(..TOOLS.len())];
        self.reason(tool.thought).await?;
        let call_ts = self.tool_call(tool.name, tool.args).await?;
        // The sandbox's hook time precedes the tool step: a later id, an earlier timestamp.
        let duration = 300 + self.rng.u64(..300);
        let (exec, result) = self.repl_steps(tool.code, tool.stdout, call_ts - 0.003, duration);
        self.emit_step(&exec);
        self.pause(duration).await?;
        // repl_result waits in the REPL queue while tool_result is built and sent.
        let tr = self.tool_result(tool.name, None);
        self.emit_step(&tr);
        self.emit_step(&result);
        self.trajectory.push((tool.thought.into(), tool.name.into(), tool.args.into(), tool.stdout.into()));
        self.pause(150).await?;
        Ok(tool)
    }

    async fn normal(&mut self, long: Option<u32>) -> Result<(), Halt> {
        self.pause(250).await?;
        let tool = self.tool_phase().await?;
        self.reason("I have enough to answer.").await?;
        let (text, every) = match long {
            None => (tool.answer.to_owned(), 40),
            Some(n) => (self.filler(n), 25),
        };
        self.stream_answer(&text, every).await?;
        self.finish(&text, "I have enough to answer.").await
    }

    fn filler(&mut self, n: u32) -> String {
        let mut words: Vec<&str> = (0..n).map(|_| WORDS[self.rng.usize(..WORDS.len())]).collect();
        if let Some(w) = words.last_mut() {
            *w = "load.";
        }
        words.join(" ")
    }

    async fn error(&mut self, code: &str) -> Result<(), Halt> {
        self.pause(250).await?;
        let tool = &TOOLS[self.rng.usize(..TOOLS.len())];
        self.reason(tool.thought).await?;
        self.tool_call(tool.name, tool.args).await?;
        self.pause(400).await?;
        let (message, error_type) = match code {
            "llm_timeout" => ("Streaming error: LLM call timed out after 60s", "RuntimeError"),
            "llm_rate_limited" => ("Streaming error: Rate limit exceeded: 429 Too Many Requests", "RateLimitError"),
            "sandbox_unavailable" => ("Streaming error: Daytona sandbox is unavailable", "DaytonaError"),
            "planner_missing" => ("Streaming error: Planner LM not configured", "RuntimeError"),
            _ => ("Streaming error: unexpected failure while running the tool", "RuntimeError"),
        };
        // Errors: the chat frame first, then the error output step and the completion.
        if let Some(chat) = self.chat {
            let mut st = self.hub.lock();
            conn::send(&mut st, chat, frames::error(code, message, Some(error_type)), "error");
        }
        let payload = Obj::new().set("error_type", error_type).set("code", code).done();
        let output = Obj::new().set("text", message).raw("payload", &payload).done();
        let step = self.step("output", "error", None, Obj::new().set("event_kind", "error").done(), output, epoch_s());
        self.complete(&step, Ending::Error, message);
        Ok(())
    }

    async fn hitl(&mut self, wait: bool) -> Result<(), Halt> {
        self.pause(250).await?;
        self.reason("The request is ambiguous; I should ask before changing anything.").await?;
        self.tool_call("clarification_questions", r#"{"context":"code change"}"#).await?;
        let output = r#"{"clarification_questions":["Which branch?","Include tests?"]}"#;
        let tr = self.tool_result("clarification_questions", Some(output));
        self.emit_step(&tr);
        let message_id = uuid(&mut self.rng, true);
        let payload = self
            .ctx
            .enrich(
                Obj::new()
                    .raw("options", r#"["Which branch?","Include tests?"]"#)
                    .set("source", "clarification_questions")
                    .set("requires_response", &true),
            )
            .set("message_id", &message_id)
            .done();
        {
            let mut st = self.hub.lock();
            let h = Hitl { message_id: message_id.clone(), run_id: self.run_id.clone(), session_id: self.session_id.clone(), resolution: None };
            st.fleet.hitl.insert(message_id.clone(), h);
        }
        self.chat_event("hitl_request", "The agent has some questions for you.", &payload);
        self.trajectory.push((
            "The request is ambiguous; I should ask before changing anything.".into(),
            "clarification_questions".into(),
            r#"{"context":"code change"}"#.into(),
            output.into(),
        ));
        let text = if wait {
            let resolution = loop {
                let r = self.hub.lock().fleet.hitl.get(&message_id).and_then(|h| h.resolution.clone());
                if let Some(r) = r {
                    break r;
                }
                self.pause(100).await?;
            };
            format!("Thanks. Going ahead with: {resolution}")
        } else {
            "Before I change anything: which branch should I use, and should I include tests?".to_owned()
        };
        self.pause(200).await?;
        self.stream_answer(&text, 40).await?;
        self.finish(&text, "Asked the user for clarification.").await
    }

    async fn cancel_script(&mut self, tokens: u32) -> Result<(), Halt> {
        self.pause(250).await?;
        self.reason("This will take a while to write out.").await?;
        let text = self.filler(tokens);
        let cut = text.split_inclusive(' ').take((tokens / 3) as usize).collect::<String>();
        self.stream_answer(&cut, 40).await?;
        Err(Stop::Cancel)
    }

    async fn flood(&mut self, steps: u32, pad: usize) -> Result<(), Halt> {
        let padding = "x".repeat(pad);
        for i in 0..steps.div_ceil(2) {
            let code = format!("print({i})  # {padding}");
            let ts = epoch_s();
            let (exec, result) = self.repl_steps(&code, &i.to_string(), ts, 1);
            self.emit_step(&exec);
            self.emit_step(&result);
            if i % 32 == 31 {
                self.pause(0).await?;
            }
        }
        let text = format!("Ran {steps} sandbox steps.");
        self.stream_answer(&text, 20).await?;
        self.finish(&text, "Done.").await
    }

    /// `final`: output step and `execution_completed` queued for subscribers, then the chat
    /// `final` (spec §0.9); the turn joins the session history.
    async fn finish(&mut self, text: &str, final_reasoning: &str) -> Result<(), Halt> {
        self.pause(100).await?;
        let mut trajectory = Obj::new();
        let mut steps = self.trajectory.clone();
        steps.push((final_reasoning.to_owned(), "finish".into(), "{}".into(), "Completed.".into()));
        for (i, (thought, tool, args, obs)) in steps.iter().enumerate() {
            trajectory = trajectory
                .set(&format!("thought_{i}"), thought)
                .set(&format!("tool_name_{i}"), tool)
                .raw(&format!("tool_args_{i}"), args)
                .set(&format!("observation_{i}"), obs);
        }
        // Live trajectory steps (duplicates of the tool steps on the events stream).
        let total = steps.len();
        for (i, (thought, tool, args, obs)) in steps.iter().enumerate() {
            let data = Obj::new()
                .set("index", &i)
                .set("thought", thought)
                .set("tool_name", tool)
                .raw("input", args)
                .raw("tool_args", args)
                .set("output", obs)
                .set("observation", obs)
                .done();
            let p = self.payload(Obj::new().set("step_index", &i).set("total_steps", &total).raw("step_data", &data));
            self.chat_event("trajectory_step", thought, &p);
            let step = self.step("tool", tool, None, data.clone(), Obj::new().set("observation", obs).done(), epoch_s());
            self.emit_step(&step);
        }
        let (trace_id, request_id) = if self.hub.config.fleet.mlflow {
            (Some(format!("tr-{}", uuid(&mut self.rng, false))), Some(uuid(&mut self.rng, true)))
        } else {
            (None, None)
        };
        let payload = Obj::new()
            .set("schema_version", &2)
            .raw("trajectory", &trajectory.done())
            .set("history_turns", &(self.history + 1))
            .raw("guardrail_warnings", "[]")
            .raw("citations", "[]")
            .raw("sources", "[]")
            .raw("attachments", "[]")
            .raw("citation_anchors", "[]")
            .set("fallback", &false)
            .set("effective_max_iters", &15)
            .set("delegate_calls_turn", &0)
            .set("runtime_module_calls_turn", &0)
            .set("recursive_delegate_calls_turn", &0)
            .set("delegate_fallback_count_turn", &0)
            .set("delegate_result_truncated_count_turn", &0)
            .set("final_reasoning", final_reasoning);
        let mut payload = self.ctx.enrich_with(payload, false);
        if let (Some(t), Some(r)) = (&trace_id, &request_id) {
            payload = payload.set("mlflow_trace_id", t).set("mlflow_client_request_id", r);
        }
        let payload = payload.done();
        let output = Obj::new().set("text", text).raw("payload", &payload).done();
        let step = self.step("output", "assistant_output", None, Obj::new().set("event_kind", "final").done(), output, epoch_s());
        self.complete(&step, Ending::Completed, text);
        {
            let mut st = self.hub.lock();
            if let (Some(t), Some(r)) = (trace_id, request_id) {
                st.fleet.traces.insert(t, (r, self.who.clone()));
            }
            *st.fleet.history.entry((self.who.clone(), self.session_id.clone())).or_insert(0) += 1;
        }
        self.chat_event("final", text, &payload);
        Ok(())
    }

    /// The terminal output step as `execution_step`, then `execution_completed` with it.
    fn complete(&self, step: &Step, ending: Ending, text: &str) {
        if self.aborted() {
            return;
        }
        // `duration_ms` is null in every capture (the lifecycle manager does not time runs).
        let summary = frames::summary(&self.run_id, &self.task, ending, text, None);
        let rendered = step.render();
        let a = frames::execution("execution_step", &self.run_id, &self.who, &self.session_id, Some(&rendered), None);
        let b = frames::execution("execution_completed", &self.run_id, &self.who, &self.session_id, Some(&rendered), Some(&summary));
        let mut st = self.hub.lock();
        emit_events(&mut st, &self.who, &self.session_id, &a, "execution_step");
        emit_events(&mut st, &self.who, &self.session_id, &b, "execution_completed");
    }

    /// `cancelled`: the chat frame first, then the output step and the completion.
    fn cancelled(&mut self) {
        let text = if self.answer.is_empty() { "[cancelled]".to_owned() } else { format!("{}\n\n[cancelled]", self.answer) };
        let payload = self
            .ctx
            .enrich(Obj::new().set("history_turns", &(self.history + 1)).set("delegate_calls_turn", &0).set("runtime_module_calls_turn", &0))
            .done();
        self.chat_event("cancelled", &text, &payload);
        let output = Obj::new().set("text", &text).raw("payload", &payload).done();
        let step = self.step("output", "cancelled", None, Obj::new().set("event_kind", "cancelled").done(), output, epoch_s());
        self.complete(&step, Ending::Cancelled, &text);
        let mut st = self.hub.lock();
        *st.fleet.history.entry((self.who.clone(), self.session_id.clone())).or_insert(0) += 1;
    }

    /// The chat socket dropped mid-turn: the run is marked CANCELLED without a summary.
    fn disconnected(&self) {
        let frame = frames::execution("execution_completed", &self.run_id, &self.who, &self.session_id, None, None);
        let mut st = self.hub.lock();
        emit_events(&mut st, &self.who, &self.session_id, &frame, "execution_completed");
    }
}

/// Asks the turn running on chat socket `conn` to stop; false when none runs.
pub fn request_stop(st: &State, inst: u64, stop: Stop) -> bool {
    let Some(t) = st.fleet.turns.get(&inst) else { return false };
    t.stop.send_if_modified(|s| {
        let fresh = *s == Stop::Run;
        if fresh {
            *s = stop;
        }
        fresh
    })
}

/// JSON text of a string (re-exported helper for the chat module).
pub fn quoted(s: &str) -> String {
    to_text(s)
}

/// How long the chat socket's agent startup takes (the "Preparing Daytona workspace..."
/// status goes out once it passes 0.25 s).
pub const STARTUP_MS: u64 = 600;
/// The startup-status threshold.
pub const STARTUP_STATUS_MS: u64 = 250;

/// Real duration of `ms` simulated milliseconds at `pace`.
pub fn scaled(hub: &Hub, ms: u64, pace: f64) -> Duration {
    hub.clock.scaled(ms).mul_f64(pace.max(0.0))
}

//! What a scripted pipeline "does" while RUNNING: a deterministic stream of steps
//! (flow enter/leave, SSE, output lines, DETAIL events, progress) per tick.

use std::collections::VecDeque;

use serde_json::{json, Value};

use crate::json::Obj;

/// The kind of workload a task simulates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScriptKind {
    /// A chat agent: one question at a time through the component chain, with SSE.
    Chat,
    /// A document pipeline: several documents per second, counts and DETAIL events.
    Ingest,
    /// Benchmark load: `rate` events per second in the real-frame mix ([`LOAD_MIX`]);
    /// a rate of 0 means flat-out (as fast as the slowest subscribed reader takes them).
    Load {
        /// Events per second produced by this task (0: flat-out).
        rate: f64,
    },
}

impl ScriptKind {
    /// Chat for `chat` sources, ingest for everything else.
    pub fn for_provider(provider: &str) -> Self {
        if provider == "chat" {
            ScriptKind::Chat
        } else {
            ScriptKind::Ingest
        }
    }

    /// Number of pipes (`pipeflow.totalPipes`).
    pub fn pipes(&self) -> u32 {
        match self {
            ScriptKind::Chat => 1,
            ScriptKind::Ingest | ScriptKind::Load { .. } => 4,
        }
    }
}

/// One thing a task does; the runner turns it into state changes and events.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `apaevt_flow begin`: the pipe's stack becomes `[object]`.
    FlowBegin { pipe: u32, object: String },
    /// `apaevt_flow enter`: push `comp`; `trace` is ordered JSON text.
    Enter { pipe: u32, comp: String, trace: String },
    /// `apaevt_flow leave`: pop; `trace` is ordered JSON text.
    Leave { pipe: u32, trace: String },
    /// `apaevt_flow end` with the object's result (ordered JSON text) as `trace`; clears the stack.
    FlowEnd { pipe: u32, result: String },
    /// `apaevt_sse`.
    Sse { pipe: u32, kind: &'static str, data: Value },
    /// An `output` line (without the trailing newline).
    Output(String),
    /// An object finished: counts grow; `apaevt_status_object` is sent.
    Progress { object: String, size: u64, words: u64, failed: bool },
    /// `apaevt_status_counts` with the current counts.
    Counts,
    /// A full `apaevt_status_update` of the task's current status (load mix).
    Status,
    /// `apaevt_task {action}` of the task (load mix).
    Task(&'static str),
    /// A server-level `apaevt_dashboard` connection event (load mix): `connection_added`
    /// when true, `connection_removed` when false, of a peer that does not exist.
    Dashboard(bool),
    /// A warning: status `warnings` and `apaevt_status_warning`.
    Warning(String),
    /// An error: status `errors` and `apaevt_status_error`.
    Error(String),
    /// The engine's job text (`>JOB`): status `status` and `apaevt_status_message`.
    Message(String),
    /// The engine starts an object (`>OBJ`): status `currentObject`/`currentSize` and
    /// `apaevt_status_object`.
    Object { object: String, size: u64 },
    /// The current object is done: the counts grow (no event; `Counts` reports them).
    Done { size: u64, words: u64, words_size: u64, pipes: u32 },
}

/// One component of the chain a flow passes through.
#[derive(Debug, Clone)]
struct Component {
    id: String,
    lane: String,
    invoke: Option<String>,
}

/// The script state of one run.
pub struct Script {
    kind: ScriptKind,
    chain: Vec<Component>,
    rng: fastrand::Rng,
    queue: VecDeque<Step>,
    objects: u64,
    idle_ticks: u32,
    load_credit: f64,
    /// Load: the mix's slot order and the next slot.
    load_slots: Vec<LoadKind>,
    load_next: usize,
    /// Load: queued flow steps of the current object.
    load_flow: VecDeque<Step>,
}

/// The kinds of frames in the load mix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum LoadKind {
    Flow,
    Status,
    Task,
    Dashboard,
    Output,
    Sse,
    Detail,
}

/// The real-frame mix of issue 11 (frames per 100): 52 % `apaevt_flow`, 29 % full
/// `apaevt_status_update`, 7 % `apaevt_task`, and the rest dashboard, output, SSE and DETAIL
/// (`apaevt_status_object`/`apaevt_status_counts`).
const LOAD_MIX: [(LoadKind, u32); 7] = [
    (LoadKind::Flow, 52),
    (LoadKind::Status, 29),
    (LoadKind::Task, 7),
    (LoadKind::Dashboard, 3),
    (LoadKind::Output, 3),
    (LoadKind::Sse, 3),
    (LoadKind::Detail, 3),
];

/// The 100 slots of [`LOAD_MIX`], each kind spread evenly (smooth weighted round robin).
fn load_slots() -> Vec<LoadKind> {
    let total: i64 = LOAD_MIX.iter().map(|(_, n)| i64::from(*n)).sum();
    let mut credit = [0i64; LOAD_MIX.len()];
    (0..total)
        .map(|_| {
            for (c, (_, n)) in credit.iter_mut().zip(LOAD_MIX) {
                *c += i64::from(n);
            }
            let (best, _) = credit.iter().enumerate().max_by_key(|(i, c)| (**c, -(*i as i64))).expect("non-empty mix");
            credit[best] -= total;
            LOAD_MIX[best].0
        })
        .collect()
}

/// Default chains when a pipeline has no components besides its source.
fn default_chain(kind: ScriptKind) -> Vec<Component> {
    let c = |id: &str, lane: &str, invoke: Option<&str>| Component { id: id.into(), lane: lane.into(), invoke: invoke.map(Into::into) };
    match kind {
        ScriptKind::Chat => vec![
            c("agent_rocketride_1", "questions", None),
            c("llm_openai_1", "invoke", Some("llm")),
            c("response_answers_1", "answers", None),
        ],
        _ => vec![c("parse_1", "tags", None), c("embedding_1", "documents", None), c("vector_store_1", "documents", None)],
    }
}

/// The non-source components of a pipeline, in order, with the lane that feeds each.
fn chain_of(pipeline: &Value, source: &str, kind: ScriptKind) -> Vec<Component> {
    let comps = pipeline.get("components").and_then(Value::as_array).cloned().unwrap_or_default();
    let chain: Vec<Component> = comps
        .iter()
        .filter_map(|c| {
            let id = c.get("id")?.as_str()?.to_owned();
            if id == source {
                return None;
            }
            let lane = c.pointer("/input/0/lane").and_then(Value::as_str);
            let invoke = c.pointer("/control/0/classType").and_then(Value::as_str).map(str::to_owned);
            let lane = lane.map(str::to_owned).unwrap_or_else(|| if invoke.is_some() { "invoke".into() } else { "text".into() });
            Some(Component { id, lane, invoke })
        })
        .collect();
    if chain.is_empty() {
        default_chain(kind)
    } else {
        chain
    }
}

/// `enter`/`leave` trace at METADATA level, in wire order `{lane, invoke?, result?,
/// data}` (spec §4.3; the sample has `{"lane":"questions","data":null}`, the recorded
/// `execute_full_trace` puts `result` before `data`). Built as text because
/// `serde_json::Value` would sort the keys.
fn lane_trace(c: &Component, result: Option<&str>) -> String {
    let data = if c.lane == "text" || c.lane == "table" { r#"{"length":512}"# } else { "null" };
    Obj::new()
        .set("lane", &c.lane)
        .set_opt("invoke", c.invoke.as_ref())
        .set_opt("result", result.as_ref())
        .raw("data", data)
        .done()
}

impl Script {
    /// A script for `pipeline` (whose source is `source`), seeded by `seed`.
    pub fn new(kind: ScriptKind, pipeline: &Value, source: &str, seed: u64) -> Self {
        Script {
            kind,
            chain: chain_of(pipeline, source, kind),
            rng: fastrand::Rng::with_seed(seed),
            queue: VecDeque::new(),
            objects: 0,
            idle_ticks: 1,
            load_credit: 0.0,
            load_slots: load_slots(),
            load_next: 0,
            load_flow: VecDeque::new(),
        }
    }

    /// The seeded RNG (also used for metrics sampling).
    pub fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.rng
    }

    /// Steps for one tick of `tick_s` seconds of simulated time.
    pub fn tick(&mut self, tick_s: f64) -> Vec<Step> {
        match self.kind {
            ScriptKind::Chat => self.chat_tick(),
            ScriptKind::Ingest => self.ingest_tick(),
            ScriptKind::Load { rate } => self.load_tick(rate * tick_s),
        }
    }

    /// Chat: one step per tick, a question cycle then a short pause.
    fn chat_tick(&mut self) -> Vec<Step> {
        if self.queue.is_empty() {
            if self.idle_ticks > 0 {
                self.idle_ticks -= 1;
                return Vec::new();
            }
            self.queue_question();
            self.idle_ticks = self.rng.u32(3..8);
        }
        self.queue.pop_front().into_iter().collect()
    }

    /// Queues the steps of one chat question through the chain.
    fn queue_question(&mut self) {
        self.objects += 1;
        let n = self.objects;
        let object = format!("Question {n}");
        let chain = self.chain.clone();
        let q = &mut self.queue;
        q.push_back(Step::FlowBegin { pipe: 0, object: object.clone() });
        let (head, rest) = chain.split_first().expect("chains are never empty");
        q.push_back(Step::Enter { pipe: 0, comp: head.id.clone(), trace: lane_trace(head, None) });
        q.push_back(Step::Sse { pipe: 0, kind: "thinking", data: json!({"message": "Analyzing your request..."}) });
        q.push_back(Step::Output(format!("{}: wave 1 planned 2 tool calls", head.id)));
        // The first component invokes the second (an agent calling its LLM); the rest follow.
        if let Some((tool, tail)) = rest.split_first() {
            q.push_back(Step::Enter { pipe: 0, comp: tool.id.clone(), trace: lane_trace(tool, None) });
            q.push_back(Step::Sse { pipe: 0, kind: "acting", data: json!({"message": format!("Calling {}", tool.id)}) });
            q.push_back(Step::Leave { pipe: 0, trace: lane_trace(tool, Some("continue")) });
            q.push_back(Step::Leave { pipe: 0, trace: lane_trace(head, Some("continue")) });
            for c in tail {
                q.push_back(Step::Enter { pipe: 0, comp: c.id.clone(), trace: lane_trace(c, None) });
                q.push_back(Step::Leave { pipe: 0, trace: lane_trace(c, Some("continue")) });
            }
        } else {
            q.push_back(Step::Leave { pipe: 0, trace: lane_trace(head, Some("continue")) });
        }
        let words = 40 + (n * 17) % 120;
        let answer = format!("Answer {n}: here is what I found.");
        let result = Obj::new().set("name", &object).set("answers", &[answer]).raw("result_types", r#"{"answers":"answers"}"#);
        q.push_back(Step::FlowEnd { pipe: 0, result: result.done() });
        q.push_back(Step::Progress { object, size: words * 6, words, failed: false });
    }

    /// Ingest: most ticks finish one document through every component.
    fn ingest_tick(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.rng.f64() < 0.8 {
            steps.extend(self.document());
        }
        if self.objects.is_multiple_of(4) {
            steps.push(Step::Counts);
        }
        if self.rng.f64() < 0.03 {
            steps.push(Step::Warning(format!("doc_{:04}.pdf: OCR confidence low on page 3", self.objects)));
        }
        steps
    }

    /// The steps of one document on the next pipe.
    fn document(&mut self) -> Vec<Step> {
        self.objects += 1;
        let n = self.objects;
        let pipe = (n % u64::from(self.kind.pipes())) as u32;
        let object = format!("doc_{n:04}.pdf");
        let size = self.rng.u64(20_000..2_000_000);
        let failed = self.rng.f64() < 0.02;
        let mut steps = vec![Step::FlowBegin { pipe, object: object.clone() }];
        for c in &self.chain {
            steps.push(Step::Enter { pipe, comp: c.id.clone(), trace: lane_trace(c, None) });
            steps.push(Step::Leave { pipe, trace: lane_trace(c, Some(if failed { "error" } else { "continue" })) });
        }
        let result = Obj::new().set("name", &object).set("objectId", &format!("obj-{n}")).raw("result_types", "{}");
        steps.push(Step::FlowEnd { pipe, result: result.done() });
        let chunks = size / 4096 + 1;
        steps.push(Step::Output(format!("Indexed {object}: {chunks} chunks")));
        steps.push(Step::Progress { object, size, words: size / 6, failed });
        steps
    }

    /// Load: `budget` events' worth of credit, spent on output, flow and SSE in turn.
    fn load_tick(&mut self, budget: f64) -> Vec<Step> {
        self.load_credit += budget;
        // Bounded per tick so a stalled timer cannot produce an unbounded burst.
        let n = (self.load_credit.floor() as usize).min(20_000);
        self.load_credit -= n as f64;
        (0..n).map(|_| self.load_step()).collect()
    }

    /// Flat-out load: exactly `n` events of the mix.
    pub fn load_steps(&mut self, n: usize) -> Vec<Step> {
        (0..n).map(|_| self.load_step()).collect()
    }

    /// One load event: the next slot of the mix.
    fn load_step(&mut self) -> Step {
        let kind = self.load_slots[self.load_next];
        self.load_next = (self.load_next + 1) % self.load_slots.len();
        let n = self.objects;
        match kind {
            LoadKind::Flow => {
                if self.load_flow.is_empty() {
                    self.load_object();
                }
                self.load_flow.pop_front().expect("an object queues its flow")
            }
            LoadKind::Status => Step::Status,
            LoadKind::Task => Step::Task(if n.is_multiple_of(2) { "begin" } else { "end" }),
            LoadKind::Dashboard => Step::Dashboard(self.rng.bool()),
            LoadKind::Output => Step::Output(format!(
                "Indexed doc_{n:04}.pdf: {} chunks, {} words, language en, model text-embedding-3-small, store qdrant_1 collection documents, batch {:08x}, ok",
                n % 37 + 1,
                self.rng.u32(100..90_000),
                self.rng.u32(..)
            )),
            LoadKind::Sse => Step::Sse { pipe: (n % 4) as u32, kind: "progress", data: json!({"object": format!("doc_{n:04}.pdf"), "percent": self.rng.u32(..100)}) },
            LoadKind::Detail => {
                if self.rng.bool() {
                    Step::Counts
                } else {
                    Step::Object { object: format!("doc_{n:04}.pdf"), size: self.rng.u64(20_000..2_000_000) }
                }
            }
        }
    }

    /// Queues the flow of the next object through the chain (begin, enter/leave per
    /// component, end with the object's result).
    fn load_object(&mut self) {
        self.objects += 1;
        let n = self.objects;
        let pipe = (n % u64::from(self.kind.pipes())) as u32;
        let object = format!("doc_{n:04}.pdf");
        self.load_flow.push_back(Step::FlowBegin { pipe, object: object.clone() });
        for c in &self.chain {
            self.load_flow.push_back(Step::Enter { pipe, comp: c.id.clone(), trace: lane_trace(c, None) });
            self.load_flow.push_back(Step::Leave { pipe, trace: lane_trace(c, Some("continue")) });
        }
        let result = Obj::new().set("name", &object).set("objectId", &format!("obj-{n}")).raw("result_types", "{}");
        self.load_flow.push_back(Step::FlowEnd { pipe, result: result.done() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_follows_components_and_skips_the_source() {
        let p = json!({"components":[{"id":"chat_1"},{"id":"a","input":[{"lane":"questions","from":"chat_1"}]},{"id":"b","control":[{"classType":"llm"}]}]});
        let chain = chain_of(&p, "chat_1", ScriptKind::Chat);
        assert_eq!(chain.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(chain[0].lane, "questions");
        assert_eq!(lane_trace(&chain[1], Some("continue")), r#"{"lane":"invoke","invoke":"llm","result":"continue","data":null}"#);
        assert_eq!(lane_trace(&chain[0], None), r#"{"lane":"questions","data":null}"#, "sample key order");
    }

    #[test]
    fn scripts_are_deterministic_for_a_seed() {
        let run = |seed| {
            let mut s = Script::new(ScriptKind::Ingest, &Value::Null, "src", seed);
            (0..20).flat_map(|_| s.tick(0.25)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn load_spends_its_rate_budget() {
        let mut s = Script::new(ScriptKind::Load { rate: 1000.0 }, &Value::Null, "src", 1);
        let total: usize = (0..10).map(|_| s.tick(0.1).len()).sum();
        assert_eq!(total, 1000);
    }

    #[test]
    fn load_follows_the_mix() {
        let mut s = Script::new(ScriptKind::Load { rate: 0.0 }, &Value::Null, "src", 1);
        let steps = s.load_steps(1000);
        let count = |f: fn(&Step) -> bool| steps.iter().filter(|s| f(s)).count();
        let flow = count(|s| matches!(s, Step::FlowBegin { .. } | Step::Enter { .. } | Step::Leave { .. } | Step::FlowEnd { .. }));
        assert_eq!(flow, 520);
        assert_eq!(count(|s| matches!(s, Step::Status)), 290);
        assert_eq!(count(|s| matches!(s, Step::Task(_))), 70);
        assert_eq!(count(|s| matches!(s, Step::Dashboard(_))), 30);
        // Evenly spread: every window of 10 holds some flow and some status.
        assert!(steps.chunks(10).all(|w| w.iter().any(|s| matches!(s, Step::Status))));
    }

    #[test]
    fn chat_flow_stack_is_balanced() {
        let mut s = Script::new(ScriptKind::Chat, &Value::Null, "chat_1", 1);
        let steps: Vec<Step> = (0..40).flat_map(|_| s.tick(0.25)).collect();
        let enters = steps.iter().filter(|s| matches!(s, Step::Enter { .. })).count();
        let leaves = steps.iter().filter(|s| matches!(s, Step::Leave { .. })).count();
        assert!(enters >= 3 && enters.abs_diff(leaves) <= 2, "{enters} {leaves}");
    }
}

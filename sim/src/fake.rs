//! The scripted-pipeline convention (`fake` in the source component's config) and the
//! engine activity it produces, as the stand-in engine behind the recorded sessions runs it
//! (`shared/conformance/README.md`).
//!
//! ```json
//! {"id": "webhook_1", "provider": "webhook",
//!  "config": {"mode": "Source", "fake": {"objects": 3, "interval": 0.4, "mode": "batch",
//!    "pipes": 2, "startupDelay": 0.3, "exitCode": 0, "exitLine": true, "sse": true,
//!    "warnings": [], "errors": [], "text": "..."}}}
//! ```
//!
//! What the simulator does with it (the runner in [`crate::pipeline`] owns the timing and
//! the lifecycle frames around these steps):
//! - after STARTING, `begin` and INITIALIZING, the engine boots ([`BOOT_MS`]), prints its
//!   banner line (`output`) and reports the job "Loading pipeline"; `startupDelay` seconds
//!   later it reports "Running" and the service is up (RUNNING status, `execute` answers);
//! - object *i* (1-based, `object-<i>.txt`, 1024·*i* bytes) is processed `interval` seconds
//!   after the previous one (the first one `interval` after RUNNING), on pipe
//!   (*i*−1) mod `pipes`: `apaevt_status_object`, one `apaevt_sse` "thinking" (unless
//!   `sse:false`), the warnings and errors as DETAIL events with the first object, the flow
//!   trace, `apaevt_status_counts`, and the line `<source>: processed <object> on pipe <p>
//!   (<size> bytes)`;
//! - the flow trace of an object follows the pipeline's graph from the source: `begin`,
//!   then an `open` pass (enter every input-lane component depth first, leave in reverse),
//!   the data pass (each component entered on the lane that feeds it, its control
//!   components invoked on the `invoke` lane), a `closing` and a `close` pass, and `end`
//!   carrying the object's result at `summary` and `full`; lane data is `{length}` for
//!   `text`/`table` and `null` otherwise below `full`, and the lane payloads at `full`;
//! - `mode:"batch"` then reports the job "Completed", takes the service down and exits
//!   (with `exitLine`, an `>EXIT` line, which the snapshot server's `exit_code` bug reads as
//!   exit code 1); `mode:"service"` reports "Waiting for data" and runs until terminated.
//!
//! Which DETAIL events the stand-in engine sends, and their order within one object, are
//! not in the recordings the kit ships (no recorded scenario subscribes DETAIL with a
//! trace); the order above is the simulator's reading of the engine's control protocol.

use serde_json::{json, Map, Value};

use crate::json::Obj;
use crate::script::Step;
use crate::trace::TraceLevel;

/// Engine process start-up before its banner, in simulated ms (recorded: ~0.6 s).
pub const BOOT_MS: u64 = 600;
/// The object text when the script gives none.
pub const DEFAULT_TEXT: &str = "The quick brown fox jumps over the lazy dog.";

/// `batch` ends after the last object; `service` runs until terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// End the run after the last object.
    Batch,
    /// Keep running (waiting for data) until terminated.
    Service,
}

/// A pipeline's `fake` script, with the stand-in engine's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Fake {
    /// Objects to process.
    pub objects: u64,
    /// Simulated ms between objects (and from RUNNING to the first one).
    pub interval_ms: u64,
    /// Batch or service.
    pub mode: Mode,
    /// Pipes the objects are spread over.
    pub pipes: u32,
    /// Simulated ms from the banner to RUNNING.
    pub startup_delay_ms: u64,
    /// The engine's exit code.
    pub exit_code: i64,
    /// Whether the engine ends with an `>EXIT` line (which the snapshot server misreads).
    pub exit_line: bool,
    /// Whether objects emit SSE.
    pub sse: bool,
    /// Raised as `apaevt_status_warning` with the first object.
    pub warnings: Vec<String>,
    /// Raised as `apaevt_status_error` with the first object.
    pub errors: Vec<String>,
    /// The text every object holds.
    pub text: String,
}

impl Default for Fake {
    fn default() -> Self {
        Fake {
            objects: 3,
            interval_ms: 400,
            mode: Mode::Batch,
            pipes: 2,
            startup_delay_ms: 300,
            exit_code: 0,
            exit_line: true,
            sse: true,
            warnings: Vec::new(),
            errors: Vec::new(),
            text: DEFAULT_TEXT.to_owned(),
        }
    }
}

/// Seconds (int or float) as simulated ms; negative or invalid values fall back.
fn secs_ms(v: Option<&Value>, default: u64) -> u64 {
    v.and_then(Value::as_f64).filter(|s| s.is_finite() && *s >= 0.0).map_or(default, |s| (s * 1000.0).round() as u64)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl Fake {
    /// The script in the source component's `config.fake`, if the pipeline carries one.
    pub fn from_pipeline(pipeline: &Value, source: &str) -> Option<Fake> {
        let comps = pipeline.get("components")?.as_array()?;
        let comp = comps.iter().find(|c| c.get("id").and_then(Value::as_str) == Some(source))?;
        let fake = comp.pointer("/config/fake")?.as_object()?;
        Some(Fake::from_object(fake))
    }

    /// Reads a `fake` object; absent or ill-typed fields keep their defaults.
    pub fn from_object(f: &Map<String, Value>) -> Fake {
        let d = Fake::default();
        let bool_of = |k: &str, default: bool| f.get(k).and_then(Value::as_bool).unwrap_or(default);
        Fake {
            objects: f.get("objects").and_then(Value::as_u64).unwrap_or(d.objects),
            interval_ms: secs_ms(f.get("interval"), d.interval_ms),
            mode: match f.get("mode").and_then(Value::as_str) {
                Some("service") => Mode::Service,
                _ => Mode::Batch,
            },
            pipes: f.get("pipes").and_then(Value::as_u64).filter(|p| *p > 0).map_or(d.pipes, |p| p.min(1024) as u32),
            startup_delay_ms: secs_ms(f.get("startupDelay"), d.startup_delay_ms),
            exit_code: f.get("exitCode").and_then(Value::as_i64).unwrap_or(d.exit_code),
            exit_line: bool_of("exitLine", d.exit_line),
            sse: bool_of("sse", d.sse),
            warnings: strings(f.get("warnings")),
            errors: strings(f.get("errors")),
            text: f.get("text").and_then(Value::as_str).map_or(d.text, str::to_owned),
        }
    }

    /// The engine's banner line (recorded: `fake-engine: task tk_b57efad1... source=…`).
    pub fn banner(&self, token: &str, source: &str, trace: TraceLevel) -> String {
        let short: String = token.chars().take(11).collect();
        let mode = if self.mode == Mode::Batch { "batch" } else { "service" };
        format!("fake-engine: task {short}... source={source} trace={} objects={} mode={mode}", trace.engine_level(), self.objects)
    }

    /// Name and size of object `i` (1-based).
    pub fn object(&self, i: u64) -> (String, u64) {
        (format!("object-{i}.txt"), 1024 * i)
    }
}

/// One edge of the pipeline graph out of a component.
#[derive(Debug, Clone)]
struct Edge {
    to: String,
    /// The input lane, or `None` for a control (invoke) edge.
    lane: Option<String>,
    /// The control edge's `classType`.
    class: Option<String>,
}

/// The pipeline's components as a graph: who feeds whom, on which lane.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    out: Vec<(String, Vec<Edge>)>,
}

impl Graph {
    /// Builds the graph from `components[].input[]` and `components[].control[]`.
    pub fn new(pipeline: &Value) -> Graph {
        let mut g = Graph::default();
        let comps = pipeline.get("components").and_then(Value::as_array).cloned().unwrap_or_default();
        for c in &comps {
            let Some(id) = c.get("id").and_then(Value::as_str) else { continue };
            for (list, is_input) in [("input", true), ("control", false)] {
                for e in c.get(list).and_then(Value::as_array).into_iter().flatten() {
                    let Some(from) = e.get("from").and_then(Value::as_str) else { continue };
                    let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
                    let edge = if is_input {
                        Edge { to: id.to_owned(), lane: Some(text("lane").unwrap_or_else(|| "text".into())), class: None }
                    } else {
                        Edge { to: id.to_owned(), lane: None, class: Some(text("classType").unwrap_or_default()) }
                    };
                    g.edges_mut(from).push(edge);
                }
            }
        }
        g
    }

    fn edges_mut(&mut self, from: &str) -> &mut Vec<Edge> {
        if let Some(i) = self.out.iter().position(|(k, _)| k == from) {
            return &mut self.out[i].1;
        }
        self.out.push((from.to_owned(), Vec::new()));
        &mut self.out.last_mut().expect("just pushed").1
    }

    fn edges(&self, from: &str) -> &[Edge] {
        self.out.iter().find(|(k, _)| k == from).map_or(&[], |(_, e)| e.as_slice())
    }
}

/// Deepest component nesting followed (a cyclic graph stops here).
const MAX_DEPTH: usize = 32;

/// Builds the flow steps of one object.
struct FlowBuilder<'a> {
    graph: &'a Graph,
    level: TraceLevel,
    pipe: u32,
    object: &'a str,
    text: &'a str,
    steps: Vec<Step>,
}

impl FlowBuilder<'_> {
    /// `{lane, invoke?, data}` on enter, `{lane, invoke?, result, data}` on leave (recorded order).
    fn trace(lane: &str, invoke: Option<&str>, result: Option<&str>, data: &str) -> String {
        Obj::new().set("lane", lane).set_opt("invoke", invoke.as_ref()).set_opt("result", result.as_ref()).raw("data", data).done()
    }

    fn enter(&mut self, comp: &str, trace: String) {
        self.steps.push(Step::Enter { pipe: self.pipe, comp: comp.to_owned(), trace });
    }

    fn leave(&mut self, trace: String) {
        self.steps.push(Step::Leave { pipe: self.pipe, trace });
    }

    /// The `open`, `closing` and `close` passes: every input-lane component, depth first.
    fn pass(&mut self, from: &str, lane: &str, depth: usize) {
        if depth >= MAX_DEPTH {
            return;
        }
        for e in self.graph.edges(from).iter().filter(|e| e.lane.is_some()) {
            self.enter(&e.to, Self::trace(lane, None, None, "null"));
            self.pass(&e.to, lane, depth + 1);
            self.leave(Self::trace(lane, None, Some("continue"), "null"));
        }
    }

    /// Lane data: `{length}` (+ `text` at full) for text and table lanes; the lane payload
    /// at full for questions, answers and invoke; `null` otherwise.
    fn data(&self, lane: &str, leaving: bool) -> String {
        let full = self.level == TraceLevel::Full;
        let text = self.text;
        let obj = self.object;
        let v = match lane {
            "text" | "table" if full => json!({"length": text.chars().count(), "text": text}),
            "text" | "table" => json!({"length": text.chars().count()}),
            "questions" if full => json!({"questions": {"questions": [{"text": format!("What is in {obj}?")}]}}),
            "answers" if full => json!({"answers": {"answers": [format!("{obj} contains {} characters.", text.chars().count())]}}),
            "invoke" if full && leaving => {
                let head: String = text.chars().take(40).collect();
                json!({"op": "ask", "answer": format!("{obj}: {head}")})
            }
            "invoke" if full => json!({"op": "ask", "question": format!("summarise {obj}")}),
            _ => Value::Null,
        };
        // serde_json sorts keys; these payloads are written in the recorded order by hand.
        match v {
            Value::Object(m) if m.contains_key("length") && m.contains_key("text") => {
                Obj::new().set("length", &m["length"]).set("text", &m["text"]).done()
            }
            Value::Object(m) if m.contains_key("op") => {
                let (k, val) = if m.contains_key("answer") { ("answer", &m["answer"]) } else { ("question", &m["question"]) };
                Obj::new().set("op", "ask").set(k, val).done()
            }
            other => other.to_string(),
        }
    }

    /// The data pass: each component on the lane that feeds it; its control components
    /// are invoked before its own outputs are followed (recorded order).
    fn data_pass(&mut self, from: &str, depth: usize) {
        if depth >= MAX_DEPTH {
            return;
        }
        let edges: Vec<Edge> = self.graph.edges(from).iter().filter(|e| e.lane.is_some()).cloned().collect();
        for e in edges {
            let lane = e.lane.as_deref().unwrap_or("text");
            self.enter(&e.to, Self::trace(lane, None, None, &self.data(lane, false)));
            let controls: Vec<Edge> = self.graph.edges(&e.to).iter().filter(|c| c.lane.is_none()).cloned().collect();
            for c in controls {
                let class = c.class.as_deref();
                self.enter(&c.to, Self::trace("invoke", class, None, &self.data("invoke", false)));
                self.leave(Self::trace("invoke", class, Some("continue"), &self.data("invoke", true)));
            }
            self.data_pass(&e.to, depth + 1);
            self.leave(Self::trace(lane, None, Some("continue"), &self.data(lane, true)));
        }
    }
}

/// The flow steps of object `object` on `pipe` (empty when the run is not traced).
pub fn flow_steps(graph: &Graph, source: &str, level: TraceLevel, pipe: u32, object: &str, index: u64, text: &str) -> Vec<Step> {
    if !level.traces() {
        return Vec::new();
    }
    let mut b = FlowBuilder { graph, level, pipe, object, text, steps: Vec::new() };
    b.steps.push(Step::FlowBegin { pipe, object: object.to_owned() });
    b.pass(source, "open", 0);
    b.data_pass(source, 0);
    b.pass(source, "closing", 0);
    b.pass(source, "close", 0);
    let result = Obj::new()
        .set("name", object)
        .set("path", &format!("fake://{source}/{object}"))
        .set("objectId", &format!("obj-{index}"))
        .raw("result_types", r#"{"text":"text"}"#)
        .set("text", &[text])
        .done();
    b.steps.push(Step::FlowEnd { pipe, result });
    b.steps
}

/// Everything object `i` produces, in order (see the module docs).
pub fn object_steps(fake: &Fake, graph: &Graph, source: &str, level: TraceLevel, i: u64) -> Vec<Step> {
    let (object, size) = fake.object(i);
    let pipe = ((i - 1) % u64::from(fake.pipes)) as u32;
    let mut steps = vec![Step::Object { object: object.clone(), size }];
    if fake.sse {
        steps.push(Step::Sse { pipe, kind: "thinking", data: json!({"message": format!("Processing {object}")}) });
    }
    if i == 1 {
        steps.extend(fake.warnings.iter().cloned().map(Step::Warning));
        steps.extend(fake.errors.iter().cloned().map(Step::Error));
    }
    steps.extend(flow_steps(graph, source, level, pipe, &object, i, &fake.text));
    let words = fake.text.split_whitespace().count() as u64;
    steps.push(Step::Done { size, words, words_size: fake.text.chars().count() as u64, pipes: fake.pipes });
    steps.push(Step::Counts);
    steps.push(Step::Output(format!("{source}: processed {object} on pipe {pipe} ({size} bytes)")));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_pipeline() -> Value {
        json!({"source":"webhook_1","components":[
            {"id":"webhook_1","provider":"webhook","config":{"fake":{"objects":3,"interval":0.4,"mode":"batch"}}},
            {"id":"parse_1","input":[{"lane":"text","from":"webhook_1"}]},
            {"id":"agent_rocketride_1","input":[{"lane":"questions","from":"parse_1"}]},
            {"id":"llm_openai_1","control":[{"classType":"llm","from":"agent_rocketride_1"}]},
            {"id":"response_answers_1","input":[{"lane":"answers","from":"agent_rocketride_1"}]}]})
    }

    #[test]
    fn reads_the_script_with_defaults() {
        let f = Fake::from_pipeline(&full_pipeline(), "webhook_1").unwrap();
        assert_eq!((f.objects, f.interval_ms, f.mode, f.pipes, f.startup_delay_ms), (3, 400, Mode::Batch, 2, 300));
        assert!(f.sse && f.exit_line && f.exit_code == 0);
        assert!(Fake::from_pipeline(&json!({"components":[{"id":"s","config":{}}]}), "s").is_none());
        let v = json!({"objects":1,"interval":1,"mode":"service","startupDelay":1.5,"sse":false,"warnings":["w"],"exitCode":2});
        let f = Fake::from_object(v.as_object().unwrap());
        assert_eq!((f.objects, f.interval_ms, f.mode, f.startup_delay_ms, f.exit_code), (1, 1000, Mode::Service, 1500, 2));
        assert!(!f.sse);
        assert_eq!(f.warnings, vec!["w".to_owned()]);
    }

    /// The frames of object 1 of the recorded `execute_full_trace` (trace `full`).
    #[test]
    fn flow_follows_the_recorded_full_trace() {
        let p = full_pipeline();
        let steps = flow_steps(&Graph::new(&p), "webhook_1", TraceLevel::Full, 0, "object-1.txt", 1, DEFAULT_TEXT);
        let ops: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::FlowBegin { .. } => "begin".to_owned(),
                Step::Enter { comp, trace, .. } => format!("+{comp} {trace}"),
                Step::Leave { trace, .. } => format!("- {trace}"),
                Step::FlowEnd { .. } => "end".to_owned(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(ops.len(), 2 + 6 + 8 + 6 + 6, "{ops:#?}");
        assert_eq!(ops[1], r#"+parse_1 {"lane":"open","data":null}"#);
        assert_eq!(ops[3], r#"+response_answers_1 {"lane":"open","data":null}"#);
        assert_eq!(ops[4], r#"- {"lane":"open","result":"continue","data":null}"#);
        assert_eq!(ops[7], r#"+parse_1 {"lane":"text","data":{"length":44,"text":"The quick brown fox jumps over the lazy dog."}}"#);
        assert_eq!(ops[8], r#"+agent_rocketride_1 {"lane":"questions","data":{"questions":{"questions":[{"text":"What is in object-1.txt?"}]}}}"#);
        assert_eq!(ops[9], r#"+llm_openai_1 {"lane":"invoke","invoke":"llm","data":{"op":"ask","question":"summarise object-1.txt"}}"#);
        assert_eq!(ops[10], r#"- {"lane":"invoke","invoke":"llm","result":"continue","data":{"op":"ask","answer":"object-1.txt: The quick brown fox jumps over the lazy "}}"#);
        assert_eq!(ops[11], r#"+response_answers_1 {"lane":"answers","data":{"answers":{"answers":["object-1.txt contains 44 characters."]}}}"#);
        assert_eq!(ops[15], r#"+parse_1 {"lane":"closing","data":null}"#);
        let Step::FlowEnd { result, .. } = steps.last().unwrap() else { panic!() };
        assert_eq!(result, r#"{"name":"object-1.txt","path":"fake://webhook_1/object-1.txt","objectId":"obj-1","result_types":{"text":"text"},"text":["The quick brown fox jumps over the lazy dog."]}"#);
    }

    #[test]
    fn below_full_only_text_lanes_carry_data() {
        let p = full_pipeline();
        let steps = flow_steps(&Graph::new(&p), "webhook_1", TraceLevel::Metadata, 1, "object-2.txt", 2, DEFAULT_TEXT);
        let traces: Vec<&str> = steps.iter().filter_map(|s| if let Step::Enter { trace, .. } = s { Some(trace.as_str()) } else { None }).collect();
        assert!(traces.contains(&r#"{"lane":"text","data":{"length":44}}"#));
        assert!(traces.contains(&r#"{"lane":"questions","data":null}"#));
        assert!(traces.contains(&r#"{"lane":"invoke","invoke":"llm","data":null}"#));
        assert!(flow_steps(&Graph::new(&p), "webhook_1", TraceLevel::Off, 0, "o", 1, "t").is_empty());
    }

    #[test]
    fn cyclic_graphs_terminate() {
        let p = json!({"components":[{"id":"a","input":[{"lane":"text","from":"b"}]},{"id":"b","input":[{"lane":"text","from":"a"}]}]});
        assert!(flow_steps(&Graph::new(&p), "a", TraceLevel::Summary, 0, "o", 1, "t").len() < 1000);
    }
}

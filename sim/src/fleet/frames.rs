//! fleet-rlm wire shapes, as ordered JSON text (pydantic dumps and Python dicts keep
//! insertion order; the sample JSONL is the reference for key order).

use serde::Deserialize;

use crate::clock::epoch_s;
use crate::json::{to_text, Obj};
use crate::sendlog::FleetMeta;

use super::Identity;

/// Longest step label before the step builder truncates it.
const LABEL_MAX: usize = 120;

/// Epoch seconds as Python's `datetime.now(timezone.utc).isoformat()`:
/// `2026-11-23T00:33:35.712204+00:00`.
pub fn iso(epoch: f64) -> String {
    let micros_total = (epoch * 1_000_000.0).round() as i64;
    let secs = micros_total.div_euclid(1_000_000);
    let micros = micros_total.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+00:00", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Now, as [`iso`].
pub fn iso_now() -> String {
    iso(epoch_s())
}

/// Howard Hinnant's days-from-civil inverse.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A uuid4 from `rng`: `.hex` (32 hex digits) or with dashes.
pub fn uuid(rng: &mut fastrand::Rng, dashed: bool) -> String {
    let mut b: [u8; 16] = std::array::from_fn(|_| rng.u8(..));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    if dashed {
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    } else {
        hex
    }
}

/// The runtime context fleet-rlm adds to (almost) every chat event payload, both flattened
/// and under `runtime` (spec §3.4, `StreamingContext.enrich`).
#[derive(Debug, Clone)]
pub struct RuntimeCtx {
    /// `execution_mode` of the message (`auto` / `rlm_only` / `tools_only`).
    pub execution_mode: String,
    /// Sandbox id (also `provider_session_id`).
    pub sandbox_id: String,
    /// `created` / `reused` / `resumed`.
    pub transition: &'static str,
}

impl RuntimeCtx {
    /// Appends the context keys to `o` (`effective_max_iters` unless the payload has it).
    fn add_fields(&self, o: Obj, iters: bool) -> Obj {
        let o = o
            .set("depth", &0)
            .set("max_depth", &2)
            .set("execution_profile", "ROOT_INTERLOCUTOR")
            .set("sandbox_active", &true)
            .set("provider_session_active", &true);
        let o = if iters { o.set("effective_max_iters", &15) } else { o };
        o.set("execution_mode", &self.execution_mode)
            .set("volume_name", "default")
            .set("configured_volume_name", "default")
            .set("sandbox_id", &self.sandbox_id)
            .set("provider_session_id", &self.sandbox_id)
            .set("workspace_path", "/home/daytona/workspace")
            .set("sandbox_transition", self.transition)
    }

    /// Appends the context to a payload under construction: the flattened keys, then
    /// `runtime` and `runtime_mode`.
    pub fn enrich(&self, payload: Obj) -> Obj {
        self.enrich_with(payload, true)
    }

    /// [`RuntimeCtx::enrich`] for a payload that already set `effective_max_iters` (a dict
    /// update keeps the key where it was).
    pub fn enrich_with(&self, payload: Obj, iters: bool) -> Obj {
        let runtime = self.add_fields(Obj::new(), true).set("runtime_mode", "daytona_pilot").done();
        self.add_fields(payload, iters).raw("runtime", &runtime).set("runtime_mode", "daytona_pilot")
    }
}

/// `{"type":"event","data":{kind,text,payload,timestamp,version,event_id}}`; `timestamp`
/// `None` leaves the key out (as on `hitl_resolved`).
pub fn event(kind: &str, text: &str, payload: Option<&str>, timestamp: Option<&str>, version: u8, event_id: &str) -> String {
    let mut data = Obj::new().set("kind", kind).set("text", text).raw("payload", payload.unwrap_or("null"));
    if let Some(ts) = timestamp {
        data = data.set("timestamp", ts);
    }
    let data = data.set("version", &version).set("event_id", event_id).done();
    Obj::new().set("type", "event").raw("data", &data).done()
}

/// A bare error envelope `{"type":"error","message":…}` (no code).
pub fn bare_error(message: &str) -> String {
    Obj::new().set("type", "error").set("message", message).done()
}

/// A structured error envelope `{"type":"error","code","message","details"?}`.
pub fn error(code: &str, message: &str, error_type: Option<&str>) -> String {
    let o = Obj::new().set("type", "error").set("code", code).set("message", message);
    match error_type {
        Some(t) => o.raw("details", &Obj::new().set("error_type", t).done()).done(),
        None => o.done(),
    }
}

/// `{"type":"command_result","command","result","version":1,"event_id"}`.
pub fn command_result(command: &str, result: &str, event_id: &str) -> String {
    Obj::new()
        .set("type", "command_result")
        .set("command", command)
        .raw("result", result)
        .set("version", &1)
        .set("event_id", event_id)
        .done()
}

/// An events-socket frame: `{"type","run_id","workspace_id","user_id","session_id","step","summary"}`.
pub fn execution(kind: &str, run_id: &str, who: &Identity, session_id: &str, step: Option<&str>, summary: Option<&str>) -> String {
    Obj::new()
        .set("type", kind)
        .set("run_id", run_id)
        .set("workspace_id", &who.workspace_id)
        .set("user_id", &who.user_id)
        .set("session_id", session_id)
        .raw("step", step.unwrap_or("null"))
        .raw("summary", summary.unwrap_or("null"))
        .done()
}

/// An `ExecutionStep`.
#[derive(Debug, Clone)]
pub struct Step {
    /// `<run_id>:s<N>`.
    pub id: String,
    /// Parent step id (`<run_id>:root` by default).
    pub parent_id: String,
    /// `llm` | `tool` | `repl` | `memory` | `output`.
    pub kind: &'static str,
    /// Label (truncated by [`Step::render`]).
    pub label: String,
    /// Depth, or null.
    pub depth: Option<i64>,
    /// `root_rlm` | `sub_agent` | `delegate` | `unknown`.
    pub actor_kind: &'static str,
    /// Raw JSON of `input`.
    pub input: String,
    /// Raw JSON of `output` (`null` when none).
    pub output: String,
    /// Epoch seconds.
    pub timestamp: f64,
}

impl Step {
    /// The step's JSON text.
    pub fn render(&self) -> String {
        let lane = match (self.actor_kind, self.depth) {
            ("delegate", _) | (_, None) => self.actor_kind.to_owned(),
            (k, Some(d)) => format!("{k}:depth-{d}"),
        };
        Obj::new()
            .set("id", &self.id)
            .set("parent_id", &self.parent_id)
            .set("type", self.kind)
            .set("label", &truncate(&self.label, LABEL_MAX))
            .set("depth", &self.depth)
            .raw("actor_kind", &to_text(self.actor_kind))
            .raw("actor_id", "null")
            .set("lane_key", &lane)
            .raw("input", &self.input)
            .raw("output", &self.output)
            .set("timestamp", &self.timestamp)
            .done()
    }
}

/// The step sanitiser's text truncation (`...[truncated]`).
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}...[truncated]")
}

/// How a run ended, for its summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `final`.
    Completed,
    /// `cancelled`.
    Cancelled,
    /// A streamed error.
    Error,
}

/// `execution_completed.summary` (`ws/completion.py::build_execution_completion_summary`).
pub fn summary(run_id: &str, task: &str, ending: Ending, text: &str, duration_ms: Option<u64>) -> String {
    let (status, reason) = match ending {
        Ending::Completed => ("completed", "final"),
        Ending::Cancelled => ("cancelled", "cancelled"),
        Ending::Error => ("error", "error"),
    };
    let artifact = match ending {
        Ending::Completed => Obj::new()
            .set("kind", "assistant_response")
            .raw("value", &Obj::new().set("text", text).set("final_markdown", text).set("summary", text).done())
            .set("finalization_mode", "RETURN")
            .done(),
        _ => "null".to_owned(),
    };
    let error = if ending == Ending::Error { to_text(text) } else { "null".to_owned() };
    let inner = Obj::new()
        .set("termination_reason", reason)
        .set("duration_ms", &duration_ms)
        .raw("warnings", "[]")
        .raw("error", &error)
        .done();
    Obj::new()
        .set("run_id", run_id)
        .set("runtime_mode", "daytona_pilot")
        .set("task", task)
        .set("status", status)
        .set("termination_reason", reason)
        .set("duration_ms", &duration_ms)
        .raw("iterations", "[]")
        .raw("callbacks", "[]")
        .raw("prompts", "[]")
        .raw("context_sources", "[]")
        .raw("sources", "[]")
        .raw("attachments", "[]")
        .raw("final_artifact", &artifact)
        .raw("summary", &inner)
        .raw("warnings", "[]")
        .done()
}

/// The ids a server frame carries, for its send-log entry (empty when it is not JSON).
pub fn log_facts(text: &str) -> FleetMeta {
    #[derive(Deserialize)]
    struct Probe {
        data: Option<Data>,
        event_id: Option<String>,
        run_id: Option<String>,
        #[serde(rename = "type")]
        kind: Option<String>,
        step: Option<StepIds>,
        summary: Option<Summary>,
        code: Option<String>,
    }
    #[derive(Deserialize)]
    struct Data {
        event_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct StepIds {
        id: Option<String>,
        parent_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Summary {
        status: Option<String>,
    }
    let Ok(p) = serde_json::from_str::<Probe>(text) else { return FleetMeta::default() };
    let completed = p.kind.as_deref() == Some("execution_completed");
    let status = match (&p.step, &p.summary) {
        _ if !completed => None,
        (None, None) => Some("interrupted".to_owned()),
        (_, s) => s.as_ref().and_then(|s| s.status.clone()),
    };
    let (step_id, parent_id) = p.step.map_or((None, None), |s| (s.id, s.parent_id));
    FleetMeta {
        event_id: p.data.and_then(|d| d.event_id).or(p.event_id),
        run_id: p.run_id,
        step_id,
        parent_id,
        status,
        error_code: if p.kind.as_deref() == Some("error") { p.code } else { None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_matches_python() {
        assert_eq!(iso(1_795_394_016.084_548), "2026-11-23T00:33:36.084548+00:00");
        assert_eq!(iso(0.0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(iso(951_782_400.5), "2000-02-29T00:00:00.500000+00:00");
    }

    #[test]
    fn uuids_have_version_bits() {
        let mut rng = fastrand::Rng::with_seed(3);
        let h = uuid(&mut rng, false);
        assert_eq!(h.len(), 32);
        assert_eq!(&h[12..13], "4");
        let d = uuid(&mut rng, true);
        assert_eq!(d.len(), 36);
        assert_eq!(d.matches('-').count(), 4);
    }

    #[test]
    fn runtime_context_is_flat_and_nested() {
        let ctx = RuntimeCtx { execution_mode: "auto".into(), sandbox_id: "sbx-1".into(), transition: "reused" };
        let text = ctx.enrich(Obj::new().set("source", "next_thought")).done();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(text.starts_with(r#"{"source":"next_thought","depth":0,"#), "{text}");
        assert_eq!(v["runtime"]["runtime_mode"], "daytona_pilot");
        assert_eq!(v["runtime_mode"], "daytona_pilot");
        assert_eq!(v["sandbox_id"], "sbx-1");
        let empty = ctx.enrich(Obj::new()).done();
        assert!(empty.starts_with(r#"{"depth":0,"#), "{empty}");
        let more = ctx.enrich(Obj::new()).set("message_id", "m").done();
        assert!(more.ends_with(r#""runtime_mode":"daytona_pilot","message_id":"m"}"#), "{more}");
    }

    #[test]
    fn log_facts_name_the_frame() {
        let who = Identity::anonymous();
        let step = r#"{"id":"r:s2","parent_id":"r:s1","type":"repl"}"#;
        let f = log_facts(&execution("execution_step", "r", &who, "s", Some(step), None));
        assert_eq!((f.run_id.as_deref(), f.step_id.as_deref(), f.parent_id.as_deref(), f.status), (Some("r"), Some("r:s2"), Some("r:s1"), None));
        let f = log_facts(&execution("execution_completed", "r", &who, "s", None, None));
        assert_eq!(f.status.as_deref(), Some("interrupted"));
        let f = log_facts(&execution("execution_completed", "r", &who, "s", Some(step), Some(r#"{"status":"cancelled"}"#)));
        assert_eq!(f.status.as_deref(), Some("cancelled"));
        let f = log_facts(&event("final", "done", None, None, 2, "abc"));
        assert_eq!(f.event_id.as_deref(), Some("abc"));
        assert_eq!(log_facts(&error("llm_timeout", "slow", None)).error_code.as_deref(), Some("llm_timeout"));
        assert!(log_facts("}{ not json").event_id.is_none());
    }
}

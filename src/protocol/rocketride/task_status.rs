//! `TASK_STATUS` (spec §4.2): the body of `apaevt_status_update` and of the
//! `rrext_get_task_status` response.
//!
//! Wire names are kept for decoding (`project_id`, `cpu_percent`, …); JavaScript sees
//! camelCase. Collections the server may omit decode as empty ([`OrDefault`]); floats the
//! server may send as `NaN` decode as `NaN` ([`Lenient`](super::json::Lenient)); undeclared top-level fields are
//! kept in `extra`, undeclared nested ones ignored.


use serde::{Serialize, Serializer};
use tsify::Tsify;

use crate::core::sorted_map::SortedMap;
use crate::core::wire::{read_error, DecodeError};
use crate::core::json_read::{self, decode_object, Decode, JsonText, Reader};
use super::json::{lenient, lenient_map, sanitize_non_finite, Extra, OrDefault};

/// A snapshot of one task run: lifecycle state, counters, the live pipe stacks and
/// resource metrics. Sent about once a second per running task.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
#[tsify(hashmap_as_object)]
pub struct TaskStatus {
    /// `"<execute name | task id>.<component name | source id>"`; `""` in the
    /// synthetic "Not running" seed.
    pub name: String,
    /// Project id (wire `project_id`).
    pub project_id: String,
    /// Source component id; `"*"` in the seed for a project-wide subscription.
    pub source: String,
    /// True once the task has terminated.
    pub completed: bool,
    /// Lifecycle state.
    pub state: TaskState,
    /// Epoch seconds; kept across restarts, so it tells runs of the same task apart.
    #[tsify(type = "number | null")]
    pub start_time: f64,
    /// Epoch seconds; `0` until terminated.
    #[tsify(type = "number | null")]
    pub end_time: f64,
    /// Whether a debugger is attached.
    pub debugger_attached: bool,
    /// Free-form status text (`""`, engine job text, `"Not running"`, `"Completed"`, …).
    pub status: String,
    /// The last 50 warnings.
    pub warnings: OrDefault<Vec<String>>,
    /// The last 50 errors.
    pub errors: OrDefault<Vec<String>>,
    /// The object being processed.
    pub current_object: String,
    /// Size of the object being processed.
    pub current_size: u64,
    /// Notes: text, or objects, as the pipeline wrote them (`{token}`, `{public_auth}`,
    /// and on newer servers `{project_id}`, `{source}` placeholders substituted).
    pub notes: OrDefault<Vec<TaskNote>>,
    /// Total bytes to process.
    pub total_size: u64,
    /// Total objects to process.
    pub total_count: u64,
    /// Bytes completed.
    pub completed_size: u64,
    /// Objects completed.
    pub completed_count: u64,
    /// Bytes failed.
    pub failed_size: u64,
    /// Objects failed.
    pub failed_count: u64,
    /// Size of extracted words.
    pub words_size: u64,
    /// Number of extracted words.
    pub words_count: u64,
    /// Current rate, bytes per second.
    pub rate_size: u64,
    /// Current rate, objects per second.
    pub rate_count: u64,
    /// Whether the engine service is up.
    pub service_up: bool,
    /// Exit code; unreliable on the spec's server snapshot (spec §4.2, "Bug").
    pub exit_code: i64,
    /// Exit message.
    pub exit_message: String,
    /// The live per-pipe component stacks.
    pub pipeflow: Pipeflow,
    /// Resource metrics (all zero in the final status of a run).
    pub metrics: TaskMetrics,
    /// Token (billing) usage.
    pub tokens: TaskTokens,
    /// Newer servers with tracing on (spec §8.6): per component, how often it ran and for
    /// how long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "Record<string, ComponentStats>")]
    pub component_stats: Option<SortedMap<String, ComponentStats>>,
    /// Newer servers with tracing on (spec §8.6): the slowest documents, slowest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slowest_docs: Option<Vec<SlowDoc>>,
    /// Newer servers with tracing on (spec §8.6): seconds to complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_seconds: Option<f64>,
    /// Newer servers with tracing on (spec §8.6): seconds idle in total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_seconds: Option<f64>,
    /// Newer servers with tracing on (spec §8.6): the longest idle stretch, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_longest_seconds: Option<f64>,
    /// Newer servers with tracing on (spec §8.6): when the longest idle stretch began,
    /// epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_longest_at: Option<f64>,
    /// Status fields this SDK version does not declare, exactly as the server sent them.
    /// Absent when there are none.
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
    // The event body carries `__id`, `eventTime`, `logSeq` and `final`, which belong to the
    // event, not to the status. Captured here so the body decodes in one pass;
    // `TaskStatusEvent` moves them out. Skipped by serde and tsify on the way to JS.
    #[serde(rename = "__id", default, skip_serializing)]
    pub(crate) wire_id: Option<String>,
    #[serde(rename = "eventTime", default, skip_serializing)]
    pub(crate) wire_event_time: Option<f64>,
    #[serde(rename = "logSeq", default, skip_serializing)]
    pub(crate) wire_log_seq: Option<u64>,
    #[serde(rename = "final", default, skip_serializing)]
    pub(crate) wire_final: Option<bool>,
}

/// The event-level fields of an `apaevt_status_update` body.
pub(crate) struct StatusEventFields {
    pub task_id: String,
    pub event_time: Option<f64>,
    pub log_seq: Option<u64>,
    pub is_final: Option<bool>,
}

/// How often a component ran and for how long (newer servers, spec §8.6).
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStats {
    /// Invocations.
    pub calls: u64,
    /// Seconds spent in total.
    #[tsify(type = "number | null")]
    pub total_seconds: f64,
    /// The longest single invocation, seconds.
    #[tsify(type = "number | null")]
    pub max_seconds: f64,
}

/// One of the slowest documents of a run (newer servers, spec §8.6).
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SlowDoc {
    /// The object's name.
    pub name: String,
    /// Seconds it took.
    #[tsify(type = "number | null")]
    pub elapsed: f64,
    /// When it began, epoch seconds.
    #[tsify(type = "number | null")]
    pub begin_time: f64,
    /// The `logSeq` of its flow `begin`, usable with `rrext_log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub begin_seq: Option<u64>,
}

/// One entry of `notes`: text, or an object, as the pipeline wrote it. Any other JSON value
/// (a number, a list) is kept as its JSON text as sent, so one odd note never makes a status
/// undecodable.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
#[tsify(type = "string | Record<string, unknown>")]
pub enum TaskNote {
    /// A text note.
    Text(String),
    /// An object note (e.g. `{token}` with the placeholder substituted), as sent.
    Object(JsonText),
}

impl TaskStatus {
    /// Decodes a `TASK_STATUS` from JSON text, e.g. the `rrext_get_task_status`
    /// response body (which has no `__id`). `NaN` tokens are accepted.
    pub fn from_json(raw: &str) -> Result<TaskStatus, DecodeError> {
        let clean = sanitize_non_finite(raw.as_bytes());
        let text = std::str::from_utf8(&clean).map_err(|e| DecodeError {
            kind: crate::core::wire::DecodeErrorKind::InvalidUtf8,
            reason: format!("TASK_STATUS: {e}"),
        })?;
        let mut status: TaskStatus = json_read::from_str(text).map_err(|e| read_error("TASK_STATUS", text, &e))?;
        let _ = status.take_event_fields();
        Ok(status)
    }

    /// Moves the event-level fields out of a status decoded from an event body.
    pub(crate) fn take_event_fields(&mut self) -> StatusEventFields {
        StatusEventFields {
            task_id: self.wire_id.take().unwrap_or_default(),
            event_time: self.wire_event_time.take(),
            log_seq: self.wire_log_seq.take(),
            is_final: self.wire_final.take(),
        }
    }
}

/// Lifecycle state of a task (wire: an integer 0–6).
///
/// A state number this SDK does not know is kept as the number, so a newer server never
/// makes a whole status undecodable and the UI can still show what it got.
#[derive(Tsify, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[tsify(
    type = "\"none\" | \"starting\" | \"initializing\" | \"running\" | \"stopping\" | \"completed\" | \"cancelled\" | number"
)]
pub enum TaskState {
    /// 0: not running (the synthetic seed).
    #[default]
    None,
    /// 1: starting (sent before `apaevt_task begin`).
    Starting,
    /// 2: initializing.
    Initializing,
    /// 3: running.
    Running,
    /// 4: stopping.
    Stopping,
    /// 5: completed.
    Completed,
    /// 6: cancelled, stopped, or restarting.
    Cancelled,
    /// Any other number the server sent; serialised as that number.
    Other(i64),
}

const STATE_NAMES: [&str; 7] = ["none", "starting", "initializing", "running", "stopping", "completed", "cancelled"];
const STATES: [TaskState; 7] = [
    TaskState::None,
    TaskState::Starting,
    TaskState::Initializing,
    TaskState::Running,
    TaskState::Stopping,
    TaskState::Completed,
    TaskState::Cancelled,
];

impl TaskState {
    /// The state for a wire number.
    pub fn from_wire(n: i64) -> TaskState {
        usize::try_from(n).ok().and_then(|i| STATES.get(i).copied()).unwrap_or(TaskState::Other(n))
    }

    /// The wire number of this state.
    pub fn to_wire(self) -> i64 {
        match self {
            TaskState::Other(n) => n,
            named => STATES.iter().position(|s| *s == named).map_or(-1, |i| i as i64),
        }
    }

    /// The lower-case name JavaScript sees, or `None` for [`TaskState::Other`].
    pub fn name(self) -> Option<&'static str> {
        STATES.iter().position(|s| *s == self).map(|i| STATE_NAMES[i])
    }
}

impl Serialize for TaskState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(name) => serializer.serialize_str(name),
            None => serializer.serialize_i64(self.to_wire()),
        }
    }
}

/// The live component stack of each pipe, mirrored from `apaevt_flow`.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[tsify(hashmap_as_object)]
pub struct Pipeflow {
    /// Number of pipes.
    pub total_pipes: u64,
    /// Pipe index (as a string, as on the wire: `"0"`) → stack, outermost first.
    #[tsify(type = "OrDefault<Record<string, string[]>>")]
    pub by_pipe: OrDefault<SortedMap<String, Vec<String>>>,
}

/// Resource metrics of the engine process. A `NaN` on the wire stays `NaN`.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all(serialize = "camelCase"))]
pub struct TaskMetrics {
    /// CPU use, percent.
    #[tsify(type = "number | null")]
    pub cpu_percent: f64,
    /// Resident memory, MB.
    #[tsify(type = "number | null")]
    pub cpu_memory_mb: f64,
    /// GPU memory, MB.
    #[tsify(type = "number | null")]
    pub gpu_memory_mb: f64,
    /// Peak CPU use, percent.
    #[tsify(type = "number | null")]
    pub peak_cpu_percent: f64,
    /// Peak resident memory, MB.
    #[tsify(type = "number | null")]
    pub peak_cpu_memory_mb: f64,
    /// Peak GPU memory, MB.
    #[tsify(type = "number | null")]
    pub peak_gpu_memory_mb: f64,
    /// Average CPU use, percent.
    #[tsify(type = "number | null")]
    pub avg_cpu_percent: f64,
    /// Average resident memory, MB.
    #[tsify(type = "number | null")]
    pub avg_cpu_memory_mb: f64,
    /// Average GPU memory, MB.
    #[tsify(type = "number | null")]
    pub avg_gpu_memory_mb: f64,
}

/// Token (billing) usage of the run so far.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(rename_all(serialize = "camelCase"))]
#[tsify(hashmap_as_object)]
pub struct TaskTokens {
    /// CPU utilisation tokens.
    #[tsify(type = "number | null")]
    pub cpu_utilization: f64,
    /// CPU memory tokens.
    #[tsify(type = "number | null")]
    pub cpu_memory: f64,
    /// GPU memory tokens.
    #[tsify(type = "number | null")]
    pub gpu_memory: f64,
    /// GPU inference tokens.
    #[tsify(type = "number | null")]
    pub gpu_inference: f64,
    /// Node-defined token counters.
    #[tsify(type = "Record<string, number | null>")]
    pub custom: SortedMap<String, f64>,
    /// Sum of all tokens.
    #[tsify(type = "number | null")]
    pub total: f64,
}


// ── Decoding (`core::json_read`) ─────────────────────────────────────────────────────

impl<'a> Decode<'a> for TaskStatus {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        let mut extra = Extra::default();
        decode_object!(r, TaskStatus {
            name: "name", project_id: "project_id", source: "source", completed: "completed",
            state: "state", start_time: "startTime" => lenient, end_time: "endTime" => lenient,
            debugger_attached: "debuggerAttached", status: "status", warnings: "warnings",
            errors: "errors", current_object: "currentObject", current_size: "currentSize",
            notes: "notes", total_size: "totalSize", total_count: "totalCount",
            completed_size: "completedSize", completed_count: "completedCount",
            failed_size: "failedSize", failed_count: "failedCount", words_size: "wordsSize",
            words_count: "wordsCount", rate_size: "rateSize", rate_count: "rateCount",
            service_up: "serviceUp", exit_code: "exitCode", exit_message: "exitMessage",
            pipeflow: "pipeflow", metrics: "metrics", tokens: "tokens",
            wire_id: "__id", wire_event_time: "eventTime", wire_log_seq: "logSeq", wire_final: "final",
            component_stats: "componentStats", slowest_docs: "slowestDocs",
            completion_seconds: "completionSeconds", idle_seconds: "idleSeconds",
            idle_longest_seconds: "idleLongestSeconds", idle_longest_at: "idleLongestAt",
        }, |key| extra.keep(r, key, &[]), extra: extra)
    }
}

impl<'a> Decode<'a> for ComponentStats {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, ComponentStats { calls: "calls", total_seconds: "totalSeconds" => lenient, max_seconds: "maxSeconds" => lenient })
    }
}

impl<'a> Decode<'a> for SlowDoc {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, SlowDoc { name: "name", elapsed: "elapsed" => lenient, begin_time: "beginTime" => lenient, begin_seq: "beginSeq" })
    }
}

/// Text, an object, or any other value as its JSON text.
impl<'a> Decode<'a> for TaskNote {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        Ok(match r.peek() {
            Some(b'"') => TaskNote::Text(r.string_owned()?),
            Some(b'{') => TaskNote::Object(JsonText::decode(r)?),
            _ => TaskNote::Text(r.raw_json()?.to_owned()),
        })
    }
}

/// A state number, or a state's name.
impl<'a> Decode<'a> for TaskState {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        if r.peek() != Some(b'"') {
            return r.i64().map(TaskState::from_wire);
        }
        let name = r.string()?;
        match STATE_NAMES.iter().position(|s| *s == name) {
            Some(i) => Ok(STATES[i]),
            None => Err(r.error(json_read::ReadErrorKind::Shape, format!("unknown task state {}", crate::core::json_write::quoted(&name)))),
        }
    }
}

impl<'a> Decode<'a> for Pipeflow {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, Pipeflow { total_pipes: "totalPipes", by_pipe: "byPipe" })
    }
}

impl<'a> Decode<'a> for TaskMetrics {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, TaskMetrics { cpu_percent: "cpu_percent" => lenient, cpu_memory_mb: "cpu_memory_mb" => lenient, gpu_memory_mb: "gpu_memory_mb" => lenient, peak_cpu_percent: "peak_cpu_percent" => lenient, peak_cpu_memory_mb: "peak_cpu_memory_mb" => lenient, peak_gpu_memory_mb: "peak_gpu_memory_mb" => lenient, avg_cpu_percent: "avg_cpu_percent" => lenient, avg_cpu_memory_mb: "avg_cpu_memory_mb" => lenient, avg_gpu_memory_mb: "avg_gpu_memory_mb" => lenient })
    }
}

impl<'a> Decode<'a> for TaskTokens {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, TaskTokens {
            cpu_utilization: "cpu_utilization" => lenient, cpu_memory: "cpu_memory" => lenient,
            gpu_memory: "gpu_memory" => lenient, gpu_inference: "gpu_inference" => lenient,
            custom: "custom" => lenient_map, total: "total" => lenient,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text stays text, an object stays the object as sent, and any other value becomes its
    /// JSON text as sent: no note makes a status undecodable.
    #[test]
    fn notes_are_text_objects_or_the_text_of_other_values() {
        let notes: Vec<TaskNote> = json_read::from_str(r#"["t", { "a" : 1.50 }, [1, 2], 3, null]"#).unwrap();
        let texts: Vec<&str> = notes
            .iter()
            .map(|n| match n {
                TaskNote::Text(t) => t.as_str(),
                TaskNote::Object(o) => o.get(),
            })
            .collect();
        assert_eq!(texts, ["t", r#"{ "a" : 1.50 }"#, "[1, 2]", "3", "null"]);
        assert!(matches!(notes[1], TaskNote::Object(_)));
        assert_eq!(serde_json::to_string(&notes).unwrap(), r#"["t",{ "a" : 1.50 },"[1, 2]","3","null"]"#);
    }

    #[test]
    fn state_reads_wire_numbers_and_keeps_unknown_ones() {
        assert_eq!(TaskState::from_wire(0), TaskState::None);
        assert_eq!(TaskState::from_wire(3), TaskState::Running);
        assert_eq!(TaskState::from_wire(6), TaskState::Cancelled);
        assert_eq!(TaskState::from_wire(7), TaskState::Other(7));
        assert_eq!(TaskState::from_wire(-1), TaskState::Other(-1));
    }

    #[test]
    fn state_serialises_as_name_or_number_and_round_trips() {
        assert_eq!(serde_json::to_value(TaskState::Running).unwrap(), "running");
        assert_eq!(serde_json::to_value(TaskState::Other(9)).unwrap(), 9);
        for n in -1..9 {
            let state = TaskState::from_wire(n);
            let back: TaskState = json_read::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
            assert_eq!(back, state);
        }
        assert!(json_read::from_str::<TaskState>(r#""flying""#).is_err());
        assert_eq!(TaskState::Completed.to_wire(), 5);
    }

    #[test]
    fn decl_of_task_state_includes_number() {
        assert_eq!(
            TaskState::DECL,
            "/**\n * Lifecycle state of a task (wire: an integer 0–6).\n *\n * A state number this SDK does not know is kept as the number, so a newer server never\n * makes a whole status undecodable and the UI can still show what it got.\n */\nexport type TaskState = \"none\" | \"starting\" | \"initializing\" | \"running\" | \"stopping\" | \"completed\" | \"cancelled\" | number;"
        );
    }
}

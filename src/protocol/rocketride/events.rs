//! Typed RocketRide events (spec §4), presented to JavaScript as one union discriminated
//! on `type`.
//!
//! Each event name maps to one concrete body type that is decoded directly from the raw
//! body ([`decode_event`]), field by field with [`crate::core::json_read`] (each type's
//! `Decode` names its wire keys); the `type`-tagged enum is only ever *serialised*, which
//! is cheap. Wire `__id` becomes `taskId`; snake_case wire names become camelCase.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use tsify::Tsify;

use super::dashboard::DashboardEvent;
use crate::core::json_read::{self, decode_object, need, read_fields, Decode, JsonText, Reader};
use crate::core::wire::{read_error, DecodeError};
use super::json::{Extra, OrDefault, Tail};
use super::monitor_types::MonitorTypes;
use super::task_status::{TaskMetrics, TaskNote, TaskStatus};

/// An event from a RocketRide server. `switch (ev.type)` narrows it.
///
/// Absent values are absent: a field the server left out or sent as `null` is a missing key
/// (declared `field?: T`), never `undefined` or `null` in a declared-required field. `null`
/// appears only where the typings say `| null`: floats the engine sent as `NaN`, and
/// `beginSeq` (whose `null` means "this run is unlogged"). Every event of a task carries the
/// newer servers' stamps (`eventTime`, `logSeq`) when the server sent them, and `extra`
/// holds any body field this SDK does not declare, as sent.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
#[tsify(hashmap_as_object)]
pub enum RocketRideEvent {
    /// `apaevt_task`: task lifecycle, discriminated by `action`.
    Task(TaskEvent),
    /// `apaevt_status_update`: a `TASK_STATUS` snapshot.
    TaskStatus(TaskStatusEvent),
    /// `apaevt_flow`: a component entered or left a pipe; discriminated by `op`.
    Flow(FlowEvent),
    /// `apaevt_sse`: a node-defined event of one pipe.
    Sse(SseEvent),
    /// `output`: one console line of the engine.
    Output(OutputEvent),
    /// `apaevt_status_object` (DETAIL): the object being processed.
    StatusObject(StatusObjectEvent),
    /// `apaevt_status_counts` (DETAIL): processing counters.
    StatusCounts(StatusCountsEvent),
    /// `apaevt_status_error` (DETAIL): an engine error line.
    StatusError(StatusTextEvent),
    /// `apaevt_status_warning` (DETAIL): an engine warning line.
    StatusWarning(StatusTextEvent),
    /// `apaevt_status_message` (DETAIL): an engine message line.
    StatusMessage(StatusTextEvent),
    /// `apaevt_status_download` (DETAIL): download progress.
    StatusDownload(StatusDownloadEvent),
    /// `apaevt_status_metrics` (DETAIL): raw resource metrics.
    StatusMetrics(StatusMetricsEvent),
    /// `apaevt_status_user` (DETAIL): user notes.
    StatusUser(StatusUserEvent),
    /// `apaevt_status_info` (DETAIL): engine info.
    StatusInfo(StatusInfoEvent),
    /// `apaevt_dashboard`: a server-level event, discriminated by `action`.
    Dashboard(DashboardEvent),
    /// `apaext_account`: the account changed (SaaS).
    Account(AccountEvent),
    /// An event this SDK does not know (or a known one with an unknown `action`).
    Unknown(UnknownEvent),
}

/// `apaevt_task`, discriminated by `action`.
//
// Decoded by reading `action` first and then the concrete body ([`decode_event`]).
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum TaskEvent {
    /// The subscribe seed: every task in states 1–4 the caller can see, whatever the
    /// subscribed scope. The SDK hands each subscription the tasks its scope matches. Seeds
    /// carry no stamps (spec §8.5.2); this is the one event without `extra`.
    Running {
        /// The running tasks.
        tasks: Vec<TaskRef>,
    },
    /// A task started.
    Begin(TaskLifecycle),
    /// A task ended (completion or termination; a final status still follows).
    End(TaskLifecycle),
    /// A task restarted in place (instead of `begin`).
    Restart(TaskLifecycle),
}

/// One entry of the `running` task event.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TaskRef {
    /// Task id, `"<8 hex of token>.<source>"`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Project id.
    pub project_id: String,
    /// Source component id.
    pub source: String,
}

/// The fields every event of a task ends with: the newer servers' stamps (spec §8.5.2)
/// and the undeclared body fields. Written once here, pasted into each body type.
macro_rules! task_event_tail {
    ($(#[$meta:meta])* $vis:vis struct $name:ident $(<$g:ident>)? { $($body:tt)* }) => {
        $(#[$meta])*
        $vis struct $name $(<$g>)? {
            $($body)*
            /// Newer servers (spec §8.5.2): when the server stamped the event, epoch seconds
            /// of its wall clock (not monotonic: order by `logSeq`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub event_time: Option<f64>,
            /// Newer servers (spec §8.5.2): the event's number in its run-log stream
            /// (project + source + run kind), usable with `rrext_log`. Holes are normal and it
            /// can go back at the start of a run; it is not a loss detector.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub log_seq: Option<u64>,
            /// Body fields this SDK version does not declare, exactly as the server sent them
            /// (e.g. a field a newer server added). Absent when there are none.
            #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
            #[tsify(optional, type = "Record<string, unknown>")]
            pub extra: Extra,
        }
    };
}

task_event_tail! {
    /// Body of `begin`, `end` and `restart`.
    #[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskLifecycle {
        /// Task id (wire `__id`).
        pub task_id: String,
        /// Display name.
        pub name: String,
        /// Project id.
        pub project_id: String,
        /// Source component id.
        pub source: String,
        /// Newer servers, `begin` only (spec §8.6): the run's chapter id in the run log, or
        /// `null` when the run is not logged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "number | null")]
        pub begin_seq: Option<Option<u64>>,
    }
}

/// Wire keys of a lifecycle body that are not fields: the tag, and the snake_case
/// duplicate of `projectId` newer servers add (spec §8.6).
const LIFECYCLE_IGNORED: &[&str] = &["action", "project_id"];

task_event_tail! {
    /// `apaevt_status_update`.
    #[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct TaskStatusEvent {
        /// Task id, or `"<projectId>.<source>"` for the synthetic "Not running" seed.
        pub task_id: String,
        /// The snapshot. Behind an `Arc`: it is four times the size of any other event, and
        /// the task store keeps this very snapshot as the run's `status` instead of copying
        /// it. Its own `extra` holds the status fields this SDK does not declare.
        pub status: Arc<TaskStatus>,
        /// Newer servers (spec §8.6): `true` on the last status of a run (not a restart).
        #[serde(default, rename = "final", skip_serializing_if = "Option::is_none")]
        pub is_final: Option<bool>,
    }
}

/// Step of a flow event.
#[derive(Tsify, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FlowOp {
    /// An object entered the pipe; `pipes` is `[objectName]`.
    Begin,
    /// A component was pushed onto the stack.
    Enter,
    /// A component was popped.
    Leave,
    /// The object left the pipe; `pipes` is empty.
    End,
}

/// `apaevt_flow`: the live component stack of one pipe, discriminated by `op`; `trace` is
/// typed per op (spec §4.3).
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum FlowEvent {
    /// An object entered the pipe; `pipes` is `[objectName]`, `trace` is `{}`.
    Begin(FlowStep<TraceObject>),
    /// A component was pushed onto the stack.
    Enter(FlowStep<FlowTrace>),
    /// A component was popped.
    Leave(FlowStep<FlowTrace>),
    /// The object left the pipe; `pipes` is empty. At trace level `summary` and up,
    /// `trace` is the object's pipeline result.
    End(FlowStep<TraceObject>),
}

task_event_tail! {
    /// The fields of a flow event; `T` is its `trace`.
    #[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct FlowStep<T> {
        /// Task id (wire `__id`).
        pub task_id: String,
        /// Pipe index (wire `id`). Not a subscription pipe id: pipe-scoped subscriptions
        /// never receive flow events.
        pub pipe_id: u64,
        /// The stack after this step, outermost first.
        pub pipes: OrDefault<Vec<String>>,
        /// Newer servers (spec §8.6): the component this step refers to. Pair `enter` with
        /// `leave` by it, not by stack order.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub component: Option<String>,
        /// What the engine traced for this step.
        pub trace: T,
        /// Project id (wire `project_id`).
        pub project_id: String,
        /// Source component id.
        pub source: String,
        // The wire `op`, which the enclosing [`FlowEvent`] carries as its tag.
        #[serde(skip_serializing)]
        pub(crate) op: Option<FlowOp>,
    }
}

/// The trace of a component entering or leaving a pipe (trace level `metadata` and up).
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FlowTrace {
    /// The lane, or `"invoke"` for a control invocation. Always sent by the engines
    /// known; optional so a trace without it still arrives rather than failing to decode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// The invoked class type (`"llm"`, …) when `lane` is `"invoke"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke: Option<String>,
    /// Lane-specific: `{ length, text? }` for `text`/`table` lanes (the text at level
    /// `full`); `null` for `questions`/`answers` below `full`.
    #[serde(default)]
    #[tsify(type = "unknown")]
    pub data: JsonText,
    /// The component's verdict on `leave`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[tsify(optional, type = "\"continue\" | \"skip\" | \"error\" | (string & {})")]
    pub result: Option<String>,
    /// The error text when `result` is `"error"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Trace fields this SDK version does not declare, as sent.
    #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
    #[tsify(optional, type = "Record<string, unknown>")]
    pub extra: Extra,
}

/// A JSON object as the engine sent it: a flow `begin` trace (`{}`) or an `end` trace (the
/// object's pipeline result at trace level `summary` and up; `{}` below). A `null` trace
/// reads as `{}`.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(transparent)]
#[tsify(type = "Record<string, unknown>")]
pub struct TraceObject(pub JsonText);

task_event_tail! {
    /// `apaevt_sse`: a node-defined event (`thinking`, `acting`, `confirm`, …).
    #[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct SseEvent {
        /// Task id (wire `__id`).
        pub task_id: String,
        /// The pipe (wire `pipe_id`); pipe-scoped subscriptions match on it.
        pub pipe_id: u64,
        /// The node-defined kind (wire `type`, renamed: `type` is the union's discriminant).
        pub kind: String,
        /// Node-defined payload.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[tsify(optional, type = "unknown")]
        pub data: Option<JsonText>,
        /// Project id (wire `project_id`); newer servers add it (spec §8.6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub project_id: Option<String>,
        /// Source component id; newer servers add it (spec §8.6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source: Option<String>,
    }
}

task_event_tail! {
    /// `output`: one engine stdout/stderr line (no stream distinction, no timestamp).
    #[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub struct OutputEvent {
        /// Task id (wire `__id`).
        pub task_id: String,
        /// Always `"console"` on current servers.
        pub category: String,
        /// The line, ending with `"\n"`.
        pub output: String,
        /// Project id (wire `project_id`); newer servers add it (spec §8.6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub project_id: Option<String>,
        /// Source component id; newer servers add it (spec §8.6).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub source: Option<String>,
    }
}

/// Reads a task event's body into `$ty` ([`decode_object!`]): its own fields, then the
/// stamps and undeclared fields gathered in a [`Tail`] named `$tail`, which `$other` (for
/// keys not listed) hands to.
macro_rules! decode_task_event {
    ($r:ident, $tail:ident, $ty:ident { $($fields:tt)* }, |$key:ident| $other:expr $(, $rest:ident: $val:expr)* $(,)?) => {{
        let mut $tail = Tail::default();
        decode_object!($r, $ty { $($fields)* }, |$key| $other, $($rest: $val,)*
            event_time: $tail.event_time.flatten(), log_seq: $tail.log_seq.flatten(), extra: $tail.extra)
    }};
}

/// A DETAIL event body: task id, the body's own fields, then the identity newer servers
/// add (spec §8.6) and the stamps.
macro_rules! detail_event {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $fty:ty = $wire:literal,)* }) => {
        task_event_tail! {
            $(#[$meta])*
            #[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
            #[serde(rename_all = "camelCase")]
            pub struct $name {
                /// Task id (wire `__id`).
                pub task_id: String,
                $($(#[$fmeta])* pub $field: $fty,)*
                /// Project id (wire `project_id`); newer servers add it (spec §8.6).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub project_id: Option<String>,
                /// Source component id; newer servers add it (spec §8.6).
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub source: Option<String>,
            }
        }

        impl<'a> Decode<'a> for $name {
            fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
                decode_task_event!(r, tail, $name {
                    $($field: $wire,)* task_id: "__id", project_id: "project_id", source: "source",
                }, |key| tail.other(r, key, NONE))
            }
        }
    };
}

detail_event! {
    /// `apaevt_status_object`.
    StatusObjectEvent {
        /// The object being processed.
        pub object: String = "object",
        /// Its size.
        pub size: u64 = "size",
    }
}

detail_event! {
    /// `apaevt_status_counts`.
    StatusCountsEvent {
        /// Total bytes.
        pub total_size: u64 = "totalSize",
        /// Total objects.
        pub total_count: u64 = "totalCount",
        /// Bytes completed.
        pub completed_size: u64 = "completedSize",
        /// Objects completed.
        pub completed_count: u64 = "completedCount",
        /// Bytes failed.
        pub failed_size: u64 = "failedSize",
        /// Objects failed.
        pub failed_count: u64 = "failedCount",
        /// Size of extracted words.
        pub words_size: u64 = "wordsSize",
        /// Number of extracted words.
        pub words_count: u64 = "wordsCount",
        /// Bytes per second.
        pub rate_size: u64 = "rateSize",
        /// Objects per second.
        pub rate_count: u64 = "rateCount",
    }
}

detail_event! {
    /// `apaevt_status_error`, `_warning` and `_message`.
    StatusTextEvent {
        /// The text.
        pub message: String = "message",
    }
}

detail_event! {
    /// `apaevt_status_download`.
    StatusDownloadEvent {
        /// What is being downloaded.
        pub info: DownloadInfo = "info",
    }
}

/// Progress of one download.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
pub struct DownloadInfo {
    /// What is downloaded.
    pub name: String,
    /// Engine status text.
    pub status: String,
    /// Error text, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

detail_event! {
    /// `apaevt_status_metrics`.
    StatusMetricsEvent {
        /// The metrics sample.
        pub metrics: TaskMetrics = "metrics",
    }
}

detail_event! {
    /// `apaevt_status_user`.
    StatusUserEvent {
        /// Notes as the pipeline wrote them: text, or objects.
        pub notes: OrDefault<Vec<TaskNote>> = "notes",
    }
}

detail_event! {
    /// `apaevt_status_info`.
    StatusInfoEvent {
        /// Engine info, as sent (the spec gives it no shape).
        #[tsify(type = "unknown")]
        pub info: JsonText = "info",
    }
}

/// `apaext_account`: pushed without subscription when the account changes.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
pub struct AccountEvent {
    /// The body, as sent (SaaS only; the spec gives it no shape).
    #[tsify(type = "unknown")]
    pub body: JsonText,
}

/// An event this SDK has no type for; nothing is dropped.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UnknownEvent {
    /// The wire event name.
    pub event: String,
    /// The body's `__id`, when it has a non-empty one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The body's JSON text, unparsed.
    pub raw: String,
}


// ── Decoding: each body type read field by field with `core::json_read` ──────────────

impl<'a> Decode<'a> for TaskRef {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, TaskRef { id: "id", name: "name", project_id: "projectId", source: "source" })
    }
}

/// The `running` seed: its task list (the `action` tag and anything else are not kept).
fn running_tasks(r: &mut Reader<'_>) -> json_read::Result<Vec<TaskRef>> {
    read_fields!(r, "internally tagged enum TaskEvent", { tasks: "tasks" });
    need(r, tasks, "tasks")
}

impl<'a> Decode<'a> for TaskLifecycle {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        // Its own rule: a `null` is kept (`Some(None)`), only a missing key is `None`.
        decode_task_event!(r, tail, TaskLifecycle { name: "name", project_id: "projectId", source: "source", begin_seq: "beginSeq" => as_sent, task_id: "__id" }, |key| tail.other(r, key, LIFECYCLE_IGNORED))
    }
}

impl<'a> Decode<'a> for FlowOp {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        use FlowOp::*;
        Ok([Begin, Enter, Leave, End][r.variant(&["begin", "enter", "leave", "end"])?])
    }
}

/// A flow body with its `trace` still as text: it is typed by `op`, which may come after it.
fn flow_step<'a>(r: &mut Reader<'a>) -> json_read::Result<(FlowStep<()>, &'a str)> {
    let mut trace: Option<&'a str> = None;
    let step = decode_task_event!(r, tail, FlowStep {
        pipe_id: "id", op: "op", pipes: "pipes", component: "component",
        project_id: "project_id", source: "source", task_id: "__id",
    }, |key| match key.as_ref() {
        "trace" if trace.is_some() => Err(json_read::duplicate_field(r, "trace")),
        "trace" => r.raw().map(|raw| trace = Some(raw)),
        _ => tail.other(r, key, NONE),
    }, trace: ())?;
    let trace = trace.ok_or_else(|| json_read::missing_field(r, "trace"))?;
    Ok((step, trace))
}

impl<'a> Decode<'a> for FlowTrace {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        // A missing `data` is `null`, like a sent one.
        let mut extra = Extra::default();
        decode_object!(r, FlowTrace { lane: "lane", invoke: "invoke", data: "data" => or_default, result: "result", error: "error" }, |key| extra.keep(r, key, &[]), extra: extra)
    }
}

/// `null` reads as `{}`.
impl<'a> Decode<'a> for TraceObject {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        JsonText::decode_object(r).map(TraceObject)
    }

    fn missing() -> Option<Self> {
        Some(TraceObject::default())
    }
}

impl Default for TraceObject {
    fn default() -> Self {
        TraceObject(JsonText::empty_object())
    }
}

impl<'a> Decode<'a> for SseEvent {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_task_event!(r, tail, SseEvent { pipe_id: "pipe_id", kind: "type", data: "data", task_id: "__id", project_id: "project_id", source: "source" }, |key| tail.other(r, key, NONE))
    }
}

impl<'a> Decode<'a> for OutputEvent {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_task_event!(r, tail, OutputEvent { category: "category", output: "output", task_id: "__id", project_id: "project_id", source: "source" }, |key| tail.other(r, key, NONE))
    }
}

impl<'a> Decode<'a> for DownloadInfo {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, DownloadInfo { name: "name", status: "status", error: "error" })
    }
}

/// Decodes an event body by its event name. Unknown names become
/// [`RocketRideEvent::Unknown`]; so do `apaevt_task`/`apaevt_dashboard` bodies with an
/// `action` this SDK does not know. The body must already be free of `NaN` tokens
/// (as it is inside a frame given to `decode_frame`).
pub fn decode_event(name: &str, body: &RawValue) -> Result<RocketRideEvent, DecodeError> {
    decode_event_text(name, body.get())
}

/// [`decode_event`] of a body's text that has not been checked to be JSON: `Ok` only when
/// all of it is, so a frame whose envelope was read without a JSON parser (the envelope
/// module's fast path) decodes exactly as one read with it.
pub fn decode_event_text(name: &str, body: &str) -> Result<RocketRideEvent, DecodeError> {
    use RocketRideEvent as E;
    let event = match name {
        "apaevt_task" => match action_of(body).as_deref() {
            Some("running") => E::Task(TaskEvent::Running { tasks: read(body_of(name), body, running_tasks)? }),
            Some("begin") => E::Task(TaskEvent::Begin(decode(name, body)?)),
            Some("end") => E::Task(TaskEvent::End(decode(name, body)?)),
            Some("restart") => E::Task(TaskEvent::Restart(decode(name, body)?)),
            Some(_) => unknown(name, body)?,
            None => return Err(missing_action(name, body)),
        },
        "apaevt_status_update" => E::TaskStatus(status_event(name, body)?),
        "apaevt_flow" => E::Flow(flow_event(name, body)?),
        "apaevt_sse" => E::Sse(decode(name, body)?),
        "output" => E::Output(decode(name, body)?),
        "apaevt_status_object" => E::StatusObject(decode(name, body)?),
        "apaevt_status_counts" => E::StatusCounts(decode(name, body)?),
        "apaevt_status_error" => E::StatusError(decode(name, body)?),
        "apaevt_status_warning" => E::StatusWarning(decode(name, body)?),
        "apaevt_status_message" => E::StatusMessage(decode(name, body)?),
        "apaevt_status_download" => E::StatusDownload(decode(name, body)?),
        "apaevt_status_metrics" => E::StatusMetrics(decode(name, body)?),
        "apaevt_status_user" => E::StatusUser(decode(name, body)?),
        "apaevt_status_info" => E::StatusInfo(decode(name, body)?),
        "apaevt_dashboard" => match action_of(body).as_deref() {
            Some(action) => match DashboardEvent::decode(action, body) {
                Some(decoded) => E::Dashboard(decoded.map_err(|e| read_error(&body_of(name)(), body, &e))?),
                None => unknown(name, body)?,
            },
            None => return Err(missing_action(name, body)),
        },
        "apaext_account" => E::Account(AccountEvent { body: decode(name, body)? }),
        _ => unknown(name, body)?,
    };
    Ok(event)
}

const NONE: &[&str] = &[];

/// All of `text` read by `read`, which must take exactly one value; errors say what was
/// read (`what()`, built only for an error).
fn read<'a, T>(
    what: impl FnOnce() -> String,
    text: &'a str,
    read: impl FnOnce(&mut Reader<'a>) -> json_read::Result<T>,
) -> Result<T, DecodeError> {
    json_read::read_all(text, read).map_err(|e| read_error(&what(), text, &e))
}

/// `"<name> body"`, what an event body's errors say they were reading.
fn body_of(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("{name} body")
}

/// All of event `name`'s body as one `T`.
fn decode<'a, T: Decode<'a>>(name: &str, body: &'a str) -> Result<T, DecodeError> {
    read(body_of(name), body, T::decode)
}

fn status_event(name: &str, body: &str) -> Result<TaskStatusEvent, DecodeError> {
    let mut status: TaskStatus = decode(name, body)?;
    let stamps = status.take_event_fields();
    Ok(TaskStatusEvent {
        task_id: stamps.task_id,
        status: Arc::new(status),
        is_final: stamps.is_final,
        event_time: stamps.event_time,
        log_seq: stamps.log_seq,
        extra: Extra::default(),
    })
}

/// Reads the flow body once, `trace` kept as text, then types `trace` by `op`.
fn flow_event(name: &str, body: &str) -> Result<FlowEvent, DecodeError> {
    let (step, trace) = read(body_of(name), body, flow_step)?;
    let what = || format!("{name} body: trace");
    let object = || read(what, trace, TraceObject::decode);
    let traced = || read(what, trace, FlowTrace::decode);
    Ok(match step.op {
        Some(FlowOp::Begin) => FlowEvent::Begin(with_trace(step, object()?)),
        Some(FlowOp::Enter) => FlowEvent::Enter(with_trace(step, traced()?)),
        Some(FlowOp::Leave) => FlowEvent::Leave(with_trace(step, traced()?)),
        Some(FlowOp::End) => FlowEvent::End(with_trace(step, object()?)),
        None => {
            return Err(DecodeError {
                kind: crate::core::wire::DecodeErrorKind::WrongShape,
                reason: format!("{name} body: missing field `op`"),
            })
        }
    })
}

/// The decoded flow fields with `trace` typed.
fn with_trace<T>(raw: FlowStep<()>, trace: T) -> FlowStep<T> {
    FlowStep {
        task_id: raw.task_id,
        pipe_id: raw.pipe_id,
        pipes: raw.pipes,
        component: raw.component,
        trace,
        project_id: raw.project_id,
        source: raw.source,
        op: raw.op,
        event_time: raw.event_time,
        log_seq: raw.log_seq,
        extra: raw.extra,
    }
}

impl FlowEvent {
    /// The fields every op shares (all but `trace`).
    fn step(&self) -> FlowStepRef<'_> {
        match self {
            FlowEvent::Begin(s) | FlowEvent::End(s) => FlowStepRef { task_id: &s.task_id, project_id: &s.project_id, source: &s.source, pipe_id: s.pipe_id, log_seq: s.log_seq },
            FlowEvent::Enter(s) | FlowEvent::Leave(s) => FlowStepRef { task_id: &s.task_id, project_id: &s.project_id, source: &s.source, pipe_id: s.pipe_id, log_seq: s.log_seq },
        }
    }

    /// The task id (wire `__id`).
    pub fn task_id(&self) -> &str {
        self.step().task_id
    }

    /// The project id.
    pub fn project_id(&self) -> &str {
        self.step().project_id
    }

    /// The pipe index (wire `id`).
    pub fn pipe_id(&self) -> u64 {
        self.step().pipe_id
    }

    /// What happened.
    pub fn op(&self) -> FlowOp {
        match self {
            FlowEvent::Begin(_) => FlowOp::Begin,
            FlowEvent::Enter(_) => FlowOp::Enter,
            FlowEvent::Leave(_) => FlowOp::Leave,
            FlowEvent::End(_) => FlowOp::End,
        }
    }

    /// The pipe's stack after this step, outermost first.
    pub fn pipes(&self) -> &[String] {
        match self {
            FlowEvent::Begin(s) | FlowEvent::End(s) => &s.pipes,
            FlowEvent::Enter(s) | FlowEvent::Leave(s) => &s.pipes,
        }
    }
}

struct FlowStepRef<'a> {
    task_id: &'a String,
    project_id: &'a String,
    source: &'a String,
    pipe_id: u64,
    log_seq: Option<u64>,
}

/// The body's `action` when it is a string; `None` when missing, of another type, or the
/// body is not a JSON object.
fn action_of(body: &str) -> Option<Cow<'_, str>> {
    json_read::read_all(body, action_field).ok().flatten()
}

/// The `action` of the object the reader is at, when it is a string.
fn action_field<'a>(r: &mut Reader<'a>) -> json_read::Result<Option<Cow<'a, str>>> {
    let mut action = None;
    json_read::each_field(r, "internally tagged enum", |r, key| match key.as_ref() {
        "action" if action.is_none() => r.string().map(|a| action = Some(a)),
        _ => r.raw().map(drop),
    })?;
    Ok(action)
}

/// Why a body without a usable `action` does not decode.
fn missing_action(name: &str, body: &str) -> DecodeError {
    let what = format!("{name} body");
    match json_read::read_all(body, action_field) {
        Err(e) => read_error(&what, body, &e),
        Ok(_) => DecodeError {
            kind: crate::core::wire::DecodeErrorKind::WrongShape,
            reason: format!("{what}: missing field `action`"),
        },
    }
}

/// An event this SDK has no type for, kept as its body's text, which must be JSON.
fn unknown(name: &str, body: &str) -> Result<RocketRideEvent, DecodeError> {
    let raw = read(body_of(name), body, Reader::raw)?;
    // `__id` when the body is an object with a string one (a body of another shape is kept
    // all the same).
    let mut id: Option<Option<String>> = None;
    let mut r = Reader::new(raw);
    let _ = json_read::each_field(&mut r, "", |r, key| match key.as_ref() {
        "__id" if id.is_none() => Option::<String>::decode(r).map(|v| id = Some(v)),
        _ => r.raw().map(drop),
    });
    let task_id = id.flatten().filter(|id| !id.is_empty());
    Ok(RocketRideEvent::Unknown(UnknownEvent { event: name.to_owned(), task_id, raw: raw.to_owned() }))
}

impl RocketRideEvent {
    /// A status event for `task_id`, e.g. from an `rrext_get_task_status` reply (whose
    /// body has no `__id`).
    pub fn task_status(task_id: impl Into<String>, status: TaskStatus) -> RocketRideEvent {
        RocketRideEvent::TaskStatus(TaskStatusEvent {
            task_id: task_id.into(),
            status: Arc::new(status),
            is_final: None,
            event_time: None,
            log_seq: None,
            extra: Extra::default(),
        })
    }

    /// The subscription bit that gates this event; `None` for events no subscription
    /// gates (`account`, `unknown`).
    pub fn monitor_type(&self) -> Option<MonitorTypes> {
        use RocketRideEvent as E;
        Some(match self {
            E::Task(_) => MonitorTypes::TASK,
            E::TaskStatus(_) => MonitorTypes::SUMMARY,
            E::Flow(_) => MonitorTypes::FLOW,
            E::Sse(_) => MonitorTypes::SSE,
            E::Output(_) => MonitorTypes::OUTPUT,
            E::StatusObject(_)
            | E::StatusCounts(_)
            | E::StatusError(_)
            | E::StatusWarning(_)
            | E::StatusMessage(_)
            | E::StatusDownload(_)
            | E::StatusMetrics(_)
            | E::StatusUser(_)
            | E::StatusInfo(_) => MonitorTypes::DETAIL,
            E::Dashboard(_) => MonitorTypes::DASHBOARD,
            E::Account(_) | E::Unknown(_) => return None,
        })
    }

    /// The task this event is about (wire `__id`); `None` for server-level events and
    /// the `running` seed, whose `__id` is `""`.
    pub fn task_id(&self) -> Option<&str> {
        use RocketRideEvent as E;
        let id = match self {
            E::Task(TaskEvent::Begin(t) | TaskEvent::End(t) | TaskEvent::Restart(t)) => &t.task_id,
            E::TaskStatus(e) => &e.task_id,
            E::Flow(e) => e.step().task_id,
            E::Sse(e) => &e.task_id,
            E::Output(e) => &e.task_id,
            E::StatusObject(e) => &e.task_id,
            E::StatusCounts(e) => &e.task_id,
            E::StatusError(e) | E::StatusWarning(e) | E::StatusMessage(e) => &e.task_id,
            E::StatusDownload(e) => &e.task_id,
            E::StatusMetrics(e) => &e.task_id,
            E::StatusUser(e) => &e.task_id,
            E::StatusInfo(e) => &e.task_id,
            E::Unknown(e) => return e.task_id.as_deref(),
            E::Task(TaskEvent::Running { .. }) | E::Dashboard(_) | E::Account(_) => return None,
        };
        Some(id.as_str()).filter(|id| !id.is_empty())
    }

    /// `logSeq`, a newer server's number for a task event in its run-log stream (spec
    /// §8.5.2); `None` for an old server's events, seeds, server-level events, and events
    /// this SDK has no type for.
    pub fn log_seq(&self) -> Option<u64> {
        use RocketRideEvent as E;
        match self {
            E::Task(TaskEvent::Begin(t) | TaskEvent::End(t) | TaskEvent::Restart(t)) => t.log_seq,
            E::TaskStatus(e) => e.log_seq,
            E::Flow(e) => e.step().log_seq,
            E::Sse(e) => e.log_seq,
            E::Output(e) => e.log_seq,
            E::StatusObject(e) => e.log_seq,
            E::StatusCounts(e) => e.log_seq,
            E::StatusError(e) | E::StatusWarning(e) | E::StatusMessage(e) => e.log_seq,
            E::StatusDownload(e) => e.log_seq,
            E::StatusMetrics(e) => e.log_seq,
            E::StatusUser(e) => e.log_seq,
            E::StatusInfo(e) => e.log_seq,
            E::Task(TaskEvent::Running { .. }) | E::Dashboard(_) | E::Account(_) | E::Unknown(_) => None,
        }
    }

    /// `(projectId, source)` as the body names them: [`project_source`](Self::project_source),
    /// or for the other task events the identity newer servers add (wire `project_id` and
    /// `source`, spec §8.6) when both are there.
    pub fn named_stream(&self) -> Option<(&str, &str)> {
        use RocketRideEvent as E;
        let (project, source) = match self {
            E::Sse(e) => (&e.project_id, &e.source),
            E::Output(e) => (&e.project_id, &e.source),
            E::StatusObject(e) => (&e.project_id, &e.source),
            E::StatusCounts(e) => (&e.project_id, &e.source),
            E::StatusError(e) | E::StatusWarning(e) | E::StatusMessage(e) => (&e.project_id, &e.source),
            E::StatusDownload(e) => (&e.project_id, &e.source),
            E::StatusMetrics(e) => (&e.project_id, &e.source),
            E::StatusUser(e) => (&e.project_id, &e.source),
            E::StatusInfo(e) => (&e.project_id, &e.source),
            _ => return self.project_source(),
        };
        project.as_deref().zip(source.as_deref())
    }

    /// `(projectId, source)` for events whose body names them (task lifecycle, status,
    /// flow); other task events are routed by [`task_id`](Self::task_id).
    pub fn project_source(&self) -> Option<(&str, &str)> {
        use RocketRideEvent as E;
        match self {
            E::Task(TaskEvent::Begin(t) | TaskEvent::End(t) | TaskEvent::Restart(t)) => {
                Some((&t.project_id, &t.source))
            }
            E::TaskStatus(e) => Some((&e.status.project_id, &e.status.source)),
            E::Flow(e) => {
                let s = e.step();
                Some((s.project_id, s.source))
            }
            _ => None,
        }
    }

    /// The `pipe_id` pipe-scoped subscriptions match on: only `apaevt_sse` carries one
    /// (a flow event's pipe index is not matched by the server, spec §3.2).
    pub fn pipe_id(&self) -> Option<u64> {
        match self {
            RocketRideEvent::Sse(e) => Some(e.pipe_id),
            _ => None,
        }
    }

    /// True for server-level events (dashboard), which only the `{token:"*"}` scope gets.
    pub fn is_server_event(&self) -> bool {
        matches!(self, RocketRideEvent::Dashboard(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::rocketride::dashboard::MonitorChange;
    use crate::protocol::rocketride::envelope::{decode_frame, DecodeErrorKind, FrameBody};
    use crate::protocol::rocketride::task_status::TaskState;
    use serde_json::{json, Value};

    const PROJECT: &str = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";

    fn decode(name: &str, body: Value) -> Result<RocketRideEvent, DecodeError> {
        decode_event(name, &RawValue::from_string(body.to_string()).unwrap())
    }

    /// The event `body` decodes to; on the way, checks that the SDK writes it for JS as
    /// serde_json would (core::json_write), for every kind of event these tests build.
    fn ok(name: &str, body: Value) -> RocketRideEvent {
        let event = decode(name, body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(crate::core::json_write::to_json(&event).unwrap(), serde_json::to_string(&event).unwrap(), "{name}");
        event
    }

    /// A full TASK_STATUS body as spec §4.2 lists it, wire names and order.
    fn status_body(id: &str, state: i64, metrics_scale: f64) -> Value {
        let m = metrics_scale;
        json!({
            "name": "Support Agent.chat_1", "project_id": PROJECT, "source": "chat_1",
            "completed": state >= 5, "state": state, "startTime": 1780052401.5, "endTime": 0.0,
            "debuggerAttached": false, "status": "Downloading \"model\"",
            "warnings": ["w1"], "errors": ["e1", "e2"], "currentObject": "doc.pdf", "currentSize": 10,
            "notes": ["plain", {"token": "tk_x"}],
            "totalSize": 100, "totalCount": 4, "completedSize": 50, "completedCount": 2,
            "failedSize": 1, "failedCount": 1, "wordsSize": 7, "wordsCount": 3, "rateSize": 9, "rateCount": 1,
            "serviceUp": true, "exitCode": 0, "exitMessage": "",
            "pipeflow": {"totalPipes": 2, "byPipe": {"0": ["Question 1", "agent_rocketride_1"], "1": []}},
            "metrics": {"cpu_percent": 2.5 * m, "cpu_memory_mb": 387.5 * m, "gpu_memory_mb": 0.0,
                "peak_cpu_percent": 41.0 * m, "peak_cpu_memory_mb": 391.0 * m, "peak_gpu_memory_mb": 0.0,
                "avg_cpu_percent": 18.5 * m, "avg_cpu_memory_mb": 301.5 * m, "avg_gpu_memory_mb": 0.0},
            "tokens": {"cpu_utilization": 0.5, "cpu_memory": 0.25, "gpu_memory": 0.0, "gpu_inference": 1.5,
                "custom": {"llm_openai": 3.0}, "total": 5.25},
            "__id": id
        })
    }

    fn status_of(event: &RocketRideEvent) -> &TaskStatusEvent {
        match event {
            RocketRideEvent::TaskStatus(s) => s,
            other => panic!("not a status: {other:?}"),
        }
    }

    #[test]
    fn task_running_seed_lists_tasks_and_has_no_task_id() {
        let event = ok(
            "apaevt_task",
            json!({"action": "running", "__id": "",
            "tasks": [{"id": "95fe269c.webhook_1", "name": "Ingest.webhook_1", "projectId": "p1", "source": "webhook_1"}]}),
        );
        let RocketRideEvent::Task(TaskEvent::Running { tasks }) = &event else { panic!("{event:?}") };
        assert_eq!(
            tasks[0],
            TaskRef {
                id: "95fe269c.webhook_1".into(),
                name: "Ingest.webhook_1".into(),
                project_id: "p1".into(),
                source: "webhook_1".into()
            }
        );
        assert_eq!(event.task_id(), None);
        assert_eq!(event.project_source(), None);
        assert_eq!(event.monitor_type(), Some(MonitorTypes::TASK));
    }

    #[test]
    fn task_begin_end_restart_carry_the_task() {
        for action in ["begin", "end", "restart"] {
            let event = ok(
                "apaevt_task",
                json!({"action": action, "name": "A.chat_1", "projectId": PROJECT, "source": "chat_1", "__id": "bee3a8ea.chat_1"}),
            );
            let RocketRideEvent::Task(task) = &event else { panic!() };
            let lifecycle = match (action, task) {
                ("begin", TaskEvent::Begin(t)) | ("end", TaskEvent::End(t)) | ("restart", TaskEvent::Restart(t)) => t,
                other => panic!("{other:?}"),
            };
            assert_eq!(lifecycle.name, "A.chat_1");
            assert_eq!(event.task_id(), Some("bee3a8ea.chat_1"));
            assert_eq!(event.project_source(), Some((PROJECT, "chat_1")));
            let js = serde_json::to_value(&event).unwrap();
            assert_eq!(
                js,
                json!({"type": "task", "action": action, "taskId": "bee3a8ea.chat_1", "name": "A.chat_1", "projectId": PROJECT, "source": "chat_1"})
            );
        }
    }

    #[test]
    fn status_update_decodes_every_field() {
        let event = ok("apaevt_status_update", status_body("bee3a8ea.chat_1", 3, 1.0));
        let TaskStatusEvent { task_id, status: s, .. } = status_of(&event);
        assert_eq!(task_id, "bee3a8ea.chat_1");
        assert_eq!(
            (s.name.as_str(), s.project_id.as_str(), s.source.as_str()),
            ("Support Agent.chat_1", PROJECT, "chat_1")
        );
        assert_eq!((s.completed, s.state, s.start_time, s.end_time), (false, TaskState::Running, 1780052401.5, 0.0));
        assert_eq!(s.status, "Downloading \"model\"");
        assert_eq!((s.warnings.0.clone(), s.errors.len()), (vec!["w1".to_string()], 2));
        assert_eq!((s.current_object.as_str(), s.current_size), ("doc.pdf", 10));
        assert_eq!(
            serde_json::to_value(&s.notes).unwrap(),
            json!(["plain", {"token": "tk_x"}]),
            "notes are text or objects"
        );
        assert_eq!(
            [s.total_size, s.total_count, s.completed_size, s.completed_count, s.failed_size],
            [100, 4, 50, 2, 1]
        );
        assert_eq!([s.failed_count, s.words_size, s.words_count, s.rate_size, s.rate_count], [1, 7, 3, 9, 1]);
        assert_eq!((s.service_up, s.exit_code, s.exit_message.as_str()), (true, 0, ""));
        assert_eq!(s.pipeflow.total_pipes, 2);
        assert_eq!(s.pipeflow.by_pipe["0"], vec!["Question 1", "agent_rocketride_1"]);
        assert_eq!(
            (s.metrics.cpu_percent, s.metrics.avg_cpu_memory_mb, s.metrics.peak_cpu_percent),
            (2.5, 301.5, 41.0)
        );
        assert_eq!((s.tokens.gpu_inference, s.tokens.custom["llm_openai"], s.tokens.total), (1.5, 3.0, 5.25));
        assert_eq!(event.monitor_type(), Some(MonitorTypes::SUMMARY));
        assert_eq!(event.project_source(), Some((PROJECT, "chat_1")));
    }

    #[test]
    fn status_serialises_camel_case_without_the_wire_id() {
        let js = serde_json::to_value(ok("apaevt_status_update", status_body("t.chat_1", 3, 1.0))).unwrap();
        assert_eq!(js["type"], "taskStatus");
        assert_eq!(js["taskId"], "t.chat_1");
        let status = &js["status"];
        assert_eq!(status["projectId"], PROJECT);
        assert_eq!(status["state"], "running");
        assert_eq!(status["metrics"]["cpuPercent"], 2.5);
        assert_eq!(status["metrics"]["peakCpuMemoryMb"], 391.0);
        assert_eq!(status["tokens"]["gpuInference"], 1.5);
        assert_eq!(status["pipeflow"]["byPipe"]["0"][1], "agent_rocketride_1");
        let text = js.to_string();
        for wire_only in ["__id", "project_id", "cpu_percent", "gpu_inference", "wireId"] {
            assert!(!text.contains(wire_only), "{wire_only} leaked: {text}");
        }
    }

    #[test]
    fn synthetic_not_running_seed_keeps_its_project_source_id() {
        let body = json!({"name": "", "project_id": "p1", "source": "*", "completed": false, "state": 0,
            "startTime": 0.0, "endTime": 0.0, "debuggerAttached": false, "status": "Not running",
            "warnings": [], "errors": [], "currentObject": "", "currentSize": 0, "notes": [],
            "totalSize": 0, "totalCount": 0, "completedSize": 0, "completedCount": 0, "failedSize": 0, "failedCount": 0,
            "wordsSize": 0, "wordsCount": 0, "rateSize": 0, "rateCount": 0, "serviceUp": false, "exitCode": 0,
            "exitMessage": "", "pipeflow": {"totalPipes": 0, "byPipe": {}},
            "metrics": {"cpu_percent": 0.0, "cpu_memory_mb": 0.0, "gpu_memory_mb": 0.0, "peak_cpu_percent": 0.0,
                "peak_cpu_memory_mb": 0.0, "peak_gpu_memory_mb": 0.0, "avg_cpu_percent": 0.0, "avg_cpu_memory_mb": 0.0, "avg_gpu_memory_mb": 0.0},
            "tokens": {"cpu_utilization": 0.0, "cpu_memory": 0.0, "gpu_memory": 0.0, "gpu_inference": 0.0, "custom": {}, "total": 0.0},
            "__id": "p1.*"});
        let event = ok("apaevt_status_update", body);
        let s = &status_of(&event).status;
        assert_eq!((s.state, s.status.as_str(), s.name.as_str()), (TaskState::None, "Not running", ""));
        assert_eq!(event.task_id(), Some("p1.*"));
        assert_eq!(event.project_source(), Some(("p1", "*")));
    }

    #[test]
    fn final_status_has_zeroed_metrics_but_keeps_tokens() {
        let event = ok("apaevt_status_update", status_body("t.chat_1", 5, 0.0));
        let s = &status_of(&event).status;
        assert!(s.completed);
        assert_eq!(s.state, TaskState::Completed);
        assert_eq!((s.metrics.cpu_percent, s.metrics.peak_cpu_memory_mb), (0.0, 0.0));
        assert_eq!(s.tokens.total, 5.25);
    }

    #[test]
    fn lenient_status_missing_collections_unknown_state_and_extra_fields() {
        let mut body = status_body("t.x", 9, 1.0);
        let obj = body.as_object_mut().unwrap();
        for key in ["warnings", "errors", "notes"] {
            obj.remove(key);
        }
        obj["pipeflow"] = json!({"totalPipes": 0});
        obj.insert("logSeq".into(), json!(41));
        obj.insert("eventTime".into(), json!(1780052402.0));
        let event = ok("apaevt_status_update", body);
        let s = &status_of(&event).status;
        assert!(s.warnings.is_empty() && s.errors.is_empty() && s.notes.is_empty() && s.pipeflow.by_pipe.is_empty());
        assert_eq!(s.state, TaskState::Other(9));
        assert_eq!(serde_json::to_value(&event).unwrap()["status"]["state"], 9);
    }

    #[test]
    fn non_finite_metrics_decode_as_nan() {
        let frame = r#"{"type":"event","seq":7,"event":"apaevt_status_update","body":BODY}"#
            .replace("BODY", &status_body("t.c", 3, 1.0).to_string())
            .replace(r#""cpu_percent":2.5"#, r#""cpu_percent":NaN"#)
            .replace(r#""peak_cpu_percent":41.0"#, r#""peak_cpu_percent":Infinity"#)
            .replace(r#""llm_openai":3.0"#, r#""llm_openai":-Infinity"#);
        assert!(frame.contains("NaN") && frame.contains("-Infinity"));
        let FrameBody::Event(event) = decode_frame(frame.as_bytes()).unwrap().body else { panic!() };
        let s = &status_of(&event).status;
        assert!(
            s.metrics.cpu_percent.is_nan()
                && s.metrics.peak_cpu_percent.is_nan()
                && s.tokens.custom["llm_openai"].is_nan()
        );
        assert_eq!(s.metrics.avg_cpu_percent, 18.5);
    }

    #[test]
    fn flow_ops_and_pipe_index_is_not_a_routing_pipe_id() {
        for (op, expect) in
            [("begin", FlowOp::Begin), ("enter", FlowOp::Enter), ("leave", FlowOp::Leave), ("end", FlowOp::End)]
        {
            let event = ok(
                "apaevt_flow",
                json!({"id": 2, "op": op, "pipes": ["Question 1"],
                "trace": {"lane": "questions", "data": null, "result": "continue"}, "project_id": PROJECT, "source": "chat_1", "__id": "t.chat_1"}),
            );
            let RocketRideEvent::Flow(flow) = &event else { panic!() };
            assert_eq!((flow.op(), flow.pipes()), (expect, &["Question 1".to_string()][..]));
            match flow {
                FlowEvent::Enter(s) | FlowEvent::Leave(s) => {
                    assert_eq!((s.pipe_id, s.trace.lane.as_deref().unwrap(), s.trace.result.as_deref()), (2, "questions", Some("continue")))
                }
                FlowEvent::Begin(s) | FlowEvent::End(s) => {
                    assert_eq!((s.pipe_id, s.trace.0.parse::<Value>().unwrap()["result"].as_str()), (2, Some("continue")))
                }
            }
            assert_eq!(event.pipe_id(), None);
            assert_eq!(event.project_source(), Some((PROJECT, "chat_1")));
            assert_eq!(event.monitor_type(), Some(MonitorTypes::FLOW));
            let js = serde_json::to_value(&event).unwrap();
            assert_eq!(
                (js["type"].as_str(), js["pipeId"].as_u64(), js["projectId"].as_str(), js["op"].as_str()),
                (Some("flow"), Some(2), Some(PROJECT), Some(op))
            );
        }
    }

    #[test]
    fn sse_kind_data_and_pipe_id() {
        let event = ok("apaevt_sse", json!({"pipe_id": 4, "type": "confirm", "data": {"q": 1}, "__id": "t.c"}));
        assert_eq!(event.pipe_id(), Some(4));
        assert_eq!(event.monitor_type(), Some(MonitorTypes::SSE));
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"type": "sse", "taskId": "t.c", "pipeId": 4, "kind": "confirm", "data": {"q": 1}})
        );
        let bare = ok("apaevt_sse", json!({"pipe_id": 0, "type": "acting", "__id": "t.c"}));
        assert_eq!(
            serde_json::to_value(&bare).unwrap(),
            json!({"type": "sse", "taskId": "t.c", "pipeId": 0, "kind": "acting"})
        );
    }

    #[test]
    fn undeclared_fields_are_kept_in_extra_and_stamps_are_typed() {
        let event = ok(
            "output",
            json!({"category": "console", "output": "x\n", "__id": "t.c", "eventTime": 1.5, "logSeq": 9,
                "project_id": "p", "source": "s", "newField": {"a": [1, 2]}, "extra": "literal"}),
        );
        let RocketRideEvent::Output(out) = &event else { panic!() };
        assert_eq!((out.event_time, out.log_seq, out.project_id.as_deref()), (Some(1.5), Some(9), Some("p")));
        assert_eq!(out.extra.get("newField").map(|v| v.get()), Some(r#"{"a":[1,2]}"#));
        let js = serde_json::to_value(&event).unwrap();
        assert_eq!(js["extra"], json!({"newField": {"a": [1, 2]}, "extra": "literal"}));
        assert_eq!((js["eventTime"].as_f64(), js["logSeq"].as_u64(), js["projectId"].as_str()), (Some(1.5), Some(9), Some("p")));
        let plain = serde_json::to_value(ok("output", json!({"category": "c", "output": "", "__id": "t"}))).unwrap();
        assert_eq!(plain, json!({"type": "output", "taskId": "t", "category": "c", "output": ""}), "absent stays absent");

        let begin = ok("apaevt_task", json!({"action": "begin", "name": "n", "projectId": "p", "project_id": "p",
            "source": "s", "__id": "t.s", "beginSeq": null, "logSeq": 3}));
        let js = serde_json::to_value(&begin).unwrap();
        assert_eq!((&js["beginSeq"], js.get("extra")), (&Value::Null, None), "beginSeq null = unlogged; no duplicate in extra");
        let restart = serde_json::to_value(ok("apaevt_task", json!({"action": "restart", "name": "n", "projectId": "p", "source": "s", "__id": "t.s"}))).unwrap();
        assert_eq!(restart.get("beginSeq"), None);

        let mut body = status_body("t.c", 5, 0.0);
        body["final"] = json!(true);
        body["eventTime"] = json!(2.5);
        body["componentStats"] = json!({"parse_1": {"calls": 2, "totalSeconds": 0.5, "maxSeconds": 0.25}});
        body["brandNew"] = json!(7);
        let event = ok("apaevt_status_update", body);
        let js = serde_json::to_value(&event).unwrap();
        assert_eq!((js["final"].as_bool(), js["eventTime"].as_f64()), (Some(true), Some(2.5)));
        assert_eq!(js["status"]["componentStats"]["parse_1"]["maxSeconds"], 0.25);
        assert_eq!(js["status"]["extra"], json!({"brandNew": 7}));
        assert!(js["status"].get("final").is_none() && js["status"].get("eventTime").is_none());

        let dash = ok("apaevt_dashboard", json!({"action": "task_error", "timestamp": 1.0, "__id": "", "taskId": "t",
            "exitCode": 1, "exitMessage": null, "severity": "high"}));
        let js = serde_json::to_value(&dash).unwrap();
        assert_eq!(js, json!({"type": "dashboard", "action": "task_error", "timestamp": 1.0, "taskId": "t", "exitCode": 1,
            "extra": {"severity": "high"}}));
    }

    #[test]
    fn output_line() {
        let event = ok("output", json!({"category": "console", "output": "hi\n", "__id": "t.c"}));
        assert_eq!(
            event,
            RocketRideEvent::Output(OutputEvent {
                task_id: "t.c".into(),
                category: "console".into(),
                output: "hi\n".into(),
                project_id: None,
                source: None,
                event_time: None,
                log_seq: None,
                extra: Extra::default(),
            })
        );
        assert_eq!(event.monitor_type(), Some(MonitorTypes::OUTPUT));
    }

    #[test]
    fn every_detail_event() {
        let id = json!("t.c");
        let metrics = status_body("", 3, 1.0)["metrics"].clone();
        let counts = json!({"totalSize": 1, "totalCount": 2, "completedSize": 3, "completedCount": 4, "failedSize": 5,
            "failedCount": 6, "wordsSize": 7, "wordsCount": 8, "rateSize": 9, "rateCount": 10, "__id": id});
        let cases = [
            ("apaevt_status_object", json!({"object": "a.pdf", "size": 12, "__id": id}), "statusObject"),
            ("apaevt_status_counts", counts, "statusCounts"),
            ("apaevt_status_error", json!({"message": "boom", "__id": id}), "statusError"),
            ("apaevt_status_warning", json!({"message": "hmm", "__id": id}), "statusWarning"),
            ("apaevt_status_message", json!({"message": "ok", "__id": id}), "statusMessage"),
            (
                "apaevt_status_download",
                json!({"info": {"name": "m", "status": "50%", "error": null}, "__id": id}),
                "statusDownload",
            ),
            ("apaevt_status_metrics", json!({"metrics": metrics, "__id": id}), "statusMetrics"),
            ("apaevt_status_user", json!({"notes": ["n"], "__id": id}), "statusUser"),
            ("apaevt_status_info", json!({"info": {"v": 1}, "__id": id}), "statusInfo"),
        ];
        for (name, body, tag) in cases {
            let event = ok(name, body);
            assert_eq!(event.monitor_type(), Some(MonitorTypes::DETAIL), "{name}");
            assert_eq!(event.task_id(), Some("t.c"), "{name}");
            let js = serde_json::to_value(&event).unwrap();
            assert_eq!((js["type"].as_str(), js["taskId"].as_str()), (Some(tag), Some("t.c")), "{name}");
        }
        let counts = serde_json::to_value(ok("apaevt_status_counts", json!({"totalSize": 1, "totalCount": 2, "completedSize": 3,
            "completedCount": 4, "failedSize": 5, "failedCount": 6, "wordsSize": 7, "wordsCount": 8, "rateSize": 9, "rateCount": 10, "__id": "x"}))).unwrap();
        assert_eq!((counts["rateCount"].as_u64(), counts["wordsSize"].as_u64()), (Some(10), Some(7)));
        let RocketRideEvent::StatusError(e) = ok("apaevt_status_error", json!({"message": "boom", "__id": "x"})) else {
            panic!()
        };
        assert_eq!(e.message, "boom");
    }

    #[test]
    fn every_dashboard_action() {
        let base = |action: &str, extra: Value| {
            let mut body = json!({"action": action, "timestamp": 1780052400.25, "__id": ""});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            ok("apaevt_dashboard", body)
        };
        let client =
            json!({"connectionId": 7, "clientName": "rr-wasm-dashboard", "clientVersion": "0.1.0", "clientId": null});
        let events = [
            base("connection_added", client.clone()),
            base("connection_removed", client.clone()),
            base(
                "monitor_changed",
                json!({"connectionId": 7, "clientName": null, "clientVersion": null, "key": "<all>", "change": "unsubscribed"}),
            ),
            base("auth_failed", json!({"connectionId": 8, "reason": "Invalid API key", "code": 401})),
            base("task_removed", json!({"taskId": "t.c"})),
            base("task_error", json!({"taskId": "t.c", "exitCode": 1, "exitMessage": "Stopped"})),
        ];
        let RocketRideEvent::Dashboard(DashboardEvent::ConnectionAdded(added)) = &events[0] else { panic!() };
        assert_eq!(
            (added.connection_id, added.client_name.as_deref(), &added.client_id, added.timestamp),
            (7, Some("rr-wasm-dashboard"), &None, 1780052400.25)
        );
        let RocketRideEvent::Dashboard(DashboardEvent::MonitorChanged(changed)) = &events[2] else { panic!() };
        assert_eq!((changed.change, changed.key.as_str()), (MonitorChange::Unsubscribed, "<all>"));
        let RocketRideEvent::Dashboard(DashboardEvent::AuthFailed(failed)) = &events[3] else { panic!() };
        assert_eq!((failed.code, failed.reason.as_str()), (401, "Invalid API key"));
        let RocketRideEvent::Dashboard(removed) = &events[4] else { panic!() };
        assert_eq!(removed.removed_task_id(), Some("t.c"));
        let RocketRideEvent::Dashboard(DashboardEvent::TaskError(error)) = &events[5] else { panic!() };
        assert_eq!((error.exit_code, error.exit_message.as_deref()), (1, Some("Stopped")));
        for event in &events {
            assert!(event.is_server_event());
            assert_eq!(event.task_id(), None);
            assert_eq!(event.monitor_type(), Some(MonitorTypes::DASHBOARD));
        }
        let js = serde_json::to_value(&events[5]).unwrap();
        assert_eq!(
            js,
            json!({"type": "dashboard", "action": "task_error", "timestamp": 1780052400.25, "taskId": "t.c", "exitCode": 1, "exitMessage": "Stopped"})
        );
    }

    #[test]
    fn account_event_keeps_its_body() {
        let event = ok("apaext_account", json!({"userId": "u", "apps": []}));
        let body = json_read::from_str(&json!({"userId": "u", "apps": []}).to_string()).unwrap();
        assert_eq!(event, RocketRideEvent::Account(AccountEvent { body }));
        assert_eq!((event.monitor_type(), event.task_id()), (None, None));
    }

    #[test]
    fn unknown_events_and_actions_arrive_raw() {
        let event = ok("apaevt_status_state", json!({"state": 2, "__id": "t.c"}));
        let RocketRideEvent::Unknown(unknown) = &event else { panic!() };
        assert_eq!((unknown.event.as_str(), unknown.task_id.as_deref()), ("apaevt_status_state", Some("t.c")));
        assert_eq!(serde_json::from_str::<Value>(&unknown.raw).unwrap(), json!({"state": 2, "__id": "t.c"}));
        assert_eq!((event.task_id(), event.monitor_type()), (Some("t.c"), None));
        let js = serde_json::to_value(&event).unwrap();
        assert_eq!(js["type"], "unknown");
        let newer = ok(
            "apaevt_dashboard",
            json!({"action": "connection_updated", "connectionId": 3, "timestamp": 1.0, "__id": ""}),
        );
        assert!(
            matches!(&newer, RocketRideEvent::Unknown(u) if u.event == "apaevt_dashboard" && u.task_id.is_none() && u.raw.contains("connection_updated"))
        );
        let not_object = ok("something_new", json!([1, 2]));
        assert!(matches!(&not_object, RocketRideEvent::Unknown(u) if u.task_id.is_none() && u.raw == "[1,2]"));
    }

    /// Numbers as `JSON.parse` reads them: the nearest double to the text, last digit
    /// included (serde_json's default parser, which read bodies before, gave
    /// 1796323557.557279 for the stamp below).
    #[test]
    // 123456789.123456789 is the wire's text, more digits than a double holds on purpose.
    #[allow(clippy::excessive_precision)]
    fn numbers_read_exactly_as_json_parse_reads_them() {
        let body = r#"{"__id":"t","category":"console","output":"x\n","eventTime":1796323557.5572793,"logSeq":12345678901234567}"#;
        let RocketRideEvent::Output(e) = decode_event_text("output", body).unwrap() else { panic!() };
        assert_eq!(e.event_time, Some(1796323557.5572793));
        assert_eq!(e.event_time.unwrap().to_string(), "1796323557.5572793");
        assert_eq!(e.log_seq, Some(12345678901234567));
        let metrics = r#"{"__id":"t","metrics":{"cpu_percent":0.1,"cpu_memory_mb":2.675e-3,"gpu_memory_mb":1e22,
            "peak_cpu_percent":123456789.123456789,"peak_cpu_memory_mb":-0.0,"peak_gpu_memory_mb":5e-324,
            "avg_cpu_percent":null,"avg_cpu_memory_mb":1.7976931348623157e308,"avg_gpu_memory_mb":3}}"#;
        let RocketRideEvent::StatusMetrics(e) = decode_event_text("apaevt_status_metrics", metrics).unwrap() else { panic!() };
        let m = &e.metrics;
        assert_eq!(
            [m.cpu_percent, m.cpu_memory_mb, m.gpu_memory_mb, m.peak_cpu_percent, m.peak_gpu_memory_mb, m.avg_cpu_memory_mb, m.avg_gpu_memory_mb],
            [0.1, 2.675e-3, 1e22, 123456789.123456789, 5e-324, 1.7976931348623157e308, 3.0]
        );
        assert!(m.peak_cpu_memory_mb == 0.0 && m.peak_cpu_memory_mb.is_sign_negative());
        assert!(m.avg_cpu_percent.is_nan());
    }

    #[test]
    fn malformed_bodies_give_a_reason() {
        let err = decode(
            "apaevt_flow",
            json!({"id": 0, "pipes": [], "trace": {}, "project_id": "p", "source": "s", "__id": "t"}),
        )
        .unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::WrongShape);
        assert_eq!(err.reason, "apaevt_flow body: missing field `op`");
        let err = decode("apaevt_status_update", json!({"state": "three"})).unwrap_err();
        assert!(err.reason.starts_with("apaevt_status_update body: "), "{}", err.reason);
        let err = decode("apaevt_task", json!({"name": "no action"})).unwrap_err();
        assert!(err.reason.contains("missing field `action`"), "{}", err.reason);
        let err = decode("output", json!("a string")).unwrap_err();
        assert!(err.reason.contains("invalid type: string"), "{}", err.reason);
    }

    #[test]
    fn prototype_keys_are_plain_data() {
        let event = ok(
            "apaevt_sse",
            json!({"pipe_id": 1, "type": "x", "__id": "t", "data": {"__proto__": {"polluted": true}, "constructor": "c"}}),
        );
        let js = serde_json::to_value(&event).unwrap();
        assert_eq!(js["data"]["__proto__"]["polluted"], true);
        assert_eq!(js["data"]["constructor"], "c");
        let mut body = status_body("t", 3, 1.0);
        body["pipeflow"]["byPipe"] = json!({"__proto__": ["a"], "constructor": ["b"]});
        body["tokens"]["custom"] = json!({"__proto__": 1.0});
        let event = ok("apaevt_status_update", body);
        let s = &status_of(&event).status;
        assert_eq!((s.pipeflow.by_pipe["__proto__"][0].as_str(), s.tokens.custom["__proto__"]), ("a", 1.0));
    }

    #[test]
    fn task_status_from_response_body_without_id() {
        let mut body = status_body("ignored", 3, 1.0);
        body.as_object_mut().unwrap().remove("__id");
        let text = body.to_string().replace(r#""cpu_percent":2.5"#, r#""cpu_percent":NaN"#);
        let status = TaskStatus::from_json(&text).unwrap();
        assert!(status.metrics.cpu_percent.is_nan());
        let event = RocketRideEvent::task_status("bee3a8ea.chat_1", status);
        assert_eq!(event.task_id(), Some("bee3a8ea.chat_1"));
        let err = TaskStatus::from_json("{\"state\":3}").unwrap_err();
        assert!(err.reason.starts_with("TASK_STATUS: missing field"), "{}", err.reason);
    }

    #[test]
    fn decl_of_the_event_union() {
        let union = RocketRideEvent::DECL.lines().last().unwrap();
        assert_eq!(
            union,
            "export type RocketRideEvent = \
({ type: \"task\" } & TaskEvent) | ({ type: \"taskStatus\" } & TaskStatusEvent) | ({ type: \"flow\" } & FlowEvent) | \
({ type: \"sse\" } & SseEvent) | ({ type: \"output\" } & OutputEvent) | ({ type: \"statusObject\" } & StatusObjectEvent) | \
({ type: \"statusCounts\" } & StatusCountsEvent) | ({ type: \"statusError\" } & StatusTextEvent) | \
({ type: \"statusWarning\" } & StatusTextEvent) | ({ type: \"statusMessage\" } & StatusTextEvent) | \
({ type: \"statusDownload\" } & StatusDownloadEvent) | ({ type: \"statusMetrics\" } & StatusMetricsEvent) | \
({ type: \"statusUser\" } & StatusUserEvent) | ({ type: \"statusInfo\" } & StatusInfoEvent) | \
({ type: \"dashboard\" } & DashboardEvent) | ({ type: \"account\" } & AccountEvent) | ({ type: \"unknown\" } & UnknownEvent);"
        );
        assert_eq!(
            FlowEvent::DECL.lines().last().unwrap(),
            "export type FlowEvent = ({ op: \"begin\" } & FlowStep<TraceObject>) | ({ op: \"enter\" } & FlowStep<FlowTrace>) | \
({ op: \"leave\" } & FlowStep<FlowTrace>) | ({ op: \"end\" } & FlowStep<TraceObject>);"
        );
    }

    // Whether each declared field matches what JavaScript receives is checked on real events
    // by tests/types/runtime.test.mjs (the built package in Chromium, against the generated
    // .d.ts). Natively, one rule of the convention: the SDK never hands JavaScript
    // `undefined` (events are JSON), so no declaration may offer it; absent = `?:`.
    #[test]
    fn no_declaration_offers_undefined_and_none_leaks_wire_names() {
        use crate::protocol::rocketride::dashboard as d;
        use crate::protocol::rocketride::results as r;
        use crate::protocol::rocketride::task_status as ts;
        let decls = [
            RocketRideEvent::DECL, TaskEvent::DECL, TaskRef::DECL, TaskLifecycle::DECL, TaskStatusEvent::DECL,
            FlowEvent::DECL, FlowStep::<FlowTrace>::DECL, FlowTrace::DECL, SseEvent::DECL, OutputEvent::DECL,
            StatusObjectEvent::DECL, StatusCountsEvent::DECL, StatusTextEvent::DECL, StatusDownloadEvent::DECL,
            DownloadInfo::DECL, StatusMetricsEvent::DECL, StatusUserEvent::DECL, StatusInfoEvent::DECL,
            AccountEvent::DECL, UnknownEvent::DECL, DashboardEvent::DECL, d::ConnectionEvent::DECL,
            d::MonitorChangedEvent::DECL, d::AuthFailedEvent::DECL, d::TaskRemovedEvent::DECL, d::TaskErrorEvent::DECL,
            TaskStatus::DECL, ts::TaskMetrics::DECL, ts::TaskTokens::DECL, ts::Pipeflow::DECL, ts::ComponentStats::DECL,
            ts::SlowDoc::DECL, r::DashboardSnapshot::DECL, r::DashboardConnection::DECL, r::DashboardTask::DECL,
            r::ClientInfo::DECL, r::AccountInfo::DECL, r::App::DECL, r::ExecuteResult::DECL, r::ExecuteArgs::DECL,
            crate::core::outputs::Diagnostic::DECL, crate::core::outputs::StateChange::DECL,
            crate::core::outputs::RequestError::DECL,
        ];
        for decl in decls {
            let code: String = decl.lines().filter(|l| !l.trim_start().starts_with(['*', '/'])).collect();
            assert!(!code.contains("undefined"), "{code}");
            assert!(!code.contains("__id") && !code.contains("pipe_id") && !code.contains("\\u0000"), "{code}");
        }
        assert!(TaskLifecycle::DECL.contains("beginSeq?: number | null;"));
        assert!(TaskLifecycle::DECL.contains("extra?: Record<string, unknown>;"));
        assert!(r::DashboardTask::DECL.contains("state?: TaskState;"));
    }

    #[test]
    fn unknown_actions_arrive_as_unknown_and_known_ones_decode() {
        let task = r#"{"tasks":[],"name":"n","projectId":"p","source":"s","__id":"a.s"}"#;
        for action in ["running", "begin", "end", "restart"] {
            let body = RawValue::from_string(task.replacen('{', &format!(r#"{{"action":"{action}","#), 1)).unwrap();
            assert!(matches!(decode_event("apaevt_task", &body), Ok(RocketRideEvent::Task(_))), "{action}");
        }
        let raw = RawValue::from_string(task.replacen('{', r#"{"action":"paused","#, 1)).unwrap();
        assert!(matches!(decode_event("apaevt_task", &raw), Ok(RocketRideEvent::Unknown(_))));
        for action in ["connection_added", "connection_removed", "monitor_changed", "auth_failed", "task_removed", "task_error"] {
            let raw = RawValue::from_string(format!(r#"{{"action":"{action}","timestamp":1.0}}"#)).unwrap();
            let decoded = decode_event("apaevt_dashboard", &raw);
            assert!(!matches!(decoded, Ok(RocketRideEvent::Unknown(_))), "{action} is known");
            assert!(DashboardEvent::decode(action, raw.get()).is_some(), "{action}");
        }
        assert!(DashboardEvent::decode("connection_updated", "{}").is_none());
    }

}

//! `--newer` mode: the newer server's run log (spec §8.5, PR #1661): streams, chapters,
//! segments, and the `rrext_log` command (`chapters`, `read`, `segment`, `delete`).
//!
//! What it models:
//! - A **stream** is owner + `projectId` + `source` + `runKind` (the simulator only runs
//!   `dev`; every credential is the OSS user `local`). Its `lastSeq` survives runs (and the
//!   `restart` fault, like the on-disk log would).
//! - Each **run** is a chapter. The runner opens the writer after the STARTING status (which
//!   therefore carries `logSeq` 1 of the task's fresh counter and is not logged); opening
//!   lifts the task's counter to `max(next, lastSeq + 1)` and writes the log-only
//!   `apaevt_log_lifecycle run-begin` marker, whose `logSeq` is the chapter's `beginSeq`
//!   and `apaevt_task begin.beginSeq`. Closing writes `run-end {outcome, detail}`.
//! - Every event forwarded while the writer is open is recorded (SSE and the debugger-only
//!   `exited`/`terminated` included), except that `apaevt_status_update` is kept at most
//!   once per 5 s (simulated) plus the final one (`final: true`).
//! - **Segments** are sealed when they reach [`SEGMENT_BYTES`] and at the end of every run;
//!   at most [`MAX_SEGMENTS`] are kept, the oldest evicted first (`horizonSeq` is then the
//!   first seq of the most recently evicted segment, as the real server reports it).
//!
//! Simplified: segments hold plain JSON lines (no keyframe/delta codec), so `segment`
//! returns readable JSONL; segment and retention sizes are scaled down (256 KiB × 64
//! instead of 16 MB × 64) and there are no age limits; an in-place restart writes a
//! `restart` marker into the open chapter rather than opening a second writer; there is no
//! crash spool, so `logSeq` never repeats after a restart fault.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value};

use crate::dap::{CmdError, CmdResult};
use crate::json::{array_of, Obj};

/// Bytes after which a segment is sealed (the real server's 16 MB, scaled down).
pub const SEGMENT_BYTES: usize = 256 * 1024;
/// Segments kept per stream (as the real server's ring of 64).
pub const MAX_SEGMENTS: usize = 64;
/// Chapters kept per stream (`constants.py`: 512).
pub const MAX_CHAPTERS: usize = 512;
/// `read` page bounds (`maxEvents` 2000, `maxBytes` 4 MB: defaults and maxima).
pub const MAX_EVENTS: i64 = 2000;
/// See [`MAX_EVENTS`].
pub const MAX_BYTES: i64 = 4 * 1024 * 1024;
/// A status update is logged at most this often (simulated ms).
pub const STATUS_SAMPLE_MS: u64 = 5000;
/// The only run kind the simulator writes.
pub const RUN_KIND: &str = "dev";
/// Owner of every stream (OSS).
const OWNER: &str = "local";

/// One recorded event: the full stored line (`{"type":"event","event":…,"body":…}`).
#[derive(Debug, Clone)]
struct Line {
    seq: u64,
    time: f64,
    event: String,
    text: String,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    start: f64,
    end: f64,
    chapter_start: bool,
    sealed: bool,
    bytes: usize,
    lines: Vec<Line>,
}

impl Segment {
    fn first_seq(&self) -> Option<u64> {
        self.lines.first().map(|l| l.seq)
    }
}

#[derive(Debug)]
struct Chapter {
    begin_time: f64,
    begin_seq: u64,
    end_time: Option<f64>,
    outcome: Option<String>,
}

#[derive(Debug, Default)]
struct Stream {
    last_seq: u64,
    segments: VecDeque<Segment>,
    next_segment: u64,
    horizon_seq: u64,
    chapters: VecDeque<Chapter>,
    open: bool,
}

impl Stream {
    /// Appends a line, sealing and evicting segments as needed.
    fn append(&mut self, line: Line, chapter_start: bool) {
        self.last_seq = self.last_seq.max(line.seq);
        let need_new = chapter_start
            || self.segments.back().is_none_or(|s| s.sealed || s.bytes + line.text.len() + 1 > SEGMENT_BYTES);
        if need_new {
            if let Some(s) = self.segments.back_mut() {
                s.sealed = true;
            }
            let id = self.next_segment;
            self.next_segment += 1;
            self.segments.push_back(Segment {
                id,
                start: line.time,
                end: line.time,
                chapter_start,
                sealed: false,
                bytes: 0,
                lines: Vec::new(),
            });
            while self.segments.len() > MAX_SEGMENTS {
                if let Some(old) = self.segments.pop_front() {
                    self.horizon_seq = old.first_seq().unwrap_or(self.horizon_seq);
                }
            }
        }
        let seg = self.segments.back_mut().expect("a segment was just ensured");
        seg.end = line.time;
        seg.bytes += line.text.len() + 1;
        seg.lines.push(line);
    }
}

/// Every stream of the server.
#[derive(Debug, Default)]
pub struct RunLog {
    streams: BTreeMap<String, Stream>,
}

fn stream_key(project: &str, source: &str, run_kind: &str) -> String {
    format!("{OWNER}\u{0}{project}\u{0}{source}\u{0}{run_kind}")
}

impl RunLog {
    /// Opens the writer of a run of `project`/`source`: the task's counter `next` is lifted
    /// past the stream's `lastSeq`, and the `run-begin` marker is written. Returns the
    /// marker's `logSeq` (the chapter's `beginSeq`); `next` is advanced past it.
    pub fn open(&mut self, project: &str, source: &str, next: &mut u64, time: f64, body: Obj) -> u64 {
        let s = self.streams.entry(stream_key(project, source, RUN_KIND)).or_default();
        if s.open {
            // A run that never wrote run-end (the simulator only gets here after a reset).
            if let Some(c) = s.chapters.back_mut().filter(|c| c.outcome.is_none()) {
                c.outcome = Some("interrupted".into());
                c.end_time = Some(time);
            }
        }
        *next = (*next).max(s.last_seq + 1);
        let seq = *next;
        *next += 1;
        s.open = true;
        s.chapters.push_back(Chapter { begin_time: time, begin_seq: seq, end_time: None, outcome: None });
        while s.chapters.len() > MAX_CHAPTERS {
            s.chapters.pop_front();
        }
        let text = marker_line(body, time, seq);
        s.append(Line { seq, time, event: "apaevt_log_lifecycle".into(), text }, true);
        seq
    }

    /// Whether the writer of the stream is open.
    pub fn is_open(&self, project: &str, source: &str) -> bool {
        self.streams.get(&stream_key(project, source, RUN_KIND)).is_some_and(|s| s.open)
    }

    /// Records a stamped event line (only while the writer is open).
    pub fn record(&mut self, project: &str, source: &str, seq: u64, time: f64, event: &str, text: String) {
        if let Some(s) = self.streams.get_mut(&stream_key(project, source, RUN_KIND)).filter(|s| s.open) {
            s.append(Line { seq, time, event: event.to_owned(), text }, false);
        }
    }

    /// Writes a log-only marker (`restart`) into the open chapter.
    pub fn marker(&mut self, project: &str, source: &str, seq: u64, time: f64, body: Obj) {
        let text = marker_line(body, time, seq);
        self.record(project, source, seq, time, "apaevt_log_lifecycle", text);
    }

    /// Closes the writer: `run-end {outcome, detail}`, the chapter's end, the segment sealed.
    pub fn close(&mut self, project: &str, source: &str, seq: u64, time: f64, outcome: &str, detail: &str) {
        let body = Obj::new().set("action", "run-end").set("outcome", outcome).set("detail", detail);
        self.marker(project, source, seq, time, body);
        if let Some(s) = self.streams.get_mut(&stream_key(project, source, RUN_KIND)) {
            s.open = false;
            if let Some(c) = s.chapters.back_mut() {
                c.end_time = Some(time);
                c.outcome = Some(outcome.to_owned());
            }
            if let Some(seg) = s.segments.back_mut() {
                seg.sealed = true;
            }
        }
    }
}

/// `{"type":"event","event":"apaevt_log_lifecycle","body":{…,"eventTime","logSeq"}}`.
fn marker_line(body: Obj, time: f64, seq: u64) -> String {
    let body = body.set("eventTime", &time).set("logSeq", &seq).done();
    Obj::new().set("type", "event").set("event", "apaevt_log_lifecycle").raw("body", &body).done()
}

/// What the caller may do (spec §8.5.4 permissions; `pk_` sessions hold only `task.data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    /// `task.monitor`.
    pub monitor: bool,
    /// `task.control`.
    pub control: bool,
}

fn denied(perm: &str) -> CmdError {
    CmdError::new(format!("Permission '{perm}' denied"), "task_conn.py", 385)
}

/// `rrext_log {subcommand, projectId, source, runKind, …}` (spec §8.5.4).
pub fn command(log: &mut RunLog, args: &Map<String, Value>, perms: Perms) -> CmdResult {
    let sub = args.get("subcommand").and_then(Value::as_str).filter(|s| !s.is_empty());
    let Some(sub) = sub else {
        return Err(CmdError::new("Subcommand is required", "cmd_log.py", 108));
    };
    if !["chapters", "read", "segment", "delete"].contains(&sub) {
        return Err(CmdError::new(format!("Unknown subcommand: {sub}"), "cmd_log.py", 114));
    }
    // The permission check runs before argument validation (cmd_log.py:207-209).
    if sub == "delete" && !perms.control {
        return Err(denied("task.control"));
    }
    if sub != "delete" && !perms.monitor {
        return Err(denied("task.monitor"));
    }
    let text = |k: &str| args.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let Some(project) = text("projectId") else { return Err(CmdError::new("projectId is required", "cmd_log.py", 142)) };
    let Some(source) = text("source") else { return Err(CmdError::new("source is required", "cmd_log.py", 144)) };
    let run_kind = match text("runKind") {
        Some(k @ ("dev" | "deploy")) => k,
        _ => return Err(CmdError::new("runKind must be one of ['deploy', 'dev']", "cmd_log.py", 146)),
    };
    let key = stream_key(project, source, run_kind);
    match sub {
        "chapters" => Ok(Some(chapters(log.streams.get(&key)))),
        "read" => Ok(Some(read(log.streams.get(&key), args))),
        "segment" => segment(log.streams.get(&key), args),
        _ => delete(log.streams.get_mut(&key), args),
    }
}

fn chapters(stream: Option<&Stream>) -> String {
    let Some(s) = stream else {
        return r#"{"chapters":[],"segments":[],"startTime":null,"endTime":null,"horizonSeq":0,"completed":true}"#.into();
    };
    let chapters: Vec<String> = s
        .chapters
        .iter()
        .map(|c| {
            Obj::new()
                .set("beginTime", &c.begin_time)
                .set("beginSeq", &c.begin_seq)
                .set("endTime", &c.end_time)
                .set("outcome", &c.outcome)
                .done()
        })
        .collect();
    let segments: Vec<String> = s
        .segments
        .iter()
        .map(|g| {
            Obj::new()
                .set("id", &g.id)
                .set("seq", &g.first_seq())
                .set("startTime", &g.start)
                .set("endTime", &g.end)
                .set("chapterStart", &g.chapter_start)
                .done()
        })
        .collect();
    Obj::new()
        .raw("chapters", &array_of(&chapters))
        .raw("segments", &array_of(&segments))
        .set("startTime", &s.segments.front().map(|g| g.start))
        .set("endTime", &s.segments.back().map(|g| g.end))
        .set("horizonSeq", &s.horizon_seq)
        .set("completed", &!s.open)
        .done()
}

/// A page bound: absent or 0 → the default (= maximum), larger → clamped, negative → `None`
/// (the real server then answers every page empty, spec §8.5.4 quirks).
fn bound(v: Option<&Value>, max: i64) -> Option<usize> {
    match v.and_then(Value::as_i64).unwrap_or(0) {
        0 => Some(max as usize),
        n if n < 0 => None,
        n => Some(n.min(max) as usize),
    }
}

/// `types`: a list of event names matches exactly; a bare string is a substring test
/// (Python's `in`), as the real server does it.
fn type_matches(types: Option<&Value>, event: &str) -> bool {
    match types {
        Some(Value::Array(names)) => names.iter().any(|n| n.as_str() == Some(event)),
        Some(Value::String(s)) => s.contains(event),
        _ => true,
    }
}

fn read(stream: Option<&Stream>, args: &Map<String, Value>) -> String {
    let Some(s) = stream else { return r#"{"events":[]}"#.into() };
    let u = |k: &str| args.get(k).and_then(Value::as_u64);
    let f = |k: &str| args.get(k).and_then(Value::as_f64);
    let cursor = u("cursor");
    let from_seq = cursor.or(u("fromSeq")).unwrap_or(0);
    let to_seq = u("toSeq");
    // A cursor overrides fromSeq and clears fromTime.
    let from_time = if cursor.is_some() { None } else { f("fromTime") };
    let to_time = f("toTime");
    let to_segment = u("toSegment");
    let types = args.get("types");
    let (Some(max_events), Some(max_bytes)) = (bound(args.get("maxEvents"), MAX_EVENTS), bound(args.get("maxBytes"), MAX_BYTES))
    else {
        return Obj::new().raw("events", "[]").set("nextSeq", &from_seq).done();
    };
    let first_retained = s.segments.iter().find_map(Segment::first_seq);
    let truncated = (s.horizon_seq > 0 && first_retained.is_some_and(|f| from_seq < f)).then_some(s.horizon_seq);
    let mut events: Vec<&str> = Vec::new();
    let mut bytes = 0usize;
    let mut next = None;
    'segments: for seg in s.segments.iter().filter(|g| to_segment.is_none_or(|t| g.id <= t)) {
        for line in &seg.lines {
            if line.seq < from_seq || from_time.is_some_and(|t| line.time < t) || to_time.is_some_and(|t| line.time > t) {
                continue;
            }
            if to_seq.is_some_and(|t| line.seq > t) {
                break 'segments;
            }
            if !type_matches(types, &line.event) {
                continue;
            }
            if events.len() >= max_events || bytes + line.text.len() > max_bytes {
                next = Some(line.seq);
                break 'segments;
            }
            bytes += line.text.len();
            events.push(&line.text);
        }
    }
    let items: Vec<String> = events.into_iter().map(str::to_owned).collect();
    Obj::new().raw("events", &array_of(&items)).set_opt("nextSeq", next.as_ref()).set_opt("truncatedAtSeq", truncated.as_ref()).done()
}

/// Largest `segment` chunk returned at once.
const SEGMENT_CHUNK: usize = 1024 * 1024;

fn segment(stream: Option<&Stream>, args: &Map<String, Value>) -> CmdResult {
    let Some(id) = args.get("segment").and_then(Value::as_u64) else {
        return Err(CmdError::new("segment is required", "cmd_log.py", 243));
    };
    let offset = args.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let seg = stream.and_then(|s| s.segments.iter().find(|g| g.id == id));
    let data: String = seg.map(|g| g.lines.iter().map(|l| format!("{}\n", l.text)).collect()).unwrap_or_default();
    let start = offset.min(data.len());
    let mut end = (start + SEGMENT_CHUNK).min(data.len());
    while !data.is_char_boundary(end) {
        end -= 1;
    }
    let chunk = &data[start..end];
    let at_end = end >= data.len();
    Ok(Some(
        Obj::new()
            .set("segment", &id)
            .set("offset", &start)
            .set("data", chunk)
            .set("size", &data.len())
            .set("nextOffset", &(!at_end).then_some(end))
            .set("final", &(at_end && seg.is_none_or(|g| g.sealed)))
            .done(),
    ))
}

fn delete(stream: Option<&mut Stream>, args: &Map<String, Value>) -> CmdResult {
    let all = args.get("all").and_then(Value::as_bool).unwrap_or(false);
    let before = args.get("beforeTime").and_then(Value::as_f64);
    if !all && before.is_none() {
        return Err(CmdError::new("Either beforeTime or all is required", "cmd_log.py", 281));
    }
    let mut deleted = 0usize;
    if let Some(s) = stream {
        let keep = |g: &Segment| !g.sealed || !(all || before.is_some_and(|b| g.end < b));
        let before_len = s.segments.len();
        s.segments.retain(keep);
        deleted = before_len - s.segments.len();
        let first = s.segments.front().map(|g| g.start);
        s.chapters.retain(|c| c.end_time.is_none() || first.is_some_and(|f| c.begin_time >= f));
    }
    Ok(Some(Obj::new().set("deletedSegments", &deleted).done()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const ALL: Perms = Perms { monitor: true, control: true };

    fn run(log: &mut RunLog, next: &mut u64, events: usize) -> u64 {
        let begin = log.open("p", "s", next, 1.0, Obj::new().set("action", "run-begin"));
        for i in 0..events {
            let seq = *next;
            *next += 1;
            let text = format!(r#"{{"type":"event","event":"output","body":{{"n":{i},"logSeq":{seq}}}}}"#);
            log.record("p", "s", seq, 2.0, "output", text);
        }
        let seq = *next;
        *next += 1;
        log.close("p", "s", seq, 3.0, "ok", "");
        begin
    }

    #[test]
    fn chapters_of_two_runs_continue_the_stream() {
        let mut log = RunLog::default();
        let never = command(&mut log, &args(json!({"subcommand":"chapters","projectId":"p","source":"s","runKind":"dev"})), ALL).unwrap().unwrap();
        assert_eq!(never, r#"{"chapters":[],"segments":[],"startTime":null,"endTime":null,"horizonSeq":0,"completed":true}"#);
        let mut next = 2; // the STARTING status took 1
        assert_eq!(run(&mut log, &mut next, 3), 2);
        let mut fresh = 2;
        assert_eq!(run(&mut log, &mut fresh, 1), 7, "lifted past the stream's lastSeq (6)");
        let body = command(&mut log, &args(json!({"subcommand":"chapters","projectId":"p","source":"s","runKind":"dev"})), ALL).unwrap().unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["chapters"][1]["beginSeq"], 7);
        assert_eq!(v["chapters"][0]["outcome"], "ok");
        assert_eq!(v["segments"].as_array().unwrap().len(), 2);
        assert_eq!(v["segments"][1]["chapterStart"], true);
        assert_eq!(v["completed"], true);
    }

    #[test]
    fn read_pages_with_cursor_and_bounds() {
        let mut log = RunLog::default();
        let mut next = 2;
        run(&mut log, &mut next, 10);
        let read = |log: &mut RunLog, extra: Value| -> Value {
            let mut a = args(json!({"subcommand":"read","projectId":"p","source":"s","runKind":"dev"}));
            a.extend(args(extra));
            serde_json::from_str(&command(log, &a, ALL).unwrap().unwrap()).unwrap()
        };
        let page = read(&mut log, json!({"fromSeq": 3, "maxEvents": 4}));
        let seqs: Vec<u64> = page["events"].as_array().unwrap().iter().map(|e| e["body"]["logSeq"].as_u64().unwrap()).collect();
        assert_eq!(seqs, vec![3, 4, 5, 6]);
        assert_eq!(page["nextSeq"], 7);
        let page = read(&mut log, json!({"cursor": 7, "fromSeq": 1, "maxEvents": 100}));
        assert_eq!(page["events"].as_array().unwrap().len(), 7, "7..=12 outputs and run-end");
        assert!(page.get("nextSeq").is_none(), "exhausted");
        let page = read(&mut log, json!({"fromSeq": 3, "toSeq": 4}));
        assert_eq!(page["events"].as_array().unwrap().len(), 2);
        assert!(page.get("nextSeq").is_none());
        let page = read(&mut log, json!({"types": ["apaevt_log_lifecycle"]}));
        assert_eq!(page["events"].as_array().unwrap().len(), 2);
        let stuck = read(&mut log, json!({"cursor": 5, "maxEvents": -1}));
        assert_eq!(stuck, json!({"events": [], "nextSeq": 5}));
        let unknown = command(&mut log, &args(json!({"subcommand":"read","projectId":"p","source":"s","runKind":"deploy"})), ALL);
        assert_eq!(unknown.unwrap().unwrap(), r#"{"events":[]}"#);
    }

    #[test]
    fn eviction_sets_the_horizon() {
        let mut log = RunLog::default();
        let mut next = 1;
        for _ in 0..(MAX_SEGMENTS + 3) {
            run(&mut log, &mut next, 1);
        }
        let body = command(&mut log, &args(json!({"subcommand":"chapters","projectId":"p","source":"s","runKind":"dev"})), ALL).unwrap().unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["segments"].as_array().unwrap().len(), MAX_SEGMENTS);
        let first = v["segments"][0]["seq"].as_u64().unwrap();
        assert!(v["horizonSeq"].as_u64().unwrap() > 0 && v["horizonSeq"].as_u64().unwrap() < first);
        let page = command(&mut log, &args(json!({"subcommand":"read","projectId":"p","source":"s","runKind":"dev","fromSeq":1,"maxEvents":1})), ALL).unwrap().unwrap();
        let v2: Value = serde_json::from_str(&page).unwrap();
        assert_eq!(v2["truncatedAtSeq"], v["horizonSeq"]);
    }

    #[test]
    fn errors_and_permissions() {
        let mut log = RunLog::default();
        let e = |log: &mut RunLog, a: Value, p: Perms| command(log, &args(a), p).unwrap_err().message;
        assert_eq!(e(&mut log, json!({}), ALL), "Subcommand is required");
        assert_eq!(e(&mut log, json!({"subcommand":"x"}), ALL), "Unknown subcommand: x");
        let none = Perms { monitor: false, control: false };
        assert_eq!(e(&mut log, json!({"subcommand":"read"}), none), "Permission 'task.monitor' denied", "permission first");
        assert_eq!(e(&mut log, json!({"subcommand":"read"}), ALL), "projectId is required");
        assert_eq!(e(&mut log, json!({"subcommand":"read","projectId":"p"}), ALL), "source is required");
        assert_eq!(e(&mut log, json!({"subcommand":"read","projectId":"p","source":"s"}), ALL), "runKind must be one of ['deploy', 'dev']");
        assert_eq!(e(&mut log, json!({"subcommand":"segment","projectId":"p","source":"s","runKind":"dev"}), ALL), "segment is required");
        assert_eq!(e(&mut log, json!({"subcommand":"delete","projectId":"p","source":"s","runKind":"dev"}), ALL), "Either beforeTime or all is required");
        let monitor_only = Perms { monitor: true, control: false };
        assert_eq!(e(&mut log, json!({"subcommand":"delete"}), monitor_only), "Permission 'task.control' denied");
    }

    #[test]
    fn segments_and_delete() {
        let mut log = RunLog::default();
        let mut next = 1;
        run(&mut log, &mut next, 2);
        let base = json!({"projectId":"p","source":"s","runKind":"dev"});
        let mut a = args(base.clone());
        a.insert("subcommand".into(), json!("segment"));
        a.insert("segment".into(), json!(0));
        let v: Value = serde_json::from_str(&command(&mut log, &a, ALL).unwrap().unwrap()).unwrap();
        assert_eq!(v["data"].as_str().unwrap().lines().count(), 4);
        assert_eq!(v["final"], true);
        assert!(v["nextOffset"].is_null());
        let mut d = args(base);
        d.insert("subcommand".into(), json!("delete"));
        d.insert("all".into(), json!(true));
        assert_eq!(command(&mut log, &d, ALL).unwrap().unwrap(), r#"{"deletedSegments":1}"#);
    }
}

//! Gapless recovery where the server offers it (spec §8.5.6): after a reconnect, the events
//! a stream missed while the client was offline are read back from a newer server's run
//! log (`rrext_log`) and delivered in order, before what arrived live since.
//!
//! Sans-IO like the rest of the plug-in: [`Replay`] takes live events, log responses and
//! losses, and answers with [`Step`]s (requests to send, events to deliver, the report for
//! `resync`) that the client carries out.
//!
//! **Streams.** A stream is `(projectId, source, runKind)`; `runKind` is `"dev"` (live events
//! do not say it, and this client launches nothing else). Per stream the client keeps
//! `last`, the highest `body.logSeq` applied for the current run: it never goes down on the
//! run-start jump (a fresh task stamps its STARTING status with logSeq 1, §8.5.2), but an
//! `apaevt_task begin` sets it to the begin's own logSeq, so a run that re-issues numbers
//! (after a server crash, or unlogged) is followed.
//!
//! **Support** is detected passively: a task event with a numeric `body.logSeq`. Servers
//! without stamps never get a log request. The first log request after a reconnect is
//! `chapters`, which doubles as the active probe: `Invalid command: rrext_log` marks the
//! server unsupported for good (reported once, never asked again).
//!
//! **After a loss**, for every stream with a `last`:
//! 1. live stamped events of the stream are buffered instead of applied, remembering the
//!    first one past `last` (`firstLive`); an unstamped status (the SUMMARY seed, or a
//!    re-seeded `rrext_get_task_status`) is held aside, the newest kept;
//! 2. once live, `chapters` tells whether a new run started while away (a chapter's
//!    `beginSeq > last`) and whether the window aged out (`segments[0].seq > last + 1`);
//! 3. `read` from `last + 1` to `firstLive - 1` (no `toSeq` while nothing arrived live),
//!    with `types` = the event names the subscriptions would have received live, paging
//!    with `cursor = nextSeq` until a page has none, and giving up when a page is empty
//!    with `nextSeq` equal to the cursor, or the cursor does not advance;
//! 4. the replayed events are filtered (names no subscription would have received live,
//!    e.g. the log-only `apaevt_log_lifecycle`, `exited`, `terminated`), deduplicated by
//!    logSeq *inside* `[last + 1, firstLive)` only (logSeq is not unique for all time);
//! 5. when every stream is done: the report ([`Step::Finished`], the `resync` diagnostic),
//!    then per stream the replayed events (marked replayed), the held seed, and the
//!    buffered live events, each in logSeq order.
//!
//! A loss during the replay reports the streams as interrupted and keeps what was read and
//! buffered: the next reconnect resumes from the cursor. Buffers are bounded: a stream
//! whose buffers fill up is delivered at once with an `overflow` report of what is left.

use std::borrow::Cow;


use super::envelope::Response;
use super::events::{decode_event_text, RocketRideEvent, TaskEvent};
use super::monitor_types::MonitorTypes;
use crate::core::json_read::{self, decode_object, Decode, IfReadable, JsonText, RawJson, Reader};
use crate::core::outputs::{ReplayedRange, Unreplayable, UnreplayableReason};
use crate::core::sort::sort_by_u64;
use crate::core::sorted_map::SortedMap;
use crate::core::json_write::quoted;
use crate::core::wire::ObjectText;

/// The log command (spec §8.5.4).
pub const LOG_COMMAND: &str = "rrext_log";
/// The run kind of every stream this client replays (live events do not carry it).
pub const RUN_KIND: &str = "dev";

/// Tunables. `Default` is what a browser dashboard wants.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayConfig {
    /// `maxEvents` of one `read` page (the server caps it at 2000).
    pub page_events: u64,
    /// Pages read for one stream at most.
    pub max_pages: u32,
    /// Replayed events held for one stream at most; the rest of the window is reported.
    pub max_replayed: usize,
    /// Live events buffered for one stream during its replay at most.
    pub max_live: usize,
    /// Streams remembered at most (the least recently seen are forgotten).
    pub max_streams: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            page_events: 1000,
            max_pages: 200,
            max_replayed: 50_000,
            max_live: 10_000,
            max_streams: 1024,
        }
    }
}

/// A newer server's run-log number of an event (`body.logSeq`, spec §8.5.2); `None` without
/// a numeric one (old servers, seeds, dashboard events). Taken from the typed fields, so a
/// frame is read once (reading the frame again for it cost a newer server's stream ~40 %
/// more time per event); the body of an event this SDK has no type for is read for it.
pub fn log_seq_of(event: &RocketRideEvent) -> Option<u64> {
    match event {
        RocketRideEvent::Unknown(unknown) => log_seq_in(&unknown.raw),
        _ => event.log_seq(),
    }
}

/// `logSeq` in an event body kept as text; a body that does not mention it costs one scan.
fn log_seq_in(body: &str) -> Option<u64> {
    if !body.contains("\"logSeq\"") {
        return None;
    }
    let clean = super::json::sanitize_non_finite(body.as_bytes());
    let text = std::str::from_utf8(&clean).ok()?;
    json_read::read_all(text, StampFields::decode).ok()?.log_seq.0
}

/// The body field [`log_seq_in`] reads: `None` when absent or of another type.
struct StampFields {
    log_seq: IfReadable<u64>,
}

impl<'a> Decode<'a> for StampFields {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, StampFields { log_seq: "logSeq" => or_default })
    }
}

/// One stream of a newer server's run log. Ordered by source first: a project's streams
/// share its 36-character id, and every stamped event looks its stream up.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub source: String,
    pub project_id: String,
}

impl StreamId {
    pub fn new(project_id: &str, source: &str) -> Self {
        Self {
            project_id: project_id.to_owned(),
            source: source.to_owned(),
        }
    }

    /// `"<projectId>/<source>/<runKind>"`, as reports name it.
    pub fn label(&self) -> String {
        format!("{}/{}/{RUN_KIND}", self.project_id, self.source)
    }

    /// The `rrext_log` arguments naming this stream, to which a subcommand's own are added.
    fn args(&self, subcommand: &str) -> ObjectText {
        ObjectText::new().field("subcommand", subcommand).field("projectId", &self.project_id).field("source", &self.source).field("runKind", RUN_KIND)
    }
}

/// A log request in flight; it comes back to [`Replay::on_response`] or
/// [`Replay::on_expired`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogRequest {
    Chapters { stream: StreamId },
    Read { stream: StreamId, cursor: u64 },
}

impl LogRequest {
    fn stream(&self) -> &StreamId {
        match self {
            LogRequest::Chapters { stream } | LogRequest::Read { stream, .. } => stream,
        }
    }
}

/// What the client must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Send `rrext_log` with `args`.
    Send { args: JsonText, request: LogRequest },
    /// Apply a live event (or a seed) as usual: learn from it and route it.
    Live {
        seq: Option<u64>,
        event: RocketRideEvent,
    },
    /// Deliver an event read back from the log, marked replayed; it belongs to `stream`.
    Replayed {
        stream: StreamId,
        event: RocketRideEvent,
    },
    /// The replay after a reconnect is over: report it in `resync`.
    Finished {
        replayed: Vec<ReplayedRange>,
        unreplayable: Vec<Unreplayable>,
    },
}

/// Whether the server keeps a run log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// No stamped event seen yet.
    Unknown,
    Supported,
    /// `rrext_log` was refused as an unknown command.
    Unsupported,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Buffering while offline (or subscribing); the replay starts once live.
    Offline,
    Chapters,
    Reading {
        cursor: u64,
        pages: u32,
    },
    /// Read (or given up); waits for the other streams before being delivered.
    Done,
}

/// A stream's missed window and what was gathered to close it.
#[derive(Debug)]
struct Gap {
    /// `last + 1` when the connection was lost.
    from: u64,
    /// The first live logSeq past `last` on the new connection.
    first_live: Option<u64>,
    phase: Phase,
    /// Where an interrupted read resumes.
    resume: Option<u64>,
    /// Event names the subscriptions would have received live.
    names: Vec<&'static str>,
    replayed: SortedMap<u64, RocketRideEvent>,
    /// Replayed logSeqs delivered or held, for dedupe inside the window.
    highest_read: Option<u64>,
    seed: Option<RocketRideEvent>,
    live: Vec<(u64, Option<u64>, RocketRideEvent)>,
    new_run: bool,
    /// Log entries of wanted names that did not decode.
    undecodable: u64,
    /// Why (part of) the window could not be replayed; reported when it is delivered.
    notes: Vec<Unreplayable>,
    complete: bool,
}

impl Gap {
    /// Ends this window's replay: what is left of it, from `from`, cannot be replayed.
    fn stop(&mut self, stream: String, reason: UnreplayableReason, message: String, from: Option<u64>) {
        self.notes.push(Unreplayable { stream, reason, message, from, to: self.to() });
        self.phase = Phase::Done;
    }

    fn new(from: u64) -> Self {
        Gap {
            from,
            first_live: None,
            phase: Phase::Offline,
            resume: None,
            names: Vec::new(),
            replayed: SortedMap::new(),
            highest_read: None,
            seed: None,
            live: Vec::new(),
            new_run: false,
            undecodable: 0,
            notes: Vec::new(),
            complete: false,
        }
    }

    /// The last position the window covers, when known.
    fn to(&self) -> Option<u64> {
        self.first_live.map(|f| f.saturating_sub(1))
    }

    fn active(&self) -> bool {
        matches!(self.phase, Phase::Chapters | Phase::Reading { .. })
    }
}

#[derive(Debug, Default)]
struct Stream {
    /// Highest logSeq applied for the current run (0: none).
    last: u64,
    /// The current run's chapter id (`apaevt_task begin.beginSeq`).
    begin_seq: Option<u64>,
    /// The task id of the stream's events (replayed engine events may lack `__id`).
    task_id: Option<String>,
    /// Ticks of the stream's last use, to forget the least recent.
    used: u64,
    gap: Option<Gap>,
}

/// The replay state machine. See the module docs.
#[derive(Debug)]
pub struct Replay {
    config: ReplayConfig,
    support: Support,
    streams: SortedMap<StreamId, Stream>,
    tick: u64,
    /// Reports gathered since the last [`Step::Finished`].
    unreplayable: Vec<Unreplayable>,
}

impl Replay {
    pub fn new(config: ReplayConfig) -> Self {
        Self {
            config,
            support: Support::Unknown,
            streams: SortedMap::new(),
            tick: 0,
            unreplayable: Vec::new(),
        }
    }

    /// Whether the server keeps a run log, as far as seen.
    #[must_use]
    pub fn support(&self) -> Support {
        self.support
    }

    /// The highest logSeq applied on `stream` for its current run (0: none).
    #[must_use]
    pub fn last(&self, stream: &StreamId) -> u64 {
        self.streams.get(stream).map_or(0, |s| s.last)
    }

    /// The current run's `beginSeq` on `stream`, when seen.
    #[must_use]
    pub fn begin_seq(&self, stream: &StreamId) -> Option<u64> {
        self.streams.get(stream).and_then(|s| s.begin_seq)
    }

    /// Events of received frames held back until their stream's replay is done (the live
    /// events that arrived meanwhile, and the seed).
    #[must_use]
    pub fn held(&self) -> usize {
        let gaps = self.streams.values().filter_map(|s| s.gap.as_ref());
        gaps.map(|g| g.live.len() + usize::from(g.seed.is_some())).sum()
    }

    /// True while a stream's events are held for its replay.
    #[must_use]
    pub fn recovering(&self) -> bool {
        self.streams.values().any(|s| s.gap.is_some())
    }

    /// A live event (or a seed): `log_seq` its `logSeq` ([`log_seq_of`]), `stream` its stream
    /// when the client can tell. Pushes what to apply now (maybe nothing: it is held).
    pub fn on_live(
        &mut self,
        seq: Option<u64>,
        log_seq: Option<u64>,
        stream: Option<StreamId>,
        event: RocketRideEvent,
        out: &mut Vec<Step>,
    ) {
        if log_seq.is_some() && self.support == Support::Unknown {
            self.support = Support::Supported;
        }
        let id = stream.filter(|s| !s.project_id.is_empty() && !s.source.is_empty() && s.source != "*");
        let Some(id) = id else {
            return out.push(Step::Live { seq, event });
        };
        let Some(log_seq) = log_seq else {
            // An unstamped status during a replay is the SUMMARY seed (or a re-seed): it is
            // the snapshot at subscribe time, delivered after the replayed events.
            let gap = self.streams.get_mut(&id).and_then(|s| s.gap.as_mut());
            match gap {
                Some(gap) if matches!(event, RocketRideEvent::TaskStatus(_)) => gap.seed = Some(event),
                _ => out.push(Step::Live { seq, event }),
            }
            return;
        };
        self.tick += 1;
        let tick = self.tick;
        if !self.streams.contains_key(&id) {
            self.make_room();
            self.streams.insert(id.clone(), Stream::default());
        }
        let stream = self.streams.get_mut(&id).expect("inserted");
        stream.used = tick;
        // Copied only when it changes: this runs for every event of a newer server.
        if let Some(task_id) = event.task_id().filter(|t| stream.task_id.as_deref() != Some(*t)) {
            stream.task_id = Some(task_id.to_owned());
        }
        let Some(gap) = stream.gap.as_mut() else {
            apply(stream, log_seq, &event);
            return out.push(Step::Live { seq, event });
        };
        if log_seq >= gap.from {
            gap.first_live = Some(gap.first_live.map_or(log_seq, |f| f.min(log_seq)));
        }
        gap.live.push((log_seq, seq, event));
        if gap.live.len() > self.config.max_live {
            let message = format!(
                "more than {} live events waited for the replay; it was given up",
                self.config.max_live
            );
            self.give_up(&id, UnreplayableReason::Overflow, message);
            // Reported with the next `resync` (the one under way, or the reconnect's).
            let notes = std::mem::take(&mut self.gap(&id).notes);
            self.unreplayable.extend(notes);
            self.deliver_now(&id, out);
        }
    }

    /// The connection is gone. Streams with a `last` start buffering for their replay;
    /// a replay under way is reported as interrupted and resumes after the reconnect.
    pub fn on_lost(&mut self, out: &mut Vec<Step>) {
        if self.support == Support::Unsupported {
            return;
        }
        let active = self.streams.values().any(|s| {
            s.gap
                .as_ref()
                .is_some_and(|g| g.active() || g.phase == Phase::Done)
        });
        if active {
            let mut interrupted = Vec::new();
            for (id, s) in self.streams.iter_mut() {
                let Some(gap) = s.gap.as_mut() else { continue };
                if let Phase::Reading { cursor, .. } = gap.phase {
                    gap.resume = Some(cursor);
                }
                if gap.active() {
                    gap.phase = Phase::Offline;
                    interrupted.push(Unreplayable {
                        stream: id.label(),
                        reason: UnreplayableReason::Interrupted,
                        message: "the connection was lost during the replay; it resumes after the reconnect".into(),
                        from: Some(gap.resume.unwrap_or(gap.from)),
                        to: gap.to(),
                    });
                }
            }
            self.unreplayable.extend(interrupted);
            self.finish(out);
        }
        for s in self.streams.values_mut() {
            if s.last > 0 && s.gap.is_none() {
                s.gap = Some(Gap::new(s.last + 1));
            }
        }
    }

    /// The connection is live again: asks the log for every stream's missed window.
    /// `wanted` gives the event names the subscriptions would receive live on a stream
    /// (none: the stream is not replayed). True when a replay is under way (the `resync`
    /// report then comes with [`Step::Finished`]).
    pub fn start(
        &mut self,
        wanted: impl Fn(&StreamId, Option<&str>) -> Vec<&'static str>,
        out: &mut Vec<Step>,
    ) -> bool {
        let mut started = false;
        let ids: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.gap.as_ref().is_some_and(|g| g.phase == Phase::Offline))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let stream = self.streams.get_mut(&id).expect("a stream");
            let names = wanted(&id, stream.task_id.as_deref());
            let gap = stream.gap.as_mut().expect("a gap");
            if names.is_empty() || self.support == Support::Unsupported {
                // Nobody listens any more: what was buffered is applied as it is.
                self.deliver_now(&id, out);
                continue;
            }
            gap.names = names;
            gap.phase = Phase::Chapters;
            out.push(Step::Send {
                args: id.args("chapters").done(),
                request: LogRequest::Chapters { stream: id.clone() },
            });
            started = true;
        }
        if !started && !self.unreplayable.is_empty() {
            // Nothing to read, but something to report (a buffer that overflowed offline).
            let unreplayable = std::mem::take(&mut self.unreplayable);
            out.push(Step::Finished {
                replayed: Vec::new(),
                unreplayable,
            });
        }
        started
    }

    /// A response to a log request.
    pub fn on_response(&mut self, request: LogRequest, response: &Response, out: &mut Vec<Step>) {
        if !self.is_current(&request) {
            return;
        }
        let id = request.stream().clone();
        if !response.success {
            let message = response
                .message
                .clone()
                .unwrap_or_else(|| "rrext_log failed".into());
            if message.starts_with("Invalid command") {
                self.unsupported(message, out);
                return;
            }
            self.give_up(
                &id,
                UnreplayableReason::Refused,
                format!("the server refused the log read: {message}"),
            );
            return self.finish_if_done(out);
        }
        let body = response.body.as_deref().unwrap_or("{}");
        match request {
            LogRequest::Chapters { .. } => self.on_chapters(&id, body, out),
            LogRequest::Read { cursor, .. } => self.on_read(&id, cursor, body, out),
        }
        self.finish_if_done(out);
    }

    /// A log request got no answer in time (or could not be sent).
    pub fn on_expired(&mut self, request: LogRequest, out: &mut Vec<Step>) {
        if !self.is_current(&request) {
            return;
        }
        let id = request.stream().clone();
        self.give_up(
            &id,
            UnreplayableReason::Timeout,
            "the server did not answer the log request in time".into(),
        );
        self.finish_if_done(out);
    }

    // ── internals ───────────────────────────────────────────────────────────

    fn is_current(&self, request: &LogRequest) -> bool {
        let gap = self
            .streams
            .get(request.stream())
            .and_then(|s| s.gap.as_ref());
        match (request, gap.map(|g| &g.phase)) {
            (LogRequest::Chapters { .. }, Some(Phase::Chapters)) => true,
            (LogRequest::Read { cursor, .. }, Some(Phase::Reading { cursor: c, .. })) => {
                cursor == c
            }
            _ => false,
        }
    }

    fn gap(&mut self, id: &StreamId) -> &mut Gap {
        self.streams
            .get_mut(id)
            .and_then(|s| s.gap.as_mut())
            .expect("a gap")
    }

    fn on_chapters(&mut self, id: &StreamId, body: &str, out: &mut Vec<Step>) {
        let chapters: Chapters = json_read::from_str(body).unwrap_or_default();
        let label = id.label();
        let last = self.streams[id].last;
        let gap = self.gap(id);
        if chapters.chapters.is_empty() && chapters.segments.is_empty() {
            let message = "the server's log holds nothing for this stream (another owner, another run kind, or an unlogged run)";
            return gap.stop(label, UnreplayableReason::EmptyLog, message.into(), Some(gap.from));
        }
        gap.new_run = chapters
            .chapters
            .iter()
            .any(|c| c.begin_seq.is_some_and(|b| b > last));
        let first_kept = chapters.segments.iter().find_map(|s| s.seq);
        if let Some(first) = first_kept.filter(|&f| f > gap.from) {
            let to = gap.to().map_or(first - 1, |t| t.min(first - 1));
            let from = gap.resume.unwrap_or(gap.from);
            if from <= to {
                gap.notes.push(Unreplayable {
                    stream: label,
                    reason: UnreplayableReason::AgedOut,
                    message: "the oldest part of the window is no longer kept by the server".into(),
                    from: Some(from),
                    to: Some(to),
                });
            }
        }
        let cursor = gap.resume.take().unwrap_or(gap.from);
        self.read(id, cursor, 0, true, out);
    }

    /// Asks for one page from `cursor` (or ends the read when the window is empty): a
    /// `logSeq` (`from_seq`), or the server's `nextSeq` cursor.
    fn read(&mut self, id: &StreamId, cursor: u64, pages: u32, from_seq: bool, out: &mut Vec<Step>) {
        let page_events = self.config.page_events;
        let max_pages = self.config.max_pages;
        let gap = self.gap(id);
        if gap.to().is_some_and(|to| to < cursor) {
            gap.complete = true;
            gap.phase = Phase::Done;
            return;
        }
        if pages >= max_pages {
            let from = Some(cursor);
            let message =
                format!("the window took more than {max_pages} pages; the rest was given up");
            return gap.stop(id.label(), UnreplayableReason::Overflow, message, from);
        }
        let mut args = id.args("read").field(if from_seq { "fromSeq" } else { "cursor" }, &cursor);
        if let Some(to) = gap.to() {
            args = args.field("toSeq", &to);
        }
        let args = args.field("maxEvents", &page_events).field("types", &gap.names).done();
        gap.phase = Phase::Reading {
            cursor,
            pages: pages + 1,
        };
        out.push(Step::Send {
            args,
            request: LogRequest::Read {
                stream: id.clone(),
                cursor,
            },
        });
    }

    fn on_read(&mut self, id: &StreamId, cursor: u64, body: &str, out: &mut Vec<Step>) {
        let page: Page = json_read::from_str(body).unwrap_or_default();
        let (max_replayed, page_events) = (self.config.max_replayed, self.config.page_events);
        let stream = self.streams.get_mut(id).expect("a stream");
        let task_id = stream.task_id.clone();
        let gap = stream.gap.as_mut().expect("a gap");
        let Phase::Reading { pages, .. } = gap.phase else {
            return;
        };
        let received = page.events.len();
        let mut highest = None;
        for entry in page.events {
            let (log_seq, event) = match replayed_event(entry, &gap.names, task_id.as_deref()) {
                Entry::Event(log_seq, event) => (log_seq, *event),
                Entry::Unwanted => continue,
                Entry::Undecodable => {
                    gap.undecodable += 1;
                    continue;
                }
            };
            highest = highest.max(Some(log_seq));
            let in_window = log_seq >= gap.from && gap.first_live.is_none_or(|f| log_seq < f);
            if in_window {
                gap.replayed.get_or_insert_with(log_seq, || event);
            }
        }
        gap.highest_read = gap.highest_read.max(highest);
        if gap.replayed.len() > max_replayed {
            let from = gap.replayed.keys().nth(max_replayed).copied();
            gap.replayed.truncate(max_replayed);
            let message = format!(
                "more than {max_replayed} events were missed; the rest of the window was given up"
            );
            return gap.stop(id.label(), UnreplayableReason::Overflow, message, from);
        }
        enum Next {
            Page(u64),
            From(u64),
            Done,
        }
        let next = match page.next_seq {
            Some(next) if next <= cursor => {
                let message = format!("the server's log paging stopped advancing at {cursor}");
                return gap.stop(id.label(), UnreplayableReason::Stuck, message, Some(cursor));
            }
            Some(next) => Next::Page(next),
            // A full page without `nextSeq` may be a server that ends a `toSeq` read there
            // (spec §8.5.4): go on after the last event it returned.
            None => match highest {
                Some(h) if received as u64 >= page_events && gap.to().is_none_or(|t| h < t) => {
                    Next::From(h + 1)
                }
                _ => Next::Done,
            },
        };
        match next {
            Next::Page(next) => self.read(id, next, pages, false, out),
            Next::From(next) => self.read(id, next, pages, true, out),
            Next::Done => {
                let gap = self.gap(id);
                gap.complete = true;
                gap.phase = Phase::Done;
            }
        }
    }

    /// Ends a stream's replay for `reason`, keeping what was read.
    fn give_up(&mut self, id: &StreamId, reason: UnreplayableReason, message: String) {
        let Some(gap) = self.streams.get_mut(id).and_then(|s| s.gap.as_mut()) else {
            return;
        };
        let from = match gap.phase {
            Phase::Reading { cursor, .. } => cursor,
            _ => gap.resume.unwrap_or(gap.from),
        };
        let to = gap.to();
        if to.is_none_or(|t| from <= t) {
            gap.notes.push(Unreplayable {
                stream: id.label(),
                reason,
                message,
                from: Some(from),
                to,
            });
        }
        gap.phase = Phase::Done;
    }

    /// The server has no run log: nothing is asked again; buffered events are applied.
    fn unsupported(&mut self, message: String, out: &mut Vec<Step>) {
        self.support = Support::Unsupported;
        for gap in self.streams.values_mut().filter_map(|s| s.gap.as_mut()) {
            gap.phase = Phase::Done;
        }
        let message = format!(
            "the server keeps no event log ({message}); events of the offline interval are lost"
        );
        self.unreplayable.push(Unreplayable {
            stream: "*".into(),
            reason: UnreplayableReason::Unsupported,
            message,
            from: None,
            to: None,
        });
        self.finish(out);
    }

    fn finish_if_done(&mut self, out: &mut Vec<Step>) {
        let waiting = self
            .streams
            .values()
            .any(|s| s.gap.as_ref().is_some_and(|g| g.phase != Phase::Done));
        if !waiting {
            self.finish(out);
        }
    }

    /// Reports, then delivers every stream whose replay is done.
    fn finish(&mut self, out: &mut Vec<Step>) {
        let done: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.gap.as_ref().is_some_and(|g| g.phase == Phase::Done))
            .map(|(id, _)| id.clone())
            .collect();
        let mut replayed = Vec::new();
        let mut unreplayable = std::mem::take(&mut self.unreplayable);
        let mut any_read = false;
        for id in &done {
            let gap = self.streams[id].gap.as_ref().expect("a gap");
            unreplayable.extend(gap.notes.iter().cloned());
            if gap.complete || !gap.replayed.is_empty() {
                any_read = true;
                let to = gap
                    .to()
                    .or(gap.highest_read)
                    .unwrap_or(gap.from.saturating_sub(1))
                    .max(gap.from.saturating_sub(1));
                let count = gap.replayed.len() as u64;
                replayed.push(ReplayedRange {
                    stream: id.label(),
                    from: gap.from,
                    to,
                    count,
                    new_run: gap.new_run,
                });
                if gap.undecodable > 0 {
                    unreplayable.push(Unreplayable {
                        stream: id.label(),
                        reason: UnreplayableReason::Undecodable,
                        message: format!("{} entries of the log could not be decoded and were skipped", gap.undecodable),
                        from: None,
                        to: None,
                    });
                }
                if gap.names.contains(&"apaevt_status_update") {
                    unreplayable.push(Unreplayable {
                        stream: id.label(),
                        reason: UnreplayableReason::SampledStatuses,
                        message: "the log keeps about one status per 5 s plus the final one; the latest status is the re-seed that follows the replayed events".into(),
                        from: None,
                        to: None,
                    });
                }
            }
        }
        if any_read {
            unreplayable.push(Unreplayable {
                stream: "*".into(),
                reason: UnreplayableReason::NotLogged,
                message: "seeds, dashboard events and what a run sent before its log opened (its STARTING status) are not in the log".into(),
                from: None,
                to: None,
            });
        }
        out.push(Step::Finished {
            replayed,
            unreplayable,
        });
        for id in &done {
            self.deliver_now(id, out);
        }
    }

    /// Ends `id`'s gap: replayed events, the held seed, then the buffered live events,
    /// each in logSeq order, applied to the stream as they go.
    fn deliver_now(&mut self, id: &StreamId, out: &mut Vec<Step>) {
        let Some(stream) = self.streams.get_mut(id) else {
            return;
        };
        let Some(gap) = stream.gap.take() else { return };
        for (log_seq, event) in gap.replayed {
            apply(stream, log_seq, &event);
            out.push(Step::Replayed {
                stream: id.clone(),
                event,
            });
        }
        if let Some(seed) = gap.seed {
            out.push(Step::Live {
                seq: None,
                event: seed,
            });
        }
        let mut live = gap.live;
        sort_by_u64(&mut live, |(log_seq, _, _)| *log_seq);
        for (log_seq, seq, event) in live {
            apply(stream, log_seq, &event);
            out.push(Step::Live { seq, event });
        }
    }

    fn make_room(&mut self) {
        while self.streams.len() >= self.config.max_streams {
            let oldest = self
                .streams
                .iter()
                .filter(|(_, s)| s.gap.is_none())
                .min_by_key(|(_, s)| s.used)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => self.streams.remove(&id),
                None => break,
            };
        }
    }
}

/// Moves a stream's `last` on an applied event: `begin` starts a run (its numbers may be
/// lower after a server crash) and names its chapter; otherwise `last` only grows, so the
/// low logSeq of a fresh task's STARTING status does not lower it.
fn apply(stream: &mut Stream, log_seq: u64, event: &RocketRideEvent) {
    if let RocketRideEvent::Task(TaskEvent::Begin(begin)) = event {
        stream.last = log_seq;
        stream.begin_seq = begin.begin_seq.flatten();
    } else {
        stream.last = stream.last.max(log_seq);
    }
}

/// The event names a subscription with `types` receives live (for `read`'s `types`).
pub fn event_names(types: MonitorTypes) -> Vec<&'static str> {
    let mut names = Vec::new();
    let table: [(MonitorTypes, &[&'static str]); 6] = [
        (MonitorTypes::TASK, &["apaevt_task"]),
        (MonitorTypes::SUMMARY, &["apaevt_status_update"]),
        (MonitorTypes::FLOW, &["apaevt_flow"]),
        (MonitorTypes::SSE, &["apaevt_sse"]),
        (MonitorTypes::OUTPUT, &["output"]),
        (
            MonitorTypes::DETAIL,
            &[
                "apaevt_status_object",
                "apaevt_status_counts",
                "apaevt_status_error",
                "apaevt_status_warning",
                "apaevt_status_message",
                "apaevt_status_download",
                "apaevt_status_metrics",
                "apaevt_status_user",
                "apaevt_status_info",
            ],
        ),
    ];
    for (bit, list) in table {
        if types.intersects(bit) {
            names.extend_from_slice(list);
        }
    }
    names
}

/// An `rrext_log chapters` result: the runs and segments the server keeps for a stream.
#[derive(Default)]
struct Chapters {
    chapters: Vec<Chapter>,
    segments: Vec<Segment>,
}

#[derive(Default)]
struct Chapter {
    begin_seq: Option<u64>,
}

#[derive(Default)]
struct Segment {
    seq: Option<u64>,
}

/// An `rrext_log read` result: one page of logged events, each entry as its text.
#[derive(Default)]
struct Page<'a> {
    events: Vec<RawJson<'a>>,
    next_seq: Option<u64>,
}

impl<'a> Decode<'a> for Chapters {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, Chapters { chapters: "chapters" => or_default, segments: "segments" => or_default })
    }
}

impl<'a> Decode<'a> for Chapter {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, Chapter { begin_seq: "beginSeq" })
    }
}

impl<'a> Decode<'a> for Segment {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, Segment { seq: "seq" })
    }
}

impl<'a> Decode<'a> for Page<'a> {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, Page { events: "events" => or_default, next_seq: "nextSeq" })
    }
}

/// Decodes one log entry (`{type, event, body, __id?}`) whose name is in `names`. A body
/// without `__id` (engine events are logged before the server adds it per connection)
/// gets the entry's top-level `__id`, or the stream's task id.
fn replayed_event(entry: RawJson<'_>, names: &[&str], task_id: Option<&str>) -> Entry {
    let (mut name, mut top_id, mut body) = (None, None, None);
    let mut r = Reader::new(entry.0);
    // An entry that is not an object has no name, like one without `event`.
    let _ = json_read::each_field(&mut r, "a log entry", |r, key| {
        match key.as_ref() {
            "event" => name = IfReadable::<Cow<str>>::decode(r)?.0,
            "__id" => top_id = IfReadable::<Cow<str>>::decode(r)?.0,
            "body" => body = Some(r.raw()?),
            _ => drop(r.raw()?),
        }
        Ok(())
    });
    let name = name.unwrap_or_default();
    if !names.contains(&name.as_ref()) {
        return Entry::Unwanted;
    }
    match body.and_then(|body| decode_entry(body, &name, top_id.as_deref().or(task_id))) {
        Some((log_seq, event)) => Entry::Event(log_seq, Box::new(event)),
        None => Entry::Undecodable,
    }
}

/// A log entry, as [`replayed_event`] found it.
enum Entry {
    Event(u64, Box<RocketRideEvent>),
    /// A name the subscriptions would not have received live.
    Unwanted,
    /// A wanted name that did not decode.
    Undecodable,
}

/// A logged body's event and its `logSeq`; `task_id` goes in as `__id` when the body's
/// is missing or is not a non-empty string.
fn decode_entry(body: &str, name: &str, task_id: Option<&str>) -> Option<(u64, RocketRideEvent)> {
    let (mut log_seq, mut id_value) = (None, None);
    let mut r = Reader::new(body);
    json_read::each_field(&mut r, "a log body", |r, key| {
        let value = r.raw()?;
        match key.as_ref() {
            "logSeq" => log_seq = json_read::from_str::<u64>(value).ok(),
            "__id" => id_value = Some(value),
            _ => {}
        }
        Ok(())
    })
    .ok()?;
    let body = match id_value {
        Some(id) if id.starts_with('"') && id != "\"\"" => Cow::Borrowed(body),
        id_value => Cow::Owned(with_task_id(body, id_value, task_id?)),
    };
    let event = decode_event_text(name, &body).ok()?;
    Some((log_seq?, event))
}

/// `body` (an object) with `task_id` as its `__id`: in place of `old`, the text of the value
/// it had, or first.
fn with_task_id(body: &str, old: Option<&str>, task_id: &str) -> String {
    let id = quoted(task_id);
    match old {
        Some(old) => {
            // `old` is a slice of `body`.
            let at = old.as_ptr() as usize - body.as_ptr() as usize;
            format!("{}{id}{}", &body[..at], &body[at + old.len()..])
        }
        None => {
            let open = body.find('{').map_or(0, |at| at + 1);
            let rest = &body[open..];
            let comma = if rest.trim_start().starts_with('}') { "" } else { "," };
            format!("{}\"__id\":{id}{comma}{rest}", &body[..open])
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use super::*;

    const P: &str = "proj";
    const S: &str = "src";
    const TASK: &str = "abcd1234.src";

    fn id() -> StreamId {
        StreamId::new(P, S)
    }

    fn all(_: &StreamId, _: Option<&str>) -> Vec<&'static str> {
        event_names(MonitorTypes::all())
    }

    /// Starts the replay, answers its `chapters` with `chapters`, and returns the `read`
    /// request it sends next (with `out` cleared).
    fn start_to_read(r: &mut Replay, out: &mut Vec<Step>, chapters: Value) -> LogRequest {
        r.start(all, out);
        let (_, req) = sent(out).pop().unwrap();
        out.clear();
        r.on_response(req, &ok(chapters), out);
        let (_, req) = sent(out).pop().unwrap();
        out.clear();
        req
    }

    /// An event as the wire would carry it.
    fn wire(name: &str, body: serde_json::Value) -> RocketRideEvent {
        let raw = serde_json::value::RawValue::from_string(body.to_string()).unwrap();
        crate::protocol::rocketride::events::decode_event(name, &raw).unwrap()
    }

    fn output(n: u64) -> RocketRideEvent {
        wire("output", json!({"category": "console", "output": format!("line {n}\n"), "__id": TASK}))
    }

    fn status() -> crate::protocol::rocketride::task_status::TaskStatus {
        let body = json!({"name":"n","project_id":P,"source":S,"completed":false,"state":3,"startTime":1.0,"endTime":0.0,
          "debuggerAttached":false,"status":"","warnings":[],"errors":[],"currentObject":"","currentSize":0,"notes":[],
          "totalSize":0,"totalCount":0,"completedSize":0,"completedCount":0,"failedSize":0,"failedCount":0,"wordsSize":0,
          "wordsCount":0,"rateSize":0,"rateCount":0,"serviceUp":true,"exitCode":0,"exitMessage":"",
          "pipeflow":{"totalPipes":0,"byPipe":{}},
          "metrics":{"cpu_percent":0.0,"cpu_memory_mb":0.0,"gpu_memory_mb":0.0,"peak_cpu_percent":0.0,"peak_cpu_memory_mb":0.0,
            "peak_gpu_memory_mb":0.0,"avg_cpu_percent":0.0,"avg_cpu_memory_mb":0.0,"avg_gpu_memory_mb":0.0},
          "tokens":{"cpu_utilization":0.0,"cpu_memory":0.0,"gpu_memory":0.0,"gpu_inference":0.0,"custom":{},"total":0.0},"__id":TASK});
        crate::protocol::rocketride::task_status::TaskStatus::from_json(&body.to_string()).unwrap()
    }

    fn stamp(log_seq: u64) -> Option<u64> {
        Some(log_seq)
    }

    fn log_output(n: u64) -> Value {
        json!({"type":"event","event":"output","__id":TASK,"body":{"category":"console","output":format!("line {n}\n"),"logSeq":n,"project_id":P,"source":S}})
    }

    fn ok(body: Value) -> Response {
        Response {
            request_seq: Some(1),
            command: LOG_COMMAND.into(),
            success: true,
            message: None,
            trace: None,
            body: Some(body.to_string().into()),
        }
    }

    fn failed(message: &str) -> Response {
        Response {
            request_seq: Some(1),
            command: LOG_COMMAND.into(),
            success: false,
            message: Some(message.into()),
            trace: None,
            body: None,
        }
    }

    fn chapters(first_seg: u64, begin_seqs: &[u64]) -> Value {
        let chapters: Vec<Value> = begin_seqs
            .iter()
            .map(|b| json!({"beginSeq": b, "beginTime": 1.0, "endTime": null, "outcome": null}))
            .collect();
        json!({"chapters": chapters, "segments": [{"id":0,"seq":first_seg,"startTime":1.0,"endTime":2.0,"chapterStart":true}], "horizonSeq":0, "completed":false})
    }

    /// A replay that has applied live events 1..=n, lost its connection and is live again:
    /// returns the steps of `start` (one `chapters` request).
    fn lost_after(r: &mut Replay, n: u64) -> Vec<Step> {
        let mut out = Vec::new();
        for i in 1..=n {
            r.on_live(Some(i), stamp(i), Some(id()), output(i), &mut out);
        }
        assert_eq!(out.len() as u64, n);
        assert_eq!(r.last(&id()), n);
        out.clear();
        r.on_lost(&mut out);
        assert!(out.is_empty());
        out
    }

    fn sent(out: &[Step]) -> Vec<(Value, LogRequest)> {
        out.iter()
            .filter_map(|s| match s {
                Step::Send { args, request } => Some((args.parse().unwrap(), request.clone())),
                _ => None,
            })
            .collect()
    }

    fn lines(out: &[Step]) -> Vec<(String, String)> {
        out.iter()
            .filter_map(|s| match s {
                Step::Live {
                    event: RocketRideEvent::Output(o),
                    ..
                } => Some(("live".into(), o.output.trim().into())),
                Step::Replayed {
                    event: RocketRideEvent::Output(o),
                    ..
                } => Some(("replayed".into(), o.output.trim().into())),
                Step::Live {
                    event: RocketRideEvent::TaskStatus(_),
                    ..
                } => Some(("seed".into(), String::new())),
                _ => None,
            })
            .collect()
    }

    fn report(out: &[Step]) -> (Vec<ReplayedRange>, Vec<Unreplayable>) {
        out.iter()
            .find_map(|s| match s {
                Step::Finished {
                    replayed,
                    unreplayable,
                } => Some((replayed.clone(), unreplayable.clone())),
                _ => None,
            })
            .expect("a report")
    }

    fn expect(list: &[(&str, u64)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, n)| (k.to_string(), format!("line {n}")))
            .collect()
    }

    #[test]
    fn log_seqs_are_read_from_the_typed_event() {
        let stamped = |mut body: Value| {
            body["logSeq"] = json!(12);
            body
        };
        let begin = wire("apaevt_task", stamped(json!({"action": "begin", "name": "n", "projectId": P, "source": S, "__id": TASK, "beginSeq": 7})));
        let flow = wire("apaevt_flow", stamped(json!({"id": 0, "op": "enter", "pipes": ["a"], "trace": {"lane": "text"},
            "project_id": P, "source": S, "__id": TASK})));
        let line = wire("output", stamped(json!({"category": "console", "output": "x\n", "__id": TASK})));
        let detail = wire("apaevt_status_message", stamped(json!({"message": "m", "__id": TASK})));
        let sse = wire("apaevt_sse", stamped(json!({"pipe_id": 1, "type": "thinking", "data": {}, "__id": TASK})));
        for event in [&begin, &flow, &line, &detail, &sse] {
            assert_eq!(log_seq_of(event), Some(12), "{event:?}");
        }
        let mut seed = RocketRideEvent::task_status(TASK, status());
        assert_eq!(log_seq_of(&seed), None, "a seed is unstamped");
        if let RocketRideEvent::TaskStatus(e) = &mut seed {
            e.log_seq = Some(4);
        }
        assert_eq!(log_seq_of(&seed), Some(4));
        assert_eq!(log_seq_of(&output(1)), None, "an old server's event");
        let text = wire("output", json!({"category": "console", "output": "\"logSeq\"", "__id": TASK}));
        assert_eq!(log_seq_of(&text), None, "only the field counts");
        let null = wire("apaevt_task", json!({"action": "end", "name": "n", "projectId": P, "source": S, "__id": TASK, "logSeq": null}));
        assert_eq!(log_seq_of(&null), None);
    }

    #[test]
    fn an_unknown_events_body_is_read_for_its_log_seq() {
        use crate::protocol::rocketride::events::UnknownEvent;
        let unknown = |raw: &str| log_seq_of(&RocketRideEvent::Unknown(UnknownEvent { event: "x".into(), task_id: None, raw: raw.into() }));
        let paused = wire("apaevt_task", json!({"action": "paused", "logSeq": 9, "__id": TASK}));
        assert!(matches!(paused, RocketRideEvent::Unknown(_)), "an action this SDK has no type for");
        assert_eq!(log_seq_of(&paused), Some(9));
        // Other fields of any type are skipped; `logSeq` must be an integer.
        assert_eq!(unknown(r#"{"source":7,"logSeq":9,"project_id":{"a":[1]}}"#), Some(9));
        assert_eq!(unknown(r#"{"logSeq":18446744073709551615}"#), Some(u64::MAX));
        assert_eq!(unknown(r#"{"logSeq":9,"m":NaN}"#), Some(9), "NaN, as the engine sends it, is read");
        for raw in [
            r#"{}"#,
            r#"{"logSeq":9.0}"#,
            r#"{"logSeq":-9}"#,
            r#"{"logSeq":18446744073709551616}"#,
            r#"{"note":"\"logSeq\""}"#,
            r#"{"logSeq":null}"#,
            r#"{"logSeq":9"#,
            r#"["logSeq"]"#,
        ] {
            assert_eq!(unknown(raw), None, "{raw}");
        }
    }

    #[test]
    fn old_servers_never_get_a_log_request() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = Vec::new();
        r.on_live(Some(1), None, Some(id()), output(1), &mut out);
        r.on_lost(&mut out);
        assert!(!r.start(all, &mut out));
        assert_eq!(out.len(), 1, "the event passed through; nothing sent");
        assert_eq!(r.support(), Support::Unknown);
    }

    #[test]
    fn the_window_is_read_in_pages_and_delivered_before_the_live_buffer() {
        let mut r = Replay::new(ReplayConfig {
            page_events: 2,
            ..ReplayConfig::default()
        });
        let mut out = lost_after(&mut r, 3);
        // Subscribing: a seed and live events arrive before the connection is live.
        let seed = RocketRideEvent::task_status(TASK, status());
        r.on_live(None, None, Some(id()), seed, &mut out);
        r.on_live(Some(5), stamp(9), Some(id()), output(9), &mut out);
        r.on_live(Some(4), stamp(8), Some(id()), output(8), &mut out);
        assert!(out.is_empty(), "held: {out:?}");
        assert!(r.start(all, &mut out));
        let (args, req) = sent(&out).pop().unwrap();
        assert_eq!(
            args,
            json!({"subcommand":"chapters","projectId":P,"source":S,"runKind":"dev"})
        );
        out.clear();
        r.on_response(req, &ok(chapters(1, &[1])), &mut out);
        let (args, req) = sent(&out).pop().unwrap();
        assert_eq!(
            (
                args["fromSeq"].as_u64(),
                args["toSeq"].as_u64(),
                args["maxEvents"].as_u64()
            ),
            (Some(4), Some(7), Some(2))
        );
        assert!(args["types"].as_array().unwrap().contains(&json!("output")));
        out.clear();
        // Page 1: 4 and 5 (a hole at 6 is normal), nextSeq 7.
        r.on_response(
            req,
            &ok(json!({"events":[log_output(4), log_output(5)], "nextSeq": 7})),
            &mut out,
        );
        let (args, req) = sent(&out).pop().unwrap();
        assert_eq!(
            (args["cursor"].as_u64(), args.get("fromSeq")),
            (Some(7), None)
        );
        out.clear();
        // Page 2: 7, a duplicate of 5 (stale routing), and 8, which arrived live already.
        r.on_response(
            req,
            &ok(json!({"events":[log_output(5), log_output(7), log_output(8)]})),
            &mut out,
        );
        let (replayed, unreplayable) = report(&out);
        assert_eq!(
            replayed,
            vec![ReplayedRange {
                stream: "proj/src/dev".into(),
                from: 4,
                to: 7,
                count: 3,
                new_run: false
            }]
        );
        assert!(unreplayable
            .iter()
            .any(|u| u.reason == UnreplayableReason::SampledStatuses));
        assert!(
            matches!(out[0], Step::Finished { .. }),
            "the report comes first"
        );
        let mut want = expect(&[("replayed", 4), ("replayed", 5), ("replayed", 7)]);
        want.push(("seed".into(), String::new()));
        want.extend(expect(&[("live", 8), ("live", 9)]));
        assert_eq!(lines(&out), want);
        assert_eq!(r.last(&id()), 9);
        assert!(!r.recovering());
        out.clear();
        r.on_live(Some(6), stamp(10), Some(id()), output(10), &mut out);
        assert_eq!(lines(&out), expect(&[("live", 10)]), "live again");
    }

    #[test]
    fn without_live_events_the_read_has_no_upper_bound() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = lost_after(&mut r, 2);
        r.start(all, &mut out);
        let (_, req) = sent(&out).pop().unwrap();
        out.clear();
        r.on_response(req, &ok(chapters(1, &[1])), &mut out);
        let (args, req) = sent(&out).pop().unwrap();
        assert_eq!(
            (args["fromSeq"].as_u64(), args.get("toSeq")),
            (Some(3), None)
        );
        out.clear();
        // A live event arrives while the read is in flight; the read overlaps it.
        r.on_live(Some(3), stamp(5), Some(id()), output(5), &mut out);
        r.on_response(
            req,
            &ok(json!({"events":[log_output(3), log_output(4), log_output(5)]})),
            &mut out,
        );
        assert_eq!(
            lines(&out),
            expect(&[("replayed", 3), ("replayed", 4), ("live", 5)]),
            "5 only once"
        );
        assert_eq!(report(&out).0[0].to, 4);
    }

    #[test]
    fn a_replayed_begin_names_the_streams_chapter() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = lost_after(&mut r, 5);
        let req = start_to_read(&mut r, &mut out, chapters(1, &[1, 7]));
        let begin = json!({"type":"event","event":"apaevt_task","__id":TASK,"body":{"action":"begin","name":"n","projectId":P,
            "source":S,"__id":TASK,"beginSeq":7,"logSeq":7,"project_id":P}});
        r.on_response(req, &ok(json!({"events":[log_output(6), begin, log_output(8)]})), &mut out);
        assert_eq!(report(&out).0[0].count, 3);
        assert_eq!((r.last(&id()), r.begin_seq(&id())), (8, Some(7)), "the begin's beginSeq, as live");
    }

    #[test]
    fn a_run_start_jump_neither_lowers_last_nor_closes_the_window() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = lost_after(&mut r, 5);
        // A new run started while away: its STARTING status is stamped 1 (not logged),
        // begin is lifted past the stream's lastSeq.
        r.on_live(Some(2), stamp(1), Some(id()), output(1), &mut out);
        r.on_live(Some(3), stamp(12), Some(id()), output(12), &mut out);
        r.start(all, &mut out);
        let (_, req) = sent(&out).pop().unwrap();
        out.clear();
        r.on_response(req, &ok(chapters(1, &[1, 9])), &mut out);
        let (args, req) = sent(&out).pop().unwrap();
        assert_eq!(
            (args["fromSeq"].as_u64(), args["toSeq"].as_u64()),
            (Some(6), Some(11)),
            "firstLive ignores the jump"
        );
        out.clear();
        r.on_response(
            req,
            &ok(json!({"events":[log_output(6), log_output(9), log_output(10)]})),
            &mut out,
        );
        assert!(report(&out).0[0].new_run, "a chapter began past last");
        assert_eq!(
            lines(&out),
            expect(&[
                ("replayed", 6),
                ("replayed", 9),
                ("replayed", 10),
                ("live", 1),
                ("live", 12)
            ])
        );
        assert_eq!(r.last(&id()), 12, "never lowered by the jump");
    }

    #[test]
    fn begin_restarts_the_count_of_a_run_that_reissues_numbers() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = Vec::new();
        r.on_live(Some(1), stamp(50), Some(id()), output(50), &mut out);
        let begin = wire("apaevt_task", json!({"action": "begin", "name": "n", "projectId": P, "source": S, "__id": TASK, "beginSeq": 2, "logSeq": 3}));
        r.on_live(Some(2), log_seq_of(&begin), Some(id()), begin, &mut out);
        assert_eq!((r.last(&id()), r.begin_seq(&id())), (3, Some(2)));
    }

    #[test]
    fn aged_out_segments_are_reported_and_the_rest_replayed() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = lost_after(&mut r, 2);
        r.on_live(Some(9), stamp(20), Some(id()), output(20), &mut out);
        let req = start_to_read(&mut r, &mut out, chapters(10, &[1]));
        r.on_response(
            req,
            &ok(json!({"events":[log_output(10), log_output(11)]})),
            &mut out,
        );
        let (replayed, unreplayable) = report(&out);
        let aged = unreplayable
            .iter()
            .find(|u| u.reason == UnreplayableReason::AgedOut)
            .unwrap();
        assert_eq!((aged.from, aged.to), (Some(3), Some(9)));
        assert_eq!(
            (replayed[0].from, replayed[0].to, replayed[0].count),
            (3, 19, 2)
        );
    }

    #[test]
    fn a_stuck_page_ends_the_read() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = lost_after(&mut r, 2);
        let req = start_to_read(&mut r, &mut out, chapters(1, &[1]));
        r.on_response(
            req,
            &ok(json!({"events":[log_output(3)], "nextSeq": 5})),
            &mut out,
        );
        let (args, req) = sent(&out).pop().unwrap();
        assert_eq!(args["cursor"], 5);
        out.clear();
        r.on_response(req, &ok(json!({"events":[], "nextSeq": 5})), &mut out);
        assert!(sent(&out).is_empty(), "no request after a stuck page");
        let (replayed, unreplayable) = report(&out);
        let stuck = unreplayable
            .iter()
            .find(|u| u.reason == UnreplayableReason::Stuck)
            .unwrap();
        assert_eq!(stuck.from, Some(5));
        assert_eq!(replayed[0].count, 1);
        assert_eq!(lines(&out), expect(&[("replayed", 3)]));
    }

    #[test]
    fn an_unsupported_server_is_probed_once() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = lost_after(&mut r, 2);
        r.on_live(Some(3), stamp(4), Some(id()), output(4), &mut out);
        r.start(all, &mut out);
        let (_, req) = sent(&out).pop().unwrap();
        out.clear();
        r.on_response(req, &failed("Invalid command: rrext_log"), &mut out);
        let (_, unreplayable) = report(&out);
        assert_eq!(unreplayable[0].reason, UnreplayableReason::Unsupported);
        assert_eq!(
            lines(&out),
            expect(&[("live", 4)]),
            "what was buffered is applied"
        );
        assert_eq!(r.support(), Support::Unsupported);
        out.clear();
        r.on_lost(&mut out);
        r.on_live(Some(1), stamp(5), Some(id()), output(5), &mut out);
        assert!(!r.start(all, &mut out));
        assert_eq!(
            lines(&out),
            expect(&[("live", 5)]),
            "no buffering, no request"
        );
    }

    #[test]
    fn refusals_timeouts_and_empty_logs_are_reported() {
        for (case, reason) in [
            ("refused", UnreplayableReason::Refused),
            ("timeout", UnreplayableReason::Timeout),
            ("empty", UnreplayableReason::EmptyLog),
        ] {
            let mut r = Replay::new(ReplayConfig::default());
            let mut out = lost_after(&mut r, 2);
            r.on_live(Some(3), stamp(7), Some(id()), output(7), &mut out);
            r.start(all, &mut out);
            let (_, req) = sent(&out).pop().unwrap();
            out.clear();
            match case {
                "refused" => r.on_response(req, &failed("Permission 'task.monitor' denied"), &mut out),
                "timeout" => r.on_expired(req, &mut out),
                _ => r.on_response(req, &ok(json!({"chapters":[],"segments":[],"startTime":null,"endTime":null,"horizonSeq":0,"completed":true})), &mut out),
            }
            let (replayed, unreplayable) = report(&out);
            assert!(replayed.is_empty(), "{case}");
            let u = unreplayable
                .iter()
                .find(|u| u.reason == reason)
                .unwrap_or_else(|| panic!("{case}: {unreplayable:?}"));
            assert_eq!((u.from, u.to), (Some(3), Some(6)), "{case}");
            assert_eq!(lines(&out), expect(&[("live", 7)]), "{case}");
            assert!(!r.recovering());
        }
    }

    #[test]
    fn a_loss_during_the_replay_resumes_from_the_cursor() {
        let mut r = Replay::new(ReplayConfig::default());
        let mut out = lost_after(&mut r, 2);
        r.on_live(Some(3), stamp(9), Some(id()), output(9), &mut out);
        let req = start_to_read(&mut r, &mut out, chapters(1, &[1]));
        r.on_response(
            req.clone(),
            &ok(json!({"events":[log_output(3)], "nextSeq": 5})),
            &mut out,
        );
        out.clear();
        r.on_lost(&mut out);
        let (_, unreplayable) = report(&out);
        assert_eq!(
            (unreplayable[0].reason, unreplayable[0].from),
            (UnreplayableReason::Interrupted, Some(5))
        );
        assert!(lines(&out).is_empty(), "nothing delivered yet");
        out.clear();
        // A late answer of the dead connection is ignored.
        r.on_response(req, &ok(json!({"events":[log_output(4)]})), &mut out);
        assert!(out.is_empty());
        r.start(all, &mut out);
        let (_, req) = sent(&out).pop().unwrap();
        out.clear();
        r.on_response(req, &ok(chapters(1, &[1])), &mut out);
        let (args, req) = sent(&out).pop().unwrap();
        assert_eq!(
            (args["fromSeq"].as_u64(), args["toSeq"].as_u64()),
            (Some(5), Some(8))
        );
        out.clear();
        r.on_response(req, &ok(json!({"events":[log_output(6)]})), &mut out);
        assert_eq!(
            lines(&out),
            expect(&[("replayed", 3), ("replayed", 6), ("live", 9)])
        );
        assert_eq!(report(&out).0[0].count, 2);
    }

    #[test]
    fn a_full_live_buffer_gives_the_replay_up_in_order() {
        let mut r = Replay::new(ReplayConfig {
            max_live: 2,
            ..ReplayConfig::default()
        });
        let mut out = lost_after(&mut r, 2);
        for (seq, n) in [(1, 6), (2, 5), (3, 7)] {
            r.on_live(Some(seq), stamp(n), Some(id()), output(n), &mut out);
        }
        assert_eq!(
            lines(&out),
            expect(&[("live", 5), ("live", 6), ("live", 7)])
        );
        assert!(!r.start(all, &mut out), "nothing left to read");
        let (_, unreplayable) = report(&out);
        assert_eq!(
            (
                unreplayable[0].reason,
                unreplayable[0].from,
                unreplayable[0].to
            ),
            (UnreplayableReason::Overflow, Some(3), Some(4))
        );
        assert!(!r.recovering());
    }

    #[test]
    fn log_only_and_unwanted_names_are_dropped_and_missing_ids_filled() {
        let names = event_names(MonitorTypes::OUTPUT | MonitorTypes::TASK);
        let marker = json!({"type":"event","event":"apaevt_log_lifecycle","body":{"action":"run-begin","logSeq":3}});
        let exited = json!({"type":"event","event":"exited","body":{"logSeq":4}});
        let flow = json!({"type":"event","event":"apaevt_flow","__id":TASK,"body":{"id":0,"op":"begin","pipes":[],"trace":{},"project_id":P,"source":S,"logSeq":5}});
        let entry = |value: &Value| replayed_event(RawJson(&value.to_string()), &names, Some(TASK));
        for e in [marker, exited, flow, json!([1]), json!({"event": 3, "body": {}})] {
            assert!(matches!(entry(&e), Entry::Unwanted), "{e}");
        }
        let no_id = json!({"type":"event","event":"output","body":{"category":"console","output":"x\n","logSeq":6}});
        let Entry::Event(seq, event) = entry(&no_id) else { panic!("decodes") };
        assert_eq!((seq, event.task_id()), (6, Some(TASK)));
        let bad = json!({"type":"event","event":"output","__id":TASK,"body":{"output":5,"logSeq":7}});
        assert!(matches!(entry(&bad), Entry::Undecodable));
        for unstamped in [json!({"output": "x", "logSeq": "8"}), json!({"output": "x"}), json!("x")] {
            assert!(matches!(entry(&json!({"event": "output", "body": unstamped})), Entry::Undecodable), "{unstamped}");
        }
    }

    /// A body's own non-empty `__id` stands; an empty or non-string one, or none, becomes the
    /// entry's top-level `__id`, else the stream's task; with neither, the entry is undecodable.
    #[test]
    fn a_logged_body_gets_a_task_id_where_it_has_none() {
        let names = event_names(MonitorTypes::OUTPUT);
        let id_of = |entry: &str, task: Option<&str>| match replayed_event(RawJson(entry), &names, task) {
            Entry::Event(9, event) => event.task_id().map(str::to_owned),
            Entry::Event(..) => panic!("the wrong logSeq: {entry}"),
            Entry::Unwanted | Entry::Undecodable => Some("undecodable".into()),
        };
        let body = |id: &str| format!(r#"{{"event":"output","body":{{ {id} "category":"console", "output":"x\n","logSeq":9}}}}"#);
        assert_eq!(id_of(&body(r#""__id":"own.src","#), Some(TASK)).as_deref(), Some("own.src"));
        for id in ["", r#""__id":"","#, r#""__id": null ,"#, r#""__id":7,"#] {
            assert_eq!(id_of(&body(id), Some(TASK)).as_deref(), Some(TASK), "{id}");
            assert_eq!(id_of(&body(id), None).as_deref(), Some("undecodable"), "{id}");
            let top = body(id).replacen('{', r#"{"__id":"top.src","#, 1);
            assert_eq!(id_of(&top, Some(TASK)).as_deref(), Some("top.src"), "{id}");
        }
        assert_eq!(id_of(r#"{"event":"output","body":{}}"#, Some(TASK)).as_deref(), Some("undecodable"));
        assert_eq!(with_task_id("{}", None, "a\"b"), r#"{"__id":"a\"b"}"#);
        assert_eq!(with_task_id(" { } ", None, "t"), r#" {"__id":"t" } "#);
    }
}

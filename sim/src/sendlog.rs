//! The send log: every frame the server sends or deliberately withholds, in order.
//!
//! Tests compare it with what the SDK saw. Entries get a global index `i` in the order
//! they were queued (which is each connection's wire order). The log is a ring buffer;
//! optionally every entry is also appended to a JSON-lines file by a writer thread.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc as std_mpsc;

use serde::Serialize;

/// What a log entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A WebSocket upgrade was accepted: connection `conn` starts (its `path` is logged).
    Open,
    /// A DAP event frame.
    Event,
    /// A DAP response frame.
    Response,
    /// A frame that is not a well-formed DAP message (garbage, binary, invalid UTF-8...).
    Raw,
    /// The server closed or dropped the connection.
    Close,
    /// A WebSocket upgrade was refused: HTTP 503 by the `refuse` fault (labelled), or
    /// HTTP 403 past the unauthenticated-sockets-per-IP limit (no fault label).
    Refused,
}

/// Routing facts about a frame, filled by whoever builds it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// Task display id (`__id`) for task events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Task project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Task source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `body.pipe_id` (SSE) or the flow pipe index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipe_id: Option<i64>,
    /// The event's gate bit (spec §3.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit: Option<u8>,
    /// Registry keys of the receiving connection whose mask had the bit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<String>>,
}

/// What a fleet-rlm frame carries that tells it apart (read from the frame itself), so a
/// test can match what the client received with what was sent.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetMeta {
    /// A chat event's `data.event_id` (or a `command_result`'s `event_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// An execution event's `run_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The `step.id` of an `execution_step` or `execution_completed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// That step's `parent_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// `execution_completed`: `summary.status`, or `interrupted` when step and summary are null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// An error frame's `code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// One send-log entry (JSON shape documented in the crate README section of lib.rs).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Global index, increasing by one per entry.
    pub i: u64,
    /// Connection id (0 for refused upgrades).
    pub conn: u64,
    /// Server seq of the frame (absent for raw frames without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Frame kind.
    pub kind: EntryKind,
    /// Event name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Response command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Response `request_seq`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_seq: Option<serde_json::Value>,
    /// Response `success`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// Routing facts.
    #[serde(flatten)]
    pub meta: Meta,
    /// fleet-rlm frame ids.
    #[serde(flatten)]
    pub fleet: FleetMeta,
    /// The fault that produced or affected this frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Close code for `close` entries (absent when the socket was dropped without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// Frame size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
    /// Request path and query of an `open` or `refused` upgrade (lets a test tell its
    /// connections apart, e.g. `?attempt=3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Epoch milliseconds when the frame was queued.
    pub at_ms: u64,
}

impl Entry {
    /// A blank entry of `kind` for `conn`; the log assigns `i` and `atMs`.
    pub fn new(conn: u64, kind: EntryKind) -> Self {
        Entry {
            i: 0,
            conn,
            seq: None,
            kind,
            event: None,
            command: None,
            request_seq: None,
            success: None,
            meta: Meta::default(),
            fleet: FleetMeta::default(),
            fault: None,
            code: None,
            bytes: None,
            path: None,
            at_ms: 0,
        }
    }

    /// An `open` or `refused` entry for an upgrade request to `path`.
    pub fn upgrade(conn: u64, kind: EntryKind, path: &str) -> Self {
        let mut entry = Entry::new(conn, kind);
        entry.path = Some(path.to_owned());
        entry
    }

    /// Sets the fault label.
    pub fn with_fault(mut self, fault: &str) -> Self {
        self.fault = Some(fault.to_owned());
        self
    }
}

/// A page of the log, as `GET /_sim/log` returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// Index of the oldest entry still held.
    pub oldest: u64,
    /// Index the next entry will get.
    pub next: u64,
    /// True when `since` was older than `oldest`: entries in between were evicted.
    pub truncated: bool,
    /// Entries with `i >= since`, oldest first, at most `limit`.
    pub entries: Vec<Entry>,
}

/// The bounded in-memory log plus the optional file sink.
pub struct SendLog {
    entries: VecDeque<Entry>,
    capacity: usize,
    next: u64,
    file: Option<std_mpsc::Sender<String>>,
}

impl SendLog {
    /// A log holding at most `capacity` entries, mirrored to `file` if given.
    pub fn new(capacity: usize, file: Option<&Path>) -> std::io::Result<Self> {
        let file = match file {
            Some(path) => Some(spawn_file_writer(path)?),
            None => None,
        };
        Ok(SendLog { entries: VecDeque::with_capacity(capacity.min(4096)), capacity, next: 0, file })
    }

    /// Appends an entry, assigning its index and timestamp; returns the index.
    pub fn push(&mut self, mut entry: Entry) -> u64 {
        entry.i = self.next;
        entry.at_ms = crate::clock::epoch_ms();
        self.next += 1;
        if let Some(tx) = &self.file {
            // A failed file writer only loses the file copy; the ring buffer stays whole.
            let _ = tx.send(crate::json::to_text(&entry));
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
        self.next - 1
    }

    /// Marks the entry with index `i` (if still held) with a fault label.
    pub fn mark(&mut self, i: u64, fault: &str) {
        let oldest = self.oldest();
        if let Some(e) = i.checked_sub(oldest).and_then(|k| self.entries.get_mut(k as usize)) {
            e.fault = Some(fault.to_owned());
        }
    }

    /// Index of the oldest held entry.
    pub fn oldest(&self) -> u64 {
        self.entries.front().map(|e| e.i).unwrap_or(self.next)
    }

    /// Entries from `since`, optionally only of one connection, at most `limit` of them.
    pub fn page(&self, since: u64, conn: Option<u64>, limit: usize) -> Page {
        let oldest = self.oldest();
        let skip = since.saturating_sub(oldest) as usize;
        let entries = self
            .entries
            .iter()
            .skip(skip)
            .filter(|e| conn.is_none_or(|c| e.conn == c))
            .take(limit)
            .cloned()
            .collect();
        Page { oldest, next: self.next, truncated: since < oldest, entries }
    }

    /// Index the next entry will get.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Drops every held entry (indices keep increasing).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// Starts a thread appending JSON lines to `path`; it ends when the sender is dropped.
fn spawn_file_writer(path: &Path) -> std::io::Result<std_mpsc::Sender<String>> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let (tx, rx) = std_mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut out = std::io::BufWriter::new(file);
        while let Ok(line) = rx.recv() {
            // Write everything already queued, then flush so readers see whole lines.
            let queued = std::iter::once(line).chain(rx.try_iter());
            let written = queued.map(|l| writeln!(out, "{l}")).all(|r| r.is_ok());
            if !written || out.flush().is_err() {
                break;
            }
        }
    });
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_buffer_evicts_oldest_and_reports_truncation() {
        let mut log = SendLog::new(3, None).unwrap();
        for c in 0..5 {
            log.push(Entry::new(c, EntryKind::Event));
        }
        let page = log.page(0, None, 100);
        assert!(page.truncated);
        assert_eq!(page.oldest, 2);
        assert_eq!(page.next, 5);
        assert_eq!(page.entries.iter().map(|e| e.i).collect::<Vec<_>>(), vec![2, 3, 4]);
        let page = log.page(4, None, 100);
        assert!(!page.truncated);
        assert_eq!(page.entries.len(), 1);
    }

    #[test]
    fn mark_and_filter_by_connection() {
        let mut log = SendLog::new(10, None).unwrap();
        let a = log.push(Entry::new(1, EntryKind::Event));
        log.push(Entry::new(2, EntryKind::Response));
        log.mark(a, "reordered");
        let page = log.page(0, Some(1), 10);
        assert_eq!(page.entries.len(), 1);
        assert_eq!(page.entries[0].fault.as_deref(), Some("reordered"));
    }
}

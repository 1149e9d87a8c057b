//! Applying faults: standing ones go into [`Faults`]; one-shot ones send their frames or
//! act on connections now. Every injected frame is logged with its fault kind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::faults::{FaultKind, FaultSpec, Faults, RateFault, SlowWriter};
use crate::hub::{Hub, State};
use crate::json::Obj;
use crate::lifecycle::{self, ResetKind};
use crate::sendlog::{Entry, EntryKind};
use crate::status::TaskStatus;

/// Default size of an oversized frame (16 MiB).
const OVERSIZED_DEFAULT: usize = 16 * 1024 * 1024;
/// Default nesting depth of deep_nesting.
const DEPTH_DEFAULT: usize = 100_000;
/// Largest garbage burst one request may ask for.
const GARBAGE_MAX: u32 = 10_000;
/// How far ahead lying_seq jumps.
const LIE_AHEAD: u64 = 1_000_000;
/// How long a `nan` fault holds its task's periodic status (real time, not scaled by
/// `--speed`): a few animation frames, so a page draws the NaN status before the next
/// regular one replaces it, even when statuses come every 50 ms.
const NAN_HOLD: Duration = Duration::from_millis(400);

/// What a fault request did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// The fault kind.
    pub kind: FaultKind,
    /// Connections it was applied to (empty for server-wide faults).
    pub conns: Vec<u64>,
    /// Frames injected.
    pub frames: u32,
}

/// Applies a fault now.
pub fn apply(hub: &Arc<Hub>, spec: &FaultSpec) -> Result<Applied, String> {
    if spec.kind == FaultKind::Restart {
        lifecycle::reset(hub, ResetKind::Restart);
        return Ok(Applied { kind: spec.kind, conns: Vec::new(), frames: 0 });
    }
    let mut st = hub.lock();
    let fleet = crate::fleet::inject::targets(&st, spec.conn);
    let mut conns: Vec<u64> = match spec.conn {
        Some(id) if st.conns.contains_key(&id) => vec![id],
        Some(_) if !fleet.is_empty() => Vec::new(),
        Some(id) => return Err(format!("no connection {id}")),
        None => st.conns.values().filter(|c| !c.closing).map(|c| c.id).collect(),
    };
    let mut frames = 0;
    for &conn in &conns {
        frames += apply_to(&mut st, spec, conn);
    }
    for &conn in &fleet {
        frames += crate::fleet::inject::apply_to(&mut st, spec, conn);
    }
    conns.extend(fleet);
    standing(&mut st, spec)?;
    Ok(Applied { kind: spec.kind, conns, frames })
}

/// Clears every standing fault (rates, delays, refuse, half-open, revoked keys).
pub fn clear(hub: &Hub) {
    let mut st = hub.lock();
    st.faults = Faults::default();
    for c in st.conns.values_mut() {
        c.half_open_until = None;
    }
    crate::fleet::inject::clear(&mut st);
}

fn rate(spec: &FaultSpec) -> Result<f64, String> {
    match spec.rate.unwrap_or(0.1) {
        r if (0.0..=1.0).contains(&r) => Ok(r),
        r => Err(format!("rate must be within 0..=1, got {r}")),
    }
}

/// Server-wide effects of a fault (the per-connection ones are in `apply_to`).
fn standing(st: &mut State, spec: &FaultSpec) -> Result<(), String> {
    let f = &mut st.faults;
    match spec.kind {
        FaultKind::Drop => f.drop = Some(RateFault::of(rate(spec)?, spec)),
        FaultKind::Duplicate => f.duplicate = Some(RateFault::of(rate(spec)?, spec)),
        FaultKind::Reorder => f.reorder = Some(RateFault::of(rate(spec)?, spec)),
        FaultKind::SlowWriter => f.slow_writer = Some(SlowWriter { delay_ms: spec.delay_ms.unwrap_or(100), conn: spec.conn }),
        FaultKind::Refuse => f.refuse_until = Some(Instant::now() + secs(spec.seconds.unwrap_or(5.0))),
        FaultKind::RevokeKey => {
            let key = spec.key.clone().ok_or("revoke_key needs key")?;
            f.revoked.insert(key);
        }
        _ => {}
    }
    Ok(())
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.0, 365.0 * 86_400.0))
}

/// Per-connection effects; returns the number of frames injected.
fn apply_to(st: &mut State, spec: &FaultSpec, conn: u64) -> u32 {
    let label = kind_label(spec.kind);
    match spec.kind {
        FaultKind::DropAll => {
            match spec.code {
                Some(code) => st.close(conn, code, Some(&label)),
                None => st.kill(conn, &label),
            }
            0
        }
        FaultKind::HalfOpen => {
            let until = Instant::now() + secs(spec.seconds.unwrap_or(365.0 * 86_400.0));
            if let Some(c) = st.conns.get_mut(&conn) {
                c.half_open_until = Some(until);
            }
            0
        }
        FaultKind::RevokeKey => {
            let uses_key = st.conns.get(&conn).is_some_and(|c| c.credential.is_some() && c.credential == spec.key);
            if uses_key {
                st.close(conn, 1000, Some(&label));
            }
            0
        }
        FaultKind::Garbage => (0..spec.count.unwrap_or(1).min(GARBAGE_MAX)).map(|n| garbage(st, conn, n)).sum(),
        _ => u32::from(inject_frame(st, spec, conn)),
    }
}

/// The snake_case name of a fault kind (its send-log label).
fn kind_label(kind: FaultKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "fault".to_owned(),
    }
}

/// One non-JSON text frame (no seq).
fn garbage(st: &mut State, conn: u64, n: u32) -> u32 {
    const SAMPLES: [&str; 4] = ["}{ not json", "{\"type\":\"event\",\"seq\":", "\u{1}\u{2}garbage\u{7f}", "[[[[,]"];
    let text = SAMPLES[(n as usize + st.rng.usize(..SAMPLES.len())) % SAMPLES.len()];
    let entry = Entry::new(conn, EntryKind::Raw).with_fault("garbage");
    u32::from(st.inject(conn, Message::Text(text.into()), entry))
}

/// Builds and queues the single frame of the other injection faults.
fn inject_frame(st: &mut State, spec: &FaultSpec, conn: u64) -> bool {
    let label = kind_label(spec.kind);
    let Some((kind, event, msg, seq)) = build(st, spec, conn) else { return false };
    let mut entry = Entry::new(conn, kind).with_fault(&label);
    entry.seq = seq;
    match kind {
        EntryKind::Response => entry.command = Some(event.to_owned()),
        _ => entry.event = Some(event.to_owned()),
    }
    st.inject(conn, msg, entry)
}

/// `(log kind, event or command name, frame, seq)` of an injection fault, or `None`
/// for kinds that inject nothing.
fn build(st: &mut State, spec: &FaultSpec, conn: u64) -> Option<(EntryKind, &'static str, Message, Option<u64>)> {
    let text_event = |seq: u64, name: &str, body: String| {
        Obj::new().set("type", "event").set("seq", &seq).set("event", name).raw("body", &body).done()
    };
    let output = |line: &str| Obj::new().set("category", "console").set("output", line).set("__id", "").done();
    Some(match spec.kind {
        FaultKind::Truncated => {
            let seq = st.next_seq(conn)?;
            let full = text_event(seq, "output", output("this frame is cut in half by the simulator\n"));
            (EntryKind::Raw, "output", Message::Text(full[..full.len() / 2].into()), Some(seq))
        }
        FaultKind::Oversized => {
            let seq = st.next_seq(conn)?;
            let size = spec.bytes.unwrap_or(OVERSIZED_DEFAULT);
            let line = format!("{}\n", "x".repeat(size.saturating_sub(100)));
            (EntryKind::Event, "output", Message::Text(text_event(seq, "output", output(&line)).into()), Some(seq))
        }
        FaultKind::DeepNesting => {
            let seq = st.next_seq(conn)?;
            let depth = spec.depth.unwrap_or(DEPTH_DEFAULT);
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            // In `data`, the untyped payload a client must walk, not in a field it can skip.
            let body = Obj::new().set("pipe_id", &0).set("type", "deep").raw("data", &nested).set("__id", "").done();
            (EntryKind::Event, "apaevt_sse", Message::Text(text_event(seq, "apaevt_sse", body).into()), Some(seq))
        }
        FaultKind::Nan => {
            let seq = st.next_seq(conn)?;
            (EntryKind::Event, "apaevt_status_update", Message::Text(text_event(seq, "apaevt_status_update", nan_status(st)).into()), Some(seq))
        }
        FaultKind::Binary => {
            let seq = st.next_seq(conn)?;
            let text = text_event(seq, "output", output("sent as a binary frame\n"));
            (EntryKind::Raw, "output", Message::Binary(text.into_bytes().into()), Some(seq))
        }
        FaultKind::InvalidUtf8 => {
            let bytes: &[u8] = b"{\"type\":\"event\",\"event\":\"output\",\"body\":{\"output\":\"\xff\xfe\xc3\x28\"}}";
            let frame = WsFrame::message(bytes.to_vec(), OpCode::Data(Data::Text), true);
            (EntryKind::Raw, "output", Message::Frame(frame), None)
        }
        FaultKind::ProtoKeys => {
            let seq = st.next_seq(conn)?;
            // Both in the typed envelope and inside `data`, the untyped payload a client
            // hands to the app as is: a naive JSON-to-object copy pollutes prototypes there.
            // `data` also holds lone surrogate escapes, as Python's `json.dumps` (with its
            // default `ensure_ascii`) writes a string decoded with `surrogateescape`: JSON,
            // which `JSON.parse` reads and a decoder into Rust strings refuses.
            let hostile = r#"{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"\udc80key":"caf\udce9","ok":1}"#;
            let body = Obj::new()
                .set("pipe_id", &0)
                .set("type", "prototype keys")
                .raw("data", hostile)
                .raw("__proto__", r#"{"polluted":true}"#)
                .raw("constructor", r#"{"prototype":{"polluted":true}}"#)
                .set("__id", "")
                .done();
            (EntryKind::Event, "apaevt_sse", Message::Text(text_event(seq, "apaevt_sse", body).into()), Some(seq))
        }
        FaultKind::UnknownEvent => {
            let seq = st.next_seq(conn)?;
            let body = Obj::new().set("action", "surprise").set("value", &42).set("__id", "").done();
            (EntryKind::Event, "apaevt_sim_unknown", Message::Text(text_event(seq, "apaevt_sim_unknown", body).into()), Some(seq))
        }
        FaultKind::BadTypes => {
            let seq = st.next_seq(conn)?;
            let body = r#"{"name":42,"project_id":null,"source":["x"],"completed":"yes","state":"3","startTime":"now","endTime":null,"status":{},"warnings":"none","errors":7,"totalCount":"12","pipeflow":[],"metrics":"n/a","tokens":null,"__id":5}"#;
            (EntryKind::Event, "apaevt_status_update", Message::Text(text_event(seq, "apaevt_status_update", body.into()).into()), Some(seq))
        }
        FaultKind::UnknownResponse => {
            let seq = st.next_seq(conn)?;
            let text = Obj::new()
                .set("type", "response")
                .set("seq", &seq)
                .set("request_seq", &987_654_321u64)
                .set("command", "rrext_ping")
                .set("success", &true)
                .raw("body", r#"{"pong":true}"#)
                .done();
            (EntryKind::Response, "rrext_ping", Message::Text(text.into()), Some(seq))
        }
        FaultKind::LyingSeq => {
            // The counter is not advanced: the next real frame continues from it.
            let seq = st.conns.get(&conn)?.seq + LIE_AHEAD;
            (EntryKind::Event, "output", Message::Text(text_event(seq, "output", output("seq from the future\n")).into()), Some(seq))
        }
        _ => return None,
    })
}

/// A status body whose first metric is a bare `NaN` (Python `json.dumps` allow_nan, §2.2).
/// Holds that task's periodic status for [`NAN_HOLD`].
fn nan_status(st: &mut State) -> String {
    // A sentinel no real metric can take, replaced textually by NaN.
    const SENTINEL: f64 = 123_456_789.25;
    // A running task's, so a client shows the NaN on a live run (a completed task's status
    // may belong to a run the client has already ended); any task's when none runs.
    let any_running = st.tasks.values().any(|t| !t.status.completed);
    let task = st.tasks.values_mut().find(|t| !any_running || !t.status.completed);
    let (mut status, id) = match task {
        Some(t) => {
            t.status_held_until = Some(Instant::now() + NAN_HOLD);
            (t.status.clone(), t.id.clone())
        }
        None => (TaskStatus::not_running("sim", "nan"), "sim.nan".to_owned()),
    };
    status.metrics.cpu_percent = SENTINEL;
    let text = Obj::from_struct(&status).set("__id", &id).done();
    text.replacen("123456789.25", "NaN", 1)
}

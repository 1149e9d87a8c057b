//! The `/_sim/faults` kinds on fleet-rlm sockets. Standing faults (drop, duplicate,
//! reorder, slow_writer, refuse) are shared with the RocketRide side and act in
//! [`super::conn`]; this module does the per-connection ones: `drop_all` (kill, or close
//! with `code`), `half_open`, and the injected frames, shaped as fleet frames of the
//! socket's kind (a chat `event` or an events-stream `execution_step`). `unknown_response`,
//! `lying_seq` and `revoke_key` have no fleet meaning and inject nothing.

use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::Message;

use super::conn::{self, Role};
use super::frames;
use crate::faults::{FaultKind, FaultSpec};
use crate::hub::State;
use crate::json::Obj;
use crate::sendlog::{Entry, EntryKind};

/// Default size of an oversized frame (16 MiB).
const OVERSIZED_DEFAULT: usize = 16 * 1024 * 1024;
/// Default nesting depth of deep_nesting.
const DEPTH_DEFAULT: usize = 100_000;
/// Largest garbage burst.
const GARBAGE_MAX: u32 = 10_000;

/// The fleet sockets a fault targets: `conn` if it is one, else every open one when `conn`
/// is absent, else none.
pub fn targets(st: &State, conn: Option<u64>) -> Vec<u64> {
    match conn {
        Some(id) => st.fleet.conns.contains_key(&id).then_some(id).into_iter().collect(),
        None => st.fleet.conns.values().filter(|c| !c.closing).map(|c| c.id).collect(),
    }
}

/// Clears the fleet side's per-connection standing faults (half-open).
pub fn clear(st: &mut State) {
    for c in st.fleet.conns.values_mut() {
        c.half_open_until = None;
    }
}

fn label(kind: FaultKind) -> String {
    match serde_json::to_value(kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "fault".into(),
    }
}

/// Applies the per-connection part of `spec` to fleet socket `conn`; returns frames injected.
pub fn apply_to(st: &mut State, spec: &FaultSpec, conn: u64) -> u32 {
    let name = label(spec.kind);
    match spec.kind {
        FaultKind::DropAll => {
            match spec.code {
                Some(code) => conn::close(st, conn, code, Some(&name)),
                None => conn::kill(st, conn, &name),
            }
            0
        }
        FaultKind::HalfOpen => {
            let secs = spec.seconds.unwrap_or(365.0 * 86_400.0).clamp(0.0, 365.0 * 86_400.0);
            if let Some(c) = st.fleet.conns.get_mut(&conn) {
                c.half_open_until = Some(Instant::now() + Duration::from_secs_f64(secs));
            }
            0
        }
        FaultKind::Garbage => {
            const SAMPLES: [&str; 4] = ["}{ not json", "{\"type\":\"execution_step\",\"step\":", "\u{1}\u{2}garbage\u{7f}", "[[[[,]"];
            let n = spec.count.unwrap_or(1).min(GARBAGE_MAX);
            (0..n)
                .map(|i| {
                    let text = SAMPLES[(i as usize + st.rng.usize(..SAMPLES.len())) % SAMPLES.len()];
                    u32::from(conn::inject(st, conn, Message::Text(text.into()), Entry::new(conn, EntryKind::Raw).with_fault("garbage")))
                })
                .sum()
        }
        _ => match build(st, spec, conn) {
            Some((kind, msg)) => {
                let mut entry = Entry::new(conn, kind).with_fault(&name);
                entry.event = Some(event_label(st, conn));
                u32::from(conn::inject(st, conn, msg, entry))
            }
            None => 0,
        },
    }
}

fn is_events(st: &State, conn: u64) -> bool {
    st.fleet.conns.get(&conn).is_some_and(|c| matches!(c.role, Role::Events { .. }))
}

fn event_label(st: &State, conn: u64) -> String {
    if is_events(st, conn) { "execution_step" } else { "event:status" }.into()
}

/// A fleet frame of the socket's kind whose free-form part is `payload` (raw JSON).
fn frame(st: &State, conn: u64, payload: &str) -> String {
    let c = st.fleet.conns.get(&conn);
    match c.map(|c| (&c.role, &c.identity)) {
        Some((Role::Events { session_id }, who)) => {
            let run_id = format!("{}:{}:{session_id}:0", who.workspace_id, who.user_id);
            // A fresh step id per injected frame (the send-log index it gets): a client that
            // holds an earlier one must not take this one for its copy.
            let step = Obj::new()
                .set("id", &format!("{run_id}:s{}", st.log.next_index()))
                .set("parent_id", &format!("{run_id}:root"))
                .set("type", "tool")
                .set("label", "sim_injected")
                .raw("depth", "0")
                .set("actor_kind", "root_rlm")
                .raw("actor_id", "null")
                .set("lane_key", "root_rlm:depth-0")
                .raw("input", "{}")
                .raw("output", payload)
                .set("timestamp", &crate::clock::epoch_s())
                .done();
            frames::execution("execution_step", &run_id, who, session_id, Some(&step), None)
        }
        _ => frames::event("status", "injected by runwatch-sim", Some(payload), Some(&frames::iso_now()), 2, "00000000000040008000000000000000"),
    }
}

/// `(log kind, frame)` of an injection fault, or `None` when it has no fleet meaning.
fn build(st: &State, spec: &FaultSpec, conn: u64) -> Option<(EntryKind, Message)> {
    Some(match spec.kind {
        FaultKind::Truncated => {
            let full = frame(st, conn, r#"{"note":"this frame is cut in half by the simulator"}"#);
            (EntryKind::Raw, Message::Text(full[..full.len() / 2].into()))
        }
        FaultKind::Oversized => {
            let size = spec.bytes.unwrap_or(OVERSIZED_DEFAULT);
            let payload = Obj::new().set("blob", &"x".repeat(size.saturating_sub(400))).done();
            (EntryKind::Event, Message::Text(frame(st, conn, &payload).into()))
        }
        FaultKind::DeepNesting => {
            let depth = spec.depth.unwrap_or(DEPTH_DEFAULT);
            let payload = format!("{{\"nested\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
            (EntryKind::Event, Message::Text(frame(st, conn, &payload).into()))
        }
        FaultKind::Nan => (EntryKind::Event, Message::Text(frame(st, conn, r#"{"duration_ms":NaN,"score":Infinity}"#).into())),
        FaultKind::Binary => (EntryKind::Raw, Message::Binary(frame(st, conn, r#"{"note":"sent as a binary frame"}"#).into_bytes().into())),
        FaultKind::InvalidUtf8 => {
            let mut bytes = frame(st, conn, r#"{"note":"@@"}"#).into_bytes();
            if let Some(at) = bytes.windows(2).position(|w| w == b"@@") {
                bytes.splice(at..at + 2, [0xff, 0xfe, 0xc3, 0x28]);
            }
            (EntryKind::Raw, Message::Frame(WsFrame::message(bytes, OpCode::Data(Data::Text), true)))
        }
        FaultKind::ProtoKeys => {
            let payload = r#"{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"ok":1}"#;
            (EntryKind::Event, Message::Text(frame(st, conn, payload).into()))
        }
        FaultKind::UnknownEvent => {
            let text = if is_events(st, conn) {
                frame(st, conn, "{}").replacen("\"execution_step\"", "\"execution_sim_unknown\"", 1)
            } else {
                frames::event("sim_unknown_kind", "an unknown kind", Some(r#"{"value":42}"#), Some(&frames::iso_now()), 2, "00000000000040008000000000000001")
            };
            (EntryKind::Event, Message::Text(text.into()))
        }
        FaultKind::BadTypes => {
            let text = if is_events(st, conn) {
                r#"{"type":"execution_step","run_id":7,"workspace_id":null,"user_id":[],"session_id":{},"step":{"id":5,"parent_id":false,"type":"tool","label":null,"depth":"0","actor_kind":3,"actor_id":null,"lane_key":[],"input":"x","output":1,"timestamp":"now"},"summary":"none"}"#.to_owned()
            } else {
                r#"{"type":"event","data":{"kind":42,"text":null,"payload":"x","timestamp":5,"version":"2","event_id":[]}}"#.to_owned()
            };
            (EntryKind::Event, Message::Text(text.into()))
        }
        _ => return None,
    })
}

//! The DAP envelope (spec §2): one received text frame → [`Frame`].
//!
//! Decoding reads the envelope first, keeping `body` as raw JSON text, and then parses
//! the body straight into the concrete type its `event` name calls for
//! ([`decode_event_text`]). An internally tagged enum would buffer every field first and cost
//! about twice as much (DESIGN.md, "Performance facts").

use std::borrow::Cow;


use super::events::{decode_event_text, RocketRideEvent};
use super::json::sanitize_non_finite;
use crate::core::json_read::{self, decode_object, Decode, RawJson, Reader};
use crate::core::wire::read_error;
pub use crate::core::wire::{DecodeError, DecodeErrorKind, ErrorTrace, Response};

/// One decoded RocketRide frame.
pub type Frame = crate::core::wire::Frame<RocketRideEvent>;
/// What a RocketRide frame carries.
pub type FrameBody = crate::core::wire::FrameBody<RocketRideEvent>;

/// Every envelope field of every frame type; `body` stays raw JSON text.
struct Envelope<'a> {
    kind: Cow<'a, str>,
    seq: Option<u64>,
    event: Option<Cow<'a, str>>,
    command: Option<String>,
    request_seq: Option<u64>,
    success: Option<bool>,
    message: Option<String>,
    trace: Option<ErrorTrace>,
    body: Option<RawJson<'a>>,
}

impl<'a> Decode<'a> for Envelope<'a> {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, Envelope {
            kind: "type", seq: "seq", event: "event", command: "command", request_seq: "request_seq",
            success: "success", message: "message", trace: "trace", body: "body",
        })
    }
}

/// Decodes one frame received from the server.
///
/// `Err` only when the envelope itself is unreadable: not UTF-8, not JSON, not an object,
/// no string `type`, or a response without `command`/`success`. A known event whose body
/// does not decode is `Ok` with [`FrameBody::UndecodableEvent`], so its `seq` still counts.
/// Bare `NaN`/`Infinity` tokens are accepted (see [`sanitize_non_finite`]).
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, DecodeError> {
    let clean = sanitize_non_finite(bytes);
    let text = std::str::from_utf8(&clean)
        .map_err(|e| DecodeError { kind: DecodeErrorKind::InvalidUtf8, reason: format!("frame: {e}") })?;
    canonical_event(text).map_or_else(|| decode_text(text), Ok)
}

/// The general path: the envelope read by the JSON parser, whatever its layout.
fn decode_text(text: &str) -> Result<Frame, DecodeError> {
    let envelope: Envelope = json_read::from_str(text).map_err(|e| envelope_error(text, &e))?;
    let seq = envelope.seq;
    let body = match envelope.kind.as_ref() {
        "event" => event_body(&envelope),
        "response" => FrameBody::Response(response(envelope)?),
        other => FrameBody::Ignored { kind: other.to_owned() },
    };
    Ok(Frame { seq, body })
}

/// The fast path for the frames the server sends by the thousand: an event frame laid out
/// exactly as the engine writes it, `{"type":"event","seq":N,"event":"NAME","body":BODY}`,
/// whose body decodes. The envelope is matched as text and the body parsed once, instead
/// of once to find where it ends and again to decode it (a third of the decode time). Any
/// other layout, and any body that does not decode, takes the general path, so every
/// frame decodes (or fails to) exactly as there.
fn canonical_event(text: &str) -> Option<Frame> {
    let rest = text.strip_prefix(r#"{"type":"event","seq":"#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (number, rest) = rest.split_at(digits);
    if number.starts_with('0') && number.len() > 1 {
        return None; // not JSON; let the parser say so
    }
    let seq = number.parse::<u64>().ok()?;
    let rest = rest.strip_prefix(r#","event":""#)?;
    let name_len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    let (name, rest) = rest.split_at(name_len);
    let body = rest.strip_prefix(r#"","body":"#)?.strip_suffix('}')?;
    if name.is_empty() {
        return None;
    }
    let event = decode_event_text(name, body).ok()?;
    Some(Frame { seq: Some(seq), body: FrameBody::Event(event) })
}

/// Envelope-level data errors mean "not an envelope" (an array, a number, no `type`).
fn envelope_error(text: &str, err: &json_read::ReadError) -> DecodeError {
    let mut error = read_error("frame", text, err);
    if error.kind == DecodeErrorKind::WrongShape {
        error.kind = DecodeErrorKind::NotAnEnvelope;
    }
    error
}

fn event_body(envelope: &Envelope<'_>) -> FrameBody {
    let Some(name) = envelope.event.as_deref() else {
        return undecodable("", DecodeErrorKind::NotAnEnvelope, "event frame without an `event` name");
    };
    let Some(body) = envelope.body else {
        return undecodable(name, DecodeErrorKind::WrongShape, &format!("{name}: event frame without a `body`"));
    };
    match decode_event_text(name, body.0) {
        Ok(event) => FrameBody::Event(event),
        Err(error) => FrameBody::UndecodableEvent { event: name.to_owned(), error },
    }
}

fn undecodable(event: &str, kind: DecodeErrorKind, reason: &str) -> FrameBody {
    FrameBody::UndecodableEvent { event: event.to_owned(), error: DecodeError { kind, reason: reason.to_owned() } }
}

fn response(envelope: Envelope<'_>) -> Result<Response, DecodeError> {
    let missing = |field: &str| DecodeError {
        kind: DecodeErrorKind::NotAnEnvelope,
        reason: format!("response without `{field}`"),
    };
    Ok(Response {
        request_seq: envelope.request_seq,
        command: envelope.command.ok_or_else(|| missing("command"))?,
        success: envelope.success.ok_or_else(|| missing("success"))?,
        message: envelope.message,
        trace: envelope.trace,
        body: envelope.body.map(|b| b.0.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::rocketride::events::{FlowEvent, TaskEvent, TaskStatusEvent};
    use crate::protocol::rocketride::task_status::TaskState;
    use proptest::prelude::*;
    use tsify::Tsify;

    const SAMPLE: &str = include_str!("../../../tests/fixtures/rocketride-sample.jsonl");

    fn sample_frames() -> Vec<&'static str> {
        SAMPLE.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    fn event(frame: &Frame) -> &RocketRideEvent {
        match &frame.body {
            FrameBody::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    fn response_of(frame: &Frame) -> &Response {
        match &frame.body {
            FrameBody::Response(r) => r,
            other => panic!("not a response: {other:?}"),
        }
    }

    fn err(bytes: &[u8]) -> DecodeError {
        decode_frame(bytes).expect_err("should not decode")
    }

    #[test]
    fn every_sample_event_is_written_as_serde_json_writes_it() {
        let events: Vec<RocketRideEvent> = sample_frames().iter().filter_map(|l| match decode_frame(l.as_bytes()).unwrap().body {
            FrameBody::Event(e) => Some(e),
            _ => None,
        }).collect();
        assert_eq!(events.len(), 7);
        for event in &events {
            assert_eq!(crate::core::json_write::to_json(event).unwrap(), serde_json::to_string(event).unwrap());
        }
    }

    #[test]
    fn every_sample_frame_decodes_to_what_it_says() {
        let frames: Vec<Frame> = sample_frames().iter().map(|l| decode_frame(l.as_bytes()).unwrap()).collect();
        assert_eq!(frames.len(), 15);
        // Client requests, as the server would see them.
        for i in [0, 2, 5, 13] {
            assert_eq!(frames[i].body, FrameBody::Ignored { kind: "request".into() }, "line {}", i + 1);
        }
        let auth = response_of(&frames[1]);
        assert_eq!(
            (frames[1].seq, auth.request_seq, auth.command.as_str(), auth.success),
            (Some(1), Some(1), "auth", true)
        );
        assert!(auth.body.as_deref().unwrap().contains("\"userId\":\"local\""));

        let RocketRideEvent::Task(TaskEvent::Running { tasks }) = event(&frames[3]) else { panic!() };
        assert_eq!((frames[3].seq, tasks.len(), tasks[0].id.as_str()), (Some(2), 1, "95fe269c.webhook_1"));

        let monitor = response_of(&frames[4]);
        assert_eq!((monitor.command.as_str(), monitor.success, monitor.body.is_none()), ("rrext_monitor", true, true));

        let RocketRideEvent::Task(TaskEvent::Begin(begin)) = event(&frames[6]) else { panic!() };
        assert_eq!(
            (frames[6].seq, begin.task_id.as_str(), begin.name.as_str()),
            (Some(5), "bee3a8ea.chat_1", "Support Agent.chat_1")
        );

        let RocketRideEvent::TaskStatus(TaskStatusEvent { task_id, status, .. }) = event(&frames[7]) else { panic!() };
        assert_eq!(
            (task_id.as_str(), status.state, status.start_time, status.service_up),
            ("bee3a8ea.chat_1", TaskState::Running, 1780052401.5123, true)
        );
        assert_eq!((status.metrics.cpu_memory_mb, status.tokens.total), (387.5, 0.0013));

        let execute = response_of(&frames[8]);
        assert_eq!((frames[8].seq, execute.request_seq, execute.command.as_str()), (Some(8), Some(3), "execute"));

        let RocketRideEvent::Flow(FlowEvent::Enter(flow)) = event(&frames[9]) else { panic!() };
        assert_eq!(
            (flow.pipe_id, flow.pipes.0.clone(), flow.trace.lane.as_deref().unwrap(), &flow.trace.data),
            (0, vec!["Question 1".to_string(), "agent_rocketride_1".into()], "questions", &crate::core::json_read::JsonText::null())
        );

        let RocketRideEvent::Sse(sse) = event(&frames[10]) else { panic!() };
        assert_eq!(
            (sse.kind.as_str(), sse.data.as_ref().unwrap().parse::<serde_json::Value>().unwrap()["message"].as_str()),
            ("thinking", Some("Analyzing your request..."))
        );

        let RocketRideEvent::Output(output) = event(&frames[11]) else { panic!() };
        assert_eq!(output.output, "agent_rocketride_1: wave 1 planned 2 tool calls\n");

        assert!(matches!(event(&frames[12]), RocketRideEvent::Task(TaskEvent::End(t)) if t.source == "chat_1"));
        assert_eq!(frames[12].seq, Some(15));

        let failed = response_of(&frames[14]);
        assert_eq!((failed.success, failed.message.as_deref()), (false, Some("Your pipeline is not running")));
        assert_eq!(failed.trace, Some(ErrorTrace { file: "task_server.py".into(), lineno: 674 }));
    }

    #[test]
    fn response_fields_may_be_null_or_absent() {
        let frame = decode_frame(
            br#"{"type":"response","seq":9,"request_seq":null,"command":"deauth","success":true,"body":{}}"#,
        )
        .unwrap();
        let response = response_of(&frame);
        assert_eq!((response.request_seq, response.body.as_deref()), (None, Some("{}")));
        assert_eq!(err(br#"{"type":"response","seq":9,"command":"x"}"#).reason, "response without `success`");
        assert_eq!(err(br#"{"type":"response","seq":9,"success":true}"#).kind, DecodeErrorKind::NotAnEnvelope);
    }

    #[test]
    fn unreadable_envelopes_are_errors() {
        assert_eq!(err(b"{\"type\":\"event\",").kind, DecodeErrorKind::InvalidJson);
        assert_eq!(err(b"not json").kind, DecodeErrorKind::InvalidJson);
        assert_eq!(err(b"").kind, DecodeErrorKind::InvalidJson);
        assert_eq!(err(&[0x00, 0x9f, 0x92, 0x96, 0xff]).kind, DecodeErrorKind::InvalidUtf8);
        assert_eq!(err(b"{\"type\":\"event\",\"x\":\"\xff\"}").kind, DecodeErrorKind::InvalidUtf8);
        assert_eq!(err(b"[1,2]").kind, DecodeErrorKind::NotAnEnvelope);
        assert_eq!(err(b"42").kind, DecodeErrorKind::NotAnEnvelope);
        assert_eq!(err(br#"{"seq":1,"event":"output"}"#).kind, DecodeErrorKind::NotAnEnvelope);
        assert_eq!(err(br#"{"type":5}"#).kind, DecodeErrorKind::NotAnEnvelope);
        let e = err(br#"{"seq":1}"#);
        assert_eq!(e.to_string(), format!("not a DAP envelope: {}", e.reason));
        assert!(e.reason.starts_with("frame: missing field `type`"), "{}", e.reason);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        // A bare array is refused before any nesting is read.
        assert_eq!(err(deep.as_bytes()).kind, DecodeErrorKind::NotAnEnvelope);
        // serde_json skips unknown fields and raw bodies without recursing...
        let in_envelope = format!(r#"{{"type":"request","seq":3,"extra":{deep}}}"#);
        assert_eq!(decode_frame(in_envelope.as_bytes()).unwrap().body, FrameBody::Ignored { kind: "request".into() });
        // ...and the typed body parse stops at the recursion limit; the seq survives.
        let in_body = format!(
            r#"{{"type":"event","seq":3,"event":"apaevt_sse","body":{{"pipe_id":0,"type":"x","__id":"t","data":{deep}}}}}"#
        );
        let frame = decode_frame(in_body.as_bytes()).unwrap();
        let FrameBody::UndecodableEvent { event, error } = frame.body else { panic!("{frame:?}") };
        assert_eq!((frame.seq, event.as_str(), error.kind), (Some(3), "apaevt_sse", DecodeErrorKind::TooDeep));
        assert!(error.reason.chars().count() < 140);
        // Just under the limit is fine.
        let shallow = format!(
            r#"{{"type":"event","seq":3,"event":"apaevt_sse","body":{{"pipe_id":0,"type":"x","__id":"t","data":{}{}}}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(matches!(decode_frame(shallow.as_bytes()).unwrap().body, FrameBody::Event(_)));
    }

    /// A node's payload is the app's to read: a lone surrogate escape in it (Python's
    /// `json.dumps`, with its default `ensure_ascii`, writes one for a string decoded with
    /// `surrogateescape`), in a key or a value, reaches the app as sent, for `JSON.parse` to
    /// read as it reads any text; refusing it would lose the whole event.
    #[test]
    fn lone_surrogates_in_untyped_payloads_are_kept() {
        let data = r#"{"line\udc80":"caf\udce9","n":[{"\ud800":1}]}"#;
        let frame = format!(r#"{{"type":"event","seq":4,"event":"apaevt_sse","body":{{"pipe_id":0,"type":"x","__id":"t","data":{data}}}}}"#);
        let decoded = decode_frame(frame.as_bytes()).unwrap();
        let FrameBody::Event(RocketRideEvent::Sse(sse)) = decoded.body else { panic!("{decoded:?}") };
        assert_eq!(sse.data.as_ref().map(crate::core::json_read::JsonText::get), Some(data));
    }

    #[test]
    fn undecodable_events_keep_seq_and_name() {
        let frame =
            decode_frame(br#"{"type":"event","seq":12,"event":"apaevt_flow","body":{"id":0,"pipes":[],"__id":"t"}}"#)
                .unwrap();
        assert_eq!(frame.seq, Some(12));
        let FrameBody::UndecodableEvent { event, error } = frame.body else { panic!() };
        assert_eq!((event.as_str(), error.kind), ("apaevt_flow", DecodeErrorKind::WrongShape));
        assert!(error.reason.starts_with("apaevt_flow body: missing field"), "{}", error.reason);
        let no_name = decode_frame(br#"{"type":"event","seq":13,"body":{}}"#).unwrap();
        assert!(matches!(no_name.body, FrameBody::UndecodableEvent { ref event, .. } if event.is_empty()));
        let no_body = decode_frame(br#"{"type":"event","seq":14,"event":"output"}"#).unwrap();
        assert!(
            matches!(no_body.body, FrameBody::UndecodableEvent { ref error, .. } if error.reason == "output: event frame without a `body`")
        );
    }

    #[test]
    fn reasons_never_carry_the_whole_frame() {
        let long = "x".repeat(10_000);
        let e = err(format!(r#"{{"type":"event","seq":"{long}"}}"#).as_bytes());
        assert_eq!(e.kind, DecodeErrorKind::NotAnEnvelope);
        assert!(e.reason.chars().count() < 140, "{}", e.reason);
        assert!(
            e.reason.contains("invalid type: string") && e.reason.ends_with("at line 1 column 10024"),
            "{}",
            e.reason
        );
        let frame = decode_frame(
            format!(r#"{{"type":"event","seq":1,"event":"output","body":{{"output":5,"category":"{long}"}}}}"#)
                .as_bytes(),
        )
        .unwrap();
        let FrameBody::UndecodableEvent { error, .. } = frame.body else { panic!() };
        assert!(error.reason.chars().count() < 140, "{}", error.reason);
    }

    #[test]
    fn decode_error_serialises_with_camel_case_kind() {
        let e = err(b"[]");
        assert_eq!(serde_json::to_value(&e).unwrap()["kind"], "notAnEnvelope");
        assert_eq!(
            DecodeError::DECL,
            "/**\n * Why a frame or an event body could not be decoded.\n */\nexport interface DecodeError {\n    /**\n     * What kind of failure.\n     */\n    kind: DecodeErrorKind;\n    /**\n     * A human-readable reason with the position; never the whole frame.\n     */\n    reason: string;\n}"
        );
        assert!(DecodeErrorKind::DECL.ends_with("export type DecodeErrorKind = \"invalidUtf8\" | \"invalidJson\" | \"notAnEnvelope\" | \"wrongShape\" | \"tooDeep\";"));
    }

    /// The general path alone, as every frame was decoded before the fast path.
    fn general(bytes: &[u8]) -> Result<Frame, DecodeError> {
        let clean = sanitize_non_finite(bytes);
        let text = std::str::from_utf8(&clean).map_err(|e| DecodeError { kind: DecodeErrorKind::InvalidUtf8, reason: format!("frame: {e}") })?;
        decode_text(text)
    }

    #[test]
    fn the_fast_path_takes_the_servers_event_frames_and_decodes_them_as_the_general_path_does() {
        let events: Vec<&str> = sample_frames().into_iter().filter(|l| l.starts_with(r#"{"type":"event""#)).collect();
        assert_eq!(events.len(), 7);
        for line in events {
            let fast = canonical_event(line).unwrap_or_else(|| panic!("not taken by the fast path: {line}"));
            assert_eq!(Ok(fast), general(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn frames_the_fast_path_must_leave_to_the_parser() {
        let body = r#"{"output":"x\n","__id":"cafe0001.chat_1"}"#;
        let cases = [
            // Trailing text after the envelope, or after the body inside it.
            format!(r#"{{"type":"event","seq":1,"event":"output","body":{body}}}}}"#),
            format!(r#"{{"type":"event","seq":1,"event":"output","body":{body},"extra":true}}"#),
            format!(r#"{{"type":"event","seq":1,"event":"output","body":{body},"body":{body}}}"#),
            // Numbers JSON does not allow, or u64 cannot hold.
            format!(r#"{{"type":"event","seq":01,"event":"output","body":{body}}}"#),
            format!(r#"{{"type":"event","seq":99999999999999999999,"event":"output","body":{body}}}"#),
            // Bodies that are not JSON, or not this event's shape.
            r#"{"type":"event","seq":1,"event":"output","body":{"output":}}"#.to_string(),
            r#"{"type":"event","seq":1,"event":"apaevt_unheard_of","body":{"a":}}"#.to_string(),
            r#"{"type":"event","seq":1,"event":"output","body":{"output":7}}"#.to_string(),
            // An empty or escaped event name.
            format!(r#"{{"type":"event","seq":1,"event":"","body":{body}}}"#),
            format!(r#"{{"type":"event","seq":1,"event":"out\u0070ut","body":{body}}}"#),
        ];
        for frame in &cases {
            assert_eq!(canonical_event(frame), None, "{frame}");
            assert_eq!(decode_frame(frame.as_bytes()), general(frame.as_bytes()), "{frame}");
        }
    }

    /// What a third kind of edit does (the first two replace and remove a byte).
    enum Edit {
        Insert,
        Truncate,
    }

    /// Sample frame `line` after `edits`: (where, byte, 0 replace / 1 remove / 2 `third`).
    fn mutated(line: usize, edits: &[(prop::sample::Index, u8, u8)], third: Edit) -> Vec<u8> {
        let mut bytes = sample_frames()[line].as_bytes().to_vec();
        for (at, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match (op, &third) {
                (0, _) => bytes[i] = *byte,
                (1, _) => {
                    bytes.remove(i);
                }
                (_, Edit::Insert) => bytes.insert(i, *byte),
                (_, Edit::Truncate) => bytes.truncate(i),
            }
        }
        bytes
    }

    proptest! {
        #[test]
        fn the_fast_path_never_decodes_a_frame_differently(
            line in 0usize..15,
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(br#"{}[]":,0123456789aeflnrstu_\ "#.to_vec()), 0u8..3), 0..4),
        ) {
            let bytes = mutated(line, &edits, Edit::Insert);
            prop_assert_eq!(decode_frame(&bytes), general(&bytes));
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_frame(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_sample_frames(
            line in 0usize..15,
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
        ) {
            let bytes = mutated(line, &edits, Edit::Truncate);
            if let Ok(frame) = decode_frame(&bytes) {
                // Whatever survived, a decoded frame is written for JS without failing, and
                // as serde_json writes it.
                if let FrameBody::Event(event) = frame.body {
                    prop_assert_eq!(crate::core::json_write::to_json(&event).ok(), serde_json::to_string(&event).ok());
                    prop_assert!(serde_json::to_value(&event).is_ok());
                }
            }
        }
    }
}

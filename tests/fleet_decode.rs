//! Decoding fleet-rlm frames: every frame of the sample session, the extra frames the spec
//! lists, unknown kinds and types (kept, never dropped), malformed frames (typed decode
//! errors, nothing lost), undeclared fields (kept in `extra`) and the JSON apps receive.

mod fleet_support;

use runwatch::core::wire::DecodeErrorKind;
use runwatch::protocol::fleet_rlm::chat_events::{decode_chat_event, ChatEvent};
use runwatch::protocol::fleet_rlm::errors::{CloseMeaning, ConnectionError, ErrorClass};
use runwatch::protocol::fleet_rlm::execution::{decode_execution_event, step_index, ExecutionEvent};
use runwatch::protocol::fleet_rlm::frames::{decode_chat_frame, ChatFrame, ServerFrame};
use runwatch::protocol::fleet_rlm::requests::{CommandRequest, MessageRequest};
use serde_json::{json, Value};

fn chat(text: &str) -> ChatFrame {
    match decode_chat_frame(text).unwrap_or_else(|e| panic!("{e}: {text}")) {
        ServerFrame::Chat(frame) => frame,
        ServerFrame::CommandResult(r) => panic!("a command result: {r:?}"),
    }
}

fn event(text: &str) -> ChatEvent {
    match chat(text) {
        ChatFrame::Event(event) => event,
        other => panic!("not an event: {other:?}"),
    }
}

fn execution(text: &str) -> ExecutionEvent {
    decode_execution_event(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `value` as the app gets it: written by the SDK's writer, which must write it as
/// serde_json does.
fn js<T: serde::Serialize>(value: &T) -> Value {
    let text = runwatch::core::json_write::to_json(value).unwrap();
    assert_eq!(text, serde_json::to_string(value).unwrap());
    serde_json::from_str(&text).unwrap()
}

fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn every_frame_of_the_sample_session_decodes_to_a_typed_value() {
    for (i, line) in fleet_support::sample().into_iter().enumerate() {
        let kind = parsed(line)["type"].as_str().unwrap().to_owned();
        match kind.as_str() {
            "message" | "command" => {} // client frames: see the encoder test
            "execution_started" | "execution_step" | "execution_completed" => {
                assert!(!matches!(execution(line), ExecutionEvent::Unknown(_)), "line {}: {line}", i + 1);
            }
            "command_result" => assert!(matches!(decode_chat_frame(line), Ok(ServerFrame::CommandResult(_)))),
            _ => match chat(line) {
                ChatFrame::Event(ChatEvent::Unknown(u)) => panic!("line {} did not type: {u:?}", i + 1),
                ChatFrame::Unknown(u) => panic!("line {} did not type: {u:?}", i + 1),
                _ => {}
            },
        }
    }
}

#[test]
fn the_sample_client_frames_are_what_the_encoders_write() {
    let lines = fleet_support::sample();
    let message = MessageRequest {
        trace: Some(true),
        trace_mode: Some("compact".into()),
        execution_mode: Some("auto".into()),
        ..MessageRequest::new("list the workspace files", "sess-b")
    };
    assert_eq!(parsed(&message.to_wire()), parsed(lines[0]));
    let resolve = CommandRequest::resolve_hitl("sess-b", "2eb87f11-03d3-4ff8-af54-fce888189fd0", "Which branch?");
    assert_eq!(resolve.to_wire(), parsed(lines[11]));
}

#[test]
fn chat_events_of_the_sample_carry_their_typed_payloads() {
    let lines = fleet_support::sample();
    let ChatEvent::Status(status) = event(lines[1]) else { panic!() };
    let payload = status.payload.unwrap();
    assert_eq!(payload.phase.as_deref(), Some("startup"));
    assert_eq!(payload.runtime.unwrap().runtime_mode.as_deref(), Some("daytona_pilot"));

    let ChatEvent::ReasoningStep(reasoning) = event(lines[3]) else { panic!() };
    let payload = reasoning.payload.as_ref().unwrap();
    assert_eq!(payload.source.as_deref(), Some("next_thought"));
    let runtime = payload.runtime.as_ref().unwrap();
    assert_eq!((runtime.depth, runtime.sandbox_id.as_deref(), runtime.sandbox_transition.as_deref()), (Some(0), Some("sbx-7f3a"), Some("reused")));
    assert!(payload.extra.is_empty(), "the flattened runtime copies are not repeated in extra: {:?}", payload.extra);
    assert_eq!(reasoning.event_id.as_deref(), Some("4f6a91505f0c4213aee5c66defe522ec"));
    assert_eq!(reasoning.timestamp.as_deref(), Some("2026-11-23T00:33:35.980279+00:00"));

    let ChatEvent::ToolCall(tool) = event(lines[4]) else { panic!() };
    assert_eq!(tool.payload.unwrap().tool_name.as_deref(), Some("list_files"));

    let ChatEvent::AssistantToken(token) = event(lines[7]) else { panic!() };
    assert_eq!(token.text, "The workspace ");

    let ChatEvent::Final(done) = event(lines[9]) else { panic!() };
    let payload = done.payload.unwrap();
    assert_eq!((payload.schema_version, payload.history_turns), (Some(2), Some(1)));
    assert_eq!(payload.trajectory.as_ref().unwrap().parse::<Value>().unwrap()["tool_name_0"], "list_files");
    assert_eq!(payload.final_reasoning.as_deref(), Some("I have enough to answer."));
    assert!(payload.citations.is_empty() && payload.sources.is_empty() && payload.attachments.is_empty());
    assert_eq!(payload.runtime.as_ref().unwrap().effective_max_iters, Some(15));

    let ChatEvent::HitlRequest(hitl) = event(lines[10]) else { panic!() };
    let payload = hitl.payload.unwrap();
    assert_eq!(payload.message_id.as_deref(), Some("2eb87f11-03d3-4ff8-af54-fce888189fd0"));
    assert_eq!(payload.options.unwrap(), vec!["Which branch?", "Include tests?"]);

    let ChatEvent::HitlResolved(resolved) = event(lines[12]) else { panic!() };
    assert_eq!((resolved.timestamp.as_deref(), resolved.version), (None, Some(1)));
    assert_eq!(resolved.payload.unwrap().resolution.as_deref(), Some("Which branch?"));

    let ServerFrame::CommandResult(result) = decode_chat_frame(lines[13]).unwrap() else { panic!() };
    assert_eq!(result.command, "resolve_hitl");
    assert!(result.outcome().is_ok());

    let ChatFrame::Error(error) = chat(lines[14]) else { panic!() };
    assert_eq!((error.code.as_deref(), error.class), (Some("llm_timeout"), ErrorClass::Stream));
    assert_eq!(error.details.unwrap().error_type.as_deref(), Some("RuntimeError"));
}

#[test]
fn execution_events_of_the_sample_carry_typed_steps_and_summary() {
    let lines = fleet_support::sample();
    let ExecutionEvent::ExecutionStarted(started) = execution(lines[2]) else { panic!() };
    assert_eq!((started.run_id.as_str(), started.session_id.as_str()), ("default:anonymous:sess-b:1", "sess-b"));
    assert!(started.extra.is_empty(), "the null step and summary are not extra: {:?}", started.extra);

    let ExecutionEvent::ExecutionStep(s3) = execution(lines[5]) else { panic!() };
    assert_eq!((s3.step.index(), s3.step.step_type.as_str(), s3.step.label.as_str()), (Some(3), "repl", "repl_execute"));
    assert_eq!((s3.step.depth, s3.step.actor_kind.as_deref(), s3.step.lane_key.as_deref()), (None, Some("delegate"), Some("delegate")));
    assert_eq!(s3.step.timestamp, Some(1795394016.0007448));
    let ExecutionEvent::ExecutionStep(s5) = execution(lines[6]) else { panic!() };
    assert_eq!(s5.step.parent_id.as_deref(), Some(s3.step.id.as_str()));
    assert_eq!(s5.step.output.as_ref().unwrap().parse::<Value>().unwrap()["stdout_preview"], "['README.md', 'main.py', 'setup.py']");

    let ExecutionEvent::ExecutionCompleted(done) = execution(lines[8]) else { panic!() };
    let step = done.step.as_ref().unwrap();
    assert_eq!((step.index(), step.step_type.as_str(), step.label.as_str()), (Some(9), "output", "assistant_output"));
    let summary = done.summary.as_ref().unwrap();
    assert_eq!((summary.status.as_deref(), summary.task.as_deref()), (Some("completed"), Some("list the workspace files")));
    assert_eq!(summary.final_artifact.as_ref().unwrap().finalization_mode.as_deref(), Some("RETURN"));
    assert_eq!(summary.summary.as_ref().unwrap().termination_reason.as_deref(), Some("final"));
}

#[test]
fn the_frames_the_spec_lists_beside_the_sample_decode() {
    let cancelled = event(r#"{"type":"event","data":{"kind":"cancelled","text":"Request cancelled.","payload":null,"timestamp":"2026-11-23T00:35:08.288089+00:00","version":2,"event_id":"f6c77d29-ed03-4310-83ff-5c9eb8dc49a4"}}"#);
    let ChatEvent::Cancelled(cancelled) = cancelled else { panic!() };
    assert_eq!(cancelled.payload, None, "a null payload is an absent one");

    let dropped = execution(r#"{"type":"execution_completed","run_id":"default:anonymous:sess-c:1","workspace_id":"default","user_id":"anonymous","session_id":"sess-c","step":null,"summary":null}"#);
    let ExecutionEvent::ExecutionCompleted(dropped) = dropped else { panic!() };
    assert!(dropped.step.is_none() && dropped.summary.is_none());
    assert_eq!(js(&ExecutionEvent::ExecutionCompleted(dropped)), json!({"type": "execution_completed", "runId": "default:anonymous:sess-c:1", "workspaceId": "default", "userId": "anonymous", "sessionId": "sess-c"}));

    let ChatFrame::Error(busy) = chat(r#"{"type":"error","message":"A run is already in progress. Cancel it or wait for completion before sending another message."}"#) else { panic!() };
    assert_eq!((busy.code, busy.class), (None, ErrorClass::Uncoded));
    let ChatFrame::Error(planner) = chat(r#"{"type":"error","code":"planner_missing","message":"Planner LM not configured. Check DSPY_LM_MODEL and DSPY_LLM_API_KEY env vars."}"#) else { panic!() };
    assert_eq!(planner.class, ErrorClass::ServerSetup);
    let closed = ConnectionError::from_close(1000, Some(&planner));
    assert_eq!((closed.meaning, closed.retryable), (CloseMeaning::Normal, true));
    let ChatFrame::Error(auth) = chat(r#"{"type":"error","code":"auth_failed","message":"Invalid token"}"#) else { panic!() };
    let refused = ConnectionError::from_close(1008, Some(&auth));
    assert_eq!((refused.meaning, refused.retryable, auth.class), (CloseMeaning::Policy, false, ErrorClass::Auth));
}

#[test]
fn unknown_kinds_and_types_are_kept_with_everything_they_carried() {
    let turn_inputs = event(r#"{"type":"event","data":{"kind":"turn_inputs","text":"x","payload":{"a":[1,2]},"version":3,"event_id":"r:7","sequence":7}}"#);
    let ChatEvent::Unknown(unknown) = &turn_inputs else { panic!("{turn_inputs:?}") };
    assert_eq!((unknown.name.as_str(), unknown.text.as_str(), unknown.version), ("turn_inputs", "x", Some(3)));
    assert_eq!(unknown.payload.as_ref().unwrap(), &json!({"a": [1, 2]}));
    assert_eq!(unknown.decode_error, None);
    assert_eq!(turn_inputs.kind(), "turn_inputs");
    assert_eq!(js(&turn_inputs)["kind"], "unknown");

    let ChatFrame::Unknown(envelope) = chat(r#"{"type":"pong","n":1}"#) else { panic!() };
    assert_eq!((envelope.name.as_str(), envelope.raw.parse::<Value>().unwrap()), ("pong", json!({"type": "pong", "n": 1})));

    let ExecutionEvent::Unknown(exec) = execution(r#"{"type":"execution_paused","run_id":"r"}"#) else { panic!() };
    assert_eq!((exec.name.as_str(), exec.raw.parse::<Value>().unwrap()["run_id"].as_str(), exec.decode_error.is_none()), ("execution_paused", Some("r"), true));
}

#[test]
fn version_0_6_chat_frames_with_execution_kinds_are_typed() {
    let step = event(r#"{"type":"event","data":{"kind":"execution_step","text":"","payload":{"step":{"id":"r:s1"}},"version":3,"event_id":"r:4","sequence":4}}"#);
    let ChatEvent::ExecutionStep(step) = step else { panic!("{step:?}") };
    assert_eq!((step.version, step.sequence), (Some(3), Some(4)));
    assert!(step.payload.unwrap().extra.get("step").is_some(), "the 0.6 payload is kept in extra");
}

#[test]
fn malformed_frames_give_typed_decode_errors() {
    let kind = |text: &str| decode_chat_frame(text).unwrap_err().kind;
    assert_eq!(kind("{not json"), DecodeErrorKind::InvalidJson);
    assert_eq!(kind("[1,2]"), DecodeErrorKind::NotAnEnvelope);
    assert_eq!(kind(r#"{"kind":"final"}"#), DecodeErrorKind::NotAnEnvelope);
    assert_eq!(kind(r#"{"type":"event"}"#), DecodeErrorKind::WrongShape);
    assert_eq!(kind(r#"{"type":"event","data":{"text":"no kind"}}"#), DecodeErrorKind::WrongShape);
    assert_eq!(decode_execution_event(r#"{"type":7}"#).unwrap_err().kind, DecodeErrorKind::NotAnEnvelope);
    assert_eq!(decode_chat_event("3").unwrap_err().kind, DecodeErrorKind::WrongShape);
}

#[test]
fn a_known_kind_whose_payload_has_the_wrong_shape_arrives_as_unknown_with_the_reason() {
    let bad = event(r#"{"type":"event","data":{"kind":"tool_call","text":"tool call: x","payload":{"tool_name":42},"version":2}}"#);
    let ChatEvent::Unknown(unknown) = bad else { panic!("{bad:?}") };
    assert_eq!(unknown.name, "tool_call");
    assert_eq!(unknown.payload.as_ref().unwrap(), &json!({"tool_name": 42}), "nothing is lost");
    assert_eq!(unknown.decode_error.unwrap().kind, DecodeErrorKind::WrongShape);

    let bad_step = execution(r#"{"type":"execution_step","run_id":"r","workspace_id":"w","user_id":"u","session_id":"s","step":{"type":"llm"},"summary":null}"#);
    let ExecutionEvent::Unknown(unknown) = bad_step else { panic!("{bad_step:?}") };
    assert_eq!(unknown.name, "execution_step");
    assert_eq!(unknown.raw.parse::<Value>().unwrap()["step"], json!({"type": "llm"}));
    assert!(unknown.decode_error.unwrap().reason.contains("id"));
}

#[test]
fn undeclared_fields_are_kept_at_every_level() {
    let ev = event(r#"{"type":"event","data":{"kind":"final","text":"t","payload":{"citations":[{"number":1,"title":"T","page":4}],"brand_new":true,"depth":0},"version":2,"event_id":"e","new_top":"x"}}"#);
    let ChatEvent::Final(done) = ev else { panic!() };
    assert_eq!(done.extra.get("new_top").map(|v| v.get()), Some("\"x\""));
    let payload = done.payload.unwrap();
    assert_eq!(payload.extra.get("brand_new").map(|v| v.get()), Some("true"));
    assert_eq!(payload.citations[0].extra.get("page").map(|v| v.get()), Some("4"));
    assert_eq!(payload.runtime.as_ref().unwrap().depth, Some(0), "a flattened context without a runtime object is still kept");

    let ExecutionEvent::ExecutionStep(step) = execution(r#"{"type":"execution_step","run_id":"r","workspace_id":"w","user_id":"u","session_id":"s","step":{"id":"r:s2","type":"llm","label":"x","sequence":2,"cost":1.5},"summary":null,"trace":"t"}"#) else { panic!() };
    assert_eq!(step.step.sequence, Some(2));
    assert_eq!(step.step.extra.get("cost").map(|v| v.get()), Some("1.5"));
    assert_eq!(step.extra.get("trace").map(|v| v.get()), Some("\"t\""));

    // An error frame's `details`, nested below the frame, too (they were dropped before).
    let ChatFrame::Error(error) = chat(r#"{"type":"error","code":"sandbox_unavailable","message":"m","details":{"error_type":"E","sandbox":"sbx-1"},"hint":2}"#) else { panic!() };
    assert_eq!(error.extra.get("hint").map(|v| v.get()), Some("2"));
    let details = error.details.unwrap();
    assert_eq!(details.error_type.as_deref(), Some("E"));
    assert_eq!(details.extra.get("sandbox").map(|v| v.get()), Some("\"sbx-1\""));
}

#[test]
fn apps_receive_camel_case_with_absent_values_as_missing_keys() {
    let lines = fleet_support::sample();
    let resolved = js(&chat(lines[12]));
    assert_eq!(resolved["type"], "event");
    assert_eq!(resolved["kind"], "hitl_resolved");
    assert_eq!(resolved["eventId"], "cb8a337b-01ce-4522-9605-415862e1a81b");
    assert_eq!(resolved["payload"]["messageId"], "2eb87f11-03d3-4ff8-af54-fce888189fd0");
    assert!(resolved.get("timestamp").is_none(), "absent, not null: {resolved}");
    let step = js(&execution(lines[5]));
    assert_eq!(step["step"]["parentId"], "default:anonymous:sess-b:1:root");
    assert_eq!(step["step"]["type"], "repl");
    assert!(step["step"].get("depth").is_none() && step["step"].get("actorId").is_none());
    assert!(step.get("summary").is_none());
    let error = js(&chat(lines[14]));
    assert_eq!(error, json!({"type": "error", "code": "llm_timeout", "message": "Streaming error: LLM call timed out after 60s", "details": {"errorType": "RuntimeError"}, "class": "stream"}));
}

#[test]
fn step_indices_come_from_the_id_suffix() {
    assert_eq!(step_index("default:anonymous:sess-b:1:s12"), Some(12));
    assert_eq!(step_index("a:sx"), None);
    assert_eq!(step_index("no-index"), None);
}

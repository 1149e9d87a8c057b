//! The chat socket plug-in driven through the engine: turns assembled for normal, error,
//! cancelled and HITL turns; commands correlated with their results (typed reply, typed
//! error, timeout); an auth failure that stops reconnecting; a drop mid-turn that ends the
//! turn and is never answered by re-sending the message.

mod fleet_support;

use fleet_support::{sample, Shell};
use runwatch::core::json_read::JsonObject;
use runwatch::core::lifecycle::ConnState;
use runwatch::core::outputs::{Diagnostic, Output, RequestError, UnreplayableReason};
use runwatch::core::time::{Duration, Instant};
use runwatch::protocol::fleet_rlm::chat::{ChatClient, ChatConfig, ChatError, FleetChat};
use runwatch::protocol::fleet_rlm::errors::{CloseMeaning, ConnectionError, ErrorClass};
use runwatch::protocol::fleet_rlm::frames::ChatFrame;
use runwatch::protocol::fleet_rlm::requests::{CommandRequest, MessageRequest};
use runwatch::protocol::fleet_rlm::turns::TurnState;
use serde_json::{json, Value};

fn client() -> Shell<FleetChat> {
    let mut shell = Shell::new(ChatClient::new(ChatConfig::default(), Instant::from_millis(0)));
    shell.conn.listen(1);
    assert_eq!(shell.conn.state(), ConnState::Live, "the URL carries the credential: live once open");
    shell
}

fn ask(shell: &mut Shell<FleetChat>, content: &str) -> u64 {
    let now = shell.now;
    let turn = shell.conn.send_message(now, &MessageRequest::new(content, "sess-b")).unwrap();
    shell.drain();
    turn
}

fn reply(shell: &Shell<FleetChat>, id: u32) -> Option<&Result<Option<String>, RequestError>> {
    shell.outputs.iter().find_map(|o| match o {
        Output::Reply { id: i, result } if *i == id => Some(result),
        _ => None,
    })
}

const TOOL_RESULT: &str = r#"{"type":"event","data":{"kind":"tool_result","text":"tool result: finished","payload":{"raw_status":"Tool finished.","tool_name":"list_files","tool_output":"['README.md']"},"timestamp":"2026-11-23T00:33:36.010000+00:00","version":2,"event_id":"aa"}}"#;
const CANCELLED: &str = r#"{"type":"event","data":{"kind":"cancelled","text":"The workspace\n\n[cancelled]","payload":{"history_turns":1},"timestamp":"2026-11-23T00:35:08.288089+00:00","version":2,"event_id":"bb"}}"#;

#[test]
fn a_normal_turn_is_assembled_from_its_events() {
    let mut shell = client();
    let lines = sample();
    let turn = ask(&mut shell, "list the workspace files");
    assert_eq!(serde_json::from_str::<Value>(&shell.sent[0]).unwrap()["content"], "list the workspace files");
    assert_eq!(shell.conn.current_turn().unwrap().state, TurnState::Sent);
    for line in [lines[1], lines[3], lines[4], TOOL_RESULT, lines[7]] {
        shell.frame(line);
    }
    let running = shell.conn.current_turn().unwrap();
    assert_eq!((running.turn_id, running.state, running.answer.as_str()), (turn, TurnState::Running, "The workspace "));
    shell.frame(lines[9]);
    assert!(shell.conn.current_turn().is_none());
    let snapshot = shell.conn.turns();
    let done = &snapshot.turns[0];
    assert_eq!(done.state, TurnState::Completed);
    assert_eq!(done.answer, "The workspace contains 3 files.");
    assert_eq!(done.reasoning, "I should inspect the workspace first.");
    assert_eq!(done.status.as_deref(), Some("Preparing Daytona workspace..."));
    assert_eq!(done.tools.len(), 1);
    assert_eq!((done.tools[0].name.as_str(), done.tools[0].finished), ("list_files", true));
    assert_eq!(done.tools[0].output.as_ref().unwrap(), &json!("['README.md']"));
    assert_eq!(done.final_payload.as_ref().unwrap().history_turns, Some(1));
    assert_eq!((done.events, done.session_id.as_deref()), (6, Some("sess-b")));
    assert_eq!(shell.delivered().len(), 6, "every frame also reaches the listener");
    assert!(std::sync::Arc::ptr_eq(&snapshot, &shell.conn.turns()), "the same snapshot until something changes");
}

#[test]
fn one_turn_at_a_time_and_what_the_server_would_refuse_is_refused_before_sending() {
    let mut shell = client();
    ask(&mut shell, "first");
    let now = shell.now;
    assert_eq!(shell.conn.send_message(now, &MessageRequest::new("second", "sess-b")), Err(ChatError::TurnInProgress));
    assert!(matches!(shell.conn.send_message(now, &MessageRequest::new("  ", "sess-b")), Err(ChatError::Invalid(_))));
    let no_repo = MessageRequest { repo_ref: Some("main".into()), ..MessageRequest::new("x", "sess-b") };
    assert!(matches!(shell.conn.send_message(now, &no_repo), Err(ChatError::Invalid(_))));
    shell.drain();
    assert_eq!(shell.sent.len(), 1);
}

#[test]
fn an_error_frame_ends_the_turn_and_the_socket_stays_usable() {
    let mut shell = client();
    let lines = sample();
    ask(&mut shell, "x");
    shell.frame(lines[3]);
    shell.frame(lines[14]);
    let snapshot = shell.conn.turns();
    let failed = &snapshot.turns[0];
    assert_eq!(failed.state, TurnState::Error);
    let error = failed.error.as_ref().unwrap();
    assert_eq!((error.code.as_deref(), error.class), (Some("llm_timeout"), ErrorClass::Stream));
    assert_eq!(shell.conn.state(), ConnState::Live);
    ask(&mut shell, "again");
    assert_eq!(shell.conn.turns().turns.len(), 2);
}

#[test]
fn a_cancelled_turn_ends_cancelled_and_an_idle_cancel_touches_no_turn() {
    let mut shell = client();
    let now = shell.now;
    assert_eq!(shell.conn.cancel(now), Err(ChatError::NoTurn));
    ask(&mut shell, "x");
    shell.frame(sample()[7]);
    shell.conn.cancel(now).unwrap();
    shell.drain();
    assert_eq!(shell.sent.last().unwrap(), r#"{"type":"cancel"}"#);
    assert!(shell.conn.current_turn().unwrap().cancel_requested);
    shell.frame(CANCELLED);
    let cancelled = shell.conn.turns().turns[0].clone();
    assert_eq!((cancelled.state, cancelled.answer.as_str()), (TurnState::Cancelled, "The workspace "));
    let version = shell.conn.turns_version();
    shell.frame(r#"{"type":"event","data":{"kind":"cancelled","text":"Request cancelled.","payload":null,"version":2,"event_id":"f6c77d29-ed03-4310-83ff-5c9eb8dc49a4"}}"#);
    assert_eq!(shell.conn.turns_version(), version, "the idle cancel is delivered but changes no turn");
    assert_eq!(shell.delivered().len(), 3);
}

#[test]
fn a_hitl_question_and_its_answer_are_part_of_the_turn_and_the_command_gets_a_typed_reply() {
    let mut shell = client();
    let lines = sample();
    ask(&mut shell, "x");
    shell.frame(lines[10]);
    let prompt = shell.conn.current_turn().unwrap().hitl[0].clone();
    assert_eq!((prompt.message_id.as_str(), prompt.options.len(), prompt.resolution), ("2eb87f11-03d3-4ff8-af54-fce888189fd0", 2, None));
    let resolve = CommandRequest::resolve_hitl("sess-b", &prompt.message_id, "Which branch?");
    shell.conn.call(7, resolve, None).unwrap();
    shell.drain();
    assert_eq!(serde_json::from_str::<Value>(shell.sent.last().unwrap()).unwrap(), serde_json::from_str::<Value>(lines[11]).unwrap());
    shell.frame(lines[12]);
    assert_eq!(shell.conn.current_turn().unwrap().hitl[0].resolution.as_deref(), Some("Which branch?"));
    shell.frame(lines[13]);
    let Some(Ok(Some(body))) = reply(&shell, 7) else { panic!("{:?}", reply(&shell, 7)) };
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"status": "ok", "messageId": "2eb87f11-03d3-4ff8-af54-fce888189fd0", "resolution": "Which branch?"})
    );
}

#[test]
fn command_results_are_matched_by_name_in_order_with_typed_errors_and_timeouts() {
    let mut shell = client();
    let tool = |name: &str| CommandRequest { command: name.into(), args: JsonObject::empty(), session_id: Some("sess-b".into()) };
    shell.conn.call(1, tool("list_files"), None).unwrap();
    shell.conn.call(2, tool("memory_tree"), None).unwrap();
    shell.conn.call(3, tool("list_files"), None).unwrap();
    shell.conn.call(4, tool("reset"), Some(Duration::from_secs(1))).unwrap();
    shell.drain();
    shell.frame(r#"{"type":"command_result","command":"memory_tree","result":{"status":"ok","tree":[]},"version":1,"event_id":"e1"}"#);
    shell.frame(r#"{"type":"command_result","command":"list_files","result":{"status":"ok","files":["a"]},"version":1,"event_id":"e2"}"#);
    shell.frame(r#"{"type":"command_result","command":"list_files","result":{"status":"error","error":"sandbox down","message_id":null},"version":1,"event_id":"e3"}"#);
    assert_eq!(reply(&shell, 2), Some(&Ok(Some(r#"{"status":"ok","tree":[]}"#.into()))));
    assert_eq!(reply(&shell, 1), Some(&Ok(Some(r#"{"status":"ok","files":["a"]}"#.into()))));
    assert!(matches!(reply(&shell, 3), Some(Err(RequestError::Server { message, .. })) if message == "sandbox down"));
    shell.advance(1_000);
    assert!(matches!(reply(&shell, 4), Some(Err(RequestError::Timeout { timeout_ms: 1_000 }))));
    let refused = shell.conn.call(5, CommandRequest { args: JsonObject::empty(), ..CommandRequest::resolve_hitl("s", "m", "") }, None);
    assert!(matches!(refused, Err(RequestError::Invalid { .. })), "{refused:?}");
}

#[test]
fn an_auth_failure_stops_reconnecting() {
    let mut shell = client();
    shell.frame(r#"{"type":"error","code":"auth_failed","message":"Invalid token"}"#);
    shell.close(1008);
    assert_eq!(shell.conn.state(), ConnState::AuthFailed);
    let message = shell.outputs.iter().find_map(|o| match o {
        Output::State(s) if s.new_state == ConnState::AuthFailed => s.message.clone(),
        _ => None,
    });
    assert_eq!(message.as_deref(), Some("Invalid token"));
    let why = ConnectionError::from_close(1008, shell.conn.preceding_error());
    assert_eq!((why.meaning, why.retryable), (CloseMeaning::Policy, false));
    shell.advance(10 * 60_000);
    assert_eq!((shell.conn.state(), shell.opens), (ConnState::AuthFailed, 1), "no second socket");
}

#[test]
fn a_server_setup_failure_keeps_reconnecting() {
    let mut shell = client();
    shell.frame(r#"{"type":"error","code":"sandbox_unavailable","message":"Missing DAYTONA_API_KEY","details":{"error_type":"DaytonaConfigError"}}"#);
    shell.close(1011);
    assert_eq!(shell.conn.state(), ConnState::Backoff);
    let why = ConnectionError::from_close(1011, shell.conn.preceding_error());
    assert_eq!((why.meaning, why.retryable), (CloseMeaning::ServerError, true));
    shell.until_live();
    assert_eq!(shell.opens, 2);
}

#[test]
fn a_drop_mid_turn_interrupts_the_turn_and_the_message_is_never_re_sent() {
    let mut shell = client();
    let turn = ask(&mut shell, "x");
    shell.frame(sample()[7]);
    shell.close(1006);
    let interrupted = shell.conn.turns().turns[0].clone();
    assert_eq!((interrupted.turn_id, interrupted.state, interrupted.answer.as_str()), (turn, TurnState::Interrupted, "The workspace "));
    shell.until_live();
    let messages = shell.sent.iter().filter(|f| f.contains(r#""type":"message""#)).count();
    assert_eq!(messages, 1, "not re-sent: {:?}", shell.sent);
    let resync = shell.diagnostics().into_iter().find_map(|d| match d {
        Diagnostic::Resync { unreplayable, .. } => Some(unreplayable.clone()),
        _ => None,
    });
    let unreplayable = resync.expect("a resync after the reconnect");
    assert_eq!(unreplayable.len(), 1);
    assert_eq!(unreplayable[0].reason, UnreplayableReason::Unsupported);
    assert!(unreplayable[0].message.contains("not re-sent"), "{}", unreplayable[0].message);
}

#[test]
fn a_payload_of_the_wrong_shape_is_reported_and_still_delivered() {
    let mut shell = client();
    shell.frame(r#"{"type":"event","data":{"kind":"tool_call","text":"t","payload":{"tool_name":1},"version":2}}"#);
    shell.frame("{garbage");
    let decode_errors: Vec<_> = shell.diagnostics().into_iter().filter(|d| matches!(d, Diagnostic::DecodeError { .. })).collect();
    assert_eq!(decode_errors.len(), 2);
    assert!(matches!(shell.delivered()[..], [ChatFrame::Event(_)]));
    let stats = shell.conn.stats();
    assert_eq!(stats.frames_received, 2);
    assert_eq!(stats.frames_received, stats.events_delivered + stats.decode_errors + stats.responses + stats.ignored);
}

#[test]
fn a_repeated_chat_event_is_dropped_and_counted_not_added_to_the_turn_again() {
    let mut shell = client();
    let lines = sample();
    ask(&mut shell, "list the workspace files");
    shell.frame(lines[7]);
    shell.frame(lines[7]);
    assert_eq!(shell.conn.current_turn().unwrap().answer, "The workspace ", "the token counts once");
    assert_eq!(shell.delivered().len(), 1, "the copy is not delivered");
    let stats = shell.conn.stats();
    assert_eq!((stats.events_delivered, stats.duplicates), (1, 1));
    assert_eq!(stats.frames_received, stats.events_delivered + stats.duplicates);
}

#[test]
fn event_ids_are_remembered_per_turn_as_0_6_reuses_them_after_a_failed_turn() {
    // 0.6.x ids are "<run_id>:<sequence>", and a turn after a failed one has the same run id.
    let mut shell = client();
    let lines = sample();
    ask(&mut shell, "first");
    shell.frame(lines[7]);
    shell.frame(lines[9]);
    assert!(shell.conn.current_turn().is_none(), "the final ended the turn");
    ask(&mut shell, "second");
    shell.frame(lines[7]);
    assert_eq!(shell.conn.current_turn().unwrap().answer, "The workspace ");
    assert_eq!((shell.delivered().len(), shell.conn.stats().duplicates), (3, 0));
}

//! The sample session replayed through both clients at once, the way the web shell wires
//! them: the chat turn tells the events client that a turn runs; the run arrives on the
//! events socket; the app reads one turn and one run, as JSON shaped for TypeScript.

mod fleet_support;

use fleet_support::{sample, Shell};
use runwatch::core::outputs::Diagnostic;
use runwatch::core::time::Instant;
use runwatch::protocol::fleet_rlm::chat::{ChatClient, ChatConfig};
use runwatch::protocol::fleet_rlm::requests::MessageRequest;
use runwatch::protocol::fleet_rlm::runs::RunStatus;
use runwatch::protocol::fleet_rlm::subscriber::{EventsClient, EventsConfig};
use runwatch::protocol::fleet_rlm::turns::TurnState;
use serde_json::{json, Value};

#[test]
fn the_sample_session_gives_one_turn_and_one_run() {
    let mut chat = Shell::new(ChatClient::new(ChatConfig::default(), Instant::from_millis(0)));
    let mut events = Shell::new(EventsClient::new(EventsConfig::new("sess-b"), Instant::from_millis(0)));
    chat.conn.listen(1);
    events.conn.listen(1);
    let now = chat.now;
    chat.conn.send_message(now, &MessageRequest::new("list the workspace files", "sess-b")).unwrap();
    events.conn.turn_started(now);
    // Lines 2–10 of the sample (the first turn), each to its socket, in arrival order.
    for line in &sample()[1..10] {
        let kind = serde_json::from_str::<Value>(line).unwrap()["type"].as_str().unwrap().to_owned();
        if kind.starts_with("execution_") {
            events.frame(line);
        } else {
            chat.frame(line);
        }
        chat.advance(100);
        events.advance(100);
    }
    if chat.conn.current_turn().is_none() {
        events.conn.turn_ended(events.now);
    }
    events.advance(60_000);
    assert!(!events.diagnostics().iter().any(|d| matches!(d, Diagnostic::Stalled { .. })), "events arrived: no stall");

    let turns = chat.conn.turns();
    let turn = serde_json::to_value(&*turns.turns[0]).unwrap();
    assert_eq!(turns.turns[0].state, TurnState::Completed);
    assert_eq!(turn["state"], "completed");
    assert_eq!(turn["answer"], "The workspace contains 3 files.");
    assert_eq!(turn["tools"], json!([{"name": "list_files", "kind": "tool_call", "finished": false}]));
    assert_eq!(turn["finalPayload"]["historyTurns"], 1);
    assert_eq!(turn["finalPayload"]["runtime"]["sandboxId"], "sbx-7f3a");
    assert!(turn.get("error").is_none() && turn.get("endedAt").is_some());

    let runs = events.conn.runs();
    assert_eq!(runs.runs[0].status, RunStatus::Completed);
    let run = serde_json::to_value(&*runs.runs[0]).unwrap();
    assert_eq!(run["runId"], "default:anonymous:sess-b:1");
    assert_eq!(run["tree"][0]["step"]["id"], "default:anonymous:sess-b:1:s3");
    assert_eq!(run["tree"][0]["children"][0]["step"]["label"], "repl_result");
    assert_eq!(run["tree"][1]["step"]["type"], "output");
    assert_eq!(run["summary"]["finalArtifact"]["kind"], "assistant_response");
    assert_eq!(run["missingCount"], 6);
}

//! fleet-rlm scripted turns over real sockets: a full turn with the events socket open,
//! errors, cancel, HITL, late joiners, out-of-order steps, a chat socket dropped mid-turn.

mod fleet_support;

use std::collections::HashSet;
use std::time::Duration;

use fleet_support::*;
use serde_json::{json, Value};

fn steps(frames: &[Value]) -> Vec<u64> {
    frames.iter().filter(|v| v["type"] == "execution_step").map(step_index).collect()
}

#[tokio::test]
async fn a_full_turn_on_both_sockets() {
    let sim = sim_default().await;
    let mut events = Ws::events(&sim, "sess-b").await;
    let mut chat = Ws::chat(&sim).await;
    wait_subscribers(&sim, 1).await;
    chat.message("list the workspace files", "sess-b").await;
    let c = chat.until(|v| kind(v) == "final").await;
    let e = events.until(|v| v["type"] == "execution_completed").await;

    // Chat: startup status first, the spec's typical order, every event well-formed.
    let kinds: Vec<String> = c.iter().map(kind).collect();
    assert_eq!(c[0]["data"]["text"], "Preparing Daytona workspace...");
    let pos = |k: &str| kinds.iter().position(|x| x == k).unwrap_or_else(|| panic!("no {k} in {kinds:?}"));
    assert!(pos("reasoning_step") < pos("tool_call"));
    assert!(pos("tool_call") < pos("tool_result"));
    assert!(pos("tool_result") < pos("assistant_token"));
    assert!(pos("assistant_token") < pos("trajectory_step"));
    for f in &c {
        let d = &f["data"];
        assert_eq!(f["type"], "event");
        assert_eq!(d["version"], 2);
        assert_eq!(d["event_id"].as_str().unwrap().len(), 32, "uuid4 hex");
        let ts = d["timestamp"].as_str().unwrap();
        assert!(ts.ends_with("+00:00") && ts.len() == 32, "{ts}");
    }
    let tool_call = &c[pos("tool_call")]["data"]["payload"];
    assert_eq!(tool_call["runtime"]["runtime_mode"], "daytona_pilot");
    assert_eq!(tool_call["depth"], 0);
    let answer: String = c.iter().filter(|v| kind(v) == "assistant_token").map(|v| v["data"]["text"].as_str().unwrap()).collect();
    let fin = c.last().unwrap();
    assert_eq!(fin["data"]["text"].as_str().unwrap(), answer, "tokens concatenate to the final text");
    assert_eq!(fin["data"]["payload"]["schema_version"], 2);
    assert!(fin["data"]["payload"]["trajectory"]["tool_name_0"].is_string());

    // Events: bare objects, every key present, started first, completed last.
    let run_id = "default:anonymous:sess-b:1";
    assert_eq!(e[0], json!({"type":"execution_started","run_id":run_id,"workspace_id":"default","user_id":"anonymous","session_id":"sess-b","step":null,"summary":null}));
    for f in &e {
        assert_eq!(f.as_object().unwrap().len(), 7, "{f}");
        assert_eq!(f["run_id"], run_id);
    }
    let done = e.last().unwrap();
    let out = &done["step"];
    assert_eq!(out["type"], "output");
    assert_eq!(out["label"], "assistant_output");
    assert_eq!(done["summary"]["status"], "completed");
    assert_eq!(done["summary"]["task"], "list the workspace files");
    assert_eq!(done["summary"]["final_artifact"]["value"]["text"], fin["data"]["text"]);
    // The terminal output step was also sent as an execution_step with the same id.
    let before = &e[e.len() - 2];
    assert_eq!(before["type"], "execution_step");
    assert_eq!(before["step"]["id"], out["id"]);
    // Step ids: unique per run, arriving out of order, timestamps as floats.
    let idx = steps(&e);
    let unique: HashSet<u64> = idx.iter().copied().collect();
    assert_eq!(unique.len(), idx.len(), "{idx:?}");
    assert!(idx.windows(2).any(|w| w[1] < w[0]), "REPL steps arrive out of order: {idx:?}");
    assert_eq!(*unique.iter().max().unwrap() as usize, idx.len(), "no holes without drops");
    for f in e.iter().filter(|v| v["type"] == "execution_step") {
        assert!(f["step"]["timestamp"].is_f64());
        assert!(f["step"]["id"].as_str().unwrap().starts_with(run_id));
    }
    let repl: Vec<&Value> = e.iter().filter(|v| v["step"]["type"] == "repl").collect();
    assert_eq!(repl[0]["step"]["label"], "repl_execute");
    assert_eq!(repl[1]["step"]["label"], "repl_result");
    assert_eq!(repl[1]["step"]["parent_id"], repl[0]["step"]["id"]);
    assert_eq!(repl[0]["step"]["lane_key"], "delegate");
    assert_eq!(repl[0]["step"]["depth"], Value::Null);

    // The socket stays open; the next turn of the session gets the next turn index.
    chat.message("again", "sess-b").await;
    let e2 = events.until(|v| v["type"] == "execution_completed").await;
    assert_eq!(e2[0]["run_id"], "default:anonymous:sess-b:2");
}

#[tokio::test]
async fn seeded_turns_repeat_their_content() {
    let sim = sim_default().await;
    let mut texts = Vec::new();
    for s in ["x1", "x2"] {
        let mut chat = Ws::chat(&sim).await;
        chat.message("what is here #seed=42 #pace=0", s).await;
        let c = chat.until(|v| kind(v) == "final").await;
        let t: Vec<String> = c.iter().map(|v| format!("{}|{}|{}", kind(v), v["data"]["text"], v["data"]["event_id"])).collect();
        texts.push(t);
    }
    // Same seed → same kinds, texts and event ids (only the startup status's id differs).
    assert_eq!(texts[0][1..], texts[1][1..]);
}

#[tokio::test]
async fn a_streamed_error_keeps_the_socket_open_and_reuses_the_run_id() {
    let sim = sim_default().await;
    let mut events = Ws::events(&sim, "e").await;
    let mut chat = Ws::chat(&sim).await;
    wait_subscribers(&sim, 1).await;
    chat.message("read the logs #error", "e").await;
    let c = chat.until(|v| v["type"] == "error").await;
    let err = c.last().unwrap();
    assert_eq!(err["code"], "llm_timeout");
    assert_eq!(err["message"], "Streaming error: LLM call timed out after 60s");
    assert_eq!(err["details"]["error_type"], "RuntimeError");
    let e = events.until(|v| v["type"] == "execution_completed").await;
    let done = e.last().unwrap();
    assert_eq!(done["step"]["label"], "error");
    assert_eq!(done["summary"]["status"], "error");
    assert_eq!(done["run_id"], "default:anonymous:e:1");
    // A failed turn did not join the history: the next run repeats `:1`.
    chat.message("again #code=llm_rate_limited #error", "e").await;
    assert_eq!(chat.until(|v| v["type"] == "error").await.last().unwrap()["code"], "llm_rate_limited");
    let e = events.until(|v| v["type"] == "execution_completed").await;
    assert_eq!(e[0]["run_id"], "default:anonymous:e:1");
}

#[tokio::test]
async fn cancel_mid_turn_and_the_cancel_script() {
    let sim = sim_default().await;
    let mut events = Ws::events(&sim, "c").await;
    let mut chat = Ws::chat(&sim).await;
    wait_subscribers(&sim, 1).await;
    chat.message("write a long essay #long=2000", "c").await;
    chat.until(|v| kind(v) == "assistant_token").await;
    // Another message while the turn runs is refused.
    chat.message("and another", "c").await;
    chat.send_json(json!({"type":"cancel"})).await;
    let c = chat.until(|v| kind(v) == "cancelled").await;
    assert!(c.iter().any(|v| v
        == &json!({"type":"error","message":"A run is already in progress. Cancel it or wait for completion before sending another message."})));
    let cancelled = c.last().unwrap();
    assert!(cancelled["data"]["text"].as_str().unwrap().ends_with("\n\n[cancelled]"));
    assert!(cancelled["data"]["payload"]["history_turns"].is_number());
    let e = events.until(|v| v["type"] == "execution_completed").await;
    assert_eq!(e.last().unwrap()["summary"]["status"], "cancelled");
    assert_eq!(e.last().unwrap()["step"]["label"], "cancelled");

    // The cancel script cancels itself after a third of its tokens.
    chat.message("go #cancel=30", "c").await;
    let c = chat.until(|v| kind(v) == "cancelled").await;
    assert_eq!(c.iter().filter(|v| kind(v) == "assistant_token").count(), 10);
    assert_eq!(events.until(|v| v["type"] == "execution_completed").await.last().unwrap()["summary"]["status"], "cancelled");
    // A control cancel works like the client's.
    chat.message("long one #long=3000", "c").await;
    chat.until(|v| kind(v) == "assistant_token").await;
    let r = control(&sim, "/_sim/fleet/cancel", json!({"session_id":"c"})).await;
    assert_eq!(r["cancelled"].as_array().unwrap().len(), 1);
    chat.until(|v| kind(v) == "cancelled").await;
}

#[tokio::test]
async fn hitl_request_and_resolution_on_a_second_socket() {
    let sim = sim_default().await;
    let mut chat = Ws::chat(&sim).await;
    chat.message("change the code #hitl", "h").await;
    let c = chat.until(|v| kind(v) == "final").await;
    let req = c.iter().find(|v| kind(v) == "hitl_request").expect("hitl_request");
    let p = &req["data"]["payload"];
    assert_eq!(p["options"], json!(["Which branch?","Include tests?"]));
    assert_eq!(p["requires_response"], true);
    assert_eq!(p["source"], "clarification_questions");
    let mid = p["message_id"].as_str().unwrap().to_owned();
    assert_eq!(mid.len(), 36);
    // The official UI answers on a fresh socket.
    let mut c2 = Ws::chat(&sim).await;
    c2.send_json(json!({"type":"command","command":"resolve_hitl","args":{"message_id":mid,"action_label":"Which branch?"},"session_id":"h"})).await;
    let resolved = c2.json().await;
    assert_eq!(resolved["data"]["kind"], "hitl_resolved");
    assert_eq!(resolved["data"]["version"], 1);
    assert!(resolved["data"].get("timestamp").is_none(), "no timestamp on hitl_resolved");
    assert_eq!(resolved["data"]["payload"], json!({"message_id":mid,"resolution":"Which branch?","source":"command"}));
    let result = c2.json().await;
    assert_eq!(result["type"], "command_result");
    assert_eq!(result["result"], json!({"status":"ok","message_id":mid,"resolution":"Which branch?"}));
    let h = control_get(&sim, "/_sim/fleet/hitl").await;
    assert_eq!(h[0]["resolution"], "Which branch?");
    // Without action_label: an error result.
    c2.send_json(json!({"type":"command","command":"resolve_hitl","args":{"message_id":mid}})).await;
    let bad = c2.json().await;
    assert_eq!(bad["result"]["status"], "error");
    assert_eq!(bad["result"]["error"], "resolve_hitl requires message_id and action_label");
}

#[tokio::test]
async fn hitl_wait_holds_the_final_until_resolved() {
    let sim = sim_default().await;
    let mut chat = Ws::chat(&sim).await;
    chat.message("change it #hitl_wait", "hw").await;
    let req = chat.until(|v| kind(v) == "hitl_request").await.pop().unwrap();
    let mid = req["data"]["payload"]["message_id"].as_str().unwrap().to_owned();
    assert!(chat.silent_for(Duration::from_millis(300)).await, "the run waits for the answer");
    chat.send_json(json!({"type":"command","command":"resolve_hitl","args":{"message_id":mid,"action_label":"Include tests?"}})).await;
    let rest = chat.until(|v| kind(v) == "final").await;
    assert!(rest.iter().any(|v| kind(v) == "hitl_resolved"));
    assert!(rest.last().unwrap()["data"]["text"].as_str().unwrap().contains("Include tests?"));
}

#[tokio::test]
async fn late_joiners_see_only_later_events() {
    let sim = sim_default().await;
    let mut early = Ws::events(&sim, "late").await;
    wait_subscribers(&sim, 1).await;
    control(&sim, "/_sim/fleet/turn", json!({"session_id":"late","script":"long","tokens":1000})).await;
    // Wait until the run is under way, then join.
    early.until(|v| v["type"] == "execution_step").await;
    let mut late = Ws::events(&sim, "late").await;
    wait_subscribers(&sim, 2).await;
    let all = early.until(|v| v["type"] == "execution_completed").await;
    let seen = late.until(|v| v["type"] == "execution_completed").await;
    assert!(seen.iter().all(|v| v["type"] != "execution_started"), "no replay of the start");
    assert!(seen.len() < all.len() + 1);
    // What the late joiner got is exactly the tail of what the early one got.
    assert_eq!(seen[..], all[all.len() - seen.len()..]);
    // After the run, a new subscriber gets nothing.
    let mut after = Ws::events(&sim, "late").await;
    assert!(after.silent_for(Duration::from_millis(200)).await);
}

#[tokio::test]
async fn a_dropped_chat_socket_completes_the_run_with_nulls() {
    let sim = sim_default().await;
    let mut events = Ws::events(&sim, "d").await;
    let mut chat = Ws::chat(&sim).await;
    wait_subscribers(&sim, 1).await;
    chat.message("long answer please #long=3000", "d").await;
    chat.until(|v| kind(v) == "assistant_token").await;
    chat.drop_tcp();
    let e = events.until(|v| v["type"] == "execution_completed").await;
    let done = e.last().unwrap();
    assert_eq!(done["step"], Value::Null);
    assert_eq!(done["summary"], Value::Null);
    assert_eq!(done["run_id"], "default:anonymous:d:1");
    assert!(control_get(&sim, "/_sim/fleet/turns").await.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn fan_out_to_every_subscriber_and_generated_session_ids() {
    let sim = sim_default().await;
    let mut subs = Vec::new();
    for _ in 0..3 {
        subs.push(Ws::events(&sim, "fan").await);
    }
    wait_subscribers(&sim, 3).await;
    let r = control(&sim, "/_sim/fleet/turn", json!({"session_id":"fan","pace":0,"wait":true})).await;
    assert_eq!(r["run_id"], "default:anonymous:fan:1");
    let mut got = Vec::new();
    for s in &mut subs {
        got.push(s.until(|v| v["type"] == "execution_completed").await);
    }
    assert_eq!(got[0], got[1]);
    assert_eq!(got[1], got[2]);
    // A message without session_id runs under a fresh UUID session.
    let mut chat = Ws::chat(&sim).await;
    chat.send_json(json!({"content":"no session #pace=0"})).await;
    chat.until(|v| kind(v) == "final").await;
    let h = control_get(&sim, "/_sim/fleet/connections").await;
    assert!(h.as_array().unwrap().iter().any(|c| c["role"] == "chat"));
}

#[tokio::test]
async fn queued_scripts_and_trace_false() {
    let sim = sim_default().await;
    control(&sim, "/_sim/fleet/script", json!({"script":"error","code":"internal_error","session_id":"q"})).await;
    let mut chat = Ws::chat(&sim).await;
    chat.send_json(json!({"type":"message","content":"plain text","session_id":"q","trace":false})).await;
    let c = chat.until(|v| v["type"] == "error").await;
    assert_eq!(c.last().unwrap()["code"], "internal_error");
    assert!(c.iter().all(|v| kind(v) != "reasoning_step"), "trace:false suppresses reasoning");
}

#[tokio::test]
async fn the_demo_scenario_runs_fleet_turns_on_session_demo() {
    let config = runwatch_sim::Config {
        host: "127.0.0.1".into(),
        port: 0,
        speed: 20.0,
        scenario: runwatch_sim::Scenario::Demo,
        ..runwatch_sim::Config::default()
    };
    let sim = runwatch_sim::start(config).await.unwrap();
    let mut ev = Ws::events(&sim, "demo").await;
    let first = ev.until(|v| v["type"] == "execution_started").await.pop().unwrap();
    assert!(first["run_id"].as_str().unwrap().starts_with("default:anonymous:demo:"));
    let done = ev.until(|v| v["type"] == "execution_completed").await.pop().unwrap();
    assert!(done["summary"]["status"].is_string());
    sim.shutdown();
}

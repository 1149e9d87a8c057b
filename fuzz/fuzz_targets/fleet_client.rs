#![no_main]
//! fleet-rlm's two sans-IO sockets (chat and execution events) under a fuzzed schedule:
//! the sample session's frames with a byte changed, execution steps with fuzzed run ids,
//! step numbers and parents, raw bytes, messages, cancels, time and closes. Nothing may
//! panic, and the run store keeps within its bounds.
use libfuzzer_sys::fuzz_target;
use runwatch::core::connection::{Connection, Protocol};
use runwatch::core::lifecycle::Action;
use runwatch::core::time::{Duration, Instant};
use runwatch::protocol::fleet_rlm::chat::{ChatClient, ChatConfig};
use runwatch::protocol::fleet_rlm::requests::MessageRequest;
use runwatch::protocol::fleet_rlm::runs::RunsConfig;
use runwatch::protocol::fleet_rlm::subscriber::{EventsClient, EventsConfig};

const SAMPLE: &str = include_str!("../../tests/fleet_support/sample.jsonl");
const CLOSE_CODES: [u16; 5] = [1000, 1006, 1008, 4001, 4401];
const RUNS: RunsConfig = RunsConfig { max_runs: 2, max_steps: 5, max_missing_listed: 3 };

/// Opens what the connection asks to open, at once, and drops what it hands out.
fn drain<P: Protocol>(conn: &mut Connection<P>, now: Instant) {
    for _ in 0..1000 {
        let mut acted = false;
        while let Some(action) = conn.poll_action() {
            acted = true;
            if let Action::Open { epoch } = action {
                conn.handle_open(now, epoch);
            }
        }
        while conn.poll_output().is_some() {}
        while conn.poll_transmit().is_some() {}
        if !acted {
            return;
        }
    }
}

fn frame<P: Protocol>(conn: &mut Connection<P>, now: Instant, bytes: &[u8]) {
    let epoch = conn.epoch();
    conn.handle_frame(now, epoch, bytes);
}

/// A sample line with the byte at `at` (a fraction of its length) set to `with` (0: none).
fn sample_line(lines: &[&str], pick: u8, at: u8, with: u8) -> Vec<u8> {
    let mut bytes = lines[pick as usize % lines.len()].as_bytes().to_vec();
    if with != 0 {
        let i = at as usize * bytes.len() / 256;
        bytes[i] = with;
    }
    bytes
}

/// An execution step of run `run`, numbered `n`, under step `parent` (0: the run's root).
fn step(run: u8, n: u8, parent: u8) -> String {
    let run = format!("default:anonymous:sess-b:{}", run % 3);
    let parent = if parent == 0 { format!("{run}:root") } else { format!("{run}:s{parent}") };
    format!(
        r#"{{"type":"execution_step","run_id":"{run}","workspace_id":"default","user_id":"anonymous","session_id":"sess-b","step":{{"id":"{run}:s{n}","parent_id":"{parent}","type":"llm","label":"step {n}","input":null,"output":null,"timestamp":1.5}},"summary":null}}"#
    )
}

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&str> = SAMPLE.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut now = Instant::from_millis(0);
    let mut chat = ChatClient::new(ChatConfig::default(), now);
    let mut events = EventsClient::new(EventsConfig { runs: RUNS, ..EventsConfig::new("sess-b") }, now);
    chat.listen(1);
    events.listen(1);
    drain(&mut chat, now);
    drain(&mut events, now);
    let mut b = data.iter().copied();
    let mut next = move || b.next();
    for _ in 0..300 {
        let Some(op) = next() else { break };
        let mut arg = || next().unwrap_or(0);
        match op % 11 {
            0 => frame(&mut chat, now, &sample_line(&lines, arg(), arg(), arg())),
            1 => frame(&mut events, now, &sample_line(&lines, arg(), arg(), arg())),
            2 => frame(&mut events, now, step(arg(), arg(), arg()).as_bytes()),
            3 | 4 => {
                let n = arg() as usize;
                let raw: Vec<u8> = (0..n).map(|_| arg()).collect();
                if op % 11 == 3 {
                    frame(&mut chat, now, &raw)
                } else {
                    frame(&mut events, now, &raw)
                }
            }
            5 => {
                if chat.send_message(now, &MessageRequest::new("list the workspace files", "sess-b")).is_ok() {
                    events.turn_started(now);
                }
            }
            6 => {
                let _ = chat.cancel(now);
            }
            7 => {
                now = now + Duration::from_millis(u64::from(arg()) * 211);
                chat.handle_timeout(now);
                events.handle_timeout(now);
            }
            8 => {
                let epoch = chat.epoch();
                chat.handle_close(now, epoch, CLOSE_CODES[arg() as usize % CLOSE_CODES.len()], "");
            }
            9 => {
                let epoch = events.epoch();
                events.handle_close(now, epoch, CLOSE_CODES[arg() as usize % CLOSE_CODES.len()], "");
            }
            _ => events.turn_ended(now),
        }
        drain(&mut chat, now);
        drain(&mut events, now);
    }
    chat.turns();
    let runs = events.runs();
    assert!(runs.runs.len() <= RUNS.max_runs, "runs over the bound: {}", runs.runs.len());
    for run in &runs.runs {
        assert!(
            run.steps <= RUNS.max_steps as u64 && run.tree.len() <= RUNS.max_steps,
            "steps over the bound: {}",
            run.steps
        );
    }
});

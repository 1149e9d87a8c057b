#![no_main]
//! The sans-IO RocketRide client and a task store fed by it, driven by a fuzzed schedule:
//! frames (real ones with fuzzed seqs, logSeqs and bytes, or raw bytes), replies chosen by
//! the fuzzer, time, closes, subscriptions. Nothing may panic; the store stays bounded.
use libfuzzer_sys::fuzz_target;
use runwatch::core::connection::EngineConfig;
use runwatch::core::lifecycle::Action;
use runwatch::core::time::{Duration, Instant};
use runwatch::protocol::rocketride::client::{Client, ClientConfig, Intent};
use runwatch::protocol::rocketride::monitor_types::MonitorTypes;
use runwatch::protocol::rocketride::outputs::Output;
use runwatch::protocol::rocketride::scope::{Scope, ScopeSpec};
use runwatch::protocol::rocketride::store::{StoreConfig, TaskStore};
use serde_json::{json, Value};

const TEMPLATES: &str = include_str!("../seeds/rocketride.jsonl");
const SCOPES: &[&str] = &[
    r#"{"token":"*"}"#,
    r#"{"projectId":"10ad0000-0000-4000-8000-000000000000","source":"load_1"}"#,
    r#"{"projectId":"10ad0000-0000-4000-8000-000000000000","source":"*"}"#,
    r#"{"token":"pk_0123456789abcdef"}"#,
    r#"{"token":"tk-1","pipeId":3}"#,
];
const TYPES: &[&[&str]] = &[&["ALL"], &["TASK", "SUMMARY"], &["FLOW"], &["OUTPUT", "SSE"], &["DASHBOARD"]];

struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

struct H {
    client: Client,
    store: TaskStore,
    now: Instant,
    epoch: u32,
    open: bool,
    server_seq: u64,
    pending: Vec<Value>,
}

impl H {
    fn pump(&mut self) {
        for _ in 0..1000 {
            let mut progressed = false;
            while let Some(action) = self.client.poll_action() {
                progressed = true;
                match action {
                    Action::Open { epoch } => {
                        self.epoch = epoch;
                        self.open = false;
                    }
                    Action::Close { .. } => self.open = false,
                }
            }
            while let Some(frame) = self.client.poll_transmit() {
                progressed = true;
                let req: Value = serde_json::from_str(&frame).expect("the client sends JSON");
                if req["command"] == "auth" {
                    let r = self.reply(&req, true, Some(json!({"userId":"local","userToken":"k"})), None);
                    self.client.handle_frame(self.now, self.epoch, r.as_bytes());
                } else {
                    self.pending.push(req);
                }
            }
            while let Some(out) = self.client.poll_output() {
                progressed = true;
                match out {
                    Output::NeedCredential { epoch } => self.client.provide_credential(self.now, epoch, Ok("k".into())),
                    Output::Deliver(d) => {
                        self.store.apply_batch(self.now.as_millis(), [&*d.event]);
                    }
                    _ => {}
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn reply(&mut self, req: &Value, success: bool, body: Option<Value>, message: Option<&str>) -> String {
        self.server_seq += 1;
        let mut r = json!({"type":"response","seq":self.server_seq,"request_seq":req["seq"],"command":req["command"],"success":success});
        if let Some(b) = body {
            r["body"] = b;
        }
        if let Some(m) = message {
            r["message"] = json!(m);
        }
        r.to_string()
    }

    fn frame(&mut self, bytes: &[u8]) {
        if self.open {
            self.client.handle_frame(self.now, self.epoch, bytes);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let templates: Vec<&str> = TEMPLATES.lines().collect();
    let now = Instant::from_millis(1_000);
    let mut h = H {
        client: Client::new(
            ClientConfig { engine: EngineConfig { rng_seed: 7, ..EngineConfig::default() }, ..ClientConfig::default() },
            now,
        ),
        store: TaskStore::new(StoreConfig {
            max_runs: 3,
            max_output_lines: 4,
            max_errors: 2,
            max_warnings: 2,
            max_pipes: 2,
        }),
        now,
        epoch: 0,
        open: false,
        server_seq: 0,
        pending: vec![],
    };
    h.pump();
    let mut b = Bytes(data);
    let mut next_sub = 0u32;
    let mut steps = 0;
    while let Some(op) = b.byte() {
        steps += 1;
        if steps > 400 {
            break;
        }
        match op % 10 {
            0 => {
                // a recorded frame with a fuzzed seq, logSeq and maybe one byte changed
                let (t, ds, ls, at, with) = (
                    b.byte().unwrap_or(0),
                    b.byte().unwrap_or(1),
                    b.byte().unwrap_or(0),
                    b.byte().unwrap_or(0),
                    b.byte().unwrap_or(0),
                );
                let seq = (h.server_seq as i64 + i64::from(ds as i8)).max(0);
                h.server_seq = h.server_seq.max(seq as u64);
                let mut text = templates[t as usize % templates.len()].replace("@SEQ@", &seq.to_string());
                if let Some(p) = text.find("\"logSeq\":") {
                    let end = text[p + 9..].find(|c: char| !c.is_ascii_digit()).map_or(text.len(), |e| p + 9 + e);
                    text.replace_range(p + 9..end, &u64::from(ls).to_string());
                }
                let mut bytes = text.into_bytes();
                if with != 0 && !bytes.is_empty() {
                    let i = at as usize * bytes.len() / 256;
                    bytes[i] = with;
                }
                h.frame(&bytes);
            }
            1 => {
                let n = b.byte().unwrap_or(0) as usize;
                let raw = b.take(n).to_vec();
                h.frame(&raw);
            }
            2 => {
                h.now = h.now + Duration::from_millis(u64::from(b.byte().unwrap_or(0)) * 97);
                h.client.handle_timeout(h.now);
            }
            3 => {
                h.open = false;
                h.pending.clear();
                h.client.handle_close(h.now, h.epoch, 1006, "gone");
            }
            4 => {
                if !h.open {
                    h.open = true;
                    h.server_seq = 0;
                    h.client.handle_open(h.now, h.epoch);
                }
            }
            5 => {
                let (s, t) = (b.byte().unwrap_or(0), b.byte().unwrap_or(0));
                let spec: ScopeSpec = serde_json::from_str(SCOPES[s as usize % SCOPES.len()]).unwrap();
                if let Ok(scope) = Scope::try_from(spec) {
                    next_sub += 1;
                    let types = MonitorTypes::parse_names(TYPES[t as usize % TYPES.len()].iter().copied()).unwrap();
                    h.client.apply(Intent::Subscribe { id: next_sub, scope, types });
                }
            }
            6 => {
                let id = u32::from(b.byte().unwrap_or(0)) % (next_sub + 1);
                h.client.apply(Intent::Unsubscribe { id });
            }
            7 | 8 => {
                if !h.pending.is_empty() {
                    // answer a pending request as the fuzzer chooses
                    let (which, how, n) = (b.byte().unwrap_or(0), b.byte().unwrap_or(0), b.byte().unwrap_or(0));
                    let req = h.pending.remove(which as usize % h.pending.len());
                    let cmd = req["command"].as_str().unwrap_or("").to_string();
                    let sub = req["arguments"]["subcommand"].as_str().unwrap_or("").to_string();
                    let n = u64::from(n);
                    let r = match (how % 6, cmd.as_str(), sub.as_str()) {
                    (0, _, _) => h.reply(&req, false, None, Some("Your pipeline is not running")),
                    (1, "rrext_log", _) => h.reply(&req, false, None, Some("Invalid command: rrext_log")),
                    (_, "rrext_log", "chapters") => h.reply(&req, true, Some(json!({"chapters":[{"beginSeq": n}],"segments":[{"id":0,"seq": n / 2}],"horizonSeq":0,"completed": how & 8 == 0})), None),
                    (_, "rrext_log", _) => {
                        let events: Vec<Value> = (0..(how as u64 % 5)).map(|i| {
                            let t = templates[((n + i) as usize) % templates.len()].replace("@SEQ@", "1");
                            let mut v: Value = serde_json::from_str(&t).unwrap();
                            v.as_object_mut().unwrap().remove("seq");
                            if v["body"].is_object() { v["body"]["logSeq"] = json!(n + i); }
                            v
                        }).collect();
                        h.reply(&req, true, Some(json!({"events": events, "nextSeq": n + (how as u64 % 7)})), None)
                    }
                    (_, "rrext_dashboard", _) => h.reply(&req, true, Some(json!({"tasks":[{"id":"63caceee.load_1","name":"x","projectId":"10ad0000-0000-4000-8000-000000000000","source":"load_1"}]})), None),
                    (_, "rrext_get_token", _) => h.reply(&req, true, Some(json!({"token":"tk-1"})), None),
                    (2, _, _) => h.reply(&req, true, Some(json!(n)), None),
                    _ => h.reply(&req, true, None, None),
                };
                    h.frame(r.as_bytes());
                }
            }
            _ => {
                h.store.snapshot();
            }
        }
        h.pump();
        let snap = h.store.snapshot();
        assert!(snap.runs.len() <= 3, "store over its bound: {}", snap.runs.len());
    }
});

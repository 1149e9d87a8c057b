//! The connection engine is generic: these tests drive `Connection<P>` with a tiny line
//! protocol that is not RocketRide (frames are `seq|kind|…` text), and check what the
//! engine alone owns: the lifecycle, auth first, the plug-in's subscribe round, seq
//! order with gaps and duplicates, app requests queued while offline, heartbeat loss,
//! reconnect with one `resync`, output order, and `close()`.

use runwatch::core::connection::{Connection, EngineConfig, Link, Protocol, Resynced};
use runwatch::core::lifecycle::{Action, ConnState};
use runwatch::core::outputs::{Diagnostic, Output, RequestError};
use runwatch::core::time::{Duration, Instant};
use runwatch::core::wire::{DecodeError, DecodeErrorKind, Frame, FrameBody, Response};
use serde_json::{json, Value};

/// The plug-in: one subscription call after auth; every event goes to subscription 1.
#[derive(Default)]
struct Lines {
    subscribe_rounds: u32,
    lost: u32,
}

#[derive(Clone, Debug)]
enum Own {
    Join,
}

impl Protocol for Lines {
    type Event = String;
    type Request = Own;
    type Timer = ();
    /// A command and its arguments.
    type Call = (String, Value);
    type Args = Value;

    fn call_request((command, args): &(String, Value)) -> Result<(String, Value, Option<Duration>), String> {
        Ok((command.clone(), args.clone(), None))
    }

    fn decode_reply(_call: &(String, Value), body: Option<&str>) -> Result<Option<String>, RequestError> {
        Ok(body.map(str::to_owned))
    }

    /// `seq|ev|text`, `seq|re|request_seq|ok|body` or `seq|re|request_seq|err|message`.
    fn decode(&mut self, bytes: &[u8]) -> Result<Frame<String>, DecodeError> {
        let bad = || DecodeError { kind: DecodeErrorKind::NotAnEnvelope, reason: "not a line frame".into() };
        let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
        let parts: Vec<&str> = text.split('|').collect();
        let seq = parts.first().and_then(|s| s.parse().ok());
        let body = match parts.get(1) {
            Some(&"ev") => FrameBody::Event(parts.get(2).ok_or_else(bad)?.to_string()),
            Some(&"re") => {
                let ok = parts.get(3) == Some(&"ok");
                let tail = parts.get(4).map(|s| s.to_string());
                FrameBody::Response(Response {
                    request_seq: parts.get(2).and_then(|s| s.parse().ok()),
                    command: "line".into(),
                    success: ok,
                    message: if ok { None } else { tail.clone() },
                    trace: None,
                    body: if ok { tail.filter(|t| serde_json::from_str::<serde_json::Value>(t).is_ok()).map(Into::into) } else { None },
                })
            }
            _ => return Err(bad()),
        };
        Ok(Frame { seq, body })
    }

    fn request_frame(seq: u64, command: &str, args: &Value) -> String {
        format!("{seq}|{command}|{args}")
    }

    fn auth_request(&mut self, credential: &str) -> (&'static str, Value) {
        ("hello", json!({ "key": credential }))
    }

    fn ping_request() -> (&'static str, Value) {
        ("ping", json!({}))
    }

    fn on_authenticated(&mut self, link: &mut Link<Self>, _body: Option<&str>) {
        self.subscribe_rounds += 1;
        link.send("join", json!({}), Own::Join);
    }

    fn on_response(&mut self, link: &mut Link<Self>, _request: Own, _response: Response) {
        link.subscribed();
    }

    fn on_request_expired(&mut self, link: &mut Link<Self>, _request: Own) {
        link.subscribed();
    }

    fn on_event(&mut self, link: &mut Link<Self>, seq: Option<u64>, event: String) {
        link.deliver(vec![1], seq, event);
    }

    fn on_reconnected(&mut self, _link: &mut Link<Self>) -> Resynced {
        Resynced { resubscribed: vec!["all".into()], ..Resynced::default() }
    }

    fn on_lost(&mut self, _link: &mut Link<Self>) {
        self.lost += 1;
    }

    fn on_timer(&mut self, _link: &mut Link<Self>, _timer: ()) {}
}

struct Pair {
    conn: Connection<Lines>,
    now: Instant,
    sent: Vec<String>,
    outputs: Vec<Output<String>>,
    server_seq: u64,
}

impl Pair {
    fn new() -> Self {
        let config = EngineConfig { rng_seed: 7, ..EngineConfig::default() };
        let mut pair = Pair { conn: Connection::start(Lines::default(), config, Instant::from_millis(0)), now: Instant::from_millis(0), sent: vec![], outputs: vec![], server_seq: 0 };
        pair.drain();
        pair
    }

    fn drain(&mut self) {
        while let Some(a) = self.conn.poll_action() {
            if let Action::Open { epoch } = a {
                self.server_seq = 0;
                self.conn.handle_open(self.now, epoch);
            }
        }
        while let Some(o) = self.conn.poll_output() {
            if let Output::NeedCredential { epoch } = o {
                self.conn.provide_credential(self.now, epoch, Ok("k".into()));
            }
            self.outputs.push(o);
        }
        self.sent.extend(std::iter::from_fn(|| self.conn.poll_transmit()));
    }

    /// The server answers the latest request with `ok`.
    fn answer_last(&mut self) {
        let seq: u64 = self.sent.last().unwrap().split('|').next().unwrap().parse().unwrap();
        self.server_seq += 1;
        let frame = format!("{}|re|{seq}|ok|{{}}", self.server_seq);
        self.frame_raw(&frame);
    }

    fn frame_raw(&mut self, frame: &str) {
        let epoch = self.conn.epoch();
        self.conn.handle_frame(self.now, epoch, frame.as_bytes());
        self.drain();
    }

    fn event_at(&mut self, seq: u64, text: &str) {
        self.frame_raw(&format!("{seq}|ev|{text}"));
    }

    fn live(mut self) -> Self {
        self.answer_last(); // hello
        self.answer_last(); // join
        assert_eq!(self.conn.state(), ConnState::Live);
        self
    }

    fn advance(&mut self, ms: u64) {
        self.now = self.now + Duration::from_millis(ms);
        self.conn.handle_timeout(self.now);
        self.drain();
    }

    fn delivered(&self) -> Vec<(u32, Option<u64>, String)> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Deliver(d) => Some((d.event.epoch, d.event.seq, d.event.event.clone())),
                _ => None,
            })
            .collect()
    }

    fn states(&self) -> Vec<ConnState> {
        self.outputs.iter().filter_map(|o| if let Output::State(s) = o { Some(s.new_state) } else { None }).collect()
    }
}

#[test]
fn the_engine_authenticates_first_then_runs_the_plugins_subscribe_round() {
    let pair = Pair::new();
    assert!(pair.sent[0].starts_with("1|hello|"), "auth is the first frame: {:?}", pair.sent);
    let pair = pair.live();
    assert!(pair.sent[1].starts_with("2|join|"));
    use ConnState::*;
    assert_eq!(pair.states(), vec![Connecting, Authenticating, Subscribing, Live]);
}

#[test]
fn events_leave_in_seq_order_and_holes_and_copies_are_reported() {
    let mut pair = Pair::new().live();
    pair.event_at(4, "d");
    pair.event_at(3, "c");
    pair.event_at(3, "c again");
    pair.event_at(6, "f");
    assert_eq!(pair.conn.stats().buffered, 1, "6 waits for 5");
    pair.advance(1_000); // past the reorder window: 5 never comes
    let seqs: Vec<_> = pair.delivered().into_iter().map(|(_, seq, text)| (seq.unwrap(), text)).collect();
    assert_eq!(seqs, vec![(3, "c".into()), (4, "d".into()), (6, "f".into())]);
    assert!(pair.outputs.iter().any(|o| matches!(o, Output::Diagnostic(d) if matches!(**d, Diagnostic::Duplicate { seq: 3, .. }))));
    assert!(pair.outputs.iter().any(|o| matches!(o, Output::Diagnostic(d) if matches!(**d, Diagnostic::Gap { first: 5, last: 5, .. }))));
    let stats = pair.conn.stats();
    assert_eq!(stats.frames_received, stats.responses + stats.events_delivered + stats.duplicates + stats.buffered);
}

#[test]
fn requests_wait_for_live_and_are_answered_by_correlation() {
    let mut pair = Pair::new();
    let id = 1;
    pair.conn.call(id, ("work".into(), json!({"n": 1})), None).unwrap();
    assert!(!pair.sent.iter().any(|f| f.contains("|work|")), "not sent before live");
    pair = pair.live();
    assert!(pair.sent.last().unwrap().contains("|work|"));
    pair.answer_last();
    assert!(pair.outputs.iter().any(|o| matches!(o, Output::Reply { id: i, result: Ok(Some(body)) } if *i == id && body == "{}")));
}

#[test]
fn a_silent_socket_is_dropped_and_the_reconnect_reports_one_resync_after_live() {
    let mut pair = Pair::new().live();
    pair.advance(20_000); // heartbeat ping
    assert!(pair.sent.last().unwrap().contains("|ping|"));
    pair.advance(10_000); // no pong
    assert_eq!(pair.conn.state(), ConnState::Backoff);
    assert_eq!(pair.conn.protocol().lost, 1);
    pair.advance(30_000); // backoff over: new socket, hello again
    let mut pair = pair.live();
    assert_eq!(pair.conn.protocol().subscribe_rounds, 2);
    pair.event_at(3, "after");
    let live = pair.outputs.iter().rposition(|o| matches!(o, Output::State(s) if s.new_state == ConnState::Live)).unwrap();
    let resync = pair.outputs.iter().position(|o| matches!(o, Output::Diagnostic(d) if matches!(**d, Diagnostic::Resync { .. }))).unwrap();
    assert!(live < resync, "the state change to live comes before the resync it completes");
    let resyncs = pair.outputs.iter().filter(|o| matches!(o, Output::Diagnostic(d) if matches!(**d, Diagnostic::Resync { .. }))).count();
    assert_eq!(resyncs, 1);
    assert_eq!(pair.delivered().last().unwrap(), &(2, Some(3), "after".to_string()));
}

#[test]
fn close_fails_requests_and_leaves_no_timer() {
    let mut pair = Pair::new().live();
    let id = 2;
    pair.conn.call(id, ("slow".into(), json!({})), Some(Duration::from_secs(5))).unwrap();
    pair.conn.close();
    pair.drain();
    assert_eq!(pair.conn.state(), ConnState::Closed);
    assert!(pair.outputs.iter().any(|o| matches!(o, Output::Reply { id: i, result: Err(RequestError::Closed) } if *i == id)));
    assert_eq!(pair.conn.poll_timeout(), None);
}

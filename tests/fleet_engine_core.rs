//! The generic engine features fleet-rlm needed, driven by a tiny fake protocol (not
//! fleet-rlm's) so they are tested as the engine's own: a credential carried in the URL
//! (no auth request; the plug-in refuses it from a frame), no application heartbeat,
//! responses correlated by command name instead of a request id, and frames that are not
//! requests.

use runwatch::core::connection::{Connection, EngineConfig, Link, Protocol, Resynced};
use runwatch::core::lifecycle::{Action, ConnState};
use runwatch::core::outputs::{Output, RequestError};
use runwatch::core::time::{Duration, Instant};
use runwatch::core::wire::{DecodeError, DecodeErrorKind, Frame, FrameBody, Response};
use serde_json::{json, Value};

/// Frames: `ev|text`, `re|command|ok|body`, `re|command|err|message`, `deny|message`.
#[derive(Default)]
struct UrlAuth {
    lost: u32,
}

impl Protocol for UrlAuth {
    type Event = String;
    type Request = ();
    type Timer = ();
    type Call = String;
    type Args = Value;

    const AUTH_BY_REQUEST: bool = false;
    const HEARTBEAT: bool = false;
    const CORRELATE_BY_COMMAND: bool = true;

    fn decode(&mut self, bytes: &[u8]) -> Result<Frame<String>, DecodeError> {
        let text = std::str::from_utf8(bytes).unwrap();
        let parts: Vec<&str> = text.split('|').collect();
        let body = match parts[0] {
            "ev" | "deny" => FrameBody::Event(text.to_owned()),
            "re" => {
                let ok = parts[2] == "ok";
                FrameBody::Response(Response {
                    request_seq: None,
                    command: parts[1].to_owned(),
                    success: ok,
                    message: (!ok).then(|| parts[3].to_owned()),
                    trace: None,
                    body: ok.then(|| parts[3].into()),
                })
            }
            _ => return Err(DecodeError { kind: DecodeErrorKind::NotAnEnvelope, reason: "?".into() }),
        };
        Ok(Frame { seq: None, body })
    }

    fn request_frame(_seq: u64, command: &str, _args: &Value) -> String {
        format!("call|{command}")
    }

    fn auth_request(&mut self, _credential: &str) -> (&'static str, Value) {
        unreachable!("the credential is in the URL")
    }

    fn call_request(call: &String) -> Result<(String, Value, Option<Duration>), String> {
        Ok((call.clone(), json!({}), None))
    }

    fn decode_reply(_call: &String, body: Option<&str>) -> Result<Option<String>, RequestError> {
        Ok(body.map(str::to_owned))
    }

    fn ping_request() -> (&'static str, Value) {
        unreachable!("no heartbeat")
    }

    fn on_authenticated(&mut self, link: &mut Link<Self>, body: Option<&str>) {
        assert!(body.is_none());
        link.subscribed();
    }

    fn on_response(&mut self, _link: &mut Link<Self>, _request: (), _response: Response) {}

    fn on_request_expired(&mut self, _link: &mut Link<Self>, _request: ()) {}

    fn on_event(&mut self, link: &mut Link<Self>, seq: Option<u64>, event: String) {
        if let Some(message) = event.strip_prefix("deny|") {
            link.reject_credential(message.to_owned());
        }
        link.deliver(vec![1], seq, event);
    }

    fn on_reconnected(&mut self, _link: &mut Link<Self>) -> Resynced {
        Resynced::default()
    }

    fn on_lost(&mut self, _link: &mut Link<Self>) {
        self.lost += 1;
    }

    fn on_timer(&mut self, _link: &mut Link<Self>, _timer: ()) {}
}

struct Harness {
    conn: Connection<UrlAuth>,
    now: Instant,
    sent: Vec<String>,
    outputs: Vec<Output<String>>,
    opens: u32,
}

impl Harness {
    fn new() -> Self {
        let conn = Connection::start(UrlAuth::default(), EngineConfig::default(), Instant::from_millis(0));
        let mut h = Harness { conn, now: Instant::from_millis(0), sent: vec![], outputs: vec![], opens: 0 };
        h.drain();
        h
    }

    fn drain(&mut self) {
        while let Some(action) = self.conn.poll_action() {
            if let Action::Open { epoch } = action {
                self.opens += 1;
                self.conn.handle_open(self.now, epoch);
            }
        }
        self.outputs.extend(std::iter::from_fn(|| self.conn.poll_output()));
        self.sent.extend(std::iter::from_fn(|| self.conn.poll_transmit()));
    }

    fn frame(&mut self, text: &str) {
        let epoch = self.conn.epoch();
        self.conn.handle_frame(self.now, epoch, text.as_bytes());
        self.drain();
    }

    fn advance(&mut self, ms: u64) {
        self.now = self.now + Duration::from_millis(ms);
        self.conn.handle_timeout(self.now);
        self.drain();
    }

    fn reply(&self, id: u32) -> Option<&Result<Option<String>, RequestError>> {
        self.outputs.iter().find_map(|o| match o {
            Output::Reply { id: i, result } if *i == id => Some(result),
            _ => None,
        })
    }
}

#[test]
fn a_url_credential_goes_live_on_open_without_asking_for_it_or_sending_anything() {
    let h = Harness::new();
    assert_eq!(h.conn.state(), ConnState::Live);
    assert!(h.sent.is_empty(), "no auth request: {:?}", h.sent);
    assert!(!h.outputs.iter().any(|o| matches!(o, Output::NeedCredential { .. })));
}

#[test]
fn without_a_heartbeat_a_quiet_socket_stays_up() {
    let mut h = Harness::new();
    assert_eq!(h.conn.poll_timeout(), None, "nothing to wake up for");
    h.advance(10 * 60_000);
    assert_eq!(h.conn.state(), ConnState::Live);
    assert!(h.sent.is_empty(), "no ping sent: {:?}", h.sent);
}

#[test]
fn responses_without_a_request_id_complete_the_oldest_call_of_their_command() {
    let mut h = Harness::new();
    h.conn.call(1, "a".into(), None).unwrap();
    h.conn.call(2, "b".into(), None).unwrap();
    h.conn.call(3, "a".into(), None).unwrap();
    h.drain();
    h.frame("re|b|ok|\"B\"");
    h.frame("re|a|ok|\"A1\"");
    h.frame("re|a|err|second a failed");
    assert_eq!(h.reply(2), Some(&Ok(Some("\"B\"".into()))));
    assert_eq!(h.reply(1), Some(&Ok(Some("\"A1\"".into()))));
    assert!(matches!(h.reply(3), Some(Err(RequestError::Server { message, .. })) if message == "second a failed"));
    h.frame("re|a|ok|\"late\"");
    let unknown = h.outputs.iter().filter(|o| matches!(o, Output::Diagnostic(d) if matches!(**d, runwatch::core::outputs::Diagnostic::UnknownResponse { .. }))).count();
    assert_eq!(unknown, 1, "a response with no call of its command in flight is reported");
}

#[test]
fn the_late_answer_of_a_timed_out_call_is_not_credited_to_a_newer_one() {
    let mut h = Harness::new();
    h.conn.call(1, "a".into(), Some(Duration::from_secs(1))).unwrap();
    h.advance(1_000);
    assert!(matches!(h.reply(1), Some(Err(RequestError::Timeout { .. }))));
    h.conn.call(2, "a".into(), None).unwrap();
    h.frame("re|a|ok|\"late, for the first\"");
    assert_eq!(h.reply(2), None, "answers come in order: this one is the first call's");
    assert!(h.outputs.iter().any(|o| matches!(o, Output::Diagnostic(d) if matches!(**d, runwatch::core::outputs::Diagnostic::UnknownResponse { .. }))));
    h.frame("re|a|ok|\"for the second\"");
    assert_eq!(h.reply(2), Some(&Ok(Some("\"for the second\"".into()))));
}

#[test]
fn calls_of_a_lost_socket_are_owed_nothing_on_the_next_one() {
    let mut h = Harness::new();
    h.conn.call(1, "a".into(), None).unwrap();
    h.drain();
    let epoch = h.conn.epoch();
    h.conn.handle_close(h.now, epoch, 1006, "");
    h.drain();
    assert!(matches!(h.reply(1), Some(Err(RequestError::ConnectionLost))));
    for _ in 0..120 {
        if h.conn.state() == ConnState::Live {
            break;
        }
        h.advance(500);
    }
    assert_eq!(h.conn.state(), ConnState::Live);
    h.conn.call(2, "a".into(), None).unwrap();
    h.frame("re|a|ok|\"new\"");
    assert_eq!(h.reply(2), Some(&Ok(Some("\"new\"".into()))));
}

#[test]
fn a_credential_refused_by_a_frame_stops_for_good() {
    let mut h = Harness::new();
    h.frame("deny|token expired");
    assert_eq!(h.conn.state(), ConnState::AuthFailed);
    let failed = h.outputs.iter().find_map(|o| match o {
        Output::State(s) if s.new_state == ConnState::AuthFailed => Some(s.message.clone()),
        _ => None,
    });
    assert_eq!(failed, Some(Some("token expired".into())));
    let epoch = h.conn.epoch();
    h.conn.handle_close(h.now, epoch, 1008, "");
    h.advance(10 * 60_000);
    assert_eq!((h.conn.state(), h.opens), (ConnState::AuthFailed, 1), "never reconnects");
    assert_eq!(h.conn.call(9, "a".into(), None), Err(RequestError::Closed));
}

#[test]
fn frames_that_are_not_requests_go_out_only_on_a_connected_socket() {
    let mut h = Harness::new();
    assert!(h.conn.with_protocol(h.now, |_, link| link.send_frame("hello".into())));
    h.drain();
    assert_eq!(h.sent, vec!["hello".to_string()]);
    let epoch = h.conn.epoch();
    h.conn.handle_close(h.now, epoch, 1006, "");
    assert!(!h.conn.with_protocol(h.now, |_, link| link.send_frame("lost".into())));
    assert_eq!(h.conn.protocol().lost, 1);
}

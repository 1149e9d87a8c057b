//! Gapless recovery against the simulator's newer-server mode (`runwatch-sim --newer`,
//! spec §8.5): the native client loses its connection while a run proceeds and, after the
//! reconnect, has every event of its subscription exactly once and in order, the missed
//! ones read back from the run log and marked replayed, with the `resync` saying so.
//!
//! The oracle is an observer connection that subscribes the same scope and types and is
//! never dropped: it receives every event live, stamped with its `logSeq`.

#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration as StdDuration;

use futures_util::{SinkExt, StreamExt};
use runwatch::core::backoff::BackoffConfig;
use runwatch::core::connection::EngineConfig;
use runwatch::core::lifecycle::{Action, ConnState};
use runwatch::core::time::{Duration, Instant};
use runwatch::protocol::rocketride::client::{Client, ClientConfig, Intent};
use runwatch::protocol::rocketride::envelope::{decode_frame, FrameBody};
use runwatch::protocol::rocketride::events::{RocketRideEvent, TaskEvent};
use runwatch::protocol::rocketride::monitor_types::MonitorTypes;
use runwatch::protocol::rocketride::outputs::{Diagnostic, Output, UnreplayableReason};
use runwatch::protocol::rocketride::scope::Scope;
use runwatch_sim::faults::FaultSpec;
use runwatch_sim::{start, Config, Handle};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const PROJECT: &str = "proj-replay";
const SOURCE: &str = "webhook_1";
const TYPES: &[&str] = &["TASK", "SUMMARY", "OUTPUT", "FLOW"];

async fn newer_sim(newer: bool) -> Handle {
    let config = Config { host: "127.0.0.1".into(), port: 0, speed: 20.0, newer, exit_code_bug: false, ..Config::default() };
    start(config).await.expect("simulator starts")
}

/// A batch pipeline: `objects` objects one simulated second apart, traced.
fn pipeline(objects: u32) -> Value {
    json!({"source":SOURCE,"project_id":PROJECT,"components":[
        {"id":SOURCE,"provider":"webhook","config":{"mode":"Source","fake":{"objects":objects,"interval":1.0,"mode":"batch"}}},
        {"id":"parse_1","provider":"parse","input":[{"lane":"text","from":SOURCE}]}]})
}

fn fault(spec: Value) -> FaultSpec {
    serde_json::from_value(spec).unwrap()
}

/// The observer: a raw DAP connection that records every event frame.
struct Observer {
    ws: Ws,
    seq: u64,
    events: Vec<Value>,
}

impl Observer {
    async fn connect(sim: &Handle) -> Observer {
        let (ws, _) = connect_async(sim.ws_url()).await.unwrap();
        let mut o = Observer { ws, seq: 0, events: Vec::new() };
        let auth = o.call("auth", json!({"auth":"sim-key","clientName":"observer","clientVersion":"1"})).await;
        assert_eq!(auth["success"], true);
        let r = o.call("rrext_monitor", json!({"projectId":PROJECT,"source":SOURCE,"types":TYPES})).await;
        assert_eq!(r["success"], true);
        o.events.clear(); // seeds
        o
    }

    async fn call(&mut self, command: &str, arguments: Value) -> Value {
        self.seq += 1;
        let seq = self.seq;
        let req = json!({"type":"request","seq":seq,"command":command,"arguments":arguments});
        self.ws.send(Message::Text(req.to_string().into())).await.unwrap();
        loop {
            let v = self.next().await;
            if v["type"] == "response" && v["request_seq"] == seq {
                return v;
            }
        }
    }

    async fn next(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(StdDuration::from_secs(10), self.ws.next()).await.expect("observer frame").unwrap().unwrap();
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "event" {
                    self.events.push(v.clone());
                }
                return v;
            }
        }
    }

    /// Reads until the run's `apaevt_task end` (and a ping after it, so nothing is in flight).
    async fn until_end(&mut self) {
        loop {
            let v = self.next().await;
            if v["event"] == "apaevt_task" && v["body"]["action"] == "end" {
                break;
            }
        }
        self.call("rrext_ping", json!({})).await;
    }
}

/// The native client over a real socket, on a real clock.
struct Driver {
    client: Client,
    url: String,
    t0: std::time::Instant,
    ws: Option<Ws>,
    epoch: u32,
    outputs: Vec<Output>,
}

impl Driver {
    fn new(url: String) -> Driver {
        let backoff = BackoffConfig { min_delay: Duration::from_millis(50), max_delay: Duration::from_millis(200), ..BackoffConfig::default() };
        let engine = EngineConfig { backoff, rng_seed: 7, ..EngineConfig::default() };
        let client = Client::new(ClientConfig { engine, ..ClientConfig::default() }, Instant::from_millis(0));
        Driver { client, url, t0: std::time::Instant::now(), ws: None, epoch: 0, outputs: Vec::new() }
    }

    fn now(&self) -> Instant {
        Instant::from_millis(self.t0.elapsed().as_millis() as u64)
    }

    /// Carries out everything the client asks for now.
    async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(action) = self.client.poll_action() {
                progressed = true;
                match action {
                    Action::Open { epoch } => {
                        self.epoch = epoch;
                        self.ws = None;
                        match connect_async(self.url.as_str()).await {
                            Ok((ws, _)) => {
                                self.ws = Some(ws);
                                self.client.handle_open(self.now(), epoch);
                            }
                            Err(e) => self.client.handle_close(self.now(), epoch, 1006, &e.to_string()),
                        }
                    }
                    Action::Close { .. } => self.ws = None,
                }
            }
            while let Some(frame) = self.client.poll_transmit() {
                progressed = true;
                if let Some(ws) = self.ws.as_mut() {
                    let _ = ws.send(Message::Text(frame.into())).await;
                }
            }
            while let Some(out) = self.client.poll_output() {
                progressed = true;
                match out {
                    Output::NeedCredential { epoch } => self.client.provide_credential(self.now(), epoch, Ok("sim-key".into())),
                    other => self.outputs.push(other),
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Runs the client until `until` holds (or the wait runs out).
    async fn run_until(&mut self, wait: StdDuration, until: impl Fn(&Driver) -> bool) {
        let deadline = std::time::Instant::now() + wait;
        loop {
            self.drain().await;
            if until(self) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "condition not reached; outputs: {:#?}", self.outputs.iter().rev().take(20).collect::<Vec<_>>());
            let next = self.client.poll_timeout().map(|t| t.as_millis().saturating_sub(self.now().as_millis())).unwrap_or(50).min(50);
            let sleep = tokio::time::sleep(StdDuration::from_millis(next));
            match self.ws.as_mut() {
                Some(ws) => tokio::select! {
                    frame = ws.next() => match frame {
                        Some(Ok(Message::Text(t))) => self.client.handle_frame(self.now(), self.epoch, t.as_bytes()),
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                            self.ws = None;
                            self.client.handle_close(self.now(), self.epoch, 1006, "gone");
                        }
                        Some(Ok(_)) => {}
                    },
                    _ = sleep => self.client.handle_timeout(self.now()),
                },
                None => {
                    sleep.await;
                    self.client.handle_timeout(self.now());
                }
            }
        }
    }

    /// Every delivered event with its replayed mark, in delivery order.
    fn events(&self) -> Vec<(RocketRideEvent, bool)> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Deliver(d) => Some((d.event.event.clone(), d.event.replayed)),
                _ => None,
            })
            .collect()
    }

    fn resyncs(&self) -> Vec<&Diagnostic> {
        self.outputs.iter().filter_map(|o| match o { Output::Diagnostic(d) if matches!(**d, Diagnostic::Resync { .. }) => Some(&**d), _ => None }).collect()
    }

    fn saw(&self, pred: impl Fn(&RocketRideEvent) -> bool) -> bool {
        self.events().iter().any(|(e, _)| pred(e))
    }
}

/// Whether `e` was delivered after the first replayed event.
fn replayed_after(d: &Driver, e: &RocketRideEvent) -> bool {
    let events = d.events();
    let first = events.iter().position(|(_, r)| *r).unwrap_or(usize::MAX);
    events.iter().enumerate().any(|(i, (x, r))| !r && x == e && i > first)
}

fn typed(frame: &Value) -> RocketRideEvent {
    match decode_frame(frame.to_string().as_bytes()).unwrap().body {
        FrameBody::Event(e) => e,
        other => panic!("{other:?}"),
    }
}

fn is_output(e: &RocketRideEvent) -> bool {
    matches!(e, RocketRideEvent::Output(_))
}

fn is_end(e: &RocketRideEvent) -> bool {
    matches!(e, RocketRideEvent::Task(TaskEvent::End(_)))
}

/// Drops the client's connection (never the observer's) and refuses reconnects for
/// `offline` while the run goes on.
fn drop_client(sim: &Handle, offline: f64) {
    let conn = sim.hub.lock().conns.values().find(|c| c.client_name == "runwatch").map(|c| c.id).expect("the client is connected");
    runwatch_sim::inject::apply(&sim.hub, &fault(json!({"kind":"refuse","seconds":offline}))).unwrap();
    runwatch_sim::inject::apply(&sim.hub, &fault(json!({"kind":"drop_all","conn":conn}))).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_missed_while_offline_is_replayed_exactly_once_in_order() {
    replay_scenario(16, 0.35, true).await;
}

/// The run ends while the client is away: nothing stamped arrives live after the
/// reconnect, so the read has no upper bound, and the end of the run is replayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_ends_while_offline_is_replayed_to_its_end() {
    replay_scenario(5, 0.6, false).await;
}

async fn replay_scenario(objects: u32, offline: f64, live_after: bool) {
    let sim = newer_sim(true).await;
    let mut observer = Observer::connect(&sim).await;
    let mut d = Driver::new(sim.ws_url());
    let scope = Scope::try_from(serde_json::from_value::<runwatch::protocol::rocketride::scope::ScopeSpec>(json!({"projectId":PROJECT,"source":SOURCE})).unwrap()).unwrap();
    d.client.apply(Intent::Subscribe { id: 1, scope, types: MonitorTypes::parse_names(TYPES).unwrap() });
    d.run_until(StdDuration::from_secs(10), |d| d.client.state() == ConnState::Live).await;

    let r = observer.call("execute", json!({"pipeline": pipeline(objects), "pipelineTraceLevel": "summary", "name": "Replay"})).await;
    assert_eq!(r["success"], true, "{r}");
    // Once the run is under way, the client's connection drops and stays down for a while.
    d.run_until(StdDuration::from_secs(10), |d| d.events().iter().filter(|(e, _)| is_output(e)).count() >= 2).await;
    drop_client(&sim, offline);
    if !live_after {
        observer.until_end().await;
    }
    d.run_until(StdDuration::from_secs(20), |d| d.saw(is_end) && !d.resyncs().is_empty()).await;
    if live_after {
        observer.until_end().await;
    }
    // Let the final status (after `end`) arrive.
    let settle = std::time::Instant::now() + StdDuration::from_millis(300);
    d.run_until(StdDuration::from_secs(5), |_| std::time::Instant::now() > settle).await;

    // The oracle: every live event of the run, in logSeq order.
    let mut expected: Vec<&Value> = observer.events.iter().filter(|v| v["body"]["logSeq"].is_u64()).collect();
    expected.sort_by_key(|v| v["body"]["logSeq"].as_u64());
    let is_status = |v: &Value| v["event"] == "apaevt_status_update";
    let want: Vec<RocketRideEvent> = expected.iter().filter(|v| !is_status(v)).map(|v| typed(v)).collect();
    let got: Vec<RocketRideEvent> = d.events().into_iter().filter(|(e, _)| !matches!(e, RocketRideEvent::TaskStatus(_) | RocketRideEvent::Task(TaskEvent::Running { .. }))).map(|(e, _)| e).collect();
    assert_eq!(got.len(), want.len(), "every non-status event exactly once");
    assert_eq!(got, want, "in logSeq order");

    let replayed: Vec<RocketRideEvent> = d.events().into_iter().filter(|(_, r)| *r).map(|(e, _)| e).collect();
    assert!(replayed.iter().filter(|e| is_output(e)).count() >= 2, "outputs of the offline interval were replayed: {replayed:?}");
    // Statuses: every one delivered is one the server sent, the final one included.
    let statuses: Vec<RocketRideEvent> = expected.iter().filter(|v| is_status(v)).map(|v| typed(v)).collect();
    let got_statuses: Vec<RocketRideEvent> = d.events().into_iter().filter(|(e, _)| matches!(e, RocketRideEvent::TaskStatus(_))).map(|(e, _)| e).collect();
    // The last delivered status holds the run's final state: the final status itself, or
    // the same state re-seeded by rrext_get_task_status (which carries no log stamps).
    let state = |e: Option<&RocketRideEvent>| match e {
        Some(RocketRideEvent::TaskStatus(s)) => Some((s.task_id.clone(), s.status.clone())),
        _ => None,
    };
    assert_eq!(state(got_statuses.last()), state(statuses.last()), "the final state arrives last");

    let resyncs = d.resyncs();
    assert_eq!(resyncs.len(), 1);
    let Diagnostic::Resync { replayed: ranges, unreplayable, .. } = resyncs[0] else { unreachable!() };
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    assert_eq!(ranges[0].stream, format!("{PROJECT}/{SOURCE}/dev"));
    assert_eq!(ranges[0].count as usize, replayed.len());
    assert!(ranges[0].from <= ranges[0].to);
    let live_after_reconnect = d.events().iter().any(|(e, r)| !r && is_output(e) && replayed_after(&d, e));
    assert_eq!(live_after_reconnect, live_after, "outputs arrived live after the reconnect: {live_after}");
    if !live_after {
        assert!(replayed.iter().any(is_end), "the end of the run came from the log");
    }
    assert!(unreplayable.iter().any(|u| u.reason == UnreplayableReason::SampledStatuses), "{unreplayable:?}");
    assert!(unreplayable.iter().all(|u| !matches!(u.reason, UnreplayableReason::Unsupported | UnreplayableReason::Timeout | UnreplayableReason::Stuck)), "{unreplayable:?}");
    // The resync comes before the replayed events it announces.
    let resync_at = d.outputs.iter().position(|o| matches!(o, Output::Diagnostic(d) if matches!(**d, Diagnostic::Resync { .. }))).unwrap();
    let first_replayed = d.outputs.iter().position(|o| matches!(o, Output::Deliver(x) if x.event.replayed)).unwrap();
    assert!(resync_at < first_replayed);
    assert_eq!(d.client.stats().replayed as usize, replayed.len());
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_server_gets_no_log_request_and_reports_nothing_replayed() {
    let sim = newer_sim(false).await;
    let mut observer = Observer::connect(&sim).await;
    let mut d = Driver::new(sim.ws_url());
    let scope = Scope::try_from(serde_json::from_value::<runwatch::protocol::rocketride::scope::ScopeSpec>(json!({"projectId":PROJECT,"source":SOURCE})).unwrap()).unwrap();
    d.client.apply(Intent::Subscribe { id: 1, scope, types: MonitorTypes::parse_names(TYPES).unwrap() });
    d.run_until(StdDuration::from_secs(10), |d| d.client.state() == ConnState::Live).await;
    let r = observer.call("execute", json!({"pipeline": pipeline(10), "name": "Old"})).await;
    assert_eq!(r["success"], true, "{r}");
    d.run_until(StdDuration::from_secs(10), |d| d.saw(is_output)).await;
    drop_client(&sim, 0.2);
    d.run_until(StdDuration::from_secs(20), |d| d.saw(is_end) && !d.resyncs().is_empty()).await;
    let Diagnostic::Resync { replayed, unreplayable, .. } = d.resyncs()[0] else { unreachable!() };
    assert!(replayed.is_empty() && unreplayable.is_empty());
    assert!(d.events().iter().all(|(_, r)| !r));
    let log = sim.hub.lock().log.page(0, None, 100_000);
    assert!(!serde_json::to_string(&log).unwrap().contains("rrext_log"), "no log request to an old server");
    sim.shutdown();
}

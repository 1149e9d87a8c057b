//! Shared helpers: an in-process simulator, a WebSocket DAP client and a tiny HTTP client.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use runwatch_sim::{start, Config, Handle};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

/// The chat pipeline of the protocol sample.
pub fn chat_pipeline() -> Value {
    json!({"source":"chat_1","project_id":"proj-chat","components":[
        {"id":"chat_1","provider":"chat","config":{"mode":"Source","type":"chat"}},
        {"id":"agent_1","provider":"agent_rocketride","input":[{"lane":"questions","from":"chat_1"}]},
        {"id":"llm_1","provider":"llm_openai","control":[{"classType":"llm","from":"agent_1"}]},
        {"id":"answers_1","provider":"response_answers","input":[{"lane":"answers","from":"agent_1"}]}]})
}

/// A fast simulator on an ephemeral port.
pub async fn sim() -> Handle {
    sim_with(Config::default()).await
}

/// A simulator with `config`, forced onto an ephemeral loopback port and sped up 20×.
pub async fn sim_with(config: Config) -> Handle {
    let config = Config { host: "127.0.0.1".into(), port: 0, speed: 20.0, ..config };
    start(config).await.expect("simulator starts")
}

/// A DAP client over one WebSocket.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_seq: u64,
}

/// A received frame: parsed JSON, or what else arrived.
#[derive(Debug)]
pub enum Got {
    /// A text frame that parsed.
    Json(Value),
    /// A text frame that did not parse.
    BadText(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A close frame with its code.
    Close(Option<u16>),
    /// The stream ended without a close frame, or errored.
    Ended(String),
}

impl Client {
    /// Connects to the simulator.
    pub async fn connect(sim: &Handle) -> Client {
        let (ws, _) = connect_async(sim.ws_url()).await.expect("websocket connects");
        Client { ws, next_seq: 1 }
    }

    /// Connects and authenticates with `sim-key`.
    pub async fn authed(sim: &Handle) -> Client {
        let mut c = Client::connect(sim).await;
        let r = c.call("auth", json!({"auth":"sim-key","clientName":"test","clientVersion":"1"})).await;
        assert_eq!(r["success"], true, "{r}");
        c
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.expect("send");
    }

    /// Sends a request; returns its seq.
    pub async fn request(&mut self, command: &str, arguments: Value) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let msg = json!({"type":"request","seq":seq,"command":command,"arguments":arguments});
        self.send_text(&msg.to_string()).await;
        seq
    }

    /// Receives the next frame.
    pub async fn recv(&mut self) -> Got {
        match tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame within the wait") {
            Some(Ok(Message::Text(t))) => match serde_json::from_str(t.as_str()) {
                Ok(v) => Got::Json(v),
                Err(_) => Got::BadText(t.to_string()),
            },
            Some(Ok(Message::Binary(b))) => Got::Binary(b.to_vec()),
            Some(Ok(Message::Close(f))) => Got::Close(f.map(|f| u16::from(f.code))),
            Some(Ok(other)) => Got::Ended(format!("unexpected {other:?}")),
            Some(Err(e)) => Got::Ended(e.to_string()),
            None => Got::Ended("end of stream".into()),
        }
    }

    /// Receives the next frame as its exact text (for key-order checks), which must be text.
    pub async fn text(&mut self) -> String {
        match tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame within the wait") {
            Some(Ok(Message::Text(t))) => t.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Receives text frames until one parses to a value matching `pred`; returns its text.
    pub async fn until_text(&mut self, mut pred: impl FnMut(&Value) -> bool) -> String {
        for _ in 0..10_000 {
            let t = self.text().await;
            if serde_json::from_str(&t).is_ok_and(|v: Value| pred(&v)) {
                return t;
            }
        }
        panic!("no matching frame in 10000 frames");
    }

    /// Sends a close frame with `code`.
    pub async fn send_close(&mut self, code: u16) {
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let frame = CloseFrame { code: code.into(), reason: "".into() };
        self.ws.send(Message::Close(Some(frame))).await.expect("send close");
    }

    /// Receives the next frame, which must be JSON.
    pub async fn json(&mut self) -> Value {
        match self.recv().await {
            Got::Json(v) => v,
            other => panic!("expected JSON, got {other:?}"),
        }
    }

    /// Whether nothing arrives for `d`.
    pub async fn silent_for(&mut self, d: Duration) -> bool {
        tokio::time::timeout(d, self.ws.next()).await.is_err()
    }

    /// Receives JSON frames until one matches `pred`; returns all of them, in order.
    pub async fn until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        for _ in 0..10_000 {
            let v = self.json().await;
            let done = pred(&v);
            seen.push(v);
            if done {
                return seen;
            }
        }
        panic!("no matching frame in 10000 frames");
    }

    /// Sends a request and returns its response, skipping events.
    pub async fn call(&mut self, command: &str, arguments: Value) -> Value {
        let seq = self.request(command, arguments).await;
        self.until(|v| is_response_to(v, seq)).await.pop().unwrap()
    }

    /// Subscribes and returns the response.
    pub async fn monitor(&mut self, arguments: Value) -> Value {
        self.call("rrext_monitor", arguments).await
    }
}

/// Whether `v` is the response to request `seq`.
pub fn is_response_to(v: &Value, seq: u64) -> bool {
    v["type"] == "response" && v["request_seq"] == seq
}

/// Whether `v` is event `name`.
pub fn is_event(v: &Value, name: &str) -> bool {
    v["type"] == "event" && v["event"] == name
}

/// A compact label of a frame for order assertions: `event:action|state` or `response:cmd`.
pub fn label(v: &Value) -> String {
    if v["type"] == "response" {
        return format!("response:{}", v["command"].as_str().unwrap_or(""));
    }
    let b = &v["body"];
    match v["event"].as_str().unwrap_or("") {
        "apaevt_status_update" => format!("status:{}{}", b["state"], if b["completed"] == true { "c" } else { "" }),
        "apaevt_task" | "apaevt_dashboard" => format!("{}:{}", v["event"].as_str().unwrap(), b["action"].as_str().unwrap_or("")),
        "apaevt_flow" => format!("flow:{}", b["op"].as_str().unwrap_or("")),
        other => other.to_owned(),
    }
}

/// A minimal HTTP/1.1 request to the simulator; returns (status, parsed JSON body or Null).
pub async fn http(sim: &Handle, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(sim.addr).await.expect("http connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        sim.addr,
        body.len()
    );
    stream.write_all(req.as_bytes()).await.expect("http write");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("http answer in time").expect("http read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let (_, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, serde_json::from_str(payload).unwrap_or(Value::Null))
}

/// Control-API execute; returns the response JSON.
pub async fn sim_execute(sim: &Handle, body: Value) -> Value {
    let (status, v) = http(sim, "POST", "/_sim/execute", Some(body)).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// The send log from `since`.
pub async fn log_since(sim: &Handle, since: u64) -> Value {
    let (status, v) = http(sim, "GET", &format!("/_sim/log?since={since}"), None).await;
    assert_eq!(status, 200);
    v
}

/// The monitors of the only (or first) connection as `(key, mask)` pairs.
pub async fn monitors(sim: &Handle) -> Vec<(String, u64)> {
    let (_, conns) = http(sim, "GET", "/_sim/connections", None).await;
    conns[0]["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["key"].as_str().unwrap().to_owned(), m["mask"].as_u64().unwrap()))
        .collect()
}

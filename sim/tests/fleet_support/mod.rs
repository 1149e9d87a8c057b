//! Helpers of the fleet-rlm tests: an in-process simulator, WebSocket clients of the two
//! fleet sockets, and a tiny HTTP client that returns headers too.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use runwatch_sim::config::FleetConfig;
use runwatch_sim::{start, Config, Handle};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// A simulator on an ephemeral port, 20× speed, with `fleet` settings.
pub async fn sim(fleet: FleetConfig) -> Handle {
    let config = Config { host: "127.0.0.1".into(), port: 0, speed: 20.0, fleet, ..Config::default() };
    start(config).await.expect("simulator starts")
}

/// Default fleet settings.
pub async fn sim_default() -> Handle {
    sim(FleetConfig::default()).await
}

/// A received frame.
#[derive(Debug)]
pub enum Got {
    Json(Value),
    BadText(String),
    Binary(Vec<u8>),
    Close(Option<u16>),
    Ended(String),
}

/// A client of one fleet socket.
pub struct Ws {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Connects to `path` (with its query) on the simulator.
    pub async fn connect(sim: &Handle, path: &str) -> Ws {
        let (ws, _) = connect_async(format!("ws://{}{path}", sim.addr)).await.expect("websocket connects");
        Ws { ws }
    }

    /// Connects with extra request headers.
    pub async fn connect_with(sim: &Handle, path: &str, headers: &[(&str, &str)]) -> Ws {
        let mut req = format!("ws://{}{path}", sim.addr).into_client_request().unwrap();
        for (k, v) in headers {
            let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
            req.headers_mut().insert(name, v.parse().unwrap());
        }
        let (ws, _) = connect_async(req).await.expect("websocket connects");
        Ws { ws }
    }

    /// Wraps a stream connected elsewhere (e.g. over a socket with a small buffer).
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Ws {
        Ws { ws }
    }

    /// The chat socket (anonymous).
    pub async fn chat(sim: &Handle) -> Ws {
        Ws::connect(sim, "/api/v1/ws/execution").await
    }

    /// The events socket of `session` (anonymous).
    pub async fn events(sim: &Handle, session: &str) -> Ws {
        Ws::connect(sim, &format!("/api/v1/ws/execution/events?session_id={session}")).await
    }

    pub async fn send_json(&mut self, v: Value) {
        self.ws.send(Message::Text(v.to_string().into())).await.expect("send");
    }

    pub async fn send_text(&mut self, t: &str) {
        self.ws.send(Message::Text(t.into())).await.expect("send");
    }

    pub async fn send_binary(&mut self, b: &[u8]) {
        self.ws.send(Message::Binary(b.to_vec().into())).await.expect("send");
    }

    /// Sends a chat `message`.
    pub async fn message(&mut self, content: &str, session: &str) {
        self.send_json(json!({"type":"message","content":content,"session_id":session,"trace":true,"execution_mode":"auto"})).await;
    }

    pub async fn recv(&mut self) -> Got {
        self.recv_within(WAIT).await.expect("a frame within the wait")
    }

    /// The next frame, or `None` if none comes within `d`.
    pub async fn recv_within(&mut self, d: Duration) -> Option<Got> {
        let deadline = tokio::time::Instant::now() + d;
        // Protocol pings are answered by tungstenite while it polls; they are not frames here.
        let next = loop {
            let next = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()?;
            if !matches!(next, Some(Ok(Message::Ping(_) | Message::Pong(_)))) {
                break next;
            }
        };
        Some(match next {
            Some(Ok(Message::Text(t))) => match serde_json::from_str(t.as_str()) {
                Ok(v) => Got::Json(v),
                Err(_) => Got::BadText(t.to_string()),
            },
            Some(Ok(Message::Binary(b))) => Got::Binary(b.to_vec()),
            Some(Ok(Message::Close(f))) => Got::Close(f.map(|f| u16::from(f.code))),
            Some(Ok(other)) => Got::Ended(format!("unexpected {other:?}")),
            Some(Err(e)) => Got::Ended(e.to_string()),
            None => Got::Ended("end of stream".into()),
        })
    }

    /// The next frame as its exact text (which must be a text frame).
    pub async fn text(&mut self) -> String {
        match self.recv_raw().await {
            Some(Message::Text(t)) => t.to_string(),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    async fn recv_raw(&mut self) -> Option<Message> {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame within the wait");
            match next {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(m)) => return Some(m),
                _ => return None,
            }
        }
    }

    /// Text frames until one parses to a value matching `pred` (inclusive).
    pub async fn until_text(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let t = self.text().await;
            let done = serde_json::from_str(&t).is_ok_and(|v: Value| pred(&v));
            seen.push(t);
            if done {
                return seen;
            }
        }
    }

    pub async fn json(&mut self) -> Value {
        match self.recv().await {
            Got::Json(v) => v,
            other => panic!("expected JSON, got {other:?}"),
        }
    }

    /// JSON frames until one matches `pred` (inclusive).
    pub async fn until(&mut self, mut pred: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        for _ in 0..100_000 {
            let v = self.json().await;
            let done = pred(&v);
            seen.push(v);
            if done {
                return seen;
            }
        }
        panic!("no matching frame");
    }

    /// Whether nothing arrives for `d`.
    pub async fn silent_for(&mut self, d: Duration) -> bool {
        self.recv_within(d).await.is_none()
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Drops the TCP connection without a close frame.
    pub fn drop_tcp(self) {
        drop(self);
    }
}

/// The chat event kind of a frame (`event` frames), else its `type`.
pub fn kind(v: &Value) -> String {
    if v["type"] == "event" {
        v["data"]["kind"].as_str().unwrap_or("").to_owned()
    } else {
        v["type"].as_str().unwrap_or("").to_owned()
    }
}

/// Whether a chat frame ends a turn (`final` / `cancelled` / an `error` envelope).
pub fn chat_terminal(v: &Value) -> bool {
    matches!(kind(v).as_str(), "final" | "cancelled" | "error")
}

/// The `N` of a step id `<run_id>:s<N>`.
pub fn step_index(v: &Value) -> u64 {
    let id = v["step"]["id"].as_str().expect("step id");
    id.rsplit(":s").next().unwrap().parse().expect("step index")
}

/// An HTTP response.
pub struct HttpResp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl HttpResp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 request with extra headers.
pub async fn http(sim: &Handle, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> HttpResp {
    let mut stream = TcpStream::connect(sim.addr).await.expect("http connect");
    let body = body.unwrap_or_default();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        sim.addr,
        body.len()
    );
    stream.write_all(req.as_bytes()).await.expect("http write");
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await.expect("http answer in time").expect("http read");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    // Chunked bodies are not expected (axum sends Content-Length for JSON).
    HttpResp { status, headers, body: serde_json::from_str(payload).unwrap_or(Value::Null) }
}

/// `POST /_sim/...` with a JSON body; asserts 200.
pub async fn control(sim: &Handle, path: &str, body: Value) -> Value {
    let r = http(sim, "POST", path, &[], Some(&body.to_string())).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

/// `GET /_sim/...`.
pub async fn control_get(sim: &Handle, path: &str) -> Value {
    let r = http(sim, "GET", path, &[], None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

/// Waits until the simulator lists `n` fleet sockets subscribed to events (so a turn started
/// now reaches them).
pub async fn wait_subscribers(sim: &Handle, n: usize) {
    for _ in 0..500 {
        let conns = control_get(sim, "/_sim/fleet/connections").await;
        let subs = conns.as_array().unwrap().iter().filter(|c| c["role"] == "events").count();
        if subs >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("subscribers never registered");
}

//! The two fleet-rlm WebSockets: upgrade, connection checks (spec §2.3 close codes, each
//! after an error frame), per-socket outbound queues and writer, and the fan-out of
//! execution events to subscribers whose (workspace, user, session) equals the run's.
//!
//! The events socket's queue is bounded (`WS_EXECUTION_MAX_QUEUE`, default 256) and drops
//! the oldest frame silently when full (spec §4.4, erratum 6): a subscriber that stops
//! reading gets what was already in flight, then only the newest frames. The chat socket's
//! queue is unbounded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State as AxState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role as WsRole, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{auth, chat, frames, turn, Identity};
use crate::faults::Verdict;
use crate::hub::{Hub, State};
use crate::sendlog::{Entry, EntryKind};

/// Largest inbound message (uvicorn's default, spec §6).
const MAX_INBOUND: usize = 16 * 1024 * 1024;
/// How long a reorder-marked frame waits for a successor to swap with.
const REORDER_WAIT: Duration = Duration::from_millis(50);
/// How long the peer gets to answer our close frame before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Which socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "role")]
pub enum Role {
    /// `/api/v1/ws/execution`.
    Chat,
    /// `/api/v1/ws/execution/events`, subscribed once its checks passed.
    Events {
        /// The `session_id` query parameter.
        session_id: String,
    },
    /// An events socket still being checked (or refused): receives nothing.
    Pending,
}

/// One outbound item.
#[derive(Debug)]
pub enum FOut {
    /// A text frame; `log` is its send-log index; `reorder` swaps it with the next frame.
    Text { text: String, reorder: bool, log: Option<u64> },
    /// A raw frame (fault injection).
    Raw(Message),
    /// A close frame with this code, then the end of the connection.
    Close(u16),
    /// End the connection without a close frame (the peer sees 1006).
    Abort,
}

#[derive(Debug, Default)]
struct QInner {
    items: VecDeque<FOut>,
    cap: Option<usize>,
    drop_newest: bool,
    dropped: u64,
}

/// A connection's outbound queue (shared by the hub side and its writer task).
#[derive(Debug, Default)]
pub struct OutQueue {
    inner: Mutex<QInner>,
    notify: Notify,
}

impl OutQueue {
    fn new(cap: Option<usize>, drop_newest: bool) -> Self {
        OutQueue { inner: Mutex::new(QInner { cap, drop_newest, ..QInner::default() }), notify: Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `out`; returns the log index of a text frame the bound dropped, if any.
    fn push(&self, out: FOut) -> Option<Option<u64>> {
        let mut q = self.lock();
        let mut dropped = None;
        if let (FOut::Text { .. }, Some(cap)) = (&out, q.cap) {
            let texts = q.items.iter().filter(|o| matches!(o, FOut::Text { .. })).count();
            if texts >= cap {
                q.dropped += 1;
                if q.drop_newest {
                    let FOut::Text { log, .. } = out else { return None };
                    return Some(log);
                }
                if let Some(pos) = q.items.iter().position(|o| matches!(o, FOut::Text { .. })) {
                    if let Some(FOut::Text { log, .. }) = q.items.remove(pos) {
                        dropped = Some(log);
                    }
                }
            }
        }
        q.items.push_back(out);
        drop(q);
        self.notify.notify_one();
        dropped
    }

    fn pop(&self) -> Option<FOut> {
        self.lock().items.pop_front()
    }

    /// Frames waiting and frames dropped so far.
    pub fn stats(&self) -> (usize, u64) {
        let q = self.lock();
        (q.items.len(), q.dropped)
    }
}

/// One live fleet-rlm socket.
#[derive(Debug)]
pub struct FleetConn {
    /// Connection id (shared counter with the RocketRide side).
    pub id: u64,
    /// Path and query of the upgrade.
    pub path: String,
    /// Which socket.
    pub role: Role,
    /// Identity after auth (anonymous until then).
    pub identity: Identity,
    /// Outbound queue.
    pub queue: Arc<OutQueue>,
    /// While set and in the future, frames are withheld (half-open fault).
    pub half_open_until: Option<Instant>,
    /// A close or abort was queued: nothing more is sent.
    pub closing: bool,
    /// Frames queued (before drops).
    pub frames_out: u64,
    /// The turn running on this chat socket (run instance number).
    pub turn: Option<u64>,
    kill: Arc<watch::Sender<bool>>,
}

/// A row of `GET /_sim/fleet/connections`.
#[derive(Debug, Serialize)]
pub struct ConnView {
    /// Connection id (the `conn` of a fault).
    pub id: u64,
    /// `chat`, `events` (with `session_id`) or `pending`.
    #[serde(flatten)]
    pub role: Role,
    /// Identity.
    pub workspace_id: String,
    /// Identity.
    pub user_id: String,
    /// Upgrade path and query.
    pub path: String,
    /// Frames waiting in the queue.
    pub queued: usize,
    /// Frames the bounded queue dropped.
    pub dropped: u64,
    /// Frames queued in total.
    pub frames_out: u64,
    /// Running turn instance.
    pub turn: Option<u64>,
}

impl FleetConn {
    /// The control API's view.
    pub fn view(&self) -> ConnView {
        let (queued, dropped) = self.queue.stats();
        ConnView {
            id: self.id,
            role: self.role.clone(),
            workspace_id: self.identity.workspace_id.clone(),
            user_id: self.identity.user_id.clone(),
            path: self.path.clone(),
            queued,
            dropped,
            frames_out: self.frames_out,
            turn: self.turn,
        }
    }
}

/// Sends `text` (send-log label `label`) to fleet connection `conn` through the fault
/// filters. Returns false when the connection is gone or closing.
pub fn send(st: &mut State, conn: u64, text: String, label: &str) -> bool {
    let Some(c) = st.fleet.conns.get_mut(&conn).filter(|c| !c.closing) else { return false };
    c.frames_out += 1;
    let half_open = c.half_open_until.is_some_and(|t| t > Instant::now());
    let queue = c.queue.clone();
    let mut entry = Entry::new(conn, EntryKind::Event);
    entry.event = Some(label.to_owned());
    entry.bytes = Some(text.len());
    entry.fleet = frames::log_facts(&text);
    match st.faults.verdict(conn, Some(label), half_open, &mut st.rng) {
        Verdict::Withhold(fault) => {
            st.log.push(entry.with_fault(fault));
        }
        Verdict::Send { duplicate, reorder } => {
            let first = if reorder { entry.clone().with_fault("reordered") } else { entry.clone() };
            let i = st.log.push(first);
            let copy = duplicate.then(|| text.clone());
            queue_text(st, &queue, text, reorder, i);
            if let Some(text) = copy {
                let j = st.log.push(entry.with_fault("duplicated"));
                queue_text(st, &queue, text, false, j);
            }
        }
    }
    true
}

fn queue_text(st: &mut State, queue: &OutQueue, text: String, reorder: bool, i: u64) {
    if let Some(dropped) = queue.push(FOut::Text { text, reorder, log: Some(i) }) {
        let label = if queue.lock().drop_newest { "drop_newest" } else { "drop_oldest" };
        if let Some(d) = dropped {
            st.log.mark(d, label);
        }
    }
}

/// Queues an injected frame outside the fault filters (and the queue bound).
pub fn inject(st: &mut State, conn: u64, msg: Message, mut entry: Entry) -> bool {
    let Some(c) = st.fleet.conns.get_mut(&conn).filter(|c| !c.closing) else { return false };
    c.frames_out += 1;
    entry.bytes = Some(msg.len());
    let queue = c.queue.clone();
    queue.push(FOut::Raw(msg));
    st.log.push(entry);
    true
}

/// Sends an execution event to every events socket subscribed to `session_id` with the
/// same identity (spec §2.2 identity scoping; late joiners only see what follows).
pub fn emit_events(st: &mut State, who: &Identity, session_id: &str, text: &str, label: &str) -> usize {
    let targets: Vec<u64> = st
        .fleet
        .conns
        .values()
        .filter(|c| !c.closing && c.identity == *who && matches!(&c.role, Role::Events { session_id: s } if s == session_id))
        .map(|c| c.id)
        .collect();
    for &id in &targets {
        send(st, id, text.to_owned(), label);
    }
    targets.len()
}

/// Queues a graceful close with `code`; nothing is sent after it.
pub fn close(st: &mut State, conn: u64, code: u16, fault: Option<&str>) {
    let Some(c) = st.fleet.conns.get_mut(&conn).filter(|c| !c.closing) else { return };
    c.closing = true;
    c.queue.push(FOut::Close(code));
    let mut entry = Entry::new(conn, EntryKind::Close);
    entry.code = Some(code);
    entry.fault = fault.map(str::to_owned);
    st.log.push(entry);
}

/// Ends `conn` after what is queued, without a close frame (the handler exits: 1006).
pub fn abort(st: &mut State, conn: u64, reason: &str) {
    let Some(c) = st.fleet.conns.get_mut(&conn).filter(|c| !c.closing) else { return };
    c.closing = true;
    c.queue.push(FOut::Abort);
    st.log.push(Entry::new(conn, EntryKind::Close).with_fault(reason));
}

/// Drops `conn` at once without a close frame.
pub fn kill(st: &mut State, conn: u64, fault: &str) {
    let Some(c) = st.fleet.conns.get_mut(&conn) else { return };
    c.closing = true;
    c.kill.send_replace(true);
    st.log.push(Entry::new(conn, EntryKind::Close).with_fault(fault));
}

/// Which endpoint an upgrade is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The chat socket.
    Chat,
    /// The events socket.
    Events,
}

/// `GET /api/v1/ws/execution` upgrade.
pub async fn upgrade_chat(hub: AxState<Arc<Hub>>, peer: ConnectInfo<SocketAddr>, q: Query<Vec<(String, String)>>, req: Request) -> Response {
    upgrade(hub, peer, q, req, Endpoint::Chat).await
}

/// `GET /api/v1/ws/execution/events` upgrade.
pub async fn upgrade_events(hub: AxState<Arc<Hub>>, peer: ConnectInfo<SocketAddr>, q: Query<Vec<(String, String)>>, req: Request) -> Response {
    upgrade(hub, peer, q, req, Endpoint::Events).await
}

async fn upgrade(
    AxState(hub): AxState<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<Vec<(String, String)>>,
    mut req: Request,
    endpoint: Endpoint,
) -> Response {
    let path = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    {
        let mut st = hub.lock();
        if st.faults.refusing() {
            st.log.push(Entry::upgrade(0, EntryKind::Refused, &path).with_fault("refuse"));
            return (StatusCode::SERVICE_UNAVAILABLE, "refused by runwatch-sim fault").into_response();
        }
    }
    let Some(accept) = accept_key(req.headers()) else {
        return (StatusCode::BAD_REQUEST, "expected a WebSocket upgrade").into_response();
    };
    let headers = req.headers().clone();
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default().max_message_size(Some(MAX_INBOUND)).max_frame_size(Some(MAX_INBOUND));
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), WsRole::Server, Some(config)).await;
                serve(hub, ws, endpoint, path, query, headers).await;
            }
            Err(e) => tracing::debug!(%peer, "fleet upgrade failed: {e}"),
        }
    });
    // No subprotocol is ever selected (spec §2.2: a token offered as one is ignored).
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn accept_key(headers: &HeaderMap) -> Option<String> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(token)))
    };
    let ok = has(header::UPGRADE, "websocket") && has(header::CONNECTION, "upgrade");
    let version_ok = headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    (ok && version_ok).then(|| derive_accept_key(key.as_bytes()))
}

/// A refused connection: the error frame's code and message, and the close code.
struct Refusal(&'static str, String, u16);

/// The accept-time checks of spec §2.3, in the server's order.
fn check(hub: &Hub, endpoint: Endpoint, query: &[(String, String)], headers: &HeaderMap) -> Result<(Identity, Role), Refusal> {
    let has = |k: &str| query.iter().any(|(q, _)| q == k);
    if has("workspace_id") || has("user_id") {
        return Err(Refusal(
            "unsupported_identity_query_params",
            "workspace_id and user_id query parameters are not supported; identity comes from authentication".into(),
            1008,
        ));
    }
    let role = match endpoint {
        Endpoint::Chat if has("session_id") => {
            return Err(Refusal(
                "execution_query_session_id_removed",
                "The session_id query parameter is not supported on /api/v1/ws/execution; send session_id in each message".into(),
                1008,
            ))
        }
        Endpoint::Chat => Role::Chat,
        Endpoint::Events => match query.iter().find(|(k, v)| k == "session_id" && !v.trim().is_empty()) {
            Some((_, s)) => Role::Events { session_id: s.clone() },
            None => return Err(Refusal("missing_session_id", "session_id query parameter is required".into(), 1008)),
        },
    };
    match auth::authenticate(&hub.config.fleet, headers, Some(query)) {
        Ok(a) => Ok((a.identity, role)),
        Err(reason) => Err(Refusal("auth_failed", reason, 1008)),
    }
}

/// Serves one upgraded fleet socket until it closes or is killed.
async fn serve<S>(hub: Arc<Hub>, ws: WebSocketStream<S>, endpoint: Endpoint, path: String, query: Vec<(String, String)>, headers: HeaderMap)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let cfg = &hub.config.fleet;
    let cap = (endpoint == Endpoint::Events).then_some(cfg.max_queue);
    let queue = Arc::new(OutQueue::new(cap, cfg.drop_newest));
    let (kill, killed) = watch::channel(false);
    let kill = Arc::new(kill);
    let id = {
        let mut st = hub.lock();
        let id = st.alloc_conn_id();
        st.log.push(Entry::upgrade(id, EntryKind::Open, &path));
        let c = FleetConn {
            id,
            path: path.clone(),
            role: Role::Pending,
            identity: Identity::anonymous(),
            queue: queue.clone(),
            half_open_until: None,
            closing: false,
            frames_out: 0,
            turn: None,
            kill: kill.clone(),
        };
        st.fleet.conns.insert(id, c);
        id
    };
    let (sink, stream) = ws.split();
    let pong = Arc::new(AtomicU64::new(0));
    let heartbeat = tokio::spawn(heartbeat(hub.clone(), id, queue.clone(), pong.clone(), killed.clone()));
    let writer = {
        let (hub, kill, killed) = (hub.clone(), kill.clone(), killed.clone());
        tokio::spawn(async move {
            write_loop(&hub, id, sink, &queue, killed).await;
            kill.send_replace(true);
        })
    };
    {
        let mut st = hub.lock();
        match check(&hub, endpoint, &query, &headers) {
            Err(Refusal(code, message, close_code)) => {
                send(&mut st, id, frames::error(code, &message, None), "error");
                close(&mut st, id, close_code, None);
            }
            Ok((identity, role)) => {
                if let Some(c) = st.fleet.conns.get_mut(&id) {
                    c.identity = identity;
                    c.role = role;
                }
                if endpoint == Endpoint::Chat && hub.config.fleet.planner_missing {
                    let msg = "Planner LM not configured. Check DSPY_LM_MODEL and DSPY_LLM_API_KEY env vars.";
                    send(&mut st, id, frames::error("planner_missing", msg, None), "error");
                    close(&mut st, id, 1000, None);
                }
            }
        }
    }
    match endpoint {
        Endpoint::Chat => chat::read_loop(&hub, id, stream, killed, &pong).await,
        Endpoint::Events => discard_loop(&hub, stream, killed, &pong).await,
    }
    kill.send_replace(true);
    unregister(&hub, id);
    heartbeat.abort();
    let _ = writer.await;
}

/// Forgets a closed socket; a chat socket's running turn is cancelled as a disconnect
/// (subscribers get `execution_completed` with null step and summary).
fn unregister(hub: &Hub, id: u64) {
    let mut st = hub.lock();
    let Some(c) = st.fleet.conns.remove(&id) else { return };
    c.kill.send_replace(true);
    if let Some(t) = c.turn.and_then(|t| st.fleet.turns.get(&t)) {
        t.stop.send_if_modified(|s| {
            let fresh = *s == turn::Stop::Run || *s == turn::Stop::Cancel;
            if fresh {
                *s = turn::Stop::Disconnect;
            }
            fresh
        });
    }
}

/// Records a pong (ms since the server started) for the heartbeat.
pub fn saw_pong(hub: &Hub, pong: &AtomicU64) {
    pong.store(hub.started.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
}

/// uvicorn's keepalive: a protocol ping every `ping_ms`; no pong within `ping_ms` drops the
/// connection (no close frame).
async fn heartbeat(hub: Arc<Hub>, id: u64, queue: Arc<OutQueue>, pong: Arc<AtomicU64>, mut killed: watch::Receiver<bool>) {
    let every = Duration::from_millis(hub.config.fleet.ping_ms);
    if every.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = killed.wait_for(|k| *k) => return,
        }
        let sent = hub.started.elapsed().as_millis() as u64;
        queue.push(FOut::Raw(Message::Ping(Vec::new().into())));
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = killed.wait_for(|k| *k) => return,
        }
        if pong.load(Ordering::Relaxed) <= sent {
            kill(&mut hub.lock(), id, "ping_timeout");
            return;
        }
    }
}

/// The events socket reads and discards whatever the client sends.
async fn discard_loop<S>(hub: &Hub, mut stream: futures_util::stream::SplitStream<WebSocketStream<S>>, mut killed: watch::Receiver<bool>, pong: &AtomicU64)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::select! {
            msg = stream.next() => msg,
            _ = killed.wait_for(|k| *k) => return,
        };
        match msg {
            Some(Ok(Message::Close(_))) => {
                let _ = tokio::time::timeout(CLOSE_GRACE, stream.next()).await;
                return;
            }
            None | Some(Err(_)) => return,
            Some(Ok(Message::Pong(_))) => saw_pong(hub, pong),
            Some(Ok(_)) => {}
        }
    }
}

/// Answers a peer's close frame (read once more so tungstenite flushes its reply).
pub async fn echo_close<S>(stream: &mut futures_util::stream::SplitStream<WebSocketStream<S>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_GRACE, stream.next()).await;
}

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;

async fn next_item(queue: &OutQueue, killed: &mut watch::Receiver<bool>) -> Option<FOut> {
    loop {
        let notified = queue.notify.notified();
        if let Some(item) = queue.pop() {
            return Some(item);
        }
        tokio::select! {
            _ = notified => {}
            _ = killed.wait_for(|k| *k) => return None,
        }
    }
}

/// Writes queued frames in order (slow_writer and reorder applied here).
async fn write_loop<S>(hub: &Hub, id: u64, mut sink: Sink<S>, queue: &OutQueue, mut killed: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut held: Option<FOut> = None;
    loop {
        let item = match held.take() {
            Some(item) => item,
            None => match next_item(queue, &mut killed).await {
                Some(item) => item,
                None => return,
            },
        };
        let delay = hub.lock().faults.write_delay(id);
        if let Some(delay) = delay {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = killed.wait_for(|k| *k) => return,
            }
        }
        let msg = match item {
            FOut::Text { text, reorder: true, log } => {
                let wait = tokio::time::timeout(REORDER_WAIT, next_item(queue, &mut killed)).await;
                match wait {
                    Ok(Some(after)) => {
                        held = Some(FOut::Text { text, reorder: false, log });
                        match after {
                            FOut::Text { text, .. } => Message::Text(text.into()),
                            FOut::Raw(m) => m,
                            other => {
                                // A close or abort is not swapped ahead of the held frame.
                                let Some(FOut::Text { text, .. }) = held.replace(other) else { return };
                                Message::Text(text.into())
                            }
                        }
                    }
                    Ok(None) => return,
                    Err(_) => Message::Text(text.into()),
                }
            }
            FOut::Text { text, .. } => Message::Text(text.into()),
            FOut::Raw(m) => m,
            FOut::Close(code) => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: "".into() }))).await;
                let _ = tokio::time::timeout(CLOSE_GRACE, killed.wait_for(|k| *k)).await;
                return;
            }
            FOut::Abort => return,
        };
        let sent = tokio::select! {
            r = sink.send(msg) => r.is_ok(),
            _ = killed.wait_for(|k| *k) => false,
        };
        if !sent {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: u64) -> FOut {
        FOut::Text { text: n.to_string(), reorder: false, log: Some(n) }
    }

    fn texts(q: &OutQueue) -> Vec<String> {
        q.lock().items.iter().filter_map(|o| if let FOut::Text { text, .. } = o { Some(text.clone()) } else { None }).collect()
    }

    #[test]
    fn drop_oldest_keeps_the_newest_and_reports_the_dropped_frame() {
        let q = OutQueue::new(Some(3), false);
        assert_eq!(q.push(text(1)), None);
        q.push(text(2));
        q.push(FOut::Close(1000)); // never counted or dropped
        q.push(text(3));
        assert_eq!(q.push(text(4)), Some(Some(1)));
        assert_eq!(q.push(text(5)), Some(Some(2)));
        assert_eq!(texts(&q), ["3", "4", "5"]);
        assert_eq!(q.stats(), (4, 2));
    }

    #[test]
    fn drop_newest_refuses_the_new_frame() {
        let q = OutQueue::new(Some(2), true);
        q.push(text(1));
        q.push(text(2));
        assert_eq!(q.push(text(3)), Some(Some(3)));
        assert_eq!(texts(&q), ["1", "2"]);
        let unbounded = OutQueue::new(None, false);
        for n in 0..1000 {
            assert_eq!(unbounded.push(text(n)), None);
        }
    }
}

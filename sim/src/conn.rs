//! One WebSocket connection: a reader that dispatches inbound frames and a writer that
//! drains the outbound queue (applying the writer-side faults).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::dispatch;
use crate::hub::{Hub, Out};

/// How long a reorder-marked frame waits for a successor to swap with.
const REORDER_WAIT: Duration = Duration::from_millis(50);
/// How long the peer gets to answer our close frame before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Serves one upgraded socket (requested as `path` from `peer`) until it closes or is killed.
pub async fn serve<S>(hub: Arc<Hub>, ws: WebSocketStream<S>, path: &str, peer: IpAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handles = hub.lock().register(path, peer);
    let id = handles.id;
    let (sink, stream) = ws.split();
    let kill = handles.kill.clone();
    let writer_loop = write_loop(hub.clone(), id, sink, handles.rx, handles.killed.clone());
    let writer = tokio::spawn(async move {
        writer_loop.await;
        // A writer that stopped (close sent, socket error) ends the reader too.
        kill.send_replace(true);
    });
    read_loop(&hub, id, stream, handles.killed).await;
    handles.kill.send_replace(true);
    hub.lock().unregister(id);
    let _ = writer.await;
}

/// Reads frames until the peer closes, the socket fails, or the connection is killed.
async fn read_loop<S>(hub: &Arc<Hub>, id: u64, mut stream: SplitStream<WebSocketStream<S>>, mut killed: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::select! {
            msg = stream.next() => msg,
            _ = killed.wait_for(|k| *k) => return,
        };
        match msg {
            Some(Ok(Message::Text(text))) => dispatch::handle_text(hub, id, text.as_str()),
            // DAP binary frames are a JSON header, `\n`, then data (spec §2.4).
            Some(Ok(Message::Binary(data))) => {
                let header = data.split(|b| *b == b'\n').next().unwrap_or_default();
                if let Ok(text) = std::str::from_utf8(header) {
                    dispatch::handle_text(hub, id, text);
                }
            }
            Some(Ok(Message::Close(_))) => return echo_close(&mut stream).await,
            None | Some(Err(_)) => return,
            Some(Ok(_)) => {}
        }
    }
}

/// Answers a peer's close frame like the real server (uvicorn/websockets echo it, so a
/// browser sees a clean close, not 1006). tungstenite queues the reply when it reads
/// the close but writes it only on the next read, so read once more.
async fn echo_close<S>(stream: &mut SplitStream<WebSocketStream<S>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_GRACE, stream.next()).await;
}

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;

/// Writes queued frames in order; ends on close, kill, or a write error.
async fn write_loop<S>(hub: Arc<Hub>, id: u64, mut sink: Sink<S>, mut rx: mpsc::Receiver<Out>, mut killed: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut held: Option<Out> = None;
    loop {
        let next = match held.take() {
            Some(out) => Some(out),
            None => tokio::select! {
                out = rx.recv() => out,
                _ = killed.wait_for(|k| *k) => None,
            },
        };
        let Some(out) = next else { return };
        let delay = hub.lock().faults.write_delay(id);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let ok = match out {
            Out::Text { text, reorder: true } => {
                // Swap with the next frame if one arrives soon (reorder fault).
                match tokio::time::timeout(REORDER_WAIT, rx.recv()).await {
                    Ok(Some(after)) => {
                        held = Some(Out::Text { text, reorder: false });
                        write(&mut sink, after).await
                    }
                    _ => write(&mut sink, Out::Text { text, reorder: false }).await,
                }
            }
            Out::Close(code) => {
                let _ = write(&mut sink, Out::Close(code)).await;
                // Let the reader see the peer's close reply, then drop the socket regardless.
                let _ = tokio::time::timeout(CLOSE_GRACE, killed.wait_for(|k| *k)).await;
                return;
            }
            other => write(&mut sink, other).await,
        };
        if !ok {
            return;
        }
    }
}

/// Writes one queued item; false when the socket is gone.
async fn write<S>(sink: &mut Sink<S>, out: Out) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let msg = match out {
        Out::Text { text, .. } => Message::Text(text.into()),
        Out::Raw(msg) => msg,
        Out::Close(code) => Message::Close(Some(CloseFrame { code: CloseCode::from(code), reason: "".into() })),
    };
    sink.send(msg).await.is_ok()
}

//! Connection-level behaviour: close handshake and admission (spec §1.3, §7).

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_client_close_is_answered_with_a_close_frame() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.send_close(1000).await;
    // uvicorn/websockets echo the close: the browser sees a clean close, not 1006.
    match c.recv().await {
        Got::Close(code) => assert_eq!(code, Some(1000)),
        other => panic!("expected the server's close frame, got {other:?}"),
    }
}

async fn connection_count(sim: &runwatch_sim::Handle) -> usize {
    let (_, conns) = http(sim, "GET", "/_sim/connections", None).await;
    conns.as_array().map_or(0, Vec::len)
}

/// Upgrades by hand and returns the HTTP status line's code.
async fn upgrade_status(sim: &runwatch_sim::Handle) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(sim.addr).await.unwrap();
    let req = format!(
        "GET /task/service HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        sim.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_eleventh_unauthenticated_socket_per_ip_gets_403() {
    let sim = sim().await;
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(Client::connect(&sim).await);
    }
    while connection_count(&sim).await < 10 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(upgrade_status(&sim).await, 403, "close(1008) before accept is a 403 under uvicorn");
    let (_, log) = http(&sim, "GET", "/_sim/log?since=0", None).await;
    let refused: Vec<&Value> = log["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "refused").collect();
    assert_eq!(refused.len(), 1, "{log}");
    // Authenticated sockets do not count: one auth frees a slot.
    let r = idle[0].call("auth", json!({"auth":"sim-key"})).await;
    assert_eq!(r["success"], true);
    assert_eq!(upgrade_status(&sim).await, 101);
}

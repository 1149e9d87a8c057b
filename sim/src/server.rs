//! The HTTP server: the WebSocket endpoint `/task/service`, the control API under
//! `/_sim/`, the fleet-rlm routes (`crate::fleet::http`), and 404 for everything else.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::conn;
use crate::control;
use crate::hub::Hub;
use crate::sendlog::{Entry, EntryKind};

/// Largest inbound frame/message the real server accepts (spec §7: 250 MB).
const MAX_INBOUND: usize = 250 * 1024 * 1024;
/// Unauthenticated sockets one client IP may hold (`CONST_MAX_UNAUTHED_CONNS_PER_IP`).
const MAX_UNAUTHED_PER_IP: usize = 10;

/// The router of the whole server.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/task/service", get(upgrade))
        .nest("/_sim", control::router())
        .merge(crate::fleet::http::routes())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(hub)
}

/// Accepts a WebSocket upgrade by hand (so raw frames can be injected later), or
/// answers 503 while the `refuse` fault is active, or 403 past the admission limit.
async fn upgrade(State(hub): State<Arc<Hub>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, mut req: Request) -> Response {
    let path = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    {
        let mut st = hub.lock();
        if st.faults.refusing() {
            st.log.push(Entry::upgrade(0, EntryKind::Refused, &path).with_fault("refuse"));
            return (StatusCode::SERVICE_UNAVAILABLE, "refused by runwatch-sim fault").into_response();
        }
        // Spec §1.3: past 10 unauthenticated sockets per IP the server closes with 1008
        // before accept, which Starlette/uvicorn turn into HTTP 403 on the upgrade.
        if st.unauthenticated_from(peer.ip()) >= MAX_UNAUTHED_PER_IP {
            st.log.push(Entry::upgrade(0, EntryKind::Refused, &path));
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    let Some(accept) = accept_key(req.headers()) else {
        return (StatusCode::BAD_REQUEST, "expected a WebSocket upgrade").into_response();
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let config = WebSocketConfig::default().max_message_size(Some(MAX_INBOUND)).max_frame_size(Some(MAX_INBOUND));
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
                conn::serve(hub, ws, &path, peer.ip()).await;
            }
            Err(e) => tracing::debug!(%peer, "upgrade failed: {e}"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `Sec-WebSocket-Accept` for a valid version-13 upgrade request.
fn accept_key(headers: &HeaderMap) -> Option<String> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    };
    let upgrade_ok = has(header::UPGRADE, "websocket") && has(header::CONNECTION, "upgrade");
    let version_ok = headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    (upgrade_ok && version_ok).then(|| derive_accept_key(key.as_bytes()))
}

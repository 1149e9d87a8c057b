//! `runwatch-sim`: a RocketRide engine simulator with fault injection.
//!
//! It speaks the observability subset of the engine's WebSocket/DAP protocol as
//! `shared/protocols/rocketride.md` describes it (Errata first), runs scripted
//! pipelines, and injects faults on command. Tests start it in-process with [`start`];
//! the binary wraps the same function.
//!
//! # Faithful, and how that is checked
//!
//! `../shared/conformance/run.sh` (a step of `scripts/test.sh`) records scenarios against the
//! simulator and compares every frame's shape (keys and JSON kinds) and the order of frames
//! with sessions recorded on the real server (upstream server code at the spec's snapshot,
//! with a stand-in engine). Matched that way: auth, its failures and the `auth_failed` /
//! `connection_added` / `connection_removed` dashboard events; the pre-auth gate and close;
//! the envelope (`command: null` echoed for a frame without one); `rrext_monitor` parsing,
//! keys, seeds, `monitor_changed` and errors; the task lifecycle and its ~1 Hz status (at
//! most one per second, also while starting); `terminate`; the snapshot's `exit_code` bug and
//! its `task_error`; `rrext_dashboard`; `rrext_public_probe`; cleanup that silently deletes
//! project subscriptions.
//!
//! Scripted pipelines — a `fake` script in the source component's config, the kit's
//! convention — run as the stand-in engine runs them ([`fake`]): timing, job texts, objects
//! on pipes, SSE, DETAIL events, flow traces that follow the pipeline's components and lanes,
//! batch exit or service wait. Pipelines without a script, and the `demo` and `load`
//! scenarios, run the simulator's own content ([`script`]) inside the same lifecycle.
//!
//! `--newer` follows the newer server's run log (spec §8.5, [`runlog`]): `eventTime` and
//! per-stream `logSeq` stamping, `beginSeq`, the final status with `final: true`, and
//! `rrext_log` chapters / read (paged) / segment / delete.
//!
//! # Simplified
//!
//! One OSS user and team (`local`); no engine process, so metrics, rates and content are
//! synthetic; which DETAIL events a scripted object produces, and their order, is this
//! simulator's reading of the engine's control protocol (no recording shows them); the run
//! log keeps plain JSON lines in scaled-down segments without age limits, and treats an
//! in-place restart as a marker in the open chapter; no debugger and no data plane.
//!
//! Module map:
//! - wire: [`json`] (ordered JSON text), [`dap`] (envelope), [`server`] (HTTP + upgrade),
//!   [`conn`] (per-socket reader/writer), [`dispatch`] (command table);
//! - protocol: [`auth`], [`monitor`] + [`registry`] (subscriptions), [`tasks`],
//!   [`dashboard`], [`status`] (`TASK_STATUS`), [`trace`] (flow levels), [`runlog`]
//!   (newer-server run log, `rrext_log`);
//! - simulation: [`pipeline`] (task lifecycle runner), [`fake`] (scripted pipelines),
//!   [`script`] (the simulator's own activity), [`scenario`] (demo/load), [`lifecycle`]
//!   (cleanup, reset), [`clock`];
//! - testing aids: [`control`] (`/_sim/` API), [`faults`] + [`inject`], [`sendlog`];
//! - fleet-rlm (same port, by path): [`fleet`] — its own module map and README section.

pub mod auth;
pub mod clock;
pub mod config;
pub mod conn;
pub mod control;
pub mod dap;
pub mod dashboard;
pub mod dispatch;
pub mod fake;
pub mod faults;
pub mod fleet;
pub mod hub;
pub mod inject;
pub mod json;
pub mod lifecycle;
pub mod monitor;
pub mod pipeline;
pub mod registry;
pub mod runlog;
pub mod scenario;
pub mod script;
pub mod sendlog;
pub mod server;
pub mod status;
pub mod tasks;
pub mod tokens;
pub mod trace;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;

pub use config::{Cli, Config, Scenario};
pub use hub::Hub;

/// A running simulator.
pub struct Handle {
    /// The bound address (resolves `--port 0`).
    pub addr: SocketAddr,
    /// The shared state, for in-process inspection.
    pub hub: Arc<Hub>,
}

impl Handle {
    /// `ws://<addr>/task/service`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/task/service", self.addr)
    }

    /// `ws://<addr>/api/v1/ws/execution` (fleet-rlm chat socket).
    pub fn fleet_chat_url(&self) -> String {
        format!("ws://{}/api/v1/ws/execution", self.addr)
    }

    /// `ws://<addr>/api/v1/ws/execution/events?session_id=<session>` (fleet-rlm events socket).
    pub fn fleet_events_url(&self, session: &str) -> String {
        format!("ws://{}/api/v1/ws/execution/events?session_id={session}", self.addr)
    }

    /// `http://<addr>` (the control API lives under `/_sim/`).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops background loops, closes every connection and stops accepting.
    pub fn shutdown(&self) {
        self.hub.shut_down();
    }
}

/// Binds, applies start-up faults, starts the scenario and the cleanup scan, and serves
/// in the background on the current tokio runtime.
pub async fn start(config: Config) -> std::io::Result<Handle> {
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port)).await?;
    let addr = listener.local_addr()?;
    let faults = config.faults.clone();
    let hub = Hub::new(config)?;
    for spec in &faults {
        inject::apply(&hub, spec).map_err(std::io::Error::other)?;
    }
    lifecycle::spawn_cleanup(hub.clone());
    scenario::spawn(hub.clone(), 0);
    // uvicorn sets TCP_NODELAY; without it a frame written right after another small one
    // waits for the peer's delayed ACK (~40 ms).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = server::router(hub.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let mut shutdown = hub.shutdown_signal();
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!("server stopped: {e}");
        }
    });
    Ok(Handle { addr, hub })
}

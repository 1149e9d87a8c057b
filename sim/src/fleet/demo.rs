//! The demo scenario's fleet-rlm activity: scripted turns on session `demo` (identity
//! `default`/`anonymous`, what an unauthenticated local page gets), one after another,
//! so an events subscriber (`/api/v1/ws/execution/events?session_id=demo`) sees runs
//! without a chat client. Chat clients can run their own turns at any time.

use std::sync::Arc;

use super::turn::{self, MsgOpts, Script, TurnOpts};
use super::Identity;
use crate::hub::Hub;

/// The demo session id.
pub const SESSION: &str = "demo";
/// The cycle of scripts and their messages.
const CYCLE: [(Script, &str); 4] = [
    (Script::Normal, "list the workspace files"),
    (Script::Long, "explain how the ingest pipeline works"),
    (Script::Hitl, "refactor the main module"),
    (Script::Error, "summarise the build logs"),
];
/// Pause between demo turns (simulated ms).
const PAUSE_MS: u64 = 4_000;

/// Starts the loop for `generation` (stops when a reset bumps it or the server stops).
pub fn spawn(hub: Arc<Hub>, generation: u64) {
    tokio::spawn(async move {
        let mut i = 0usize;
        loop {
            tokio::time::sleep(hub.clock.scaled(PAUSE_MS)).await;
            if hub.lock().generation != generation || *hub.shutdown_signal().borrow() {
                return;
            }
            let (script, text) = CYCLE[i % CYCLE.len()];
            i += 1;
            let mut opts = TurnOpts::of(script);
            opts.tokens = Some(120);
            let inst = {
                let mut st = hub.lock();
                turn::start(&hub, &mut st, None, Identity::anonymous(), SESSION.into(), text.into(), opts, MsgOpts::default()).inst
            };
            while hub.lock().fleet.turns.contains_key(&inst) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    });
}

//! The fleet-rlm side of the simulator: Qredence fleet-rlm 0.5.x as
//! `shared/protocols/fleet-rlm.md` describes it (Errata first), on the same port as the
//! RocketRide side, told apart by path.
//!
//! - [`conn`]: the two WebSockets (`/api/v1/ws/execution`, `/api/v1/ws/execution/events`),
//!   their connection checks and close codes, per-socket queues (the events socket's is the
//!   bounded drop-oldest one) and the fan-out to subscribers by (workspace, user, session);
//! - [`chat`]: the chat socket's client frames (`message` / `cancel` / `command`, HITL);
//! - [`turn`]: scripted turns (normal, long, error, HITL, cancel, flood, offline), their
//!   chat events and execution steps, terminal ordering, out-of-order REPL steps;
//! - [`frames`]: the wire shapes (ordered JSON text like pydantic/`json.dumps`);
//! - [`auth`]: dev auth (HS256 JWT, debug identity), identity sanitising;
//! - [`http`]: `/health`, `/ready`, runtime status and tests, trace feedback, `auth/me`,
//!   CORS as the local server has it;
//! - [`control`]: `/_sim/fleet/*`; [`inject`]: the `/_sim/faults` kinds on fleet sockets;
//! - [`demo`]: the demo scenario's background turns.
//!
//! All state sits in the hub's one lock ([`crate::hub::State::fleet`]); connection ids come
//! from the hub's counter, so a fault's `conn` and the send log name fleet sockets too.

pub mod auth;
pub mod chat;
pub mod conn;
pub mod control;
pub mod demo;
pub mod frames;
pub mod http;
pub mod inject;
pub mod turn;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::hub::State;

/// A caller's identity after auth: sanitised tenant claim and user claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Identity {
    /// `workspace_id`.
    pub workspace_id: String,
    /// `user_id`.
    pub user_id: String,
}

impl Identity {
    /// `default`/`anonymous` (`WS_DEFAULT_WORKSPACE_ID` / `WS_DEFAULT_USER_ID`).
    pub fn anonymous() -> Self {
        Identity { workspace_id: "default".into(), user_id: "anonymous".into() }
    }

    /// An identity from raw claims, sanitised.
    pub fn of(tenant: &str, user: &str) -> Self {
        Identity { workspace_id: sanitize_id(tenant), user_id: sanitize_id(user) }
    }
}

/// `utils/identity.py::sanitize_id`: characters outside `[A-Za-z0-9_.-]` become `-`.
pub fn sanitize_id(raw: &str) -> String {
    raw.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '-' }).collect()
}

/// A HITL request a turn raised (`GET /_sim/fleet/hitl`).
#[derive(Debug, Clone, Serialize)]
pub struct Hitl {
    /// `payload.message_id`.
    pub message_id: String,
    /// The run that raised it.
    pub run_id: String,
    /// Its session.
    pub session_id: String,
    /// `action_label` of the `resolve_hitl` that answered it.
    pub resolution: Option<String>,
}

/// A script queued by the control API for the next matching chat message.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Only for messages of this session; any when absent.
    pub session_id: Option<String>,
    /// The turn to run.
    pub opts: turn::TurnOpts,
}

/// The whole fleet-rlm state (inside the hub's lock).
#[derive(Default)]
pub struct FleetState {
    /// Live fleet sockets by connection id.
    pub conns: BTreeMap<u64, conn::FleetConn>,
    /// Completed turns per (identity, session): the next run's turn index is this + 1.
    pub history: HashMap<(Identity, String), u32>,
    /// Turns running now, by run instance number.
    pub turns: BTreeMap<u64, turn::TurnInfo>,
    /// Run instances started so far (also the default per-turn seed offset).
    pub runs_started: u64,
    /// HITL requests raised, by message id.
    pub hitl: BTreeMap<String, Hitl>,
    /// Scripts for the next chat messages.
    pub queued: VecDeque<Queued>,
    /// Cached `/api/v1/runtime/tests/lm` result.
    pub test_lm: Option<Value>,
    /// Cached `/api/v1/runtime/tests/daytona` result.
    pub test_daytona: Option<Value>,
    /// MLflow traces of finals: trace id → (client request id, identity).
    pub traces: BTreeMap<String, (String, Identity)>,
    /// Feedback received (`GET /_sim/fleet/feedback`).
    pub feedback: Vec<Value>,
    /// Seeded RNG for ids and content the runs do not seed themselves.
    pub rng: Option<fastrand::Rng>,
}

impl FleetState {
    /// The fleet RNG, seeded from `seed` on first use.
    pub fn rng(&mut self, seed: u64) -> &mut fastrand::Rng {
        self.rng.get_or_insert_with(|| fastrand::Rng::with_seed(seed ^ 0xF1EE_7000))
    }
}

/// Forgets the fleet side on `/_sim/reset` or the `restart` fault (`label`, which the send
/// log gives as the reason): drops every fleet socket (no close frame), stops running turns
/// without any further frame, forgets history, HITL, queued scripts and cached tests.
pub fn reset(st: &mut State, label: &str) {
    let ids: Vec<u64> = st.fleet.conns.keys().copied().collect();
    for id in ids {
        conn::kill(st, id, label);
    }
    for t in st.fleet.turns.values() {
        t.stop.send_replace(turn::Stop::Abort);
    }
    // Run instance numbers keep growing: a runner of the old generation that stops late
    // must not mistake a new turn for its own.
    let runs_started = st.fleet.runs_started;
    st.fleet = FleetState { runs_started, ..FleetState::default() };
}

/// Shared handle type used across the module.
pub type HubRef = Arc<crate::hub::Hub>;

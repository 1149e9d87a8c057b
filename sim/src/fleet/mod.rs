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

use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::hub::State;
use crate::lifecycle::ResetKind;

/// fleet-rlm settings (the real server's env settings this simulator models).
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// `AUTH_REQUIRED`: failures close with `auth_failed`/1008 instead of falling back to
    /// `default`/`anonymous`.
    pub auth_required: bool,
    /// `DEV_JWT_SECRET` (HS256).
    pub jwt_secret: String,
    /// `ALLOW_DEBUG_AUTH`: `debug_tenant_id` + `debug_user_id` (query) / `X-Debug-*` headers.
    pub allow_debug_auth: bool,
    /// `ALLOW_QUERY_AUTH_TOKENS`: `access_token` query parameter.
    pub allow_query_tokens: bool,
    /// `WS_EXECUTION_MAX_QUEUE`.
    pub max_queue: usize,
    /// `WS_EXECUTION_DROP_POLICY=drop_newest` instead of `drop_oldest`.
    pub drop_newest: bool,
    /// No planner LM: chat sockets get `planner_missing` then close 1000; `/ready` false.
    pub planner_missing: bool,
    /// No Daytona credentials: the first message ends in `sandbox_unavailable` + 1011.
    pub daytona_missing: bool,
    /// `MLFLOW_ENABLED`: finals carry trace ids and `/api/v1/traces/feedback` accepts them.
    pub mlflow: bool,
    /// Multiplier of every scripted delay (1 = realistic pacing; 0 = none). `--speed` applies too.
    pub pace: f64,
    /// uvicorn's protocol ping interval, and its pong timeout (real ms; 0 = no pings).
    pub ping_ms: u64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            auth_required: false,
            jwt_secret: "change-me".into(),
            allow_debug_auth: true,
            allow_query_tokens: true,
            max_queue: 256,
            drop_newest: false,
            planner_missing: false,
            daytona_missing: false,
            mlflow: true,
            pace: 1.0,
            ping_ms: 20_000,
        }
    }
}

/// fleet-rlm command-line flags (flattened into the simulator's).
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// fleet-rlm: AUTH_REQUIRED=true (bad or missing auth → auth_failed, 1008).
    #[arg(long)]
    pub fleet_auth_required: bool,
    /// fleet-rlm: DEV_JWT_SECRET for HS256 access tokens.
    #[arg(long, default_value = "change-me")]
    pub fleet_jwt_secret: String,
    /// fleet-rlm: WS_EXECUTION_MAX_QUEUE of each events subscriber.
    #[arg(long, default_value_t = 256)]
    pub fleet_max_queue: usize,
    /// fleet-rlm: drop_newest instead of drop_oldest when a subscriber queue is full.
    #[arg(long)]
    pub fleet_drop_newest: bool,
    /// fleet-rlm: no planner LM (planner_missing on connect, /ready false).
    #[arg(long)]
    pub fleet_planner_missing: bool,
    /// fleet-rlm: no Daytona credentials (first message → sandbox_unavailable, 1011).
    #[arg(long)]
    pub fleet_daytona_missing: bool,
    /// fleet-rlm: MLFLOW_ENABLED=false (no trace ids; feedback answers 503).
    #[arg(long)]
    pub fleet_no_mlflow: bool,
    /// fleet-rlm: multiplier of scripted delays (0 = as fast as possible).
    #[arg(long, default_value_t = 1.0)]
    pub fleet_pace: f64,
    /// fleet-rlm: ALLOW_DEBUG_AUTH=false (no debug identity parameters or headers).
    #[arg(long)]
    pub fleet_no_debug_auth: bool,
    /// fleet-rlm: ALLOW_QUERY_AUTH_TOKENS=false (no access_token: browsers cannot authenticate).
    #[arg(long)]
    pub fleet_no_query_tokens: bool,
    /// fleet-rlm: protocol ping interval and pong timeout in ms (uvicorn: 20000; 0 = off).
    #[arg(long, default_value_t = 20_000)]
    pub fleet_ping_ms: u64,
}

impl FleetArgs {
    /// The settings these flags select.
    pub fn into_config(self) -> FleetConfig {
        FleetConfig {
            auth_required: self.fleet_auth_required,
            jwt_secret: self.fleet_jwt_secret,
            max_queue: self.fleet_max_queue.max(1),
            drop_newest: self.fleet_drop_newest,
            planner_missing: self.fleet_planner_missing,
            daytona_missing: self.fleet_daytona_missing,
            mlflow: !self.fleet_no_mlflow,
            pace: if self.fleet_pace.is_finite() { self.fleet_pace.max(0.0) } else { 1.0 },
            ping_ms: self.fleet_ping_ms,
            allow_debug_auth: !self.fleet_no_debug_auth,
            allow_query_tokens: !self.fleet_no_query_tokens,
        }
    }
}

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

/// Forgets the fleet side on `/_sim/reset` or the `restart` fault: drops every fleet socket
/// (no close frame), stops running turns without any further frame, forgets history, HITL,
/// queued scripts and cached tests.
pub fn reset(st: &mut State, kind: ResetKind) {
    let label = if kind == ResetKind::Full { "reset" } else { "restart" };
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

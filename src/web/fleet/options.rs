//! The options object of `new FleetRlmClient(options)`, checked: unknown names refused,
//! the server URL and the credential form validated before anything connects.

use tsify::Tsify;
use wasm_bindgen::{JsCast, JsValue};

use super::super::errors::usage_error;
use super::super::js_read::{self, boolean, positive, required_string, string, uint};
use super::super::options::{check_nested_names, check_token_source, engine_config, ms, BatchMode, ReconnectOptions, RECONNECT_NAMES};
use crate::core::connection::EngineConfig;
use crate::protocol::fleet_rlm::auth::{socket_url, Credential, DebugIdentity, Endpoint, Secret};
use crate::protocol::fleet_rlm::chat::ChatConfig;
use crate::protocol::fleet_rlm::runs::RunsConfig;
use crate::protocol::fleet_rlm::subscriber::EventsConfig;

/// The dev identity parameters (`debug_tenant_id`, `debug_user_id`, …): local development
/// only, where the server allows them (`ALLOW_DEBUG_AUTH`). Not a secret.
#[derive(Tsify, Clone)]
#[serde(rename_all = "camelCase")]
pub struct FleetDebugIdentity {
    pub tenant_id: String,
    pub user_id: String,
    #[tsify(optional)]
    pub email: Option<String>,
    #[tsify(optional)]
    pub name: Option<String>,
}

/// Options of a `FleetRlmClient`. Unknown keys are an error, so a typo never silently
/// falls back to a default.
#[derive(Tsify)]
#[serde(rename_all = "camelCase")]
pub struct FleetClientOptions {
    /// The server's root: `https://fleet.example`, `http://localhost:8000` (or `ws[s]://`).
    /// Plain `http://`/`ws://` is accepted only for loopback hosts unless `allowInsecure`.
    /// No query, fragment or user-info: the credential and session are passed separately.
    pub url: String,
    /// The session both sockets use: chat messages carry it and the events socket watches
    /// it. Default: a fresh `crypto.randomUUID()`.
    #[tsify(optional)]
    pub session_id: Option<String>,
    /// The access token (a JWT), or a function returning it (or a Promise of it), called
    /// for every connection attempt and every HTTP call. Sockets get it as the
    /// `access_token` query parameter (browsers cannot set WebSocket headers), HTTP calls
    /// as `Authorization: Bearer`. Never in a state change, diagnostic or error. Leave
    /// out (with no `debugIdentity`) for a server without auth (anonymous identity).
    #[tsify(optional, type = "string | (() => string | Promise<string>)")]
    pub auth: JsValue,
    /// Local development instead of `auth`: the dev identity parameters.
    #[tsify(optional)]
    pub debug_identity: Option<FleetDebugIdentity>,
    /// Allow plain `http://`/`ws://` to a non-loopback host (the token then travels
    /// unencrypted).
    #[tsify(optional)]
    pub allow_insecure: Option<bool>,
    /// Open the chat socket (default true). `false` watches a session's runs only.
    #[tsify(optional)]
    pub chat: Option<bool>,
    /// Open the events socket of the session (default true).
    #[tsify(optional)]
    pub events: Option<bool>,
    /// How events are batched before callbacks run: `"task"` (default), `"microtask"` or
    /// `"frame"`; see `BatchMode`.
    #[tsify(optional)]
    pub batch: Option<BatchMode>,
    /// Reconnect backoff of both sockets.
    #[tsify(optional)]
    pub reconnect: Option<ReconnectOptions>,
    /// A socket must open within this (default 15000; at least 1).
    #[tsify(optional)]
    pub connect_timeout_ms: Option<u32>,
    /// Default timeout of commands (default 120000: they run in the sandbox; at least 1).
    #[tsify(optional)]
    pub command_timeout_ms: Option<u32>,
    /// Timeout of HTTP calls (default 30000; the connectivity tests take up to 20 s; at least 1).
    #[tsify(optional)]
    pub http_timeout_ms: Option<u32>,
    /// A turn may run this long with nothing on the events socket before a `stalled`
    /// diagnostic (default 15000; at least 1).
    #[tsify(optional)]
    pub stall_after_ms: Option<u32>,
    /// Frames larger than this are dropped with an `oversizedFrame` diagnostic (default 8 MiB; at least 1).
    #[tsify(optional)]
    pub max_frame_bytes: Option<u32>,
    /// Frames buffered per callback between batches (default 10000; at least 1).
    #[tsify(optional)]
    pub max_batch_events: Option<u32>,
    /// Runs kept by the runs store (default 50; at least 1: it always keeps the current run).
    #[tsify(optional)]
    pub max_runs: Option<u32>,
    /// Steps kept per run (default 2000).
    #[tsify(optional)]
    pub max_steps: Option<u32>,
}

const OPTION_NAMES: &[&str] = &[
    "url", "sessionId", "auth", "debugIdentity", "allowInsecure", "chat", "events", "batch", "reconnect", "connectTimeoutMs",
    "commandTimeoutMs", "httpTimeoutMs", "stallAfterMs", "maxFrameBytes", "maxBatchEvents", "maxRuns", "maxSteps",
];
const IDENTITY_NAMES: &[&str] = &["tenantId", "userId", "email", "name"];

/// How the client authenticates.
#[derive(Clone)]
pub(crate) enum AuthMode {
    /// No credential: the server's anonymous identity (auth not required).
    Anonymous,
    /// An access token from `auth` (a string or a function), fetched per attempt.
    Token(JsValue),
    /// The dev identity parameters.
    Debug(DebugIdentity),
}

impl AuthMode {
    /// The credential of one attempt, from what the app side fetched (`""` unless a token).
    pub(crate) fn credential(&self, fetched: &str) -> Result<Credential, String> {
        match self {
            AuthMode::Anonymous => Ok(Credential::Anonymous),
            AuthMode::Debug(identity) => Ok(Credential::Debug(identity.clone())),
            AuthMode::Token(_) if fetched.trim().is_empty() => Err("the auth callback gave an empty access token".into()),
            AuthMode::Token(_) => Ok(Credential::AccessToken(Secret::new(fetched))),
        }
    }

    /// What the app side calls per attempt: the token source, or an empty string.
    pub(crate) fn source(&self) -> JsValue {
        match self {
            AuthMode::Token(source) => source.clone(),
            _ => JsValue::from_str(""),
        }
    }
}

/// Everything the constructor needs, checked.
pub(crate) struct Parsed {
    pub options: FleetClientOptions,
    pub base: String,
    pub session_id: String,
    pub auth: AuthMode,
    pub allow_insecure: bool,
}

/// The constructor's argument, checked. Throws (as a `RunwatchError`) what
/// `new FleetRlmClient(options)` throws.
pub(crate) fn parse_options(options: JsValue) -> Result<Parsed, JsValue> {
    check_names(&options).map_err(|e| usage_error("invalidOptions", &e))?;
    let options = FleetClientOptions::from_js(&options).map_err(|e| usage_error("invalidOptions", &e))?;
    let auth = match (&options.debug_identity, options.auth.is_null_or_undefined()) {
        (Some(_), false) => return Err(usage_error("invalidAuth", "give `auth` or `debugIdentity`, not both")),
        (Some(identity), true) => {
            if identity.tenant_id.trim().is_empty() || identity.user_id.trim().is_empty() {
                return Err(usage_error("invalidAuth", "`debugIdentity` needs a non-blank tenantId and userId"));
            }
            AuthMode::Debug(DebugIdentity {
                tenant_id: identity.tenant_id.clone(),
                user_id: identity.user_id.clone(),
                email: identity.email.clone(),
                name: identity.name.clone(),
            })
        }
        (None, true) => AuthMode::Anonymous,
        (None, false) => {
            check_token_source(&options.auth)?;
            AuthMode::Token(options.auth.clone())
        }
    };
    let session_id = match &options.session_id {
        Some(s) if s.trim().is_empty() => return Err(usage_error("invalidOptions", "`sessionId` must not be blank")),
        Some(s) => s.clone(),
        None => random_uuid(),
    };
    let allow_insecure = options.allow_insecure.unwrap_or(false);
    // Checked with a stand-in token, so plain ws:// to a remote host is refused whatever the
    // credential (and a bad URL throws here, not on the first attempt).
    let probe = Credential::AccessToken(Secret::new("x"));
    socket_url(&options.url, &Endpoint::Events { session_id: session_id.clone() }, &probe, allow_insecure)
        .map_err(|e| usage_error("invalidUrl", &e.to_string()))?;
    let base = http_base(&options.url);
    Ok(Parsed { options, base, session_id, auth, allow_insecure })
}

impl FleetClientOptions {
    /// Reads the options object (its names already checked).
    fn from_js(o: &JsValue) -> Result<Self, String> {
        Ok(FleetClientOptions {
            url: required_string(o, "url")?,
            session_id: string(o, "sessionId")?,
            auth: js_read::field(o, "auth"),
            debug_identity: js_read::object(o, "debugIdentity")?.map(|i| FleetDebugIdentity::from_js(&i)).transpose()?,
            allow_insecure: boolean(o, "allowInsecure")?,
            chat: boolean(o, "chat")?,
            events: boolean(o, "events")?,
            batch: BatchMode::from_js(o)?,
            reconnect: ReconnectOptions::from_js(o)?,
            connect_timeout_ms: positive(o, "connectTimeoutMs")?,
            command_timeout_ms: positive(o, "commandTimeoutMs")?,
            http_timeout_ms: positive(o, "httpTimeoutMs")?,
            stall_after_ms: positive(o, "stallAfterMs")?,
            max_frame_bytes: positive(o, "maxFrameBytes")?,
            max_batch_events: positive(o, "maxBatchEvents")?,
            max_runs: positive(o, "maxRuns")?,
            max_steps: uint(o, "maxSteps")?,
        })
    }

    fn engine(&self, seed: u64) -> EngineConfig {
        engine_config(seed, self.reconnect.as_ref(), self.connect_timeout_ms, self.max_frame_bytes)
    }

    pub(crate) fn chat_config(&self, seed: u64) -> ChatConfig {
        let mut engine = self.engine(seed);
        engine.request_timeout = ms(self.command_timeout_ms, ChatConfig::default().engine.request_timeout);
        ChatConfig { engine }
    }

    pub(crate) fn events_config(&self, seed: u64, session_id: &str) -> EventsConfig {
        let mut c = EventsConfig::new(session_id);
        c.engine = self.engine(seed);
        c.stall_after = ms(self.stall_after_ms, c.stall_after);
        let d = RunsConfig::default();
        c.runs = RunsConfig {
            max_runs: self.max_runs.map_or(d.max_runs, |v| v as usize),
            max_steps: self.max_steps.map_or(d.max_steps, |v| v as usize),
            ..d
        };
        c
    }
}

fn check_names(options: &JsValue) -> Result<(), String> {
    js_read::known_keys_only(options, OPTION_NAMES, "options")?;
    check_nested_names(options, "reconnect", RECONNECT_NAMES)?;
    check_nested_names(options, "debugIdentity", IDENTITY_NAMES)
}

impl FleetDebugIdentity {
    /// Reads `options.debugIdentity` (its names already checked).
    fn from_js(i: &JsValue) -> Result<Self, String> {
        Ok(FleetDebugIdentity {
            tenant_id: required_string(i, "tenantId")?,
            user_id: required_string(i, "userId")?,
            email: string(i, "email")?,
            name: string(i, "name")?,
        })
    }
}

/// The HTTP root of the server (`ws` → `http`, `wss` → `https`), without a trailing slash.
/// Only called on a URL `socket_url` accepted.
fn http_base(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "wss" | "https" => "https",
        _ => "http",
    };
    format!("{scheme}://{}", rest.trim_end_matches('/'))
}

/// `crypto.randomUUID()`, or 128 random bits in its shape where it is missing (plain
/// http:// pages other than localhost have no `randomUUID`).
fn random_uuid() -> String {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).ok().filter(|c| !c.is_undefined());
    if let Some(crypto) = &crypto {
        let uuid = js_sys::Reflect::get(crypto, &"randomUUID".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
            .and_then(|f| f.call0(crypto).ok())
            .and_then(|v| v.as_string());
        if let Some(uuid) = uuid {
            return uuid;
        }
    }
    let hex: String = (0..32).map(|_| format!("{:x}", (js_sys::Math::random() * 16.0) as u8 & 15)).collect();
    format!("{}-{}-4{}-{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[16..20], &hex[20..32])
}

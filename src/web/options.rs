//! The options object of `new RocketRideClient(options)`, and the `types` argument of `subscribe`/`tasks`.

use tsify::Tsify;
use wasm_bindgen::JsValue;

use crate::core::backoff::BackoffConfig;
use crate::core::time::Duration;
use crate::core::connection::EngineConfig;
use super::errors::usage_error;
use super::js_read::{self, boolean, one_of, positive, required_string, string, uint};
use crate::protocol::rocketride::client::ClientConfig;
use crate::protocol::rocketride::monitor_types::{MonitorTypes, TypesArg, TypesError};
use crate::protocol::rocketride::scope::{Scope, ScopeSpec};
use crate::protocol::rocketride::url;

/// How events are batched before callbacks run:
/// - `"task"` (default): once per task, by the pace of the stream (see `core::pace`). A
///   quiet stream arrives a message at a time, at the end of the task the message came in
///   (as the SDK finishes with the message: no task or microtask of its own, no wait). A
///   fast one (4,000 events a second or more, which is also what a backlog looks like once
///   the page is free again; it counts as fast until it slows under about 2,700) is
///   gathered for about 4 ms (a quarter of a frame) on a timer on a visible page, so its
///   events share a batch and its fixed cost; in a hidden page
///   or a Worker it waits for a `MessageChannel` task instead (which browsers do not
///   throttle), behind the socket messages already queued. Either way, a stream the page
///   cannot keep up with is delivered in a few large batches.
/// - `"microtask"`: each socket message is delivered on its own, before anything else runs,
///   for the lowest latency; a fixed cost per message, so a busy page falls behind a fast
///   stream sooner.
/// - `"frame"`: once per animation frame, for the fewest renders; microtasks while the page
///   is hidden (browsers pause animation frames there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Tsify)]
#[serde(rename_all = "camelCase")]
pub enum BatchMode {
    /// Once per task (the default).
    #[default]
    Task,
    /// Once per microtask.
    Microtask,
    /// Once per animation frame.
    Frame,
}

/// Reconnect backoff: full jitter between `minDelayMs` and an exponentially growing cap.
#[derive(Clone, Debug, Default, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ReconnectOptions {
    /// Interval of the first retries: each waits a uniform random time up to it (default 1000).
    #[tsify(optional)]
    pub min_delay_ms: Option<u32>,
    /// Largest delay (default 30000).
    #[tsify(optional)]
    pub max_delay_ms: Option<u32>,
    /// Give up (state `closed`) after this many failed attempts in a row. Default: never.
    #[tsify(optional)]
    pub max_attempts: Option<u32>,
}

/// Options of a [`crate::web::RocketRideClient`]. Unknown keys are an error, so a typo
/// never silently falls back to a default.
#[derive(Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ClientOptions {
    /// `wss://host:port` of the engine; `/task/service` is added when no path is given.
    /// Plain `ws://` is accepted only for loopback hosts unless `allowInsecure` is set.
    pub url: String,
    /// The credential (API key or token), or a function returning it (or a Promise of
    /// it). A function is called for every connection attempt, so tokens can be refreshed.
    /// It is sent only inside the first `auth` request, never in the URL or diagnostics.
    /// A blank string throws; a function's blank answer (a token not loaded yet) is a
    /// `credentialError`, asked again on the next attempt.
    #[tsify(type = "string | (() => string | Promise<string>)")]
    pub auth: JsValue,
    /// Allow plain `ws://` to a non-loopback host (the credential then travels unencrypted).
    #[tsify(optional)]
    pub allow_insecure: Option<bool>,
    /// Shown in the engine's dashboards (default `"runwatch"`).
    #[tsify(optional)]
    pub client_name: Option<String>,
    /// How events are batched before callbacks run: `"task"` (default), `"microtask"` or
    /// `"frame"`; see `BatchMode`.
    #[tsify(optional)]
    pub batch: Option<BatchMode>,
    #[tsify(optional)]
    pub reconnect: Option<ReconnectOptions>,
    /// Send a ping after this long without any frame (default 20000; at least 1).
    #[tsify(optional)]
    pub heartbeat_interval_ms: Option<u32>,
    /// Declare the socket dead when a ping is unanswered this long (default 10000; at least 1).
    #[tsify(optional)]
    pub heartbeat_timeout_ms: Option<u32>,
    /// Connect + authenticate + subscribe must finish within this (default 15000; at least 1).
    #[tsify(optional)]
    pub connect_timeout_ms: Option<u32>,
    /// Default timeout of requests (default 30000; at least 1).
    #[tsify(optional)]
    pub request_timeout_ms: Option<u32>,
    /// How long to wait for a missing frame before reporting a gap (default 150).
    #[tsify(optional)]
    pub reorder_window_ms: Option<u32>,
    /// Frames larger than this are dropped with an `oversizedFrame` diagnostic (default 8 MiB; at least 1).
    #[tsify(optional)]
    pub max_frame_bytes: Option<u32>,
    /// Events buffered per subscription between batches; the oldest are dropped beyond
    /// this, with an `overflow` diagnostic (default 10000; at least 1).
    #[tsify(optional)]
    pub max_batch_events: Option<u32>,
}

/// Every option name: [`check_option_names`] refuses any other.
const OPTION_NAMES: &[&str] = &[
    "url", "auth", "allowInsecure", "clientName", "batch", "reconnect", "heartbeatIntervalMs", "heartbeatTimeoutMs",
    "connectTimeoutMs", "requestTimeoutMs", "reorderWindowMs", "maxFrameBytes", "maxBatchEvents",
];
pub(crate) const RECONNECT_NAMES: &[&str] = &["minDelayMs", "maxDelayMs", "maxAttempts"];

/// Refuses option names runwatch does not know (a typo would otherwise silently mean "default").
fn check_option_names(options: &JsValue) -> Result<(), String> {
    js_read::known_keys_only(options, OPTION_NAMES, "options")?;
    check_nested_names(options, "reconnect", RECONNECT_NAMES)
}

/// Refuses unknown names in the object option `key` (when it is an object).
pub(crate) fn check_nested_names(options: &JsValue, key: &str, known: &[&str]) -> Result<(), String> {
    let nested = js_read::field(options, key);
    if nested.is_object() {
        js_read::known_keys_only(&nested, known, &format!("`{key}`"))?;
    }
    Ok(())
}

impl ClientOptions {
    /// Reads the options object (its names already checked).
    fn from_js(o: &JsValue) -> Result<Self, String> {
        Ok(ClientOptions {
            url: required_string(o, "url")?,
            auth: Some(js_read::field(o, "auth")).filter(|a| !a.is_undefined()).ok_or("missing option `auth`")?,
            allow_insecure: boolean(o, "allowInsecure")?,
            client_name: string(o, "clientName")?,
            batch: BatchMode::from_js(o)?,
            reconnect: ReconnectOptions::from_js(o)?,
            heartbeat_interval_ms: positive(o, "heartbeatIntervalMs")?,
            heartbeat_timeout_ms: positive(o, "heartbeatTimeoutMs")?,
            connect_timeout_ms: positive(o, "connectTimeoutMs")?,
            request_timeout_ms: positive(o, "requestTimeoutMs")?,
            reorder_window_ms: uint(o, "reorderWindowMs")?,
            max_frame_bytes: positive(o, "maxFrameBytes")?,
            max_batch_events: positive(o, "maxBatchEvents")?,
        })
    }

    /// The core configuration these options describe; `seed` feeds the backoff jitter.
    pub(crate) fn client_config(&self, seed: u64) -> ClientConfig {
        let mut c = ClientConfig { engine: self.engine_config(seed), ..ClientConfig::default() };
        if let Some(name) = &self.client_name {
            c.client_name = name.clone();
        }
        c
    }

    /// The engine's tunables these options describe.
    fn engine_config(&self, seed: u64) -> EngineConfig {
        let mut c = engine_config(seed, self.reconnect.as_ref(), self.connect_timeout_ms, self.max_frame_bytes);
        c.heartbeat_interval = ms(self.heartbeat_interval_ms, c.heartbeat_interval);
        c.heartbeat_timeout = ms(self.heartbeat_timeout_ms, c.heartbeat_timeout);
        c.request_timeout = ms(self.request_timeout_ms, c.request_timeout);
        c.seq.reorder_window = ms(self.reorder_window_ms, c.seq.reorder_window);
        c
    }
}

/// The engine settings both clients' options have (`reconnect`, `connectTimeoutMs`,
/// `maxFrameBytes`); what they leave out keeps its default. `seed` feeds the backoff jitter.
pub(crate) fn engine_config(seed: u64, reconnect: Option<&ReconnectOptions>, connect_timeout_ms: Option<u32>, max_frame_bytes: Option<u32>) -> EngineConfig {
    let mut c = EngineConfig { rng_seed: seed, ..EngineConfig::default() };
    if let Some(r) = reconnect {
        c.backoff = r.backoff();
    }
    c.connect_timeout = ms(connect_timeout_ms, c.connect_timeout);
    if let Some(max) = max_frame_bytes {
        c.max_frame_bytes = max as usize;
    }
    c
}

/// A millisecond option as a duration, or `default` when it is not given.
pub(crate) fn ms(value: Option<u32>, default: Duration) -> Duration {
    value.map_or(default, |v| Duration::from_millis(v.into()))
}

impl BatchMode {
    /// Reads `options.batch`.
    pub(crate) fn from_js(options: &JsValue) -> Result<Option<Self>, String> {
        one_of(options, "batch", &["task", "microtask", "frame"], &[BatchMode::Task, BatchMode::Microtask, BatchMode::Frame])
    }
}

impl ReconnectOptions {
    /// Reads `options.reconnect` (its names already checked).
    pub(crate) fn from_js(options: &JsValue) -> Result<Option<Self>, String> {
        let Some(r) = js_read::object(options, "reconnect")? else { return Ok(None) };
        Ok(Some(ReconnectOptions {
            min_delay_ms: uint(&r, "minDelayMs")?,
            max_delay_ms: uint(&r, "maxDelayMs")?,
            max_attempts: uint(&r, "maxAttempts")?,
        }))
    }

    /// The backoff these options describe; what they leave out keeps its default.
    pub(crate) fn backoff(&self) -> BackoffConfig {
        let d = BackoffConfig::default();
        BackoffConfig {
            min_delay: ms(self.min_delay_ms, d.min_delay),
            max_delay: ms(self.max_delay_ms, d.max_delay),
            max_attempts: self.max_attempts,
            fast_attempts: d.fast_attempts,
        }
    }
}

/// The `types` argument: names or a bitmask, checked by the protocol's rules.
pub(crate) fn parse_types(types: JsValue) -> Result<MonitorTypes, JsValue> {
    let invalid = |m: String| usage_error("invalidTypes", &m);
    let arg = types_arg(&types).ok_or_else(|| invalid("types must be an array of type names or a bitmask".into()))?;
    MonitorTypes::from_arg(arg).map_err(|e| match e {
        TypesError::NotInteger => invalid(format!("{e}, not {}", js_read::describe(&types))),
        e => invalid(e.to_string()),
    })
}

/// The constructor's argument, checked: the options and the normalised engine URL. Throws
/// (as a `RunwatchError`) what `new RocketRideClient(options)` throws.
pub(crate) fn parse_client_options(options: JsValue) -> Result<(ClientOptions, String), JsValue> {
    check_option_names(&options).map_err(|e| usage_error("invalidOptions", &e))?;
    let options = ClientOptions::from_js(&options).map_err(|e| usage_error("invalidOptions", &e))?;
    let url = url::normalize(&options.url, options.allow_insecure.unwrap_or(false)).map_err(|e| usage_error("invalidUrl", &e.to_string()))?;
    check_token_source(&options.auth)?;
    Ok((options, url))
}

/// `auth` as a source of credentials: a function, or a string that is not blank (the engine
/// refuses an empty key, and RocketRide's then ends the client in `authFailed`). A blank
/// string a function returns is refused per attempt instead (`credentialError`, retried).
pub(crate) fn check_token_source(auth: &JsValue) -> Result<(), JsValue> {
    if !(auth.is_string() || auth.is_function()) {
        return Err(usage_error("invalidAuth", "`auth` must be a string or a function returning one (or a Promise of one)"));
    }
    if auth.as_string().is_some_and(|t| t.trim().is_empty()) {
        return Err(usage_error("invalidAuth", "`auth` is an empty string"));
    }
    Ok(())
}

/// A scope argument (`undefined`/`null` means `{ token: "*" }` where `optional`).
pub(crate) fn parse_scope(scope: JsValue) -> Result<Scope, JsValue> {
    let spec = scope_spec(&scope).map_err(|e| usage_error("invalidScope", &e))?;
    Scope::try_from(spec).map_err(|e| usage_error("invalidScope", &e.to_string()))
}

/// A scope object's fields.
fn scope_spec(scope: &JsValue) -> Result<ScopeSpec, String> {
    if !js_read::is_plain(scope) {
        return Err("a scope must be an object: `{ token }` or `{ projectId, source }`".into());
    }
    Ok(ScopeSpec {
        token: string(scope, "token")?,
        project_id: string(scope, "projectId")?,
        source: string(scope, "source")?,
        pipe_id: uint(scope, "pipeId")?,
    })
}

/// The `types` argument's shape: a number, a string, or an array of strings.
fn types_arg(types: &JsValue) -> Option<TypesArg> {
    if let Some(mask) = types.as_f64() {
        return Some(TypesArg::Mask(mask));
    }
    if let Some(name) = types.as_string() {
        return Some(TypesArg::Name(name));
    }
    js_read::string_array(types).map(TypesArg::Names)
}

/// `subscribe(scope, types, …)`'s arguments, checked against each other (e.g. pipe scopes
/// take SSE only).
pub(crate) fn parse_subscription(scope: JsValue, types: JsValue) -> Result<(Scope, MonitorTypes), JsValue> {
    let scope = parse_scope(scope)?;
    let types = parse_types(types)?;
    check_types(&scope, types)?;
    Ok((scope, types))
}

/// The `invalidTypes` error when `types` do not go with `scope`.
pub(crate) fn check_types(scope: &Scope, types: MonitorTypes) -> Result<(), JsValue> {
    scope.check_types(types).map_err(|e| usage_error("invalidTypes", &e.to_string()))
}

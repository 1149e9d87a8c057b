//! The `RocketRideClient` and `Subscription` classes JavaScript sees: thin conversions
//! over the app side ([`AppSide`]), which talks to the engine side in messages.

use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;

use super::app_side::{rejected, AppSide};
use super::dispatch::{to_js_or_throw, Dispatch, Kind, Target};
use super::engine_side::{now, random_seed, Driven, EngineSide};
use super::js_read;
use super::listeners::Removers;
use super::options::{parse_client_options, parse_subscription};
use super::store::TaskStore;
use crate::core::connection::Connection;
use crate::core::json_read::JsonText;
use crate::core::outputs::{RequestError, SubId};
use crate::core::time::Duration;
use crate::protocol::rocketride::calls::Call;
use crate::protocol::rocketride::client::{Client, Intent, RocketRide};
use crate::protocol::rocketride::events::RocketRideEvent;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Monitor type names (case-insensitive at runtime). */
export type MonitorTypeName = "DETAIL" | "SUMMARY" | "OUTPUT" | "FLOW" | "TASK" | "SSE" | "DASHBOARD" | "DEBUGGER" | "ALL";
/** Event types to subscribe to: names, or the server's bitmask (1..255). */
export type MonitorTypesArg = MonitorTypeName[] | number;
"#;

#[wasm_bindgen(typescript_custom_section)]
const DELIVERED_TS: &'static str = r#"
/** An event as delivered: `switch (ev.type)` narrows it. `epoch` numbers the connection;
 * `seq` is the server's frame number on it (absent for events re-seeded from a command and
 * for replayed ones). `replayed` is `true` for an event missed while offline and read back
 * from a newer server's log after the reconnect (see the `resync` diagnostic). */
export type Delivered = RocketRideEvent & { epoch: number; seq?: number; replayed?: true };
"#;

/// A live client of one RocketRide engine. It connects at once, re-connects on any loss
/// (full-jitter backoff), re-authenticates, re-subscribes and reports a `resync`.
///
/// ```ts
/// import init, { RocketRideClient } from "runwatch";
/// await init();
/// const client = new RocketRideClient({ url: "wss://engine:5565", auth: () => getKey() });
/// const sub = client.subscribe({ token: "*" }, ["TASK", "SUMMARY"], (events) => {
///   for (const ev of events) if (ev.type === "taskStatus") console.log(ev.status.completedCount);
/// });
/// ```
/// A live client of one RocketRide engine. It connects at once, re-connects on any loss
/// (full-jitter backoff), re-authenticates, re-subscribes and reports a `resync`.
///
/// ```ts
/// import init, { RocketRideClient } from "runwatch";
/// await init();
/// const client = new RocketRideClient({ url: "wss://engine:5565", auth: () => getKey() });
/// const sub = client.subscribe({ token: "*" }, ["TASK", "SUMMARY"], (events) => {
///   for (const ev of events) if (ev.type === "taskStatus") console.log(ev.status.completedCount);
/// });
/// ```
#[wasm_bindgen]
pub struct RocketRideClient {
    app: Rc<AppSide<RocketRide>>,
    removers: Removers,
}

/// One subscription; `unsubscribe()` (or `free()`) stops its callback (idempotent).
#[wasm_bindgen]
pub struct Subscription {
    app: Weak<AppSide<RocketRide>>,
    id: SubId,
}

impl Driven for RocketRide {
    type Intent = Intent;

    fn apply(connection: &mut Connection<Self>, intent: Intent) {
        connection.apply(intent);
    }
}

#[wasm_bindgen]
impl RocketRideClient {
    /// Creates the client and starts connecting. Throws a `RunwatchError` (with `code`)
    /// for invalid options: an unknown option, a bad URL, plain `ws://` to a remote host
    /// without `allowInsecure`, or a credential in the URL.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue) -> Result<RocketRideClient, JsValue> {
        let (options, url) = parse_client_options(options)?;
        let core = Client::new(options.client_config(random_seed()), now());
        let dispatch = Dispatch::new(options.batch.unwrap_or_default(), options.max_batch_events.unwrap_or(10_000) as usize);
        let app = AppSide::new(EngineSide::new(core, url), dispatch, options.auth);
        let weak = Rc::downgrade(&app);
        app.dispatch.set_flush(Closure::new(move |_| {
            if let Some(app) = weak.upgrade() {
                app.dispatch.flush_now();
            }
        }));
        let weak = Rc::downgrade(&app);
        let removers = Removers::new(move |id| {
            if let Some(app) = weak.upgrade() {
                app.dispatch.remove_listener(id);
            }
        });
        Ok(RocketRideClient { app, removers })
    }

    /// Subscribes `callback` to events of `scope` with the given types. The callback gets
    /// arrays of events, batched per task (or microtask, or animation frame: the `batch`
    /// option), in server order.
    /// Throws `RunwatchError` for an invalid scope or an unknown type name — a typo never
    /// silently unsubscribes, as it would on the raw protocol. Called from inside a
    /// callback, it takes effect after the current delivery.
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ScopeSpec")] scope: JsValue,
        #[wasm_bindgen(unchecked_param_type = "MonitorTypesArg")] types: JsValue,
        #[wasm_bindgen(unchecked_param_type = "(events: Delivered[]) => void")] callback: Function,
    ) -> Result<Subscription, JsValue> {
        self.subscribe_as(scope, types, Target::Js(callback))
    }

    /// Worker mode's `subscribe` (not public API): `callback` gets each batch as the JSON
    /// text of an array, which the Worker posts to the page as it is.
    #[wasm_bindgen(js_name = "__subscribeText", skip_typescript)]
    pub fn subscribe_text(&self, scope: JsValue, types: JsValue, callback: Function) -> Result<Subscription, JsValue> {
        self.subscribe_as(scope, types, Target::Text(callback))
    }

    /// Worker mode's page events (not public API): what the page saw of its lifecycle
    /// (`online`, `visible`, `pagehide`, `pageshow`), which a Worker cannot see itself.
    #[wasm_bindgen(js_name = "__page", skip_typescript)]
    pub fn page_event(&self, name: &str) {
        self.app.engine().page_event(name);
    }

    fn subscribe_as(&self, scope: JsValue, types: JsValue, target: Target<RocketRideEvent>) -> Result<Subscription, JsValue> {
        let (scope, types) = parse_subscription(scope, types)?;
        let id = self.app.subscribe(target, |id| Intent::Subscribe { id, scope, types });
        Ok(Subscription { app: Rc::downgrade(&self.app), id })
    }

    /// A {@link TaskStore} of the runs in `scope` (default `{ token: "*" }`), fed by its own
    /// subscription: `getSnapshot()` and `subscribe()` for `useSyncExternalStore`. Throws
    /// `RunwatchError` for an invalid scope, type name or option. See `TaskStore`.
    pub fn tasks(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "ScopeSpec")] scope: Option<JsValue>,
        #[wasm_bindgen(unchecked_optional_param_type = "TaskStoreOptions")] options: Option<JsValue>,
    ) -> Result<TaskStore, JsValue> {
        TaskStore::open(&self.app, scope, options)
    }

    /// Calls `callback` with every state change `{ newState, oldState, epoch, reason?,
    /// message? }`. Returns a function that removes the listener (calling it again does
    /// nothing).
    #[wasm_bindgen(js_name = onState, unchecked_return_type = "() => void")]
    pub fn on_state(&self, #[wasm_bindgen(unchecked_param_type = "(change: StateChange) => void")] callback: Function) -> JsValue {
        self.listen(Kind::State, callback)
    }

    /// Calls `callback` with every diagnostic (`gap`, `resync`, `decodeError`, …).
    /// Returns a function that removes the listener (calling it again does nothing).
    #[wasm_bindgen(js_name = onDiagnostic, unchecked_return_type = "() => void")]
    pub fn on_diagnostic(&self, #[wasm_bindgen(unchecked_param_type = "(diagnostic: Diagnostic) => void")] callback: Function) -> JsValue {
        self.listen(Kind::Diagnostic, callback)
    }

    /// Sends any command once the connection is live. Resolves with the response body
    /// (parsed JSON, or `undefined`); rejects with a `RunwatchRequestError` whose `code`
    /// is `server` (with `message` and `trace`), `timeout`, `connectionLost`, `closed`,
    /// `busy`, `invalid` or `badResponse`.
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown>")]
    pub fn request(&self, command: String, #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] args: JsValue, #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: Option<u32>) -> Promise {
        let args = if args.is_null_or_undefined() { Ok(JsonText::empty_object()) } else { js_read::json(&args) };
        match args {
            Ok(args) => self.call(Call::Raw { command, args }, timeout_ms),
            Err(message) => invalid_arguments(message),
        }
    }

    /// `rrext_get_task_status`: the task's current `TaskStatus`.
    #[wasm_bindgen(js_name = getTaskStatus, unchecked_return_type = "Promise<TaskStatus>")]
    pub fn get_task_status(&self, token: String) -> Promise {
        self.call(Call::GetTaskStatus { token }, None)
    }

    /// `rrext_get_token`: the token of the task of `projectId` + `source`.
    #[wasm_bindgen(js_name = getToken, unchecked_return_type = "Promise<TokenResult>")]
    pub fn get_token(&self, #[wasm_bindgen(js_name = projectId)] project_id: String, source: String) -> Promise {
        self.call(Call::GetToken { project_id, source }, None)
    }

    /// `rrext_dashboard`: connections, tasks and monitors on the server.
    #[wasm_bindgen(unchecked_return_type = "Promise<DashboardSnapshot>")]
    pub fn dashboard(&self) -> Promise {
        self.call(Call::Dashboard, None)
    }

    /// `rrext_ping`.
    #[wasm_bindgen(unchecked_return_type = "Promise<PingResult>")]
    pub fn ping(&self) -> Promise {
        self.call(Call::Ping, None)
    }

    /// `execute`: starts a pipeline. `args` are the engine's (`pipeline`, `name`,
    /// `pipelineTraceLevel` — needed for FLOW events —, `ttl`, …). Resolves once the task
    /// is running (default timeout 300 s). Its token is remembered so token subscriptions
    /// merge with project ones.
    #[wasm_bindgen(unchecked_return_type = "Promise<ExecuteResult>")]
    pub fn execute(&self, #[wasm_bindgen(unchecked_param_type = "ExecuteArgs")] args: JsValue, #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: Option<u32>) -> Promise {
        match js_read::json(&args) {
            Ok(args) => self.call(Call::Execute { args }, timeout_ms),
            Err(message) => invalid_arguments(message),
        }
    }

    /// `terminate`: stops the task of `token`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn terminate(&self, token: String) -> Promise {
        self.call(Call::Terminate { token }, None)
    }

    /// The connection state, as of the last state change delivered.
    #[wasm_bindgen(getter, unchecked_return_type = "ConnState")]
    pub fn state(&self) -> Result<JsValue, JsValue> {
        to_js_or_throw("the state", &self.app.state())
    }

    /// Counters: every frame received by outcome, gaps, overflowed events, reconnects,
    /// requests in flight.
    #[wasm_bindgen(unchecked_return_type = "ClientStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let mut stats = self.app.engine().read(Connection::stats);
        stats.overflowed = self.app.dispatch.overflowed();
        to_js_or_throw("the stats", &stats)
    }

    /// The server keys and type names this client believes the server holds.
    #[wasm_bindgen(js_name = serverSubscriptions, unchecked_return_type = "Array<{ key: string, types: MonitorTypeName[] }>")]
    pub fn server_subscriptions(&self) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        struct Held {
            key: String,
            types: Vec<&'static str>,
        }
        let held = self.app.engine().read(Client::held_subscriptions);
        let held: Vec<Held> = held.into_iter().map(|(key, t)| Held { key, types: t.names() }).collect();
        to_js_or_throw("the server subscriptions", &held)
    }

    /// Closes the connection and removes every listener and timer. Pending requests reject
    /// with `closed`. Idempotent; from inside a callback it takes effect after the current
    /// delivery.
    pub fn close(&self) {
        self.app.close();
    }

    /// Adds a listener; the returned remover may be called any number of times.
    fn listen(&self, kind: Kind, callback: Function) -> JsValue {
        let id = self.app.dispatch.add_listener(kind, callback);
        self.removers.remover(id)
    }

    fn call(&self, call: Call, timeout_ms: Option<u32>) -> Promise {
        self.app.call(call, timeout_ms.map(|ms| Duration::from_millis(ms.into())))
    }
}

impl Drop for RocketRideClient {
    /// `free()` (and `[Symbol.dispose]`) close too. The package entry keeps an open
    /// client's wrapper reachable until `close()`/`free()`, so garbage collection of a
    /// forgotten reference never closes a live connection.
    fn drop(&mut self) {
        self.app.close();
    }
}

#[wasm_bindgen]
impl Subscription {
    /// Stops this subscription. The server subscription is narrowed or removed only when
    /// no other subscription still needs it. Idempotent.
    pub fn unsubscribe(&self) {
        if let Some(app) = self.app.upgrade() {
            app.unsubscribe(self.id, Intent::Unsubscribe { id: self.id });
        }
    }

    /// The subscription's id (unique per client).
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Subscription {
    /// `free()` and `[Symbol.dispose]` unsubscribe (the package entry keeps a
    /// subscription's wrapper reachable while its client is open, so garbage collection
    /// never does).
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

/// A request refused before sending because its arguments did not convert.
fn invalid_arguments(message: String) -> Promise {
    rejected(&RequestError::Invalid { message })
}

//! The `FleetRlmClient` class JavaScript sees: the two fleet-rlm sockets of one session
//! (the chat socket and its events socket), each a connection of the generic shell
//! (`EngineSide` + `AppSide`), wired as `tests/fleet_session.rs` wires the plug-ins: the
//! chat side tells the events side when a turn starts and ends, so a silent events socket
//! during a turn is reported (`stalled`). Plus the HTTP probes. No protocol logic lives here.

mod arguments;
mod http;
mod options;
mod stores;

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use js_sys::{Function, Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use self::http::Http;
use self::options::{parse_options, AuthMode, Parsed};
use self::stores::Store;
use super::app_side::AppSide;
use super::dispatch::{to_js, to_js_or_throw, Dispatch, Kind, Target};
use super::engine_side::{now, random_seed, Address, Driven, EngineSide, UrlBuilder};
use super::errors::usage_error;
use super::keyed::Keyed;
use super::listeners::Removers;
use crate::core::connection::Connection;
use crate::core::lifecycle::ConnState;
use crate::core::outputs::SubId;
use crate::core::time::Duration;
use crate::core::json_write::quoted;
use crate::protocol::fleet_rlm::auth::socket_url;
use crate::protocol::fleet_rlm::chat::{ChatClient, ChatError, FleetChat};
use crate::protocol::fleet_rlm::http as probes;
use crate::protocol::fleet_rlm::frames::ChatFrame;
use crate::protocol::fleet_rlm::requests::CommandRequest;
use crate::protocol::fleet_rlm::runs::RunsSnapshot;
use crate::protocol::fleet_rlm::subscriber::{EventsClient, FleetEvents, SubscriberFrame};
use crate::core::outputs::Delivered;
use crate::protocol::fleet_rlm::turns::TurnsSnapshot;

#[wasm_bindgen(typescript_custom_section)]
const FLEET_TS: &'static str = r#"
/** Which fleet-rlm socket a state change or diagnostic is about. */
export type FleetSocket = "chat" | "events";
/** A chat-socket frame as delivered: `switch (f.type)` (`event` | `error` | `unknown`), then
 * `switch (f.kind)` for events. `epoch` numbers the socket's connection. */
export type FleetChatDelivered = ChatFrame & { epoch: number; seq?: number };
/** An events-socket frame as delivered: `switch (f.type)` (`execution_started` |
 * `execution_step` | `execution_completed` | `error` | `unknown`). */
export type FleetExecutionDelivered = SubscriberFrame & { epoch: number; seq?: number };
/** A state change of one socket. On a loss or `authFailed`, `serverError` is the latest
 * error frame that socket received (the server sends one before every close it initiates;
 * `code: "auth_failed"`, `class: "auth"` on `authFailed`). */
export type FleetStateChange = StateChange & { socket: FleetSocket; serverError?: ServerError };
/** A diagnostic of one socket. */
export type FleetDiagnostic = Diagnostic & { socket: FleetSocket };
/** A store for React's `useSyncExternalStore`: both members are bound functions;
 * `getSnapshot()` returns the same frozen object until something changed. */
export interface FleetStore<T> {
  readonly getSnapshot: () => T;
  readonly subscribe: (listener: () => void) => () => void;
}
/** A message: its text, or the full request (`sessionId`, when given, must be the client's). */
export type FleetMessage = string | MessageRequest;
/** Why an HTTP call failed: the server's answer, typed by status (`unauthorized`,
 * `notFound`, `validation`, `unavailable`, `status`, `decode`), or no answer at all. */
export type FleetHttpError =
  | HttpError
  | { kind: "network"; message: string }
  | { kind: "timeout"; message: string; timeoutMs: number }
  | { kind: "credential"; message: string };
/** What an HTTP call's promise rejects with. */
export type RunwatchHttpError = Error & { name: "RunwatchHttpError" } & FleetHttpError;
/** Counters of a `FleetRlmClient`'s sockets and runs store (absent: socket not opened). */
export interface FleetStats { chat?: ClientStats; events?: ClientStats; runs?: RunStats }
"#;

/// What the app asks of the chat connection.
pub(crate) enum ChatIntent {
    Listen(SubId),
    Unlisten(SubId),
}

/// What the app asks of the events connection.
pub(crate) enum EventsIntent {
    Listen(SubId),
    Unlisten(SubId),
    TurnStarted,
    TurnEnded,
}

impl Driven for FleetChat {
    type Intent = ChatIntent;

    fn apply(connection: &mut Connection<Self>, intent: ChatIntent) {
        match intent {
            ChatIntent::Listen(id) => connection.listen(id),
            ChatIntent::Unlisten(id) => connection.unlisten(id),
        }
    }
}

impl Driven for FleetEvents {
    type Intent = EventsIntent;

    fn apply(connection: &mut Connection<Self>, intent: EventsIntent) {
        match intent {
            EventsIntent::Listen(id) => connection.listen(id),
            EventsIntent::Unlisten(id) => connection.unlisten(id),
            EventsIntent::TurnStarted => connection.turn_started(now()),
            EventsIntent::TurnEnded => connection.turn_ended(now()),
        }
    }
}

/// A live client of one fleet-rlm session: the chat socket (send messages, cancel, run
/// commands, answer questions; the turns store) and the session's events socket (the runs
/// store with each run's step tree), both reconnecting with backoff, plus the HTTP probes.
///
/// ```ts
/// import init, { FleetRlmClient } from "runwatch";
/// await init();
/// const fleet = new FleetRlmClient({ url: "https://fleet.example", auth: () => getToken() });
/// fleet.onState((s) => { if (s.socket === "chat" && s.newState === "live") fleet.send("list the files"); });
/// const turns = useSyncExternalStore(fleet.turns.subscribe, fleet.turns.getSnapshot);
/// ```
#[wasm_bindgen]
pub struct FleetRlmClient {
    inner: Rc<Inner>,
}

/// What a remover undoes: a listener added to one or both sides.
type Undo = Box<dyn Fn()>;

struct Inner {
    session_id: String,
    chat: Option<Rc<AppSide<FleetChat>>>,
    events: Option<Rc<AppSide<FleetEvents>>>,
    turns: Option<Rc<Store<FleetChat, TurnsSnapshot>>>,
    runs: Option<Rc<Store<FleetEvents, RunsSnapshot>>>,
    turns_js: JsValue,
    runs_js: JsValue,
    http: Http,
    /// The events side was told a turn runs.
    turn_running: Cell<bool>,
    closed: Cell<bool>,
    removals: Rc<Removals>,
    removers: Removers,
}

/// What each remover handed to the app undoes, by remover id.
#[derive(Default)]
struct Removals {
    undo: RefCell<Vec<(u32, Undo)>>,
    next: Cell<u32>,
}

impl Removals {
    fn add(&self, undo: Undo) -> u32 {
        let id = self.next.get() + 1;
        self.next.set(id);
        self.undo.borrow_mut().push((id, undo));
        id
    }

    /// Runs (and forgets) the undo of remover `id`; again, nothing.
    fn run(&self, id: u32) {
        let undo = {
            let mut list = self.undo.borrow_mut();
            list.iter().position(|(i, _)| *i == id).map(|at| list.swap_remove(at).1)
        };
        if let Some(undo) = undo {
            undo();
        }
    }
}

#[wasm_bindgen]
impl FleetRlmClient {
    /// Creates the client and starts connecting both sockets. Throws a `RunwatchError`
    /// (with `code`) for invalid options: an unknown option (`invalidOptions`), a bad URL or
    /// plain `http://`/`ws://` to a remote host without `allowInsecure` (`invalidUrl`), a
    /// bad `auth`/`debugIdentity` (`invalidAuth`).
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "FleetClientOptions")] options: JsValue) -> Result<FleetRlmClient, JsValue> {
        let Parsed { options, base, session_id, auth, allow_insecure } = parse_options(options)?;
        let batch = options.batch.unwrap_or_default();
        let max_batch = options.max_batch_events.unwrap_or(10_000) as usize;
        let chat = options.chat.unwrap_or(true).then(|| {
            let core = ChatClient::new(options.chat_config(random_seed()), now());
            let build = url_builder(base.clone(), auth.clone(), allow_insecure, |c: &ChatClient| c.endpoint());
            open_side(core, build, Dispatch::new(batch, max_batch), auth.source())
        });
        let events = options.events.unwrap_or(true).then(|| {
            let core = EventsClient::new(options.events_config(random_seed(), &session_id), now());
            let build = url_builder(base.clone(), auth.clone(), allow_insecure, |c: &EventsClient| c.endpoint());
            open_side(core, build, Dispatch::new(batch, max_batch), auth.source())
        });
        let turns = chat.as_ref().map(|app| Store::new(app, ChatClient::turns_version, |c: &mut ChatClient| c.turns()));
        let runs = events.as_ref().map(|app| Store::new(app, EventsClient::runs_version, |c: &mut EventsClient| c.runs()));
        let http = Http { base, auth, timeout_ms: options.http_timeout_ms.unwrap_or(30_000) };
        let removals = Rc::new(Removals::default());
        let weak = Rc::downgrade(&removals);
        let removers = Removers::new(move |id| {
            if let Some(removals) = weak.upgrade() {
                removals.run(id);
            }
        });
        let inner = Rc::new(Inner {
            turns_js: turns.as_ref().map_or(JsValue::UNDEFINED, Store::js_object),
            runs_js: runs.as_ref().map_or(JsValue::UNDEFINED, Store::js_object),
            session_id,
            chat,
            events,
            turns,
            runs,
            http,
            turn_running: Cell::new(false),
            closed: Cell::new(false),
            removals,
            removers,
        });
        inner.wire();
        Ok(FleetRlmClient { inner })
    }

    /// The session both sockets use.
    #[wasm_bindgen(getter, js_name = sessionId)]
    pub fn session_id(&self) -> String {
        self.inner.session_id.clone()
    }

    /// The chat socket's state (as of the last state change delivered); `undefined` when
    /// the client was made with `chat: false`.
    #[wasm_bindgen(getter, js_name = chatState, unchecked_return_type = "ConnState | undefined")]
    pub fn chat_state(&self) -> Result<JsValue, JsValue> {
        self.inner.chat.as_ref().map_or(Ok(JsValue::UNDEFINED), |app| to_js_or_throw("the state", &app.state()))
    }

    /// The events socket's state; `undefined` when made with `events: false`.
    #[wasm_bindgen(getter, js_name = eventsState, unchecked_return_type = "ConnState | undefined")]
    pub fn events_state(&self) -> Result<JsValue, JsValue> {
        self.inner.events.as_ref().map_or(Ok(JsValue::UNDEFINED), |app| to_js_or_throw("the state", &app.state()))
    }

    /// The turns of the chat socket: what was asked, the answer streamed so far, tools,
    /// questions and answers, how each turn ended. `useSyncExternalStore(fleet.turns.subscribe,
    /// fleet.turns.getSnapshot)`; listeners run at most once per delivery batch.
    /// `undefined` with `chat: false`.
    #[wasm_bindgen(getter, unchecked_return_type = "FleetStore<TurnsSnapshot> | undefined")]
    pub fn turns(&self) -> JsValue {
        self.inner.turns_js.clone()
    }

    /// The runs of the session as the events socket shows them, each with its step tree
    /// (ordered by step index whatever the arrival order), status and summary.
    /// `undefined` with `events: false`.
    #[wasm_bindgen(getter, unchecked_return_type = "FleetStore<RunsSnapshot> | undefined")]
    pub fn runs(&self) -> JsValue {
        self.inner.runs_js.clone()
    }

    /// Sends a message, starting a turn; returns its turn id (see `turns`). Throws a
    /// `RunwatchError`: `invalidMessage` (blank content, `repoRef` without `repoUrl`, another
    /// session, an unknown key or a value of the wrong type), `turnInProgress` (one turn at a time: `cancel()` or wait), `notConnected`
    /// (the chat socket is not live: messages are never queued, and never re-sent after a
    /// drop), `unavailable` (`chat: false`).
    pub fn send(&self, #[wasm_bindgen(unchecked_param_type = "FleetMessage")] message: JsValue) -> Result<f64, JsValue> {
        let chat = self.inner.chat()?;
        let mut request = arguments::message(&message).map_err(|e| usage_error("invalidMessage", &e))?;
        match &request.session_id {
            None => request.session_id = Some(self.inner.session_id.clone()),
            Some(s) if *s != self.inner.session_id => {
                return Err(usage_error("invalidMessage", &format!("this client's session is {}; make another client for session {}", quoted(&self.inner.session_id), quoted(s))))
            }
            Some(_) => {}
        }
        let turn = chat.engine().with_core(|core, now| core.send_message(now, &request)).map_err(|e| chat_error(&e))?;
        if let Some(events) = &self.inner.events {
            self.inner.turn_running.set(true);
            events.engine().post(super::engine_side::ToEngine::Intent(EventsIntent::TurnStarted));
        }
        self.inner.after_chat_change();
        Ok(turn as f64)
    }

    /// Asks the server to cancel the running turn (it ends `cancelled`). Returns false when
    /// no turn runs. Throws `notConnected` when the socket is down, `unavailable` with
    /// `chat: false`.
    pub fn cancel(&self) -> Result<bool, JsValue> {
        let chat = self.inner.chat()?;
        match chat.engine().with_core(|core, now| core.cancel(now)) {
            Ok(()) => {
                self.inner.after_chat_change();
                Ok(true)
            }
            Err(ChatError::NoTurn) => Ok(false),
            Err(e) => Err(chat_error(&e)),
        }
    }

    /// Runs a command (`list_files`, `memory_tree`, `reset`, … or `resolve_hitl`) on the
    /// chat socket, for this session; waits for the connection when it is down. Resolves
    /// with the command's result object; rejects with a `RunwatchRequestError`: `server`
    /// (the command failed: `message`), `timeout` (default `commandTimeoutMs`),
    /// `connectionLost`, `closed`. Throws `invalidMessage` for a blank name.
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown>")]
    pub fn command(
        &self,
        name: String,
        #[wasm_bindgen(unchecked_optional_param_type = "Record<string, unknown>")] args: Option<JsValue>,
        #[wasm_bindgen(js_name = timeoutMs, unchecked_optional_param_type = "number")] timeout_ms: Option<u32>,
    ) -> Result<Promise, JsValue> {
        let chat = self.inner.chat()?;
        let args = arguments::command_args(args).map_err(|e| usage_error("invalidMessage", &e))?;
        let request = CommandRequest { command: name, args, session_id: Some(self.inner.session_id.clone()) };
        request.validate().map_err(|e| usage_error("invalidMessage", &e))?;
        Ok(chat.call(request, timeout_ms.map(|ms| Duration::from_millis(ms.into()))))
    }

    /// Answers the agent's question `messageId` (from a turn's `hitl`) with `actionLabel`
    /// (one of its options). Resolves with the server's `HitlResolution`; the turn's
    /// prompt then shows the `resolution`. Rejections as for `command`.
    #[wasm_bindgen(js_name = resolveHitl, unchecked_return_type = "Promise<HitlResolution>")]
    pub fn resolve_hitl(
        &self,
        #[wasm_bindgen(js_name = messageId)] message_id: String,
        #[wasm_bindgen(js_name = actionLabel)] action_label: String,
        #[wasm_bindgen(js_name = timeoutMs)] timeout_ms: Option<u32>,
    ) -> Result<Promise, JsValue> {
        let chat = self.inner.chat()?;
        let request = CommandRequest::resolve_hitl(self.inner.session_id.clone(), message_id, action_label);
        request.validate().map_err(|e| usage_error("invalidMessage", &e))?;
        Ok(chat.call(request, timeout_ms.map(|ms| Duration::from_millis(ms.into()))))
    }

    /// Calls `callback` with every chat-socket frame (events, error frames, unknown
    /// envelopes), batched, in order. Returns a function that removes it (idempotent).
    #[wasm_bindgen(js_name = onChat, unchecked_return_type = "() => void")]
    pub fn on_chat(&self, #[wasm_bindgen(unchecked_param_type = "(frames: FleetChatDelivered[]) => void")] callback: Function) -> Result<JsValue, JsValue> {
        let chat = self.inner.chat()?.clone();
        let id = chat.subscribe(Target::Js(callback), ChatIntent::Listen);
        let weak = Rc::downgrade(&chat);
        Ok(self.inner.remover(Box::new(move || {
            if let Some(app) = weak.upgrade() {
                app.unsubscribe(id, ChatIntent::Unlisten(id));
            }
        })))
    }

    /// Calls `callback` with every events-socket frame (`execution_started` /
    /// `execution_step` / `execution_completed`, error frames), batched, in order; copies of
    /// steps already received are dropped. Returns a remover.
    #[wasm_bindgen(js_name = onExecution, unchecked_return_type = "() => void")]
    pub fn on_execution(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(frames: FleetExecutionDelivered[]) => void")] callback: Function,
    ) -> Result<JsValue, JsValue> {
        let events = self.inner.events()?.clone();
        let id = events.subscribe(Target::Js(callback), EventsIntent::Listen);
        let weak = Rc::downgrade(&events);
        Ok(self.inner.remover(Box::new(move || {
            if let Some(app) = weak.upgrade() {
                app.unsubscribe(id, EventsIntent::Unlisten(id));
            }
        })))
    }

    /// Calls `callback` with every state change of either socket, tagged with `socket`.
    /// `authFailed` (the server refused the credential: `serverError.code` is `auth_failed`
    /// or `tenant_forbidden`) and `closed` are final. Returns a remover.
    #[wasm_bindgen(js_name = onState, unchecked_return_type = "() => void")]
    pub fn on_state(&self, #[wasm_bindgen(unchecked_param_type = "(change: FleetStateChange) => void")] callback: Function) -> JsValue {
        self.inner.listen(Kind::State, callback)
    }

    /// Calls `callback` with every diagnostic of either socket, tagged with `socket`:
    /// `resync` after a reconnect (the events socket says what may be lost: the server has
    /// no replay), `stalled` (a turn runs and the events socket hears nothing), `decodeError`,
    /// `credentialError`, `callbackError`, …. None carries the token. Returns a remover.
    #[wasm_bindgen(js_name = onDiagnostic, unchecked_return_type = "() => void")]
    pub fn on_diagnostic(&self, #[wasm_bindgen(unchecked_param_type = "(diagnostic: FleetDiagnostic) => void")] callback: Function) -> JsValue {
        self.inner.listen(Kind::Diagnostic, callback)
    }

    /// Counters of each socket (every frame received, by outcome) and of the runs store.
    #[wasm_bindgen(unchecked_return_type = "FleetStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        #[derive(Serialize)]
        struct Stats {
            #[serde(skip_serializing_if = "Option::is_none")]
            chat: Option<crate::core::connection::ClientStats>,
            #[serde(skip_serializing_if = "Option::is_none")]
            events: Option<crate::core::connection::ClientStats>,
            #[serde(skip_serializing_if = "Option::is_none")]
            runs: Option<crate::protocol::fleet_rlm::runs::RunStats>,
        }
        fn side<P: Driven>(app: &Rc<AppSide<P>>) -> crate::core::connection::ClientStats {
            let mut stats = app.engine().read(Connection::stats);
            stats.overflowed = app.dispatch.overflowed();
            stats
        }
        let stats = Stats {
            chat: self.inner.chat.as_ref().map(side),
            events: self.inner.events.as_ref().map(side),
            runs: self.inner.events.as_ref().map(|app| app.engine().read(|c| c.run_store().stats().clone())),
        };
        to_js_or_throw("the stats", &stats)
    }

    /// `GET /health`: `{ ok, version }`. Rejects with a `RunwatchHttpError`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Health>")]
    pub fn health(&self) -> Promise {
        self.inner.http.call("GET", probes::HEALTH, false, None, probes::decode_health)
    }

    /// `GET /ready` (always HTTP 200; `ready: false` when the planner or database is missing).
    #[wasm_bindgen(unchecked_return_type = "Promise<Ready>")]
    pub fn ready(&self) -> Promise {
        self.inner.http.call("GET", probes::READY, false, None, probes::decode_ready)
    }

    /// `GET /api/v1/runtime/status`: configuration, cached connectivity tests, guidance.
    #[wasm_bindgen(js_name = runtimeStatus, unchecked_return_type = "Promise<RuntimeStatus>")]
    pub fn runtime_status(&self) -> Promise {
        self.inner.http.call("GET", probes::RUNTIME_STATUS, true, None, probes::decode_runtime_status)
    }

    /// `POST /api/v1/runtime/tests/lm`: a real LM call (up to 20 s), cached by the server.
    #[wasm_bindgen(js_name = testLm, unchecked_return_type = "Promise<ConnectivityTest>")]
    pub fn test_lm(&self) -> Promise {
        self.inner.http.call("POST", probes::TEST_LM, true, None, probes::decode_connectivity_test)
    }

    /// `POST /api/v1/runtime/tests/daytona`: lists one sandbox, cached by the server.
    #[wasm_bindgen(js_name = testDaytona, unchecked_return_type = "Promise<ConnectivityTest>")]
    pub fn test_daytona(&self) -> Promise {
        self.inner.http.call("POST", probes::TEST_DAYTONA, true, None, probes::decode_connectivity_test)
    }

    /// `POST /api/v1/traces/feedback`: thumbs up/down for a turn, by the `final` payload's
    /// `mlflowTraceId` or `mlflowClientRequestId`. Throws `invalidMessage` without either;
    /// rejects with a `RunwatchHttpError` (`unavailable` when MLflow is off, `notFound`,
    /// `unauthorized` for another user's trace, `validation`).
    #[wasm_bindgen(js_name = traceFeedback, unchecked_return_type = "Promise<FeedbackResponse>")]
    pub fn trace_feedback(&self, #[wasm_bindgen(unchecked_param_type = "FeedbackRequest")] feedback: JsValue) -> Result<Promise, JsValue> {
        let request = arguments::feedback(&feedback).map_err(|e| usage_error("invalidMessage", &e))?;
        let body = request.to_body().map_err(|e| usage_error("invalidMessage", &e))?;
        Ok(self.inner.http.call("POST", probes::TRACE_FEEDBACK, true, Some(body), probes::decode_feedback))
    }

    /// `GET /api/v1/auth/me`: the identity the server sees (events reach only sockets of the
    /// chat socket's identity).
    #[wasm_bindgen(unchecked_return_type = "Promise<Identity>")]
    pub fn me(&self) -> Promise {
        self.inner.http.call("GET", probes::AUTH_ME, true, None, probes::decode_identity)
    }

    /// Closes both sockets and removes every listener and timer; pending commands reject
    /// with `closed`; the stores keep their last snapshot. Idempotent; from inside a
    /// callback it takes effect after the current delivery.
    pub fn close(&self) {
        self.inner.close();
    }
}

impl Drop for FleetRlmClient {
    /// `free()` (and `[Symbol.dispose]`) close too. The package entry keeps an open
    /// client's wrapper reachable until `close()`/`free()`.
    fn drop(&mut self) {
        self.inner.close();
    }
}

impl Inner {
    fn chat(&self) -> Result<&Rc<AppSide<FleetChat>>, JsValue> {
        self.chat.as_ref().ok_or_else(|| usage_error("unavailable", "this client was made with `chat: false`"))
    }

    fn events(&self) -> Result<&Rc<AppSide<FleetEvents>>, JsValue> {
        self.events.as_ref().ok_or_else(|| usage_error("unavailable", "this client was made with `events: false`"))
    }

    /// Feeds the stores from each side's deliveries and state changes.
    fn wire(self: &Rc<Self>) {
        if let Some(chat) = &self.chat {
            let weak = Rc::downgrade(self);
            let sink = move |_: &[Arc<Delivered<ChatFrame>>]| weak.upgrade().map(|inner| inner.after_chat_change()).unwrap_or_default();
            chat.subscribe(Target::Native(Rc::new(sink)), ChatIntent::Listen);
            chat.dispatch.add_listener(Kind::State, internal(Rc::downgrade(self), Inner::after_chat_change));
        }
        if let Some(events) = &self.events {
            let weak = Rc::downgrade(self);
            let sink = move |_: &[Arc<Delivered<SubscriberFrame>>]| weak.upgrade().map(|inner| inner.after_events_change()).unwrap_or_default();
            events.subscribe(Target::Native(Rc::new(sink)), EventsIntent::Listen);
            events.dispatch.add_listener(Kind::State, internal(Rc::downgrade(self), Inner::after_events_change));
        }
    }

    /// After anything that may change the turns: tell the events side when the turn ended,
    /// and the turns store's listeners when it changed. Returns what they threw.
    fn after_chat_change(&self) -> Vec<JsValue> {
        if self.turn_running.get() {
            let running = self.chat.as_ref().is_some_and(|chat| chat.engine().read(|c| c.current_turn().is_some()));
            if !running {
                self.turn_running.set(false);
                if let Some(events) = &self.events {
                    events.engine().post(super::engine_side::ToEngine::Intent(EventsIntent::TurnEnded));
                }
            }
        }
        self.turns.as_ref().map(|s| s.notify_if_changed()).unwrap_or_default()
    }

    fn after_events_change(&self) -> Vec<JsValue> {
        self.runs.as_ref().map(|s| s.notify_if_changed()).unwrap_or_default()
    }

    /// Adds an app listener of `kind` to both sides; each value is tagged with its socket
    /// (and a state change with the error frame that preceded it).
    fn listen(&self, kind: Kind, callback: Function) -> JsValue {
        let mut ids: Vec<Undo> = Vec::new();
        if let Some(chat) = &self.chat {
            ids.push(add_tagged(chat, kind, "chat", callback.clone(), |c: &ChatClient| c.preceding_error().cloned()));
        }
        if let Some(events) = &self.events {
            ids.push(add_tagged(events, kind, "events", callback, |c: &EventsClient| c.preceding_error().cloned()));
        }
        self.remover(Box::new(move || ids.iter().for_each(|remove| remove())))
    }

    /// A remover for the app that runs `undo` the first time it is called.
    fn remover(&self, undo: Undo) -> JsValue {
        self.removers.remover(self.removals.add(undo))
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        if let Some(chat) = &self.chat {
            chat.close();
        }
        if let Some(events) = &self.events {
            events.close();
        }
        if let Some(turns) = &self.turns {
            turns.close();
        }
        if let Some(runs) = &self.runs {
            runs.close();
        }
    }
}

/// A listener inside the SDK: runs `f` and rethrows the first thing a store listener threw
/// (the dispatch reports it as a `callbackError`).
fn internal(weak: Weak<Inner>, f: fn(&Inner) -> Vec<JsValue>) -> Function {
    Closure::<dyn Fn(JsValue) -> Result<(), JsValue>>::new(move |_| match weak.upgrade() {
        Some(inner) => f(&inner).into_iter().next().map_or(Ok(()), Err),
        None => Ok(()),
    })
    .into_js_value()
    .unchecked_into()
}

/// Adds `callback` as a `kind` listener of one side, tagging each value with `socket`;
/// returns its remover.
fn add_tagged<P: Driven>(
    app: &Rc<AppSide<P>>,
    kind: Kind,
    socket: &'static str,
    callback: Function,
    preceding: fn(&Connection<P>) -> Option<crate::protocol::fleet_rlm::errors::ServerError>,
) -> Undo {
    let weak = Rc::downgrade(app);
    let tagged = Keyed::new(move |value: JsValue| {
        let tagged: JsValue = Object::assign(&Object::new(), value.unchecked_ref()).into();
        let _ = Reflect::set(&tagged, &"socket".into(), &socket.into());
        if kind == Kind::State {
            if let Some(app) = weak.upgrade() {
                // A loss (a change with a reason) or a refused credential: what the server said
                // before it.
                let lost = Reflect::get(&value, &"reason".into()).is_ok_and(|r| !r.is_undefined());
                let explained = lost || app.state() == ConnState::AuthFailed;
                if let Some(error) = explained.then(|| app.engine().read(preceding)).flatten().and_then(|e| to_js(&e).ok()) {
                    let _ = Reflect::set(&tagged, &"serverError".into(), &error);
                }
            }
        }
        callback.call1(&JsValue::UNDEFINED, &tagged)
    });
    let id = app.dispatch.add_listener(kind, tagged.function().clone());
    let weak = Rc::downgrade(app);
    // Holds `tagged` until the listener is removed (or the client goes): dropped, its
    // function does nothing more.
    Box::new(move || {
        if let Some(app) = weak.upgrade() {
            app.dispatch.remove_listener(id);
        }
        let _ = &tagged;
    })
}

/// The builder of each attempt's URL: the socket's endpoint (the events socket's session),
/// authenticated by the credential fetched for the attempt.
fn url_builder<P: Driven>(base: String, auth: AuthMode, allow_insecure: bool, endpoint: fn(&Connection<P>) -> crate::protocol::fleet_rlm::auth::Endpoint) -> UrlBuilder<P> {
    Box::new(move |core: &Connection<P>, fetched: &str| {
        let credential = auth.credential(fetched)?;
        let url = socket_url(&base, &endpoint(core), &credential, allow_insecure).map_err(|e| e.to_string())?;
        Ok((url.expose().to_owned(), url.redacted().to_owned()))
    })
}

/// One socket's engine and app sides, its flush closure installed.
fn open_side<P: Driven>(core: Connection<P>, build: UrlBuilder<P>, dispatch: Dispatch<P::Event>, auth: JsValue) -> Rc<AppSide<P>> {
    let app = AppSide::new(EngineSide::with_address(core, Address::PerAttempt(build)), dispatch, auth);
    let weak = Rc::downgrade(&app);
    app.dispatch.set_flush(Closure::new(move |_| {
        if let Some(app) = weak.upgrade() {
            app.dispatch.flush_now();
        }
    }));
    app
}

fn chat_error(e: &ChatError) -> JsValue {
    let code = match e {
        ChatError::Invalid(_) => "invalidMessage",
        ChatError::TurnInProgress => "turnInProgress",
        ChatError::NotConnected => "notConnected",
        ChatError::NoTurn => "invalidMessage",
    };
    usage_error(code, &e.to_string())
}

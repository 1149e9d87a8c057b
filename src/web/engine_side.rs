//! The engine side of a client: it owns the socket, the one timer, the browser wake-up
//! listeners and the sans-IO [`Connection`], and knows nothing of app callbacks. It takes
//! [`ToEngine`] messages and hands every output to the app side as a [`ToApp`] message;
//! both are plain data, so this side can move into a Worker behind `postMessage`.
//!
//! Everything that reaches the engine goes through one inbox. While the engine is
//! working (or the app side is handling what it produced), a new message waits in the
//! inbox and is handled afterwards, in order: a call made from inside an app callback
//! (subscribe, unsubscribe, a request, `close()`) takes effect after the current delivery,
//! never in the middle of it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use wasm_bindgen::JsCast;

use super::errors::thrown_message;
use super::socket::{self, Frame, Socket, SocketEvent, SocketSink};
use crate::core::connection::{Connection, Protocol};
use crate::core::lifecycle::{Action, ConnState, Wake};
use crate::core::outputs::{Diagnostic, Output, RequestError};
use crate::core::time::{Duration, Instant};

/// A protocol the browser shell can drive: its app intents (subscribe, …) are applied to
/// the connection here.
pub(crate) trait Driven: Protocol<Event: serde::Serialize> + 'static {
    /// What the app asks of subscriptions.
    type Intent;
    fn apply(connection: &mut Connection<Self>, intent: Self::Intent);
}

/// What the app side sends the engine side.
pub(crate) enum ToEngine<P: Driven> {
    Intent(P::Intent),
    Call { id: u32, call: P::Call, timeout: Option<Duration> },
    Credential { epoch: u32, result: Result<String, String> },
    Close,
}

/// What the engine side sends the app side, in order: the connection's outputs, and once
/// `close()` has been carried out (every output it caused sent), `Closed`.
pub(crate) enum ToApp<E> {
    Output(Output<E>),
    Closed,
    /// `true`: the engine starts handling a browser event (a socket frame, its timer, a
    /// wake-up), so what it delivers can go at the `false` that follows, at the end of the
    /// browser's task: a quiet stream's flush needs no microtask of its own.
    Turn(bool),
}

/// Where the engine side's messages go.
pub(crate) type AppSink<E> = Box<dyn Fn(ToApp<E>)>;

/// Everything the engine reacts to, app messages and browser events alike.
enum Input<P: Driven> {
    App(ToEngine<P>),
    Socket { epoch: u32, event: SocketEvent },
    Timer,
    Wake(Wake),
    /// `pagehide`: the page goes into the back/forward cache, or away.
    PageHidden,
    /// The app side changed the connection directly ([`EngineSide::with_core`]): drain it.
    Nudge,
}

/// Builds the socket URL of one attempt from the credential the app side provided, for a
/// wire whose credential travels in the URL (fleet-rlm): `Ok((url, redacted))`, where
/// `redacted` replaces the credential wherever the URL could show up in a message.
pub(crate) type UrlBuilder<P> = Box<dyn Fn(&Connection<P>, &str) -> Result<(String, String), String>>;

/// Where the sockets connect.
pub(crate) enum Address<P: Driven> {
    /// Always this URL (the credential, if any, goes in a request).
    Fixed(String),
    /// A URL built for each attempt: before opening, the engine side asks the app side for
    /// the credential (`NeedCredential`) and opens once it arrives.
    PerAttempt(UrlBuilder<P>),
}

pub(crate) struct EngineSide<P: Driven> {
    weak: Weak<EngineSide<P>>,
    core: RefCell<Connection<P>>,
    address: Address<P>,
    /// The attempt waiting for its credential (per-attempt URLs only).
    awaiting: Cell<Option<u32>>,
    /// Where outputs go (the app side); set once, right after construction.
    app: RefCell<Option<AppSink<P::Event>>>,
    inbox: RefCell<VecDeque<Input<P>>>,
    /// The outputs of one input on their way to the app side, swapped with the core's own
    /// list (see [`Connection::swap_outputs`]) rather than moved one by one into a list
    /// allocated for each input. Only [`Self::run`] uses it, and it is not re-entered.
    outbox: RefCell<VecDeque<Output<P::Event>>>,
    busy: Cell<bool>,
    /// The first run happened (on the microtask after construction); until then inputs
    /// only wait in the inbox, so listeners added right after `new` see the first state.
    started: Cell<bool>,
    closed: Cell<bool>,
    said_closed: Cell<bool>,
    socket: RefCell<Option<Socket>>,
    timer: RefCell<Option<(Instant, Timeout)>>,
    listeners: RefCell<Vec<EventListener>>,
}

impl<P: Driven> EngineSide<P> {
    /// The engine side for `core`, connecting to `url`. It starts on the next microtask,
    /// so listeners and subscriptions registered right after construction see the first
    /// state change and join the first subscribe round.
    pub(crate) fn new(core: Connection<P>, url: String) -> Rc<Self> {
        Self::with_address(core, Address::Fixed(url))
    }

    /// The engine side for `core`, connecting to `address` (see [`Address`]).
    pub(crate) fn with_address(core: Connection<P>, address: Address<P>) -> Rc<Self> {
        let engine = Rc::new_cyclic(|weak| EngineSide {
            weak: weak.clone(),
            core: RefCell::new(core),
            address,
            awaiting: Cell::new(None),
            app: RefCell::new(None),
            inbox: RefCell::new(VecDeque::new()),
            outbox: RefCell::new(VecDeque::new()),
            busy: Cell::new(false),
            started: Cell::new(false),
            closed: Cell::new(false),
            said_closed: Cell::new(false),
            socket: RefCell::new(None),
            timer: RefCell::new(None),
            listeners: RefCell::new(Vec::new()),
        });
        engine.listen();
        let weak = Rc::downgrade(&engine);
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(engine) = weak.upgrade() {
                engine.started.set(true);
                engine.run();
            }
        });
        engine
    }

    /// Connects the app side.
    pub(crate) fn set_app(&self, app: AppSink<P::Event>) {
        *self.app.borrow_mut() = Some(app);
    }

    /// Takes one message from the app side.
    pub(crate) fn post(&self, message: ToEngine<P>) {
        self.input(Input::App(message));
    }

    /// Reads the connection (getters such as `stats()`).
    pub(crate) fn read<R>(&self, f: impl FnOnce(&Connection<P>) -> R) -> R {
        f(&self.core.borrow())
    }

    /// Reads the connection through `&mut`, for getters that build a cached view (the
    /// fleet-rlm turns and runs snapshots); they change nothing observable, so nothing is
    /// drained.
    pub(crate) fn read_mut<R>(&self, f: impl FnOnce(&mut Connection<P>) -> R) -> R {
        f(&mut self.core.borrow_mut())
    }

    /// Changes the connection at once, for an app call that must answer synchronously
    /// (e.g. a chat message's turn id); what it produced (frames, outputs) is then handled
    /// like the result of any input, after the delivery under way if there is one.
    pub(crate) fn with_core<R>(&self, f: impl FnOnce(&mut Connection<P>, Instant) -> R) -> R {
        let result = f(&mut self.core.borrow_mut(), now());
        self.input(Input::Nudge);
        result
    }

    /// An input from the browser (a socket event, the timer, a wake-up), handled between
    /// `ToApp::Turn(true)` and `ToApp::Turn(false)`. It never comes while the engine is
    /// busy (browsers dispatch these events asynchronously), so it is handled at once.
    /// Not inlined into its three callers: one copy keeps the module ~80 B (raw) smaller.
    #[inline(never)]
    fn browser_input(&self, input: Input<P>) {
        self.send(ToApp::Turn(true));
        self.input(input);
        self.send(ToApp::Turn(false));
    }

    fn input(&self, input: Input<P>) {
        if self.closed.get() && !self.busy.get() {
            // Closed for good: only a call still needs an answer.
            if let Input::App(ToEngine::Call { id, .. }) = input {
                self.refused(id, RequestError::Closed);
            }
            return;
        }
        self.inbox.borrow_mut().push_back(input);
        self.run();
    }

    /// Handles the inbox until it is empty, handing outputs to the app side as they come.
    /// Re-entrant calls (from app callbacks) only add to the inbox.
    fn run(&self) {
        if !self.started.get() || self.busy.replace(true) {
            return;
        }
        loop {
            let next = self.inbox.borrow_mut().pop_front();
            if let Some(input) = next {
                self.handle(input);
            }
            // Borrowed through the app's callbacks: nothing but this loop touches it.
            let mut outbox = self.outbox.borrow_mut();
            self.drain_core(&mut outbox);
            while let Some(output) = outbox.pop_front() {
                self.send(ToApp::Output(output));
            }
            drop(outbox);
            if self.closed.get() && !self.said_closed.replace(true) {
                self.send(ToApp::Closed);
            }
            if self.inbox.borrow().is_empty() {
                break;
            }
        }
        self.busy.set(false);
        if self.closed.get() {
            self.shut_down();
        } else {
            self.arm_timer();
        }
    }

    fn handle(&self, input: Input<P>) {
        let now = now();
        let mut core = self.core.borrow_mut();
        match input {
            Input::App(ToEngine::Intent(intent)) => P::apply(&mut core, intent),
            Input::App(ToEngine::Call { id, call, timeout }) => {
                if let Err(error) = core.call(id, call, timeout) {
                    drop(core);
                    self.refused(id, error);
                }
            }
            Input::App(ToEngine::Credential { epoch, result }) => {
                if let Address::PerAttempt(build) = &self.address {
                    if self.awaiting.get() != Some(epoch) {
                        return;
                    }
                    self.awaiting.set(None);
                    if core.epoch() != epoch || core.state() != ConnState::Connecting {
                        return;
                    }
                    let url = result.and_then(|credential| build(&core, &credential));
                    drop(core);
                    self.open_built(epoch, url);
                } else {
                    core.provide_credential(now, epoch, result);
                }
            }
            Input::App(ToEngine::Close) => {
                core.close();
                self.closed.set(true);
            }
            Input::Socket { epoch, event } => match event {
                SocketEvent::Open => core.handle_open(now, epoch),
                SocketEvent::Close { code, reason } => core.handle_close(now, epoch, code, &reason),
                SocketEvent::Message(event) => socket::with_frame(&event, core.max_frame_bytes(), |frame| match frame {
                    Frame::Bytes(bytes) => core.handle_frame(now, epoch, bytes),
                    Frame::TooLarge(bytes) => core.handle_oversized_frame(now, epoch, bytes),
                }),
            },
            Input::Timer => {
                core.handle_clocks(now, js_sys::Date::now() as u64);
                core.handle_timeout(now);
            }
            Input::Wake(why) => {
                core.handle_clocks(now, js_sys::Date::now() as u64);
                core.handle_wake(now, why);
            }
            Input::PageHidden => core.handle_page_hidden(now),
            Input::Nudge => {}
        }
    }

    /// Opens the socket of `epoch` at a URL built from its credential; a credential that
    /// could not be had (or made into a URL) is reported and counts as a failed attempt.
    fn open_built(&self, epoch: u32, url: Result<(String, String), String>) {
        let event = match url {
            Ok((url, redacted)) => {
                let sink: Weak<dyn SocketSink> = self.weak.clone();
                match Socket::open(&url, epoch, sink) {
                    Ok(socket) => {
                        *self.socket.borrow_mut() = Some(socket);
                        return;
                    }
                    // The browser's message may quote the URL, credential included.
                    Err(e) => SocketEvent::Close { code: 1006, reason: thrown_message(&e).replace(&url, &redacted) },
                }
            }
            Err(message) => {
                self.send(ToApp::Output(Output::Diagnostic(Box::new(Diagnostic::CredentialError { message }))));
                SocketEvent::Close { code: 1006, reason: "no credential for this attempt".into() }
            }
        };
        self.inbox.borrow_mut().push_back(Input::Socket { epoch, event });
    }

    fn refused(&self, id: u32, error: RequestError) {
        self.send(ToApp::Output(Output::Reply { id, result: Err(error) }));
    }

    fn send(&self, message: ToApp<P::Event>) {
        if let Some(app) = self.app.borrow().as_ref() {
            app(message);
        }
    }

    /// Carries out socket actions, sends frames, and fills `outputs` (empty) with the outputs
    /// for the app side: the core's, then the asks of its actions (a per-attempt credential).
    fn drain_core(&self, outputs: &mut VecDeque<Output<P::Event>>) {
        let (actions, frames) = {
            let mut core = self.core.borrow_mut();
            let actions: Vec<Action> = std::iter::from_fn(|| core.poll_action()).collect();
            let frames: Vec<String> = std::iter::from_fn(|| core.poll_transmit()).collect();
            core.swap_outputs(outputs);
            (actions, frames)
        };
        for ask in actions.into_iter().filter_map(|a| self.act(a)) {
            outputs.push_back(ask);
        }
        if let Some(socket) = self.socket.borrow().as_ref() {
            frames.iter().for_each(|f| socket.send(f));
        }
    }

    /// Carries out one socket action; returns an output for the app side, if any (the
    /// request for a per-attempt credential, sent after the outputs of the same input).
    fn act(&self, action: Action) -> Option<Output<P::Event>> {
        match action {
            Action::Open { epoch } => {
                self.socket.borrow_mut().take();
                let url = match &self.address {
                    Address::Fixed(url) => url,
                    Address::PerAttempt(_) => {
                        self.awaiting.set(Some(epoch));
                        return Some(Output::NeedCredential { epoch });
                    }
                };
                let sink: Weak<dyn SocketSink> = self.weak.clone();
                match Socket::open(url, epoch, sink) {
                    Ok(socket) => *self.socket.borrow_mut() = Some(socket),
                    // The constructor throws only for a malformed URL: a failed open.
                    Err(e) => {
                        let event = SocketEvent::Close { code: 1006, reason: thrown_message(&e) };
                        self.inbox.borrow_mut().push_back(Input::Socket { epoch, event });
                    }
                }
            }
            Action::Close { code, reason } => {
                if let Some(socket) = self.socket.borrow_mut().take() {
                    socket.close(code, &reason);
                }
            }
        }
        None
    }

    /// Arms the single timer for the core's next deadline. A timer already armed for that
    /// deadline or an earlier one is kept: the heartbeat's deadline moves with every frame,
    /// and re-arming per frame cost a `clearTimeout` + `setTimeout` each. A timer that fires
    /// before anything is due is harmless (the core acts only on what has expired) and arms
    /// the next one.
    fn arm_timer(&self) {
        let next = self.core.borrow().poll_timeout();
        let mut timer = self.timer.borrow_mut();
        let armed = timer.as_ref().map(|(at, _)| *at);
        if matches!((armed, next), (Some(armed), Some(next)) if armed <= next) {
            return;
        }
        *timer = next.map(|at| {
            let delay = at.as_millis().saturating_sub(now().as_millis()).min(u64::from(u32::MAX)) as u32;
            let weak = self.weak.clone();
            let timeout = Timeout::new(delay, move || {
                if let Some(engine) = weak.upgrade() {
                    engine.timer.borrow_mut().take();
                    engine.browser_input(Input::Timer);
                }
            });
            (at, timeout)
        });
    }

    /// After `close()`: every listener, timer and socket goes.
    fn shut_down(&self) {
        self.listeners.borrow_mut().clear();
        self.timer.borrow_mut().take();
        self.socket.borrow_mut().take();
        self.inbox.borrow_mut().clear();
    }

    /// A page event by name: `online`, `visible` (the page became visible), `pagehide`,
    /// `pageshow`; others are ignored. From the engine's own listeners, or in Worker mode
    /// from the page, which a Worker cannot observe.
    pub(crate) fn page_event(&self, name: &str) {
        let input = match name {
            "online" => Input::Wake(Wake::Online),
            "visible" => Input::Wake(Wake::Visible),
            "pagehide" => Input::PageHidden,
            "pageshow" => Input::Wake(Wake::PageShown),
            _ => return,
        };
        self.browser_input(input);
    }

    /// Listens to the page's lifecycle. In a Worker there is no page: Worker mode's page
    /// posts these events (`__page`).
    fn listen(&self) {
        let Some(window) = web_sys::window() else { return };
        // `visible_in`: the event counts only while that document is visible.
        let on = |target: &web_sys::EventTarget, event: &'static str, name: &'static str, visible_in: Option<web_sys::Document>| {
            let weak = self.weak.clone();
            EventListener::new(target, event, move |_| {
                let shown = visible_in.as_ref().is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
                if let Some(engine) = weak.upgrade().filter(|_| shown) {
                    engine.page_event(name);
                }
            })
        };
        let mut listeners = vec![on(&window, "online", "online", None), on(&window, "pagehide", "pagehide", None), on(&window, "pageshow", "pageshow", None)];
        if let Some(document) = window.document() {
            listeners.push(on(&document, "visibilitychange", "visible", Some(document.clone())));
        }
        *self.listeners.borrow_mut() = listeners;
    }
}

impl<P: Driven> SocketSink for EngineSide<P> {
    fn socket_event(&self, epoch: u32, event: SocketEvent) {
        self.browser_input(Input::Socket { epoch, event });
    }
}

/// Monotonic milliseconds (`performance.now()`), from the global scope so it also works
/// in a Worker.
pub(crate) fn now() -> Instant {
    thread_local! {
        // Looked up once: it is read for every frame.
        static PERFORMANCE: Option<web_sys::Performance> = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
            .ok()
            .and_then(|p| p.dyn_into::<web_sys::Performance>().ok());
    }
    let ms = PERFORMANCE.with(|performance| performance.as_ref().map_or_else(js_sys::Date::now, |p| p.now()));
    Instant::from_millis(ms as u64)
}

/// 64 random bits for the backoff jitter, from `crypto.getRandomValues` (also in Workers).
pub(crate) fn random_seed() -> u64 {
    let bytes = js_sys::Uint8Array::new_with_length(8);
    let filled = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .filter(|c| !c.is_undefined())
        .and_then(|crypto| {
            let get = js_sys::Reflect::get(&crypto, &"getRandomValues".into()).ok()?.dyn_into::<js_sys::Function>().ok()?;
            get.call1(&crypto, &bytes).ok()
        })
        .is_some();
    let mut seed = [0u8; 8];
    bytes.copy_to(&mut seed);
    if filled {
        u64::from_le_bytes(seed)
    } else {
        // No Web Crypto (very old runtimes): still different per tab.
        (js_sys::Math::random() * u64::MAX as f64) as u64 ^ (js_sys::Date::now() as u64)
    }
}

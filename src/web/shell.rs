//! The side that owns the socket, the timer, the browser listeners and the core. After
//! every input it drains the core in the documented order (actions, frames, outputs,
//! timeout) and hands app-facing outputs to [`Dispatch`].

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::Timeout;
use js_sys::{Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::dispatch::Dispatch;
use super::errors::thrown_message;
use super::socket::{self, Frame, Socket};
use crate::core::lifecycle::{Action, Wake};
use crate::core::time::Instant;
use crate::protocol::rocketride::client::Client;
use crate::protocol::rocketride::outputs::Output;

pub(crate) struct Shell {
    weak: Weak<Shell>,
    pub(crate) core: RefCell<Client>,
    pub(crate) dispatch: Dispatch,
    url: String,
    auth: JsValue,
    socket: RefCell<Option<Socket>>,
    timer: RefCell<Option<(Instant, Timeout)>>,
    listeners: RefCell<Vec<EventListener>>,
}

impl Shell {
    pub(crate) fn new(core: Client, dispatch: Dispatch, url: String, auth: JsValue) -> Rc<Self> {
        let shell = Rc::new_cyclic(|weak| Shell {
            weak: weak.clone(),
            core: RefCell::new(core),
            dispatch,
            url,
            auth,
            socket: RefCell::new(None),
            timer: RefCell::new(None),
            listeners: RefCell::new(Vec::new()),
        });
        shell.listen();
        // Start on the next microtask, so listeners and subscriptions registered right
        // after `new RocketRideClient(...)` see the first state change and join the first
        // subscribe round.
        let weak = Rc::downgrade(&shell);
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(shell) = weak.upgrade() {
                shell.drive();
            }
        });
        shell
    }

    /// Runs `f` on the core, then drains it.
    pub(crate) fn with_core<R>(&self, f: impl FnOnce(&mut Client) -> R) -> R {
        let result = f(&mut self.core.borrow_mut());
        self.drive();
        result
    }

    pub(crate) fn on_open(&self, epoch: u32) {
        self.with_core(|c| c.handle_open(now(), epoch));
    }

    pub(crate) fn on_message(&self, epoch: u32, data: &JsValue) {
        let max = self.core.borrow().max_frame_bytes();
        match socket::frame(data, max) {
            Some(Frame::Bytes(bytes)) => self.with_core(|c| c.handle_frame(now(), epoch, &bytes)),
            Some(Frame::TooLarge(bytes)) => self.with_core(|c| c.handle_oversized_frame(now(), epoch, bytes)),
            None => {}
        }
    }

    pub(crate) fn on_close(&self, epoch: u32, code: u16, reason: &str) {
        self.with_core(|c| c.handle_close(now(), epoch, code, reason));
    }

    /// Closes for good: the core closes the socket, then every listener and timer goes.
    pub(crate) fn shutdown(&self) {
        self.with_core(|c| c.close());
        self.listeners.borrow_mut().clear();
        self.timer.borrow_mut().take();
        self.socket.borrow_mut().take();
        self.dispatch.shutdown();
    }

    /// Drains the core until it has nothing more to say. Borrows of the core are never
    /// held while app callbacks run, so callbacks may call back into the client.
    fn drive(&self) {
        loop {
            let (actions, frames, outputs) = {
                let mut core = self.core.borrow_mut();
                let actions: Vec<Action> = std::iter::from_fn(|| core.poll_action()).collect();
                let frames: Vec<String> = std::iter::from_fn(|| core.poll_transmit()).collect();
                let outputs: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
                (actions, frames, outputs)
            };
            if actions.is_empty() && frames.is_empty() && outputs.is_empty() {
                break;
            }
            actions.into_iter().for_each(|a| self.act(a));
            if let Some(socket) = self.socket.borrow().as_ref() {
                frames.iter().for_each(|f| socket.send(f));
            }
            for output in outputs {
                match output {
                    Output::NeedCredential { epoch } => self.fetch_credential(epoch),
                    other => self.dispatch.output(other),
                }
            }
        }
        self.arm_timer();
    }

    fn act(&self, action: Action) {
        match action {
            Action::Open { epoch } => {
                self.socket.borrow_mut().take();
                match Socket::open(&self.url, epoch, self.weak.clone()) {
                    Ok(socket) => *self.socket.borrow_mut() = Some(socket),
                    // The constructor throws only for a malformed URL: treat as a failed open.
                    Err(e) => self.core.borrow_mut().handle_close(now(), epoch, 1006, &thrown_message(&e)),
                }
            }
            Action::Close { code, reason } => {
                if let Some(socket) = self.socket.borrow_mut().take() {
                    socket.close(code, &reason);
                }
            }
        }
    }

    /// Re-arms the single timer for the core's next deadline (if it changed).
    fn arm_timer(&self) {
        let next = self.core.borrow().poll_timeout();
        let mut timer = self.timer.borrow_mut();
        if timer.as_ref().map(|(at, _)| *at) == next {
            return;
        }
        *timer = next.map(|at| {
            let delay = at.as_millis().saturating_sub(now().as_millis()).min(u32::MAX as u64) as u32;
            let weak = self.weak.clone();
            let timeout = Timeout::new(delay, move || {
                if let Some(shell) = weak.upgrade() {
                    shell.timer.borrow_mut().take();
                    shell.with_core(|c| {
                        c.handle_clocks(now(), js_sys::Date::now() as u64);
                        c.handle_timeout(now());
                    });
                }
            });
            (at, timeout)
        });
    }

    /// Gets the credential for `epoch`: a string, or a function returning a string or a
    /// Promise of one. The value goes straight into the core's `auth` frame.
    fn fetch_credential(&self, epoch: u32) {
        let answer = match self.auth.dyn_ref::<Function>() {
            Some(f) => f.call0(&JsValue::UNDEFINED),
            None => Ok(self.auth.clone()),
        };
        let value = match answer {
            Ok(v) => v,
            Err(e) => return self.provide(epoch, Err(format!("the auth callback threw: {}", thrown_message(&e)))),
        };
        if let Some(text) = value.as_string() {
            return self.provide(epoch, Ok(text));
        }
        let weak = self.weak.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = match JsFuture::from(Promise::resolve(&value)).await {
                Ok(v) => v.as_string().ok_or_else(|| "the auth callback did not produce a string".to_string()),
                Err(e) => Err(format!("the auth callback rejected: {}", thrown_message(&e))),
            };
            if let Some(shell) = weak.upgrade() {
                shell.provide(epoch, result);
            }
        });
    }

    fn provide(&self, epoch: u32, credential: Result<String, String>) {
        self.with_core(|c| c.provide_credential(now(), epoch, credential));
    }

    fn listen(&self) {
        let Some(window) = web_sys::window() else { return };
        let online = {
            let weak = self.weak.clone();
            EventListener::new(&window, "online", move |_| wake(&weak, Wake::Online))
        };
        let mut listeners = vec![online];
        if let Some(document) = window.document() {
            let weak = self.weak.clone();
            let doc = document.clone();
            listeners.push(EventListener::new(&document, "visibilitychange", move |_| {
                if doc.visibility_state() == web_sys::VisibilityState::Visible {
                    wake(&weak, Wake::Visible);
                }
            }));
        }
        *self.listeners.borrow_mut() = listeners;
    }
}

fn wake(shell: &Weak<Shell>, why: Wake) {
    if let Some(shell) = shell.upgrade() {
        shell.with_core(|c| {
            c.handle_clocks(now(), js_sys::Date::now() as u64);
            c.handle_wake(now(), why);
        });
    }
}

/// Monotonic milliseconds (`performance.now()`), from the global scope so it also works
/// in a Worker.
pub(crate) fn now() -> Instant {
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok());
    let ms = performance.map_or_else(js_sys::Date::now, |p| p.now());
    Instant::from_millis(ms as u64)
}

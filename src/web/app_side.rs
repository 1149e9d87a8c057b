//! The app side of a client: what the page's code talks to. It owns the callbacks
//! ([`Dispatch`]), fetches the credential when the engine asks for it, chooses the ids of
//! subscriptions and requests, caches the connection state, and talks to the engine side
//! only in [`ToEngine`]/[`ToApp`] messages.

use std::cell::Cell;
use std::rc::{Rc, Weak};

use js_sys::{Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::dispatch::{request_error, Dispatch, Target};
use super::engine_side::{Driven, EngineSide, ToApp, ToEngine};
use super::errors::thrown_message;
use crate::core::connection::Connection;
use crate::core::lifecycle::ConnState;
use crate::core::outputs::{Output, SubId};
use crate::core::time::Duration;

pub(crate) struct AppSide<P: Driven> {
    weak: Weak<AppSide<P>>,
    engine: Rc<EngineSide<P>>,
    pub(crate) dispatch: Dispatch<P::Event>,
    auth: JsValue,
    state: Cell<ConnState>,
    last_sub: Cell<SubId>,
    last_call: Cell<u32>,
    closed: Cell<bool>,
}

impl<P: Driven> AppSide<P> {
    pub(crate) fn new(engine: Rc<EngineSide<P>>, dispatch: Dispatch<P::Event>, auth: JsValue) -> Rc<Self> {
        let state = engine.read(Connection::state);
        let app = Rc::new_cyclic(|weak: &Weak<AppSide<P>>| AppSide {
            weak: weak.clone(),
            engine,
            dispatch,
            auth,
            state: Cell::new(state),
            last_sub: Cell::new(0),
            last_call: Cell::new(0),
            closed: Cell::new(false),
        });
        let weak = Rc::downgrade(&app);
        app.engine.set_app(Box::new(move |output| {
            if let Some(app) = weak.upgrade() {
                app.receive(output);
            }
        }));
        app
    }

    /// The engine side, for getters that read the connection.
    pub(crate) fn engine(&self) -> &EngineSide<P> {
        &self.engine
    }

    /// The connection state, as of the last state change delivered.
    pub(crate) fn state(&self) -> ConnState {
        self.state.get()
    }

    /// Adds a subscription: its consumer first, then the intent that asks the engine.
    pub(crate) fn subscribe(&self, target: Target<P::Event>, intent: impl FnOnce(SubId) -> P::Intent) -> SubId {
        let id = self.last_sub.get() + 1;
        self.last_sub.set(id);
        self.dispatch.add_subscription(id, target);
        self.engine.post(ToEngine::Intent(intent(id)));
        id
    }

    /// Removes a subscription's callback and tells the engine.
    pub(crate) fn unsubscribe(&self, id: SubId, intent: P::Intent) {
        self.dispatch.remove_subscription(id);
        self.engine.post(ToEngine::Intent(intent));
    }

    /// Sends an app call; the promise settles with its decoded result or a
    /// `RunwatchRequestError`.
    pub(crate) fn call(&self, call: P::Call, timeout: Option<Duration>) -> Promise {
        let weak = self.weak.clone();
        Promise::new(&mut move |resolve, reject| {
            let Some(app) = weak.upgrade() else { return };
            let id = app.last_call.get() + 1;
            app.last_call.set(id);
            app.dispatch.add_reply(id, resolve, reject);
            app.engine.post(ToEngine::Call { id, call: call.clone(), timeout });
        })
    }

    /// Closes the connection; once the engine has done so and everything it reported on
    /// the way has been delivered, every callback is forgotten. From a callback, this
    /// happens after the current delivery. Idempotent.
    pub(crate) fn close(&self) {
        if !self.closed.replace(true) {
            self.engine.post(ToEngine::Close);
        }
    }

    fn receive(&self, message: ToApp<P::Event>) {
        match message {
            ToApp::Output(Output::NeedCredential { epoch }) => self.fetch_credential(epoch),
            ToApp::Output(Output::State(change)) => {
                self.state.set(change.new_state);
                self.dispatch.output(Output::State(change));
            }
            ToApp::Output(other) => self.dispatch.output(other),
            ToApp::Closed => self.dispatch.shutdown(),
            ToApp::Turn(open) => self.dispatch.turn(open),
        }
    }

    /// Gets the credential for `epoch`: a string, or a function returning a string or a
    /// Promise of one. The value goes straight to the engine's `auth` frame.
    fn fetch_credential(&self, epoch: u32) {
        let answer = match self.auth.dyn_ref::<Function>() {
            Some(f) => f.call0(&JsValue::UNDEFINED),
            None => Ok(self.auth.clone()),
        };
        let value = match answer {
            Ok(v) => v,
            Err(e) => return self.provide(epoch, Err(format!("the auth callback failed: {}", thrown_message(&e)))),
        };
        if let Some(text) = value.as_string() {
            return self.provide(epoch, Ok(text));
        }
        let weak = self.weak.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = match JsFuture::from(Promise::resolve(&value)).await {
                Ok(v) => v.as_string().ok_or_else(|| "the auth callback did not produce a string".to_string()),
                Err(e) => Err(format!("the auth callback failed: {}", thrown_message(&e))),
            };
            if let Some(app) = weak.upgrade() {
                app.provide(epoch, result);
            }
        });
    }

    fn provide(&self, epoch: u32, result: Result<String, String>) {
        self.engine.post(ToEngine::Credential { epoch, result });
    }
}

/// A promise already rejected with a request error (e.g. arguments that did not convert).
pub(crate) fn rejected(error: &crate::core::outputs::RequestError) -> Promise {
    Promise::reject(&request_error(error))
}

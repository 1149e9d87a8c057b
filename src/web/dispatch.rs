//! The app-facing side: subscription callbacks with batching, state and diagnostic
//! listeners, and request promises. Every app callback runs inside a try/catch; a throw
//! becomes a `callbackError` diagnostic and delivery goes on.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use js_sys::{Array, Function};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::errors::{js_error, thrown_message};
use super::options::BatchMode;
use crate::core::queue::{BoundedQueue, Overflow};
use crate::protocol::rocketride::outputs::{Delivered, Diagnostic, Output, RequestError};
use crate::protocol::rocketride::subscriptions::SubId;

/// How a request's result body is turned into a JS value.
pub(crate) type Decoder = fn(Option<&str>) -> Result<JsValue, RequestError>;

struct Pending {
    resolve: Function,
    reject: Function,
    decode: Decoder,
}

struct SubEntry {
    callback: Target,
    queue: BoundedQueue<Arc<Delivered>>,
}

/// Where a subscription's batches go.
#[derive(Clone)]
pub(crate) enum Target {
    /// An app callback, called with the batch as JS objects.
    Js(Function),
    /// A consumer inside the SDK (the task store): it takes the batch as it is, with no
    /// conversion, and returns what its own callbacks threw.
    Native(Rc<dyn Fn(&[Arc<Delivered>]) -> Vec<JsValue>>),
}

pub(crate) struct Dispatch {
    batch: BatchMode,
    max_batch: usize,
    subs: RefCell<BTreeMap<SubId, SubEntry>>,
    listeners: RefCell<Vec<(u32, Kind, Function)>>,
    next_listener: Cell<u32>,
    replies: RefCell<HashMap<u32, Pending>>,
    flush_scheduled: Rc<Cell<bool>>,
    /// Events dropped from full subscription buffers, for `stats()`.
    overflowed: Cell<u64>,
    /// Set by the owner so scheduled flushes can find their way back.
    flush: RefCell<Option<Closure<dyn FnMut(JsValue)>>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    State,
    Diagnostic,
}

impl Dispatch {
    pub(crate) fn new(batch: BatchMode, max_batch: usize) -> Self {
        Self {
            batch,
            max_batch: max_batch.max(1),
            subs: RefCell::new(BTreeMap::new()),
            listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(1),
            replies: RefCell::new(HashMap::new()),
            flush_scheduled: Rc::new(Cell::new(false)),
            overflowed: Cell::new(0),
            flush: RefCell::new(None),
        }
    }

    /// Installs the closure scheduled flushes call (it holds a weak ref to the owner).
    pub(crate) fn set_flush(&self, flush: Closure<dyn FnMut(JsValue)>) {
        *self.flush.borrow_mut() = Some(flush);
    }

    pub(crate) fn add_subscription(&self, id: SubId, callback: Function) {
        self.add_target(id, Target::Js(callback));
    }

    pub(crate) fn add_target(&self, id: SubId, callback: Target) {
        let queue = BoundedQueue::new(self.max_batch, Overflow::DropOldest);
        self.subs.borrow_mut().insert(id, SubEntry { callback, queue });
    }

    pub(crate) fn remove_subscription(&self, id: SubId) {
        self.subs.borrow_mut().remove(&id);
    }

    pub(crate) fn add_listener(&self, kind: Kind, callback: Function) -> u32 {
        let id = self.next_listener.get();
        self.next_listener.set(id + 1);
        self.listeners.borrow_mut().push((id, kind, callback));
        id
    }

    pub(crate) fn remove_listener(&self, id: u32) {
        self.listeners.borrow_mut().retain(|(i, _, _)| *i != id);
    }

    /// Events dropped from full subscription buffers so far.
    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.get()
    }

    pub(crate) fn add_reply(&self, id: u32, resolve: Function, reject: Function, decode: Decoder) {
        self.replies.borrow_mut().insert(id, Pending { resolve, reject, decode });
    }

    /// Handles one output of the core.
    pub(crate) fn output(&self, output: Output) {
        match output {
            Output::Deliver(d) => self.enqueue(d.subscriptions, d.event),
            Output::State(change) => {
                self.flush_now();
                self.notify(Kind::State, &to_js(&change));
            }
            Output::Diagnostic(d) => {
                self.flush_now();
                self.diagnose(&d);
            }
            Output::Reply { id, result } => self.settle(id, result),
            Output::NeedCredential { .. } => {}
        }
    }

    /// Delivers what is buffered, then forgets every callback.
    pub(crate) fn shutdown(&self) {
        self.flush_now();
        self.subs.borrow_mut().clear();
        self.listeners.borrow_mut().clear();
        self.flush.borrow_mut().take();
    }

    fn enqueue(&self, subs: Vec<SubId>, event: Arc<Delivered>) {
        let mut dropped = 0;
        {
            let mut map = self.subs.borrow_mut();
            for id in subs {
                if let Some(entry) = map.get_mut(&id) {
                    dropped += u64::from(entry.queue.push(event.clone()).is_some());
                }
            }
        }
        if dropped > 0 {
            self.overflowed.set(self.overflowed.get() + dropped);
            self.diagnose(&Diagnostic::Overflow { queue: "subscription batch".into(), dropped });
        }
        self.schedule();
    }

    fn schedule(&self) {
        if self.flush_scheduled.replace(true) {
            return;
        }
        let flush = self.flush.borrow();
        let Some(flush) = flush.as_ref() else { return };
        let hidden = web_sys::window().and_then(|w| w.document()).is_some_and(|d| d.hidden());
        let scheduled = match self.batch {
            BatchMode::Frame if !hidden => web_sys::window()
                .and_then(|w| w.request_animation_frame(flush.as_ref().unchecked_ref()).ok())
                .is_some(),
            _ => false,
        };
        if !scheduled {
            let _ = js_sys::Promise::resolve(&JsValue::UNDEFINED).then(flush);
        }
    }

    /// Calls each subscription's callback once with its buffered events, in id order.
    pub(crate) fn flush_now(&self) {
        self.flush_scheduled.set(false);
        let ids: Vec<SubId> = self.subs.borrow().keys().copied().collect();
        let mut converted: HashMap<*const Delivered, JsValue> = HashMap::new();
        for id in ids {
            let batch = {
                let mut map = self.subs.borrow_mut();
                let Some(entry) = map.get_mut(&id) else { continue };
                if entry.queue.is_empty() {
                    continue;
                }
                let events: Vec<Arc<Delivered>> = entry.queue.drain().collect();
                (entry.callback.clone(), events)
            };
            let (callback, events) = batch;
            let callback = match callback {
                Target::Js(f) => f,
                Target::Native(sink) => {
                    sink(&events).iter().for_each(|thrown| self.callback_threw(thrown));
                    continue;
                }
            };
            // One JS object per event, shared by every subscription it goes to.
            let array: Array = events
                .iter()
                .map(|e| converted.entry(Arc::as_ptr(e)).or_insert_with(|| to_js(e.as_ref())).clone())
                .collect();
            if let Err(thrown) = callback.call1(&JsValue::UNDEFINED, &array) {
                self.callback_threw(&thrown);
            }
        }
    }

    fn notify(&self, kind: Kind, value: &JsValue) {
        let targets: Vec<Function> = self.listeners.borrow().iter().filter(|(_, k, _)| *k == kind).map(|(_, _, f)| f.clone()).collect();
        for f in targets {
            if let Err(thrown) = f.call1(&JsValue::UNDEFINED, value) {
                if kind == Kind::Diagnostic {
                    // Reporting a throwing diagnostic listener to itself would loop.
                    web_sys::console::error_2(&"runwatch: onDiagnostic callback threw".into(), &thrown);
                } else {
                    self.callback_threw(&thrown);
                }
            }
        }
    }

    fn diagnose(&self, d: &Diagnostic) {
        self.notify(Kind::Diagnostic, &to_js(d));
    }

    fn callback_threw(&self, thrown: &JsValue) {
        self.diagnose(&Diagnostic::CallbackError { message: thrown_message(thrown) });
    }

    fn settle(&self, id: u32, result: Result<Option<String>, RequestError>) {
        let Some(p) = self.replies.borrow_mut().remove(&id) else { return };
        let outcome = result.and_then(|body| (p.decode)(body.as_deref()));
        let _ = match outcome {
            Ok(value) => p.resolve.call1(&JsValue::UNDEFINED, &value),
            Err(e) => p.reject.call1(&JsValue::UNDEFINED, &request_error(&e)),
        };
    }
}

/// Serialises a Rust value for JS through JSON text and `JSON.parse`.
///
/// Why not serde-wasm-bindgen: it builds objects with `obj[key] = value`, so a key named
/// `__proto__` in an untyped payload (SSE data, flow traces) would replace the nested
/// object's prototype instead of becoming data. `JSON.parse` always creates own data
/// properties, and one native parse beats a boundary call per field. A non-finite float
/// becomes `null`, which is how the typings declare the fields that can carry one.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    serde_json::to_string(value)
        .ok()
        .and_then(|text| js_sys::JSON::parse(&text).ok())
        .unwrap_or(JsValue::UNDEFINED)
}

/// A rejected request: an `Error` named `RunwatchRequestError` with `code` (and `trace`).
pub(crate) fn request_error(e: &RequestError) -> JsValue {
    // The `code` is the serde tag of the error, so it cannot drift from the TS type.
    let code = serde_json::to_value(e).ok().and_then(|v| v["code"].as_str().map(str::to_owned)).unwrap_or_default();
    let error = js_error("RunwatchRequestError", &code, &e.to_string());
    if let RequestError::Server { trace: Some(trace), .. } = e {
        let _ = js_sys::Reflect::set(&error, &"trace".into(), &to_js(trace));
    }
    error
}

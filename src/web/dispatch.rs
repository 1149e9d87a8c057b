//! Delivery on the app side: subscription callbacks with batching, state and diagnostic
//! listeners, and request promises, generic over the protocol's event type. Every app
//! callback runs inside a try/catch; a throw becomes a `callbackError` diagnostic and
//! delivery goes on. Outputs that arrive while a callback runs (because it called back
//! into the client) wait until the current delivery is done, so order is kept.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use js_sys::{Array, Function};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::engine_side::now;
use super::errors::{js_error, thrown_message};
use super::options::BatchMode;
use crate::core::queue::{BoundedQueue, Overflow};
use crate::core::outputs::{Delivered, Diagnostic, Output, RequestError, SubId};
use crate::core::pace::Pace;
use crate::core::sorted_map::SortedMap;
use crate::core::json_write::{self, to_json};

/// The distinct events of one flush that go to app callbacks, in order of first appearance.
/// An event that goes to several subscriptions becomes one JS object, shared by them.
struct Converted<E> {
    events: Vec<Arc<Delivered<E>>>,
    /// From the second batch on: each event's address and place in `events`, sorted. (A
    /// batch holds an event once, so the first needs no lookup; a sorted list of pairs
    /// uses the one sort the module has, where a hash map would add a table of its own.)
    index: Vec<(u64, usize)>,
    /// Batches added: with one, its array is handed over as it is.
    batches: usize,
}

impl<E> Default for Converted<E> {
    fn default() -> Self {
        Converted { events: Vec::new(), index: Vec::new(), batches: 0 }
    }
}

/// An event's address, which tells the events of a flush apart.
fn address<E>(event: &Arc<Delivered<E>>) -> u64 {
    Arc::as_ptr(event) as usize as u64
}

impl<E> Converted<E> {
    fn add(&mut self, batch: &[Arc<Delivered<E>>]) {
        self.batches += 1;
        if self.batches == 1 {
            self.events.extend(batch.iter().cloned());
            return;
        }
        if self.batches == 2 {
            self.index = self.events.iter().map(address).zip(0..).collect();
            self.index.sort_unstable();
        }
        let mut added = Vec::new();
        for event in batch {
            let address = address(event);
            if self.find(address).is_none() {
                added.push((address, self.events.len()));
                self.events.push(event.clone());
            }
        }
        self.index.extend(added);
        self.index.sort_unstable();
    }

    fn find(&self, address: u64) -> Option<usize> {
        self.index.binary_search_by_key(&address, |(a, _)| *a).ok().map(|at| self.index[at].1)
    }

    /// The place in `events` of `batch[at]`.
    fn place(&self, batch: &[Arc<Delivered<E>>], at: usize) -> usize {
        if self.batches == 1 {
            return at;
        }
        self.find(address(&batch[at])).expect("every event of a batch was added")
    }

    /// `batch` as a JS array of the converted objects (events that failed are left out).
    /// The usual flush — one subscription, nothing failed — hands over `all` itself.
    fn batch_of(&self, all: &Array, text: &Serialized, batch: &[Arc<Delivered<E>>]) -> Array {
        if self.whole(text, batch) {
            return all.clone();
        }
        let array = Array::new();
        for at in 0..batch.len() {
            let value = all.get(self.place(batch, at) as u32);
            if value.is_object() {
                array.push(&value);
            }
        }
        array
    }

    /// `batch` as the JSON text of an array (events that failed are left out); the usual
    /// flush hands over the whole text.
    fn text_of<'t>(&self, text: &'t Serialized, batch: &[Arc<Delivered<E>>]) -> Cow<'t, str> {
        if self.whole(text, batch) {
            return Cow::Borrowed(&text.text);
        }
        let mut out = String::with_capacity(text.text.len());
        out.push('[');
        for at in 0..batch.len() {
            if let Some(span) = &text.spans[self.place(batch, at)] {
                if out.len() > 1 {
                    out.push(',');
                }
                out.push_str(&text.text[span.clone()]);
            }
        }
        out.push(']');
        Cow::Owned(out)
    }

    /// Whether `batch` is every event of the flush, all converted.
    fn whole(&self, text: &Serialized, batch: &[Arc<Delivered<E>>]) -> bool {
        self.batches == 1 && text.complete && batch.len() == self.events.len()
    }
}

/// The events of one flush as the JSON text of one array, with each event's place in it
/// (`None` for one that could not be serialised and is `null` in the text).
struct Serialized {
    text: String,
    spans: Vec<Option<std::ops::Range<usize>>>,
    complete: bool,
}

thread_local! {
    /// The page's window and document, looked up once (a flush is scheduled many times a
    /// second; in a Worker the lookup throws and catches a `ReferenceError` each time).
    static WINDOW: Option<(web_sys::Window, Option<web_sys::Document>)> =
        web_sys::window().map(|w| { let d = w.document(); (w, d) });
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The global `queueMicrotask` (pages and Workers alike). Not `Promise.then`: no promise
    /// per flush, and the work runs as script the browser accounts for (a promise reaction's
    /// time is missing from Chrome's `ScriptDuration`).
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &Function);
}

/// The closure a scheduled flush calls.
type FlushClosure = Closure<dyn FnMut(JsValue)>;

struct Pending {
    resolve: Function,
    reject: Function,
}

struct SubEntry<E> {
    callback: Target<E>,
    queue: BoundedQueue<Arc<Delivered<E>>>,
}

/// Where a subscription's batches go.
pub(crate) enum Target<E> {
    /// An app callback, called with the batch as JS objects.
    Js(Function),
    /// A callback called with the batch as the JSON text of an array: Worker mode posts it
    /// to the page as it is, which parses it once (cheaper there than structured cloning).
    Text(Function),
    /// A consumer inside the SDK (the task store): it takes the batch as it is, with no
    /// conversion, and returns what its own callbacks threw.
    Native(NativeSink<E>),
}

/// A consumer of batches inside the SDK.
pub(crate) type NativeSink<E> = Rc<dyn Fn(&[Arc<Delivered<E>>]) -> Vec<JsValue>>;

impl<E> Clone for Target<E> {
    fn clone(&self) -> Self {
        match self {
            Target::Js(f) => Target::Js(f.clone()),
            Target::Text(f) => Target::Text(f.clone()),
            Target::Native(sink) => Target::Native(sink.clone()),
        }
    }
}

pub(crate) struct Dispatch<E> {
    batch: BatchMode,
    max_batch: usize,
    subs: RefCell<SortedMap<SubId, SubEntry<E>>>,
    listeners: RefCell<Vec<(u32, Kind, Function)>>,
    next_listener: Cell<u32>,
    replies: RefCell<SortedMap<u32, Pending>>,
    flush_scheduled: Rc<Cell<bool>>,
    /// The engine is handling a browser event (see `ToApp::Turn`), and whether a flush
    /// waits for it to end: the end of that task, where a microtask would have run it.
    turn: Cell<bool>,
    flush_at_turn_end: Cell<bool>,
    /// `batch: "task"`: how fast events come, and the timer of a flush that gathers a fast
    /// stream's events (see `schedule`).
    pace: Cell<Pace>,
    gather_timer: Cell<Option<i32>>,
    /// Events dropped from full subscription buffers, for `stats()`.
    overflowed: Cell<u64>,
    /// Set by the owner so scheduled flushes can find their way back.
    flush: RefCell<Option<FlushClosure>>,
    /// `batch: "task"`: the channel a fast stream's flush is posted through where it is not
    /// gathered (its receiving port calls `flush`). `None` where `MessageChannel` is missing:
    /// flushes then run on microtasks.
    channel: RefCell<Option<web_sys::MessageChannel>>,
    /// An app callback is running: outputs, flushes and shutdown wait in `later`.
    busy: Cell<bool>,
    later: RefCell<VecDeque<Later<E>>>,
    /// Shut down: callbacks given after that are not kept (they would never be called).
    shut: Cell<bool>,
}

/// Work that waits for the delivery under way.
enum Later<E> {
    Output(Output<E>),
    Flush,
    Shutdown,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    State,
    Diagnostic,
}

impl<E: Serialize> Dispatch<E> {
    pub(crate) fn new(batch: BatchMode, max_batch: usize) -> Self {
        Self {
            batch,
            max_batch: max_batch.max(1),
            subs: RefCell::new(SortedMap::new()),
            listeners: RefCell::new(Vec::new()),
            next_listener: Cell::new(1),
            replies: RefCell::new(SortedMap::new()),
            flush_scheduled: Rc::new(Cell::new(false)),
            turn: Cell::new(false),
            flush_at_turn_end: Cell::new(false),
            pace: Cell::new(Pace::default()),
            gather_timer: Cell::new(None),
            overflowed: Cell::new(0),
            flush: RefCell::new(None),
            channel: RefCell::new(None),
            busy: Cell::new(false),
            later: RefCell::new(VecDeque::new()),
            shut: Cell::new(false),
        }
    }

    /// Installs the closure scheduled flushes call (it holds a weak ref to the owner).
    pub(crate) fn set_flush(&self, flush: FlushClosure) {
        if self.batch == BatchMode::Task {
            if let Ok(channel) = web_sys::MessageChannel::new() {
                channel.port1().set_onmessage(Some(flush.as_ref().unchecked_ref()));
                *self.channel.borrow_mut() = Some(channel);
            }
        }
        *self.flush.borrow_mut() = Some(flush);
    }

    pub(crate) fn add_subscription(&self, id: SubId, callback: Target<E>) {
        if self.shut.get() {
            return;
        }
        let queue = BoundedQueue::new(self.max_batch, Overflow::DropOldest);
        self.subs.borrow_mut().insert(id, SubEntry { callback, queue });
    }

    pub(crate) fn remove_subscription(&self, id: SubId) {
        self.subs.borrow_mut().remove(&id);
    }

    pub(crate) fn add_listener(&self, kind: Kind, callback: Function) -> u32 {
        let id = self.next_listener.get();
        self.next_listener.set(id + 1);
        if !self.shut.get() {
            self.listeners.borrow_mut().push((id, kind, callback));
        }
        id
    }

    pub(crate) fn remove_listener(&self, id: u32) {
        self.listeners.borrow_mut().retain(|(i, _, _)| *i != id);
    }

    /// Events dropped from full subscription buffers so far.
    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.get()
    }

    pub(crate) fn add_reply(&self, id: u32, resolve: Function, reject: Function) {
        self.replies.borrow_mut().insert(id, Pending { resolve, reject });
    }

    /// Handles one output of the engine, after whatever delivery is under way.
    pub(crate) fn output(&self, output: Output<E>) {
        self.run(Later::Output(output));
    }

    /// Does `work` now, or after the delivery under way (it called back into the client),
    /// then everything that arrived meanwhile, in order.
    fn run(&self, work: Later<E>) {
        self.later.borrow_mut().push_back(work);
        if self.busy.replace(true) {
            return;
        }
        loop {
            let next = self.later.borrow_mut().pop_front();
            match next {
                Some(Later::Output(output)) => self.handle(output),
                Some(Later::Flush) => self.flush_batches(),
                Some(Later::Shutdown) => self.shut_down(),
                None => break,
            }
        }
        self.busy.set(false);
    }

    fn handle(&self, output: Output<E>) {
        match output {
            Output::Deliver(d) => self.enqueue(d.subscriptions, d.event),
            Output::State(change) => {
                self.flush_batches();
                if let Some(change) = self.convert("a state change", &change) {
                    self.notify(Kind::State, &change);
                }
            }
            Output::Diagnostic(d) => {
                self.flush_batches();
                self.diagnose(&d);
            }
            Output::Reply { id, result } => {
                // Events that came before the reply reach their callbacks first.
                self.flush_batches();
                self.settle(id, result);
            }
            Output::NeedCredential { .. } => {}
        }
    }

    /// Delivers what is buffered, then forgets every callback (after the delivery under
    /// way, when called from a callback).
    pub(crate) fn shutdown(&self) {
        self.run(Later::Shutdown);
    }

    fn shut_down(&self) {
        self.shut.set(true);
        self.flush_batches();
        self.subs.borrow_mut().clear();
        self.listeners.borrow_mut().clear();
        // The flush closure stays until the dispatch is dropped: this may run inside it.
        close_channel(self.channel.borrow_mut().take());
    }

    fn enqueue(&self, subs: Vec<SubId>, event: Arc<Delivered<E>>) {
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
        if self.batch == BatchMode::Task {
            let mut pace = self.pace.get();
            pace.note(now);
            self.pace.set(pace);
        }
        self.schedule();
    }

    fn schedule(&self) {
        if self.flush_scheduled.replace(true) {
            return;
        }
        let flush = self.flush.borrow();
        let Some(flush) = flush.as_ref() else { return };
        let scheduled = match self.batch {
            // A quiet stream's events go at the end of the task they came in (see below):
            // nothing would share their batch, and a task of its own would cost more. A fast
            // stream's are gathered (see `gather`) or, where timers may be held back, wait
            // for the channel's task, behind the frames already queued.
            BatchMode::Task => self.pace.get().is_fast() && (self.gather(flush) || self.post_to_channel()),
            BatchMode::Frame => on_visible_page(|window| window.request_animation_frame(flush.as_ref().unchecked_ref()).is_ok()),
            BatchMode::Microtask => false,
        };
        // Unscheduled, a flush goes where a microtask would run it: as the engine finishes
        // the browser event it is handling (a socket message: no `queueMicrotask` and no
        // microtask call per quiet event), or on a microtask after the app's own call,
        // which must return before any callback.
        if !scheduled {
            if self.turn.get() {
                self.flush_at_turn_end.set(true);
            } else {
                queue_microtask(flush.as_ref().unchecked_ref());
            }
        }
    }

    /// The engine starts (`true`) or is done with (`false`) a browser event. At its end, a
    /// flush that waited for it goes (after the delivery under way, if a callback caused
    /// the event's handling).
    pub(crate) fn turn(&self, open: bool) {
        self.turn.set(open);
        if !open && self.flush_at_turn_end.replace(false) {
            self.flush_now();
        }
    }

    /// `batch: "task"` on a fast stream (thousands of events a second): the flush waits
    /// [`GATHER_MS`] on a timer, so the events of that moment share one batch and its fixed
    /// cost instead of paying it one by one. Not on a hidden page (whose timers the browser
    /// may hold back for a second) or in a Worker. Whether it was scheduled.
    fn gather(&self, flush: &FlushClosure) -> bool {
        on_visible_page(|window| {
            let timer = window.set_timeout_with_callback_and_timeout_and_arguments_0(flush.as_ref().unchecked_ref(), GATHER_MS).ok();
            self.gather_timer.set(timer);
            timer.is_some()
        })
    }

    /// `batch: "task"` on a fast stream where it is not gathered: the flush is posted to the
    /// channel, whose task runs after the socket's frames that are already queued (browsers
    /// do not throttle it in hidden pages). Whether it was posted.
    fn post_to_channel(&self) -> bool {
        self.channel.borrow().as_ref().is_some_and(|c| c.port2().post_message(&JsValue::UNDEFINED).is_ok())
    }

    /// Calls each subscription's callback once with its buffered events, in id order.
    pub(crate) fn flush_now(&self) {
        self.run(Later::Flush);
    }

    fn flush_batches(&self) {
        self.flush_scheduled.set(false);
        cancel_timer(self.gather_timer.take());
        let ids: Vec<SubId> = self.subs.borrow().keys().copied().collect();
        let mut batches = Vec::new();
        for id in ids {
            let mut map = self.subs.borrow_mut();
            let Some(entry) = map.get_mut(&id) else { continue };
            if !entry.queue.is_empty() {
                batches.push((entry.callback.clone(), entry.queue.drain().collect::<Vec<_>>()));
            }
        }
        let mut js = Converted::default();
        for (callback, events) in &batches {
            if !matches!(callback, Target::Native(_)) {
                js.add(events);
            }
        }
        let text = self.serialize_all(&js);
        let objects = batches.iter().any(|(callback, _)| matches!(callback, Target::Js(_)));
        let all = if objects { self.parse_all(&text) } else { Array::new() };
        for (callback, events) in batches {
            let delivered = match callback {
                Target::Native(sink) => {
                    sink(&events).iter().for_each(|thrown| self.callback_threw(thrown));
                    continue;
                }
                Target::Js(f) => f.call1(&JsValue::UNDEFINED, &js.batch_of(&all, &text, &events)),
                Target::Text(f) => f.call1(&JsValue::UNDEFINED, &JsValue::from_str(&js.text_of(&text, &events))),
            };
            if let Err(thrown) = delivered {
                self.callback_threw(&thrown);
            }
        }
    }

    /// Every event of a flush serialised once, into one JSON array. An event that cannot be
    /// serialised is reported (`serializeError`) and left out (`null` in the array).
    fn serialize_all(&self, js: &Converted<E>) -> Serialized
    where
        E: Serialize,
    {
        // A flush for the SDK's own consumers alone (a task store) converts nothing.
        if js.events.is_empty() {
            return Serialized { text: String::new(), spans: Vec::new(), complete: true };
        }
        let mut text = Vec::with_capacity(512 * js.events.len() + 2);
        let mut spans = Vec::with_capacity(js.events.len());
        text.push(b'[');
        for (i, event) in js.events.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            let start = text.len();
            match json_write::write(&mut text, event.as_ref()) {
                Ok(()) => spans.push(Some(start..text.len())),
                Err(e) => {
                    text.truncate(start);
                    text.extend_from_slice(b"null");
                    spans.push(None);
                    self.diagnose(&Diagnostic::SerializeError { what: "an event".into(), reason: e.to_string() });
                }
            }
        }
        text.push(b']');
        let complete = spans.iter().all(Option::is_some);
        // SAFETY: the SDK's writer (core::json_write) writes only valid UTF-8 (`to_json`
        // relies on the same), and a failed event's partial text was cut off at its start. Checking the text
        // again cost a pass over every byte of every batch.
        Serialized { text: unsafe { String::from_utf8_unchecked(text) }, spans, complete }
    }

    /// The serialised events as JS objects, from one `JSON.parse`: the boundary is crossed
    /// once per flush, not once per event.
    fn parse_all(&self, text: &Serialized) -> Array {
        match js_sys::JSON::parse(&text.text) {
            Ok(all) => all.unchecked_into(),
            Err(_) => {
                self.diagnose(&Diagnostic::SerializeError { what: "a batch of events".into(), reason: "JSON.parse refused the serialised batch".into() });
                Array::new()
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
        match to_js(d) {
            Ok(d) => self.notify(Kind::Diagnostic, &d),
            // Reporting a diagnostic that cannot be converted as a diagnostic would loop.
            Err(reason) => web_sys::console::error_1(&format!("runwatch: a diagnostic could not be converted: {reason}").into()),
        }
    }

    /// Converts a value for the app; a failure is reported (`serializeError`) and skipped.
    fn convert<T: Serialize + ?Sized>(&self, what: &str, value: &T) -> Option<JsValue> {
        to_js(value).map_err(|reason| self.diagnose(&Diagnostic::SerializeError { what: what.into(), reason })).ok()
    }

    fn callback_threw(&self, thrown: &JsValue) {
        self.diagnose(&Diagnostic::CallbackError { message: thrown_message(thrown) });
    }

    fn settle(&self, id: u32, result: Result<Option<String>, RequestError>) {
        let Some(p) = self.replies.borrow_mut().remove(&id) else { return };
        let outcome = result.and_then(|body| parse(body.as_deref()));
        let _ = match outcome {
            Ok(value) => p.resolve.call1(&JsValue::UNDEFINED, &value),
            Err(e) => p.reject.call1(&JsValue::UNDEFINED, &request_error(&e)),
        };
    }
}

impl<E> Drop for Dispatch<E> {
    fn drop(&mut self) {
        close_channel(self.channel.get_mut().take());
        cancel_timer(self.gather_timer.take());
    }
}

/// `schedule(window)` on a page whose document is visible; `false` (nothing scheduled) in a
/// Worker, which has no window, or on a hidden page, where the browser pauses animation frames
/// and may hold timers back for a second.
fn on_visible_page(schedule: impl FnOnce(&web_sys::Window) -> bool) -> bool {
    WINDOW.with(|window| {
        window.as_ref().is_some_and(|(window, document)| !document.as_ref().is_some_and(|d| d.hidden()) && schedule(window))
    })
}

/// How long `batch: "task"` gathers a fast stream's events before a flush, in ms: a
/// quarter of a frame (16 ms), and at 10,000 events a second about forty events a batch.
/// A batch's fixed cost (the timer's task, one text decode, one `JSON.parse`, one callback)
/// is about 20 µs; 1 ms paid it for every ~10 events. Measured with `node bench/run.mjs
/// --quick --clients A,C`, three alternating pairs: C's script time at 10k/s 14.3-15.4
/// µs/event (2.31-2.39× A's) against 15.5-16.8 (2.53-2.77×) at 1 ms, at 5k/s 18.4-20.0
/// against 20.1-22.4; flat-out and quiet streams unchanged; p50 latency at 10k/s 2.9-3.0 ms
/// against 1.4-1.5 ms (a quiet stream's, the latency goal's 2k/s, does not wait).
const GATHER_MS: i32 = 4;

/// Clears a gathering flush's timer (a no-op once it has fired).
fn cancel_timer(timer: Option<i32>) {
    if let Some(timer) = timer {
        WINDOW.with(|window| {
            if let Some((window, _)) = window {
                window.clear_timeout_with_handle(timer);
            }
        });
    }
}

/// Detaches and closes a flush channel: an open port would keep a Node process alive, and
/// a flush posted before the dispatch was dropped must not call a dropped closure.
fn close_channel(channel: Option<web_sys::MessageChannel>) {
    if let Some(channel) = channel {
        channel.port1().set_onmessage(None);
        channel.port1().close();
        channel.port2().close();
    }
}

/// A result's JSON text as a JS value (`undefined` for none); `JSON.parse` makes a
/// `__proto__` key an own property, never a prototype.
fn parse(body: Option<&str>) -> Result<JsValue, RequestError> {
    match body {
        None => Ok(JsValue::UNDEFINED),
        Some(text) => js_sys::JSON::parse(text).map_err(|_| RequestError::BadResponse { message: "the response body is not valid JSON".into() }),
    }
}

/// Serialises a Rust value for JS through JSON text and `JSON.parse`.
///
/// Why not serde-wasm-bindgen: it builds objects with `obj[key] = value`, so a key named
/// `__proto__` in an untyped payload (SSE data, flow traces) would replace the nested
/// object's prototype instead of becoming data. `JSON.parse` always creates own data
/// properties, and one native parse beats a boundary call per field. A non-finite float
/// becomes `null`, which is how the typings declare the fields that can carry one.
/// A failure (which the SDK's own types should never cause) is returned, never turned into
/// `undefined`: delivery paths report it as a `serializeError` diagnostic, getters throw.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, String> {
    let text = to_json(value).map_err(|e| e.to_string())?;
    js_sys::JSON::parse(&text).map_err(|_| "JSON.parse refused the serialised value".to_string())
}

/// [`to_js`] for a getter: a failure throws an `Error` that says what could not be read.
pub(crate) fn to_js_or_throw<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<JsValue, JsValue> {
    to_js(value).map_err(|reason| js_sys::Error::new(&format!("runwatch could not convert {what}: {reason}")).into())
}

/// A rejected request: an `Error` named `RunwatchRequestError` with `code` (and `trace`).
pub(crate) fn request_error(e: &RequestError) -> JsValue {
    // Every field of the serialised variant (`code`, `message`, `timeoutMs`, `trace`), so the
    // thrown value is exactly the exported `RunwatchRequestError` type.
    let error = js_error("RunwatchRequestError", "", &e.to_string());
    if let Ok(fields) = to_js(e) {
        let _: js_sys::Object = js_sys::Object::assign(error.unchecked_ref(), fields.unchecked_ref());
    }
    error
}

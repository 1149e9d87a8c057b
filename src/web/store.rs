//! The `TaskStore` class: the task store (`protocol::rocketride::store`) fed by one
//! subscription of a client, read through `getSnapshot()` and `subscribe()` in the shape
//! React's `useSyncExternalStore` expects. No store logic lives here: this file converts
//! snapshots for JavaScript, keeps the listeners and wires the store to the client.
//!
//! The store sits on the app-facing side of the shell: it consumes deliveries (which could
//! cross a `postMessage` boundary in a Worker mode) without converting them to JS objects.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use js_sys::{Array, Object, Reflect};
use tsify::Tsify;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::dispatch::{to_js_or_throw, Kind, Target};
use super::errors::usage_error;
use super::js_read::{self, positive, uint};
use super::keyed::Keyed;
use super::listeners::Listeners;
use super::app_side::AppSide;
use super::options::{check_types, parse_scope, parse_types};
use crate::core::id_map::IdMap;
use crate::core::lifecycle::ConnState;
use crate::protocol::rocketride::client::{Intent, RocketRide};
use crate::protocol::rocketride::monitor_types::MonitorTypes;
use crate::protocol::rocketride::outputs::{Delivered, Diagnostic, Output};
use crate::protocol::rocketride::scope::Scope;
use crate::protocol::rocketride::store::{StoreConfig, TaskStore as Core};
use crate::protocol::rocketride::subscriptions::SubId;

/// Options of `client.tasks(scope, options)`. Unknown keys are an error.
#[derive(Tsify, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskStoreOptions {
    /// Event types the store subscribes to. Default: TASK, SUMMARY, FLOW, OUTPUT, DETAIL
    /// and SSE. SUMMARY (statuses, with `startTime`) tells runs apart; TASK brings the
    /// `running` seed that reports runs which ended while the client was offline.
    #[serde(default)]
    #[tsify(optional, type = "MonitorTypesArg")]
    pub types: JsValue,
    /// Runs kept at most; the runs that ended longest ago are evicted first (default 200;
    /// at least 1: a store always keeps the run it is on).
    #[tsify(optional)]
    pub max_runs: Option<u32>,
    /// Output lines kept per run (default 200).
    #[tsify(optional)]
    pub max_output_lines: Option<u32>,
    /// Errors kept per run (default 50).
    #[tsify(optional)]
    pub max_errors: Option<u32>,
    /// Warnings kept per run (default 50).
    #[tsify(optional)]
    pub max_warnings: Option<u32>,
}

const OPTION_NAMES: &[&str] = &["types", "maxRuns", "maxOutputLines", "maxErrors", "maxWarnings"];

impl TaskStoreOptions {
    /// Reads the options object (its names already checked).
    fn from_js(o: &JsValue) -> Result<Self, String> {
        Ok(TaskStoreOptions {
            types: js_read::field(o, "types"),
            max_runs: positive(o, "maxRuns")?,
            max_output_lines: uint(o, "maxOutputLines")?,
            max_errors: uint(o, "maxErrors")?,
            max_warnings: uint(o, "maxWarnings")?,
        })
    }
}

/// The default types of a store.
fn default_types() -> MonitorTypes {
    MonitorTypes::TASK | MonitorTypes::SUMMARY | MonitorTypes::FLOW | MonitorTypes::OUTPUT | MonitorTypes::DETAIL | MonitorTypes::SSE
}

/// A live, bounded view of the task runs in one scope, kept up to date from the client's
/// events, seeded on subscribe and re-seeded after every reconnect. Create it with
/// `client.tasks(scope?, options?)`.
///
/// Runs of the same pipeline share a `taskId` (tokens are deterministic); each run is its
/// own entry, told apart by `startTime`. `getSnapshot()` returns an immutable (frozen)
/// object that stays the same object until something changed, and `subscribe(listener)`
/// calls the listener at most once per delivery batch, so React can read it directly:
///
/// ```ts
/// const store = client.tasks({ projectId, source: "*" });
/// const snap = useSyncExternalStore(store.subscribe, store.getSnapshot);
/// ```
///
/// `getSnapshot` and `subscribe` are bound functions: pass them around freely. The store
/// stays alive while its client is open, until `close()` (or `free()`, or leaving a
/// `using` block); dropping every reference to it does not stop it.
///
/// The package entry makes `getSnapshot` and `subscribe` (pkg/index.js) over `__snapshot`,
/// `__listen` and `__unlisten`, and frees the store when it is closed: they keep working
/// from the last snapshot JavaScript holds, and nothing of a closed store is left for a
/// finalizer (which, run while the page is in the back/forward cache, gets it evicted).
#[wasm_bindgen]
pub struct TaskStore {
    inner: Rc<Inner>,
}

#[wasm_bindgen(typescript_custom_section)]
const TASK_STORE_FUNCTIONS: &str = r#"
export interface TaskStore {
    /**
     * Returns the current snapshot `{ version, runs }`: the same (frozen) object until the
     * content changes; an unchanged run keeps its object from one snapshot to the next.
     * A bound function: `useSyncExternalStore(store.subscribe, store.getSnapshot)`. After
     * `close()` it returns the last snapshot.
     */
    readonly getSnapshot: () => TaskSnapshot;
    /**
     * Calls `listener` (no arguments) after every delivery batch that changed the store,
     * at most once per batch (and once when a reconnect marks runs stale). Returns a
     * function that removes it (safe to call twice). A bound function, like `getSnapshot`.
     * A listener that throws is reported as a `callbackError` diagnostic.
     */
    readonly subscribe: (listener: () => void) => () => void;
}
"#;

struct Inner {
    store: RefCell<Core>,
    listeners: Listeners,
    view: RefCell<View>,
    app: Weak<AppSide<RocketRide>>,
    sub: Cell<SubId>,
    /// The function listening to the client's diagnostics (`keyed`), and its listener id.
    resync_listener: Cell<Option<(Keyed, u32)>>,
    closed: Cell<bool>,
}


/// The JS side of the latest snapshot: the object handed out, and each run's object with
/// the run version it shows, so an unchanged run keeps its object.
#[derive(Default)]
struct View {
    version: Option<u64>,
    snapshot: JsValue,
    runs: IdMap<(u64, JsValue)>,
}

impl TaskStore {
    /// Subscribes a new store to `scope` on the client of `app`.
    pub(crate) fn open(app: &Rc<AppSide<RocketRide>>, scope: Option<JsValue>, options: Option<JsValue>) -> Result<TaskStore, JsValue> {
        let (scope, types, config) = parse_store_args(scope, options)?;
        let inner = Rc::new(Inner {
            store: RefCell::new(Core::new(config)),
            listeners: Listeners::default(),
            view: RefCell::new(View::default()),
            app: Rc::downgrade(app),
            sub: Cell::new(0),
            resync_listener: Cell::new(None),
            closed: Cell::new(false),
        });
        let feed = inner.clone();
        let target = Target::Native(Rc::new(move |batch: &[Arc<Delivered>]| feed.feed(batch)));
        inner.sub.set(app.subscribe(target, |id| Intent::Subscribe { id, scope, types }));
        let weak = Rc::downgrade(&inner);
        let listener = Keyed::new(move |d| {
            if let Some(inner) = weak.upgrade() {
                inner.on_diagnostic(&d);
            }
            Ok(JsValue::UNDEFINED)
        });
        let id = app.dispatch.add_listener(Kind::Diagnostic, listener.function().clone());
        inner.resync_listener.set(Some((listener, id)));
        Ok(TaskStore { inner })
    }
}

#[wasm_bindgen]
impl TaskStore {
    /// The current snapshot (the entry's `getSnapshot`).
    #[wasm_bindgen(js_name = "__snapshot", skip_typescript)]
    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        self.inner.snapshot()
    }

    /// Adds a listener; its id, for `__unlisten` (the entry's `subscribe`).
    #[wasm_bindgen(js_name = "__listen", skip_typescript)]
    pub fn listen(&self, listener: JsValue) -> Result<u32, JsValue> {
        self.inner.listeners.listen(listener, !self.inner.closed.get())
    }

    /// Removes listener `id` (again: nothing).
    #[wasm_bindgen(js_name = "__unlisten", skip_typescript)]
    pub fn unlisten(&self, id: u32) {
        self.inner.listeners.remove(id);
    }

    /// Counters: events applied, duplicates ignored, runs created and evicted, lines
    /// dropped by the bounds, reconnects noticed. Reading them never changes the snapshot.
    #[wasm_bindgen(unchecked_return_type = "StoreStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        to_js_or_throw("the store stats", self.inner.store.borrow().stats())
    }

    /// True after `close()` (or once the client closed: the store then keeps its last
    /// snapshot but never changes again).
    #[wasm_bindgen(getter)]
    pub fn closed(&self) -> bool {
        let client_closed = self.inner.app.upgrade().is_none_or(|app| app.state() == ConnState::Closed);
        self.inner.closed.get() || client_closed
    }

    /// Stops the store: its subscription ends and its listeners are removed. The last
    /// snapshot stays readable. Idempotent; `free()` and `[Symbol.dispose]` do the same.
    pub fn close(&self) {
        self.inner.close();
    }
}

impl Drop for TaskStore {
    fn drop(&mut self) {
        self.inner.close();
    }
}

impl Inner {
    /// One delivery batch of the store's subscription.
    fn feed(&self, batch: &[Arc<Delivered>]) -> Vec<JsValue> {
        if self.closed.get() {
            return Vec::new();
        }
        let changed = self.store.borrow_mut().apply_batch(now(), batch.iter().map(|d| &**d));
        if changed {
            self.notify()
        } else {
            Vec::new()
        }
    }

    /// A `resync` diagnostic: runs not heard of on the new connection become stale. A
    /// `reseeded` one: the tasks it lists in `ended` ended while the client was offline.
    fn on_diagnostic(&self, d: &JsValue) {
        let kind = Reflect::get(d, &"kind".into()).ok().and_then(|k| k.as_string());
        if self.closed.get() || !matches!(kind.as_deref(), Some("resync" | "reseeded")) {
            return;
        }
        let Some(epoch) = Reflect::get(d, &"epoch".into()).ok().and_then(|e| e.as_f64()) else { return };
        let ended: Vec<String> = Reflect::get(d, &"ended".into())
            .ok()
            .filter(Array::is_array)
            .map(|a| Array::from(&a).iter().filter_map(|id| id.as_string()).collect())
            .unwrap_or_default();
        let changed = {
            let mut store = self.store.borrow_mut();
            let mut changed = kind.as_deref() == Some("resync") && store.mark_resync(now(), epoch as u32);
            for task_id in &ended {
                changed |= store.mark_ended_offline(now(), task_id);
            }
            changed
        };
        if !changed {
            return;
        }
        let thrown = self.notify();
        if let Some(app) = self.app.upgrade() {
            for t in thrown {
                let message = super::errors::thrown_message(&t);
                app.dispatch.output(Output::Diagnostic(Box::new(Diagnostic::CallbackError { message })));
            }
        }
    }

    /// Calls every listener once; returns what they threw.
    fn notify(&self) -> Vec<JsValue> {
        self.listeners.notify()
    }

    /// The JS snapshot of the current version, built only when the version moved.
    fn snapshot(&self) -> Result<JsValue, JsValue> {
        let version = self.store.borrow().version();
        {
            let view = self.view.borrow();
            if view.version == Some(version) {
                return Ok(view.snapshot.clone());
            }
        }
        let snap = self.store.borrow_mut().snapshot();
        let mut view = self.view.borrow_mut();
        // The snapshot lists its runs in ascending id order, as an IdMap takes them.
        let mut runs = IdMap::default();
        let array = Array::new();
        for run in &snap.runs {
            let js = match view.runs.get(&run.run_id) {
                Some((v, js)) if *v == run.version => js.clone(),
                _ => frozen(to_js_or_throw("a task run", &**run)?),
            };
            array.push(&js);
            runs.insert(run.run_id, (run.version, js));
        }
        let object = Object::new();
        // Fixed keys on a fresh object: plain data properties.
        let _ = Reflect::set(&object, &"version".into(), &JsValue::from_f64(snap.version as f64));
        let _ = Reflect::set(&object, &"runs".into(), &frozen(array.into()));
        let object = frozen(object.into());
        *view = View { version: Some(version), snapshot: object.clone(), runs };
        Ok(object)
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.listeners.clear();
        // Dropped, the listener's function does nothing more.
        let listener = self.resync_listener.take();
        if let Some(app) = self.app.upgrade() {
            if let Some((_, id)) = listener {
                app.dispatch.remove_listener(id);
            }
            let id = self.sub.get();
            app.unsubscribe(id, Intent::Unsubscribe { id });
        }
    }
}

fn frozen(value: JsValue) -> JsValue {
    if let Some(object) = value.dyn_ref::<Object>() {
        Object::freeze(object);
    }
    value
}

/// The store's clock: wall-clock milliseconds, so `updatedAt`/`endedAt` read as dates.
fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// `client.tasks(scope?, options?)`'s arguments, checked: what the store subscribes to and
/// its bounds. Throws what `tasks()` throws.
pub(crate) fn parse_store_args(scope: Option<JsValue>, options: Option<JsValue>) -> Result<(Scope, MonitorTypes, StoreConfig), JsValue> {
    let given = |v: Option<JsValue>| v.filter(|v| !v.is_null_or_undefined());
    let scope = match given(scope) {
        Some(scope) => parse_scope(scope)?,
        None => Scope::All,
    };
    let options = match given(options) {
        Some(o) => {
            js_read::known_keys_only(&o, OPTION_NAMES, "options").map_err(|e| usage_error("invalidOptions", &e))?;
            TaskStoreOptions::from_js(&o).map_err(|e| usage_error("invalidOptions", &e))?
        }
        None => TaskStoreOptions::default(),
    };
    let types = if options.types.is_undefined() { default_types() } else { parse_types(options.types.clone())? };
    check_types(&scope, types)?;
    let d = StoreConfig::default();
    let limit = |v: Option<u32>, default: usize| v.map_or(default, |v| v as usize);
    let config = StoreConfig {
        max_runs: limit(options.max_runs, d.max_runs),
        max_output_lines: limit(options.max_output_lines, d.max_output_lines),
        max_errors: limit(options.max_errors, d.max_errors),
        max_warnings: limit(options.max_warnings, d.max_warnings),
        max_pipes: d.max_pipes,
    };
    Ok((scope, types, config))
}


//! The turns and runs stores of a `FleetRlmClient`: `{ getSnapshot, subscribe }` objects in
//! the shape React's `useSyncExternalStore` wants. No store logic lives here (the plug-in's
//! `Turns` and `RunStore` assemble them); this file converts snapshots for JavaScript,
//! keeps an unchanged item's object from one snapshot to the next, and calls listeners at
//! most once per delivery batch that changed the content.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use js_sys::{Array, Function, Object, Reflect};
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::super::app_side::AppSide;
use super::super::dispatch::to_js_or_throw;
use super::super::engine_side::Driven;
use super::super::listeners::{Listeners, Removers};
use crate::core::connection::Connection;
use crate::protocol::fleet_rlm::runs::{Run, RunsSnapshot};
use crate::protocol::fleet_rlm::turns::{Turn, TurnsSnapshot};

/// A snapshot made of items that keep their `Arc` while unchanged.
pub(crate) trait Listed {
    type Item: Serialize;
    /// The name of the list in the JS snapshot (`turns`, `runs`).
    const LIST: &'static str;
    fn version(&self) -> u64;
    fn items(&self) -> &[Arc<Self::Item>];
    fn key(item: &Self::Item) -> u64;
}

impl Listed for TurnsSnapshot {
    type Item = Turn;
    const LIST: &'static str = "turns";
    fn version(&self) -> u64 {
        self.version
    }
    fn items(&self) -> &[Arc<Turn>] {
        &self.turns
    }
    fn key(item: &Turn) -> u64 {
        item.turn_id
    }
}

impl Listed for RunsSnapshot {
    type Item = Run;
    const LIST: &'static str = "runs";
    fn version(&self) -> u64 {
        self.version
    }
    fn items(&self) -> &[Arc<Run>] {
        &self.runs
    }
    fn key(item: &Run) -> u64 {
        item.run_key
    }
}

/// One store: reads its snapshots from the connection of `app`.
pub(crate) struct Store<P: Driven, S: Listed> {
    app: Weak<AppSide<P>>,
    version: fn(&Connection<P>) -> u64,
    snapshot: fn(&mut Connection<P>) -> Arc<S>,
    listeners: Rc<Listeners>,
    removers: Removers,
    /// The version the listeners last heard of.
    notified: Cell<u64>,
    view: RefCell<View<S::Item>>,
    closed: Cell<bool>,
}

/// The JS side of the latest snapshot: the object handed out, and each item's object with
/// the `Arc` it shows (held, so comparing pointers is sound).
struct View<I> {
    version: Option<u64>,
    snapshot: JsValue,
    items: HashMap<u64, (Arc<I>, JsValue)>,
}

impl<P: Driven, S: Listed + 'static> Store<P, S> {
    pub(crate) fn new(app: &Rc<AppSide<P>>, version: fn(&Connection<P>) -> u64, snapshot: fn(&mut Connection<P>) -> Arc<S>) -> Rc<Self> {
        let listeners = Rc::new(Listeners::default());
        let weak = Rc::downgrade(&listeners);
        let removers = Removers::new(move |id| {
            if let Some(listeners) = weak.upgrade() {
                listeners.remove(id);
            }
        });
        Rc::new(Store {
            app: Rc::downgrade(app),
            version,
            snapshot,
            listeners,
            removers,
            notified: Cell::new(0),
            view: RefCell::new(View { version: None, snapshot: JsValue::UNDEFINED, items: HashMap::new() }),
            closed: Cell::new(false),
        })
    }

    /// The frozen `{ getSnapshot, subscribe }` object apps use; both are bound functions.
    pub(crate) fn js_object(self: &Rc<Self>) -> JsValue {
        let reader = self.clone();
        let get_snapshot: Function =
            Closure::<dyn Fn() -> Result<JsValue, JsValue>>::new(move || reader.snapshot()).into_js_value().unchecked_into();
        let registrar = Rc::downgrade(self);
        let subscribe: Function = Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(move |listener: JsValue| {
            match registrar.upgrade() {
                Some(store) => store.add_listener(listener),
                None => Ok(Closure::<dyn Fn()>::new(|| {}).into_js_value()),
            }
        })
        .into_js_value()
        .unchecked_into();
        let object = Object::new();
        let _ = Reflect::set(&object, &"getSnapshot".into(), &get_snapshot);
        let _ = Reflect::set(&object, &"subscribe".into(), &subscribe);
        Object::freeze(&object);
        object.into()
    }

    /// Calls every listener once if the content changed since they last heard; returns
    /// what they threw.
    pub(crate) fn notify_if_changed(&self) -> Vec<JsValue> {
        if self.closed.get() {
            return Vec::new();
        }
        let Some(app) = self.app.upgrade() else { return Vec::new() };
        let version = app.engine().read(self.version);
        if version == self.notified.replace(version) {
            return Vec::new();
        }
        self.listeners.notify()
    }

    /// Forgets every listener; the last snapshot stays readable.
    pub(crate) fn close(&self) {
        self.closed.set(true);
        self.listeners.clear();
    }

    fn add_listener(&self, listener: JsValue) -> Result<JsValue, JsValue> {
        let id = self.listeners.listen(listener, !self.closed.get())?;
        Ok(self.removers.remover(id))
    }

    /// The JS snapshot of the current version, built only when the version moved.
    fn snapshot(&self) -> Result<JsValue, JsValue> {
        let app = self.app.upgrade().filter(|_| !self.closed.get());
        let current = app.as_ref().map(|app| app.engine().read(self.version));
        {
            let view = self.view.borrow();
            if view.version.is_some() && (current.is_none() || view.version == current) {
                return Ok(view.snapshot.clone());
            }
        }
        let snap = match &app {
            Some(app) => app.engine().read_mut(self.snapshot),
            None => return self.empty(),
        };
        let mut view = self.view.borrow_mut();
        let mut items = HashMap::with_capacity(snap.items().len());
        let array = Array::new();
        for item in snap.items() {
            let key = S::key(item);
            let js = match view.items.get(&key) {
                Some((held, js)) if Arc::ptr_eq(held, item) => js.clone(),
                _ => frozen(to_js_or_throw(S::LIST, &**item)?),
            };
            array.push(&js);
            items.insert(key, (item.clone(), js));
        }
        let object = Object::new();
        let _ = Reflect::set(&object, &"version".into(), &JsValue::from_f64(snap.version() as f64));
        let _ = Reflect::set(&object, &S::LIST.into(), &frozen(array.into()));
        let object = frozen(object.into());
        *view = View { version: Some(snap.version()), snapshot: object.clone(), items };
        Ok(object)
    }

    /// The snapshot of a store whose client is gone before it was ever read.
    fn empty(&self) -> Result<JsValue, JsValue> {
        let mut view = self.view.borrow_mut();
        if view.version.is_none() {
            let object = Object::new();
            let _ = Reflect::set(&object, &"version".into(), &JsValue::from_f64(0.0));
            let _ = Reflect::set(&object, &S::LIST.into(), &frozen(Array::new().into()));
            view.snapshot = frozen(object.into());
            view.version = Some(0);
        }
        Ok(view.snapshot.clone())
    }
}

fn frozen(value: JsValue) -> JsValue {
    if let Some(object) = value.dyn_ref::<Object>() {
        Object::freeze(object);
    }
    value
}

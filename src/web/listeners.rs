//! The listeners of a store's `subscribe(listener)`, in the shape React's
//! `useSyncExternalStore` expects: each call gets an id, and its remover (made by the store,
//! with `Removers`, or by the package entry) removes that id any number of times. Shared by
//! every protocol's stores.

use std::cell::{Cell, RefCell};

use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue};

use super::errors::usage_error;
use super::keyed::{self, Keyed};

type List = RefCell<Vec<(u32, Function)>>;

#[derive(Default)]
pub(crate) struct Listeners {
    list: List,
    next: Cell<u32>,
}

impl Listeners {
    /// Adds `listener` and returns its id, for `remove`. A store that no longer changes
    /// (`accepting` false: closed) keeps no listener, but still takes one.
    pub(crate) fn listen(&self, listener: JsValue, accepting: bool) -> Result<u32, JsValue> {
        let listener: Function = listener.dyn_into().map_err(|_| usage_error("invalidListener", "subscribe(listener) needs a function"))?;
        let id = self.next.get() + 1;
        self.next.set(id);
        if accepting {
            self.list.borrow_mut().push((id, listener));
        }
        Ok(id)
    }

    /// Removes listener `id` (any number of times).
    pub(crate) fn remove(&self, id: u32) {
        self.list.borrow_mut().retain(|(i, _)| *i != id);
    }

    /// Calls every listener (those added meanwhile wait for the next change); returns what
    /// they threw.
    pub(crate) fn notify(&self) -> Vec<JsValue> {
        let listeners: Vec<Function> = self.list.borrow().iter().map(|(_, f)| f.clone()).collect();
        listeners.iter().filter_map(|f| f.call0(&JsValue::UNDEFINED).err()).collect()
    }

    pub(crate) fn clear(&self) {
        self.list.borrow_mut().clear();
    }
}

/// The removers an owner (a client, a store) hands the app: each its owner's one `remove`
/// function (`keyed`, so with nothing to finalize) with the listener's id bound. Called
/// after the owner is gone, a remover does nothing.
pub(crate) struct Removers(Keyed);

impl Removers {
    pub(crate) fn new(remove: impl Fn(u32) + 'static) -> Self {
        Removers(Keyed::new(move |id| {
            remove(id.as_f64().unwrap_or_default() as u32);
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// A function that removes `id` when called (any number of times).
    pub(crate) fn remover(&self, id: u32) -> JsValue {
        keyed::bind(self.0.function(), id).into()
    }
}

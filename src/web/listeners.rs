//! The listeners of a store's `subscribe(listener)`, in the shape React's
//! `useSyncExternalStore` expects: each call gets an id, and its remover (made by the store,
//! with `Removers`, or by the package entry) removes that id any number of times. Shared by
//! every protocol's stores.

use std::cell::{Cell, RefCell};

use js_sys::Function;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::errors::usage_error;

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

/// The removers an owner (a client, a store) hands the app: each a bound function over the
/// owner's one `remove(id)`, not a wasm-bindgen closure of its own. wasm-bindgen frees a
/// closure the app lets go in a FinalizationRegistry callback; when a garbage collection
/// runs that callback while the page is in the back/forward cache, it is script in a frozen
/// page, and Chromium evicts the page (`JavaScriptExecution`): Back then reloads it. A bound
/// function has nothing to finalize. The owner's `remove` goes with the owner.
pub(crate) struct Removers(Function);

impl Removers {
    pub(crate) fn new(remove: impl Fn(u32) + 'static) -> Self {
        Removers(Closure::<dyn Fn(u32)>::new(remove).into_js_value().unchecked_into())
    }

    /// A function that removes `id` when called (any number of times).
    pub(crate) fn remover(&self, id: u32) -> JsValue {
        self.0.bind1(&JsValue::NULL, &JsValue::from(id)).into()
    }
}

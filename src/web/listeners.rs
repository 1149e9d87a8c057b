//! The listeners of a store's `subscribe(listener)`, in the shape React's
//! `useSyncExternalStore` expects: each call returns its own remover, which may be called
//! any number of times. Shared by every protocol's stores.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Function;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::errors::usage_error;

type List = Rc<RefCell<Vec<(u32, Function)>>>;

#[derive(Default)]
pub(crate) struct Listeners {
    list: List,
    next: Cell<u32>,
}

impl Listeners {
    /// Adds `listener` and returns its remover. A store that no longer changes (`accepting`
    /// false: closed) keeps no listener, but still hands out a working remover.
    pub(crate) fn add(&self, listener: JsValue, accepting: bool) -> Result<JsValue, JsValue> {
        let listener: Function = listener.dyn_into().map_err(|_| usage_error("invalidListener", "subscribe(listener) needs a function"))?;
        let id = self.next.get() + 1;
        self.next.set(id);
        if accepting {
            self.list.borrow_mut().push((id, listener));
        }
        let list = Rc::downgrade(&self.list);
        Ok(Closure::<dyn Fn()>::new(move || {
            if let Some(list) = list.upgrade() {
                list.borrow_mut().retain(|(i, _)| *i != id);
            }
        })
        .into_js_value())
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

//! JavaScript functions with nothing for a finalizer to do. wasm-bindgen frees a closure
//! handed to JavaScript in a FinalizationRegistry callback once it is collected; when a
//! garbage collection runs that callback while the page is in the back/forward cache, it is
//! script in a frozen page, and Chromium evicts the page (`JavaScriptExecution`): Back then
//! reloads it. A function made here is a bound function over one module-wide function,
//! which calls the Rust closure registered under the bound key while its `Keyed` lives;
//! after that, calling it does nothing.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Function;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

type Body = Rc<dyn Fn(JsValue) -> Result<JsValue, JsValue>>;

thread_local! {
    static BODIES: RefCell<Vec<(u32, Body)>> = const { RefCell::new(Vec::new()) };
    static NEXT: Cell<u32> = const { Cell::new(0) };
    static CALL: Function = Closure::<dyn Fn(u32, JsValue) -> Result<JsValue, JsValue>>::new(|key: u32, argument: JsValue| {
        // Cloned out first: the body may register or forget functions.
        let body = BODIES.with_borrow(|bodies| bodies.iter().find(|(k, _)| *k == key).map(|(_, body)| body.clone()));
        body.map_or(Ok(JsValue::UNDEFINED), |body| body(argument))
    })
    .into_js_value()
    .unchecked_into();
}

/// A registered body and its function; dropping it unregisters the body (the function then
/// does nothing).
pub(crate) struct Keyed {
    key: u32,
    function: Function,
}

impl Keyed {
    /// Registers `body`: the function calls it with its first argument.
    pub(crate) fn new(body: impl Fn(JsValue) -> Result<JsValue, JsValue> + 'static) -> Self {
        let key = NEXT.with(|next| {
            next.set(next.get().wrapping_add(1));
            next.get()
        });
        BODIES.with_borrow_mut(|bodies| bodies.push((key, Rc::new(body))));
        Keyed { key, function: bind(&CALL.with(Function::clone), key) }
    }

    pub(crate) fn function(&self) -> &Function {
        &self.function
    }
}

impl Drop for Keyed {
    fn drop(&mut self) {
        BODIES.with_borrow_mut(|bodies| bodies.retain(|(k, _)| *k != self.key));
    }
}

/// `f` with `argument` bound as its first argument.
pub(crate) fn bind(f: &Function, argument: u32) -> Function {
    JsValue::from(f.bind1(&JsValue::NULL, &JsValue::from(argument))).unchecked_into()
}

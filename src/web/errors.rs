//! JS errors with a stable `name` and a string `code`, so apps can branch on them.

use wasm_bindgen::prelude::*;

// What is thrown, typed from `UsageErrorCode` and `RequestError`: a request's rejection is an `Error` carrying
// every field of its `RequestError` variant (`code`, `message`, `timeoutMs`, `trace`), so
// `switch (e.code)` narrows it like the union.
#[wasm_bindgen(typescript_custom_section)]
const ERRORS_TS: &'static str = r#"
/** Thrown synchronously for a bad argument; recoverable by fixing the call. */
export type RunwatchError = Error & { name: "RunwatchError"; code: UsageErrorCode };
/** What a request's promise rejects with: an `Error` carrying its `RequestError` fields. */
export type RunwatchRequestError = Error & { name: "RunwatchRequestError" } & RequestError;
"#;

/// Thrown synchronously for bad arguments (`code` says which).
pub(crate) fn usage_error(code: &str, message: &str) -> JsValue {
    js_error("RunwatchError", code, message)
}

/// An `Error` with `name` and `code` set.
pub(crate) fn js_error(name: &str, code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name(name);
    // Setting a property on a fresh Error cannot fail.
    let _ = js_sys::Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

/// The `message` of whatever a callback threw.
pub(crate) fn thrown_message(thrown: &JsValue) -> String {
    if let Some(error) = thrown.dyn_ref_error() {
        return String::from(error.message());
    }
    thrown.as_string().unwrap_or_else(|| "a non-Error value was thrown".into())
}

trait DynRefError {
    fn dyn_ref_error(&self) -> Option<&js_sys::Error>;
}

impl DynRefError for JsValue {
    fn dyn_ref_error(&self) -> Option<&js_sys::Error> {
        wasm_bindgen::JsCast::dyn_ref::<js_sys::Error>(self)
    }
}

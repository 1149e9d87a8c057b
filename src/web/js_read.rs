//! The app's option objects and arguments, read field by field from plain JS values.
//!
//! serde-wasm-bindgen did this before; for a handful of small objects it brought about
//! 20 KB gzip into the module (its deserializer, serde's visitors for every option type and
//! their error formatting). `undefined` and `null` read as absent, as they did there, and a
//! value of the wrong type is refused with the option's name.

use wasm_bindgen::{JsCast, JsValue};

use super::errors::thrown_message;
use crate::core::json_read;

/// `object[key]` (`undefined` when `object` is not an object or the read throws).
pub(crate) fn field(object: &JsValue, key: &str) -> JsValue {
    if !object.is_object() {
        return JsValue::UNDEFINED;
    }
    js_sys::Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `object[key]`, or `None` when it is `undefined` or `null`.
pub(crate) fn given(object: &JsValue, key: &str) -> Option<JsValue> {
    Some(field(object, key)).filter(|v| !v.is_null_or_undefined())
}

/// Refuses `object` when it is not a plain object or has a key not in `known` (a typo
/// would otherwise silently mean "default"). `what` names it in the error: `"options"`,
/// `` "`reconnect`" ``, `"the message"`.
pub(crate) fn known_keys_only(object: &JsValue, known: &[&str], what: &str) -> Result<(), String> {
    if !is_plain(object) {
        return Err(format!("{what} must be an object"));
    }
    for key in js_sys::Object::keys(object.unchecked_ref::<js_sys::Object>()).iter().filter_map(|k| k.as_string()) {
        if !known.contains(&key.as_str()) {
            let name = if what == "options" { format!("option `{key}`") } else { format!("key `{key}` in {what}") };
            return Err(format!("unknown {name}; expected one of {}", known.join(", ")));
        }
    }
    Ok(())
}

/// An optional string option.
pub(crate) fn string(object: &JsValue, key: &str) -> Result<Option<String>, String> {
    given(object, key).map(|v| v.as_string().ok_or_else(|| wrong(key, "a string", &v))).transpose()
}

/// A string option that must be given.
pub(crate) fn required_string(object: &JsValue, key: &str) -> Result<String, String> {
    string(object, key)?.ok_or_else(|| format!("missing option `{key}`"))
}

/// An optional boolean option.
pub(crate) fn boolean(object: &JsValue, key: &str) -> Result<Option<bool>, String> {
    given(object, key).map(|v| v.as_bool().ok_or_else(|| wrong(key, "true or false", &v))).transpose()
}

/// An optional whole number from 0 to 4294967295.
pub(crate) fn uint(object: &JsValue, key: &str) -> Result<Option<u32>, String> {
    whole(object, key, 0.0, "a whole number from 0 to 4294967295")
}

/// An optional whole number from 1 to 4294967295: a timeout, an interval or a limit that 0
/// would turn against the client (every connect timed out, every frame oversized, a ping in
/// every task), refused rather than taken.
pub(crate) fn positive(object: &JsValue, key: &str) -> Result<Option<u32>, String> {
    whole(object, key, 1.0, "a whole number from 1 to 4294967295")
}

fn whole(object: &JsValue, key: &str, min: f64, expected: &str) -> Result<Option<u32>, String> {
    given(object, key)
        .map(|v| match v.as_f64() {
            Some(n) if n.fract() == 0.0 && (min..=f64::from(u32::MAX)).contains(&n) => Ok(n as u32),
            _ => Err(wrong(key, expected, &v)),
        })
        .transpose()
}

/// An optional option whose value is one of `names` (the same index in `values`).
pub(crate) fn one_of<T: Copy>(object: &JsValue, key: &str, names: &[&str], values: &[T]) -> Result<Option<T>, String> {
    given(object, key)
        .map(|v| {
            let at = v.as_string().and_then(|s| names.iter().position(|n| *n == s));
            // A string is not echoed (it could be a credential in the wrong place): it is
            // "another string" than those, rather than "not a string".
            let got = if v.is_string() { "another string".to_string() } else { describe(&v) };
            at.map(|i| values[i]).ok_or_else(|| format!("`{key}` must be one of \"{}\", not {got}", names.join("\", \"")))
        })
        .transpose()
}

/// An optional array of strings.
pub(crate) fn strings(object: &JsValue, key: &str) -> Result<Option<Vec<String>>, String> {
    given(object, key).map(|v| string_array(&v).ok_or_else(|| wrong(key, "an array of strings", &v))).transpose()
}

/// `value`'s items when it is an array of strings only.
pub(crate) fn string_array(value: &JsValue) -> Option<Vec<String>> {
    value.dyn_ref::<js_sys::Array>()?.iter().map(|s| s.as_string()).collect()
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/pkg/json-args.js")]
extern "C" {
    /// `JSON.stringify` that throws a TypeError naming the member that is a Map or a Set:
    /// it would send one as `{}`, so the server would get no environment or options and the
    /// app no word. `undefined` for a value with no JSON form. pkg/json-args.js, shared with
    /// runwatch/worker, whose page side stringifies the arguments before they cross.
    #[wasm_bindgen(js_name = argsText, catch)]
    fn args_text(args: &JsValue) -> Result<JsValue, JsValue>;
}

/// A value as what `JSON.stringify` makes of it (what goes on the wire is JSON: `toJSON`
/// is honoured, `undefined` members are left out), read back as `T` by the SDK's own
/// reader. A Map or a Set in it is an error: `JSON.stringify` would send it as `{}`.
pub(crate) fn json<T: for<'a> json_read::Decode<'a>>(value: &JsValue) -> Result<T, String> {
    let text = args_text(value)
        .map_err(|e| format!("the arguments are not JSON: {}", thrown_message(&e)))?
        .as_string()
        .ok_or_else(|| "the arguments are not JSON".to_string())?;
    json_read::from_str(&text).map_err(|e| format!("invalid arguments: {}", json_read::describe(&text, &e)))
}

/// An optional object option, as it is.
pub(crate) fn object(object: &JsValue, key: &str) -> Result<Option<JsValue>, String> {
    given(object, key).map(|v| if is_plain(&v) { Ok(v) } else { Err(wrong(key, "an object", &v)) }).transpose()
}

/// Whether `value` is an object and not an array or a function.
pub(crate) fn is_plain(value: &JsValue) -> bool {
    value.is_object() && !js_sys::Array::is_array(value) && !value.is_function()
}

/// The error for option `key` holding `got` where `expected` was due.
fn wrong(key: &str, expected: &str, got: &JsValue) -> String {
    format!("`{key}` must be {expected}, not {}", describe(got))
}

/// What a value is, for an error (a number as JavaScript writes it; never a string's text,
/// which may be a credential).
pub(crate) fn describe(value: &JsValue) -> String {
    if value.as_f64().is_some() {
        let text = value.unchecked_ref::<js_sys::Number>().to_string_with_radix(10).map(String::from).unwrap_or_default();
        return format!("the number {text}");
    }
    let kind = if value.is_string() {
        "a string"
    } else if value.as_bool().is_some() {
        "a boolean"
    } else if js_sys::Array::is_array(value) {
        "an array"
    } else if value.is_function() {
        "a function"
    } else if value.is_object() {
        "an object"
    } else {
        "a value of another type"
    };
    kind.into()
}

//! Ordered JSON text building.
//!
//! The real server serialises Python dicts in insertion order (spec §2.2, Starlette
//! `send_json`), with `__id` appended last (`build_event`, spec §2.1). `serde_json::Map`
//! sorts keys unless `preserve_order` is enabled workspace-wide, so bodies are built as
//! text instead: derived structs keep field order, and [`Obj`] appends fields in order.

use serde::Serialize;

/// An ordered JSON object under construction, kept as text.
#[derive(Debug, Clone)]
pub struct Obj {
    buf: String,
    empty: bool,
}

impl Default for Obj {
    fn default() -> Self {
        Self::new()
    }
}

impl Obj {
    /// An empty object.
    pub fn new() -> Self {
        Obj { buf: String::from("{"), empty: true }
    }

    /// Starts from a value that serialises to a JSON object (e.g. a derived struct),
    /// keeping its field order so more fields can be appended after it.
    pub fn from_struct<T: Serialize>(value: &T) -> Self {
        let mut text = to_text(value);
        debug_assert!(text.starts_with('{') && text.ends_with('}'));
        text.pop();
        let empty = text == "{";
        Obj { buf: text, empty }
    }

    /// Appends `key: value`.
    pub fn set<T: Serialize + ?Sized>(self, key: &str, value: &T) -> Self {
        let text = to_text(value);
        self.raw(key, &text)
    }

    /// Appends `key: <raw JSON text>` verbatim (the text is not validated).
    pub fn raw(mut self, key: &str, raw: &str) -> Self {
        if !self.empty {
            self.buf.push(',');
        }
        self.buf.push_str(&to_text(key));
        self.buf.push(':');
        self.buf.push_str(raw);
        self.empty = false;
        self
    }

    /// Appends `key: value` only when `value` is `Some`.
    pub fn set_opt<T: Serialize>(self, key: &str, value: Option<&T>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    /// Finishes the object and returns its JSON text.
    pub fn done(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// Serialises a value to compact JSON text (`separators=(',',':')` like the server).
pub fn to_text<T: Serialize + ?Sized>(value: &T) -> String {
    // Serialising plain data types into a String cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

/// Joins already-serialised JSON texts into an array.
pub fn array_of(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Zed {
        z: u8,
        a: u8,
    }

    #[test]
    fn keeps_insertion_order_and_appends_after_struct_fields() {
        let text = Obj::from_struct(&Zed { z: 1, a: 2 }).set("__id", "x").done();
        assert_eq!(text, r#"{"z":1,"a":2,"__id":"x"}"#);
    }

    #[test]
    fn appends_to_empty_objects_without_leading_comma() {
        assert_eq!(Obj::new().set("b", &1).set("a", &2).done(), r#"{"b":1,"a":2}"#);
        assert_eq!(Obj::from_struct(&serde_json::json!({})).set("k", "v").done(), r#"{"k":"v"}"#);
        assert_eq!(Obj::new().done(), "{}");
    }
}

//! JSON leniency the RocketRide server needs (spec §2.4, §8.4).
//!
//! The server serialises with Python's `json.dumps`, which writes a non-finite float as a
//! bare `NaN`, `Infinity` or `-Infinity` token. serde_json rejects those, so frames are
//! passed through [`sanitize_non_finite`] first, which turns them into `null`, and float
//! fields read `null` back as `NaN` through [`Lenient`]. JavaScript receives such a
//! value as `null` (the web shell hands events over as JSON), so those fields are typed
//! `number | null` there.

use std::borrow::Cow;
use crate::core::sorted_map::SortedMap;

use serde::Serialize;
use serde_json::value::RawValue;
use tsify::Tsify;

use crate::core::json_read::{self, fill, Decode, Reader};

const NAN: &[u8] = b"NaN";
const INFINITY: &[u8] = b"Infinity";
const NEG_INFINITY: &[u8] = b"-Infinity";
const NULL: &[u8] = b"null";

/// Rewrites bare `NaN`, `Infinity` and `-Infinity` tokens outside strings to `null`.
///
/// Returns the input unchanged (borrowed, no copy) when no such token is present, which
/// is the case for almost every frame. String contents are never touched, escaped quotes
/// included, so a log line that says "NaN" stays as it was.
pub fn sanitize_non_finite(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !may_contain_non_finite(bytes) {
        return Cow::Borrowed(bytes);
    }
    match rewrite_tokens(bytes) {
        Some(rewritten) => Cow::Owned(rewritten),
        None => Cow::Borrowed(bytes),
    }
}

/// The fast path: one pass looking for the two token spellings anywhere (memchr skips a
/// word at a time to the next `N` or `I`, which few frames hold).
fn may_contain_non_finite(bytes: &[u8]) -> bool {
    memchr::memchr2_iter(b'N', b'I', bytes).any(|i| bytes[i..].starts_with(NAN) || bytes[i..].starts_with(INFINITY))
}

/// Walks the JSON, tracking whether we are inside a string, and copies it with the
/// tokens replaced. `None` when every occurrence was inside a string.
fn rewrite_tokens(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // bytes[..copied] are already in `out`
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1, // skip the escaped byte, which may be a quote
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let token_len = non_finite_token_at(&bytes[i..]);
        if token_len == 0 {
            i += 1;
            continue;
        }
        let buf = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
        buf.extend_from_slice(&bytes[copied..i]);
        buf.extend_from_slice(NULL);
        i += token_len;
        copied = i;
    }
    out.map(|mut buf| {
        buf.extend_from_slice(&bytes[copied..]);
        buf
    })
}

/// Length of the non-finite token starting here, or 0.
fn non_finite_token_at(rest: &[u8]) -> usize {
    [NAN, INFINITY, NEG_INFINITY].into_iter().find(|token| rest.starts_with(token)).map_or(0, <[u8]>::len)
}

/// A float that reads `null` as `NaN`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Lenient(pub f64);

/// The float a [`Lenient`] field read (a plain function, so a slot's type is inferred).
pub fn lenient(value: Lenient) -> f64 {
    value.0
}

impl<'a> Decode<'a> for Lenient {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        Ok(Lenient(Option::<f64>::decode(r)?.unwrap_or(f64::NAN)))
    }
}

/// A JSON object of [`Lenient`] floats, read straight into plain ones: no map of
/// `Lenient`s is built first (each map type costs the module its own hash table code).
#[derive(Debug, Default)]
pub struct LenientMap(pub SortedMap<String, f64>);

/// The map a [`LenientMap`] field read.
pub fn lenient_map(value: LenientMap) -> SortedMap<String, f64> {
    value.0
}

impl<'a> Decode<'a> for LenientMap {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        let mut map = SortedMap::new();
        json_read::read_map(r, |key, value: Lenient| {
            map.insert(key, value.0);
        })?;
        Ok(LenientMap(map))
    }
}

/// A value the server may leave out (or send as `null`); it then decodes as
/// `T::default()`: an empty list, an empty map. Always present in what the SDK hands you.
//
// Why a type and not `#[serde(default)]`: tsify 0.5.8 marks every defaulted field optional
// (`?:`) in the generated TypeScript, although it is always serialised. A missing field is
// this type's `Decode::missing`, the default, so the field stays required in TypeScript and
// lenient on the wire.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(transparent)]
pub struct OrDefault<T>(pub T);

impl<'a, T: Decode<'a> + Default> Decode<'a> for OrDefault<T> {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        Ok(OrDefault(Option::<T>::decode(r)?.unwrap_or_default()))
    }

    fn missing() -> Option<Self> {
        Some(OrDefault::default())
    }
}

impl<T> std::ops::Deref for OrDefault<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Top-level body fields a type does not declare, kept as raw JSON text in wire order, so a
/// field a newer server adds is readable without a new SDK (`ev.extra?.newField`).
///
/// Filled while the typed fields are read, in the same single pass (a decoder hands each
/// key it does not declare to [`Extra::keep`]), with no copy of
/// the known fields. Empty for almost every frame of the spec's server; then it costs one
/// empty `Vec` and is left out of what JavaScript sees (absent, like every absent value).
#[derive(Debug, Clone, Default)]
pub struct Extra(pub Vec<(String, Box<RawValue>)>);

impl Extra {
    /// Reads the value of `key`, a key its object does not declare: skipped when `ignore`
    /// lists it (a tag, an envelope key, a duplicate), else kept here (its value's text as
    /// sent, see `json_read`'s `Box<RawValue>`).
    pub fn keep<'a>(&mut self, r: &mut Reader<'a>, key: Cow<'a, str>, ignore: &[&str]) -> json_read::Result<()> {
        if ignore.contains(&key.as_ref()) {
            return r.raw().map(drop);
        }
        let value = Box::<RawValue>::decode(r)?;
        self.0.push((key.into_owned(), value));
        Ok(())
    }

    /// True when the body had no undeclared field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The raw JSON of an undeclared field.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }
}

// `RawValue` has no `PartialEq`; compare the text.
impl PartialEq for Extra {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).all(|((ka, va), (kb, vb))| ka == kb && va.get() == vb.get())
    }
}

impl Serialize for Extra {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// What every task event's body ends with besides its own fields: the newer servers'
/// stamps and the undeclared fields ([`Extra`]), gathered while the body is read.
#[derive(Default)]
pub struct Tail {
    pub event_time: Option<Option<f64>>,
    pub log_seq: Option<Option<u64>>,
    pub extra: Extra,
}

impl Tail {
    /// Reads the value of a key the body type does not declare: a stamp, a key in
    /// `ignore` (skipped), or an undeclared field (kept as text).
    pub fn other<'a>(&mut self, r: &mut Reader<'a>, key: Cow<'a, str>, ignore: &[&str]) -> json_read::Result<()> {
        match key.as_ref() {
            "eventTime" => fill(r, &mut self.event_time, "eventTime"),
            "logSeq" => fill(r, &mut self.log_seq, "logSeq"),
            _ => self.extra.keep(r, key, ignore),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sanitized(s: &str) -> String {
        String::from_utf8(sanitize_non_finite(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn finite_json_is_borrowed_unchanged() {
        let s = br#"{"a":1.5,"b":"Not running","c":[true,null]}"#;
        assert!(matches!(sanitize_non_finite(s), Cow::Borrowed(b) if b == s));
    }

    #[test]
    fn tokens_outside_strings_become_null() {
        assert_eq!(sanitized(r#"{"a":NaN,"b":Infinity,"c":-Infinity}"#), r#"{"a":null,"b":null,"c":null}"#);
        assert_eq!(sanitized("[NaN, [ -Infinity ,{\"x\":[Infinity]}]]"), "[null, [ null ,{\"x\":[null]}]]");
    }

    #[test]
    fn tokens_inside_strings_are_untouched_and_borrowed() {
        let s = br#"{"NaN":"Infinity -Infinity NaN"}"#;
        assert!(matches!(sanitize_non_finite(s), Cow::Borrowed(_)));
    }

    #[test]
    fn escaped_quotes_do_not_end_the_string() {
        let s = r#"{"m":"say \"NaN\" \\","v":NaN,"w":"\\\"Infinity"}"#;
        assert_eq!(sanitized(s), r#"{"m":"say \"NaN\" \\","v":null,"w":"\\\"Infinity"}"#);
    }

    #[test]
    fn sanitized_output_parses() {
        let v: serde_json::Value = serde_json::from_str(&sanitized(r#"{"m":{"cpu":NaN,"x":[1,-Infinity]}}"#)).unwrap();
        assert_eq!(v["m"]["cpu"], serde_json::Value::Null);
        assert_eq!(v["m"]["x"][1], serde_json::Value::Null);
    }

    #[test]
    fn lenient_reads_null_as_nan_in_maps_too() {
        let text = sanitized(r#"{"a":NaN,"b":2.5}"#);
        assert!(json_read::from_str::<Lenient>(&sanitized("NaN")).unwrap().0.is_nan());
        let m: std::collections::HashMap<String, Lenient> = json_read::from_str(&text).unwrap();
        assert!(m["a"].0.is_nan());
        assert_eq!(m["b"], Lenient(2.5));
        assert!(lenient(json_read::from_str::<Lenient>("null").unwrap()).is_nan());
    }

    /// `{"list": …}` read into an `OrDefault` field.
    fn defaulted(text: &str) -> json_read::Result<OrDefault<Vec<String>>> {
        json_read::read_all(text, |r| {
            json_read::read_fields!(r, "struct Defaulted", { list: "list" });
            json_read::need(r, list, "list")
        })
    }

    #[test]
    fn or_default_fills_missing_and_null_but_keeps_values() {
        assert!(defaulted("{}").unwrap().is_empty());
        assert!(defaulted(r#"{"list":null}"#).unwrap().is_empty());
        assert_eq!(defaulted(r#"{"list":["a"]}"#).unwrap().0, vec!["a"]);
        assert!(defaulted(r#"{"list":3}"#).is_err());
    }

    fn finite_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            // strings made to contain the tokens, quotes and backslashes
            "(NaN|Infinity|-Infinity|\"|\\\\|[a-zA-Z ]){0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map("(NaN|Infinity|[a-z]){0,6}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn sanitize_never_changes_valid_finite_json(value in finite_json()) {
            let text = serde_json::to_string(&value).unwrap();
            let out = sanitize_non_finite(text.as_bytes());
            prop_assert_eq!(out.as_ref(), text.as_bytes());
        }
    }
}

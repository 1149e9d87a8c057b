//! A serde `Serializer` that writes compact JSON text: every event, reply and diagnostic
//! the SDK hands to JavaScript, and every request it sends, goes through it ([`write()`],
//! [`to_json`]).
//!
//! Why not serde_json's: on the delivery path it is a tenth of runwatch's time per event,
//! most of it the escaping of strings and keys, which serde_json does byte by byte. This
//! one finds the bytes to escape eight at a time (`words::plain_run`, the reader's own
//! scan: the two agree on which bytes those are) and copies the runs between them whole.
//! It writes what serde_json writes, byte for byte (a property test holds it to that):
//! floats by the same shortest round-trip formatter (`zmij`), non-finite floats as `null`,
//! integer and boolean map keys as strings, and a `serde_json::value::RawValue` as its
//! text, unquoted.

use std::fmt;

use serde::ser::{self, Impossible, Serialize};

use super::words::{append, copy, half, plain_run, stops, word};

/// A value that cannot be written as JSON: a map key that is not a string, number,
/// boolean or character, or a `Serialize` that reports an error of its own. The SDK's own
/// types never hold one, so it carries no detail (formatting one would keep the
/// formatting code in every module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotJson;

impl fmt::Display for NotJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("it cannot be written as JSON (a map key that is not a string, or a failing Serialize)")
    }
}

impl std::error::Error for NotJson {}

impl ser::Error for NotJson {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotJson
    }
}

type Result<T = ()> = std::result::Result<T, NotJson>;

/// `value` appended to `out` as compact JSON; on failure `out` may hold part of the text.
///
/// ```
/// use runwatch::core::json_write::write;
///
/// let mut out = Vec::new();
/// write(&mut out, &("a\"b", [1.5, f64::NAN])).unwrap();
/// assert_eq!(out, br#"["a\"b",[1.5,null]]"#);
/// ```
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result {
    value.serialize(Writer { out })
}

/// `value` as compact JSON text.
///
/// It refuses only what the SDK's types never hold (a map key that is not a string or a
/// number, a `Serialize` that reports an error of its own), so the failure is [`NotJson`],
/// with no detail. All serialisation for the app and the wire goes through here or
/// [`write()`].
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    let mut out = Vec::with_capacity(128);
    write(&mut out, value)?;
    // SAFETY: the writer writes only valid UTF-8: its input's strings and its own ASCII.
    Ok(unsafe { String::from_utf8_unchecked(out) })
}

/// [`to_json`] for a value that always serialises (strings, numbers, lists of them, a
/// `serde_json::Value`): `null` in the case that cannot happen, rather than a panic.
pub fn to_json_or_null<T: Serialize + ?Sized>(value: &T) -> String {
    to_json(value).unwrap_or_else(|_| "null".into())
}

/// `text` as a JSON string: in double quotes, with JSON's escapes. For a string written
/// into JSON text, and for the error messages that echo what they refused (not Rust's
/// `{:?}`: its escaping keeps core's Unicode tables and `Debug` machinery in every module,
/// for a few messages).
///
/// ```
/// use runwatch::core::json_write::quoted;
///
/// assert_eq!(quoted("say \"hi\"\n"), r#""say \"hi\"\n""#);
/// ```
pub fn quoted(text: &str) -> String {
    to_json(text).unwrap_or_default()
}

/// serde_json's name for the struct a `RawValue` serialises as: one field, of that name,
/// whose string is JSON text to write as it is.
const RAW_VALUE: &str = "$serde_json::private::RawValue";

/// Writes one value at the end of `out`.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// `s` in double quotes with JSON's escapes. Most strings (every key) need none, and are
/// copied whole once a word-wise check has found that.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !is_plain(bytes) {
        return write_escaped(out, bytes);
    }
    // The quotes and the text after one capacity check: a check per push was a fifth of
    // the time of writing a key.
    let len = out.len();
    out.reserve(bytes.len() + 2);
    // SAFETY: the capacity holds `bytes.len() + 2` more bytes (reserved above), each of
    // them written before the length covers them; `bytes` is not in `out`'s buffer.
    unsafe {
        let at = out.as_mut_ptr().add(len);
        at.write(b'"');
        copy(bytes.as_ptr(), at.add(1), bytes.len());
        at.add(1 + bytes.len()).write(b'"');
        out.set_len(len + bytes.len() + 2);
    }
}

/// Whether no byte of `bytes` needs an escape, eight at a time: the last word overlaps
/// the one before it, and a string shorter than a word is read as one whole, so no byte
/// is tested on its own.
#[inline]
fn is_plain(bytes: &[u8]) -> bool {
    let len = bytes.len();
    let found = match len {
        0 => 0,
        // The first, middle and last bytes cover all of 1 to 3; the rest of the word is spaces.
        1..=3 => stops(u64::from(bytes[0]) | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]) << 16 | 0x2020_2020_2000_0000),
        4..=7 => stops(u64::from(half(bytes, 0)) | u64::from(half(bytes, len - 4)) << 32),
        _ => bytes.chunks_exact(8).fold(stops(word(bytes, len - 8)), |found, chunk| found | stops(word(chunk, 0))),
    };
    found == 0
}

/// `bytes` in double quotes with their escapes: the plain runs between them copied whole.
/// Rare, so kept out of line (inlined, it made every plain string's call dearer).
#[cold]
#[inline(never)]
fn write_escaped(out: &mut Vec<u8>, mut bytes: &[u8]) {
    out.push(b'"');
    loop {
        let run = plain_run(bytes);
        append(out, &bytes[..run]);
        let Some(&byte) = bytes.get(run) else { break };
        write_escape(out, byte);
        bytes = &bytes[run + 1..];
    }
    out.push(b'"');
}

/// The escape of a byte [`plain_run`] stops at, as serde_json writes it.
fn write_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        _ => {
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

fn write_int(out: &mut Vec<u8>, value: impl itoa::Integer) -> Result {
    append(out, itoa::Buffer::new().format(value).as_bytes());
    Ok(())
}

fn write_float<F: FiniteFloat>(out: &mut Vec<u8>, value: F) -> Result {
    match value.finite() {
        true => append(out, zmij::Buffer::new().format_finite(value).as_bytes()),
        false => out.extend_from_slice(b"null"),
    }
    Ok(())
}

/// The floats JSON holds, and whether one is finite (zmij's `Float` has no such test).
trait FiniteFloat: zmij::Float {
    fn finite(self) -> bool;
}

impl FiniteFloat for f32 {
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl FiniteFloat for f64 {
    fn finite(self) -> bool {
        self.is_finite()
    }
}

/// The `Serializer` methods a restricted writer refuses, each one returning [`NotJson`].
macro_rules! refuse {
    ($($method:ident($($arg:ty),*) -> $ret:ty;)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ret> {
            Err(NotJson)
        })*
    };
}

/// The compound (array and object) methods a restricted writer refuses.
macro_rules! refuse_compounds {
    () => {
        type SerializeSeq = Impossible<(), NotJson>;
        type SerializeTuple = Impossible<(), NotJson>;
        type SerializeTupleStruct = Impossible<(), NotJson>;
        type SerializeTupleVariant = Impossible<(), NotJson>;
        type SerializeMap = Impossible<(), NotJson>;
        type SerializeStruct = Impossible<(), NotJson>;
        type SerializeStructVariant = Impossible<(), NotJson>;

        fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
            Err(NotJson)
        }

        fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, _: &'static str, _: &T) -> Result {
            Err(NotJson)
        }

        refuse! {
            serialize_bytes(&[u8]) -> ();
            serialize_none() -> ();
            serialize_unit() -> ();
            serialize_unit_struct(&'static str) -> ();
            serialize_seq(Option<usize>) -> Self::SerializeSeq;
            serialize_tuple(usize) -> Self::SerializeTuple;
            serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
            serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
            serialize_map(Option<usize>) -> Self::SerializeMap;
            serialize_struct(&'static str, usize) -> Self::SerializeStruct;
            serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
        }
    };
}

/// The `Serializer` methods for every integer type, each writing its value with `write`
/// (a closure of `out` and the value).
macro_rules! integers {
    (|$out:ident, $v:ident| $write:expr) => {
        integers!(@each |$out, $v| $write; serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
            serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);
    };
    (@each |$out:ident, $v:ident| $write:expr; $($method:ident: $ty:ty),*) => {
        $(fn $method(self, $v: $ty) -> Result {
            let $out = self.out;
            $write
        })*
    };
}

/// An open array or object. `close` is what ends it: `]`, `}`, or `]}` / `}}` for an enum
/// variant's, which sits in an object of its own (`{"Variant":[...]}`).
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    close: &'static [u8],
    /// A `RawValue`: its one field is JSON text, written as it is.
    raw: bool,
}

impl<'a> Compound<'a> {
    fn open(out: &'a mut Vec<u8>, open: &[u8], close: &'static [u8]) -> Self {
        append(out, open);
        Compound { out, first: true, close, raw: false }
    }

    /// `{"variant":` then `open`.
    fn variant(out: &'a mut Vec<u8>, variant: &str, open: &[u8], close: &'static [u8]) -> Self {
        out.push(b'{');
        write_str(out, variant);
        out.push(b':');
        Compound::open(out, open, close)
    }

    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.comma();
        value.serialize(Writer { out: self.out })
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result {
        if self.raw {
            return value.serialize(RawText { out: self.out });
        }
        self.comma();
        write_str(self.out, key);
        self.out.push(b':');
        value.serialize(Writer { out: self.out })
    }

    fn close(self) -> Result {
        append(self.out, self.close);
        Ok(())
    }
}

impl<'a> ser::Serializer for Writer<'a> {
    type Ok = ();
    type Error = NotJson;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result {
        append(self.out, if v { b"true" } else { b"false" });
        Ok(())
    }

    integers!(|out, v| write_int(out, v));

    fn serialize_f32(self, v: f32) -> Result {
        write_float(self.out, v)
    }

    fn serialize_f64(self, v: f64) -> Result {
        write_float(self.out, v)
    }

    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }

    /// As serde_json: an array of numbers.
    fn serialize_bytes(self, v: &[u8]) -> Result {
        let mut seq = Compound::open(self.out, b"[", b"]");
        v.iter().try_for_each(|b| seq.element(b))?;
        seq.close()
    }

    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, variant: &'static str, value: &T) -> Result {
        let object = Compound::variant(self.out, variant, b"", b"}");
        value.serialize(Writer { out: object.out })?;
        object.close()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>> {
        Ok(Compound::open(self.out, b"[", b"]"))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(self, _: &'static str, _: u32, variant: &'static str, _: usize) -> Result<Compound<'a>> {
        Ok(Compound::variant(self.out, variant, b"[", b"]}"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>> {
        Ok(Compound::open(self.out, b"{", b"}"))
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a>> {
        if name == RAW_VALUE {
            return Ok(Compound { out: self.out, first: true, close: b"", raw: true });
        }
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(self, _: &'static str, _: u32, variant: &'static str, _: usize) -> Result<Compound<'a>> {
        Ok(Compound::variant(self.out, variant, b"{", b"}}"))
    }
}

/// serde's traits for an open array or object, all but the map's: each element goes to
/// [`Compound::element`], each named field to [`Compound::field`].
macro_rules! compound {
    ($($trait:ident: $method:ident($($key:ident)?) => $via:ident;)*) => {
        $(impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = NotJson;

            fn $method<T: Serialize + ?Sized>(&mut self, $($key: &'static str,)? value: &T) -> Result {
                self.$via($($key,)? value)
            }

            fn end(self) -> Result {
                self.close()
            }
        })*
    };
}

compound! {
    SerializeSeq: serialize_element() => element;
    SerializeTuple: serialize_element() => element;
    SerializeTupleStruct: serialize_field() => element;
    SerializeTupleVariant: serialize_field() => element;
    SerializeStruct: serialize_field(key) => field;
    SerializeStructVariant: serialize_field(key) => field;
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = NotJson;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.comma();
        key.serialize(Key { out: self.out })
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.out.push(b':');
        value.serialize(Writer { out: self.out })
    }

    fn end(self) -> Result {
        self.close()
    }
}

/// What `write` writes, in double quotes (a map key that is not a string).
fn write_quoted(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>) -> Result) -> Result {
    out.push(b'"');
    write(out)?;
    out.push(b'"');
    Ok(())
}

/// A map key: a string, or a number, boolean or character written as one (as serde_json
/// writes them).
struct Key<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = NotJson;
    refuse_compounds!();

    fn serialize_bool(self, v: bool) -> Result {
        write_quoted(self.out, |out| Writer { out }.serialize_bool(v))
    }

    integers!(|out, v| write_quoted(out, |out| write_int(out, v)));

    /// A finite float, as serde_json writes one; a key cannot be `null`.
    fn serialize_f32(self, v: f32) -> Result {
        match v.is_finite() {
            true => write_quoted(self.out, |out| write_float(out, v)),
            false => Err(NotJson),
        }
    }

    fn serialize_f64(self, v: f64) -> Result {
        match v.is_finite() {
            true => write_quoted(self.out, |out| write_float(out, v)),
            false => Err(NotJson),
        }
    }

    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
}

/// A `RawValue`'s one field: JSON text, written as it is (`RawValue` holds only text
/// serde_json or the SDK's reader has checked).
struct RawText<'a> {
    out: &'a mut Vec<u8>,
}

impl ser::Serializer for RawText<'_> {
    type Ok = ();
    type Error = NotJson;
    refuse_compounds!();

    fn serialize_str(self, v: &str) -> Result {
        append(self.out, v.as_bytes());
        Ok(())
    }

    refuse! {
        serialize_bool(bool) -> ();
        serialize_i8(i8) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, _: &T) -> Result {
        Err(NotJson)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Serialize;
    use serde_json::value::RawValue;

    use super::super::json_read::tests::json_value;
    use super::*;

    fn written<T: Serialize + ?Sized>(value: &T) -> Result<String> {
        let mut out = Vec::new();
        write(&mut out, value)?;
        Ok(String::from_utf8(out).expect("the writer wrote UTF-8"))
    }

    /// Every shape serde's data model has, as the SDK's derives use them and more.
    #[derive(Debug, Clone, Serialize)]
    #[serde(tag = "type", rename_all = "camelCase")]
    enum Tagged {
        Plain { text: String, count: u32 },
        Flat {
            #[serde(flatten)]
            inner: Inner,
            extra: Option<f64>,
        },
    }

    #[derive(Debug, Clone, Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        task_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        maybe: Option<i64>,
        by_pipe: BTreeMap<u32, Vec<String>>,
    }

    #[derive(Debug, Clone, Serialize)]
    enum External {
        Unit,
        Newtype(f32),
        Tuple(i8, u64),
        Struct { flag: bool, letter: char },
    }

    #[derive(Debug, Clone, Serialize)]
    struct Everything {
        tagged: Vec<Tagged>,
        external: Vec<External>,
        bool_keys: BTreeMap<bool, ()>,
        char_keys: BTreeMap<char, i128>,
        signed_keys: BTreeMap<i64, u128>,
        #[serde(with = "serde_bytes_as_slice")]
        bytes: Vec<u8>,
        tuple: (String, Option<Option<u8>>),
        newtype: Id,
        unit: (),
        raw: Box<RawValue>,
    }

    #[derive(Debug, Clone, Serialize)]
    struct Id(String);

    /// `serialize_bytes`, which no derive reaches on its own.
    mod serde_bytes_as_slice {
        pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(bytes)
        }
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z\"\\\\\u{0}\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é😀/ ]{0,40}"
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), Just(1e21), Just(5e-324)]
    }

    fn everything() -> impl Strategy<Value = Everything> {
        let tagged = prop_oneof![
            (text(), any::<u32>()).prop_map(|(text, count)| Tagged::Plain { text, count }),
            (text(), any::<Option<i64>>(), prop::collection::btree_map(any::<u32>(), prop::collection::vec(text(), 0..3), 0..3), prop::option::of(float()))
                .prop_map(|(task_id, maybe, by_pipe, extra)| Tagged::Flat { inner: Inner { task_id, maybe, by_pipe }, extra }),
        ];
        let external = prop_oneof![
            Just(External::Unit),
            prop_oneof![any::<f32>(), Just(f32::NAN)].prop_map(External::Newtype),
            (any::<i8>(), any::<u64>()).prop_map(|(a, b)| External::Tuple(a, b)),
            (any::<bool>(), any::<char>()).prop_map(|(flag, letter)| External::Struct { flag, letter }),
        ];
        (
            prop::collection::vec(tagged, 0..4),
            prop::collection::vec(external, 0..4),
            prop::collection::btree_map(any::<bool>(), Just(()), 0..2),
            prop::collection::btree_map(any::<char>(), any::<i128>(), 0..3),
            prop::collection::btree_map(any::<i64>(), any::<u128>(), 0..3),
            prop::collection::vec(any::<u8>(), 0..5),
            (text(), any::<Option<Option<u8>>>()),
            text(),
            json_value(),
        )
            .prop_map(|(tagged, external, bool_keys, char_keys, signed_keys, bytes, tuple, id, raw)| Everything {
                tagged,
                external,
                bool_keys,
                char_keys,
                signed_keys,
                bytes,
                tuple,
                newtype: Id(id),
                unit: (),
                raw: RawValue::from_string(serde_json::to_string_pretty(&raw).unwrap()).unwrap(),
            })
    }

    proptest! {
        #[test]
        fn writes_any_json_value_as_serde_json_does(value in json_value()) {
            prop_assert_eq!(written(&value).unwrap(), serde_json::to_string(&value).unwrap());
        }

        #[test]
        fn writes_every_shape_as_serde_json_does(value in everything()) {
            prop_assert_eq!(written(&value).unwrap(), serde_json::to_string(&value).unwrap());
        }

        #[test]
        fn writes_float_keys_as_serde_json_does(key in any::<f64>()) {
            let map = [(FloatKey(key), 1)];
            prop_assert_eq!(written(&Pairs(&map)).ok(), serde_json::to_string(&Pairs(&map)).ok());
        }
    }

    /// A float map key (no std map takes one).
    #[derive(Debug)]
    struct FloatKey(f64);

    impl Serialize for FloatKey {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.serialize_f64(self.0)
        }
    }

    /// Pairs written as a map.
    struct Pairs<'a>(&'a [(FloatKey, u8)]);

    impl Serialize for Pairs<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    #[test]
    fn what_json_cannot_hold_is_not_json_with_a_fixed_reason() {
        let tuple_keys = BTreeMap::from([((1, 2), "a")]);
        assert_eq!(to_json(&tuple_keys), Err(NotJson));
        let mut out = b"[".to_vec();
        assert_eq!(write(&mut out, &tuple_keys), Err(NotJson));
        assert!(NotJson.to_string().starts_with("it cannot be written as JSON"));
        let crate::core::outputs::RequestError::BadResponse { message } = NotJson.into() else { panic!() };
        assert!(message.starts_with("the result could not be serialised: it cannot be written as JSON"), "{message}");
        assert_eq!(to_json(&["a\"b", "é"]).as_deref(), Ok(r#"["a\"b","é"]"#));
    }

    #[test]
    fn a_raw_value_is_written_as_its_text() {
        let raw = RawValue::from_string(r#"{ "a" : [1, 2.50] }"#.into()).unwrap();
        assert_eq!(written(&[&raw]).unwrap(), r#"[{ "a" : [1, 2.50] }]"#);
    }

    #[test]
    fn refuses_what_json_cannot_hold() {
        let list_key = BTreeMap::from([(vec![1u8], 1)]);
        assert_eq!(written(&list_key), Err(NotJson));
        assert_eq!(written(&Pairs(&[(FloatKey(f64::NAN), 1)])), Err(NotJson));
        let unit_key = BTreeMap::from([((), 1)]);
        assert_eq!(written(&unit_key), Err(NotJson));
        assert_eq!(serde_json::to_string(&unit_key).ok(), None, "serde_json refuses it too");
    }
}

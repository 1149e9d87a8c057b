//! A pull reader over JSON text, for the typed decoders of the event bodies a client reads
//! by the thousand (see `protocol::rocketride::events`), and for RocketRide's envelope, its
//! command replies and its log replay's results.
//!
//! Why not serde's derive: every derived `Deserialize` is a visitor generic over the
//! deserializer, with serde_json's parsing inlined into each one; for the event types that
//! came to about a sixth of the module. This reader is one non-generic piece of code the
//! decoders call, so each type adds only its own key match. Why not another crate: jiter,
//! the maintained pull parser, compiles to 38 KB gzip on its own, most of the package's
//! whole size budget.
//!
//! It accepts exactly JSON (RFC 8259), as serde_json does: the same grammar for numbers,
//! strings and escapes, no trailing commas; like serde_json, it refuses a lone surrogate
//! escape in a string it reads and keeps one in a value it only skips. Nested values it only
//! skips ([`Reader::raw`]) are followed without recursion, so depth costs no stack.
//! Errors read like serde's ("invalid type: string \"x\", expected u64") and carry the byte
//! offset where they were found.

use super::decimal;
use super::json_write::{quoted, to_json_or_null};
use super::words::{half, owned, plain_run, word};
use std::borrow::Cow;

/// What kind of failure a [`ReadError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadErrorKind {
    /// Not JSON.
    Syntax,
    /// JSON, but not the shape the type declares (wrong type, missing field).
    Shape,
    /// Nested deeper than the recursion limit of the parser a value was handed to.
    TooDeep,
}

/// Why a value could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub kind: ReadErrorKind,
    pub message: String,
    /// Byte offset in the text just past where the problem was seen.
    pub at: usize,
}

pub type Result<T> = std::result::Result<T, ReadError>;

/// A cursor over one JSON text.
pub struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Self {
        Reader { text, at: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.at) {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// An error of `kind` at the reader's position.
    pub fn error(&self, kind: ReadErrorKind, message: impl Into<String>) -> ReadError {
        ReadError { kind, message: message.into(), at: self.at }
    }

    fn syntax(&self, message: &str) -> ReadError {
        self.error(ReadErrorKind::Syntax, message)
    }

    /// The syntax error for what is at the cursor when a value was expected.
    #[inline(never)]
    fn unexpected(&mut self) -> ReadError {
        match self.peek() {
            None => self.syntax("EOF while parsing a value"),
            Some(_) => {
                self.at += 1;
                self.syntax("expected value")
            }
        }
    }

    /// Succeeds when nothing but whitespace is left.
    pub fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => {
                self.at += 1;
                Err(self.syntax("trailing characters"))
            }
        }
    }

    /// Consumes `null` if it is next; `false` (nothing consumed) if another value is.
    pub fn null(&mut self) -> Result<bool> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        self.literal(b"null")?;
        Ok(true)
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        for &expected in word {
            match self.bytes().get(self.at) {
                Some(&b) if b == expected => self.at += 1,
                Some(_) => {
                    self.at += 1;
                    return Err(self.syntax("expected ident"));
                }
                None => return Err(self.syntax("EOF while parsing a value")),
            }
        }
        Ok(())
    }

    /// The shape error for the value at the cursor, which is not what the type expects;
    /// like serde's: `invalid type: string "x", expected u64`.
    #[inline(never)]
    pub fn invalid_type(&mut self, expected: &str) -> ReadError {
        let start = self.peek().map(|_| self.at);
        let found: Cow<str> = match self.peek() {
            Some(b'"') => match self.string() {
                Ok(s) => format!("string {}", quoted(&short(&s))).into(),
                Err(e) => return e,
            },
            Some(b'{') => "map".into(),
            Some(b'[') => "sequence".into(),
            Some(b't' | b'f') => match self.boolean() {
                Ok(b) => format!("boolean `{b}`").into(),
                Err(e) => return e,
            },
            Some(b'n') => match self.null() {
                Ok(_) => "null".into(),
                Err(e) => return e,
            },
            Some(b'-' | b'0'..=b'9') => match self.number() {
                Ok(n) if n.integer => format!("integer `{}`", n.text).into(),
                Ok(n) => format!("floating point `{}`", n.text).into(),
                Err(e) => return e,
            },
            _ => return self.unexpected(),
        };
        // A container is reported where it starts, as serde does.
        if matches!(found.as_ref(), "map" | "sequence") {
            self.at = start.unwrap_or(self.at) + 1;
        }
        self.error(ReadErrorKind::Shape, format!("invalid type: {found}, expected {expected}"))
    }

    /// `true` or `false`.
    pub fn boolean(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|_| true),
            Some(b'f') => self.literal(b"false").map(|_| false),
            Some(b'"' | b'{' | b'[' | b'n' | b'-' | b'0'..=b'9') => Err(self.invalid_type("a boolean")),
            _ => Err(self.unexpected()),
        }
    }

    /// A string's value, borrowed from the text when it has no escapes.
    #[inline]
    pub fn string(&mut self) -> Result<Cow<'a, str>> {
        match self.peek() {
            Some(b'"') => {}
            Some(b'{' | b'[' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => return Err(self.invalid_type("a string")),
            _ => return Err(self.unexpected()),
        }
        self.quoted()
    }

    /// A string's content after its opening quote, which the reader is at: borrowed when
    /// it is plain bytes up to the closing quote (the usual string), else unescaped.
    #[inline]
    fn quoted(&mut self) -> Result<Cow<'a, str>> {
        self.at += 1;
        let start = self.at;
        self.at += plain_run(&self.bytes()[start..]);
        if self.bytes().get(self.at) == Some(&b'"') {
            self.at += 1;
            return Ok(Cow::Borrowed(&self.text[start..self.at - 1]));
        }
        self.string_rest(start)
    }

    /// The rest of a string that has escapes (or is not one): from `start`, its first byte
    /// after the quote; the reader is at the first byte that ends a plain run.
    #[inline(never)]
    fn string_rest(&mut self, start: usize) -> Result<Cow<'a, str>> {
        let bytes = self.bytes();
        let mut owned = String::new();
        let mut run = start;
        loop {
            let Some(&stop) = bytes.get(self.at) else {
                return Err(self.syntax("EOF while parsing a string"));
            };
            match stop {
                b'"' => {
                    owned.push_str(&self.text[run..self.at]);
                    self.at += 1;
                    return Ok(Cow::Owned(owned));
                }
                b'\\' => {
                    owned.push_str(&self.text[run..self.at]);
                    self.at += 1;
                    self.escape(&mut owned)?;
                    run = self.at;
                }
                _ => {
                    self.at += 1;
                    return Err(self.syntax("control character (\\u0000-\\u001F) found while parsing a string"));
                }
            }
            self.at += plain_run(&bytes[self.at..]);
        }
    }

    /// Steps over a string, checking it as serde_json checks a string it skips: every
    /// escape well formed, a `\\u` escape any four hex digits (a lone surrogate is kept as
    /// sent, for whoever reads the value).
    fn skip_string(&mut self) -> Result<()> {
        self.at += 1;
        let bytes = self.bytes();
        loop {
            self.at += plain_run(&bytes[self.at..]);
            let Some(&stop) = bytes.get(self.at) else {
                return Err(self.syntax("EOF while parsing a string"));
            };
            self.at += 1;
            match stop {
                b'"' => return Ok(()),
                b'\\' => match bytes.get(self.at) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 1,
                    Some(b'u') => {
                        self.at += 1;
                        self.hex4()?;
                    }
                    Some(_) => {
                        self.at += 1;
                        return Err(self.syntax("invalid escape"));
                    }
                    None => return Err(self.syntax("EOF while parsing a string")),
                },
                _ => return Err(self.syntax("control character (\\u0000-\\u001F) found while parsing a string")),
            }
        }
    }

    /// The index in `names` of the string read: a unit enum's variant, an unknown name
    /// worded as serde words it.
    pub fn variant(&mut self, names: &[&str]) -> Result<usize> {
        let name = self.string()?;
        if let Some(i) = names.iter().position(|n| *n == name) {
            return Ok(i);
        }
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let expected = match quoted.as_slice() {
            [a, b] => format!("{a} or {b}"),
            _ => format!("one of {}", quoted.join(", ")),
        };
        Err(self.error(ReadErrorKind::Shape, format!("unknown variant `{name}`, expected {expected}")))
    }

    /// An owned string.
    pub fn string_owned(&mut self) -> Result<String> {
        self.string().map(into_string)
    }

    /// One escape after its backslash, appended to `out`.
    fn escape(&mut self, out: &mut String) -> Result<()> {
        let Some(&b) = self.bytes().get(self.at) else {
            return Err(self.syntax("EOF while parsing a string"));
        };
        self.at += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return Err(self.syntax("invalid escape")),
        };
        out.push(c);
        Ok(())
    }

    /// The character of a `\uXXXX` escape (a surrogate pair takes two).
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xDC00..=0xDFFF => return Err(self.syntax("lone leading surrogate in hex escape")),
            0xD800..=0xDBFF => {
                if self.bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(self.syntax("unexpected end of hex escape"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.syntax("lone leading surrogate in hex escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            n => n,
        };
        char::from_u32(code).ok_or_else(|| self.syntax("invalid unicode code point"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut n = 0;
        for _ in 0..4 {
            let Some(&b) = self.bytes().get(self.at) else {
                return Err(self.syntax("EOF while parsing a string"));
            };
            self.at += 1;
            let digit = (b as char).to_digit(16).ok_or_else(|| self.syntax("invalid escape"))?;
            n = n * 16 + digit;
        }
        Ok(n)
    }

    /// A number, checked against JSON's grammar; its digits are gathered on the way.
    fn number(&mut self) -> Result<Number<'a>> {
        self.peek();
        let bytes = self.bytes();
        let start = self.at;
        let mut n = Number { text: "", integer: true, negative: bytes.get(start) == Some(&b'-'), digits: 0, count: 0, scale: 0 };
        let mut at = start + usize::from(n.negative);
        let int = n.gather(&bytes[at..]);
        if int == 0 || (int > 1 && bytes[at] == b'0') {
            self.at = at + 1;
            return Err(self.syntax("invalid number"));
        }
        at += int;
        if bytes.get(at) == Some(&b'.') {
            let frac = n.gather(&bytes[at + 1..]);
            if frac == 0 {
                self.at = at + 1;
                return Err(self.syntax(if at + 1 >= bytes.len() { "EOF while parsing a value" } else { "invalid number" }));
            }
            at += 1 + frac;
            n.scale = -(frac as i32);
            n.integer = false;
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            let sign = match bytes.get(at) {
                Some(b'-') => -1,
                Some(b'+') => 1,
                _ => 0,
            };
            at += usize::from(sign != 0);
            let exp = bytes[at..].iter().take_while(|b| b.is_ascii_digit()).count();
            if exp == 0 {
                self.at = at;
                return Err(self.syntax(if at >= bytes.len() { "EOF while parsing a value" } else { "invalid number" }));
            }
            // Only small exponents take the fast path; the text is parsed otherwise.
            let e = bytes[at..at + exp].iter().take(4).fold(0i32, |e, b| e * 10 + i32::from(b - b'0'));
            n.scale += if exp > 4 { i32::MAX / 2 } else { e * if sign < 0 { -1 } else { 1 } };
            at += exp;
            n.integer = false;
        }
        // serde_json reads `-0` as a float (there is no integer negative zero).
        if n.negative && n.integer && n.digits == 0 {
            n.integer = false;
        }
        self.at = at;
        n.text = &self.text[start..at];
        Ok(n)
    }

    /// An unsigned integer (a float, a negative number or one too large is refused, as
    /// serde refuses them for `u64`).
    pub fn u64(&mut self) -> Result<u64> {
        let n = self.number_for("u64")?;
        if n.integer && !n.negative && n.count <= 19 {
            return Ok(n.digits);
        }
        if n.integer {
            if let Ok(v) = n.text.parse::<u64>() {
                return Ok(v);
            }
            if n.negative && n.text.parse::<i64>().is_ok() {
                return Err(self.error(ReadErrorKind::Shape, format!("invalid value: integer `{}`, expected u64", n.text)));
            }
        }
        Err(self.error(ReadErrorKind::Shape, format!("invalid type: floating point `{}`, expected u64", n.text)))
    }

    /// An unsigned 32-bit integer (serde's refusals and wording for `u32`).
    pub fn u32(&mut self) -> Result<u32> {
        let n = self.number_for("u32")?;
        if n.integer {
            if let Ok(v) = n.text.parse::<u32>() {
                return Ok(v);
            }
            if n.text.parse::<i64>().is_ok() || n.text.parse::<u64>().is_ok() {
                return Err(self.error(ReadErrorKind::Shape, format!("invalid value: integer `{}`, expected u32", n.text)));
            }
        }
        Err(self.error(ReadErrorKind::Shape, format!("invalid type: floating point `{}`, expected u32", n.text)))
    }

    /// A signed integer.
    pub fn i64(&mut self) -> Result<i64> {
        let n = self.number_for("i64")?;
        if n.integer {
            if let Ok(v) = n.text.parse::<i64>() {
                return Ok(v);
            }
            if n.text.parse::<u64>().is_ok() {
                return Err(self.error(ReadErrorKind::Shape, format!("invalid value: integer `{}`, expected i64", n.text)));
            }
        }
        Err(self.error(ReadErrorKind::Shape, format!("invalid type: floating point `{}`, expected i64", n.text)))
    }

    /// A float (integers included).
    pub fn f64(&mut self) -> Result<f64> {
        let n = self.number_for("f64")?;
        if let Some(v) = n.exact_f64() {
            return Ok(v);
        }
        let quick = if n.count <= 19 { decimal::quick(n.digits, n.scale) } else { None };
        match quick {
            Some(v) => Ok(if n.negative { -v } else { v }),
            None => decimal::nearest_f64(n.text).ok_or_else(|| self.syntax("number out of range")),
        }
    }

    /// A number, or the right error for what is there instead.
    fn number_for(&mut self, expected: &str) -> Result<Number<'a>> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"' | b'{' | b'[' | b't' | b'f' | b'n') => Err(self.invalid_type(expected)),
            _ => Err(self.unexpected()),
        }
    }

    /// Consumes `byte` if it is next.
    fn open(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Consumes an object's `{`, and its `}` too when it is empty (true).
    #[inline(always)]
    fn object_start(&mut self, expected: &str) -> Result<bool> {
        if !self.open(b'{') {
            return Err(self.not_a(expected));
        }
        let empty = self.peek() == Some(b'}');
        self.at += usize::from(empty);
        Ok(empty)
    }

    /// The next key of the object being read, or `None` at its end.
    #[inline(always)]
    pub fn next_key(&mut self) -> Result<Option<Cow<'a, str>>> {
        match self.more_fields()? {
            true => self.key().map(Some),
            false => Ok(None),
        }
    }

    /// After a field's value: consumes the `,` before another key (true) or the object's
    /// closing `}` (false).
    #[inline(always)]
    fn more_fields(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(b'}') => {
                self.at += 1;
                Ok(false)
            }
            Some(_) => {
                self.at += 1;
                Err(self.syntax("expected `,` or `}`"))
            }
            None => Err(self.syntax("EOF while parsing an object")),
        }
    }

    /// Consumes the key `"name":` if it is next, written plainly (no escapes, no space
    /// before its colon): the key a body's field order predicts, matched in place without
    /// scanning it first. Anything else is left for [`Reader::key`] to read.
    #[inline]
    fn expected_key(&mut self, name: &str) -> Option<&'a str> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let bytes = self.bytes();
        let start = self.at + 1;
        let end = start + name.len();
        if bytes.get(end..end + 2)? != b"\":" || !same(name.as_bytes(), &bytes[start..end]) {
            return None;
        }
        self.at = end + 2;
        // Both ends sit at a character's start: `name`'s first byte, and a quote.
        Some(&self.text[start..end])
    }

    /// A key and its colon. Inlined into the object loops: a key is read for every field
    /// of every body, and returning it through memory from a call cost more than reading it.
    #[inline(always)]
    fn key(&mut self) -> Result<Cow<'a, str>> {
        self.key_start()?;
        let key = self.quoted()?;
        self.colon()?;
        Ok(key)
    }

    /// Steps over a key and its colon in a value only skipped, checking the key as a
    /// skipped string is checked: a lone surrogate escape in it is kept, as `JSON.parse`
    /// and serde_json keep it.
    fn skip_key(&mut self) -> Result<()> {
        self.key_start()?;
        self.skip_string()?;
        self.colon()
    }

    /// Checks that a key's opening quote is next, where an object's key must be.
    #[inline(always)]
    fn key_start(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'"') => Ok(()),
            Some(b'}') => {
                self.at += 1;
                Err(self.syntax("trailing comma"))
            }
            Some(_) => {
                self.at += 1;
                Err(self.syntax("key must be a string"))
            }
            None => Err(self.syntax("EOF while parsing an object")),
        }
    }

    /// Consumes the colon after a key.
    #[inline(always)]
    fn colon(&mut self) -> Result<()> {
        match self.peek() {
            Some(b':') => {
                self.at += 1;
                Ok(())
            }
            Some(_) => {
                self.at += 1;
                Err(self.syntax("expected `:`"))
            }
            None => Err(self.syntax("EOF while parsing an object")),
        }
    }

    /// Starts an array: `Ok(true)` when it has a first item, at which the reader is.
    pub fn array(&mut self, expected: &str) -> Result<bool> {
        if !self.open(b'[') {
            return Err(self.not_a(expected));
        }
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After an item: `Ok(true)` when another follows.
    pub fn next_item(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Err(self.syntax("trailing comma"));
                }
                Ok(true)
            }
            Some(b']') => {
                self.at += 1;
                Ok(false)
            }
            Some(_) => {
                self.at += 1;
                Err(self.syntax("expected `,` or `]`"))
            }
            None => Err(self.syntax("EOF while parsing a list")),
        }
    }

    /// The error for a value that is not the container `expected` names.
    fn not_a(&mut self, expected: &str) -> ReadError {
        match self.peek() {
            Some(b'"' | b'{' | b'[' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => self.invalid_type(expected),
            _ => self.unexpected(),
        }
    }

    /// Skips one whole value of any kind and returns its text. Nesting is followed with a
    /// small stack of its own, not by recursion.
    pub fn raw(&mut self) -> Result<&'a str> {
        self.raw_within(usize::MAX)
    }

    /// [`raw`](Self::raw), refusing a value nested deeper than serde_json's recursion limit
    /// (as [`value`](Self::value) does): for text kept to be written out as it came.
    pub fn raw_json(&mut self) -> Result<&'a str> {
        self.raw_within(RECURSION_LIMIT)
    }

    /// [`raw`](Self::raw), with a container opened at depth `limit` refused.
    fn raw_within(&mut self, limit: usize) -> Result<&'a str> {
        self.peek();
        let start = self.at;
        let mut open: Vec<u8> = Vec::new();
        loop {
            // One value (a container only opens).
            if matches!(self.peek(), Some(b'{' | b'[')) && open.len() + 1 >= limit {
                self.at += 1;
                return Err(self.error(ReadErrorKind::TooDeep, "recursion limit exceeded"));
            }
            match self.peek() {
                Some(b'{') => {
                    self.at += 1;
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                    } else {
                        self.skip_key()?;
                        open.push(b'}');
                        continue;
                    }
                }
                Some(b'[') => {
                    self.at += 1;
                    if self.peek() == Some(b']') {
                        self.at += 1;
                    } else {
                        open.push(b']');
                        continue;
                    }
                }
                Some(b'"') => self.skip_string()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                _ => return Err(self.unexpected()),
            }
            // Close what ends here; step to the next item or key.
            loop {
                match open.last() {
                    None => return Ok(&self.text[start..self.at]),
                    Some(b'}') => {
                        if self.more_fields()? {
                            self.skip_key()?;
                            break;
                        }
                        open.pop();
                    }
                    Some(_) => {
                        if self.next_item()? {
                            break;
                        }
                        open.pop();
                    }
                }
            }
        }
    }

    /// A value of any shape, for fields the SDK keeps as `unknown`: read in one pass, with a
    /// stack of its own rather than recursion, and refused past serde_json's recursion limit
    /// (127 containers deep), as serde_json's `Value` refused it. Numbers read as
    /// serde_json's do (an integer in `u64` or `i64`, else a float, `-0` a float), each
    /// float exactly as `JSON.parse` reads it.
    pub fn value(&mut self) -> Result<serde_json::Value> {
        use serde_json::{Map, Value};
        /// A container being read: an array's items, or an object's entries and the key
        /// whose value comes next.
        enum Open {
            Array(Vec<Value>),
            Object(Map<String, Value>, String),
        }
        let mut open: Vec<Open> = Vec::new();
        loop {
            let mut value = match self.peek() {
                Some(c @ (b'{' | b'[')) => {
                    let empty = if c == b'{' { b'}' } else { b']' };
                    if open.len() + 1 >= RECURSION_LIMIT {
                        self.at += 1;
                        return Err(self.error(ReadErrorKind::TooDeep, "recursion limit exceeded"));
                    }
                    self.at += 1;
                    if self.open(empty) {
                        if c == b'{' { Value::Object(Map::new()) } else { Value::Array(Vec::new()) }
                    } else {
                        open.push(if c == b'{' { Open::Object(Map::new(), self.key()?.into_owned()) } else { Open::Array(Vec::new()) });
                        continue;
                    }
                }
                Some(b'"') => Value::String(self.string_owned()?),
                Some(b't' | b'f') => Value::Bool(self.boolean()?),
                Some(b'n') => {
                    self.literal(b"null")?;
                    Value::Null
                }
                Some(b'-' | b'0'..=b'9') => Value::Number(self.json_number()?),
                _ => return Err(self.unexpected()),
            };
            // Put the value in its container; close the containers that end here.
            loop {
                match open.last_mut() {
                    None => return Ok(value),
                    Some(Open::Array(items)) => {
                        items.push(value);
                        if self.next_item()? {
                            break;
                        }
                    }
                    Some(Open::Object(map, key)) => {
                        map.insert(std::mem::take(key), value);
                        if let Some(next) = self.next_key()? {
                            *key = next.into_owned();
                            break;
                        }
                    }
                }
                value = match open.pop() {
                    Some(Open::Array(items)) => Value::Array(items),
                    Some(Open::Object(map, _)) => Value::Object(map),
                    None => unreachable!("a container was open"),
                };
            }
        }
    }

    /// A number as serde_json's `Value` holds it.
    fn json_number(&mut self) -> Result<serde_json::Number> {
        let start = self.at;
        let n = self.number()?;
        if n.integer {
            let int = if n.negative { n.text.parse::<i64>().ok().filter(|&v| v != 0).map(Into::into) } else { n.text.parse::<u64>().ok().map(Into::into) };
            if let Some(int) = int {
                return Ok(int);
            }
        }
        self.at = start;
        let float = self.f64()?;
        serde_json::Number::from_f64(float).ok_or_else(|| self.syntax("number out of range"))
    }
}

/// How deep serde_json lets values nest: a container at this depth is refused.
const RECURSION_LIMIT: usize = 128;

/// A number's text.
struct Number<'a> {
    text: &'a str,
    /// No fraction and no exponent.
    integer: bool,
    negative: bool,
    /// The decimal digits, integer and fraction parts run together (exact while `count`
    /// is at most 19).
    digits: u64,
    count: usize,
    /// The power of ten `digits` is scaled by.
    scale: i32,
}

/// The powers of ten a double holds exactly.
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22,
];

impl Number<'_> {
    /// Adds the leading run of digits of `bytes`; how many there were. One pass: the digit
    /// test is the subtraction the value needs anyway.
    fn gather(&mut self, bytes: &[u8]) -> usize {
        let mut len = 0;
        let mut digits = self.digits;
        while let Some(d) = bytes.get(len).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
            digits = digits.wrapping_mul(10).wrapping_add(u64::from(d));
            len += 1;
        }
        self.digits = digits;
        self.count += len;
        len
    }

    /// The value when one correctly rounded operation gives it (Clinger's fast path:
    /// both operands are exact doubles); `None` sends the text to the full parser.
    fn exact_f64(&self) -> Option<f64> {
        if self.count > 19 || self.digits > 1 << 53 {
            return None;
        }
        let m = self.digits as f64;
        let v = match self.scale {
            0 => m,
            s @ 1..=22 => m * EXACT_POW10[s as usize],
            s @ -22..=-1 => m / EXACT_POW10[(-s) as usize],
            _ => return None,
        };
        Some(if self.negative { -v } else { v })
    }
}

/// At most 60 characters of a string quoted in an error message.
fn short(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(60) {
        None => Cow::Borrowed(s),
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
    }
}

/// `line L column C` of byte offset `at` in `text` (1-based, columns in bytes, as serde's).
pub fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = before.len() - before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    (line, column)
}

/// `err`'s message with where it was met in `text`, worded as serde_json's errors are
/// ("missing field `x` at line 1 column 9").
pub fn describe(text: &str, err: &ReadError) -> String {
    let (line, column) = position(text, err.at);
    format!("{} at line {line} column {column}", err.message)
}

/// A type read from JSON by [`Reader`]; `expected` names it in errors, as serde does.
pub trait Decode<'a>: Sized {
    fn decode(r: &mut Reader<'a>) -> Result<Self>;

    /// The value of a missing field of this type, if it has one (serde's rule: an
    /// `Option` is `None`; anything else is an error unless its type says otherwise).
    fn missing() -> Option<Self> {
        None
    }
}

/// The scalars, each read by its [`Reader`] method.
macro_rules! decode_scalars {
    ($($ty:ty => $read:ident),* $(,)?) => {
        $(impl<'a> Decode<'a> for $ty {
            fn decode(r: &mut Reader<'a>) -> Result<Self> {
                r.$read()
            }
        })*
    };
}

decode_scalars! { String => string_owned, u64 => u64, u32 => u32, i64 => i64, f64 => f64, bool => boolean }

/// `null` is `None`.
impl<'a, T: Decode<'a>> Decode<'a> for Option<T> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        if r.null()? {
            return Ok(None);
        }
        T::decode(r).map(Some)
    }

    fn missing() -> Option<Self> {
        Some(None)
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for Vec<T> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let mut items = Vec::new();
        let mut more = r.array("a sequence")?;
        while more {
            items.push(T::decode(r)?);
            more = r.next_item()?;
        }
        Ok(items)
    }
}

impl<'a> Decode<'a> for serde_json::Value {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        r.value()
    }
}

impl<'a> Decode<'a> for serde_json::Map<String, serde_json::Value> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        match r.peek() {
            Some(b'{') => match r.value()? {
                serde_json::Value::Object(map) => Ok(map),
                _ => unreachable!("a value that starts with `{{` is an object"),
            },
            _ => Err(r.not_a("a map")),
        }
    }
}

/// A string, borrowed from the text when it has no escapes.
impl<'a> Decode<'a> for Cow<'a, str> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        r.string()
    }
}

/// One JSON value kept as its text, exactly as sent: an untyped payload the SDK passes
/// through without reading inside (an SSE event's `data`, a flow trace). A delivery's
/// `JSON.parse` reads it as it would have read the frame; Rust code reads it with
/// [`parse`](Self::parse). Compared by text.
///
/// ```
/// use runwatch::core::json_read::{from_str, JsonText};
///
/// let data: JsonText = from_str(r#"{"percent": 46, "object": "a.pdf"}"#).unwrap();
/// assert_eq!(data.get(), r#"{"percent": 46, "object": "a.pdf"}"#);
/// let value: serde_json::Value = data.parse().unwrap();
/// assert_eq!(value["percent"], 46);
/// assert_eq!(serde_json::to_string(&data).unwrap(), r#"{"percent": 46, "object": "a.pdf"}"#);
/// ```
#[derive(Clone, Debug, serde::Serialize)]
#[serde(transparent)]
pub struct JsonText(Box<serde_json::value::RawValue>);

impl JsonText {
    /// Text the SDK wrote itself (a literal, serde_json's output,
    /// [`ObjectText`](super::wire::ObjectText)'s): one JSON value, see [`valid_raw`].
    pub(crate) fn written(text: String) -> Self {
        JsonText(valid_raw(text))
    }

    /// `null`.
    pub fn null() -> Self {
        Self::written("null".into())
    }

    /// `{}`.
    pub fn empty_object() -> Self {
        Self::written("{}".into())
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Reads the text as `T` with serde_json (for Rust code: the SDK itself never reads
    /// inside).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.get())
    }

    /// An object's text; `null` reads as `{}` and anything else is refused, as a map is.
    pub fn decode_object(r: &mut Reader<'_>) -> Result<Self> {
        match r.peek() {
            Some(b'{') => Self::decode(r),
            Some(b'n') => r.literal(b"null").map(|()| Self::empty_object()),
            _ => Err(r.not_a("a map")),
        }
    }
}

impl Default for JsonText {
    fn default() -> Self {
        Self::null()
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// The value's JSON text, written by serde_json (Rust code building arguments).
impl From<serde_json::Value> for JsonText {
    fn from(value: serde_json::Value) -> Self {
        JsonText::written(to_json_or_null(&value))
    }
}

/// Whether the text holds `other` (parsed with serde_json).
impl PartialEq<serde_json::Value> for JsonText {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.parse::<serde_json::Value>().is_ok_and(|value| value == *other)
    }
}

impl<'a> Decode<'a> for JsonText {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        Box::<serde_json::value::RawValue>::decode(r).map(JsonText)
    }
}

/// A JSON object kept as its text ([`JsonText`]): any other value is refused, as a map is
/// (an optional one reads `null` as absent). For payloads typed `Record<string, unknown>`.
///
/// ```
/// use runwatch::core::json_read::{from_str, JsonObject};
///
/// let args: JsonObject = from_str(r#"{"message_id": "m-1", "n": 2}"#).unwrap();
/// assert_eq!(args.string_at("message_id").as_deref(), Some("m-1"));
/// assert_eq!(args.string_at("n"), None);
/// assert!(from_str::<JsonObject>("[1]").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct JsonObject(pub(crate) JsonText);

impl JsonObject {
    /// `{}`.
    pub fn empty() -> Self {
        JsonObject(JsonText::empty_object())
    }

    /// `text` when it is an object's; `None` for any other value.
    pub fn of(text: JsonText) -> Option<Self> {
        text.get().starts_with('{').then_some(JsonObject(text))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The string at `key` (the last one, as `JSON.parse` keeps a repeated key); `None`
    /// when it is absent or not a string.
    pub fn string_at(&self, key: &str) -> Option<String> {
        member(self.get(), key).and_then(|raw| from_str(raw).ok())
    }

    /// Reads the text as `T` with serde_json (for Rust code).
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        self.0.parse()
    }
}

impl Default for JsonObject {
    fn default() -> Self {
        Self::empty()
    }
}

impl<'a> Decode<'a> for JsonObject {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        if r.peek() != Some(b'{') {
            return Err(r.not_a("a map"));
        }
        JsonText::decode(r).map(JsonObject)
    }
}

/// The text of the value at `key` in the JSON object `text` (the last one when the key
/// repeats); `None` when `text` is not an object or has no such key.
pub fn member<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let mut found = None;
    read_all(text, |r| {
        each_field(r, "an object", |r, k| {
            let value = r.raw()?;
            if k == key {
                found = Some(value);
            }
            Ok(())
        })
    })
    .ok()?;
    found
}

/// `text` as a `RawValue`; it must be exactly one JSON value with no whitespace around it:
/// a value [`Reader::raw_json`] has just read, or text the SDK wrote itself. The one place
/// the SDK wraps text in a `RawValue` without serde_json checking it.
fn valid_raw(text: String) -> Box<serde_json::value::RawValue> {
    // SAFETY: that is `from_string_unchecked`'s contract, which the callers meet as said
    // above (the reader's text: RFC 8259 strictly, no `NaN`, no comments, no trailing
    // commas, valid escapes, in a `str`, so valid UTF-8). Debug builds check it with serde_json.
    unsafe { serde_json::value::RawValue::from_string_unchecked(text) }
}

/// Any JSON value as its text, borrowed ([`Reader::raw`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawJson<'a>(pub &'a str);

impl<'a> Decode<'a> for RawJson<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        r.raw().map(RawJson)
    }
}

/// A value that is `None` when it does not read as `T`, rather than failing what holds it
/// (a dashboard row's metrics in a shape this SDK does not know, a stamp of another type).
/// Still JSON: text that is not fails.
pub struct IfReadable<T>(pub Option<T>);

impl<T> Default for IfReadable<T> {
    fn default() -> Self {
        IfReadable(None)
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for IfReadable<T> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let text = r.raw()?;
        Ok(IfReadable(from_str(text).ok()))
    }

    fn missing() -> Option<Self> {
        Some(IfReadable(None))
    }
}

/// A boxed value reads as the value.
impl<'a, T: Decode<'a>> Decode<'a> for Box<T> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        T::decode(r).map(Box::new)
    }

    fn missing() -> Option<Self> {
        T::missing().map(Box::new)
    }
}

/// A value kept as JSON text: the text exactly as it came (its numbers as written, its
/// keys in the order sent, a repeated key repeated), which JavaScript's `JSON.parse` of a
/// delivery then reads as it would have read the frame. Refused, as a `Value` is, past
/// serde_json's recursion limit.
///
/// The text is wrapped with `RawValue::from_string_unchecked`: `from_string` would parse
/// it again with serde_json's own parser (whose code and messages were 13 KB gzip of the
/// fleet-rlm module), and building a `Value` to write it out again costs a tree per value.
/// Debug builds (the tests) still check with serde_json that it is one JSON value.
impl<'a> Decode<'a> for Box<serde_json::value::RawValue> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        r.raw_json().map(|text| valid_raw(owned(text)))
    }
}

/// Stores the value of field `name` in its slot; a second one is an error, as in serde.
/// Not inlined: one copy per field type serves every field of that type.
#[inline(never)]
pub fn fill<'a, T: Decode<'a>>(r: &mut Reader<'a>, slot: &mut Option<T>, name: &str) -> Result<()> {
    if slot.is_some() {
        return Err(duplicate_field(r, name));
    }
    *slot = Some(T::decode(r)?);
    Ok(())
}

/// serde's error for a field given twice.
#[cold]
#[inline(never)]
pub fn duplicate_field(r: &Reader<'_>, name: &str) -> ReadError {
    r.error(ReadErrorKind::Shape, format!("duplicate field `{name}`"))
}

/// The value of field `name`: what was read, else its type's value for a missing field
/// ([`Decode::missing`]), else serde's error for its absence.
pub fn need<'a, T: Decode<'a>>(r: &Reader<'_>, slot: Option<T>, name: &str) -> Result<T> {
    slot.or_else(T::missing).ok_or_else(|| missing_field(r, name))
}

/// serde's error for a missing field.
#[cold]
#[inline(never)]
pub fn missing_field(r: &Reader<'_>, name: &str) -> ReadError {
    r.error(ReadErrorKind::Shape, format!("missing field `{name}`"))
}

/// Builds a value from its fields' slots with a single error exit: each [`need`](Self::need)
/// gives the field's value, or a placeholder while it notes the first missing field, and
/// [`finish`](Self::finish) then returns the value or serde's error for that field. (With
/// one `?` per field, every exit would drop the fields built so far; for a large struct
/// that drop code was most of its decoder's size.)
#[derive(Default)]
pub struct Missing(std::cell::Cell<Option<&'static str>>);

impl Missing {
    /// The value of field `name` ([`need`]'s rule); a placeholder if it is missing.
    pub fn need<'a, T: Decode<'a> + Default>(&self, slot: Option<T>, name: &'static str) -> T {
        slot.or_else(T::missing).unwrap_or_else(|| {
            if self.0.get().is_none() {
                self.0.set(Some(name));
            }
            T::default()
        })
    }

    /// `value`, unless a field it needed was missing.
    pub fn finish<T>(self, r: &Reader<'_>, value: T) -> Result<T> {
        match self.0.get() {
            None => Ok(value),
            Some(name) => Err(missing_field(r, name)),
        }
    }
}

/// Reads one JSON object, handing each key to `field`, which must read (or skip) its value.
pub fn each_field<'a>(
    r: &mut Reader<'a>,
    expected: &str,
    mut field: impl FnMut(&mut Reader<'a>, Cow<'a, str>) -> Result<()>,
) -> Result<()> {
    known_fields_of(r, expected, &[], &mut |r, _, key| field(r, key))
}

/// Reads one JSON object whose keys are mostly `names`, handing `field` each key with its
/// index in `names` (`None` for another key); `field` must read (or skip) its value.
/// Servers write a body's fields in the same order every time, so the key after field
/// `i` is tried against `names[i + 1]` first, in place: one comparison per key instead of
/// a scan of the key and a search.
pub fn each_known_field<'a>(
    r: &mut Reader<'a>,
    expected: &str,
    names: &[&str],
    mut field: impl FnMut(&mut Reader<'a>, Option<usize>, Cow<'a, str>) -> Result<()>,
) -> Result<()> {
    known_fields_of(r, expected, names, &mut field)
}

/// What [`known_fields_of`] hands each field to: the reader at its value, the key's index in
/// the names (if it is one of them) and the key.
type FieldReader<'a, 'f> = dyn FnMut(&mut Reader<'a>, Option<usize>, Cow<'a, str>) -> Result<()> + 'f;

/// The loop of [`each_known_field`] and [`each_field`], compiled once: the key reading it
/// inlines is the same for every type.
fn known_fields_of<'a>(r: &mut Reader<'a>, expected: &str, names: &[&str], field: &mut FieldReader<'a, '_>) -> Result<()> {
    if r.object_start(expected)? {
        return Ok(());
    }
    let mut next = 0;
    loop {
        let (index, key) = match names.get(next).and_then(|name| r.expected_key(name)) {
            Some(key) => (Some(next), Cow::Borrowed(key)),
            None => {
                let key = r.key()?;
                (names.iter().position(|name| same(name.as_bytes(), key.as_bytes())), key)
            }
        };
        if let Some(i) = index {
            next = i + 1;
        }
        field(r, index, key)?;
        if !r.more_fields()? {
            return Ok(());
        }
    }
}

/// A string the reader read, owned: a borrowed one copied by words (see [`owned`]).
fn into_string(text: Cow<'_, str>) -> String {
    match text {
        Cow::Borrowed(text) => owned(text),
        Cow::Owned(text) => text,
    }
}

/// Whether two keys are equal: a field name is short, and comparing it in two overlapping
/// word loads beats a call to `memcmp` (most of a body's key time when it was one).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        0..=3 => a == b,
        4..=7 => half(a, 0) == half(b, 0) && half(a, a.len() - 4) == half(b, b.len() - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, a.len() - 8) == word(b, b.len() - 8),
        _ => a == b,
    }
}

/// Reads all of `text` as one `T`.
pub fn from_str<'a, T: Decode<'a>>(text: &'a str) -> Result<T> {
    read_all(text, T::decode)
}

/// Reads all of `text` with `read`, which must take exactly one value.
pub fn read_all<'a, T>(text: &'a str, read: impl FnOnce(&mut Reader<'a>) -> Result<T>) -> Result<T> {
    let mut r = Reader::new(text);
    let value = read(&mut r)?;
    r.end()?;
    Ok(value)
}

/// A JSON object's entries, each handed to `insert` (a repeated key is handed again).
pub(crate) fn read_map<'a, V: Decode<'a>>(r: &mut Reader<'a>, mut insert: impl FnMut(String, V)) -> Result<()> {
    each_field(r, "a map", |r, key| {
        insert(into_string(key), V::decode(r)?);
        Ok(())
    })
}

/// A JSON object as a map; a repeated key keeps its last value.
impl<'a, V: Decode<'a>> Decode<'a> for crate::core::sorted_map::SortedMap<String, V> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let mut map = Self::new();
        read_map(r, |k, v| drop(map.insert(k, v)))?;
        Ok(map)
    }
}

/// A JSON object as an ordered map; a repeated key keeps its last value.
impl<'a, V: Decode<'a>> Decode<'a> for std::collections::BTreeMap<String, V> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let mut map = Self::new();
        read_map(r, |k, v| drop(map.insert(k, v)))?;
        Ok(map)
    }
}

/// A JSON object as a hash map; a repeated key keeps its last value.
impl<'a, V: Decode<'a>> Decode<'a> for std::collections::HashMap<String, V> {
    fn decode(r: &mut Reader<'a>) -> Result<Self> {
        let mut map = Self::new();
        read_map(r, |k, v| drop(map.insert(k, v)))?;
        Ok(map)
    }
}

/// Declares one slot per field (`let mut field = None;`) and reads an object into them:
/// each listed wire key fills its slot ([`fill`]); any other key goes to `$other`, with the
/// reader and the key bound to the names given, or is skipped when `|key| other` is left
/// out. The caller then builds the value from the slots ([`Missing`]). Keys are found with
/// [`each_known_field`], which predicts each key from the one before: list the fields in
/// the order servers send them (a missing field is then reported by the first one missing
/// in that order).
macro_rules! read_fields {
    // Without `|key| other`, any other key's value is skipped.
    ($r:ident, $expected:expr, { $($slot:ident: $wire:expr),* $(,)? }) => {
        $crate::core::json_read::read_fields!($r, $expected, { $($slot: $wire),* }, |_key| $r.raw().map(drop));
    };
    ($r:ident, $expected:expr, { $($slot:ident: $wire:expr),* $(,)? }, |$key:ident| $other:expr) => {
        $(let mut $slot = None;)*
        $crate::core::json_read::each_known_field($r, $expected, &[$($wire),*], |$r, index, $key| {
            let mut _at = 0;
            $(
                if index == Some(_at) {
                    return $crate::core::json_read::fill($r, &mut $slot, $wire);
                }
                _at += 1;
            )*
            $other
        })?;
    };
}
pub(crate) use read_fields;

/// Reads an object into a struct: [`read_fields!`] for the listed fields, then the struct
/// built with one error exit ([`Missing`]). Each field is `field: "wire"`, its value
/// [`Missing::need`]ed, or `field: "wire" => f` to pass that value through `f`, or
/// `=> as_sent` for the slot itself (`None` when missing, `Some` of what was read),
/// `=> or_default` for the type's default when missing. `|key| other` handles any other
/// key (left out, such keys are skipped); `rest: value` pairs fill the fields that are not
/// read from a key.
macro_rules! decode_object {
    (@field $m:ident, $f:ident, $w:expr) => { $m.need($f, $w) };
    (@field $m:ident, $f:ident, $w:expr, as_sent) => { $f };
    (@field $m:ident, $f:ident, $w:expr, or_default) => { $f.unwrap_or_default() };
    (@field $m:ident, $f:ident, $w:expr, $via:ident) => { $via($m.need($f, $w)) };
    // Without `|key| other`, any other key's value is skipped.
    ($r:ident, $ty:ident { $($f:ident: $wire:expr $(=> $via:ident)?),* $(,)? }) => {
        $crate::core::json_read::decode_object!($r, $ty { $($f: $wire $(=> $via)?),* }, |_key| $r.raw().map(drop))
    };
    ($r:ident, $ty:ident { $($f:ident: $wire:expr $(=> $via:ident)?),* $(,)? }, |$key:ident| $other:expr $(, $rest:ident: $val:expr)* $(,)?) => {{
        $crate::core::json_read::read_fields!($r, concat!("struct ", stringify!($ty)), { $($f: $wire),* }, |$key| $other);
        let m = $crate::core::json_read::Missing::default();
        let value = $ty { $($f: $crate::core::json_read::decode_object!(@field m, $f, $wire $(, $via)?),)* $($rest: $val,)* };
        m.finish($r, value)
    }};
}
pub(crate) use decode_object;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;

    /// Whether `text` is one JSON value for this reader, skipping it as a raw value.
    fn reader_accepts(text: &str) -> bool {
        let mut r = Reader::new(text);
        r.raw().and_then(|_| r.end()).is_ok()
    }

    fn serde_accepts(text: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
    }

    /// JSON values of every shape, with strings that need escapes (json_write's tests use
    /// it too).
    pub(crate) fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
            "[a-z\"\\\\\u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é😀/ ]{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-z_\"]{0,6}", inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// Text near JSON: a value's text with bytes replaced, inserted, removed or cut off.
    fn near_json() -> impl Strategy<Value = String> {
        let edits = prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, prop::sample::select(NOISE.to_vec())), 0..4);
        (json_value(), edits, any::<bool>()).prop_map(|(value, edits, pretty)| {
            let text = if pretty { serde_json::to_string_pretty(&value).unwrap() } else { value.to_string() };
            let mut chars: Vec<char> = text.chars().collect();
            for (at, kind, c) in edits {
                let i = at.index(chars.len() + 1);
                match kind {
                    0 if i < chars.len() => chars[i] = c,
                    1 => chars.insert(i, c),
                    2 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ => chars.truncate(i),
                }
            }
            chars.into_iter().collect()
        })
    }

    /// JSON text written piece by piece, each piece now and then slightly wrong: a trailing
    /// or missing comma, a missing colon, a key that is not a string, a number or a string
    /// or a literal JSON refuses. Most texts hold none or one such defect, so each corner of
    /// the grammar is met alone.
    fn almost_json() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            8 => prop::sample::select(vec!["0", "-0", "12", "-7", "1.5", "2.5E-3", "1e5", "-1.0e+2", "18446744073709551616", "1e400"]),
            1 => prop::sample::select(vec!["01", "1.", ".5", "-", "1e", "+1", "0x1", "1.e5", "--1"]),
            8 => prop::sample::select(vec!["\"a\"", "\"\"", "\"\\u00e9\\n\"", "\"\\ud83d\\ude00\"", "\"\\ud800\"", "\"é/\\\\\""]),
            1 => prop::sample::select(vec!["\"\\x\"", "\"\\u12\"", "\"a", "\"\u{1}\"", "'a'"]),
            4 => prop::sample::select(vec!["true", "false", "null"]),
            1 => prop::sample::select(vec!["nul", "True", "nan", ""]),
        ]
        .prop_map(str::to_owned);
        let sep = || prop::sample::select(vec![",", ",", ",", ",", ",", ",", ",", ",", ",", ", ", "", ",,"]);
        leaf.prop_recursive(4, 24, 5, move |inner| {
            let array = (prop::collection::vec((inner.clone(), sep()), 0..5), prop::bool::weighted(0.1)).prop_map(|(items, trailing)| {
                let n = items.len();
                let body: String = items.into_iter().enumerate().map(|(i, (v, s))| if i + 1 < n { v + s } else { v }).collect();
                format!("[{body}{}]", if trailing && n > 0 { "," } else { "" })
            });
            let key = prop::sample::select(vec!["\"k\"", "\"k\"", "\"k\"", "\"k\"", "\"k\"", "\"\\u0041\"", "k", "1"]);
            let colon = prop::sample::select(vec![":", ":", ":", ":", ":", ":", ":", ":", " : ", ""]);
            let object = (prop::collection::vec((key, colon, inner, sep()), 0..5), prop::bool::weighted(0.1)).prop_map(|(fields, trailing)| {
                let n = fields.len();
                let body: String = fields
                    .into_iter()
                    .enumerate()
                    .map(|(i, (k, c, v, s))| format!("{k}{c}{v}{}", if i + 1 < n { s } else { "" }))
                    .collect();
                format!("{{{body}{}}}", if trailing && n > 0 { "," } else { "" })
            });
            prop_oneof![array, object]
        })
    }

    fn near_json_or_soup() -> impl Strategy<Value = String> {
        prop_oneof![near_json(), almost_json()]
    }

    const NOISE: &[char] = &[
        '{', '}', '[', ']', '"', ',', ':', '\\', 'u', 'd', '8', '0', '0', 'e', 'E', '+', '-', '.', '1', 't', 'n', 'x',
        ' ', '\n', '\u{1}', 'é',
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// The verdict on any text near JSON is serde_json's: the fast event path and the
        /// general one (serde_json reads the envelope) must never disagree on what is JSON.
        #[test]
        fn accepts_exactly_what_serde_json_accepts(text in near_json_or_soup()) {
            prop_assert_eq!(reader_accepts(&text), serde_accepts(&text), "{:?}", text);
        }

        /// Strings and numbers read as serde_json reads them (floats exactly, as
        /// `float_roundtrip`, the dev build of serde_json, and JavaScript read them).
        #[test]
        fn values_read_as_serde_json_reads_them(text in near_json_or_soup()) {
            prop_assert_eq!(from_str::<String>(&text).ok(), serde_json::from_str::<String>(&text).ok(), "{:?}", text);
            prop_assert_eq!(from_str::<u64>(&text).ok(), serde_json::from_str::<u64>(&text).ok(), "{:?}", text);
            prop_assert_eq!(from_str::<i64>(&text).ok(), serde_json::from_str::<i64>(&text).ok(), "{:?}", text);
            prop_assert_eq!(from_str::<f64>(&text).ok(), serde_json::from_str::<f64>(&text).ok(), "{:?}", text);
            prop_assert_eq!(from_str::<bool>(&text).ok(), serde_json::from_str::<bool>(&text).ok(), "{:?}", text);
            prop_assert_eq!(from_str::<Vec<Value>>(&text).ok(), serde_json::from_str::<Vec<Value>>(&text).ok(), "{:?}", text);
        }

        /// A key the field order predicts is matched in place; whatever it matches, or
        /// fails to, must be what reading the key and looking it up finds: an escaped or
        /// spaced key, a longer or shorter one, a key at the end of the text.
        #[test]
        fn predicted_keys_match_as_read_keys_do(
            keys in proptest::collection::vec((0usize..KEYS.len(), 0u8..4), 0..8),
            cut in proptest::option::of(0usize..200),
        ) {
            let fields: Vec<String> = keys.iter().map(|&(k, form)| key_text(KEYS[k], form)).collect();
            let mut text = format!("{{{}}}", fields.join(","));
            if let Some(cut) = cut {
                text.truncate(cut.min(text.len()));
            }
            let read = |predicting: bool| {
                let mut found = Vec::new();
                let mut r = Reader::new(&text);
                let names = &NAMES[..];
                let outcome = match predicting {
                    true => each_known_field(&mut r, "a map", names, |r, index, key| {
                        found.push((index, key.into_owned()));
                        r.raw().map(drop)
                    }),
                    false => each_field(&mut r, "a map", |r, key| {
                        found.push((names.iter().position(|n| *n == key), key.into_owned()));
                        r.raw().map(drop)
                    }),
                };
                (outcome.map_err(|e| (e.message, e.at)), found)
            };
            prop_assert_eq!(read(true), read(false), "{}", text);
        }

        #[test]
        fn numbers_read_exactly(f in any::<f64>().prop_filter("finite", |f| f.is_finite()), e in -30i32..30) {
            for text in [f.to_string(), format!("{f:e}"), format!("{}e{e}", f.abs().fract())] {
                prop_assert_eq!(from_str::<f64>(&text).ok(), text.parse::<f64>().ok().filter(|v| v.is_finite()), "{}", text);
            }
        }
    }

    #[test]
    fn errors_name_what_was_found_and_where() {
        let err = from_str::<u64>(r#""x""#).unwrap_err();
        assert_eq!((err.kind, err.message.as_str(), err.at), (ReadErrorKind::Shape, r#"invalid type: string "x", expected u64"#, 3));
        assert_eq!(from_str::<u64>("-1").unwrap_err().message, "invalid value: integer `-1`, expected u64");
        assert_eq!(from_str::<u64>("1.5").unwrap_err().message, "invalid type: floating point `1.5`, expected u64");
        assert_eq!(from_str::<String>("[1]").unwrap_err().message, "invalid type: sequence, expected a string");
        let mut r = Reader::new(r#""c""#);
        assert_eq!(r.variant(&["a", "b"]).unwrap_err().message, "unknown variant `c`, expected `a` or `b`");
        let mut r = Reader::new(r#""b""#);
        assert_eq!(r.variant(&["a", "b", "d"]), Ok(1));
        let mut r = Reader::new(r#""x""#);
        assert_eq!(r.variant(&["a", "b", "d"]).unwrap_err().message, "unknown variant `x`, expected one of `a`, `b`, `d`");
        let err = from_str::<Value>("{").unwrap_err();
        assert_eq!(err.kind, ReadErrorKind::Syntax);
        assert_eq!(from_str::<String>("\"a\u{1}\"").unwrap_err().kind, ReadErrorKind::Syntax);
        assert_eq!(position("ab\ncd", 4), (2, 1));
    }

    #[test]
    fn deep_values_are_skipped_without_recursion_and_refused_as_values() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(reader_accepts(&deep));
        assert_eq!(from_str::<Value>(&deep).unwrap_err().kind, ReadErrorKind::TooDeep);
        // The limit is serde_json's, to the level, for arrays and objects alike.
        for depth in [126, 127, 128, 129] {
            for (open, close) in [("[", "]"), (r#"{"k":"#, "}")] {
                let text = format!("{}1{}", open.repeat(depth), close.repeat(depth));
                let serde = serde_json::from_str::<Value>(&text).map_err(|e| e.to_string());
                assert_eq!(from_str::<Value>(&text).ok(), serde.clone().ok(), "depth {depth}: {serde:?}");
            }
        }
        let err = from_str::<Value>(&format!("{}{}", "[".repeat(128), "]".repeat(128))).unwrap_err();
        assert_eq!((err.message.as_str(), err.at), ("recursion limit exceeded", 128));
    }

    /// A lone surrogate escape in a value only skipped is kept as sent, in an object's key as
    /// in a string (`JSON.parse` reads both); one in a string read is refused, as serde_json
    /// refuses it. Found by fuzzing json_read against serde_json: skipped keys were decoded.
    #[test]
    fn lone_surrogates_are_kept_where_values_are_only_skipped() {
        for text in [r#"{"k\ud800":1}"#, r#"[{"a":{"\udc00x":[]}}]"#, r#"{"\ud800":"\udfff"}"#, r#""\ud800""#] {
            assert!(serde_accepts(text), "{text}");
            assert!(reader_accepts(text), "{text}");
            assert_eq!(from_str::<Box<serde_json::value::RawValue>>(text).map(|r| r.get().to_string()).ok().as_deref(), Some(text));
        }
        for text in [r#""\ud800""#, r#""\udc00""#, r#"{"k\ud800":1}"#] {
            assert!(from_str::<Value>(text).is_err() && serde_json::from_str::<Value>(text).is_err(), "{text}");
        }
        // A malformed key is still refused where it is, whether read or skipped.
        for text in [r#"{"k\u12":1}"#, "{\"k\u{1}\":1}", r#"{"k\q":1}"#, r#"{"k"1}"#, r#"{"k""#] {
            assert!(!serde_accepts(text) && !reader_accepts(text), "{text}");
        }
    }

    /// Kept text is refused where a `Value` is, to the level and at the same place.
    #[test]
    fn kept_json_text_is_refused_past_the_same_depth() {
        type Raw = Box<serde_json::value::RawValue>;
        assert_eq!(from_str::<Raw>(&format!("{}{}", "[".repeat(100_000), "]".repeat(100_000))).unwrap_err().kind, ReadErrorKind::TooDeep);
        for depth in [126, 127, 128, 129] {
            for (open, close) in [("[", "]"), (r#"{"k":"#, "}")] {
                for inner in ["1", "[]", "{}"] {
                    let text = format!("{}{inner}{}", open.repeat(depth), close.repeat(depth));
                    let (raw, value) = (from_str::<Raw>(&text), from_str::<Value>(&text));
                    assert_eq!(raw.as_ref().map(|r| r.get()).ok(), value.as_ref().ok().map(|_| text.as_str()), "depth {depth}");
                    assert_eq!(raw.err(), value.err(), "depth {depth}");
                }
            }
        }
    }

    /// A member is read as `JSON.parse` reads it: the last of a repeated key, nothing from
    /// a nested object or from text that is not an object.
    #[test]
    fn a_member_is_the_last_of_its_key_at_the_top_level() {
        let text = r#"{"id": "a", "nested": {"id": "n"}, "id": "b", "n": 1}"#;
        assert_eq!(member(text, "id"), Some(r#""b""#));
        assert_eq!(member(text, "nested"), Some(r#"{"id": "n"}"#));
        assert_eq!(member(text, "missing"), None);
        assert_eq!(member(r#"[{"id": "a"}]"#, "id"), None);
        assert_eq!(member(r#"{"id": "a""#, "id"), None, "broken text has no members");
        let object: JsonObject = from_str(text).unwrap();
        assert_eq!((object.string_at("id").as_deref(), object.string_at("n")), (Some("b"), None));
        assert_eq!(from_str::<JsonObject>("null").unwrap_err().message, "invalid type: null, expected a map");
        assert!(from_str::<Option<JsonObject>>("null").unwrap().is_none());
    }

    /// Kept text is the value exactly as sent, without the whitespace around it, so that
    /// `JSON.parse` reads it as it reads the frame (a repeated key's last value, `1.50`).
    #[test]
    fn kept_json_text_is_the_value_as_sent() {
        let text = "{ \"x\" :  { \"b\" : 1.50, \"a\":[1e2, -0, \"\\u00e9\"] , \"b\":2}  , \"y\":\tnull\n}";
        let (mut x, mut y): (Option<Box<serde_json::value::RawValue>>, Option<Box<serde_json::value::RawValue>>) = (None, None);
        let mut r = Reader::new(text);
        each_field(&mut r, "an object", |r, key| if key == "x" { fill(r, &mut x, "x") } else { fill(r, &mut y, "y") }).unwrap();
        assert_eq!(x.unwrap().get(), "{ \"b\" : 1.50, \"a\":[1e2, -0, \"\\u00e9\"] , \"b\":2}");
        assert_eq!(y.unwrap().get(), "null");
        // Written out as it is.
        let raw = from_str::<Box<serde_json::value::RawValue>>(" [1.0 ,2] ").unwrap();
        assert_eq!(serde_json::to_string(&vec![raw]).unwrap(), "[[1.0 ,2]]");
        assert_eq!(from_str::<Box<serde_json::value::RawValue>>("[1,]").unwrap_err().kind, ReadErrorKind::Syntax);
        assert!(from_str::<Box<serde_json::value::RawValue>>("[NaN]").is_err());
    }

    #[test]
    fn numbers_in_values_take_serde_json_kinds() {
        for text in ["0", "-0", "-1", "18446744073709551615", "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "1.0", "1e2", "-0.0"] {
            let ours = from_str::<Value>(text).unwrap();
            let serde: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, serde, "{text}");
            let kinds = |v: &Value| (v.is_u64(), v.is_i64(), v.is_f64());
            assert_eq!(kinds(&ours), kinds(&serde), "{text}");
            assert_eq!(ours.to_string(), serde.to_string(), "{text}");
        }
    }

    /// Field names of every length `same` tells apart differently.
    const NAMES: [&str; 7] = ["a", "ab", "name", "status", "projectId", "completedCount", "peak_gpu_memory_mb"];
    /// The names, and keys near them.
    const KEYS: [&str; 11] = ["a", "ab", "name", "status", "projectId", "completedCount", "peak_gpu_memory_mb", "", "abc", "nam", "peak_gpu_memory_mbx"];

    /// `"key":1` written plainly (form 0), with its first character escaped (1), with a
    /// space before its colon (2) or before its opening quote (3).
    fn key_text(key: &str, form: u8) -> String {
        match (form, key.chars().next()) {
            (1, Some(c)) => format!("\"\\u{:04x}{}\":1", c as u32, &key[c.len_utf8()..]),
            (2, _) => format!("\"{key}\" :1"),
            (3, _) => format!(" \"{key}\":1"),
            _ => format!("\"{key}\":1"),
        }
    }

    #[test]
    fn fields_are_found_in_any_order_and_duplicates_refused() {
        fn pair(text: &str) -> Result<(u64, String)> {
            let mut reader = Reader::new(text);
            let r = &mut reader;
            read_fields!(r, "struct Pair", { a: "a", b: "b" });
            let m = Missing::default();
            let value = (m.need(a, "a"), m.need(b, "b"));
            m.finish(r, value)
        }
        assert_eq!(pair(r#"{"a":1,"b":"x"}"#).unwrap(), (1, "x".into()));
        assert_eq!(pair(r#"{"z":[{}],"b":"x","a":1}"#).unwrap(), (1, "x".into()));
        assert_eq!(pair(r#"{"b":"x"}"#).unwrap_err().message, "missing field `a`");
        assert_eq!(pair(r#"{"a":1,"a":2,"b":"x"}"#).unwrap_err().message, "duplicate field `a`");
    }
}

//! What every protocol's frames decode to, whatever the wire: a frame is a response to a
//! request, a typed event, an event that failed to decode, or something the client does
//! not act on. The engine ([`super::connection`]) works on these; each protocol plug-in
//! decodes its own wire into them.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use tsify::Tsify;

use super::json_read::{JsonObject, JsonText};
use super::json_write::{quoted, to_json_or_null};

/// A JSON object written key by key into its text: a request's arguments, without a
/// `serde_json::Value` tree (whose builder, map and writer the RocketRide module then
/// does without).
///
/// ```
/// use runwatch::core::wire::ObjectText;
///
/// let args = ObjectText::new().field("token", "*").field("types", &["TASK", "FLOW"]).field("pipe", &3).done();
/// assert_eq!(args.get(), r#"{"token":"*","types":["TASK","FLOW"],"pipe":3}"#);
/// ```
#[derive(Debug)]
pub struct ObjectText(String);

impl Default for ObjectText {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectText {
    /// `{`.
    pub fn new() -> Self {
        ObjectText(String::from("{"))
    }

    /// Adds `key` with `value` (which must serialise: strings, numbers, lists of them).
    pub fn field<T: Serialize + ?Sized>(self, key: &str, value: &T) -> Self {
        self.member(key, &to_json_or_null(value))
    }

    /// Adds `key` with the JSON text `value` (the part every value type shares).
    fn member(mut self, key: &str, value: &str) -> Self {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&quoted(key));
        self.0.push(':');
        self.0.push_str(value);
        self
    }

    /// Adds `key` with `value` when there is one.
    pub fn field_if<T: Serialize + ?Sized>(self, key: &str, value: Option<&T>) -> Self {
        match value {
            Some(value) => self.field(key, value),
            None => self,
        }
    }

    /// The object.
    pub fn done(self) -> JsonText {
        JsonText::written(self.text())
    }

    /// The object, as a [`JsonObject`].
    pub fn object(self) -> JsonObject {
        JsonObject(self.done())
    }

    /// The object's text.
    pub fn text(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// Longest piece of a serde message kept in a [`DecodeError`] reason, so a reason never
/// carries a whole frame (serde quotes offending string values verbatim).
const MAX_REASON_CHARS: usize = 120;

/// One decoded frame from the server, whatever the protocol: `E` is its typed event.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<E> {
    /// The server's per-connection sequence number (shared by responses and events).
    pub seq: Option<u64>,
    /// What the frame carries.
    pub body: FrameBody<E>,
}

/// What a frame carries.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameBody<E> {
    /// A reply to one of our requests.
    Response(Response),
    /// A typed event.
    Event(E),
    /// An event whose body did not decode; the frame's `seq` is still known.
    UndecodableEvent {
        /// The event name (`""` if the frame had none).
        event: String,
        /// Why it did not decode.
        error: DecodeError,
    },
    /// A frame the client does not act on (`type: "request"` from the server, other types).
    Ignored {
        /// The frame's `type`.
        kind: String,
    },
    /// A copy of a frame already received, recognised by the protocol from its own ids
    /// (for protocols without `seq`): dropped and counted in `duplicates`.
    Duplicate,
}

/// A reply to a request, matched by `request_seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The `seq` of the request this answers (`None` if the request had none).
    pub request_seq: Option<u64>,
    /// The request's command, echoed.
    pub command: String,
    /// Whether the command succeeded.
    pub success: bool,
    /// The error text of a failed command (may contain newlines).
    pub message: Option<String>,
    /// Where on the server the error was raised.
    pub trace: Option<ErrorTrace>,
    /// The result's JSON text, as sent (one JSON value: the frame's reader checked it);
    /// absent for e.g. `rrext_monitor` and `terminate`. Plain text rather than serde_json's
    /// `RawValue`, whose only constructor from text parses it again with serde_json's own
    /// parser (2.7 KB gzip of the RocketRide module for a check already made).
    pub body: Option<Box<str>>,
}

/// Server source location of an error: file basename and line.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ErrorTrace {
    /// Source file basename, e.g. `"task_server.py"`.
    pub file: String,
    /// Line number.
    pub lineno: u64,
}

impl<'a> super::json_read::Decode<'a> for ErrorTrace {
    fn decode(r: &mut super::json_read::Reader<'a>) -> super::json_read::Result<Self> {
        super::json_read::decode_object!(r, ErrorTrace { file: "file", lineno: "lineno" })
    }
}

/// Why a frame or an event body could not be decoded.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What kind of failure.
    pub kind: DecodeErrorKind,
    /// A human-readable reason with the position; never the whole frame.
    pub reason: String,
}

/// The kinds of decode failure.
#[derive(Tsify, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum DecodeErrorKind {
    /// The frame is not UTF-8.
    InvalidUtf8,
    /// The frame is not JSON (or is truncated).
    InvalidJson,
    /// JSON, but not a DAP envelope: not an object, or no usable `type`.
    NotAnEnvelope,
    /// An envelope or body with fields of the wrong type or missing.
    WrongShape,
    /// Nested deeper than the parser's recursion limit (128).
    TooDeep,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DecodeErrorKind::InvalidUtf8 => "invalid UTF-8",
            DecodeErrorKind::InvalidJson => "invalid JSON",
            DecodeErrorKind::NotAnEnvelope => "not a DAP envelope",
            DecodeErrorKind::WrongShape => "wrong shape",
            DecodeErrorKind::TooDeep => "nested too deep",
        };
        write!(f, "{kind}: {}", self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// Builds a [`DecodeError`] from a [`ReadError`](super::json_read::ReadError) met while
/// reading `text` as `what`, worded as serde_json words its errors ("… at line L column C").
pub fn read_error(what: &str, text: &str, err: &super::json_read::ReadError) -> DecodeError {
    let message = super::json_read::describe(text, err);
    DecodeError { kind: err.kind.into(), reason: format!("{what}: {}", elide_middle(&message)) }
}

impl From<super::json_read::ReadErrorKind> for DecodeErrorKind {
    fn from(kind: super::json_read::ReadErrorKind) -> Self {
        use super::json_read::ReadErrorKind as R;
        match kind {
            R::Syntax => DecodeErrorKind::InvalidJson,
            R::Shape => DecodeErrorKind::WrongShape,
            R::TooDeep => DecodeErrorKind::TooDeep,
        }
    }
}

/// Shortens a message to about [`MAX_REASON_CHARS`], keeping its start (what went wrong)
/// and its end (serde's "at line L column C").
fn elide_middle(message: &str) -> Cow<'_, str> {
    let count = message.chars().count();
    if count <= MAX_REASON_CHARS {
        return Cow::Borrowed(message);
    }
    let head: String = message.chars().take(MAX_REASON_CHARS - 30).collect();
    let tail: String = message.chars().skip(count - 29).collect();
    Cow::Owned(format!("{head}…{tail}"))
}

//! The chat socket's envelopes (spec §3.3): `{"type":"event","data":…}`,
//! `{"type":"command_result",…}` and `{"type":"error",…}`, decoded by reading `type` first
//! and then the concrete body.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tsify::Tsify;

use super::chat_events::{decode_chat_event, ChatEvent};
use super::errors::{ErrorClass, ServerError};
use super::execution::type_of;
use super::json::{capture, decode_error, has_extra, Extra};
use super::auth::scrub;
use crate::core::wire::DecodeError;

/// What the chat socket delivers to the app, discriminated on `type`.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ChatFrame {
    /// A chat event (`switch (frame.kind)` narrows it further).
    Event(ChatEvent),
    /// An error frame: a turn failed (socket stays open) or the connection is refused
    /// (a close follows).
    Error(ServerError),
    /// An envelope `type` this SDK does not know, as sent.
    Unknown(UnknownFrame),
}

/// A chat envelope of unknown `type`.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
pub struct UnknownFrame {
    /// The wire `type`.
    pub name: String,
    /// The whole frame as sent.
    #[tsify(type = "unknown")]
    pub raw: Value,
}

/// `{"type":"command_result","command","result":{status,…},"version","event_id"}`: the
/// answer to a `command`, which names no request; it is matched to the oldest command of
/// the same name in flight.
#[derive(Deserialize, Debug)]
pub struct CommandResult {
    pub command: String,
    /// `{status:"ok",…}` or `{status:"error",error,message_id}`.
    pub result: Box<RawValue>,
    #[serde(default, rename = "\u{0}extra")]
    pub extra: Extra,
}

has_extra!(CommandResult);

impl CommandResult {
    /// `Err(message)` for a result with `status` other than `"ok"`.
    pub fn outcome(&self) -> Result<&RawValue, String> {
        #[derive(Deserialize)]
        struct Status {
            #[serde(default)]
            status: Option<String>,
            #[serde(default)]
            error: Option<String>,
        }
        let status: Status = serde_json::from_str(self.result.get()).unwrap_or(Status { status: None, error: None });
        match status.status.as_deref() {
            Some("ok") => Ok(&self.result),
            _ => Err(scrub(&status.error.unwrap_or_else(|| format!("{} failed", self.command)))),
        }
    }
}

/// One frame of the chat socket, decoded.
#[derive(Debug)]
pub enum ServerFrame {
    Chat(ChatFrame),
    CommandResult(CommandResult),
}

/// Decodes one chat-socket frame. `Err` only when the frame is not a JSON object with a
/// string `type` (or an `event` has no readable `data`).
pub fn decode_chat_frame(text: &str) -> Result<ServerFrame, DecodeError> {
    let name = type_of(text, "chat frame")?;
    let frame = match name.as_ref() {
        "event" => ChatFrame::Event(decode_event_envelope(text)?),
        "error" => ChatFrame::Error(decode_error_frame(text)?),
        "command_result" => return capture("command_result", text, &["type", "version", "event_id"]).map(ServerFrame::CommandResult),
        _ => ChatFrame::Unknown(UnknownFrame { name: name.into_owned(), raw: serde_json::from_str(text).unwrap_or(Value::Null) }),
    };
    Ok(ServerFrame::Chat(frame))
}

fn decode_event_envelope(text: &str) -> Result<ChatEvent, DecodeError> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        data: &'a RawValue,
    }
    let envelope: Envelope = serde_json::from_str(text).map_err(|e| decode_error("event frame", &e))?;
    decode_chat_event(envelope.data.get())
}

/// An error frame with its class, its message scrubbed of credentials (a server may echo
/// the URL or a token in it).
pub fn decode_error_frame(text: &str) -> Result<ServerError, DecodeError> {
    let mut error: ServerError = capture("error frame", text, &["type"])?;
    error.class = ErrorClass::of(error.code.as_deref());
    error.message = scrub(&error.message);
    Ok(error)
}

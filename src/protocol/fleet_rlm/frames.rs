//! The chat socket's envelopes (spec §3.3): `{"type":"event","data":…}`,
//! `{"type":"command_result",…}` and `{"type":"error",…}`, decoded by reading `type` first
//! and then the concrete body.

use serde::Serialize;
use serde_json::value::RawValue;
use tsify::Tsify;

use std::borrow::Cow;

use super::auth::scrub;
use super::chat_events::{decode_chat_event, ChatEvent};
use super::errors::{ErrorClass, ServerError};
use super::execution::type_of;
use super::json::{decode, decode_fields, decode_with, Extra};
use crate::core::json_read::{self, read_fields, JsonText, RawJson};
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
    pub raw: JsonText,
}

/// `{"type":"command_result","command","result":{status,…},"version","event_id"}`: the
/// answer to a `command`, which names no request; it is matched to the oldest command of
/// the same name in flight.
#[derive(Debug, Default)]
pub struct CommandResult {
    pub command: String,
    /// `{status:"ok",…}` or `{status:"error",error,message_id}`.
    pub result: Box<RawValue>,
    /// Keys this SDK does not declare, as sent.
    pub extra: Extra,
}

/// The envelope's own keys besides `command` and `result`.
const COMMAND_RESULT_IGNORED: &[&str] = &["type", "version", "event_id"];

decode_fields!(CommandResult { command, result }, ignore COMMAND_RESULT_IGNORED);

impl CommandResult {
    /// `Err(message)` for a result with `status` other than `"ok"`.
    pub fn outcome(&self) -> Result<&RawValue, String> {
        let (status, error): (Option<Cow<str>>, Option<Cow<str>>) = json_read::read_all(self.result.get(), |r| {
            read_fields!(r, "struct Status", { status: "status", error: "error" });
            Ok((status.flatten(), error.flatten()))
        })
        .unwrap_or((None, None));
        match status.as_deref() {
            Some("ok") => Ok(&self.result),
            _ => Err(scrub(&error.map_or_else(|| format!("{} failed", self.command), Cow::into_owned))),
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
        "command_result" => return decode("command_result", text).map(ServerFrame::CommandResult),
        _ => ChatFrame::Unknown(UnknownFrame { name: name.into_owned(), raw: json_read::from_str(text).unwrap_or_default() }),
    };
    Ok(ServerFrame::Chat(frame))
}

fn decode_event_envelope(text: &str) -> Result<ChatEvent, DecodeError> {
    let RawJson(data) = decode_with("event frame", text, |r| {
        read_fields!(r, "struct Envelope", { data: "data" });
        json_read::need(r, data, "data")
    })?;
    decode_chat_event(data)
}

/// An error frame with its class, its message scrubbed of credentials (a server may echo
/// the URL or a token in it).
pub fn decode_error_frame(text: &str) -> Result<ServerError, DecodeError> {
    let mut error: ServerError = decode("error frame", text)?;
    error.class = ErrorClass::of(error.code.as_deref());
    error.message = scrub(&error.message);
    Ok(error)
}

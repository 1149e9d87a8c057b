//! What a connection hands the app, whatever the protocol: state changes, routed events,
//! diagnostics and request results. These are the JS-facing shapes (tsify generates their
//! types); `E` is the protocol's typed event.
//!
//! Every diagnostic says what happened and what the SDK does about it; none carries a
//! credential or a raw frame.

use std::sync::Arc;

use serde::Serialize;
use tsify::Tsify;

use super::lifecycle::{ConnState, LossReason};
use super::wire::{DecodeError, ErrorTrace};

/// Identifies one app subscription. Ids are chosen by the app-facing side, increasing and
/// never reused, so a subscription has its id before the engine has seen it.
pub type SubId = u32;

/// An event as delivered to subscriptions: the typed event plus where it came from.
///
/// `epoch` numbers the connection; `seq` is the server's frame number on it (absent for
/// events the SDK synthesised from a command result while re-seeding after a reconnect).
///
/// Each protocol declares its TypeScript type by hand (`Event & { epoch; seq? }`): tsify
/// renders a flattened union as `interface Delivered extends Event`, which TypeScript rejects.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivered<E> {
    pub epoch: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(flatten)]
    pub event: E,
}

/// One event and the subscriptions it goes to, in ascending id order.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery<E> {
    pub subscriptions: Vec<SubId>,
    pub event: Arc<Delivered<E>>,
}

/// A connection state change: `{ newState, oldState }` in the centrifuge vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    pub new_state: ConnState,
    pub old_state: ConnState,
    pub epoch: u32,
    /// Why a connection was lost, when this change is a loss.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<LossReason>,
    /// The server's message when the credential was rejected.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Something the app may want to know about the stream's health. Discriminated on `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Tsify)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Diagnostic {
    /// Frames `first..=last` of connection `epoch` never arrived; events among them are
    /// lost. Delivery continues after the hole.
    Gap { epoch: u32, first: u64, last: u64, missing: u64 },
    /// A frame arrived twice; the copy was dropped.
    Duplicate { epoch: u32, seq: u64 },
    /// A frame arrived after its gap had been reported. An event is dropped to keep order;
    /// a response still completes its request.
    Late { epoch: u32, seq: u64 },
    /// A frame's `seq` was implausibly far ahead; it was delivered without moving the
    /// sequence, so later frames still arrive.
    SeqAnomaly { epoch: u32, seq: u64, expected: u64 },
    /// The connection was re-established after a loss. Events of the offline interval are
    /// lost (RocketRide has no replay); subscriptions were re-sent and state re-seeded.
    Resync {
        epoch: u32,
        offline_ms: u64,
        /// The subscribed connections lost since the previous live one, oldest first: on
        /// each, whatever the server sent after `lastSeq` never arrived.
        lost: Vec<LostTail>,
        /// Server keys re-subscribed (task tokens redacted).
        resubscribed: Vec<String>,
        /// What was re-seeded: task ids whose status was re-fetched, and `"dashboard"`.
        reseeded: Vec<String>,
    },
    /// A frame could not be decoded; it was skipped. `event` names it when known.
    DecodeError {
        epoch: u32,
        #[tsify(optional)]
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[tsify(optional)]
        #[serde(skip_serializing_if = "Option::is_none")]
        event: Option<String>,
        error: DecodeError,
    },
    /// A frame exceeded `maxFrameBytes` and was dropped unread.
    OversizedFrame { epoch: u32, bytes: u64, limit: u64 },
    /// A response matched no request in flight (late after a timeout, or a lying server).
    UnknownResponse {
        epoch: u32,
        #[tsify(optional)]
        #[serde(skip_serializing_if = "Option::is_none")]
        request_seq: Option<u64>,
        command: String,
    },
    /// The server refused a subscription call (the SDK retries it after the next reconnect)
    /// or did not answer it (the SDK sends it again at once).
    SubscribeError { key: String, message: String },
    /// A server-side subscription was re-asserted because the server may have dropped it
    /// silently (task cleanup).
    Reasserted { key: String, reason: String },
    /// The state of the subscribed tasks was fetched after a reconnect (the server sends
    /// no SUMMARY seed for `token:"*"` or `source:"*"` scopes, and a reconnect may have
    /// missed anything). Follows the `resync` of the same connection.
    Reseeded {
        epoch: u32,
        /// Tasks whose current status was delivered (without a `seq`).
        statuses: Vec<String>,
        /// Tasks that were running before the connection was lost and ended while the
        /// client was away; their final status is among `statuses` while the server still
        /// lists them (about 5 minutes after the end).
        ended: Vec<String>,
        /// Tasks whose status could not be fetched, and why.
        failed: Vec<TaskNote>,
    },
    /// An event named a task the SDK could not place in a project (its body carries only
    /// the task id and the server's task list did not name it). It was delivered to the
    /// subscriptions that match without knowing (e.g. `token:"*"`); project or source
    /// subscriptions may have missed it.
    Unroutable {
        epoch: u32,
        #[tsify(optional)]
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        task_id: String,
        reason: String,
    },
    /// The app's credential callback failed; the SDK backs off and asks again.
    CredentialError { message: String },
    /// An app callback threw; delivery continued.
    CallbackError { message: String },
    /// A bounded buffer overflowed and dropped its oldest entries.
    Overflow { queue: String, dropped: u64 },
}

/// A task and something about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TaskNote {
    pub task_id: String,
    pub reason: String,
}

/// Where a lost connection's stream broke off: frames of connection `epoch` after
/// `lastSeq` never arrived (every frame up to it was delivered or reported in a `gap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct LostTail {
    pub epoch: u32,
    pub last_seq: u64,
}

/// Why a request failed. Discriminated on `code`; `message` is human-readable.
#[derive(Clone, Debug, PartialEq, Serialize, Tsify, thiserror::Error)]
#[serde(tag = "code", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum RequestError {
    /// The server answered with an error.
    #[error("{message}")]
    Server {
        message: String,
        #[tsify(optional)]
        #[serde(skip_serializing_if = "Option::is_none")]
        trace: Option<ErrorTrace>,
    },
    /// No answer within the timeout.
    #[error("request timed out after {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    /// The connection was lost before the answer arrived; the command may or may not have run.
    #[error("connection lost before the response arrived")]
    ConnectionLost,
    /// The client is closed (or authentication failed); nothing was sent.
    #[error("the client is closed")]
    Closed,
    /// Too many requests are in flight.
    #[error("too many requests in flight")]
    Busy,
    /// The request was refused before sending (e.g. an invalid argument).
    #[error("{message}")]
    Invalid { message: String },
    /// The response body did not have the expected shape.
    #[error("{message}")]
    BadResponse { message: String },
}

/// The `code` of a `RunwatchError`, thrown synchronously for a bad argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub enum UsageErrorCode {
    /// An unknown option name, or an option of the wrong type.
    InvalidOptions,
    /// The URL does not parse, is plain `ws://` to a remote host without `allowInsecure`,
    /// or carries a credential.
    InvalidUrl,
    /// `auth` is neither a string nor a function.
    InvalidAuth,
    /// The scope is not one of the scope forms.
    InvalidScope,
    /// An unknown type name, a bare string, or a bitmask out of range.
    InvalidTypes,
}

// What is thrown, typed from the types above: a request's rejection is an `Error` carrying
// every field of its `RequestError` variant (`code`, `message`, `timeoutMs`, `trace`), so
// `switch (e.code)` narrows it like the union.
#[wasm_bindgen::prelude::wasm_bindgen(typescript_custom_section)]
const ERRORS_TS: &'static str = r#"
/** Thrown synchronously for a bad argument; recoverable by fixing the call. */
export type RunwatchError = Error & { name: "RunwatchError"; code: UsageErrorCode };
/** What a request's promise rejects with: an `Error` carrying its `RequestError` fields. */
export type RunwatchRequestError = Error & { name: "RunwatchRequestError" } & RequestError;
"#;

/// Everything the client emits, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<E> {
    State(StateChange),
    Deliver(Delivery<E>),
    Diagnostic(Diagnostic),
    /// The result of an app request.
    Reply { id: u32, result: Result<Option<String>, RequestError> },
    /// The socket of `epoch` is open: the shell must obtain the credential and pass it to
    /// `provide_credential` (it may be fetched asynchronously).
    NeedCredential { epoch: u32 },
}

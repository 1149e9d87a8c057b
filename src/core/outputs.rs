//! What a connection hands the app, whatever the protocol: state changes, routed events,
//! diagnostics and request results. These are the JS-facing shapes (tsify generates their
//! types); `E` is the protocol's typed event.
//!
//! Every diagnostic says what happened and what the SDK does about it; none carries a
//! credential or a raw frame.

use std::sync::Arc;

use serde::Serialize;
use tsify::Tsify;

use super::json_write::NotJson;
use super::lifecycle::{ConnState, LossReason};
use super::wire::{DecodeError, ErrorTrace};

/// Identifies one app subscription. Ids are chosen by the app-facing side, increasing and
/// never reused, so a subscription has its id before the engine has seen it.
pub type SubId = u32;

/// An event as delivered to subscriptions: the typed event plus where it came from.
///
/// `epoch` numbers the connection; `seq` is the server's frame number on it (absent for
/// events the SDK synthesised from a command result while re-seeding after a reconnect,
/// and for replayed ones). `replayed` is true (and only then serialised) for an event
/// missed while offline and read back from the server's log after the reconnect.
///
/// Each protocol declares its TypeScript type by hand (`Event & { epoch; seq? }`): tsify
/// renders a flattened union as `interface Delivered extends Event`, which TypeScript rejects.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivered<E> {
    pub epoch: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
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
    /// The connection was re-established after a loss: subscriptions were re-sent and
    /// state re-seeded. Events of the offline interval are lost unless the server keeps a
    /// log the SDK could replay them from: `replayed` says which missed windows were closed
    /// (those events were delivered, marked `replayed`, right after this diagnostic) and
    /// `unreplayable` what could not be replayed and why.
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
        /// Missed windows closed from the server's log, one per stream.
        replayed: Vec<ReplayedRange>,
        /// What could not be replayed, and why.
        unreplayable: Vec<Unreplayable>,
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
        failed: Vec<TaskFailure>,
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
    /// A value could not be converted for JavaScript (`what`: an event, a state change);
    /// it was skipped rather than handed on as `undefined`. The SDK's own types should
    /// never cause this: please report it.
    SerializeError { what: String, reason: String },
    /// The socket is open, but events the protocol expects on it have not arrived for
    /// `silentMs` (e.g. a run is known to be under way); `message` says what to check.
    Stalled { epoch: u32, silent_ms: u64, message: String },
    /// A bounded buffer overflowed and dropped its oldest entries.
    Overflow { queue: String, dropped: u64 },
}

/// A task the SDK could not do something for, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct TaskFailure {
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

/// One stream's missed window, read back from the server's log after a reconnect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedRange {
    /// The stream, as the protocol names it (RocketRide: `"<projectId>/<source>/<runKind>"`).
    pub stream: String,
    /// The window, inclusive: from the first position after the last event applied before
    /// the loss to the one before the first event received live after it (the last
    /// position read when nothing had arrived live).
    pub from: u64,
    pub to: u64,
    /// Events delivered from the log (after dropping copies and events no subscription
    /// would have received live).
    pub count: u64,
    /// A new run of the stream started while the client was offline.
    pub new_run: bool,
}

/// Part of the offline interval the SDK could not replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub struct Unreplayable {
    /// The stream (see [`ReplayedRange::stream`]); `"*"` for every stream.
    pub stream: String,
    pub reason: UnreplayableReason,
    /// What happened, in words.
    pub message: String,
    /// The positions concerned, inclusive, when known.
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    #[tsify(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
}

/// Why part of the offline interval could not be replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub enum UnreplayableReason {
    /// The server keeps no log (it refused the log command); nothing is asked again.
    Unsupported,
    /// The server refused the log read (e.g. a permission); `message` says why.
    Refused,
    /// The oldest part of the window is no longer retained.
    AgedOut,
    /// Status snapshots are sampled in the log; the freshest state is the re-seed.
    SampledStatuses,
    /// Seeds, dashboard events and frames sent before a run's log opened are never logged.
    NotLogged,
    /// The log answered nothing for the stream (another owner, another run kind, an
    /// unlogged run or an unreadable log).
    EmptyLog,
    /// The server's paging stopped advancing.
    Stuck,
    /// The server did not answer a log request in time.
    Timeout,
    /// Too many events were waiting; the rest of the window was given up.
    Overflow,
    /// The connection was lost during the replay; it resumes after the next reconnect.
    Interrupted,
    /// Entries of the log this SDK could not decode (`message` counts them).
    Undecodable,
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

/// A typed reply the SDK decoded but could not write for the app.
impl From<NotJson> for RequestError {
    fn from(e: NotJson) -> Self {
        RequestError::BadResponse { message: format!("the result could not be serialised: {e}") }
    }
}

/// The `code` of a `RunwatchError`, thrown synchronously for a bad argument (its
/// TypeScript `RunwatchError` type is declared beside the classes, in `src/web/client.rs`).
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
    /// A listener or callback that is not a function.
    InvalidListener,
    /// fleet-rlm: a message, command or feedback the server would refuse (blank content,
    /// a missing id, …); nothing was sent.
    InvalidMessage,
    /// fleet-rlm: a turn is already running on the chat socket (one at a time): cancel it
    /// or wait for its end.
    TurnInProgress,
    /// fleet-rlm: the chat socket is not live, so the message was not sent (messages are
    /// never queued: a turn starting late would be a surprise).
    NotConnected,
    /// fleet-rlm: the client was created without the socket this call needs
    /// (`chat: false` or `events: false`).
    Unavailable,
}

/// Everything the client emits, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<E> {
    State(StateChange),
    Deliver(Delivery<E>),
    /// Boxed: a diagnostic is rare and the largest output, and every output is moved
    /// several times on its way to the app (each move a copy of the whole enum).
    Diagnostic(Box<Diagnostic>),
    /// The result of an app request.
    Reply { id: u32, result: Result<Option<String>, RequestError> },
    /// The socket of `epoch` is open: the shell must obtain the credential and pass it to
    /// `provide_credential` (it may be fetched asynchronously).
    NeedCredential { epoch: u32 },
}

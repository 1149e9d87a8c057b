//! `apaevt_dashboard` server events (spec §4.7): connections, subscriptions, auth
//! failures and task cleanup. Delivered only through the `{token:"*"}` scope with the
//! DASHBOARD bit; every body carries `timestamp` and `__id: ""` (dropped).

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::json::lenient_f64;

/// A server-level event, discriminated by `action` (the wire values).
//
// Decoded through serde's internally tagged path, which buffers the body. That is the
// 2× cost DESIGN.md warns about, accepted here: these events are rare (connection and
// subscription changes), unlike status, flow or output.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DashboardEvent {
    /// A connection authenticated.
    ConnectionAdded {
        /// Epoch seconds.
        #[tsify(type = "number | null")]
        #[serde(deserialize_with = "lenient_f64::deserialize")]
        timestamp: f64,
        /// Server-wide monotonic connection id.
        #[serde(rename = "connectionId")]
        connection_id: u64,
        /// Client name from the auth handshake.
        #[serde(rename = "clientName")]
        client_name: Option<String>,
        /// Client version from the auth handshake.
        #[serde(rename = "clientVersion")]
        client_version: Option<String>,
        /// Account identifier.
        #[serde(rename = "clientId")]
        client_id: Option<String>,
    },
    /// A connection closed.
    ConnectionRemoved {
        /// Epoch seconds.
        #[tsify(type = "number | null")]
        #[serde(deserialize_with = "lenient_f64::deserialize")]
        timestamp: f64,
        /// Server-wide monotonic connection id.
        #[serde(rename = "connectionId")]
        connection_id: u64,
        /// Client name from the auth handshake.
        #[serde(rename = "clientName")]
        client_name: Option<String>,
        /// Client version from the auth handshake.
        #[serde(rename = "clientVersion")]
        client_version: Option<String>,
    },
    /// A connection subscribed or unsubscribed a monitor key (the subscriber itself
    /// included).
    MonitorChanged {
        /// Epoch seconds.
        #[tsify(type = "number | null")]
        #[serde(deserialize_with = "lenient_f64::deserialize")]
        timestamp: f64,
        /// Server-wide monotonic connection id.
        #[serde(rename = "connectionId")]
        connection_id: u64,
        /// Client name from the auth handshake.
        #[serde(rename = "clientName")]
        client_name: Option<String>,
        /// Client version from the auth handshake.
        #[serde(rename = "clientVersion")]
        client_version: Option<String>,
        /// A display label of the key (`"<all>"`, `"<Project:xxxxxxxx.src>"`, a task id…),
        /// not the registry key itself.
        key: String,
        /// `"subscribed"` or `"unsubscribed"`.
        change: MonitorChange,
    },
    /// An authentication attempt failed somewhere on the server (not tenant-filtered).
    AuthFailed {
        /// Epoch seconds.
        #[tsify(type = "number | null")]
        #[serde(deserialize_with = "lenient_f64::deserialize")]
        timestamp: f64,
        /// Server-wide monotonic connection id.
        #[serde(rename = "connectionId")]
        connection_id: u64,
        /// Why the credential was refused.
        reason: String,
        /// HTTP-like status code, e.g. 401.
        code: i64,
    },
    /// A completed task was cleaned up; its project subscriptions are gone with it.
    TaskRemoved {
        /// Epoch seconds.
        #[tsify(type = "number | null")]
        #[serde(deserialize_with = "lenient_f64::deserialize")]
        timestamp: f64,
        /// The task id.
        #[serde(rename = "taskId")]
        task_id: String,
    },
    /// A task exited with a non-zero exit code.
    TaskError {
        /// Epoch seconds.
        #[tsify(type = "number | null")]
        #[serde(deserialize_with = "lenient_f64::deserialize")]
        timestamp: f64,
        /// The task id.
        #[serde(rename = "taskId")]
        task_id: String,
        /// Process exit code.
        #[serde(rename = "exitCode")]
        exit_code: i64,
        /// Exit message from the engine.
        #[serde(rename = "exitMessage")]
        exit_message: Option<String>,
    },
}

impl DashboardEvent {
    /// The task a `task_removed` event reports cleaned up: the server has also dropped
    /// every project subscription of it (spec §3.6).
    pub fn removed_task_id(&self) -> Option<&str> {
        match self {
            DashboardEvent::TaskRemoved { task_id, .. } => Some(task_id),
            _ => None,
        }
    }
}

/// Direction of a `monitor_changed` dashboard event.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MonitorChange {
    /// The key was added or its bits replaced.
    Subscribed,
    /// The key was removed.
    Unsubscribed,
}

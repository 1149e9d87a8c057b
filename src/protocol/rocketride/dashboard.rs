//! `apaevt_dashboard` server events (spec §4.7): connections, subscriptions, auth
//! failures and task cleanup. Delivered only through the `{token:"*"}` scope with the
//! DASHBOARD bit; every body carries `timestamp` and `__id: ""` (dropped).

use serde::{Deserialize, Serialize};
use tsify::Tsify;

use super::json::{from_str_capturing, lenient_f64, Extra, HasExtra};

/// A server-level event, discriminated by `action` (the wire values).
//
// Decoded by reading `action` first and then the concrete body straight into its struct
// ([`DashboardEvent::decode`]), which also keeps undeclared fields in `extra`. The derived
// `Deserialize` (internally tagged, buffering) is kept for round trips and tests.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DashboardEvent {
    /// A connection authenticated.
    ConnectionAdded(ConnectionEvent),
    /// A connection closed (`clientId` absent).
    ConnectionRemoved(ConnectionEvent),
    /// A connection subscribed or unsubscribed a monitor key (the subscriber itself
    /// included).
    MonitorChanged(MonitorChangedEvent),
    /// An authentication attempt failed somewhere on the server (not tenant-filtered).
    AuthFailed(AuthFailedEvent),
    /// A completed task was cleaned up; its project subscriptions are gone with it.
    TaskRemoved(TaskRemovedEvent),
    /// A task exited with a non-zero exit code.
    TaskError(TaskErrorEvent),
}

/// Wire keys of a dashboard body that are not fields: the tag and the empty `__id`.
const IGNORED: &[&str] = &["action", "__id"];

impl DashboardEvent {
    /// Decodes a body whose `action` is `action`; `None` when this SDK does not know that
    /// action (the caller passes the event on as `unknown`).
    pub fn decode(action: &str, body: &str) -> Option<serde_json::Result<DashboardEvent>> {
        use DashboardEvent as D;
        Some(match action {
            "connection_added" => from_str_capturing(body, IGNORED).map(D::ConnectionAdded),
            "connection_removed" => from_str_capturing(body, IGNORED).map(D::ConnectionRemoved),
            "monitor_changed" => from_str_capturing(body, IGNORED).map(D::MonitorChanged),
            "auth_failed" => from_str_capturing(body, IGNORED).map(D::AuthFailed),
            "task_removed" => from_str_capturing(body, IGNORED).map(D::TaskRemoved),
            "task_error" => from_str_capturing(body, IGNORED).map(D::TaskError),
            _ => return None,
        })
    }

    /// The task a `task_removed` event reports cleaned up: the server has also dropped
    /// every project subscription of it (spec §3.6).
    pub fn removed_task_id(&self) -> Option<&str> {
        match self {
            DashboardEvent::TaskRemoved(e) => Some(&e.task_id),
            _ => None,
        }
    }
}

/// The `extra` field of a dashboard body and its `HasExtra` impl.
macro_rules! dashboard_body {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(Tsify, Serialize, Deserialize, Debug, Clone, PartialEq)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Epoch seconds.
            #[tsify(type = "number | null")]
            #[serde(deserialize_with = "lenient_f64::deserialize")]
            pub timestamp: f64,
            $($body)*
            /// Body fields this SDK version does not declare, exactly as the server sent
            /// them. Absent when there are none.
            #[serde(default, rename(serialize = "extra", deserialize = "\u{0}extra"), skip_serializing_if = "Extra::is_empty")]
            #[tsify(optional, type = "Record<string, unknown>")]
            pub extra: Extra,
        }

        impl HasExtra for $name {
            fn extra_mut(&mut self) -> &mut Extra {
                &mut self.extra
            }
        }
    };
}

dashboard_body! {
    /// `connection_added` / `connection_removed`.
    pub struct ConnectionEvent {
        /// Server-wide monotonic connection id.
        pub connection_id: u64,
        /// Client name from the auth handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_name: Option<String>,
        /// Client version from the auth handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_version: Option<String>,
        /// Account identifier (`connection_added` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_id: Option<String>,
    }
}

dashboard_body! {
    /// `monitor_changed`.
    pub struct MonitorChangedEvent {
        /// Server-wide monotonic connection id.
        pub connection_id: u64,
        /// Client name from the auth handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_name: Option<String>,
        /// Client version from the auth handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_version: Option<String>,
        /// A display label of the key (`"<all>"`, `"<Project:xxxxxxxx.src>"`, a task id…),
        /// not the registry key itself.
        pub key: String,
        /// `"subscribed"` or `"unsubscribed"`.
        pub change: MonitorChange,
    }
}

dashboard_body! {
    /// `auth_failed`.
    pub struct AuthFailedEvent {
        /// Server-wide monotonic connection id.
        pub connection_id: u64,
        /// Why the credential was refused.
        pub reason: String,
        /// HTTP-like status code, e.g. 401.
        pub code: i64,
    }
}

dashboard_body! {
    /// `task_removed`.
    pub struct TaskRemovedEvent {
        /// The task id.
        pub task_id: String,
    }
}

dashboard_body! {
    /// `task_error`.
    pub struct TaskErrorEvent {
        /// The task id.
        pub task_id: String,
        /// Process exit code.
        pub exit_code: i64,
        /// Exit message from the engine (absent when the server sent `null`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub exit_message: Option<String>,
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

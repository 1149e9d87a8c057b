//! `apaevt_dashboard` server events (spec §4.7): connections, subscriptions, auth
//! failures and task cleanup. Delivered only through the `{token:"*"}` scope with the
//! DASHBOARD bit; every body carries `timestamp` and `__id: ""` (dropped).

use serde::Serialize;
use tsify::Tsify;

use crate::core::json_read::{self, decode_object, Decode, Reader};
use super::json::{lenient, Extra};

/// A server-level event, discriminated by `action` (the wire values).
//
// Decoded by reading `action` first and then the concrete body straight into its struct
// ([`DashboardEvent::decode`]), which also keeps undeclared fields in `extra`.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
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
impl DashboardEvent {
    /// Decodes a body whose `action` is `action`; `None` when this SDK does not know that
    /// action (the caller passes the event on as `unknown`).
    pub fn decode(action: &str, body: &str) -> Option<json_read::Result<DashboardEvent>> {
        use DashboardEvent as D;
        Some(match action {
            "connection_added" => json_read::from_str(body).map(D::ConnectionAdded),
            "connection_removed" => json_read::from_str(body).map(D::ConnectionRemoved),
            "monitor_changed" => json_read::from_str(body).map(D::MonitorChanged),
            "auth_failed" => json_read::from_str(body).map(D::AuthFailed),
            "task_removed" => json_read::from_str(body).map(D::TaskRemoved),
            "task_error" => json_read::from_str(body).map(D::TaskError),
            _ => return None,
        })
    }

    pub fn removed_task_id(&self) -> Option<&str> {
        match self {
            DashboardEvent::TaskRemoved(e) => Some(&e.task_id),
            _ => None,
        }
    }
}

/// A dashboard body: `timestamp`, its own fields (each with its wire key), `extra`, and its
/// [`Decode`].
macro_rules! dashboard_body {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident: $fty:ty = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Epoch seconds.
            #[tsify(type = "number | null")]
            pub timestamp: f64,
            $($(#[$fmeta])* pub $field: $fty,)*
            /// Body fields this SDK version does not declare, exactly as the server sent
            /// them. Absent when there are none.
            #[serde(default, rename = "extra", skip_serializing_if = "Extra::is_empty")]
            #[tsify(optional, type = "Record<string, unknown>")]
            pub extra: Extra,
        }

        impl<'a> Decode<'a> for $name {
            fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
                let mut extra = Extra::default();
                decode_object!(r, $name { timestamp: "timestamp" => lenient, $($field: $wire,)* },
                    |key| extra.keep(r, key, &["action", "__id"]), extra: extra)
            }
        }
    };
}

dashboard_body! {
    /// `connection_added` / `connection_removed`.
    pub struct ConnectionEvent {
        /// Server-wide monotonic connection id.
        pub connection_id: u64 = "connectionId",
        /// Client name from the auth handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_name: Option<String> = "clientName",
        /// Client version from the auth handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_version: Option<String> = "clientVersion",
        /// Account identifier (`connection_added` only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_id: Option<String> = "clientId",
    }
}

dashboard_body! {
    /// `monitor_changed`.
    pub struct MonitorChangedEvent {
        /// Server-wide monotonic connection id.
        pub connection_id: u64 = "connectionId",
        /// Client name from the auth handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_name: Option<String> = "clientName",
        /// Client version from the auth handshake.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub client_version: Option<String> = "clientVersion",
        /// A display label of the key (`"<all>"`, `"<Project:xxxxxxxx.src>"`, a task id…),
        /// not the registry key itself.
        pub key: String = "key",
        /// `"subscribed"` or `"unsubscribed"`.
        pub change: MonitorChange = "change",
    }
}

dashboard_body! {
    /// `auth_failed`.
    pub struct AuthFailedEvent {
        /// Server-wide monotonic connection id.
        pub connection_id: u64 = "connectionId",
        /// Why the credential was refused.
        pub reason: String = "reason",
        /// HTTP-like status code, e.g. 401.
        pub code: i64 = "code",
    }
}

dashboard_body! {
    /// `task_removed`.
    pub struct TaskRemovedEvent {
        /// The task id.
        pub task_id: String = "taskId",
    }
}

dashboard_body! {
    /// `task_error`.
    pub struct TaskErrorEvent {
        /// The task id.
        pub task_id: String = "taskId",
        /// Process exit code.
        pub exit_code: i64 = "exitCode",
        /// Exit message from the engine (absent when the server sent `null`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub exit_message: Option<String> = "exitMessage",
    }
}

/// Direction of a `monitor_changed` dashboard event.
#[derive(Tsify, Serialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MonitorChange {
    /// The key was added or its bits replaced.
    #[default]
    Subscribed,
    /// The key was removed.
    Unsubscribed,
}

impl<'a> Decode<'a> for MonitorChange {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        Ok([MonitorChange::Subscribed, MonitorChange::Unsubscribed][r.variant(&["subscribed", "unsubscribed"])?])
    }
}

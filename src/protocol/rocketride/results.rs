//! Typed bodies of the command responses the SDK uses (spec §1.3, §5).
//!
//! Decode them from [`Response::body`](super::envelope::Response::body) with
//! `serde_json::from_str(body.get())`. Snapshots and account info are lenient: a field a
//! server leaves out takes its default. (tsify marks such fields optional in TypeScript.)

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tsify::Tsify;

/// `execute` result: the started task.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteResult {
    /// Task id, `"<8 hex of token>.<source>"`.
    pub id: String,
    /// Task token (`tk_…`); deterministic per user, project and source.
    pub token: String,
    /// Public token (`pk_…`): SSE events only.
    pub public_token: String,
    /// Project id.
    pub project_id: String,
    /// Source component id.
    pub source: String,
    /// Source provider, e.g. `"chat"`.
    pub provider: String,
}

/// `rrext_get_token` result.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TokenResult {
    /// The task token of the first registered task of that project and source.
    pub token: String,
}

/// `rrext_ping` result.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PingResult {
    /// Always true.
    pub pong: bool,
}

/// `rrext_dashboard` result: the best snapshot for re-seeding after a reconnect.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct DashboardSnapshot {
    /// Server-wide counts.
    pub overview: DashboardOverview,
    /// Connections visible to the caller.
    pub connections: Vec<DashboardConnection>,
    /// Tasks visible to the caller.
    pub tasks: Vec<DashboardTask>,
}

/// Server-wide counts, scoped to the caller's permissions.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct DashboardOverview {
    /// Connections visible to the caller.
    pub total_connections: u64,
    /// Tasks in states 1–4.
    pub active_tasks: u64,
    /// Seconds since the server started.
    pub server_uptime: f64,
}

/// One WebSocket connection to the server.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct DashboardConnection {
    /// Server-wide monotonic connection id.
    pub id: u64,
    /// Epoch seconds.
    pub connected_at: f64,
    /// Epoch seconds of the last received message.
    pub last_activity: f64,
    /// Messages received from the client.
    pub messages_in: u64,
    /// Messages sent to the client.
    pub messages_out: u64,
    /// Whether it has authenticated.
    pub authenticated: bool,
    /// Account identifier.
    pub client_id: Option<String>,
    /// Client name and version from the auth handshake.
    #[tsify(type = "unknown")]
    pub client_info: Value,
    /// Its monitor subscriptions. Keys are display labels, not registry keys (Errata 1).
    pub monitors: Vec<DashboardMonitor>,
    /// The tasks it watches.
    #[tsify(type = "unknown")]
    pub attached_tasks: Value,
}

/// One monitor subscription as `rrext_dashboard` reports it.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct DashboardMonitor {
    /// A display label such as `"All tasks"` or `"61e1aa6b.webhook_1"`.
    pub key: String,
    /// Lower-case type names, e.g. `["summary", "task"]`.
    pub flags: Vec<String>,
}

/// One task as `rrext_dashboard` reports it.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct DashboardTask {
    /// Task id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Project id.
    pub project_id: String,
    /// Source component id.
    pub source: String,
    /// Source provider.
    pub provider: String,
    /// `"launch"` or `"execute"`.
    pub launch_type: String,
    /// Epoch seconds.
    pub start_time: f64,
    /// Seconds running.
    pub elapsed_time: f64,
    /// Whether it has finished.
    pub completed: bool,
    /// Status text (running tasks).
    pub status: Option<String>,
    /// Exit code (completed tasks).
    pub exit_code: Option<i64>,
    /// Epoch seconds of completion (completed tasks).
    pub end_time: Option<f64>,
    /// Attached client connections.
    pub connections: u64,
    /// The wire `TASK_STATE` number.
    pub state: i64,
    /// Seconds since the last activity.
    pub idle_time: f64,
    /// Time to live in seconds (0 = none).
    pub ttl: f64,
    /// Engine metrics, as sent.
    #[tsify(type = "unknown")]
    pub metrics: Value,
    /// Objects to process.
    pub total_count: u64,
    /// Objects completed.
    pub completed_count: u64,
    /// Objects per second.
    pub rate_count: f64,
    /// Bytes per second.
    pub rate_size: f64,
}

/// The `auth` result: who we are and what we may do.
///
/// The server's `userToken` is deliberately not a field: in OSS it echoes the raw API
/// key, and the SDK must never keep or hand it out.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct AccountInfo {
    /// User id (`"local"` in OSS).
    pub user_id: String,
    /// Display name.
    pub display_name: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Preferred user name.
    pub preferred_username: String,
    /// E-mail address.
    pub email: String,
    /// Whether the e-mail is verified.
    pub email_verified: bool,
    /// Phone number.
    pub phone_number: String,
    /// Whether the phone number is verified.
    pub phone_number_verified: bool,
    /// Locale.
    pub locale: String,
    /// Default team id.
    pub default_team: String,
    /// Organisations and their teams.
    pub organizations: Vec<Organization>,
    /// Installed apps, as sent.
    #[tsify(type = "unknown[]")]
    pub apps: Vec<Value>,
    /// Server capabilities, e.g. `["oss"]`.
    pub capabilities: Vec<String>,
}

/// An organisation the user belongs to.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct Organization {
    /// Organisation id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Organisation-level permissions.
    pub permissions: Vec<String>,
    /// Its teams.
    pub teams: Vec<Team>,
}

/// A team; task permissions are per team.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct Team {
    /// Team id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Permissions, e.g. `"task.monitor"`, `"task.data"`.
    pub permissions: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::rocketride::envelope::{decode_frame, FrameBody};
    use serde_json::json;

    const SAMPLE: &str = include_str!("../../../tests/fixtures/rocketride-sample.jsonl");

    fn sample_body(line: usize) -> String {
        let frame = decode_frame(SAMPLE.lines().nth(line).unwrap().as_bytes()).unwrap();
        let FrameBody::Response(response) = frame.body else { panic!() };
        response.body.unwrap().get().to_owned()
    }

    #[test]
    fn execute_result_from_the_sample() {
        let result: ExecuteResult = serde_json::from_str(&sample_body(8)).unwrap();
        assert_eq!(result.token, "tk_bee3a8ea46c24f6e1ac107ba9e8b63a8");
        assert_eq!(
            (result.public_token.as_str(), result.provider.as_str()),
            ("pk_f576211d621791705f5984680c303984", "chat")
        );
        assert_eq!(serde_json::to_value(&result).unwrap()["publicToken"], "pk_f576211d621791705f5984680c303984");
    }

    #[test]
    fn account_info_never_keeps_the_user_token() {
        let body = sample_body(1);
        assert!(body.contains("my-local-api-key"));
        let account: AccountInfo = serde_json::from_str(&body).unwrap();
        assert_eq!((account.user_id.as_str(), account.capabilities.clone()), ("local", vec!["oss".to_string()]));
        assert!(account.organizations[0].teams[0].permissions.iter().any(|p| p == "task.monitor"));
        let out = serde_json::to_string(&account).unwrap();
        assert!(!out.contains("userToken") && !out.contains("my-local-api-key"), "{out}");
        assert!(out.contains("\"preferredUsername\":\"developer\""));
        assert!(!AccountInfo::DECL.contains("userToken:") && AccountInfo::DECL.contains("userId?: string;"));
    }

    #[test]
    fn dashboard_snapshot_is_lenient() {
        let body = json!({
            "overview": {"totalConnections": 2, "activeTasks": 1, "serverUptime": 12.5, "eaasNodes": 0},
            "connections": [{"id": 1, "connectedAt": 1.5, "authenticated": true, "clientId": null,
                "clientInfo": {"clientName": "x"}, "monitors": [{"key": "All tasks", "flags": ["summary", "task"]}]}],
            "tasks": [{"id": "t.c", "projectId": "p", "source": "c", "state": 3, "status": null, "metrics": {"a": 1}, "rateCount": 2.5}],
            "tasks_total": 1
        });
        let snapshot: DashboardSnapshot = serde_json::from_value(body).unwrap();
        assert_eq!(snapshot.overview.total_connections, 2);
        let connection = &snapshot.connections[0];
        assert_eq!((connection.id, connection.messages_in, connection.monitors[0].flags.len()), (1, 0, 2));
        let task = &snapshot.tasks[0];
        assert_eq!((task.state, task.status.clone(), task.rate_count, task.name.as_str()), (3, None, 2.5, ""));
        let js = serde_json::to_value(&snapshot).unwrap();
        assert_eq!(js["tasks"][0]["projectId"], "p");
        assert_eq!(js["connections"][0]["connectedAt"], 1.5);
        assert_eq!(serde_json::from_str::<DashboardSnapshot>("{}").unwrap(), DashboardSnapshot::default());
    }

    #[test]
    fn token_and_ping() {
        assert_eq!(serde_json::from_str::<TokenResult>(r#"{"token":"tk_1"}"#).unwrap().token, "tk_1");
        assert!(serde_json::from_str::<PingResult>(r#"{"pong":true}"#).unwrap().pong);
        assert!(serde_json::from_str::<ExecuteResult>(r#"{"id":"x"}"#).is_err());
    }
}

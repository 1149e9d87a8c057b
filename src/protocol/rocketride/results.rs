//! Typed bodies of the command responses the SDK uses (spec §1.3, §5).
//!
//! The results the SDK reads (`execute`, `rrext_get_token`, `rrext_ping`,
//! `rrext_dashboard`) decode from [`Response::body`](super::envelope::Response::body) with
//! the SDK's own reader, `core::json_read::from_str(body.get())`, which gives every number
//! exactly as `JSON.parse` would. Snapshots are lenient: a field a server leaves out takes
//! its default. (tsify marks such fields optional in TypeScript.) Account info and the
//! `execute` arguments, which the SDK never reads from a server, keep serde's derive.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tsify::Tsify;

use super::task_status::{TaskMetrics, TaskState};
use crate::core::json_read::{self, decode_object, Decode, IfReadable, Reader};

/// `execute` result: the started task.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
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
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
pub struct TokenResult {
    /// The task token of the first registered task of that project and source.
    pub token: String,
}

/// `rrext_ping` result.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
pub struct PingResult {
    /// Always true.
    pub pong: bool,
}

/// `rrext_dashboard` result: the best snapshot for re-seeding after a reconnect.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
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
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
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
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
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
    /// Account identifier (absent before authentication).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Client name and version from the auth handshake.
    pub client_info: ClientInfo,
    /// Its monitor subscriptions. Keys are display labels, not registry keys (Errata 1).
    pub monitors: Vec<DashboardMonitor>,
    /// Display names of the tasks it watches (every task for a `{token:"*"}` monitor).
    pub attached_tasks: Vec<String>,
}

/// The client name and version a connection gave in its `auth` request.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct ClientInfo {
    /// `clientName` of the handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `clientVersion` of the handshake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One monitor subscription as `rrext_dashboard` reports it.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
#[serde(default)]
pub struct DashboardMonitor {
    /// A display label such as `"All tasks"` or `"61e1aa6b.webhook_1"`.
    pub key: String,
    /// Lower-case type names, e.g. `["summary", "task"]`.
    pub flags: Vec<String>,
}

/// One task as `rrext_dashboard` reports it.
#[derive(Tsify, Serialize, Debug, Clone, Default, PartialEq)]
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
    /// Status text (running tasks; absent once completed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Exit code (completed tasks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Epoch seconds of completion (completed tasks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// Attached client connections.
    pub connections: u64,
    /// Lifecycle state, as in `TaskStatus`.
    pub state: TaskState,
    /// Seconds since the last activity.
    pub idle_time: f64,
    /// Time to live in seconds (0 = none).
    pub ttl: f64,
    /// Resource metrics, as in `TaskStatus` (absent if the server sent none, or a shape
    /// this SDK does not know).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<TaskMetrics>,
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
    /// Installed apps (OSS: from apps.json).
    pub apps: Vec<App>,
    /// Server capabilities, e.g. `["oss"]`.
    pub capabilities: Vec<String>,
}

/// An installed app (spec §1.3: `{id, appStatus, onDesktop}` in OSS).
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct App {
    /// App id.
    pub id: String,
    /// E.g. `"free"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_status: Option<String>,
    /// Whether it is shown on the desktop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_desktop: Option<bool>,
}

/// Arguments of `execute` (spec §5.1). Only `pipeline` is required.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
#[tsify(hashmap_as_object)]
pub struct ExecuteArgs {
    /// The pipeline: `{components, source?, project_id?, …}`.
    pub pipeline: Pipeline,
    /// Overrides `pipeline.source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Normally omitted: the server derives a deterministic `tk_` token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Attach to a running task of the same token instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_existing: Option<bool>,
    /// Seconds to live; default 900, `0` = never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<f64>,
    /// Engine threads; default 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Flow tracing: FLOW events are sent only when this is set (the engine traces only
    /// `metadata`, `summary` and `full`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_trace_level: Option<TraceLevel>,
    /// Display name prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Environment, as a plain object (the arguments travel as JSON, where a `Map` would
    /// be `{}`); only `ROCKETRIDE_*` keys are kept by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<HashMap<String, String>>,
    /// Team to run under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Engine command-line arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
}

/// `pipelineTraceLevel` of `execute`.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TraceLevel {
    /// Forwarding of FLOW is switched on, but the engine traces nothing.
    None,
    /// Lanes and invocations, without content.
    Metadata,
    /// Plus each object's pipeline result on `end`.
    Summary,
    /// Plus the content of text and question/answer lanes.
    Full,
}

/// A pipeline as `execute` takes it: a flat object. Fields beyond the ones named here are
/// passed to the server as they are.
#[derive(Tsify, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The components: `{id, provider, config?, input?, control?, …}`.
    #[tsify(type = "Array<{ id: string; provider: string; config?: Record<string, unknown>; [key: string]: unknown }>")]
    pub components: Vec<Value>,
    /// The source component's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The project id (snake_case, as the server reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Any other pipeline field.
    #[serde(flatten)]
    #[tsify(type = "Record<string, unknown>")]
    pub rest: serde_json::Map<String, Value>,
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

// ── Decoding (`core::json_read`) ─────────────────────────────────────────────────────
// Each result is read with its wire keys; other keys are skipped. A field marked
// `or_default` takes its type's default when the server leaves it out, as `#[serde(default)]`
// says for TypeScript.

impl<'a> Decode<'a> for ExecuteResult {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, ExecuteResult {
            id: "id", token: "token", public_token: "publicToken", project_id: "projectId",
            source: "source", provider: "provider",
        })
    }
}

impl<'a> Decode<'a> for TokenResult {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, TokenResult { token: "token" })
    }
}

impl<'a> Decode<'a> for PingResult {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, PingResult { pong: "pong" })
    }
}

impl<'a> Decode<'a> for DashboardSnapshot {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, DashboardSnapshot {
            overview: "overview" => or_default, connections: "connections" => or_default,
            tasks: "tasks" => or_default,
        })
    }
}

impl<'a> Decode<'a> for DashboardOverview {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, DashboardOverview {
            total_connections: "totalConnections" => or_default, active_tasks: "activeTasks" => or_default,
            server_uptime: "serverUptime" => or_default,
        })
    }
}

impl<'a> Decode<'a> for DashboardConnection {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, DashboardConnection {
            id: "id" => or_default, connected_at: "connectedAt" => or_default,
            last_activity: "lastActivity" => or_default, messages_in: "messagesIn" => or_default,
            messages_out: "messagesOut" => or_default, authenticated: "authenticated" => or_default,
            client_id: "clientId" => or_default, client_info: "clientInfo" => or_default,
            monitors: "monitors" => or_default, attached_tasks: "attachedTasks" => or_default,
        })
    }
}

impl<'a> Decode<'a> for ClientInfo {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, ClientInfo { name: "name" => or_default, version: "version" => or_default })
    }
}

impl<'a> Decode<'a> for DashboardMonitor {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, DashboardMonitor { key: "key" => or_default, flags: "flags" => or_default })
    }
}

impl<'a> Decode<'a> for DashboardTask {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, DashboardTask {
            id: "id" => or_default, name: "name" => or_default, project_id: "projectId" => or_default,
            source: "source" => or_default, provider: "provider" => or_default,
            launch_type: "launchType" => or_default, start_time: "startTime" => or_default,
            elapsed_time: "elapsedTime" => or_default, completed: "completed" => or_default,
            status: "status" => or_default, exit_code: "exitCode" => or_default,
            end_time: "endTime" => or_default, connections: "connections" => or_default,
            state: "state" => or_default, idle_time: "idleTime" => or_default, ttl: "ttl" => or_default,
            metrics: "metrics" => readable, total_count: "totalCount" => or_default,
            completed_count: "completedCount" => or_default, rate_count: "rateCount" => or_default,
            rate_size: "rateSize" => or_default,
        })
    }
}

fn readable<T>(value: IfReadable<T>) -> Option<T> {
    value.0
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
        response.body.unwrap().into()
    }

    #[test]
    fn execute_result_from_the_sample() {
        let result: ExecuteResult = json_read::from_str(&sample_body(8)).unwrap();
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
        let snapshot: DashboardSnapshot = json_read::from_str(&body.to_string()).unwrap();
        assert_eq!(snapshot.overview.total_connections, 2);
        let connection = &snapshot.connections[0];
        assert_eq!((connection.id, connection.messages_in, connection.monitors[0].flags.len()), (1, 0, 2));
        let task = &snapshot.tasks[0];
        assert_eq!((task.state, task.status.clone(), task.rate_count, task.name.as_str()), (TaskState::Running, None, 2.5, ""));
        let js = serde_json::to_value(&snapshot).unwrap();
        assert_eq!(js["tasks"][0]["projectId"], "p");
        assert_eq!(js["connections"][0]["connectedAt"], 1.5);
        assert_eq!(json_read::from_str::<DashboardSnapshot>("{}").unwrap(), DashboardSnapshot::default());
    }

    #[test]
    fn token_and_ping() {
        assert_eq!(json_read::from_str::<TokenResult>(r#"{"token":"tk_1"}"#).unwrap().token, "tk_1");
        assert!(json_read::from_str::<PingResult>(r#"{"pong":true}"#).unwrap().pong);
        let err = json_read::from_str::<ExecuteResult>(r#"{"id":"x"}"#).unwrap_err();
        assert_eq!(err.message, "missing field `token`");
    }
}

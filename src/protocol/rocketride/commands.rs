//! Building DAP requests (spec §2, §5) and reading the few command results the client
//! itself learns from (tokens, the dashboard's task list).

use super::results::ExecuteResult;
use crate::core::json_read::{self, decode_object, Decode, IfReadable, JsonText, Reader};
use crate::core::wire::ObjectText;
use super::seed::ListedTask;

/// Command names used by the client and its typed helpers.
pub struct Command;

impl Command {
    pub const AUTH: &'static str = "auth";
    pub const MONITOR: &'static str = "rrext_monitor";
    pub const PING: &'static str = "rrext_ping";
    pub const GET_TASK_STATUS: &'static str = "rrext_get_task_status";
    pub const GET_TOKEN: &'static str = "rrext_get_token";
    pub const DASHBOARD: &'static str = "rrext_dashboard";
    pub const EXECUTE: &'static str = "execute";
    pub const TERMINATE: &'static str = "terminate";
}

/// One request frame: `{"type":"request","seq":…,"command":…,"arguments":…}`.
///
/// ```
/// use runwatch::protocol::rocketride::commands::request_frame;
/// use runwatch::core::json_read::JsonText;
/// assert_eq!(request_frame(7, "rrext_ping", &JsonText::empty_object()), r#"{"type":"request","seq":7,"command":"rrext_ping","arguments":{}}"#);
/// ```
pub fn request_frame(seq: u64, command: &str, args: &JsonText) -> String {
    ObjectText::new().field("type", "request").field("seq", &seq).field("command", command).field("arguments", args).text()
}

/// `auth` arguments. The credential travels only here, never in the URL (spec §1.2).
pub fn auth_arguments(credential: &str, client_name: &str, client_version: &str) -> JsonText {
    ObjectText::new().field("auth", credential).field("clientName", client_name).field("clientVersion", client_version).done()
}

/// `{token}` arguments of `rrext_get_task_status` and `terminate`.
pub fn token_arguments(token: &str) -> JsonText {
    ObjectText::new().field("token", token).done()
}

/// `{projectId, source}` arguments of `rrext_get_token`.
pub fn project_source_arguments(project_id: &str, source: &str) -> JsonText {
    ObjectText::new().field("projectId", project_id).field("source", source).done()
}

/// The task an `execute` result started (`{id, token, projectId, source, …}`), so
/// token-scoped subscriptions can be merged with project ones and its status seeded.
/// Decoded as the same [`ExecuteResult`] the app receives.
pub fn learn_from_result(command: &str, body: Option<&str>) -> Option<ExecuteResult> {
    if command != Command::EXECUTE {
        return None;
    }
    json_read::from_str(body?).ok()
}

/// Every task of an `rrext_dashboard` body; lenient (a malformed entry is skipped), since
/// it only refreshes the directory and plans a re-seed.
pub fn dashboard_tasks(body: &str) -> Vec<ListedTask> {
    struct Dashboard {
        tasks: Vec<IfReadable<ListedTask>>,
    }
    impl<'a> Decode<'a> for Dashboard {
        fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
            decode_object!(r, Dashboard { tasks: "tasks" => or_default })
        }
    }
    json_read::from_str::<Dashboard>(body).map_or_else(|_| Vec::new(), |d| d.tasks.into_iter().filter_map(|t| t.0).collect())
}

/// One row of `rrext_dashboard`'s `tasks`, as the directory and the seeder need it.
impl<'a> Decode<'a> for ListedTask {
    fn decode(r: &mut Reader<'a>) -> json_read::Result<Self> {
        decode_object!(r, ListedTask {
            id: "id", project_id: "projectId", source: "source", completed: "completed" => is_true,
        })
    }
}

/// `true` only when sent as `true` (left out or `null`: not completed).
fn is_true(flag: Option<bool>) -> bool {
    flag.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use super::*;

    #[test]
    fn auth_carries_the_credential_in_arguments() {
        let v = auth_arguments("k", "runwatch", "0.1.0");
        assert_eq!(v, json!({"auth":"k","clientName":"runwatch","clientVersion":"0.1.0"}));
    }

    #[test]
    fn execute_results_teach_tokens() {
        let body = r#"{"id":"bee3a8ea.chat_1","token":"tk_bee3a8ea46c24f6e1ac107ba9e8b63a8","publicToken":"pk_x","projectId":"p","source":"chat_1","provider":"chat"}"#;
        let learned = learn_from_result("execute", Some(body)).unwrap();
        assert_eq!((learned.id.as_str(), learned.project_id.as_str()), ("bee3a8ea.chat_1", "p"));
        assert_eq!(learn_from_result("rrext_ping", Some(body)), None);
    }

    #[test]
    fn dashboard_tasks_skip_malformed_entries() {
        let body = r#"{"tasks":[{"id":"a.s","projectId":"p","source":"s","completed":true},{"id":3}]}"#;
        let task = ListedTask { id: "a.s".into(), project_id: "p".into(), source: "s".into(), completed: true };
        assert_eq!(dashboard_tasks(body), vec![task]);
        assert!(dashboard_tasks("not json").is_empty());
    }
}

//! The requests an app makes, typed: each [`Call`] knows its command, its arguments, its
//! default timeout and how to decode its result, so the browser shell only converts.
//!
//! A result is decoded once, here, into its Rust type (checking its shape, by the SDK's own
//! reader, so numbers read exactly as `JSON.parse` reads them) and handed on as JSON text;
//! the shell turns that into a JS value with `JSON.parse`.

use serde::Serialize;

use super::commands::{self, Command};
use super::results::{DashboardSnapshot, ExecuteResult, PingResult, TokenResult};
use super::task_status::TaskStatus;
use crate::core::json_read::{self, Decode, JsonText};
use crate::core::outputs::RequestError;
use crate::core::time::Duration;
use crate::core::json_write::to_json;

/// `execute` waits until the task is running (spec §5.1: up to 300 s without engine events).
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(300);

/// One app request.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    /// Any command; the result body is passed on as it came (parsed JSON, or nothing).
    Raw { command: String, args: JsonText },
    /// `rrext_get_task_status`: the task's current `TaskStatus`.
    GetTaskStatus { token: String },
    /// `rrext_get_token`: the token of the task of `project_id` + `source`.
    GetToken { project_id: String, source: String },
    /// `rrext_dashboard`: connections, tasks and monitors on the server.
    Dashboard,
    /// `rrext_ping`.
    Ping,
    /// `execute` with the engine's arguments (spec §5.1).
    Execute { args: JsonText },
    /// `terminate`: stops the task of `token`.
    Terminate { token: String },
}

impl Call {
    /// The command name.
    #[must_use]
    pub fn command(&self) -> &str {
        match self {
            Call::Raw { command, .. } => command,
            Call::GetTaskStatus { .. } => Command::GET_TASK_STATUS,
            Call::GetToken { .. } => Command::GET_TOKEN,
            Call::Dashboard => Command::DASHBOARD,
            Call::Ping => Command::PING,
            Call::Execute { .. } => Command::EXECUTE,
            Call::Terminate { .. } => Command::TERMINATE,
        }
    }

    /// The request's `arguments`.
    ///
    /// ```
    /// use runwatch::protocol::rocketride::calls::Call;
    /// let call = Call::GetToken { project_id: "p".into(), source: "s".into() };
    /// assert_eq!(call.arguments().get(), r#"{"projectId":"p","source":"s"}"#);
    /// ```
    #[must_use]
    pub fn arguments(&self) -> JsonText {
        match self {
            Call::Raw { args, .. } | Call::Execute { args } => args.clone(),
            Call::GetTaskStatus { token } | Call::Terminate { token } => commands::token_arguments(token),
            Call::GetToken { project_id, source } => commands::project_source_arguments(project_id, source),
            Call::Dashboard | Call::Ping => JsonText::empty_object(),
        }
    }

    /// The timeout when the app gives none (`None`: the client's default).
    #[must_use]
    pub fn default_timeout(&self) -> Option<Duration> {
        matches!(self, Call::Execute { .. }).then_some(EXECUTE_TIMEOUT)
    }

    /// Decodes a successful result body into this call's type and returns it as JSON text
    /// (`None`: the result is `undefined`).
    ///
    /// # Errors
    ///
    /// [`RequestError::BadResponse`] when the body does not have the call's shape.
    pub fn decode(&self, body: Option<&str>) -> Result<Option<String>, RequestError> {
        match self {
            Call::Raw { .. } => raw(body),
            Call::Terminate { .. } => Ok(None),
            Call::GetTaskStatus { .. } => {
                let status = TaskStatus::from_json(body.unwrap_or("null")).map_err(|e| bad(e.to_string()))?;
                to_text(&status)
            }
            Call::GetToken { .. } => typed::<TokenResult>(body),
            Call::Dashboard => typed::<DashboardSnapshot>(body),
            Call::Ping => typed::<PingResult>(body),
            Call::Execute { .. } => typed::<ExecuteResult>(body),
        }
    }
}

fn bad(message: String) -> RequestError {
    RequestError::BadResponse { message }
}

/// A result passed on as it came, once it is known to be JSON (nesting depth is no limit:
/// the reader does not recurse, nor does `JSON.parse`).
fn raw(body: Option<&str>) -> Result<Option<String>, RequestError> {
    match body {
        None => Ok(None),
        Some(text) => match json_read::read_all(text, |r| r.raw().map(drop)) {
            Ok(()) => Ok(Some(text.to_owned())),
            Err(_) => Err(bad("the response body is not valid JSON".into())),
        },
    }
}

fn typed<'a, T: Decode<'a> + Serialize>(body: Option<&'a str>) -> Result<Option<String>, RequestError> {
    let text = body.unwrap_or("null");
    let value: T = json_read::from_str(text).map_err(|e| bad(json_read::describe(text, &e)))?;
    to_text(&value)
}

fn to_text<T: Serialize>(value: &T) -> Result<Option<String>, RequestError> {
    Ok(Some(to_json(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn typed_results_are_checked_and_passed_on_as_json() {
        let ping = Call::Ping.decode(Some(r#"{"pong":true}"#)).unwrap().unwrap();
        assert_eq!(serde_json::from_str::<Value>(&ping).unwrap(), json!({"pong": true}));
        let wrong = Call::GetToken { project_id: "p".into(), source: "s".into() }.decode(Some(r#"{"nope":1}"#));
        assert!(matches!(wrong, Err(RequestError::BadResponse { .. })));
        assert_eq!(Call::Terminate { token: "tk_x".into() }.decode(None), Ok(None));
    }

    #[test]
    fn raw_results_pass_through_and_bad_json_is_a_bad_response() {
        let call = Call::Raw { command: "rrext_x".into(), args: json!({}).into() };
        assert_eq!(call.decode(Some(r#"{"__proto__":{"a":1}}"#)).unwrap().as_deref(), Some(r#"{"__proto__":{"a":1}}"#));
        assert_eq!(call.decode(None), Ok(None));
        assert!(matches!(call.decode(Some("{")), Err(RequestError::BadResponse { .. })));
    }

    #[test]
    fn a_task_status_result_decodes_nan_metrics() {
        let body = include_str!("../../../tests/fixtures/rocketride-sample.jsonl")
            .lines()
            .find(|l| l.contains("\"apaevt_status_update\""))
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["body"].to_string())
            .unwrap()
            .replace("\"cpu_percent\":", "\"cpu_percent\":NaN,\"x\":");
        let text = Call::GetTaskStatus { token: "tk_x".into() }.decode(Some(&body)).unwrap().unwrap();
        assert!(text.contains("\"completedCount\""));
    }

    #[test]
    fn commands_arguments_and_timeouts() {
        assert_eq!(Call::Terminate { token: "tk_1".into() }.arguments(), json!({"token": "tk_1"}));
        assert_eq!(Call::Execute { args: json!({"pipeline": {}}).into() }.default_timeout(), Some(EXECUTE_TIMEOUT));
        assert_eq!(Call::Dashboard.default_timeout(), None);
        assert_eq!(Call::Dashboard.command(), "rrext_dashboard");
    }
}

//! The arguments of `send`, `command` and `traceFeedback`, read field by field from plain
//! JS values (`web::js_read`). Unknown keys are refused, as in the options: a misspelt
//! `trace` or `comment` would otherwise be dropped without a word.

use wasm_bindgen::JsValue;

use super::super::js_read::{self, boolean, required_string, string, strings, uint};
use crate::core::json_read::{JsonObject, JsonText};
use crate::protocol::fleet_rlm::http::FeedbackRequest;
use crate::protocol::fleet_rlm::requests::MessageRequest;

const MESSAGE_NAMES: &[&str] = &[
    "content", "sessionId", "trace", "traceMode", "executionMode", "docsPath", "repoUrl", "repoRef", "contextPaths",
    "batchConcurrency",
];
const FEEDBACK_NAMES: &[&str] = &["traceId", "clientRequestId", "isCorrect", "comment", "expectedResponse"];

/// `send(message)`'s argument: a string (the content) or a `MessageRequest` object. The
/// session is left as given; the caller fills in or checks it.
pub(crate) fn message(message: &JsValue) -> Result<MessageRequest, String> {
    if let Some(content) = message.as_string() {
        return Ok(MessageRequest { content, ..MessageRequest::default() });
    }
    if !js_read::is_plain(message) {
        return Err("a message must be a string or a `{ content, … }` object".into());
    }
    js_read::known_keys_only(message, MESSAGE_NAMES, "the message")?;
    Ok(MessageRequest {
        content: required_string(message, "content")?,
        session_id: string(message, "sessionId")?,
        trace: boolean(message, "trace")?,
        trace_mode: string(message, "traceMode")?,
        execution_mode: string(message, "executionMode")?,
        docs_path: string(message, "docsPath")?,
        repo_url: string(message, "repoUrl")?,
        repo_ref: string(message, "repoRef")?,
        context_paths: strings(message, "contextPaths")?,
        batch_concurrency: uint(message, "batchConcurrency")?,
    })
}

/// `command(name, args)`'s arguments: an object, sent as `JSON.stringify` makes it.
pub(crate) fn command_args(args: Option<JsValue>) -> Result<JsonObject, String> {
    const NOT_AN_OBJECT: &str = "command args must be an object";
    let Some(args) = args.filter(|a| !a.is_null_or_undefined()) else { return Ok(JsonObject::empty()) };
    if !js_read::is_plain(&args) {
        return Err(NOT_AN_OBJECT.into());
    }
    // An object whose `toJSON` makes it something else (a `Date`, a string) is not one.
    let text: JsonText = js_read::json(&args).map_err(|e| format!("command args: {e}"))?;
    JsonObject::of(text).ok_or_else(|| NOT_AN_OBJECT.into())
}

/// `traceFeedback(feedback)`'s argument.
pub(crate) fn feedback(feedback: &JsValue) -> Result<FeedbackRequest, String> {
    js_read::known_keys_only(feedback, FEEDBACK_NAMES, "feedback")?;
    Ok(FeedbackRequest {
        trace_id: string(feedback, "traceId")?,
        client_request_id: string(feedback, "clientRequestId")?,
        is_correct: boolean(feedback, "isCorrect")?.ok_or("feedback needs `isCorrect` (true or false)")?,
        comment: string(feedback, "comment")?,
        expected_response: string(feedback, "expectedResponse")?,
    })
}

//! The DAP envelope (spec §2): parsing requests and rendering responses and events.

use serde_json::{Map, Value};

use crate::json::{to_text, Obj};
use crate::sendlog::{Entry, EntryKind, Meta};

/// A failed command: `message` plus the Python `trace {file, lineno}` (spec §2.2).
#[derive(Debug, Clone, PartialEq)]
pub struct CmdError {
    /// Human-readable message, verbatim from the server.
    pub message: String,
    /// Server source file basename.
    pub file: &'static str,
    /// Line in that file.
    pub lineno: u32,
}

impl CmdError {
    /// An error raised at `file:lineno`.
    pub fn new(message: impl Into<String>, file: &'static str, lineno: u32) -> Self {
        CmdError { message: message.into(), file, lineno }
    }
}

/// A command's outcome: an optional body (JSON text) or an error.
pub type CmdResult = Result<Option<String>, CmdError>;

/// An inbound request, as much of it as the server reads.
#[derive(Debug, Clone)]
pub struct Request {
    /// `type`.
    pub kind: String,
    /// `command` (empty when absent or not a string).
    pub command: String,
    /// `command` as sent (`null` when absent), echoed by the response (spec §2.1; a frame
    /// without `command` is answered with `"command":null`).
    pub command_echo: Value,
    /// The request `seq`, echoed as `request_seq` (`null` when absent).
    pub seq: Value,
    /// `arguments` (empty when absent or not an object).
    pub args: Map<String, Value>,
    /// Top-level `token`, the fallback for `arguments.token` (spec §2.1).
    pub top_token: Option<Value>,
}

impl Request {
    /// Reads a parsed JSON object as a request.
    pub fn from_object(mut msg: Map<String, Value>) -> Self {
        let text = |v: Option<&Value>| v.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let command_echo = msg.remove("command").unwrap_or(Value::Null);
        Request {
            kind: text(msg.remove("type").as_ref()),
            command: text(Some(&command_echo)),
            command_echo,
            seq: msg.remove("seq").unwrap_or(Value::Null),
            args: match msg.remove("arguments") {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            },
            top_token: msg.remove("token"),
        }
    }

    /// A string argument.
    pub fn str_arg(&self, name: &str) -> Option<&str> {
        self.args.get(name).and_then(Value::as_str)
    }

    /// `arguments.token`, else the top-level `token`, as a string.
    pub fn token(&self) -> Option<&str> {
        self.args.get("token").or(self.top_token.as_ref()).and_then(Value::as_str)
    }
}

/// An outbound frame before its seq is assigned.
#[derive(Debug, Clone)]
pub enum Frame {
    /// `{"type":"event","seq":N,"event":name,"body":body}`.
    Event {
        /// Event name.
        name: String,
        /// Body JSON text (already carrying `__id`).
        body: String,
        /// Routing facts for the send log.
        meta: Meta,
    },
    /// A response to `request_seq`.
    Response {
        /// Echoed command (`null` when the request had none).
        command: Value,
        /// Echoed request seq.
        request_seq: Value,
        /// Body or error.
        result: CmdResult,
    },
}

impl Frame {
    /// The response frame answering `req`.
    pub fn response(req: &Request, result: CmdResult) -> Self {
        Frame::Response { command: req.command_echo.clone(), request_seq: req.seq.clone(), result }
    }

    /// Renders the frame with `seq`, in the server's field order (see the sample).
    pub fn render(&self, seq: u64) -> String {
        match self {
            Frame::Event { name, body, .. } => {
                Obj::new().set("type", "event").set("seq", &seq).set("event", name).raw("body", body).done()
            }
            Frame::Response { command, request_seq, result } => {
                let head = Obj::new()
                    .set("type", "response")
                    .set("seq", &seq)
                    .set("request_seq", request_seq)
                    .set("command", command);
                match result {
                    Ok(Some(body)) => head.set("success", &true).raw("body", body).done(),
                    Ok(None) => head.set("success", &true).done(),
                    Err(e) => head
                        .set("success", &false)
                        .set("message", &e.message)
                        .raw("trace", &Obj::new().set("file", e.file).set("lineno", &e.lineno).done())
                        .done(),
                }
            }
        }
    }

    /// The send-log entry describing this frame.
    pub fn log_entry(&self, conn: u64, seq: u64, bytes: usize) -> Entry {
        let mut entry = match self {
            Frame::Event { name, meta, .. } => {
                let mut e = Entry::new(conn, EntryKind::Event);
                e.event = Some(name.clone());
                e.meta = meta.clone();
                e
            }
            Frame::Response { command, request_seq, result } => {
                let mut e = Entry::new(conn, EntryKind::Response);
                e.command = command.as_str().map(str::to_owned);
                e.request_seq = Some(request_seq.clone());
                e.success = Some(result.is_ok());
                e
            }
        };
        entry.seq = Some(seq);
        entry.bytes = Some(bytes);
        entry
    }
}

/// Body text `{}` for commands that answer an empty object.
pub fn empty_body() -> CmdResult {
    Ok(Some(to_text(&serde_json::json!({}))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_responses_like_the_sample() {
        let req = Request::from_object(json!({"type":"request","seq":2,"command":"rrext_monitor"}).as_object().unwrap().clone());
        let ok = Frame::response(&req, Ok(None)).render(3);
        assert_eq!(ok, r#"{"type":"response","seq":3,"request_seq":2,"command":"rrext_monitor","success":true}"#);
        let err = Frame::response(&req, Err(CmdError::new("Your pipeline is not running", "task_server.py", 674))).render(16);
        assert_eq!(
            err,
            r#"{"type":"response","seq":16,"request_seq":2,"command":"rrext_monitor","success":false,"message":"Your pipeline is not running","trace":{"file":"task_server.py","lineno":674}}"#
        );
    }

    #[test]
    fn token_falls_back_to_top_level() {
        let req = Request::from_object(json!({"type":"request","command":"x","token":"tk_a"}).as_object().unwrap().clone());
        assert_eq!(req.token(), Some("tk_a"));
        assert_eq!(req.seq, Value::Null);
        let no_command = Request::from_object(json!({"type":"event","seq":2}).as_object().unwrap().clone());
        let text = Frame::response(&no_command, Err(CmdError::new("Not authenticated", "task_conn.py", 264))).render(1);
        assert!(text.starts_with(r#"{"type":"response","seq":1,"request_seq":2,"command":null,"success":false"#), "{text}");
    }
}

//! Inbound frame handling: the pre-auth gate and the command table (spec §1.3, §2.2, §5).
//!
//! Fast commands are answered inline, in arrival order. Slow ones (`execute`,
//! `terminate`) run in their own task, so their responses can overtake nothing but be
//! overtaken (spec §2.3 caveat 1, §7).

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::auth;
use crate::clock::epoch_s;
use crate::dap::{CmdError, CmdResult, Request};
use crate::dashboard;
use crate::hub::{Hub, Scope, State};
use crate::monitor;
use crate::runlog;
use crate::tasks::{self, LaunchArgs};

/// Handles one inbound text frame of connection `conn`.
pub fn handle_text(hub: &Arc<Hub>, conn: u64, text: &str) {
    // Malformed JSON is logged and dropped, before and after auth (§2.2, Errata 3).
    let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(text) else { return };
    let req = Request::from_object(msg);
    let mut st = hub.lock();
    let Some(c) = st.conns.get_mut(&conn) else { return };
    c.messages_in += 1;
    c.last_activity = epoch_s();
    if c.closing {
        return;
    }
    let authenticated = c.authenticated;
    let is_request = req.kind == "request";
    if is_request && req.command == "auth" {
        return auth::auth(&mut st, &hub.config.api_keys, conn, &req);
    }
    if is_request && req.command.starts_with("rrext_public_") {
        let result = public(&req);
        return st.respond(conn, &req, result);
    }
    if !authenticated {
        return auth::reject_unauthenticated(&mut st, conn, &req);
    }
    // After auth, anything but a request is ignored (dap_conn.py:87-104).
    if is_request {
        command(hub, &mut st, conn, req);
    }
}

/// `rrext_public_*` commands, allowed before auth.
fn public(req: &Request) -> CmdResult {
    match req.command.as_str() {
        "rrext_public_probe" => dashboard::probe(),
        other => Err(invalid_command(other)),
    }
}

fn invalid_command(command: &str) -> CmdError {
    CmdError::new(format!("Invalid command: {command}"), "task_conn.py", 575)
}

/// The authenticated command table.
fn command(hub: &Arc<Hub>, st: &mut State, conn: u64, req: Request) {
    let token = st.request_token(conn, &req);
    let result = match req.command.as_str() {
        "deauth" => return auth::deauth(st, conn, &req),
        "rrext_monitor" => return monitor::monitor(st, conn, &req),
        "execute" => return spawn_reply(hub, conn, req.clone(), tasks::execute(hub.clone(), LaunchArgs::from_args(&req.args))),
        "terminate" => return spawn_reply(hub, conn, req, tasks::terminate(hub.clone(), token)),
        "rrext_ping" => Ok(Some(r#"{"pong":true}"#.to_owned())),
        "rrext_get_task_status" => tasks::get_task_status(st, token.as_deref()),
        "rrext_get_token" => tasks::get_token(st, req.str_arg("projectId"), req.str_arg("source")),
        "rrext_get_tasks" => tasks::get_tasks(st),
        "rrext_dashboard" => dashboard::dashboard(st, hub.started),
        "rrext_log" if hub.config.newer => run_log(st, conn, &req),
        c if c.starts_with("rrext_") => Err(invalid_command(c)),
        // Other names go to the debugger proxy, which needs a task (task_conn.py:494-582).
        _ if token.is_none() => Err(CmdError::new("Task token is required", "task_conn.py", 520)),
        _ => Err(CmdError::new("Debugger is not attached", "task_conn.py", 560)),
    };
    st.respond(conn, &req, result);
}

/// Runs a slow command in its own task and answers when it finishes.
fn spawn_reply(hub: &Arc<Hub>, conn: u64, req: Request, fut: impl Future<Output = CmdResult> + Send + 'static) {
    let hub = hub.clone();
    tokio::spawn(async move {
        let result = fut.await;
        hub.lock().respond(conn, &req, result);
    });
}

/// `rrext_log` (newer mode, spec §8.5.4) with the caller's permissions: a `pk_` session
/// holds only `task.data`.
fn run_log(st: &mut State, conn: u64, req: &Request) -> CmdResult {
    let public = st.conns.get(&conn).is_some_and(|c| matches!(c.scope, Scope::Task { public: true, .. }));
    let perms = runlog::Perms { monitor: !public, control: !public };
    runlog::command(&mut st.runlog, &req.args, perms)
}

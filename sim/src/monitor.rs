//! `rrext_monitor` (spec §3): parse, resolve the registry key, replace its bitmask,
//! broadcast `monitor_changed`, seed newly enabled bits, answer without a body.

use crate::dap::{CmdError, CmdResult, Frame, Request};
use crate::hub::{Scope, State};
use crate::json::{array_of, Obj};
use crate::registry::{bit, parse_types, project_key, ALL_KEY};
use crate::sendlog::Meta;
use crate::status::{state, TaskStatus};
use crate::tasks::not_running;

/// A resolved subscription target.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    /// Registry key (`*`, `p.<proj>.<src>`, `p.<proj>.*`, plus `.<pipeId>`).
    key: String,
    /// The `monitor_changed` key label (spec §3.3).
    label: String,
    /// Project and source behind a project key.
    project: Option<(String, String)>,
}

/// Handles `rrext_monitor` on `conn`; frames go out in the order of spec §3.3.
pub fn monitor(st: &mut State, conn: u64, req: &Request) {
    let result = set_monitor(st, conn, req);
    st.respond(conn, req, result);
}

fn set_monitor(st: &mut State, conn: u64, req: &Request) -> CmdResult {
    // cmd_monitor.py parses `types` before resolving the scope; IntFlag errors come from enum.py.
    let mask = parse_types(req.args.get("types"), req.args.get("listenType"))
        .map_err(|m| CmdError::new(m, "enum.py", 1426))?;
    let target = resolve(st, conn, req)?;
    let Some(c) = st.conns.get_mut(&conn) else { return Ok(None) };
    let prev = c.monitors.get(&target.key).copied().unwrap_or(0);
    if mask == 0 {
        // Bitmask 0 pops the key, present or not (spec §3.5).
        c.monitors.remove(&target.key);
        monitor_changed(st, conn, &target.label, "unsubscribed");
        return Ok(None);
    }
    c.monitors.insert(target.key.clone(), mask);
    // Broadcast even when the bits are unchanged (Errata 4); seed only new bits (§3.4).
    monitor_changed(st, conn, &target.label, "subscribed");
    seed(st, conn, &target, mask & !prev);
    Ok(None)
}

/// Maps the request's scope to its registry key (spec §3.2 table).
fn resolve(st: &State, conn: u64, req: &Request) -> Result<Target, CmdError> {
    let project = req.str_arg("projectId").filter(|s| !s.is_empty());
    let source = req.str_arg("source").filter(|s| !s.is_empty());
    let both = || CmdError::new("You must specifiy either token or project_id/source, not both", "cmd_monitor.py", 365);
    let base = match st.request_token(conn, req).as_deref() {
        Some(_) if project.is_some() || source.is_some() => return Err(both()),
        Some("*") => Target { key: ALL_KEY.into(), label: "<all>".into(), project: None },
        Some(token) => {
            let task = st.tasks.get(token).ok_or_else(not_running)?;
            Target {
                key: project_key(&task.project_id, &task.source),
                label: task.id.clone(),
                project: Some((task.project_id.clone(), task.source.clone())),
            }
        }
        None => match (project, source) {
            (Some(p), Some(s)) => Target {
                key: project_key(p, s),
                label: format!("<Project:{}.{s}>", p.chars().take(8).collect::<String>()),
                project: Some((p.to_owned(), s.to_owned())),
            },
            _ => return Err(CmdError::new("You must specifiy either token or project_id/source", "cmd_monitor.py", 414)),
        },
    };
    // pipeId narrows a project key; it is ignored for `*` (spec §3.1).
    match req.args.get("pipeId").and_then(serde_json::Value::as_i64) {
        Some(pipe) if base.key != ALL_KEY => Ok(Target {
            key: format!("{}.{pipe}", base.key),
            label: format!("{}.pipe{pipe}", base.label),
            project: base.project,
        }),
        _ => Ok(base),
    }
}

/// `apaevt_dashboard monitor_changed` to every `*`+DASHBOARD connection (spec §3.3).
fn monitor_changed(st: &mut State, conn: u64, label: &str, change: &str) {
    let Some(c) = st.conns.get(&conn) else { return };
    let body = crate::hub::dashboard_body("monitor_changed")
        .set("connectionId", &conn)
        .set("clientName", &c.client_name)
        .set("clientVersion", &c.client_version)
        .set("key", label)
        .set("change", change);
    st.emit_dashboard(body);
}

/// Seeds the newly enabled bits: SUMMARY, then TASK (spec §3.4, `_send_updates`).
fn seed(st: &mut State, conn: u64, target: &Target, new_bits: u8) {
    if new_bits & bit::SUMMARY != 0 {
        if let Some((project, source)) = &target.project {
            let (status, id) = summary_seed(st, project, source);
            let body = Obj::from_struct(&status).set("__id", &id).done();
            send_seed(st, conn, target, "apaevt_status_update", bit::SUMMARY, body);
        }
    }
    if new_bits & bit::TASK != 0 {
        let body = running_seed(st, conn);
        send_seed(st, conn, target, "apaevt_task", bit::TASK, body);
    }
}

/// The SUMMARY seed of a project key: the registered task's status, else a synthetic
/// "Not running" one with `__id "<projectId>.<source>"`; always synthetic for source `*`.
fn summary_seed(st: &State, project: &str, source: &str) -> (TaskStatus, String) {
    let task = (source != "*")
        .then(|| st.tasks_in_order().into_iter().find(|t| t.project_id == project && t.source == source))
        .flatten();
    match task {
        Some(t) => (t.status.clone(), t.id.clone()),
        None => (TaskStatus::not_running(project, source), format!("{project}.{source}")),
    }
}

/// `apaevt_task running` listing every visible task in states 1–4, `__id:""`.
fn running_seed(st: &State, conn: u64) -> String {
    let scope = st.conns.get(&conn).map(|c| c.scope.clone()).unwrap_or(Scope::Account);
    let items: Vec<String> = st
        .tasks_in_order()
        .into_iter()
        .filter(|t| (state::STARTING..=state::STOPPING).contains(&t.status.state))
        .filter(|t| match &scope {
            Scope::Account => true,
            Scope::Task { token, .. } => *token == t.token,
        })
        .map(|t| {
            Obj::new()
                .set("id", &t.id)
                .set("name", &t.status.name)
                .set("projectId", &t.project_id)
                .set("source", &t.source)
                .done()
        })
        .collect();
    Obj::new().set("action", "running").raw("tasks", &array_of(&items)).set("__id", "").done()
}

fn send_seed(st: &mut State, conn: u64, target: &Target, event: &str, event_bit: u8, body: String) {
    let meta = Meta {
        project_id: target.project.as_ref().map(|p| p.0.clone()),
        source: target.project.as_ref().map(|p| p.1.clone()),
        bit: Some(event_bit),
        keys: Some(vec![target.key.clone()]),
        ..Meta::default()
    };
    st.send(conn, Frame::Event { name: event.into(), body, meta });
}

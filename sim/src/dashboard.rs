//! `rrext_dashboard` (spec §5.5, Errata 1) and `rrext_public_probe` (spec §1.3, §8.3).

use std::time::Instant;

use crate::clock::epoch_s;
use crate::dap::CmdResult;
use crate::hub::{ConnEntry, State};
use crate::json::{array_of, Obj};
use crate::registry::{flag_names, ALL_KEY};
use crate::tasks::TaskEntry;

/// Probe version of the snapshot server and of the newer (PR #1661) server.
pub const VERSION: &str = "1.0.0";
/// Version reported in `--newer` mode.
pub const NEWER_VERSION: &str = "1.1.0";

/// `rrext_public_probe` → `{version, capabilities, platform, apps}`. Newer mode adds the
/// `taskEventLog` capability (eventTime/logSeq/`rrext_log`).
pub fn probe(newer: bool) -> CmdResult {
    let (version, caps): (&str, &[&str]) =
        if newer { (NEWER_VERSION, &["oss", "taskEventLog"]) } else { (VERSION, &["oss"]) };
    Ok(Some(
        Obj::new()
            .set("version", version)
            .set("capabilities", caps)
            .set("platform", std::env::consts::OS)
            .set("apps", &Vec::<String>::new())
            .done(),
    ))
}

/// The `rrext_dashboard` snapshot.
pub fn dashboard(st: &State, started: Instant) -> CmdResult {
    let active = st.tasks.values().filter(|t| t.completed_at.is_none()).count();
    let overview = Obj::new()
        .set("totalConnections", &st.conns.len())
        .set("activeTasks", &active)
        .set("serverUptime", &started.elapsed().as_secs_f64())
        .done();
    let conns: Vec<String> = st.conns.values().map(|c| connection(st, c)).collect();
    let tasks: Vec<String> = st.tasks_in_order().into_iter().map(task).collect();
    Ok(Some(
        Obj::new()
            .raw("overview", &overview)
            .raw("connections", &array_of(&conns))
            .raw("tasks", &array_of(&tasks))
            .done(),
    ))
}

/// Display label of a registry key (Errata 1): "All tasks", or `<prefix>.<source>`
/// where the prefix is the execute name of a task of that project once one exists,
/// else the first 8 characters of the project id.
fn label(st: &State, key: &str) -> String {
    if key == ALL_KEY {
        return "All tasks".into();
    }
    let rest = key.strip_prefix("p.").unwrap_or(key);
    let (project, source) = rest.split_once('.').unwrap_or((rest, ""));
    let named = st.tasks_in_order().into_iter().find(|t| t.project_id == project).map(|t| t.name_prefix.clone());
    let prefix = named.unwrap_or_else(|| project.chars().take(8).collect());
    format!("{prefix}.{source}")
}

fn connection(st: &State, c: &ConnEntry) -> String {
    let monitors: Vec<String> = c
        .monitors
        .iter()
        .map(|(k, m)| Obj::new().set("key", &label(st, k)).set("flags", &flag_names(*m)).done())
        .collect();
    let client_info = Obj::new().set("clientName", &c.client_name).set("clientVersion", &c.client_version).done();
    Obj::new()
        .set("id", &c.id)
        .set("connectedAt", &c.connected_at)
        .set("lastActivity", &c.last_activity)
        .set("messagesIn", &c.messages_in)
        .set("messagesOut", &c.messages_out)
        .set("authenticated", &c.authenticated)
        .set("clientId", &c.client_id)
        .raw("clientInfo", &client_info)
        .raw("monitors", &array_of(&monitors))
        .set("attachedTasks", &Vec::<String>::new())
        .done()
}

fn task(t: &TaskEntry) -> String {
    let s = &t.status;
    let end = if s.end_time > 0.0 { s.end_time } else { epoch_s() };
    Obj::new()
        .set("id", &t.id)
        .set("name", &s.name)
        .set("projectId", &t.project_id)
        .set("source", &t.source)
        .set("provider", &t.provider)
        .set("launchType", "execute")
        .set("startTime", &s.start_time)
        .set("elapsedTime", &(end - s.start_time).max(0.0))
        .set("completed", &s.completed)
        .set("status", &s.status)
        .set("exitCode", &s.exit_code)
        .set("endTime", &s.end_time)
        .set("connections", &0)
        .set("state", &s.state)
        .set("idleTime", &0.0)
        .set("ttl", &t.ttl)
        .set("metrics", &s.metrics)
        .set("totalCount", &s.total_count)
        .set("completedCount", &s.completed_count)
        .set("rateCount", &s.rate_count)
        .set("rateSize", &s.rate_size)
        .done()
}

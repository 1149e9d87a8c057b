//! `rrext_dashboard` (spec §5.5, Errata 1) and `rrext_public_probe` (spec §1.3, §8.3).

use std::time::Instant;

use crate::clock::epoch_s;
use crate::dap::CmdResult;
use crate::hub::{ConnEntry, State};
use crate::json::{array_of, Obj};
use crate::registry::{flag_names, is_task_key, project_key, ALL_KEY};
use crate::hub::TaskEntry;

/// Engine version reported by `rrext_public_probe`.
pub const VERSION: &str = "1.0.0";

/// `rrext_public_probe` → `{version, capabilities, platform, apps}`, where `version` is an
/// object (the engine build), as recorded. The newer server does not advertise its run
/// log here either (spec §8.5.1), so the body is the same in `--newer` mode.
pub fn probe() -> CmdResult {
    let version = Obj::new()
        .set("version", VERSION)
        .set("engine", concat!("runwatch-sim/", env!("CARGO_PKG_VERSION")))
        .set("build", "sim")
        .done();
    Ok(Some(
        Obj::new()
            .raw("version", &version)
            .set("capabilities", &["oss"])
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
/// else the first 8 characters of the project id; a pipe key adds `.pipe<N>`.
fn label(st: &State, key: &str) -> String {
    if key == ALL_KEY {
        return "All tasks".into();
    }
    let rest = key.strip_prefix("p.").unwrap_or(key);
    let (project, source) = rest.split_once('.').unwrap_or((rest, ""));
    // A pipe key is `p.<project>.<source>.<pipeId>`; sources hold no dots in practice.
    let (source, pipe) = match source.rsplit_once('.') {
        Some((s, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'-') => (s, Some(p)),
        _ => (source, None),
    };
    let named = st.tasks_in_order().into_iter().find(|t| t.project_id == project).map(|t| t.name_prefix.clone());
    let prefix = named.unwrap_or_else(|| project.chars().take(8).collect());
    match pipe {
        Some(p) => format!("{prefix}.{source}.pipe{p}"),
        None => format!("{prefix}.{source}"),
    }
}

/// The names of the tasks a connection watches: every task for a `*` key, else the tasks
/// whose project key (or its wildcard or a pipe sub-key) the connection holds (as recorded:
/// a connection without monitors lists none).
fn attached_tasks(st: &State, c: &ConnEntry) -> Vec<String> {
    st.tasks_in_order()
        .into_iter()
        .filter(|t| {
            let key = project_key(&t.project_id, &t.source);
            let wildcard = project_key(&t.project_id, "*");
            c.monitors.iter().any(|(k, _)| k == ALL_KEY || *k == wildcard || is_task_key(k, &key))
        })
        .map(|t| t.status.name.clone())
        .collect()
}

fn connection(st: &State, c: &ConnEntry) -> String {
    let monitors: Vec<String> = c
        .monitors
        .iter()
        .map(|(k, m)| Obj::new().set("key", &label(st, k)).set("flags", &flag_names(*m)).done())
        .collect();
    let client_info = Obj::new().set("name", &c.client_name).set("version", &c.client_version).done();
    let client_id = c.identified.then_some(c.client_id.as_str());
    Obj::new()
        .set("id", &c.id)
        .set("connectedAt", &c.connected_at)
        .set("lastActivity", &c.last_activity)
        .set("messagesIn", &c.messages_in)
        .set("messagesOut", &c.messages_out)
        .set("authenticated", &c.authenticated)
        .set("clientId", &client_id)
        .raw("clientInfo", &client_info)
        .raw("monitors", &array_of(&monitors))
        .set("attachedTasks", &attached_tasks(st, c))
        .done()
}

/// One task row. As recorded: a running task has its status text and `exitCode`/`endTime`
/// `null`; a completed one has `status` `null` and its exit code and end time; `idleTime`
/// is an integer.
fn task(t: &TaskEntry) -> String {
    let s = &t.status;
    let done = t.completed_at.is_some();
    let end = if done { s.end_time } else { epoch_s() };
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
        .set("status", &(!done).then_some(s.status.as_str()))
        .set("exitCode", &done.then_some(s.exit_code))
        .set("endTime", &done.then_some(s.end_time))
        .set("connections", &0)
        .set("state", &s.state)
        .set("idleTime", &0)
        .set("ttl", &t.ttl)
        .set("metrics", &s.metrics)
        .set("totalCount", &s.total_count)
        .set("completedCount", &s.completed_count)
        .set("rateCount", &s.rate_count)
        .set("rateSize", &s.rate_size)
        .done()
}

//! Server-wide lifecycle: completed-task cleanup (spec §3.6), reset and restart.

use std::sync::Arc;
use std::time::Duration;

use crate::faults::Faults;
use crate::hub::{Hub, State};
use crate::registry::{is_task_key, project_key};
use crate::runlog::RunLog;
use crate::scenario;

/// What a reset forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetKind {
    /// `POST /_sim/reset`: connections, tasks, faults, log entries, event continuum.
    Full,
    /// The `restart` fault: connections and tasks, as a process restart would (the
    /// newer server's on-disk event log survives, and so do the simulator's faults).
    Restart,
}

/// Drops every connection and task, bumps the generation, restarts the scenario.
/// Returns the new generation.
pub fn reset(hub: &Arc<Hub>, kind: ResetKind) -> u64 {
    let generation = {
        let mut st = hub.lock();
        st.generation += 1;
        let label = if kind == ResetKind::Full { "reset" } else { "restart" };
        let ids: Vec<u64> = st.conns.keys().copied().collect();
        for id in ids {
            st.kill(id, label);
        }
        // Dropping the entries drops each runner's command channel: runners stop.
        st.tasks.clear();
        crate::fleet::reset(&mut st, label);
        if kind == ResetKind::Full {
            st.faults = Faults::default();
            st.log.clear();
            st.runlog = RunLog::default();
        }
        st.generation
    };
    scenario::spawn(hub.clone(), generation);
    generation
}

/// Runs the cleanup scan every `cleanup_scan_ms` until shutdown.
pub fn spawn_cleanup(hub: Arc<Hub>) {
    tokio::spawn(async move {
        let mut shutdown = hub.shutdown_signal();
        let mut every = tokio::time::interval(Duration::from_millis(hub.config.cleanup_scan_ms));
        loop {
            tokio::select! {
                _ = every.tick() => cleanup_once(&hub),
                _ = shutdown.changed() => return,
            }
        }
    });
}

/// Removes tasks completed at least `cleanup_delay_ms` ago.
pub fn cleanup_once(hub: &Hub) {
    let delay = Duration::from_millis(hub.config.cleanup_delay_ms);
    let mut st = hub.lock();
    let expired: Vec<String> = st
        .tasks
        .values()
        .filter(|t| t.completed_at.is_some_and(|at| at.elapsed() >= delay))
        .map(|t| t.token.clone())
        .collect();
    for token in expired {
        remove_task(&mut st, &token);
    }
}

/// `remove_task`: silently deletes every connection's `p.<proj>.<src>` key and its pipe
/// sub-keys, then announces `apaevt_dashboard task_removed` (spec §3.6, §4.7).
fn remove_task(st: &mut State, token: &str) {
    let Some(task) = st.tasks.remove(token) else { return };
    let key = project_key(&task.project_id, &task.source);
    for c in st.conns.values_mut() {
        c.monitors.retain(|k, _| !is_task_key(k, &key));
    }
    st.emit_dashboard(crate::hub::dashboard_body("task_removed").set("taskId", &task.id));
}

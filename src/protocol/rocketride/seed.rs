//! Seeding: giving every subscribed scope the current state of its tasks, when the server
//! does not (spec §3.4: `token:"*"` gets no SUMMARY seed, `projectId + source:"*"` a bogus
//! "Not running" one), and after a reconnect, when the offline interval may have changed
//! anything, including tasks that ended while the client was away.
//!
//! A round asks `rrext_dashboard` for the server's task list, then the status of each task
//! a subscription needs (through `rrext_get_token` when its token is unknown), and reports
//! a reconnect's round in one `reseeded` diagnostic. This module decides; the plug-in sends.

use super::events::{RocketRideEvent, TaskEvent};
use super::task_status::TaskState;
use crate::core::sorted_map::SortedMap;

/// Tasks remembered as running at most (a dashboard of thousands keeps the newest).
const MAX_RUNNING: usize = 4096;
/// Statuses fetched per round at most; the rest are reported as not re-seeded.
pub const MAX_FETCHES: usize = 256;

/// One task of the server's `rrext_dashboard` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedTask {
    pub id: String,
    pub project_id: String,
    pub source: String,
    /// The task has ended (it stays listed until the server's cleanup, ~5 min).
    pub completed: bool,
}

/// A task whose status a round could not re-seed, and why.
pub use crate::core::outputs::TaskFailure as SeedFailure;

/// What a finished round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The round completes a reconnect (it is reported) rather than a subscribe.
    pub reconnect: bool,
    /// Tasks whose current status was delivered.
    pub statuses: Vec<String>,
    /// Tasks that were running before the connection was lost and have ended since
    /// (their final status is among `statuses` while the server still lists them).
    pub ended: Vec<String>,
    pub failed: Vec<SeedFailure>,
}

/// The seeding state of one client.
#[derive(Debug, Default)]
pub struct Seeder {
    /// Tasks seen running (states 1–4), by id: (project, source).
    running: SortedMap<String, (String, String)>,
    round: Option<(Report, usize)>,
    /// Another round was asked for while one was under way.
    again: Option<bool>,
}

impl Seeder {
    /// Follows which tasks run, from every event delivered.
    pub fn observe(&mut self, event: &RocketRideEvent) {
        match event {
            RocketRideEvent::TaskStatus(ev) if !ev.task_id.is_empty() => {
                let s = &ev.status;
                let live = !s.completed && matches!(s.state, TaskState::Starting | TaskState::Initializing | TaskState::Running | TaskState::Stopping);
                if live {
                    self.note_running(&ev.task_id, &s.project_id, &s.source);
                } else {
                    self.running.remove(&ev.task_id);
                }
            }
            RocketRideEvent::Task(TaskEvent::Begin(t) | TaskEvent::Restart(t)) => self.note_running(&t.task_id, &t.project_id, &t.source),
            RocketRideEvent::Task(TaskEvent::End(t)) => {
                self.running.remove(&t.task_id);
            }
            RocketRideEvent::Task(TaskEvent::Running { tasks }) => {
                for t in tasks {
                    self.note_running(&t.id, &t.project_id, &t.source);
                }
            }
            _ => {}
        }
    }

    fn note_running(&mut self, id: &str, project_id: &str, source: &str) {
        // Every status of a live task lands here: one already noted costs no allocation.
        if let Some(place) = self.running.get_mut(id) {
            if place.0 != project_id || place.1 != source {
                *place = (project_id.to_owned(), source.to_owned());
            }
            return;
        }
        if self.running.len() >= MAX_RUNNING {
            self.running.pop_first();
        }
        self.running.insert(id.to_owned(), (project_id.to_owned(), source.to_owned()));
    }

    /// Asks for a round. True when the plug-in must send `rrext_dashboard` now; false when
    /// a round is under way (another follows it).
    pub fn start(&mut self, reconnect: bool) -> bool {
        if self.round.is_some() {
            self.again = Some(self.again.unwrap_or(false) | reconnect);
            return false;
        }
        self.round = Some((Report { reconnect, ..Report::default() }, 0));
        true
    }

    /// The connection was lost: a round under way is abandoned (the reconnect starts its
    /// own).
    pub fn abandon(&mut self) {
        self.round = None;
        self.again = None;
    }

    /// The server's task list arrived: returns the tasks whose status to fetch (those
    /// `wanted` says a subscription needs), after noting which remembered tasks ended.
    pub fn plan(&mut self, listed: &[ListedTask], wanted: impl Fn(&ListedTask) -> bool) -> Vec<ListedTask> {
        let Some((report, pending)) = self.round.as_mut() else { return Vec::new() };
        if report.reconnect {
            let still = |id: &str| listed.iter().any(|t| t.id == id && !t.completed);
            let ended: Vec<String> = self.running.keys().filter(|id| !still(id)).cloned().collect();
            for id in &ended {
                self.running.remove(id);
            }
            report.ended = ended;
        }
        let mut fetch: Vec<ListedTask> = listed.iter().filter(|t| wanted(t)).cloned().collect();
        for skipped in fetch.split_off(fetch.len().min(MAX_FETCHES)) {
            report.failed.push(SeedFailure { task_id: skipped.id, reason: format!("more than {MAX_FETCHES} tasks to re-seed") });
        }
        *pending = fetch.len();
        fetch
    }

    /// A fetch was not sent after all (too many requests in flight).
    pub fn not_sent(&mut self, task_id: &str) {
        self.answered(task_id, Err("the request could not be sent".into()));
    }

    /// One task's fetch ended: its status was delivered, or why not.
    pub fn answered(&mut self, task_id: &str, outcome: Result<(), String>) {
        let Some((report, pending)) = self.round.as_mut() else { return };
        match outcome {
            Ok(()) => report.statuses.push(task_id.to_owned()),
            Err(reason) => report.failed.push(SeedFailure { task_id: task_id.to_owned(), reason }),
        }
        *pending = pending.saturating_sub(1);
    }

    /// The round, once nothing is pending: taken, with whether another must start now
    /// (and whether that one completes a reconnect).
    pub fn finished(&mut self) -> Option<(Report, Option<bool>)> {
        if self.round.as_ref().is_some_and(|(_, pending)| *pending == 0) {
            let (report, _) = self.round.take()?;
            return Some((report, self.again.take()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::rocketride::events::decode_event;

    fn listed(id: &str, completed: bool) -> ListedTask {
        ListedTask { id: id.into(), project_id: "p".into(), source: id.split('.').nth(1).unwrap_or("s").into(), completed }
    }

    fn begin(id: &str) -> RocketRideEvent {
        let body = format!(r#"{{"action":"begin","name":"n","projectId":"p","source":"s","__id":"{id}"}}"#);
        decode_event("apaevt_task", &serde_json::value::RawValue::from_string(body).unwrap()).unwrap()
    }

    #[test]
    fn a_reconnect_round_reports_tasks_that_ended_or_vanished_while_offline() {
        let mut seeder = Seeder::default();
        for id in ["a.s", "b.s", "c.s"] {
            seeder.observe(&begin(id));
        }
        assert!(seeder.start(true));
        let fetch = seeder.plan(&[listed("a.s", false), listed("b.s", true), listed("d.s", false)], |_| true);
        assert_eq!(fetch.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["a.s", "b.s", "d.s"]);
        assert!(seeder.finished().is_none(), "three fetches pending");
        seeder.answered("a.s", Ok(()));
        seeder.answered("b.s", Ok(()));
        seeder.answered("d.s", Err("Your pipeline is not running".into()));
        let (report, again) = seeder.finished().unwrap();
        assert_eq!(report.ended, ["b.s", "c.s"], "b completed, c is gone");
        assert_eq!(report.statuses, ["a.s", "b.s"]);
        assert_eq!(report.failed, [SeedFailure { task_id: "d.s".into(), reason: "Your pipeline is not running".into() }]);
        assert_eq!(again, None);
        // Ended tasks are forgotten: the next reconnect does not report them again.
        assert!(seeder.start(true));
        seeder.plan(&[listed("a.s", false)], |_| false);
        assert!(seeder.finished().unwrap().0.ended.is_empty());
    }

    #[test]
    fn a_round_asked_for_during_another_follows_it() {
        let mut seeder = Seeder::default();
        assert!(seeder.start(false));
        assert!(!seeder.start(true));
        seeder.plan(&[], |_| true);
        let (report, again) = seeder.finished().unwrap();
        assert!(!report.reconnect && report.ended.is_empty());
        assert_eq!(again, Some(true));
    }

    #[test]
    fn fetches_are_bounded_and_the_rest_reported() {
        let mut seeder = Seeder::default();
        seeder.start(false);
        let many: Vec<ListedTask> = (0..MAX_FETCHES + 3).map(|i| listed(&format!("{i:08}.s"), false)).collect();
        assert_eq!(seeder.plan(&many, |_| true).len(), MAX_FETCHES);
        for t in &many[..MAX_FETCHES] {
            seeder.answered(&t.id, Ok(()));
        }
        assert_eq!(seeder.finished().unwrap().0.failed.len(), 3);
    }

    #[test]
    fn a_lost_connection_abandons_the_round() {
        let mut seeder = Seeder::default();
        seeder.start(true);
        seeder.abandon();
        assert!(seeder.finished().is_none());
        assert!(seeder.start(true));
    }
}

//! Newer-server event continuum (spec §8.3, PR #1661): a `logSeq` per
//! `projectId.source`, kept across runs, and the stored events `rrext_log` replays.

use std::collections::{BTreeMap, VecDeque};

/// Events kept per `projectId.source` for replay.
const KEPT_PER_SOURCE: usize = 10_000;

/// The stored task events of every `projectId.source`.
#[derive(Debug, Default)]
pub struct Replay {
    sources: BTreeMap<String, Continuum>,
}

#[derive(Debug, Default)]
struct Continuum {
    last_seq: u64,
    events: VecDeque<Stored>,
}

/// One stored event: its `logSeq`, name and full body text.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Continuum sequence.
    pub log_seq: u64,
    /// Event name.
    pub event: String,
    /// Body JSON text as sent (with `eventTime`, `logSeq`, `__id`).
    pub body: String,
}

fn source_key(project_id: &str, source: &str) -> String {
    format!("{project_id}.{source}")
}

impl Replay {
    /// The next `logSeq` of a source (starts at 1, never resets while the server lives).
    pub fn next_seq(&mut self, project_id: &str, source: &str) -> u64 {
        let c = self.sources.entry(source_key(project_id, source)).or_default();
        c.last_seq += 1;
        c.last_seq
    }

    /// Stores an event under its `logSeq`, evicting the oldest beyond the bound.
    pub fn record(&mut self, project_id: &str, source: &str, log_seq: u64, event: &str, body: String) {
        let c = self.sources.entry(source_key(project_id, source)).or_default();
        if c.events.len() == KEPT_PER_SOURCE {
            c.events.pop_front();
        }
        c.events.push_back(Stored { log_seq, event: event.to_owned(), body });
    }

    /// Stored events with `from <= logSeq <= to` (to = newest when absent).
    pub fn range(&self, project_id: &str, source: &str, from: u64, to: Option<u64>) -> Vec<Stored> {
        let Some(c) = self.sources.get(&source_key(project_id, source)) else { return Vec::new() };
        let to = to.unwrap_or(u64::MAX);
        c.events.iter().filter(|e| e.log_seq >= from && e.log_seq <= to).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_per_source_and_ranges() {
        let mut r = Replay::default();
        for _ in 0..3 {
            let s = r.next_seq("p", "a");
            r.record("p", "a", s, "output", format!("{{\"n\":{s}}}"));
        }
        assert_eq!(r.next_seq("p", "b"), 1);
        let got: Vec<u64> = r.range("p", "a", 2, None).iter().map(|e| e.log_seq).collect();
        assert_eq!(got, vec![2, 3]);
        assert_eq!(r.range("p", "a", 1, Some(1)).len(), 1);
        assert!(r.range("q", "a", 1, None).is_empty());
    }
}

//! A small table of named deadlines.
//!
//! A connection runs several timers at once (heartbeat, request timeouts, reconnect
//! backoff, …). The shell should arm exactly one browser timer, for the earliest of them,
//! and call `handle_timeout` when it fires. As in quinn-proto, each timer kind has at most
//! one deadline and the next wake-up is simply the minimum.

use super::sort::sort_by_u64;
use super::time::Instant;

/// Deadlines keyed by a timer kind `K` (usually a small `Copy` enum).
///
/// ```
/// use runwatch::core::time::Instant;
/// use runwatch::core::timers::Timers;
///
/// #[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// enum Timer { Heartbeat, Reconnect }
///
/// let mut timers = Timers::new();
/// timers.set(Timer::Heartbeat, Instant::from_millis(500));
/// timers.set(Timer::Reconnect, Instant::from_millis(200));
/// assert_eq!(timers.next(), Some(Instant::from_millis(200)));
/// assert_eq!(timers.pop_expired(Instant::from_millis(300)), [Timer::Reconnect]);
/// assert_eq!(timers.next(), Some(Instant::from_millis(500)));
/// ```
#[derive(Clone, Debug)]
pub struct Timers<K> {
    // Kept in the order the deadlines were set, so that ties pop in that order. The table
    // holds a handful of entries, so a linear scan beats any indexed structure.
    entries: Vec<(K, Instant)>,
}

impl<K: Copy + Eq> Timers<K> {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Arms `kind` to fire at `at`, replacing any earlier deadline for it. Re-arming counts
    /// as a fresh insertion for tie ordering.
    pub fn set(&mut self, kind: K, at: Instant) {
        self.clear(kind);
        self.entries.push((kind, at));
    }

    /// Disarms `kind`; a no-op if it was not set.
    pub fn clear(&mut self, kind: K) {
        self.entries.retain(|(k, _)| *k != kind);
    }

    /// The deadline of `kind`, if armed.
    #[must_use]
    pub fn get(&self, kind: K) -> Option<Instant> {
        self.entries
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, at)| *at)
    }

    /// The earliest armed deadline: when the shell should next call back.
    #[must_use]
    pub fn next(&self) -> Option<Instant> {
        self.entries.iter().map(|(_, at)| *at).min()
    }

    /// Disarms and returns every kind whose deadline is at or before `now`, earliest first;
    /// kinds with equal deadlines come in the order they were set.
    pub fn pop_expired(&mut self, now: Instant) -> Vec<K> {
        let (mut expired, pending): (Vec<_>, Vec<_>) =
            self.entries.drain(..).partition(|(_, at)| *at <= now);
        self.entries = pending;
        // A stable sort keeps insertion order among equal deadlines.
        sort_by_u64(&mut expired, |(_, at)| at.as_millis());
        expired.into_iter().map(|(k, _)| k).collect()
    }

    /// Disarms everything.
    pub fn clear_all(&mut self) {
        self.entries.clear();
    }

    /// Whether no timer is armed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Copy + Eq> Default for Timers<K> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum T {
        A,
        B,
        C,
    }

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn empty_has_no_deadline() {
        let t: Timers<T> = Timers::default();
        assert!(t.is_empty());
        assert_eq!(t.next(), None);
        assert_eq!(t.get(T::A), None);
    }

    #[test]
    fn next_is_the_minimum() {
        let mut t = Timers::new();
        t.set(T::A, at(30));
        t.set(T::B, at(10));
        t.set(T::C, at(20));
        assert_eq!(t.next(), Some(at(10)));
        assert_eq!(t.get(T::C), Some(at(20)));
    }

    #[test]
    fn set_replaces_the_deadline() {
        let mut t = Timers::new();
        t.set(T::A, at(10));
        t.set(T::A, at(50));
        assert_eq!(t.get(T::A), Some(at(50)));
        assert_eq!(t.next(), Some(at(50)));
        assert_eq!(t.pop_expired(at(100)), [T::A], "one entry per kind");
    }

    #[test]
    fn clear_disarms_one_kind() {
        let mut t = Timers::new();
        t.set(T::A, at(10));
        t.set(T::B, at(20));
        t.clear(T::A);
        t.clear(T::C);
        assert_eq!(t.get(T::A), None);
        assert_eq!(t.next(), Some(at(20)));
    }

    #[test]
    fn pop_expired_is_inclusive_and_ordered() {
        let mut t = Timers::new();
        t.set(T::A, at(30));
        t.set(T::B, at(10));
        t.set(T::C, at(31));
        assert_eq!(t.pop_expired(at(30)), [T::B, T::A]);
        assert_eq!(t.get(T::C), Some(at(31)));
        assert!(
            t.pop_expired(at(30)).is_empty(),
            "a spurious call pops nothing"
        );
    }

    #[test]
    fn ties_pop_in_insertion_order() {
        let mut t = Timers::new();
        t.set(T::C, at(5));
        t.set(T::A, at(5));
        t.set(T::B, at(5));
        assert_eq!(t.pop_expired(at(5)), [T::C, T::A, T::B]);
        assert!(t.is_empty());
    }

    #[test]
    fn rearming_moves_to_the_back_of_ties() {
        let mut t = Timers::new();
        t.set(T::A, at(5));
        t.set(T::B, at(5));
        t.set(T::A, at(5));
        assert_eq!(t.pop_expired(at(5)), [T::B, T::A]);
    }

    #[test]
    fn clear_all_empties() {
        let mut t = Timers::new();
        t.set(T::A, at(1));
        t.set(T::B, at(2));
        t.clear_all();
        assert!(t.is_empty());
        assert_eq!(t.next(), None);
    }
}

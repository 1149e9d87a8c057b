//! Correlating requests with their responses.
//!
//! Every request the client sends carries a client `seq`; the engine echoes it as
//! `request_seq` in the response, and responses may come back in any order. This table
//! remembers what each in-flight request was for (the tag `T`), when it gives up, and
//! bounds how many may be outstanding so a stalled server cannot grow it forever.

use super::sorted_map::SortedMap;
use super::time::{Duration, Instant};

/// Returned by [`Requests::start`] when the table is at capacity; carries the capacity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too many requests in flight ({0})")]
pub struct RequestsFull(pub usize);

#[derive(Clone, Debug)]
struct Pending<T> {
    deadline: Option<Instant>,
    tag: T,
}

/// In-flight requests keyed by client seq.
///
/// The client seq starts at 1 and is never reset, not even across reconnects (as in the
/// official SDKs), so a late response from an old connection can never complete a new
/// request by accident.
///
/// ```
/// use runwatch::core::requests::Requests;
/// use runwatch::core::time::{Duration, Instant};
///
/// let mut reqs = Requests::new(8);
/// let now = Instant::from_millis(0);
/// let a = reqs.start(now, Some(Duration::from_secs(5)), "auth").unwrap();
/// let b = reqs.start(now, None, "monitor").unwrap();
/// assert_eq!((a, b), (1, 2));
/// assert_eq!(reqs.complete(b), Some("monitor")); // out of order is fine
/// assert_eq!(reqs.poll_timeout(), Some(Instant::from_millis(5_000)));
/// assert_eq!(reqs.expire(Instant::from_millis(5_000)), [(1, "auth")]);
/// ```
#[derive(Clone, Debug)]
pub struct Requests<T> {
    // Ordered by seq so expiry and drain report in send order. In-flight counts are small
    // (bounded by `capacity`), so deadlines are found by scanning rather than indexed.
    pending: SortedMap<u64, Pending<T>>,
    next_seq: u64,
    capacity: usize,
}

impl<T> Requests<T> {
    /// An empty table admitting at most `capacity` requests in flight.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            pending: SortedMap::new(),
            next_seq: 1,
            capacity,
        }
    }

    /// Registers a request sent at `now` and returns the seq to put on the wire. With a
    /// `timeout`, the request expires at `now + timeout`; without one it waits forever.
    ///
    /// # Errors
    ///
    /// [`RequestsFull`] if `capacity` requests are already in flight; no seq is used up.
    pub fn start(
        &mut self,
        now: Instant,
        timeout: Option<Duration>,
        tag: T,
    ) -> Result<u64, RequestsFull> {
        if self.pending.len() >= self.capacity {
            return Err(RequestsFull(self.capacity));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let deadline = timeout.map(|t| now + t);
        self.pending.insert(seq, Pending { deadline, tag });
        Ok(seq)
    }

    /// Matches a response to its request; `None` if the seq is unknown, already
    /// completed or expired.
    pub fn complete(&mut self, request_seq: u64) -> Option<T> {
        self.pending.remove(&request_seq).map(|p| p.tag)
    }

    /// The earliest deadline among in-flight requests.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().filter_map(|p| p.deadline).min()
    }

    /// Removes and returns every request whose deadline is at or before `now`, in
    /// ascending seq order.
    pub fn expire(&mut self, now: Instant) -> Vec<(u64, T)> {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .map(|(seq, _)| *seq)
            .collect();
        due.into_iter()
            .filter_map(|seq| self.pending.remove(&seq).map(|p| (seq, p.tag)))
            .collect()
    }

    /// Removes and returns every in-flight request in ascending seq order, e.g. to fail
    /// them all when the connection drops.
    pub fn drain(&mut self) -> Vec<(u64, T)> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(seq, p)| (seq, p.tag))
            .collect()
    }

    /// The tag of an in-flight request.
    #[must_use]
    pub fn get(&self, seq: u64) -> Option<&T> {
        self.pending.get(&seq).map(|p| &p.tag)
    }

    /// Number of requests in flight.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no request is in flight.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn seqs_start_at_one_and_increase() {
        let mut r = Requests::new(4);
        assert_eq!(r.start(at(0), None, 'a'), Ok(1));
        assert_eq!(r.start(at(0), None, 'b'), Ok(2));
        assert_eq!(r.len(), 2);
        assert_eq!(r.get(2), Some(&'b'));
    }

    #[test]
    fn completes_out_of_order() {
        let mut r = Requests::new(4);
        let a = r.start(at(0), None, 'a').unwrap();
        let b = r.start(at(0), None, 'b').unwrap();
        let c = r.start(at(0), None, 'c').unwrap();
        assert_eq!(r.complete(c), Some('c'));
        assert_eq!(r.complete(a), Some('a'));
        assert_eq!(r.get(b), Some(&'b'));
        assert_eq!(r.complete(b), Some('b'));
        assert!(r.is_empty());
    }

    #[test]
    fn unknown_or_repeated_seq_is_none() {
        let mut r = Requests::new(4);
        let a = r.start(at(0), None, 'a').unwrap();
        assert_eq!(r.complete(99), None);
        assert_eq!(r.complete(0), None);
        assert_eq!(r.complete(a), Some('a'));
        assert_eq!(r.complete(a), None, "a response cannot complete twice");
    }

    #[test]
    fn expires_exactly_at_the_deadline() {
        let mut r = Requests::new(4);
        r.start(at(100), Some(MS(50)), 'a').unwrap();
        assert_eq!(r.poll_timeout(), Some(at(150)));
        assert!(r.expire(at(149)).is_empty());
        assert_eq!(r.expire(at(150)), [(1, 'a')]);
        assert_eq!(r.poll_timeout(), None);
        assert!(r.is_empty());
    }

    #[test]
    fn expire_returns_ascending_seq_and_keeps_the_rest() {
        let mut r = Requests::new(8);
        r.start(at(0), Some(MS(30)), 'a').unwrap();
        r.start(at(0), Some(MS(10)), 'b').unwrap();
        r.start(at(0), Some(MS(99)), 'c').unwrap();
        r.start(at(0), Some(MS(20)), 'd').unwrap();
        assert_eq!(r.poll_timeout(), Some(at(10)));
        assert_eq!(r.expire(at(30)), [(1, 'a'), (2, 'b'), (4, 'd')]);
        assert_eq!(r.poll_timeout(), Some(at(99)));
        assert_eq!(r.get(3), Some(&'c'));
    }

    #[test]
    fn requests_without_timeout_never_expire() {
        let mut r = Requests::new(4);
        r.start(at(0), None, 'a').unwrap();
        assert_eq!(r.poll_timeout(), None);
        assert!(r.expire(at(u64::MAX)).is_empty());
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn capacity_is_enforced_and_freed() {
        let mut r = Requests::new(2);
        r.start(at(0), None, 'a').unwrap();
        r.start(at(0), None, 'b').unwrap();
        let err = r.start(at(0), None, 'c').unwrap_err();
        assert_eq!(err, RequestsFull(2));
        assert_eq!(err.to_string(), "too many requests in flight (2)");
        r.complete(1);
        assert_eq!(
            r.start(at(0), None, 'c'),
            Ok(3),
            "a refused start uses no seq"
        );
    }

    #[test]
    fn drain_empties_in_seq_order() {
        let mut r = Requests::new(4);
        r.start(at(0), Some(MS(5)), 'a').unwrap();
        r.start(at(0), None, 'b').unwrap();
        assert_eq!(r.drain(), [(1, 'a'), (2, 'b')]);
        assert!(r.is_empty());
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn seqs_are_never_reused() {
        let mut r = Requests::new(1);
        let mut seen = Vec::new();
        for i in 0..10u64 {
            let seq = r.start(at(i), Some(MS(1)), ()).unwrap();
            seen.push(seq);
            match i % 3 {
                0 => assert!(r.complete(seq).is_some()),
                1 => assert_eq!(r.expire(at(i + 1)).len(), 1),
                _ => assert_eq!(r.drain().len(), 1),
            }
        }
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    }
}

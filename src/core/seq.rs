//! Server `seq` tracking: in-order delivery with a small reorder buffer.
//!
//! The engine numbers every frame it sends on one connection 1, 2, 3, … (responses and
//! events share the counter) and restarts at 1 on each new connection. The delivery
//! contract promises the app events in `seq` order, duplicates dropped and counted, and
//! holes reported as gaps rather than hidden. Real servers and proxies occasionally swap
//! neighbouring frames, so a frame that arrives early waits briefly for the missing one;
//! the wait is bounded in time (`reorder_window`) and space (`max_buffered`) so a lost
//! frame costs a little latency, never a stall or unbounded memory. A server that sends a
//! wildly wrong `seq` must not wedge the stream either, so implausible jumps are delivered
//! as anomalies without moving the counter.

use std::collections::VecDeque;

use super::sorted_map::SortedMap;
use super::time::{Duration, Instant};

/// How many reported gap ranges are remembered to tell a late frame from a duplicate.
const GAP_HISTORY: usize = 64;

/// Tuning for [`SeqTracker`].
#[derive(Clone, Debug, PartialEq)]
pub struct SeqConfig {
    /// How long a frame that arrived early waits for its missing predecessors before they
    /// are declared a gap. This is the most latency reordering can add to any frame.
    pub reorder_window: Duration,
    /// The most early frames held at once; one more declares the lowest hole a gap at once.
    pub max_buffered: usize,
    /// A `seq` further than this ahead of the expected one is treated as a lie, not a hole.
    pub max_jump: u64,
}

impl Default for SeqConfig {
    /// 150 ms window, 256 buffered frames, jumps up to 10 000.
    fn default() -> Self {
        Self {
            reorder_window: Duration::from_millis(150),
            max_buffered: 256,
            max_jump: 10_000,
        }
    }
}

/// What [`SeqTracker`] reports, in the order the app should see it.
#[derive(Debug, Clone, PartialEq)]
pub enum SeqEvent<T> {
    /// Hand `item` to the app; outside anomalies, `seq` values strictly increase.
    Deliver {
        /// The frame's server seq.
        seq: u64,
        /// The frame itself.
        item: T,
    },
    /// The inclusive range `first..=last` is declared missing; delivery resumes after it.
    Gap {
        /// The first missing seq.
        first: u64,
        /// The last missing seq.
        last: u64,
    },
    /// A frame whose seq was already delivered or is already buffered; it was dropped.
    Duplicate {
        /// The repeated seq.
        seq: u64,
    },
    /// A frame that arrived after its seq had been reported in a [`SeqEvent::Gap`]. It is
    /// not delivered in order, because that would break ordering; the caller decides what
    /// is still worth doing with it (a response still answers its request).
    Late {
        /// The late seq.
        seq: u64,
        /// The frame.
        item: T,
    },
    /// An implausible seq (0, or more than `max_jump` ahead of `expected`). The frame
    /// follows as a [`SeqEvent::Deliver`] but does not move the counter.
    Anomaly {
        /// The seq the frame carried.
        seq: u64,
        /// The seq the tracker was waiting for.
        expected: u64,
    },
}

/// Counters over the tracker's whole life (they survive [`SeqTracker::reset`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeqStats {
    /// [`SeqEvent::Deliver`] events emitted, anomalies included.
    pub delivered: u64,
    /// [`SeqEvent::Duplicate`] events emitted.
    pub duplicates: u64,
    /// [`SeqEvent::Gap`] events emitted.
    pub gaps: u64,
    /// Total seqs covered by all gaps.
    pub missing: u64,
    /// [`SeqEvent::Late`] events emitted.
    pub late: u64,
    /// [`SeqEvent::Anomaly`] events emitted.
    pub anomalies: u64,
    /// Frames that arrived ahead of a missing predecessor and were delivered in order once
    /// it arrived, i.e. reordering that the buffer repaired.
    pub reordered: u64,
}

/// An early frame waiting for its predecessors.
#[derive(Clone, Debug)]
struct Held<T> {
    arrived: Instant,
    item: T,
}

/// Puts one connection's frames back in `seq` order.
///
/// Inputs are [`push`](Self::push) for each frame and [`handle_timeout`](Self::handle_timeout)
/// when [`poll_timeout`](Self::poll_timeout) comes due; events are appended to the caller's
/// vector in the order the app should see them. On connection loss call
/// [`flush`](Self::flush), then [`reset`](Self::reset) before the next connection's frames.
/// `now` must not go backwards.
///
/// Every hole waits at most `reorder_window` from the moment it opened, that is from the
/// arrival of the earliest buffered frame above it, so no frame is held longer than the
/// window.
///
/// ```
/// use runwatch::core::seq::{SeqConfig, SeqEvent, SeqTracker};
/// use runwatch::core::time::Instant;
///
/// let mut seq = SeqTracker::new(SeqConfig::default());
/// let mut out = Vec::new();
/// let t0 = Instant::from_millis(0);
/// seq.push(t0, 1, "a", &mut out);
/// seq.push(t0, 3, "c", &mut out); // 2 is missing: "c" waits
/// assert_eq!(seq.poll_timeout(), Some(Instant::from_millis(150)));
/// seq.handle_timeout(Instant::from_millis(150), &mut out);
/// assert_eq!(out, [
///     SeqEvent::Deliver { seq: 1, item: "a" },
///     SeqEvent::Gap { first: 2, last: 2 },
///     SeqEvent::Deliver { seq: 3, item: "c" },
/// ]);
/// ```
#[derive(Clone, Debug)]
pub struct SeqTracker<T> {
    cfg: SeqConfig,
    expected: u64,
    // Frames above `expected`; the lowest key is always above it, so there is a hole at
    // `expected` whenever this is non-empty.
    buffer: SortedMap<u64, Held<T>>,
    // Deadline of the lowest hole: earliest arrival in `buffer` plus the window. Cached so
    // `poll_timeout` is O(1); recomputed only when frames leave the buffer.
    deadline: Option<Instant>,
    // Reported gap ranges not yet filled by late frames, oldest first.
    gaps: VecDeque<(u64, u64)>,
    stats: SeqStats,
}

impl<T> SeqTracker<T> {
    /// A tracker for a fresh connection, expecting seq 1.
    #[must_use]
    pub fn new(cfg: SeqConfig) -> Self {
        Self {
            cfg,
            expected: 1,
            buffer: SortedMap::new(),
            deadline: None,
            gaps: VecDeque::new(),
            stats: SeqStats::default(),
        }
    }

    /// Accepts one frame received at `now` and appends what it causes to `out`.
    pub fn push(&mut self, now: Instant, seq: u64, item: T, out: &mut Vec<SeqEvent<T>>) {
        if seq == 0 || seq.saturating_sub(self.expected) > self.cfg.max_jump {
            self.anomaly(seq, item, out);
        } else if seq == self.expected {
            self.deliver_next(item, out);
            self.release(out, true);
        } else if seq > self.expected {
            self.hold(now, seq, item, out);
        } else {
            self.stale(seq, item, out);
        }
    }

    /// [`push`](Self::push)'s common case without its list: `seq` is the one expected and
    /// no frame is held behind a hole, so its item is delivered at once, by the caller.
    /// True then (counted as `push` counts it); false, changing nothing, otherwise, and the
    /// frame must go through `push`.
    pub fn take_next(&mut self, seq: u64) -> bool {
        if seq != self.expected || !self.buffer.is_empty() {
            return false;
        }
        self.stats.delivered += 1;
        self.expected += 1;
        true
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called: the deadline of
    /// the lowest open hole, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Declares every hole whose deadline is at or before `now` a gap and delivers the
    /// frames behind it. A call with nothing due does nothing.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<SeqEvent<T>>) {
        while self.deadline.is_some_and(|d| d <= now) {
            self.skip_lowest_hole(out);
        }
    }

    /// On connection loss: declares every remaining hole a gap and delivers all buffered
    /// frames in order.
    pub fn flush(&mut self, out: &mut Vec<SeqEvent<T>>) {
        while !self.buffer.is_empty() {
            self.skip_lowest_hole(out);
        }
    }

    /// Prepares for a new connection: expects seq 1 again and forgets buffered frames and
    /// gap history (call [`flush`](Self::flush) first to keep them). Stats are kept.
    pub fn reset(&mut self) {
        self.expected = 1;
        self.buffer.clear();
        self.deadline = None;
        self.gaps.clear();
    }

    /// Cumulative counters.
    #[must_use]
    pub fn stats(&self) -> &SeqStats {
        &self.stats
    }

    /// The next seq that would be delivered straight away.
    #[must_use]
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// How many early frames are waiting.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    fn emit_deliver(&mut self, seq: u64, item: T, out: &mut Vec<SeqEvent<T>>) {
        self.stats.delivered += 1;
        out.push(SeqEvent::Deliver { seq, item });
    }

    fn deliver_next(&mut self, item: T, out: &mut Vec<SeqEvent<T>>) {
        self.emit_deliver(self.expected, item, out);
        self.expected += 1;
    }

    fn anomaly(&mut self, seq: u64, item: T, out: &mut Vec<SeqEvent<T>>) {
        self.stats.anomalies += 1;
        out.push(SeqEvent::Anomaly {
            seq,
            expected: self.expected,
        });
        self.emit_deliver(seq, item, out);
    }

    fn duplicate(&mut self, seq: u64, out: &mut Vec<SeqEvent<T>>) {
        self.stats.duplicates += 1;
        out.push(SeqEvent::Duplicate { seq });
    }

    /// Buffers an early frame, then enforces `max_buffered`.
    fn hold(&mut self, now: Instant, seq: u64, item: T, out: &mut Vec<SeqEvent<T>>) {
        if self.buffer.contains_key(&seq) {
            self.duplicate(seq, out);
            return;
        }
        self.buffer.insert(seq, Held { arrived: now, item });
        let candidate = now + self.cfg.reorder_window;
        self.deadline = Some(self.deadline.map_or(candidate, |d| d.min(candidate)));
        while self.buffer.len() > self.cfg.max_buffered {
            self.skip_lowest_hole(out);
        }
    }

    /// Handles a seq below `expected`: late if it falls in a remembered gap it has not
    /// already filled, otherwise a duplicate.
    fn stale(&mut self, seq: u64, item: T, out: &mut Vec<SeqEvent<T>>) {
        let Some(i) = self.gaps.iter().position(|&(a, b)| (a..=b).contains(&seq)) else {
            self.duplicate(seq, out);
            return;
        };
        // Punch `seq` out of its range so a second copy counts as a duplicate.
        let (first, last) = self.gaps[i];
        self.gaps.remove(i);
        if seq < last {
            self.gaps.insert(i, (seq + 1, last));
        }
        if first < seq {
            self.gaps.insert(i, (first, seq - 1));
        }
        self.trim_gap_history();
        self.stats.late += 1;
        out.push(SeqEvent::Late { seq, item });
    }

    /// Declares `expected..first_buffered` a gap and delivers the run that follows it.
    fn skip_lowest_hole(&mut self, out: &mut Vec<SeqEvent<T>>) {
        let Some(&next) = self.buffer.keys().next() else {
            return;
        };
        let (first, last) = (self.expected, next - 1);
        self.stats.gaps += 1;
        self.stats.missing += next - first;
        out.push(SeqEvent::Gap { first, last });
        self.gaps.push_back((first, last));
        self.trim_gap_history();
        self.expected = next;
        self.release(out, false);
    }

    /// Delivers buffered frames that are now contiguous with `expected`. `repaired` says
    /// whether the hole before them was filled by a real frame (counted as reordering)
    /// rather than skipped as a gap.
    fn release(&mut self, out: &mut Vec<SeqEvent<T>>, repaired: bool) {
        // The run of buffered seqs that follows on from `expected`, taken out in one move.
        let run = self.buffer.keys().zip(self.expected..).take_while(|(seq, want)| **seq == *want).count();
        let ready: Vec<Held<T>> = self.buffer.drain_first(run).map(|(_, held)| held).collect();
        for held in ready {
            self.deliver_next(held.item, out);
            if repaired {
                self.stats.reordered += 1;
            }
        }
        if run > 0 {
            // The next hole opened when the earliest frame still buffered arrived.
            let earliest = self.buffer.values().map(|h| h.arrived).min();
            self.deadline = earliest.map(|t| t + self.cfg.reorder_window);
        }
    }

    fn trim_gap_history(&mut self) {
        while self.gaps.len() > GAP_HISTORY {
            self.gaps.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, prop_assert_eq, proptest, Just, ProptestConfig, Strategy};
    use proptest::{bool, collection};
    use SeqEvent::{Anomaly, Deliver, Duplicate, Gap, Late};

    type Tracker = SeqTracker<u64>;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn tracker(max_buffered: usize) -> Tracker {
        SeqTracker::new(SeqConfig {
            max_buffered,
            ..SeqConfig::default()
        })
    }

    /// Pushes `seq` (with itself as the item) at `ms` and returns what it caused.
    fn push(t: &mut Tracker, ms: u64, seq: u64) -> Vec<SeqEvent<u64>> {
        let mut out = Vec::new();
        t.push(at(ms), seq, seq, &mut out);
        out
    }

    fn timeout(t: &mut Tracker, ms: u64) -> Vec<SeqEvent<u64>> {
        let mut out = Vec::new();
        t.handle_timeout(at(ms), &mut out);
        out
    }

    fn d(seq: u64) -> SeqEvent<u64> {
        Deliver { seq, item: seq }
    }

    #[test]
    fn default_config_matches_design() {
        let cfg = SeqConfig::default();
        assert_eq!(cfg.reorder_window, Duration::from_millis(150));
        assert_eq!((cfg.max_buffered, cfg.max_jump), (256, 10_000));
    }

    #[test]
    fn in_order_frames_are_delivered_at_once() {
        let mut t = tracker(256);
        for n in 1..=5 {
            assert_eq!(push(&mut t, n, n), [d(n)]);
        }
        assert_eq!(t.expected(), 6);
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(
            t.stats(),
            &SeqStats {
                delivered: 5,
                ..SeqStats::default()
            }
        );
    }

    #[test]
    fn duplicate_of_delivered_frame_is_dropped() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 0, 2);
        assert_eq!(push(&mut t, 0, 1), [Duplicate { seq: 1 }]);
        assert_eq!(t.stats().duplicates, 1);
        assert_eq!(t.stats().delivered, 2);
    }

    #[test]
    fn duplicate_of_buffered_frame_is_dropped() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        assert!(push(&mut t, 0, 3).is_empty());
        assert_eq!(push(&mut t, 0, 3), [Duplicate { seq: 3 }]);
        assert_eq!(t.buffered(), 1);
        assert_eq!(push(&mut t, 0, 2), [d(2), d(3)]);
    }

    #[test]
    fn swap_within_window_is_repaired_without_gap() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        assert!(push(&mut t, 10, 3).is_empty());
        assert_eq!(t.poll_timeout(), Some(at(160)));
        assert_eq!(push(&mut t, 20, 2), [d(2), d(3)]);
        assert_eq!(t.poll_timeout(), None);
        assert_eq!(t.stats().reordered, 1);
        assert_eq!(t.stats().gaps, 0);
    }

    #[test]
    fn hole_times_out_as_gap_then_straggler_is_late() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 10, 3);
        push(&mut t, 20, 4);
        assert!(timeout(&mut t, 159).is_empty(), "not due yet");
        assert_eq!(
            timeout(&mut t, 160),
            [Gap { first: 2, last: 2 }, d(3), d(4)]
        );
        assert_eq!(push(&mut t, 200, 2), [Late { seq: 2, item: 2 }]);
        assert_eq!(
            push(&mut t, 210, 2),
            [Duplicate { seq: 2 }],
            "the gap slot is used up"
        );
        let s = t.stats();
        assert_eq!(
            (s.gaps, s.missing, s.late, s.duplicates, s.reordered),
            (1, 1, 1, 1, 0)
        );
    }

    #[test]
    fn spurious_timeouts_do_nothing() {
        let mut t = tracker(256);
        assert!(timeout(&mut t, 1_000).is_empty());
        push(&mut t, 0, 1);
        push(&mut t, 0, 3);
        assert_eq!(timeout(&mut t, 150).len(), 2);
        assert!(timeout(&mut t, 150).is_empty());
        assert!(timeout(&mut t, 9_999).is_empty());
        assert_eq!(t.stats().gaps, 1);
    }

    #[test]
    fn each_hole_waits_from_when_it_opened() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 0, 3);
        push(&mut t, 100, 5); // opens the hole at 4
        assert_eq!(timeout(&mut t, 150), [Gap { first: 2, last: 2 }, d(3)]);
        assert_eq!(t.poll_timeout(), Some(at(250)));
        assert_eq!(timeout(&mut t, 250), [Gap { first: 4, last: 4 }, d(5)]);
    }

    #[test]
    fn one_timeout_reports_every_expired_hole() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 0, 3);
        push(&mut t, 10, 6);
        let out = timeout(&mut t, 500);
        assert_eq!(
            out,
            [
                Gap { first: 2, last: 2 },
                d(3),
                Gap { first: 4, last: 5 },
                d(6)
            ]
        );
        assert_eq!(t.stats().missing, 3);
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn partly_filled_hole_keeps_its_deadline() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 0, 4);
        assert_eq!(push(&mut t, 100, 2), [d(2)]);
        assert_eq!(t.poll_timeout(), Some(at(150)));
        assert_eq!(timeout(&mut t, 150), [Gap { first: 3, last: 3 }, d(4)]);
    }

    #[test]
    fn full_buffer_declares_lowest_hole_at_once() {
        let mut t = tracker(2);
        push(&mut t, 0, 1);
        push(&mut t, 0, 3);
        push(&mut t, 0, 4);
        assert_eq!(push(&mut t, 0, 6), [Gap { first: 2, last: 2 }, d(3), d(4)]);
        assert_eq!(t.buffered(), 1);
        assert_eq!(t.expected(), 5);
        assert_eq!(t.poll_timeout(), Some(at(150)));
    }

    #[test]
    fn zero_buffer_disables_reordering() {
        let mut t = tracker(0);
        push(&mut t, 0, 1);
        assert_eq!(push(&mut t, 0, 3), [Gap { first: 2, last: 2 }, d(3)]);
        assert_eq!(push(&mut t, 0, 2), [Late { seq: 2, item: 2 }]);
    }

    #[test]
    fn lying_seq_is_delivered_as_anomaly_without_moving_the_counter() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 0, 2);
        let out = push(&mut t, 0, 1_000_000);
        assert_eq!(
            out,
            [
                Anomaly {
                    seq: 1_000_000,
                    expected: 3
                },
                d(1_000_000)
            ]
        );
        assert_eq!(t.expected(), 3);
        assert_eq!(push(&mut t, 0, 3), [d(3)]);
        assert_eq!(push(&mut t, 0, 4), [d(4)]);
        assert_eq!(
            (t.stats().anomalies, t.stats().delivered, t.stats().gaps),
            (1, 5, 0)
        );
    }

    #[test]
    fn jump_of_exactly_max_jump_is_a_hole() {
        let mut t = SeqTracker::new(SeqConfig {
            max_jump: 10,
            ..SeqConfig::default()
        });
        assert!(push(&mut t, 0, 11).is_empty(), "11 - 1 = 10 is plausible");
        assert_eq!(
            push(&mut t, 0, 12)[0],
            Anomaly {
                seq: 12,
                expected: 1
            }
        );
    }

    #[test]
    fn seq_zero_is_an_anomaly() {
        let mut t = tracker(256);
        assert_eq!(
            push(&mut t, 0, 0),
            [
                Anomaly {
                    seq: 0,
                    expected: 1
                },
                d(0)
            ]
        );
        assert_eq!(t.expected(), 1);
    }

    #[test]
    fn flush_reports_all_holes_and_delivers_everything() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 0, 3);
        push(&mut t, 0, 6);
        let mut out = Vec::new();
        t.flush(&mut out);
        assert_eq!(
            out,
            [
                Gap { first: 2, last: 2 },
                d(3),
                Gap { first: 4, last: 5 },
                d(6)
            ]
        );
        assert_eq!((t.buffered(), t.expected(), t.poll_timeout()), (0, 7, None));
    }

    #[test]
    fn reset_starts_a_new_connection_and_keeps_stats() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 0, 3);
        timeout(&mut t, 150); // gap at 2
        t.reset();
        assert_eq!(t.expected(), 1);
        assert_eq!(push(&mut t, 200, 1), [d(1)]);
        assert_eq!(push(&mut t, 200, 2), [d(2)]);
        // The old connection's gap is forgotten: a repeat of 2 is a plain duplicate.
        assert_eq!(push(&mut t, 200, 2), [Duplicate { seq: 2 }]);
        assert_eq!((t.stats().delivered, t.stats().gaps), (4, 1));
    }

    #[test]
    fn reset_drops_buffered_frames() {
        let mut t = tracker(256);
        push(&mut t, 0, 1);
        push(&mut t, 0, 3);
        t.reset();
        assert_eq!((t.buffered(), t.poll_timeout()), (0, None));
        assert_eq!(push(&mut t, 0, 1), [d(1)]);
    }

    #[test]
    fn late_frames_fill_a_wide_gap_one_by_one() {
        let mut t = tracker(0);
        push(&mut t, 0, 1);
        assert_eq!(push(&mut t, 0, 5)[0], Gap { first: 2, last: 4 });
        assert_eq!(push(&mut t, 0, 3), [Late { seq: 3, item: 3 }]);
        assert_eq!(push(&mut t, 0, 3), [Duplicate { seq: 3 }]);
        assert_eq!(push(&mut t, 0, 2), [Late { seq: 2, item: 2 }]);
        assert_eq!(push(&mut t, 0, 4), [Late { seq: 4, item: 4 }]);
        assert_eq!(push(&mut t, 0, 4), [Duplicate { seq: 4 }]);
    }

    #[test]
    fn gap_history_is_bounded() {
        let mut t = tracker(0);
        // 1, 3, 5, …: every even seq becomes its own gap.
        let gaps = u64::try_from(GAP_HISTORY).unwrap() + 6;
        for k in 0..=gaps {
            push(&mut t, 0, 2 * k + 1);
        }
        assert_eq!(t.stats().gaps, gaps);
        assert_eq!(
            push(&mut t, 0, 2),
            [Duplicate { seq: 2 }],
            "oldest gap forgotten"
        );
        assert_eq!(push(&mut t, 0, 2 * gaps), [Late { seq: 2 * gaps, item: 2 * gaps }]);
    }

    /// One step of a fault schedule.
    #[derive(Debug)]
    enum Step {
        Frame { seq: u64, after_ms: u64 },
        Timeout { after_ms: u64 },
    }

    /// Frames 1..=n with some dropped, some duplicated, some neighbours swapped, and
    /// timeouts in between. Returns the schedule and the highest seq that was sent.
    fn schedule(
        fates: &[(bool, bool)],
        swaps: &[bool],
        gaps_ms: &[(u64, Option<u64>)],
    ) -> (Vec<Step>, u64) {
        let mut seqs = Vec::new();
        for (seq, &(drop, dup)) in (1u64..).zip(fates) {
            if !drop {
                seqs.push(seq);
            }
            if dup {
                seqs.push(seq);
            }
        }
        let mut i = 0;
        while i + 1 < seqs.len() {
            if swaps[i % swaps.len()] {
                seqs.swap(i, i + 1);
                i += 1;
            }
            i += 1;
        }
        let max_seen = seqs.iter().copied().max().unwrap_or(0);
        let mut steps = Vec::new();
        for (i, seq) in seqs.into_iter().enumerate() {
            let (after_ms, timeout) = gaps_ms[i % gaps_ms.len()];
            steps.push(Step::Frame { seq, after_ms });
            if let Some(after_ms) = timeout {
                steps.push(Step::Timeout { after_ms });
            }
        }
        (steps, max_seen)
    }

    /// Runs a schedule with the clock moving forward, flushes, and returns every event.
    fn run(t: &mut Tracker, steps: &[Step]) -> Vec<SeqEvent<u64>> {
        run_taking(t, steps, false)
    }

    /// [`run`], each frame offered to `take_next` first when `taking` (as the connection
    /// does), its delivery then recorded as `push` would have recorded it.
    fn run_taking(t: &mut Tracker, steps: &[Step], taking: bool) -> Vec<SeqEvent<u64>> {
        let (mut now, mut out) = (0, Vec::new());
        for step in steps {
            match *step {
                Step::Frame { seq, after_ms } if taking && t.take_next(seq) => {
                    now += after_ms;
                    out.push(d(seq));
                }
                Step::Frame { seq, after_ms } => {
                    now += after_ms;
                    t.push(at(now), seq, seq, &mut out);
                }
                Step::Timeout { after_ms } => {
                    now += after_ms;
                    t.handle_timeout(at(now), &mut out);
                }
            }
        }
        t.flush(&mut out);
        out
    }

    fn delivered(events: &[SeqEvent<u64>]) -> Vec<u64> {
        events
            .iter()
            .filter(|e| matches!(e, Deliver { .. }))
            .map(seq_of)
            .collect()
    }

    fn seq_of(e: &SeqEvent<u64>) -> u64 {
        match *e {
            Deliver { seq, item } => {
                assert_eq!(seq, item, "an item travels with its own seq");
                seq
            }
            Duplicate { seq } | Late { seq, .. } | Anomaly { seq, .. } => seq,
            Gap { first, .. } => first,
        }
    }

    fn gap_ranges(events: &[SeqEvent<u64>]) -> Vec<(u64, u64)> {
        events
            .iter()
            .filter_map(|e| match *e {
                Gap { first, last } => Some((first, last)),
                _ => None,
            })
            .collect()
    }

    fn count(events: &[SeqEvent<u64>], pred: fn(&SeqEvent<u64>) -> bool) -> u64 {
        u64::try_from(events.iter().filter(|e| pred(e)).count()).unwrap()
    }

    /// What [`fault_schedules`] draws: [`schedule`]'s three inputs and the buffer's bound.
    type FaultSchedule = (Vec<(bool, bool)>, Vec<bool>, Vec<(u64, Option<u64>)>, usize);

    /// A random fault schedule for [`schedule`]: each frame's fate, which neighbours swap,
    /// the gaps between frames (some followed by a timeout check), and the buffer's bound.
    fn fault_schedules() -> impl Strategy<Value = FaultSchedule> {
        (
            collection::vec((bool::weighted(0.15), bool::weighted(0.1)), 1..80),
            collection::vec(bool::weighted(0.2), 1..20),
            collection::vec((0u64..120, proptest::option::weighted(0.15, 0u64..400)), 1..20),
            0usize..8,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_fault_schedules_keep_the_contract((fates, swaps, gaps_ms, max_buffered) in fault_schedules()) {
            let (steps, max_seen) = schedule(&fates, &swaps, &gaps_ms);
            let mut t = tracker(max_buffered);
            let events = run(&mut t, &steps);
            prop_assert_eq!(count(&events, |e| matches!(e, Anomaly { .. })), 0);

            let got = delivered(&events);
            prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "not strictly increasing: {:?}", got);

            let gaps = gap_ranges(&events);
            for &(first, last) in &gaps {
                prop_assert!(1 <= first && first <= last && last <= max_seen, "bad gap {}..={}", first, last);
            }
            for s in 1..=max_seen {
                let in_gaps = gaps.iter().filter(|&&(a, b)| (a..=b).contains(&s)).count();
                let was_delivered = got.binary_search(&s).is_ok();
                prop_assert!(
                    (was_delivered && in_gaps == 0) || (!was_delivered && in_gaps == 1),
                    "seq {} delivered={} in {} gaps", s, was_delivered, in_gaps
                );
            }
            for e in &events {
                if let Late { seq, .. } = *e {
                    prop_assert!(got.binary_search(&seq).is_err());
                }
            }

            let s = t.stats();
            prop_assert_eq!(s.delivered, u64::try_from(got.len()).unwrap());
            prop_assert_eq!(s.gaps, u64::try_from(gaps.len()).unwrap());
            prop_assert_eq!(s.missing, gaps.iter().map(|(a, b)| b - a + 1).sum::<u64>());
            prop_assert_eq!(s.duplicates, count(&events, |e| matches!(e, Duplicate { .. })));
            prop_assert_eq!(s.late, count(&events, |e| matches!(e, Late { .. })));
            prop_assert!(s.reordered <= s.delivered);
            prop_assert_eq!((t.buffered(), t.poll_timeout()), (0, None));
        }

        /// Taking the expected frame without the list changes nothing `push` would have
        /// done: the same events, counts, buffer and deadline, whatever the schedule.
        #[test]
        fn take_next_is_push_without_the_list((fates, swaps, gaps_ms, max_buffered) in fault_schedules()) {
            let (steps, _) = schedule(&fates, &swaps, &gaps_ms);
            let (mut pushed, mut taken) = (tracker(max_buffered), tracker(max_buffered));
            let events = run(&mut pushed, &steps);
            prop_assert_eq!(run_taking(&mut taken, &steps, true), events);
            prop_assert_eq!(taken.stats(), pushed.stats());
            prop_assert_eq!((taken.expected(), taken.buffered(), taken.poll_timeout()), (pushed.expected(), pushed.buffered(), pushed.poll_timeout()));
        }

        #[test]
        fn swaps_within_the_window_never_make_gaps(
            dups in collection::vec(bool::weighted(0.1), 1..80),
            swaps in collection::vec(bool::weighted(0.3), 1..20),
            // Every frame comes less than a window after the previous one, and timeouts
            // are checked after each frame without waiting.
            gaps_ms in collection::vec((0u64..150, proptest::option::of(Just(0u64))), 1..20),
        ) {
            let fates: Vec<(bool, bool)> = dups.iter().map(|&dup| (false, dup)).collect();
            let (steps, max_seen) = schedule(&fates, &swaps, &gaps_ms);
            let mut t = tracker(256);
            let events = run(&mut t, &steps);
            prop_assert_eq!(delivered(&events), (1..=max_seen).collect::<Vec<_>>());
            prop_assert_eq!(t.stats().gaps, 0);
            let sent_twice = dups.iter().filter(|&&dup| dup).count();
            prop_assert_eq!(t.stats().duplicates, u64::try_from(sent_twice).unwrap());
        }
    }
}

//! Whether a stream is fast enough that its events are worth gathering before delivery.
//!
//! Delivering a batch has a fixed cost in the browser (a scheduled task, one text decode and
//! one `JSON.parse` call, one callback) that a batch of one event pays alone. A quiet stream
//! gains nothing from waiting; a fast one (thousands of events a second) pays that cost for
//! nearly every event when each is delivered as soon as it is decoded. [`Pace`] tells the
//! two apart from the events' arrival times, so the shell can gather a fast stream's events
//! for a moment (see `web::dispatch`) and still hand a quiet stream's over at once.
//!
//! It looks at whole runs of [`Pace::RUN`] events rather than the gap between two, so a
//! quiet stream whose events happen to arrive in twos or threes is not taken for a fast one.
//! A stream turns fast at one threshold and quiet again only at a lower one: a stream near
//! a single threshold (5,000 events a second runs its 32 events in 6.4 ms against 8, read
//! in whole milliseconds, with the jitter of the network and the page) flipped to quiet for
//! one run in about thirteen, and each quiet run then paid a batch's fixed cost 32 times.

use super::time::Instant;

/// The pace of a stream, from the arrival times of its events.
///
/// ```
/// use runwatch::core::pace::Pace;
/// use runwatch::core::time::Instant;
///
/// let mut pace = Pace::default();
/// // 2,000 events a second: quiet.
/// for i in 0..100u64 {
///     pace.note(|| Instant::from_millis(i / 2));
/// }
/// assert!(!pace.is_fast());
/// // 10,000 events a second: fast, from the end of the next whole run on.
/// for i in 0..100u64 {
///     pace.note(|| Instant::from_millis(50 + i / 10));
/// }
/// assert!(pace.is_fast());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Pace {
    /// Events noted in the current run.
    count: u32,
    /// When the current run's first event arrived.
    since: Instant,
    fast: bool,
}

impl Pace {
    /// Events per run: the pace is judged once per run.
    pub const RUN: u32 = 32;
    /// A run that arrives within this many milliseconds makes a quiet stream fast: 4,000
    /// events a second or more, twice the rate at which a dashboard still sees each event
    /// on its own.
    pub const FAST_RUN_MS: u64 = 8;
    /// A run that takes this many milliseconds or more makes a fast stream quiet: about
    /// 2,700 events a second or fewer (2,000 a second, a quiet dashboard's, runs in 16 ms).
    pub const QUIET_RUN_MS: u64 = 12;

    /// Notes one event that arrived now. `clock` is read only for a run's first and last
    /// event (in the browser each reading is a call out of wasm).
    pub fn note(&mut self, clock: impl FnOnce() -> Instant) {
        self.count += 1;
        if self.count == 1 {
            self.since = clock();
        } else if self.count == Self::RUN {
            let took = (clock() - self.since).as_millis();
            let limit = if self.fast { Self::QUIET_RUN_MS } else { Self::FAST_RUN_MS };
            self.fast = took < u128::from(limit);
            self.count = 0;
        }
    }

    /// Whether the stream is fast: its last whole run came within [`Self::FAST_RUN_MS`], or
    /// within [`Self::QUIET_RUN_MS`] when it was fast already.
    #[must_use]
    pub fn is_fast(&self) -> bool {
        self.fast
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(pace: &mut Pace, from_ms: u64, events: u64, per_ms: u64) -> u64 {
        for i in 0..events {
            pace.note(|| Instant::from_millis(from_ms + i / per_ms));
        }
        from_ms + events / per_ms
    }

    /// One whole run whose first event comes at `from_ms` and last `ms` later.
    fn run_taking(pace: &mut Pace, from_ms: u64, ms: u64) {
        let last = u64::from(Pace::RUN) - 1;
        for i in 0..=last {
            pace.note(|| Instant::from_millis(from_ms + i * ms / last));
        }
    }

    #[test]
    fn starts_quiet() {
        assert!(!Pace::default().is_fast());
    }

    #[test]
    fn a_fast_stream_turns_fast_after_one_run_and_quiet_again_after_a_slow_run() {
        let mut pace = Pace::default();
        let t = feed(&mut pace, 0, u64::from(Pace::RUN) - 1, 10);
        assert!(!pace.is_fast(), "judged only at the end of a run");
        let t = feed(&mut pace, t, 1, 10);
        assert!(pace.is_fast());
        // 1,000 events a second: the next whole run says quiet.
        feed(&mut pace, t, u64::from(Pace::RUN), 1);
        assert!(!pace.is_fast());
    }

    #[test]
    fn bursts_of_a_quiet_stream_stay_quiet() {
        // 2,000 events a second, arriving as 4 at once every 2 ms.
        let mut pace = Pace::default();
        for burst in 0..100u64 {
            for _ in 0..4 {
                pace.note(|| Instant::from_millis(burst * 2));
            }
        }
        assert!(!pace.is_fast());
    }

    #[test]
    fn a_fast_stream_near_the_threshold_stays_fast() {
        // 5,000 events a second whose runs now and then take 8 to 11 ms (jitter, whole ms).
        let mut pace = Pace::default();
        let mut t = feed(&mut pace, 0, u64::from(Pace::RUN), 5);
        assert!(pace.is_fast());
        for ms in [8, 9, 11, 6, 8] {
            run_taking(&mut pace, t, ms);
            t += ms + 1;
            assert!(pace.is_fast(), "a run of {ms} ms");
        }
        // A quiet stream needs a run under 8 ms to turn fast: 9 ms keeps it quiet.
        let mut quiet = Pace::default();
        run_taking(&mut quiet, 0, 9);
        assert!(!quiet.is_fast());
    }

    #[test]
    fn a_fast_stream_turns_quiet_at_twelve_ms_a_run() {
        let mut pace = Pace::default();
        let t = feed(&mut pace, 0, u64::from(Pace::RUN), 10);
        assert!(pace.is_fast());
        run_taking(&mut pace, t, 12);
        assert!(!pace.is_fast());
    }

    #[test]
    fn the_threshold_is_four_thousand_events_a_second() {
        let mut at = Pace::default();
        feed(&mut at, 0, 4 * u64::from(Pace::RUN), 4); // 4 per ms
        assert!(at.is_fast());
        let mut below = Pace::default();
        feed(&mut below, 0, 4 * u64::from(Pace::RUN), 3); // 3 per ms
        assert!(!below.is_fast());
    }
}

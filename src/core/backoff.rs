//! Reconnect delays: full jitter from the first retry, a flat fast phase, then
//! exponential growth.
//!
//! Two goals pull against each other. After an engine restart every open tab of every
//! user wants back in: retries in lock-step would hit the engine at the same instant, so
//! every delay, the first included, is a uniform draw over its whole interval (`[0,
//! interval]`, "full jitter"). And most outages are short (a deploy, a restart, a blip):
//! a tab should be back within a fraction of a second of the engine's return, which
//! needs short intervals while the outage is young. So the interval stays at
//! `min_delay` for the first [`BackoffConfig::fast_attempts`] attempts (with the 1 s
//! default, about 4 s of retries averaging one every 0.5 s, so after a 3 s outage the
//! next retry comes a third of an interval, ~0.3 s, after the engine's return) and only
//! then doubles per attempt up to `max_delay`, so a long outage costs the engine one
//! attempt per tab every ~15 s on average. Randomness comes from the injected [`Rng`],
//! so a test with a fixed seed sees the same delays every run.

use super::rng::Rng;
use super::time::Duration;

/// How reconnect delays grow.
#[derive(Clone, Debug, PartialEq)]
pub struct BackoffConfig {
    /// The interval of the first retries: each waits a uniform random time in
    /// `[0, min_delay]`. Later intervals double from it.
    pub min_delay: Duration,
    /// The interval never grows beyond this. If it is below `min_delay`, `min_delay` wins.
    pub max_delay: Duration,
    /// How many delays to hand out before giving up; `None` retries forever.
    pub max_attempts: Option<u32>,
    /// Attempts that keep the interval at `min_delay` before it starts doubling.
    pub fast_attempts: u32,
}

impl Default for BackoffConfig {
    /// 1 s interval for 8 attempts, then doubling to a 30 s cap, unlimited attempts.
    fn default() -> Self {
        Self {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
            fast_attempts: 8,
        }
    }
}

/// The backoff state of one reconnecting connection.
///
/// Attempt `n` (counting from 0) waits a uniform delay in `[0, interval(n)]`, in whole
/// milliseconds, where `interval(n) = min(max_delay, min_delay * 2^(n - fast_attempts))`
/// once `n` passes `fast_attempts` and `min_delay` before.
///
/// ```
/// use runwatch::core::backoff::{Backoff, BackoffConfig};
/// use runwatch::core::rng::Rng;
/// use runwatch::core::time::Duration;
///
/// let mut rng = Rng::with_seed(1);
/// let mut backoff = Backoff::new(BackoffConfig { max_attempts: Some(2), ..BackoffConfig::default() });
/// let first = backoff.next_delay(&mut rng).unwrap();
/// assert!(first <= Duration::from_secs(1)); // jittered from the very first retry
/// assert!(backoff.next_delay(&mut rng).is_some());
/// assert_eq!(backoff.next_delay(&mut rng), None); // gave up
/// backoff.reset(); // the connection went live again
/// assert_eq!(backoff.attempts(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Backoff {
    cfg: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    /// A fresh backoff that has handed out no delays yet.
    #[must_use]
    pub fn new(cfg: BackoffConfig) -> Self {
        Self { cfg, attempt: 0 }
    }

    /// The delay before the next reconnect attempt, or `None` once `max_attempts` delays
    /// have been handed out.
    pub fn next_delay(&mut self, rng: &mut Rng) -> Option<Duration> {
        if self.cfg.max_attempts.is_some_and(|max| self.attempt >= max) {
            return None;
        }
        let delay = rng.duration_between(Duration::ZERO, self.interval());
        self.attempt = self.attempt.saturating_add(1);
        Some(delay)
    }

    /// Start over from attempt 0; call this once a connection reaches live.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays have been handed out since creation or the last [`reset`](Self::reset).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The configuration this backoff was built with.
    #[must_use]
    pub fn config(&self) -> &BackoffConfig {
        &self.cfg
    }

    /// The current attempt's interval, computed in milliseconds so that neither the
    /// shift nor the multiplication can overflow.
    fn interval(&self) -> Duration {
        let doublings = self.attempt.saturating_sub(self.cfg.fast_attempts);
        let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
        let grown = millis(self.cfg.min_delay).saturating_mul(factor);
        Duration::from_millis(grown.min(millis(self.cfg.max_delay).max(millis(self.cfg.min_delay))))
    }
}

/// Whole milliseconds in `d`, saturating at `u64::MAX`.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(min: u64, max: u64, attempts: Option<u32>, fast: u32) -> BackoffConfig {
        BackoffConfig { min_delay: Duration::from_millis(min), max_delay: Duration::from_millis(max), max_attempts: attempts, fast_attempts: fast }
    }

    fn interval_ms(b: &Backoff) -> u64 {
        millis(b.interval())
    }

    #[test]
    fn every_delay_stays_within_its_interval() {
        let mut rng = Rng::with_seed(3);
        let mut b = Backoff::new(cfg(100, 1_000, None, 2));
        let expected = [100, 100, 100, 200, 400, 800, 1_000, 1_000];
        for want in expected {
            assert_eq!(interval_ms(&b), want);
            let d = b.next_delay(&mut rng).unwrap();
            assert!(millis(d) <= want, "{d:?} over {want}");
        }
    }

    #[test]
    fn the_first_retry_is_jittered_over_its_whole_interval() {
        // 2,000 tabs losing the engine at once: their first retries spread evenly over
        // [0, 1 s], every tenth of it holding 6–14 % of them, and almost none coincide.
        let firsts: Vec<u64> = (0..2_000u64)
            .map(|seed| millis(Backoff::new(BackoffConfig::default()).next_delay(&mut Rng::with_seed(seed)).unwrap()))
            .collect();
        for decile in 0..10 {
            let n = firsts.iter().filter(|&&d| d * 10 / 1_001 == decile).count();
            assert!((120..=280).contains(&n), "decile {decile} holds {n} of 2000");
        }
        let mut distinct = firsts.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 800, "only {} distinct first delays", distinct.len());
    }

    #[test]
    fn after_a_3_second_outage_the_median_tab_retries_within_half_a_second_of_the_return() {
        // Each tab retries on its own schedule from the loss at t=0; the engine is back at
        // t=3 s. The wait from the return to the tab's next attempt is what the user sees.
        let mut waits: Vec<u64> = (0..1_000u64)
            .map(|seed| {
                let (mut rng, mut b, mut t) = (Rng::with_seed(seed), Backoff::new(BackoffConfig::default()), 0);
                while t < 3_000 {
                    t += millis(b.next_delay(&mut rng).unwrap());
                }
                t - 3_000
            })
            .collect();
        waits.sort_unstable();
        assert!(waits[500] <= 500, "median wait {} ms", waits[500]);
    }

    #[test]
    fn long_outages_back_off_to_the_cap() {
        let mut b = Backoff::new(BackoffConfig::default());
        let mut rng = Rng::with_seed(1);
        for _ in 0..40 {
            let _ = b.next_delay(&mut rng);
        }
        assert_eq!(b.interval(), Duration::from_secs(30));
    }

    #[test]
    fn max_attempts_exhausts_and_reset_restarts() {
        let mut rng = Rng::with_seed(1);
        let mut b = Backoff::new(cfg(100, 1_000, Some(3), 0));
        assert!((0..3).all(|_| b.next_delay(&mut rng).is_some()));
        assert_eq!(b.next_delay(&mut rng), None);
        b.reset();
        assert_eq!((b.attempts(), interval_ms(&b)), (0, 100));
        assert_eq!(Backoff::new(cfg(100, 1_000, Some(0), 0)).next_delay(&mut rng), None);
    }

    #[test]
    fn min_wins_when_max_is_below_it_and_huge_attempts_do_not_overflow() {
        let mut b = Backoff::new(cfg(500, 100, None, 0));
        assert_eq!(interval_ms(&b), 500);
        b.attempt = u32::MAX;
        assert_eq!(interval_ms(&b), 500);
    }

    #[test]
    fn fixed_seed_is_deterministic() {
        let run = || {
            let (mut rng, mut b) = (Rng::with_seed(9), Backoff::new(BackoffConfig::default()));
            (0..12).map(|_| b.next_delay(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }
}

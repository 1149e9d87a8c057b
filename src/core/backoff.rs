//! Reconnect delays: exponential backoff with full jitter and a floor.
//!
//! After a connection drops, every open tab of a dashboard wants to reconnect. Fixed delays
//! make them all hit the engine at the same instant; full jitter (a uniform draw between the
//! floor and an exponentially growing cap) spreads them out. The floor keeps a flapping
//! server from being hammered with immediate retries. Randomness comes from the injected
//! [`Rng`], so a test with a fixed seed sees the same delays every run.

use super::rng::Rng;
use super::time::Duration;

/// How reconnect delays grow.
#[derive(Clone, Debug, PartialEq)]
pub struct BackoffConfig {
    /// The shortest delay ever returned, and the base of the exponential cap.
    ///
    /// A zero floor keeps the cap at zero, so every delay is zero.
    pub min_delay: Duration,
    /// The cap never grows beyond this. If it is below `min_delay`, the floor wins.
    pub max_delay: Duration,
    /// How many delays to hand out before giving up; `None` retries forever.
    pub max_attempts: Option<u32>,
}

impl Default for BackoffConfig {
    /// 250 ms floor, 30 s cap, unlimited attempts.
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_attempts: None,
        }
    }
}

/// The backoff state of one reconnecting connection.
///
/// Attempt `n` (counting from 0) waits a uniform delay in
/// `[min_delay, min(max_delay, min_delay * 2^n)]`, in whole milliseconds.
///
/// ```
/// use runwatch::core::backoff::{Backoff, BackoffConfig};
/// use runwatch::core::rng::Rng;
/// use runwatch::core::time::Duration;
///
/// let mut rng = Rng::with_seed(1);
/// let mut backoff = Backoff::new(BackoffConfig {
///     max_attempts: Some(2),
///     ..BackoffConfig::default()
/// });
/// assert_eq!(backoff.next_delay(&mut rng), Some(Duration::from_millis(250)));
/// let second = backoff.next_delay(&mut rng).unwrap();
/// assert!(second >= Duration::from_millis(250) && second <= Duration::from_millis(500));
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
        let delay = rng.duration_between(self.cfg.min_delay, self.cap());
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

    /// `min(max_delay, min_delay * 2^attempt)`, computed in milliseconds so that neither the
    /// shift nor the multiplication can overflow.
    fn cap(&self) -> Duration {
        let factor = 1u64.checked_shl(self.attempt).unwrap_or(u64::MAX);
        let grown = millis(self.cfg.min_delay).saturating_mul(factor);
        Duration::from_millis(grown.min(millis(self.cfg.max_delay)))
    }
}

/// Whole milliseconds in `d`, saturating at `u64::MAX`.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_assert, proptest};
    use std::collections::BTreeSet;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn cfg(min: u64, max: u64, attempts: Option<u32>) -> BackoffConfig {
        BackoffConfig {
            min_delay: MS(min),
            max_delay: MS(max),
            max_attempts: attempts,
        }
    }

    /// The upper bound attempt `n` may reach, computed independently of `Backoff::cap`.
    fn expected_cap(min: u64, max: u64, n: u32) -> u64 {
        // min < 2^64, so shifts below 64 fit a u128; beyond that any non-zero floor is huge.
        let grown = match (n, min) {
            (_, 0) => 0,
            (0..=63, _) => u128::from(min) << n,
            _ => u128::MAX,
        };
        u64::try_from(grown.min(u128::from(max))).unwrap()
    }

    #[test]
    fn default_config_matches_design() {
        assert_eq!(BackoffConfig::default(), cfg(250, 30_000, None));
    }

    #[test]
    fn every_attempt_stays_within_bounds() {
        let mut rng = Rng::with_seed(11);
        let mut b = Backoff::new(cfg(250, 30_000, None));
        for n in 0..10_000u32 {
            let d = b.next_delay(&mut rng).unwrap();
            let hi = expected_cap(250, 30_000, n);
            assert!(
                d >= MS(250) && d <= MS(hi),
                "attempt {n}: {d:?} not in [250, {hi}]"
            );
        }
        assert_eq!(b.attempts(), 10_000);
    }

    #[test]
    fn cap_is_reached_and_held() {
        // 100 * 2^n reaches 1000 at n = 4; from then on the draw is in [100, 1000].
        let mut rng = Rng::with_seed(12);
        let mut b = Backoff::new(cfg(100, 1_000, None));
        for _ in 0..4 {
            b.next_delay(&mut rng);
        }
        let later: Vec<Duration> = (0..500).map(|_| b.next_delay(&mut rng).unwrap()).collect();
        assert!(later.iter().all(|d| *d <= MS(1_000)));
        assert!(
            later.iter().any(|d| *d > MS(900)),
            "the cap should be reachable"
        );
    }

    #[test]
    fn first_attempt_is_exactly_the_floor() {
        let mut rng = Rng::with_seed(13);
        let mut b = Backoff::new(cfg(250, 30_000, None));
        assert_eq!(b.next_delay(&mut rng), Some(MS(250)));
    }

    #[test]
    fn jitter_varies_across_seeds() {
        let delays: BTreeSet<Duration> = (0..50)
            .map(|seed| {
                let mut rng = Rng::with_seed(seed);
                let mut b = Backoff::new(cfg(250, 30_000, None));
                (0..6)
                    .filter_map(|_| b.next_delay(&mut rng))
                    .last()
                    .unwrap()
            })
            .collect();
        assert!(delays.len() > 25, "only {} distinct delays", delays.len());
    }

    #[test]
    fn fixed_seed_is_deterministic() {
        let run = || {
            let mut rng = Rng::with_seed(14);
            let mut b = Backoff::new(BackoffConfig::default());
            (0..20).map(|_| b.next_delay(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn max_attempts_exhausts() {
        let mut rng = Rng::with_seed(15);
        let mut b = Backoff::new(cfg(10, 100, Some(3)));
        assert_eq!((0..3).filter_map(|_| b.next_delay(&mut rng)).count(), 3);
        assert_eq!(b.next_delay(&mut rng), None);
        assert_eq!(b.next_delay(&mut rng), None);
        assert_eq!(b.attempts(), 3);
    }

    #[test]
    fn zero_max_attempts_never_retries() {
        let mut rng = Rng::with_seed(16);
        assert_eq!(
            Backoff::new(cfg(10, 100, Some(0))).next_delay(&mut rng),
            None
        );
    }

    #[test]
    fn reset_restarts_growth_and_attempts() {
        let mut rng = Rng::with_seed(17);
        let mut b = Backoff::new(cfg(10, 100_000, Some(5)));
        while b.next_delay(&mut rng).is_some() {}
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert_eq!(b.next_delay(&mut rng), Some(MS(10)), "attempt 0 again");
    }

    #[test]
    fn floor_wins_when_max_is_below_min() {
        let mut rng = Rng::with_seed(18);
        let mut b = Backoff::new(cfg(500, 100, None));
        for _ in 0..10 {
            assert_eq!(b.next_delay(&mut rng), Some(MS(500)));
        }
    }

    #[test]
    fn config_is_kept() {
        let c = cfg(1, 2, Some(3));
        assert_eq!(Backoff::new(c.clone()).config(), &c);
    }

    proptest! {
        #[test]
        fn delays_respect_bounds(
            min in 0u64..100_000,
            max in 0u64..10_000_000,
            max_attempts in proptest::option::of(0u32..200),
            seed: u64,
            n in 0usize..200,
        ) {
            let mut rng = Rng::with_seed(seed);
            let mut b = Backoff::new(cfg(min, max, max_attempts));
            for i in 0..n {
                let attempt = u32::try_from(i).unwrap();
                match b.next_delay(&mut rng) {
                    Some(d) => {
                        prop_assert!(max_attempts.is_none_or(|m| attempt < m));
                        let hi = expected_cap(min, max, attempt).max(min);
                        prop_assert!(d >= MS(min) && d <= MS(hi), "{:?} not in [{}, {}]", d, min, hi);
                    }
                    None => prop_assert!(max_attempts.is_some_and(|m| attempt >= m)),
                }
            }
        }
    }
}

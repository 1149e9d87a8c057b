//! The core's only source of randomness: an injected, seedable generator.
//!
//! Reconnect jitter must be random in production (so a fleet of tabs does not reconnect in
//! lock-step) and reproducible in tests (so a failing fault schedule can be replayed). The
//! shell seeds this from `crypto.getRandomValues`; tests pick a fixed seed.

use super::time::Duration;

/// A small, fast, deterministic pseudo-random generator (wyrand via `fastrand`).
///
/// ```
/// use runwatch::core::rng::Rng;
/// use runwatch::core::time::Duration;
///
/// let mut a = Rng::with_seed(7);
/// let mut b = Rng::with_seed(7);
/// assert_eq!(a.next_u64(), b.next_u64());
///
/// let d = a.duration_between(Duration::from_millis(10), Duration::from_millis(20));
/// assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(20));
/// ```
#[derive(Clone, Debug)]
pub struct Rng(fastrand::Rng);

impl Rng {
    /// A generator whose whole output sequence is fixed by `seed`.
    #[must_use]
    pub fn with_seed(seed: u64) -> Self {
        Self(fastrand::Rng::with_seed(seed))
    }

    /// A uniformly random duration in `[lo, hi]` (inclusive), in whole milliseconds.
    ///
    /// Both bounds are truncated to milliseconds; if `lo > hi` the result is `lo`.
    pub fn duration_between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let lo = millis(lo);
        let hi = millis(hi);
        if lo >= hi {
            return Duration::from_millis(lo);
        }
        Duration::from_millis(self.0.u64(lo..=hi))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.u64(..)
    }
}

/// Whole milliseconds in `d`, saturating at `u64::MAX`.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::with_seed(99);
        let mut b = Rng::with_seed(99);
        for _ in 0..32 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn different_seeds_differ() {
        let first_four = |seed| {
            let mut r = Rng::with_seed(seed);
            [r.next_u64(), r.next_u64(), r.next_u64(), r.next_u64()]
        };
        assert_ne!(first_four(1), first_four(2));
    }

    #[test]
    fn duration_between_is_inclusive_and_covers_range() {
        let mut rng = Rng::with_seed(3);
        let mut seen = [false; 4];
        for _ in 0..1_000 {
            let d = rng.duration_between(MS(10), MS(13));
            assert!(d >= MS(10) && d <= MS(13), "{d:?}");
            seen[usize::try_from(d.as_millis() - 10).unwrap()] = true;
        }
        assert_eq!(seen, [true; 4], "both ends must be reachable");
    }

    #[test]
    fn inverted_or_equal_bounds_give_lo() {
        let mut rng = Rng::with_seed(4);
        assert_eq!(rng.duration_between(MS(50), MS(10)), MS(50));
        assert_eq!(rng.duration_between(MS(7), MS(7)), MS(7));
    }

    #[test]
    fn truncates_to_millis() {
        let mut rng = Rng::with_seed(5);
        let d = rng.duration_between(Duration::from_micros(1_500), Duration::from_micros(1_900));
        assert_eq!(d, MS(1));
    }

    #[test]
    fn huge_bounds_saturate_instead_of_panicking() {
        let mut rng = Rng::with_seed(6);
        // Duration::MAX has more milliseconds than fit in a u64, so `hi` saturates.
        let d = rng.duration_between(MS(u64::MAX - 1), Duration::MAX);
        assert!(d.as_millis() >= u128::from(u64::MAX - 1) && d.as_millis() <= u128::from(u64::MAX));
    }
}

//! Time as a plain value.
//!
//! The core never reads a clock: the shell samples its monotonic clock (in the browser,
//! `performance.now()`) and passes the reading in as an [`Instant`]. Because an `Instant` is
//! only a number of milliseconds, tests can drive the core through hours of virtual time in
//! microseconds, and the same code runs natively and on wasm32 (where
//! `std::time::Instant::now()` panics).
//!
//! All arithmetic saturates: a shell that hands in a slightly earlier reading, or a huge
//! timeout, must never make the core panic or wrap around.

use core::ops::{Add, Sub};

pub use std::time::Duration;

/// A point on a monotonic clock chosen by the shell, in whole milliseconds.
///
/// Only differences between two instants from the same clock are meaningful; the origin is
/// whatever the shell picked (page load, process start, zero in tests).
///
/// ```
/// use runwatch::core::time::{Duration, Instant};
///
/// let start = Instant::from_millis(1_000);
/// let later = start + Duration::from_millis(250);
/// assert_eq!(later.as_millis(), 1_250);
/// assert_eq!(later - start, Duration::from_millis(250));
/// // Going backwards saturates to zero instead of panicking.
/// assert_eq!(start - later, Duration::ZERO);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The instant `ms` milliseconds after the clock's origin.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the clock's origin.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is actually later.
    #[must_use]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

/// The sooner of two deadlines, either of which may be absent.
///
/// ```
/// use runwatch::core::time::{earliest, Instant};
///
/// let (a, b) = (Instant::from_millis(5), Instant::from_millis(9));
/// assert_eq!(earliest(Some(b), Some(a)), Some(a));
/// assert_eq!(earliest(None, Some(b)), Some(b));
/// assert_eq!(earliest(None, None), None);
/// ```
#[must_use]
#[inline]
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whole milliseconds in `d`, saturating at `u64::MAX` (sub-millisecond parts are dropped).
/// Without 128-bit arithmetic, which is a call (`__multi3`) in wasm: `Duration::as_millis`
/// is a `u128`, and so is a checked `u64` multiplication's. A deadline is computed for nearly
/// every frame.
fn duration_millis(d: Duration) -> u64 {
    match d.as_secs() {
        secs if secs > u64::MAX / 1000 => u64::MAX,
        secs => (secs * 1000).saturating_add(u64::from(d.subsec_millis())),
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Adds `rhs` truncated to whole milliseconds; saturates at the end of time.
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(duration_millis(rhs)))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Same as [`Instant::saturating_duration_since`].
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_millis() {
        assert_eq!(Instant::from_millis(42).as_millis(), 42);
        assert_eq!(Instant::default(), Instant::from_millis(0));
    }

    #[test]
    fn add_truncates_to_millis() {
        let t = Instant::from_millis(10) + Duration::from_micros(2_999);
        assert_eq!(t, Instant::from_millis(12));
    }

    #[test]
    fn add_saturates() {
        let t = Instant::from_millis(u64::MAX - 1) + Duration::from_millis(5);
        assert_eq!(t.as_millis(), u64::MAX);
        assert_eq!(
            (Instant::from_millis(1) + Duration::MAX).as_millis(),
            u64::MAX
        );
    }

    #[test]
    fn sub_saturates_at_zero() {
        let a = Instant::from_millis(100);
        let b = Instant::from_millis(40);
        assert_eq!(a - b, Duration::from_millis(60));
        assert_eq!(b - a, Duration::ZERO);
        assert_eq!(b.saturating_duration_since(a), Duration::ZERO);
    }

    #[test]
    fn orders_by_millis() {
        assert!(Instant::from_millis(1) < Instant::from_millis(2));
    }

    proptest::proptest! {
        /// The 64-bit milliseconds are `as_millis`'s, saturated: around a second's edge, at
        /// the top of `u64` milliseconds and past it.
        #[test]
        fn millis_are_as_millis_saturated(
            secs in proptest::prop_oneof![0u64..10_000, (u64::MAX / 1000 - 2)..=(u64::MAX / 1000 + 2), (u64::MAX - 10)..=u64::MAX],
            nanos in proptest::prop_oneof![0u32..1_000_000_000, 999_000_000u32..1_000_000_000],
        ) {
            let d = Duration::new(secs, nanos);
            proptest::prop_assert_eq!(duration_millis(d), u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        }

        /// The least of those present, in either order.
        #[test]
        fn earliest_is_the_least_present(a in proptest::option::of(0u64..5), b in proptest::option::of(0u64..5)) {
            let (a, b) = (a.map(Instant::from_millis), b.map(Instant::from_millis));
            let least = [a, b].into_iter().flatten().min();
            proptest::prop_assert_eq!((earliest(a, b), earliest(b, a)), (least, least));
        }
    }
}

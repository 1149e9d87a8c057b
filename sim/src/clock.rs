//! Wall-clock helpers and simulated-time scaling.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Converts simulated durations into real ones according to `--speed`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    speed: f64,
}

impl Clock {
    /// A clock running `speed` times faster than real time.
    pub fn new(speed: f64) -> Self {
        Clock { speed }
    }

    /// The real duration of `sim_ms` simulated milliseconds.
    pub fn scaled(&self, sim_ms: u64) -> Duration {
        Duration::from_secs_f64(sim_ms as f64 / 1000.0 / self.speed)
    }
}

/// Seconds since the Unix epoch, as the server's `time.time()` floats.
pub fn epoch_s() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Milliseconds since the Unix epoch (send-log `atMs`).
pub fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

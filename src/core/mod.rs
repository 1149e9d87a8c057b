//! The sans-IO engine: [`connection::Connection`], generic over a protocol plug-in, and
//! its deterministic building blocks, with no sockets, no clock and no randomness of
//! their own. Time comes in as [`time::Instant`] values and randomness from
//! an injected, seedable [`rng::Rng`], so every behaviour is testable natively.
//!
//! ```text
//!   shell (src/web)                      core + protocol
//!   ───────────────                      ───────────────
//!   socket open/frame/close  ──handle_*──▶  state machine
//!   timer fired              ──handle_timeout──▶
//!   frames to send           ◀──poll_transmit──
//!   events for the app       ◀──poll_output──
//!   next wake-up             ◀──poll_timeout──
//!   open/close the socket    ◀──poll_action──
//! ```
pub mod backoff;
pub mod connection;
pub mod decimal;
pub mod id_map;
pub mod json_read;
pub mod json_write;
pub mod lifecycle;
pub mod outputs;
pub mod pace;
pub mod queue;
pub mod requests;
pub mod rng;
pub mod seq;
pub mod sort;
pub mod sorted_map;
pub mod time;
pub mod timers;
pub mod wire;
pub mod words;

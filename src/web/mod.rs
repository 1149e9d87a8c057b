//! The only browser-facing code: wasm-bindgen classes over the sans-IO engine, the
//! browser `WebSocket`, timers and `online`/`visibilitychange` listeners. No protocol
//! logic lives here; see `core::connection` and `protocol::rocketride` for that.
//!
//! Split along the line a Worker mode will cut: [`engine_side`] owns the socket, the timer
//! and the engine; [`app_side`] (with [`dispatch`]) owns the callbacks, the credential
//! callback and the ids. They talk only in `ToEngine` / `ToApp` messages.
//!
//! Each protocol's classes are behind its cargo feature (`rocketride`, `fleet-rlm`), so each
//! wasm module of the package holds one protocol; the shared shell is in both.
#![cfg_attr(not(all(feature = "rocketride", feature = "fleet-rlm")), allow(dead_code))]
mod app_side;
#[cfg(feature = "rocketride")]
mod client;
mod dispatch;
mod engine_side;
mod errors;
mod js_read;
mod keyed;
#[cfg(feature = "fleet-rlm")]
mod fleet;
mod listeners;
mod options;
mod socket;
#[cfg(feature = "rocketride")]
mod store;
#[cfg(feature = "rocketride")]
mod worker_support;

#[cfg(feature = "rocketride")]
pub use client::{RocketRideClient, Subscription};
#[cfg(feature = "fleet-rlm")]
pub use fleet::FleetRlmClient;
#[cfg(feature = "rocketride")]
pub use store::TaskStore;

//! The only browser-facing code: wasm-bindgen classes over the sans-IO engine, the
//! browser `WebSocket`, timers and `online`/`visibilitychange` listeners. No protocol
//! logic lives here; see `core::connection` and `protocol::rocketride` for that.
//!
//! Split along the line a Worker mode will cut: [`engine_side`] owns the socket, the timer
//! and the engine; [`app_side`] (with [`dispatch`]) owns the callbacks, the credential
//! callback and the ids. They talk only in `ToEngine` / `ToApp` messages.
mod app_side;
mod worker_support;
mod client;
mod dispatch;
mod engine_side;
mod errors;
mod fleet;
mod options;
mod socket;
mod store;

pub use client::{RocketRideClient, Subscription};
pub use fleet::FleetRlmClient;
pub use store::TaskStore;

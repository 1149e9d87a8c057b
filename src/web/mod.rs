//! The only browser-facing code: wasm-bindgen classes over the sans-IO client, the
//! browser `WebSocket`, timers and `online`/`visibilitychange` listeners. No protocol
//! logic lives here; see `protocol::rocketride::client` for that.
//!
//! Split so a Worker mode can follow: [`shell`] owns the socket, timers and core;
//! [`dispatch`] is the app-facing side (subscriptions, callbacks, batching, replies).
mod client;
mod dispatch;
mod errors;
mod options;
mod shell;
mod socket;
mod store;

pub use client::{RocketRideClient, Subscription};
pub use store::TaskStore;

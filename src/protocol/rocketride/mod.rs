//! The RocketRide engine's DAP monitor protocol (`../shared/protocols/rocketride.md`).
pub mod client;
pub mod commands;
pub mod dashboard;
pub mod directory;
pub mod envelope;
pub mod events;
pub mod json;
pub mod monitor_types;
pub mod results;
pub mod outputs;
pub mod scope;
pub mod store;
pub mod subscriptions;
pub mod task_status;
pub mod url;

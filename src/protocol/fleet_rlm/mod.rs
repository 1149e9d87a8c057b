//! The fleet-rlm engine's WebSocket protocol, 0.5.x–0.6.x (`../shared/protocols/fleet-rlm.md`):
//! two plug-ins of the connection engine, one per socket, and the typed events, requests
//! and HTTP shapes they share.
//!
//! ```text
//!   chat_events, execution, errors, http   typed shapes, transport-independent
//!   frames, requests                       the WebSocket envelopes around them
//!   auth                                   socket URLs with the credential, redaction
//!   chat      (+ turns)                    /api/v1/ws/execution: messages, commands, turns
//!   subscriber (+ runs, step_tree)         /api/v1/ws/execution/events: runs and step trees
//! ```
pub mod auth;
pub mod chat;
pub mod chat_events;
pub mod errors;
pub mod execution;
pub mod frames;
pub mod http;
pub mod json;
pub mod requests;
pub mod runs;
pub mod step_tree;
pub mod subscriber;
pub mod turns;

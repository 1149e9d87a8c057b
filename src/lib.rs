//! runwatch: watch AI pipeline engines live from the browser.
pub mod core;
pub mod protocol;
#[cfg(target_arch = "wasm32")]
pub mod web;

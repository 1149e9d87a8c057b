//! runwatch: watch AI pipeline engines live from the browser.
pub mod byte_compare;
pub mod core;
pub mod protocol;
pub mod small_blocks;
#[cfg(target_arch = "wasm32")]
pub mod web;

/// The module's allocator: talc instead of Rust's default dlmalloc. Measured with
/// `node bench/feed.mjs` (3 runs each): C 5.08–5.12 → 5.00–5.05 µs per event, S (task store)
/// 3.22–3.26 → 3.12–3.20, and 0.3 KB (RocketRide) / 2.9 KB (fleet-rlm) less gzip. Small
/// blocks are reused in front of it ([`small_blocks`]): talc's own work was then about a
/// tenth of the task store's time per event, and C and S ran about 6 % faster with them.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: small_blocks::SmallBlocks<talc::wasm::WasmDynamicTalc> =
    small_blocks::SmallBlocks::new(talc::wasm::new_wasm_dynamic_allocator());

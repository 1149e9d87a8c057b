//! What the page side of Worker mode (`pkg/worker.js`) needs from the module without a
//! client: argument checks without side effects, run before a call is posted to the
//! Worker, so a bad argument throws the same `RunwatchError` synchronously, from the same
//! code, as on the main thread; and the values the synchronous getters show before the
//! Worker's first report. Internal (not in the typings).

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::dispatch::to_js_or_throw;
use crate::core::connection::ClientStats;
use crate::core::lifecycle::ConnState;
use crate::protocol::rocketride::store::StoreStats;

use super::options::{parse_client_options, parse_subscription};
use super::store::parse_store_args;

/// Throws what `new RocketRideClient(options)` would throw.
#[wasm_bindgen(js_name = "__checkClientOptions", skip_typescript)]
pub fn check_client_options(options: JsValue) -> Result<(), JsValue> {
    parse_client_options(options).map(drop)
}

/// Throws what `client.subscribe(scope, types, …)` would throw.
#[wasm_bindgen(js_name = "__checkSubscription", skip_typescript)]
pub fn check_subscription(scope: JsValue, types: JsValue) -> Result<(), JsValue> {
    parse_subscription(scope, types).map(drop)
}

/// Throws what `client.tasks(scope, options)` would throw.
#[wasm_bindgen(js_name = "__checkTaskStore", skip_typescript)]
pub fn check_task_store(scope: Option<JsValue>, options: Option<JsValue>) -> Result<(), JsValue> {
    parse_store_args(scope, options).map(drop)
}

/// A new client's getters before anything happened: `{ state, stats, serverSubscriptions }`,
/// and a new store's `{ snapshot, stats }`.
#[wasm_bindgen(js_name = "__initialViews", skip_typescript)]
pub fn initial_views() -> Result<JsValue, JsValue> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Client {
        state: ConnState,
        stats: ClientStats,
        server_subscriptions: [(); 0],
    }
    #[derive(Serialize)]
    struct Snapshot {
        version: u64,
        runs: [(); 0],
    }
    #[derive(Serialize)]
    struct Store {
        snapshot: Snapshot,
        stats: StoreStats,
    }
    #[derive(Serialize)]
    struct Views {
        client: Client,
        store: Store,
    }
    let client = Client { state: ConnState::Connecting, stats: ClientStats::default(), server_subscriptions: [] };
    let store = Store { snapshot: Snapshot { version: 0, runs: [] }, stats: StoreStats::default() };
    to_js_or_throw("the initial views", &Views { client, store })
}

//! The RocketRide client's outputs: the engine's shapes ([`crate::core::outputs`]) with
//! RocketRide's typed event.

use super::events::RocketRideEvent;
pub use crate::core::outputs::{
    Diagnostic, LostTail, ReplayedRange, RequestError, StateChange, SubId, Unreplayable, UnreplayableReason,
};

/// An event as delivered to subscriptions.
pub type Delivered = crate::core::outputs::Delivered<RocketRideEvent>;
/// One event and the subscriptions it goes to.
pub type Delivery = crate::core::outputs::Delivery<RocketRideEvent>;
/// Everything the client emits, in order.
pub type Output = crate::core::outputs::Output<RocketRideEvent>;

#[wasm_bindgen::prelude::wasm_bindgen(typescript_custom_section)]
const DELIVERED_TS: &'static str = r#"
/** An event as delivered: `switch (ev.type)` narrows it. `epoch` numbers the connection;
 * `seq` is the server's frame number on it (absent for events re-seeded from a command and
 * for replayed ones). `replayed` is `true` for an event missed while offline and read back
 * from a newer server's log after the reconnect (see the `resync` diagnostic). */
export type Delivered = RocketRideEvent & { epoch: number; seq?: number; replayed?: true };
"#;

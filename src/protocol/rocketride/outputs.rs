//! The RocketRide client's outputs: the engine's shapes ([`crate::core::outputs`]) with
//! RocketRide's typed event.

use super::events::RocketRideEvent;
pub use crate::core::outputs::{
    Diagnostic, LostTail, ReplayedRange, RequestError, StateChange, SubId, Unreplayable, UnreplayableReason,
};

/// An event as delivered to subscriptions (its TypeScript type, `RocketRideEvent & { epoch,
/// seq?, replayed? }`, is declared in `src/web/client.rs`: tsify cannot render the flattened
/// union).
pub type Delivered = crate::core::outputs::Delivered<RocketRideEvent>;
/// One event and the subscriptions it goes to.
pub type Delivery = crate::core::outputs::Delivery<RocketRideEvent>;
/// Everything the client emits, in order.
pub type Output = crate::core::outputs::Output<RocketRideEvent>;

//! JSON helpers for fleet-rlm's shapes, on top of the single-pass capture of undeclared
//! fields that RocketRide's decoder already has ([`from_str_capturing`]).
//!
//! That capture sees only the top-level keys of what it decodes, so nested objects whose
//! undeclared keys must be kept too (a step inside an event, a citation inside a final
//! payload) are wrapped in [`Captured`], which runs the capture again at their level.

use std::ops::Deref;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use tsify::Tsify;

use crate::core::wire::{json_error, DecodeError};
pub use crate::protocol::rocketride::json::{from_str_capturing, Extra, HasExtra, OrDefault};

/// A nested object decoded with its undeclared keys kept in its `extra`. Serialised and
/// typed exactly as `T`.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(transparent)]
pub struct Captured<T>(pub T);

impl<'de, T: DeserializeOwned + HasExtra> Deserialize<'de> for Captured<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        from_str_capturing(raw.get(), &[]).map(Captured).map_err(D::Error::custom)
    }
}

impl<T> Deref for Captured<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Decodes `text` into `T`, keeping undeclared keys (except `ignore`); `what` names the
/// object in the error.
pub fn capture<T: DeserializeOwned + HasExtra>(what: &str, text: &str, ignore: &'static [&'static str]) -> Result<T, DecodeError> {
    from_str_capturing(text, ignore).map_err(|e| decode_error(what, &e))
}

/// The [`DecodeError`] of a serde error met while reading `what`, its reason scrubbed of
/// credentials (serde quotes the offending value, which may be an echoed token).
pub fn decode_error(what: &str, err: &serde_json::Error) -> DecodeError {
    let mut error = json_error(what, err);
    error.reason = super::auth::scrub(&error.reason);
    error
}

/// Implements [`HasExtra`] for types whose undeclared keys live in a field named `extra`.
macro_rules! has_extra {
    ($($name:ident),* $(,)?) => {
        $(impl crate::protocol::fleet_rlm::json::HasExtra for $name {
            fn extra_mut(&mut self) -> &mut crate::protocol::fleet_rlm::json::Extra {
                &mut self.extra
            }
        })*
    };
}
pub(crate) use has_extra;

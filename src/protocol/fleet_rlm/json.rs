//! JSON helpers for fleet-rlm's shapes, on the SDK's own reader ([`crate::core::json_read`],
//! which RocketRide's decoder uses too): one pass per frame, numbers exactly as
//! `JSON.parse` reads them, and every object, at every level, keeping the keys its type does
//! not declare in its `extra`.

use crate::core::json_read::{self, Decode, ReadError, Reader};
use crate::core::wire::{read_error, DecodeError};
pub use crate::protocol::rocketride::json::{Extra, OrDefault};

/// Decodes all of `text` as `T`; `what` names the object in the error.
pub fn decode<'a, T: Decode<'a>>(what: &str, text: &'a str) -> Result<T, DecodeError> {
    decode_with(what, text, T::decode)
}

/// Reads all of `text` with `read`, which must take exactly one value; `what` names the
/// object in the error.
pub fn decode_with<'a, T>(what: &str, text: &'a str, read: impl FnOnce(&mut Reader<'a>) -> json_read::Result<T>) -> Result<T, DecodeError> {
    json_read::read_all(text, read).map_err(|e| decode_error(what, text, &e))
}

/// The [`DecodeError`] of `err`, met while reading `text` as `what`, its reason scrubbed of
/// credentials (the reader quotes the offending value, which may be an echoed token).
pub fn decode_error(what: &str, text: &str, err: &ReadError) -> DecodeError {
    let mut error = read_error(what, text, err);
    error.reason = super::auth::scrub(&error.reason);
    error
}

/// Implements [`Decode`] for a struct whose wire keys are its field names (fleet-rlm writes
/// snake_case, as Rust does) unless given (`field = "wire"`), with `extra` holding the other
/// keys except `ignore`'s (an envelope's `type`, the flattened runtime context).
///
/// ```text
/// decode_fields!(Citation { number, title, url });
/// decode_fields!(ExecutionStep { id, step_type = "type" });
/// decode_fields!(RunStarted { run_id, workspace_id }, ignore STARTED_IGNORED);
/// ```
macro_rules! decode_fields {
    ($name:ident $(<$lt:lifetime>)? { $($field:ident $(= $wire:literal)?),* $(,)? }) => {
        crate::protocol::fleet_rlm::json::decode_fields!($name $(<$lt>)? { $($field $(= $wire)?),* }, ignore &[]);
    };
    ($name:ident $(<$lt:lifetime>)? { $($field:ident $(= $wire:literal)?),* $(,)? }, ignore $ignore:expr) => {
        impl<'a> crate::core::json_read::Decode<'a> for $name $(<$lt>)? {
            fn decode(r: &mut crate::core::json_read::Reader<'a>) -> crate::core::json_read::Result<Self> {
                let mut extra = crate::protocol::fleet_rlm::json::Extra::default();
                let ignore: &[&str] = $ignore;
                crate::core::json_read::decode_object!(r, $name { $($field: crate::protocol::fleet_rlm::json::wire_name!($field $(, $wire)?)),* },
                    |key| extra.keep(r, key, ignore), extra: extra)
            }
        }
    };
}
pub(crate) use decode_fields;

/// A field's wire key: the one given, else the field's own name.
macro_rules! wire_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $wire:literal) => {
        $wire
    };
}
pub(crate) use wire_name;

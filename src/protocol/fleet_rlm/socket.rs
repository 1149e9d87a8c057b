//! What the two socket plug-ins share.

use crate::core::connection::{Link, Protocol};
use crate::core::outputs::Diagnostic;
use crate::core::wire::{DecodeError, DecodeErrorKind};

/// The plug-ins send no requests of their own (and the events socket takes no calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NoRequest {}

/// Reports an event delivered as `unknown` because its known kind did not decode. The
/// frame itself is delivered, so it is not counted as a decode error in the stats.
pub fn report_undecoded<P: Protocol>(link: &mut Link<P>, seq: Option<u64>, name: &str, error: Option<&DecodeError>) {
    if let Some(error) = error {
        let (epoch, event) = (link.epoch(), Some(name.to_owned()));
        link.diagnostic(Diagnostic::DecodeError { epoch, seq, event, error: error.clone() });
    }
}

/// The frame as text (the server sends text frames only).
pub fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes)
        .map_err(|e| DecodeError { kind: DecodeErrorKind::InvalidUtf8, reason: format!("frame is not UTF-8: {e}") })
}

//! The `rrext_monitor` type bitmask (spec §3.1) and its client-side validation.
//!
//! The server silently turns a typo, a bare string or an unknown name into bitmask 0,
//! which *unsubscribes* (spec §0.8). The SDK never lets that happen: every name is checked
//! here, at the call, and the wire always carries a list of known upper-case names.

use bitflags::bitflags;

bitflags! {
    /// Event types a monitor subscription asks for, with the server's bit values.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MonitorTypes: u8 {
        /// Debugger events; they never reach monitors, accepted for completeness.
        const DEBUGGER = 1 << 0;
        /// Raw engine `apaevt_status_*` events.
        const DETAIL = 1 << 1;
        /// `apaevt_status_update` (TASK_STATUS snapshots).
        const SUMMARY = 1 << 2;
        /// `output` console lines.
        const OUTPUT = 1 << 3;
        /// `apaevt_flow` pipeline traces.
        const FLOW = 1 << 4;
        /// `apaevt_task` lifecycle.
        const TASK = 1 << 5;
        /// `apaevt_sse` node events.
        const SSE = 1 << 6;
        /// `apaevt_dashboard` server events (only via the `{token:"*"}` scope).
        const DASHBOARD = 1 << 7;
    }
}

/// Why a `types` argument was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypesError {
    #[error("unknown monitor type name {}; expected one of DETAIL, SUMMARY, OUTPUT, FLOW, TASK, SSE, DASHBOARD, DEBUGGER, ALL", crate::core::json_write::quoted(.0))]
    UnknownName(String),
    #[error("monitor type bitmask {0} is out of range 1..=255")]
    OutOfRange(i64),
    #[error("no monitor types given; to stop receiving events, unsubscribe instead")]
    Empty,
    // Without the number: formatting a float here brought core's float printing (9 KB
    // gzip) into the module for this one message. The browser side adds the number as
    // JavaScript writes it.
    #[error("a monitor type bitmask must be a whole number from 1 to 255")]
    NotInteger,
    #[error("types must be an array of names or a bitmask, not a single string")]
    BareString,
    #[error("a pipe scope (pipeId) receives only SSE: the server matches pipe keys only to events that carry a pipe_id (spec §3.2); subscribe without pipeId for other types")]
    PipeScopeSseOnly,
}

/// The `types` argument as an app passes it: names or a bitmask. A bare string is
/// recognised only to be refused: the raw protocol turns it into "unsubscribe" (spec §3.1).
#[derive(Debug, Clone, PartialEq)]
pub enum TypesArg {
    Mask(f64),
    Names(Vec<String>),
    Name(String),
}

impl MonitorTypes {
    /// Parses type names case-insensitively, as the server does, but refuses unknown
    /// names instead of dropping them. `ALL` means every type. `NONE` is refused:
    /// unsubscribing is a separate, explicit call.
    ///
    /// ```
    /// use runwatch::protocol::rocketride::monitor_types::MonitorTypes;
    /// let t = MonitorTypes::parse_names(["task", "SUMMARY"]).unwrap();
    /// assert_eq!(t, MonitorTypes::TASK | MonitorTypes::SUMMARY);
    /// assert!(MonitorTypes::parse_names(["apaevt_status_upload"]).is_err());
    /// ```
    pub fn parse_names<I, S>(names: I) -> Result<Self, TypesError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut types = MonitorTypes::empty();
        for name in names {
            let name = name.as_ref();
            let upper = name.trim().to_ascii_uppercase();
            types |= match upper.as_str() {
                "ALL" => MonitorTypes::all(),
                other => MonitorTypes::from_name(other)
                    .ok_or_else(|| TypesError::UnknownName(name.to_string()))?,
            };
        }
        if types.is_empty() {
            return Err(TypesError::Empty);
        }
        Ok(types)
    }

    /// Checks an integer bitmask: 1..=255. (0 would unsubscribe; >255 the server rejects.)
    pub fn from_mask(mask: i64) -> Result<Self, TypesError> {
        match u8::try_from(mask) {
            Ok(0) => Err(TypesError::Empty),
            Ok(bits) => Ok(MonitorTypes::from_bits_retain(bits)),
            Err(_) => Err(TypesError::OutOfRange(mask)),
        }
    }

    /// Checks an app's `types` argument.
    ///
    /// ```
    /// use runwatch::protocol::rocketride::monitor_types::{MonitorTypes, TypesArg};
    /// assert_eq!(MonitorTypes::from_arg(TypesArg::Mask(36.0)).unwrap(), MonitorTypes::TASK | MonitorTypes::SUMMARY);
    /// assert!(MonitorTypes::from_arg(TypesArg::Name("SUMMARY".into())).is_err());
    /// assert!(MonitorTypes::from_arg(TypesArg::Mask(4.5)).is_err());
    /// ```
    pub fn from_arg(arg: TypesArg) -> Result<Self, TypesError> {
        match arg {
            TypesArg::Mask(mask) if mask.fract() != 0.0 || !mask.is_finite() => Err(TypesError::NotInteger),
            TypesArg::Mask(mask) => Self::from_mask(mask as i64),
            TypesArg::Names(names) => Self::parse_names(names),
            TypesArg::Name(_) => Err(TypesError::BareString),
        }
    }

    /// Upper-case names of the set bits, in bit order: what goes on the wire.
    pub fn names(self) -> Vec<&'static str> {
        self.iter_names().map(|(name, _)| name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_the_server() {
        assert_eq!(MonitorTypes::SUMMARY.bits(), 4);
        assert_eq!(MonitorTypes::DASHBOARD.bits(), 128);
        assert_eq!(MonitorTypes::all().bits(), 255);
    }

    #[test]
    fn names_are_case_insensitive_and_all_expands() {
        assert_eq!(MonitorTypes::parse_names(["Flow", "output"]).unwrap(), MonitorTypes::FLOW | MonitorTypes::OUTPUT);
        assert_eq!(MonitorTypes::parse_names(["all"]).unwrap(), MonitorTypes::all());
    }

    #[test]
    fn traps_are_refused_not_turned_into_unsubscribe() {
        assert_eq!(MonitorTypes::parse_names(["apaevt_status_upload"]), Err(TypesError::UnknownName("apaevt_status_upload".into())));
        assert_eq!(MonitorTypes::parse_names(["NONE"]), Err(TypesError::UnknownName("NONE".into())));
        assert_eq!(MonitorTypes::parse_names(Vec::<&str>::new()), Err(TypesError::Empty));
        assert_eq!(MonitorTypes::from_mask(0), Err(TypesError::Empty));
        assert_eq!(MonitorTypes::from_mask(256), Err(TypesError::OutOfRange(256)));
        assert_eq!(MonitorTypes::from_mask(-1), Err(TypesError::OutOfRange(-1)));
    }

    #[test]
    fn a_refused_name_is_quoted_as_json_text() {
        // What the app typed is echoed with JSON's escapes, as a JavaScript reader expects.
        let err = MonitorTypes::parse_names(["FL\u{1}OW \"x\""]).unwrap_err();
        assert!(err.to_string().starts_with(r#"unknown monitor type name "FL\u0001OW \"x\"";"#), "{err}");
    }

    #[test]
    fn wire_names_are_upper_case_in_bit_order() {
        assert_eq!((MonitorTypes::TASK | MonitorTypes::SUMMARY).names(), vec!["SUMMARY", "TASK"]);
    }
}

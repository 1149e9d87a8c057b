//! `pipelineTraceLevel` (spec §4.3, §5.1): which `apaevt_flow` frames a run produces.
//!
//! The server forwards FLOW for any truthy level, but only the engine produces the
//! frames, and it traces only `metadata`, `summary` and `full`. So `"none"`, `true` or
//! any other truthy value yields no flow frames at all (and no `pipeflow.byPipe`
//! mirroring, which is fed by the same frames).

use serde_json::Value;

/// The engine's trace level, in increasing detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum TraceLevel {
    /// No trace frames (absent, falsy, `"none"` or an unknown value).
    #[default]
    Off,
    /// `enter`/`leave` with `{lane, invoke?, data, result?}`; `end` has `trace:{}`.
    Metadata,
    /// As metadata, and `end` carries the object's result as its `trace`.
    Summary,
    /// As summary (the simulator does not model FULL's lane text).
    Full,
}

impl TraceLevel {
    /// Reads `arguments.pipelineTraceLevel`.
    pub fn from_arg(value: Option<&Value>) -> Self {
        match value.and_then(Value::as_str) {
            Some("metadata") => TraceLevel::Metadata,
            Some("summary") => TraceLevel::Summary,
            Some("full") => TraceLevel::Full,
            _ => TraceLevel::Off,
        }
    }

    /// The engine's numeric level (0 none … 3 full), as its banner line prints it.
    pub fn engine_level(self) -> u8 {
        match self {
            TraceLevel::Off => 0,
            TraceLevel::Metadata => 1,
            TraceLevel::Summary => 2,
            TraceLevel::Full => 3,
        }
    }

    /// The level's argument name (`none` when off).
    pub fn name(self) -> &'static str {
        match self {
            TraceLevel::Off => "none",
            TraceLevel::Metadata => "metadata",
            TraceLevel::Summary => "summary",
            TraceLevel::Full => "full",
        }
    }

    /// Whether the engine emits any flow frames.
    pub fn traces(self) -> bool {
        self != TraceLevel::Off
    }

    /// Whether the flow `end` frame carries the object's result (SUMMARY and up).
    pub fn end_has_result(self) -> bool {
        self >= TraceLevel::Summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_engine_levels_trace() {
        assert_eq!(TraceLevel::from_arg(Some(&json!("summary"))), TraceLevel::Summary);
        assert!(TraceLevel::from_arg(Some(&json!("metadata"))).traces());
        assert!(!TraceLevel::from_arg(Some(&json!("none"))).traces());
        assert!(!TraceLevel::from_arg(Some(&json!(true))).traces());
        assert!(!TraceLevel::from_arg(None).traces());
        assert!(!TraceLevel::Metadata.end_has_result() && TraceLevel::Full.end_has_result());
    }
}

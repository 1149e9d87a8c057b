//! Fault specifications and the standing faults that filter outbound frames.
//!
//! One-shot faults (injected frames, drops, restart) are carried out by `inject`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every fault the simulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Close every (or one) connection now, without a close frame unless `code` is given.
    DropAll,
    /// Reject new upgrades with HTTP 503 for `seconds`.
    Refuse,
    /// Stop sending (keep reading) for `seconds` (default: until cleared).
    HalfOpen,
    /// Drop outgoing frames with probability `rate`.
    Drop,
    /// Send outgoing frames twice with probability `rate`.
    Duplicate,
    /// Swap an outgoing frame with the next one with probability `rate`.
    Reorder,
    /// Delay every write by `delayMs`.
    SlowWriter,
    /// `count` text frames that are not JSON.
    Garbage,
    /// An event frame cut in half.
    Truncated,
    /// A valid event frame of about `bytes` bytes (default 16 MiB).
    Oversized,
    /// An SSE event whose untyped `data` nests arrays `depth` deep (default 100000).
    DeepNesting,
    /// A status update with bare `NaN` tokens, as Python `json.dumps` emits.
    Nan,
    /// An event sent as a binary frame.
    Binary,
    /// A text frame that is not valid UTF-8.
    InvalidUtf8,
    /// An SSE event with `__proto__` and `constructor` keys in its body and in its untyped `data`.
    ProtoKeys,
    /// An event with an unknown name.
    UnknownEvent,
    /// A known event with wrongly typed fields.
    BadTypes,
    /// A response to a `request_seq` never sent.
    UnknownResponse,
    /// An event whose seq is far ahead of the counter.
    LyingSeq,
    /// Refuse `key` from now on and close connections authenticated with it.
    RevokeKey,
    /// Drop everything and forget all state, as a process restart would.
    Restart,
}

/// A fault request: the kind plus its parameters (control API body / CLI item).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    /// Which fault.
    pub kind: FaultKind,
    /// Target connection; all connections when absent.
    #[serde(default)]
    pub conn: Option<u64>,
    /// Probability for drop / duplicate / reorder.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Duration for refuse / half_open.
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Delay for slow_writer.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Frame count for garbage.
    #[serde(default)]
    pub count: Option<u32>,
    /// Frame size for oversized.
    #[serde(default)]
    pub bytes: Option<usize>,
    /// Nesting depth for deep_nesting.
    #[serde(default)]
    pub depth: Option<usize>,
    /// API key for revoke_key.
    #[serde(default)]
    pub key: Option<String>,
    /// Close code for drop_all (absent: drop the TCP connection without a close frame).
    #[serde(default)]
    pub code: Option<u16>,
    /// drop / duplicate / reorder: only frames whose send-log `event` is this (e.g.
    /// `execution_step`: fleet-rlm's real duplicates and reorderings are steps); all when absent.
    #[serde(default)]
    pub event: Option<String>,
}

impl FaultSpec {
    /// A spec of `kind` with no parameters.
    pub fn of(kind: FaultKind) -> Self {
        FaultSpec {
            kind,
            conn: None,
            rate: None,
            seconds: None,
            delay_ms: None,
            count: None,
            bytes: None,
            depth: None,
            key: None,
            code: None,
            event: None,
        }
    }

    /// Parses a CLI item `kind[:param]`; the param fills the kind's main parameter.
    pub fn parse_cli(item: &str) -> Result<Self, String> {
        let (name, param) = match item.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (item, None),
        };
        let kind: FaultKind = serde_json::from_value(Value::String(name.trim().to_owned()))
            .map_err(|_| format!("unknown fault kind {name:?}"))?;
        let mut spec = FaultSpec::of(kind);
        let Some(p) = param else { return Ok(spec) };
        let bad = || format!("bad parameter {p:?} for fault {name}");
        match kind {
            FaultKind::Drop | FaultKind::Duplicate | FaultKind::Reorder => spec.rate = Some(p.parse().map_err(|_| bad())?),
            FaultKind::Refuse | FaultKind::HalfOpen => spec.seconds = Some(p.parse().map_err(|_| bad())?),
            FaultKind::SlowWriter => spec.delay_ms = Some(p.parse().map_err(|_| bad())?),
            FaultKind::Garbage => spec.count = Some(p.parse().map_err(|_| bad())?),
            FaultKind::Oversized => spec.bytes = Some(p.parse().map_err(|_| bad())?),
            FaultKind::DeepNesting => spec.depth = Some(p.parse().map_err(|_| bad())?),
            FaultKind::RevokeKey => spec.key = Some(p.to_owned()),
            FaultKind::DropAll => spec.code = Some(p.parse().map_err(|_| bad())?),
            _ => return Err(format!("fault {name} takes no parameter")),
        }
        Ok(spec)
    }
}

/// A probabilistic fault on outgoing frames of one or all connections.
#[derive(Debug, Clone, Serialize)]
pub struct RateFault {
    /// Probability in 0..=1.
    pub rate: f64,
    /// Target connection; all when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
    /// Only frames with this send-log `event`; all when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

impl RateFault {
    /// A fault of `spec`'s rate, connection and event filter.
    pub fn of(rate: f64, spec: &FaultSpec) -> Self {
        RateFault { rate, conn: spec.conn, event: spec.event.clone() }
    }

    /// Draws from `rng` (only for targeted frames, to keep runs reproducible).
    fn hits(&self, conn: u64, event: Option<&str>, rng: &mut fastrand::Rng) -> bool {
        self.conn.is_none_or(|c| c == conn) && self.event.as_deref().is_none_or(|e| Some(e) == event) && rng.f64() < self.rate
    }
}

/// A delay applied before each write.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlowWriter {
    /// Milliseconds per frame.
    pub delay_ms: u64,
    /// Target connection; all when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conn: Option<u64>,
}

/// The standing faults.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Faults {
    /// drop {rate}.
    pub drop: Option<RateFault>,
    /// duplicate {rate}.
    pub duplicate: Option<RateFault>,
    /// reorder {rate}.
    pub reorder: Option<RateFault>,
    /// slow_writer {delayMs}.
    pub slow_writer: Option<SlowWriter>,
    /// refuse: upgrades are rejected until then.
    #[serde(skip)]
    pub refuse_until: Option<Instant>,
    /// Revoked API keys.
    pub revoked: BTreeSet<String>,
}

/// What happens to one outgoing frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not written; logged with this fault label.
    Withhold(&'static str),
    /// Written, possibly twice, possibly swapped with the next frame.
    Send {
        /// Write a second copy.
        duplicate: bool,
        /// Swap with the next frame.
        reorder: bool,
    },
}

impl Faults {
    /// Decides the fate of a frame for `conn` whose send-log `event` is `event`.
    pub fn verdict(&self, conn: u64, event: Option<&str>, half_open: bool, rng: &mut fastrand::Rng) -> Verdict {
        if half_open {
            return Verdict::Withhold("half_open");
        }
        if self.drop.as_ref().is_some_and(|f| f.hits(conn, event, rng)) {
            return Verdict::Withhold("dropped");
        }
        let duplicate = self.duplicate.as_ref().is_some_and(|f| f.hits(conn, event, rng));
        let reorder = self.reorder.as_ref().is_some_and(|f| f.hits(conn, event, rng));
        Verdict::Send { duplicate, reorder }
    }

    /// The write delay for `conn`, if slow_writer targets it.
    pub fn write_delay(&self, conn: u64) -> Option<Duration> {
        self.slow_writer
            .as_ref()
            .filter(|s| s.conn.is_none_or(|c| c == conn))
            .map(|s| Duration::from_millis(s.delay_ms))
    }

    /// Whether upgrades are being refused now.
    pub fn refusing(&self) -> bool {
        self.refuse_until.is_some_and(|t| t > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_items_fill_the_main_parameter() {
        assert_eq!(FaultSpec::parse_cli("drop:0.25").unwrap().rate, Some(0.25));
        assert_eq!(FaultSpec::parse_cli("slow_writer:50").unwrap().delay_ms, Some(50));
        assert_eq!(FaultSpec::parse_cli("revoke_key:k").unwrap().key.as_deref(), Some("k"));
        assert_eq!(FaultSpec::parse_cli("nan").unwrap().kind, FaultKind::Nan);
        assert!(FaultSpec::parse_cli("nope").is_err());
        assert!(FaultSpec::parse_cli("nan:3").is_err());
        assert!(FaultSpec::parse_cli("drop:x").is_err());
    }

    #[test]
    fn rate_faults_only_hit_their_connection() {
        let f = Faults { drop: Some(RateFault { rate: 1.0, conn: Some(2), event: None }), ..Faults::default() };
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(f.verdict(2, None, false, &mut rng), Verdict::Withhold("dropped"));
        assert_eq!(f.verdict(3, None, false, &mut rng), Verdict::Send { duplicate: false, reorder: false });
        assert_eq!(f.verdict(3, None, true, &mut rng), Verdict::Withhold("half_open"));
    }

    #[test]
    fn rate_faults_with_an_event_filter_only_hit_those_frames() {
        let step = Some("execution_step".to_owned());
        let f = Faults {
            duplicate: Some(RateFault { rate: 1.0, conn: None, event: step.clone() }),
            reorder: Some(RateFault { rate: 1.0, conn: None, event: step }),
            ..Faults::default()
        };
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(f.verdict(4, Some("execution_step"), false, &mut rng), Verdict::Send { duplicate: true, reorder: true });
        assert_eq!(f.verdict(4, Some("execution_started"), false, &mut rng), Verdict::Send { duplicate: false, reorder: false });
        assert_eq!(f.verdict(4, None, false, &mut rng), Verdict::Send { duplicate: false, reorder: false });
        let spec: FaultSpec = serde_json::from_str(r#"{"kind":"drop","rate":0.5,"event":"execution_step"}"#).unwrap();
        assert_eq!(RateFault::of(0.5, &spec).event.as_deref(), Some("execution_step"));
    }
}

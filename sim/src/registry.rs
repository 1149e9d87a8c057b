//! Monitor registry: `EVENT_TYPE` bits, `types` parsing, registry keys and delivery
//! (spec §3).

use serde_json::Value;

/// `EVENT_TYPE` bits (spec §3.1 table).
pub mod bit {
    pub const DEBUGGER: u8 = 1 << 0;
    pub const DETAIL: u8 = 1 << 1;
    pub const SUMMARY: u8 = 1 << 2;
    pub const OUTPUT: u8 = 1 << 3;
    pub const FLOW: u8 = 1 << 4;
    pub const TASK: u8 = 1 << 5;
    pub const SSE: u8 = 1 << 6;
    pub const DASHBOARD: u8 = 1 << 7;
}

/// Flag names in bit order; `ALL` and `NONE` are handled separately.
const NAMES: [(&str, u8); 8] = [
    ("DEBUGGER", bit::DEBUGGER),
    ("DETAIL", bit::DETAIL),
    ("SUMMARY", bit::SUMMARY),
    ("OUTPUT", bit::OUTPUT),
    ("FLOW", bit::FLOW),
    ("TASK", bit::TASK),
    ("SSE", bit::SSE),
    ("DASHBOARD", bit::DASHBOARD),
];

/// One connection's registry: key → bitmask, in insertion order like the server's
/// Python dict (`rrext_dashboard` lists monitors in this order). Re-setting a key keeps
/// its place; a popped key that comes back goes to the end.
#[derive(Debug, Clone, Default)]
pub struct Monitors {
    entries: Vec<(String, u8)>,
}

impl Monitors {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bitmask of `key`.
    pub fn get(&self, key: &str) -> Option<&u8> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, m)| m)
    }

    /// Sets `key` to `mask`, in place if present, else at the end.
    pub fn insert(&mut self, key: String, mask: u8) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = mask,
            None => self.entries.push((key, mask)),
        }
    }

    /// Pops `key` (absent is fine).
    pub fn remove(&mut self, key: &str) {
        self.entries.retain(|(k, _)| k != key);
    }

    /// Keeps the keys for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, u8) -> bool) {
        self.entries.retain(|(k, m)| keep(k, *m));
    }

    /// `(key, mask)` pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &u8)> {
        self.entries.iter().map(|(k, m)| (k, m))
    }
}

/// The server-wide key of `token:"*"`.
pub const ALL_KEY: &str = "*";

/// Parses `arguments.types` / `listenType` into a bitmask (spec §3.1, `cmd_monitor.py:546-561`).
///
/// A list matches names case-insensitively and skips unknown ones; an int or a digit
/// string is a bitmask; anything else (a bare `"SUMMARY"`!) falls back to `listenType`,
/// default 0. An int outside 0..=255 fails like Python's `IntFlag` does.
pub fn parse_types(types: Option<&Value>, listen_type: Option<&Value>) -> Result<u8, String> {
    match types {
        Some(Value::Array(items)) => Ok(items.iter().filter_map(Value::as_str).fold(0, |m, n| m | name_bit(n))),
        // Python: floats are not ints (they fall through below); bools are (True == 1).
        Some(Value::Number(n)) if !n.is_f64() => int_mask(n.as_i64()),
        Some(Value::Bool(b)) => Ok(u8::from(*b)),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            int_mask(s.parse::<i64>().ok())
        }
        _ => match listen_type {
            Some(Value::Number(n)) if !n.is_f64() => int_mask(n.as_i64()),
            Some(Value::Bool(b)) => Ok(u8::from(*b)),
            _ => Ok(0),
        },
    }
}

/// The bit of one flag name (case-insensitive); unknown names are 0.
fn name_bit(name: &str) -> u8 {
    let upper = name.to_ascii_uppercase();
    match upper.as_str() {
        "ALL" => 0xFF,
        _ => NAMES.iter().find(|(n, _)| *n == upper).map(|(_, b)| *b).unwrap_or(0),
    }
}

/// Validates an integer bitmask the way `EVENT_TYPE(value)` (an `IntFlag` with
/// `boundary=STRICT`) does: -256..=-1 wrap to their complement, other values outside
/// 0..=255 raise `ValueError` with Python's exact message.
fn int_mask(value: Option<i64>) -> Result<u8, String> {
    let Some(v) = value else {
        return Err("<flag 'EVENT_TYPE'> invalid value None".to_owned());
    };
    match v {
        0..=255 => Ok(v as u8),
        -256..=-1 => Ok((256 + v) as u8),
        _ => {
            let width = (64 - v.unsigned_abs().leading_zeros()).max(8) as usize;
            Err(format!(
                "<flag 'EVENT_TYPE'> invalid value {v}\n    given {}\n  allowed {}",
                py_bin(v, width),
                py_bin(255, width)
            ))
        }
    }
}

/// Python `enum.bin(value, width)`: sign digit, space, `width` two's-complement bits.
fn py_bin(v: i64, width: usize) -> String {
    let (sign, bits) = if v >= 0 { (0, v) } else { (1, (v + (1i64 << (width + 1))) & ((1i64 << width) - 1)) };
    format!("0b{sign} {bits:0width$b}")
}

/// The flag names of a mask as `rrext_monitor` takes them, in bit order.
pub fn type_names(mask: u8) -> Vec<&'static str> {
    NAMES.iter().filter(|(_, b)| mask & b != 0).map(|(n, _)| *n).collect()
}

/// Lower-case flag names of a mask, in bit order (`rrext_dashboard`, Errata 1).
pub fn flag_names(mask: u8) -> Vec<String> {
    type_names(mask).into_iter().map(str::to_ascii_lowercase).collect()
}

/// The project key `p.<project>.<source>` (source may be `*`).
pub fn project_key(project_id: &str, source: &str) -> String {
    format!("p.{project_id}.{source}")
}

/// The key a task event can match on one connection, given its pipe id (spec §3.2
/// delivery rule): pipe key (only when the body has `pipe_id`), project key, project
/// wildcard and `*`.
pub fn candidate_keys(project_id: &str, source: &str, pipe_id: Option<i64>) -> Vec<String> {
    let project = project_key(project_id, source);
    let mut keys = Vec::with_capacity(4);
    if let Some(pipe) = pipe_id {
        keys.push(format!("{project}.{pipe}"));
    }
    keys.push(project);
    keys.push(project_key(project_id, "*"));
    keys.push(ALL_KEY.to_owned());
    keys
}

/// The keys of `monitors` that deliver an event with `event_bit` (empty = not delivered).
pub fn matching_keys(monitors: &Monitors, candidates: &[String], event_bit: u8) -> Vec<String> {
    candidates.iter().filter(|k| monitors.get(k).is_some_and(|m| m & event_bit != 0)).cloned().collect()
}

/// Whether `key` belongs to the task `p.<project>.<source>`, i.e. is removed by
/// `remove_task` (the project key and its `.<pipeId>` sub-keys, spec §3.6).
pub fn is_task_key(key: &str, project_key: &str) -> bool {
    key == project_key || key.strip_prefix(project_key).is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_parsing_traps() {
        assert_eq!(parse_types(Some(&json!(["task", "Summary", "nope"])), None), Ok(bit::TASK | bit::SUMMARY));
        assert_eq!(parse_types(Some(&json!(["apaevt_status_upload"])), None), Ok(0));
        assert_eq!(parse_types(Some(&json!("SUMMARY")), None), Ok(0));
        assert_eq!(parse_types(Some(&json!("SUMMARY")), Some(&json!(4))), Ok(4));
        assert_eq!(parse_types(Some(&json!("36")), None), Ok(36));
        assert_eq!(parse_types(Some(&json!(255)), None), Ok(255));
        assert_eq!(parse_types(None, None), Ok(0));
        assert_eq!(parse_types(Some(&json!(["ALL"])), None), Ok(255));
        // Messages as produced by Python's enum module (checked against CPython).
        let err = parse_types(Some(&json!(256)), None).unwrap_err();
        assert_eq!(err, "<flag 'EVENT_TYPE'> invalid value 256\n    given 0b0 100000000\n  allowed 0b0 011111111");
        let err = parse_types(Some(&json!(1000)), None).unwrap_err();
        assert_eq!(err, "<flag 'EVENT_TYPE'> invalid value 1000\n    given 0b0 1111101000\n  allowed 0b0 0011111111");
        let err = parse_types(Some(&json!(-300)), None).unwrap_err();
        assert_eq!(err, "<flag 'EVENT_TYPE'> invalid value -300\n    given 0b1 011010100\n  allowed 0b0 011111111");
        assert_eq!(parse_types(Some(&json!(-1)), None), Ok(255));
        assert_eq!(parse_types(Some(&json!(-256)), None), Ok(0));
        assert_eq!(parse_types(Some(&json!(4.0)), None), Ok(0), "a float is not an int: unsubscribe");
        assert_eq!(parse_types(Some(&json!(true)), None), Ok(bit::DEBUGGER), "True is the int 1");
    }

    #[test]
    fn delivery_merges_pipe_project_wildcard_and_all() {
        let mut m = Monitors::new();
        m.insert("p.P.S.2".into(), bit::SSE);
        m.insert("p.P.*".into(), bit::OUTPUT);
        let with_pipe = candidate_keys("P", "S", Some(2));
        assert_eq!(matching_keys(&m, &with_pipe, bit::SSE), vec!["p.P.S.2".to_owned()]);
        let no_pipe = candidate_keys("P", "S", None);
        assert!(matching_keys(&m, &no_pipe, bit::SSE).is_empty());
        assert_eq!(matching_keys(&m, &no_pipe, bit::OUTPUT), vec!["p.P.*".to_owned()]);
    }

    #[test]
    fn task_keys_include_pipe_sub_keys_only() {
        assert!(is_task_key("p.P.S", "p.P.S"));
        assert!(is_task_key("p.P.S.3", "p.P.S"));
        assert!(!is_task_key("p.P.S2", "p.P.S"));
        assert!(!is_task_key("p.P.*", "p.P.S"));
        let mut m = Monitors::new();
        m.insert("p.b".into(), 1);
        m.insert("*".into(), 2);
        m.insert("p.b".into(), 4);
        let order: Vec<(&String, &u8)> = m.iter().collect();
        assert_eq!(order, vec![(&"p.b".to_owned(), &4), (&"*".to_owned(), &2)], "insertion order, updates in place");
        m.remove("p.b");
        m.insert("p.b".into(), 8);
        assert_eq!(m.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), vec!["*", "p.b"]);
        assert_eq!(flag_names(bit::SUMMARY | bit::TASK), vec!["summary", "task"]);
        assert_eq!(type_names(0xfe), vec!["DETAIL", "SUMMARY", "OUTPUT", "FLOW", "TASK", "SSE", "DASHBOARD"]);
    }
}

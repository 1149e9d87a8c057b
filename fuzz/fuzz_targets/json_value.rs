#![no_main]
//! json_read against serde_json (float_roundtrip, preserve_order): the same verdict and the
//! same values for any text.
use libfuzzer_sys::fuzz_target;
use runwatch::core::json_read::{from_str, Reader};
use serde_json::Value;

fn depth(text: &str) -> usize {
    let (mut d, mut max) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                d += 1;
                max = max.max(d);
            }
            b']' | b'}' => d = d.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.contains("$serde_json::private::RawValue") {
        // serde_json's own token for a RawValue: with `raw_value` on, it refuses an object
        // with that key as a `Value`, which JSON.parse and json_read read as any object.
        return;
    }
    assert_eq!(from_str::<Value>(text).ok(), serde_json::from_str::<Value>(text).ok(), "Value {text:?}");
    assert_eq!(from_str::<String>(text).ok(), serde_json::from_str::<String>(text).ok(), "String {text:?}");
    assert_eq!(from_str::<u64>(text).ok(), serde_json::from_str::<u64>(text).ok(), "u64 {text:?}");
    assert_eq!(from_str::<i64>(text).ok(), serde_json::from_str::<i64>(text).ok(), "i64 {text:?}");
    assert_eq!(from_str::<f64>(text).ok(), serde_json::from_str::<f64>(text).ok(), "f64 {text:?}");
    if depth(text) < 100 {
        let mut r = Reader::new(text);
        let ours = r.raw().and_then(|_| r.end()).is_ok();
        assert_eq!(ours, serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(), "raw {text:?}");
    }
});

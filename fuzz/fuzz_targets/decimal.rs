#![no_main]
//! core::decimal against the standard library's parser.
use libfuzzer_sys::fuzz_target;
use runwatch::core::decimal::{nearest_f64, quick};

fn is_json_number(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let s = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

fuzz_target!(|data: &[u8]| {
    if data.len() >= 12 {
        let digits = u64::from_le_bytes(data[..8].try_into().unwrap());
        let scale = i32::from_le_bytes(data[8..12].try_into().unwrap()) % 25;
        if let Some(v) = quick(digits, scale) {
            let std: f64 = format!("{digits}e{scale}").parse().unwrap();
            assert_eq!(v.to_bits(), std.to_bits(), "quick({digits}, {scale})");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    if !is_json_number(text) {
        return;
    };
    let std = text.parse::<f64>().ok().filter(|v| v.is_finite());
    assert_eq!(nearest_f64(text).map(f64::to_bits), std.map(f64::to_bits), "{text}");
});

#![no_main]
//! core::decimal against the standard library's parser.
use libfuzzer_sys::fuzz_target;
use runwatch::core::decimal::{nearest_f64, quick};

/// Whether `t` is a number by JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(&b[i..]),
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        match digits(&b[i..]) {
            0 => return false,
            n => i += n,
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1 + usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        match digits(&b[i.min(b.len())..]) {
            0 => return false,
            n => i += n,
        }
    }
    i == b.len()
}

/// How many ASCII digits `b` starts with.
fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
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

//! Word-at-a-time helpers. Little-endian loads of eight and four bytes at an offset: the
//! word-wise scans and comparisons (plain string runs, key matches, the module's `memcmp`)
//! all read through these, so they compile to one bounds check and one load each. And
//! short copies by words ([`append`], [`owned`]) where a copy of a length known only at
//! run time would be a `memory.copy` in wasm.
//!
//! ```
//! use runwatch::core::words::{half, word};
//!
//! let bytes = b"__id\":\"task-1\"";
//! assert_eq!(word(bytes, 0), u64::from_le_bytes(*b"__id\":\"t"));
//! assert_eq!(half(bytes, 10), u32::from_le_bytes(*b"k-1\""));
//! ```

/// The eight bytes of `s` from `at`, the first the lowest. Panics if they run past the end.
#[inline(always)]
pub fn word(s: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default())
}

/// The four bytes of `s` from `at`, the first the lowest. Panics if they run past the end.
#[inline(always)]
pub fn half(s: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or_default())
}

/// Appends `bytes` to `out`, as `extend_from_slice` does.
///
/// A copy whose length is not known when compiling becomes wasm's `memory.copy`, which V8
/// runs out of line: about 15 ns a call in Chromium 156, against 2–3 ns for a few word
/// loads and stores (measured on 16 to 64 bytes). The JSON writer appends such short runs
/// (keys, ids, numbers) dozens of times an event, so up to 64 bytes are copied here by
/// words; longer runs still take `memory.copy`, whose cost then goes with the length.
#[inline(always)]
pub fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len());
    // SAFETY: the capacity holds `bytes.len()` more bytes (reserved above), all written
    // before the length covers them; `bytes` cannot be in `out`'s spare capacity.
    unsafe {
        copy(bytes.as_ptr(), out.as_mut_ptr().add(out.len()), bytes.len());
        out.set_len(out.len() + bytes.len());
    }
}

/// `text` as an owned `String`, copied as [`append`] copies.
#[inline(always)]
pub fn owned(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    append(&mut out, text.as_bytes());
    // SAFETY: `out` holds exactly the bytes of `text`, which is UTF-8.
    unsafe { String::from_utf8_unchecked(out) }
}

/// Copies `len` bytes from `src` to `dst`: up to 64 by (overlapping) unaligned word loads
/// and stores, all loads before the stores of each pair, longer by `copy_nonoverlapping`.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and they must not
/// overlap.
// Inlined where RocketRide's thousands of events a second are decoded (its module is built
// for speed: inlined, C is about 9 % faster in `bench/feed.mjs` for 1.6 KB gzip, against
// 3 % for 0.6 KB as one function); one function in the fleet-rlm-only module, built for
// size, whose sockets carry a few events a second.
#[cfg_attr(feature = "rocketride", inline(always))]
#[cfg_attr(not(feature = "rocketride"), inline(never))]
pub unsafe fn copy(src: *const u8, dst: *mut u8, len: usize) {
    use std::ptr::{read_unaligned as load, write_unaligned as store};
    type W16 = [u64; 2];
    match len {
        0 => {}
        1..=3 => {
            let (a, b, c) = (*src, *src.add(len / 2), *src.add(len - 1));
            *dst = a;
            *dst.add(len / 2) = b;
            *dst.add(len - 1) = c;
        }
        4..=7 => {
            let (a, b) = (load(src.cast::<u32>()), load(src.add(len - 4).cast::<u32>()));
            store(dst.cast::<u32>(), a);
            store(dst.add(len - 4).cast::<u32>(), b);
        }
        8..=16 => {
            let (a, b) = (load(src.cast::<u64>()), load(src.add(len - 8).cast::<u64>()));
            store(dst.cast::<u64>(), a);
            store(dst.add(len - 8).cast::<u64>(), b);
        }
        17..=32 => {
            let (a, b) = (load(src.cast::<W16>()), load(src.add(len - 16).cast::<W16>()));
            store(dst.cast::<W16>(), a);
            store(dst.add(len - 16).cast::<W16>(), b);
        }
        33..=64 => {
            let (a, b) = (load(src.cast::<W16>()), load(src.add(16).cast::<W16>()));
            let (c, d) = (load(src.add(len - 32).cast::<W16>()), load(src.add(len - 16).cast::<W16>()));
            store(dst.cast::<W16>(), a);
            store(dst.add(16).cast::<W16>(), b);
            store(dst.add(len - 32).cast::<W16>(), c);
            store(dst.add(len - 16).cast::<W16>(), d);
        }
        _ => std::ptr::copy_nonoverlapping(src, dst, len),
    }
}

/// The bytes that end a string's plain run: the quote, the backslash, control characters.
static STOPS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// How many bytes at the start of `bytes` are plain string content (no quote, backslash
/// or control character): eight at a time, the first stop found in its word by its bit
/// (most strings are short: a byte-by-byte tail cost more than the word-wise scan), and
/// the last few bytes of the text one by one.
#[inline]
pub(crate) fn plain_run(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let stops = stops(word(bytes, at));
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..].iter().position(|&b| STOPS[b as usize]).unwrap_or(bytes.len() - at)
}

/// The stops among eight bytes read as a little-endian word: a byte below 0x20, or equal
/// to '"' or '\\', sets its high bit. Bits can also be set above a marked byte (a borrow
/// carries upward), never below one, so the lowest set bit is the first stop, and the
/// result is 0 exactly when there is none.
#[inline]
pub(crate) fn stops(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
    control | has_zero(v ^ (ONES * b'"' as u64)) | has_zero(v ^ (ONES * b'\\' as u64))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn loads_start_at_the_offset_with_the_first_byte_lowest() {
        let bytes = [9, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(word(&bytes, 1), 0x0807_0605_0403_0201);
        assert_eq!(half(&bytes, 5), 0x0807_0605);
    }

    #[test]
    fn append_and_owned_copy_every_length_exactly() {
        let source: Vec<u8> = (0..200u8).map(|b| b.wrapping_mul(7).wrapping_add(1)).collect();
        for len in 0..=150 {
            for at in [0, 1, 5] {
                let bytes = &source[at..at + len];
                let mut out = b"prefix".to_vec();
                append(&mut out, bytes);
                assert_eq!(&out[..6], b"prefix", "length {len}");
                assert_eq!(&out[6..], bytes, "length {len} from {at}");
            }
        }
        let text = "a ☃ string with more than sixty-four bytes in it, some of them not ASCII: éè";
        for end in (0..=text.len()).filter(|&e| text.is_char_boundary(e)) {
            assert_eq!(owned(&text[..end]), &text[..end]);
        }
    }

    #[test]
    #[should_panic]
    fn a_word_past_the_end_panics() {
        word(&[0; 8], 1);
    }

    proptest! {
        /// The word-wise scan finds the first quote, backslash or control byte where a byte
        /// by byte scan does, wherever it falls in a word and whatever follows it.
        #[test]
        fn plain_run_stops_at_the_first_stop_byte(bytes in proptest::collection::vec(prop_oneof![
            4 => 0x20u8..=0xff, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20,
        ], 0..40)) {
            let expected = bytes.iter().position(|&b| b < 0x20 || b == b'"' || b == b'\\').unwrap_or(bytes.len());
            prop_assert_eq!(plain_run(&bytes), expected, "{:?}", bytes);
        }
    }
}

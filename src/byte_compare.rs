//! The module's `memcmp` and `bcmp`: a word at a time.
//!
//! Comparing two strings or byte slices (`==`, `Ord`) compiles to a call of `memcmp`, and the
//! one that wasm32 builds get from `compiler_builtins` compares a byte at a time. Task ids,
//! project ids and sources are compared on every event (the task directory, the task store's
//! maps): 3–4 % of the task store's time per event went to that loop (`node --cpu-prof` on
//! `bench/feed.mjs`). These take eight bytes a step. Native builds keep the C library's.
//!
//! ```
//! use runwatch::byte_compare::compare;
//! use std::cmp::Ordering;
//!
//! assert_eq!(compare(b"10ad0000-0000-4000", b"10ad0000-0000-4001").cmp(&0), Ordering::Less);
//! assert_eq!(compare(b"load_2", b"load_2"), 0);
//! ```

use crate::core::words::word;

/// `memcmp` over two equally long slices: negative, zero or positive as `a` sorts before,
/// with or after `b` byte by byte (unsigned).
pub fn compare(a: &[u8], b: &[u8]) -> i32 {
    let n = a.len().min(b.len());
    if n < 8 {
        return match a[..n].iter().zip(&b[..n]).find(|(x, y)| x != y) {
            Some((x, y)) => i32::from(*x) - i32::from(*y),
            None => 0,
        };
    }
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            break;
        }
        at += 8;
    }
    // The last step's word ends at the end, overlapping bytes already found equal: the
    // first byte that differs in it is still the first that differs at all.
    let at = at.min(n - 8);
    let diff = word(a, at) ^ word(b, at);
    if diff == 0 {
        return 0;
    }
    // The first differing byte is the lowest one that differs in a little-endian load.
    let byte = at + (diff.trailing_zeros() / 8) as usize;
    i32::from(a[byte]) - i32::from(b[byte])
}

/// The C `memcmp` the wasm module links, in place of `compiler_builtins`' byte loop.
///
/// # Safety
/// `a` and `b` must each be valid for reads of `n` bytes.
#[cfg(target_arch = "wasm32")]
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    compare(std::slice::from_raw_parts(a, n), std::slice::from_raw_parts(b, n))
}

/// `bcmp` (zero when equal), which LLVM calls where only equality matters.
///
/// # Safety
/// As [`memcmp`].
#[cfg(target_arch = "wasm32")]
#[no_mangle]
#[inline(never)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    memcmp(a, b, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sign(o: std::cmp::Ordering) -> i32 {
        o as i32
    }

    proptest! {
        /// The same order as the slices' own, at every length and for differences at any
        /// byte of a word (high bytes included, compared unsigned).
        #[test]
        fn orders_as_slices_do(a in prop::collection::vec(any::<u8>(), 0..40), edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3)) {
            let mut b = a.clone();
            for (i, v) in edits {
                if !b.is_empty() {
                    let i = i % b.len();
                    b[i] = v;
                }
            }
            prop_assert_eq!(compare(&a, &b).signum(), sign(a.cmp(&b)));
            prop_assert_eq!(compare(&b, &a).signum(), sign(b.cmp(&a)));
        }
    }

    #[test]
    fn the_first_difference_decides() {
        assert!(compare(b"abcdefgh0bcdefgz", b"abcdefgh1bcdefga") < 0);
        assert!(compare(b"abcdefghijklmnoX", b"abcdefghijklmnoA") > 0);
        assert!(compare(&[0x80; 9], &[0x7f; 9]) > 0);
        assert_eq!(compare(b"", b""), 0);
    }
}

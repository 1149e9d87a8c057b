//! Little-endian loads of eight and four bytes at an offset. The word-at-a-time scans and
//! comparisons (plain string runs, key matches, the module's `memcmp`) all read through
//! these, so they compile to one bounds check and one load each.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_start_at_the_offset_with_the_first_byte_lowest() {
        let bytes = [9, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(word(&bytes, 1), 0x0807_0605_0403_0201);
        assert_eq!(half(&bytes, 5), 0x0807_0605);
    }

    #[test]
    #[should_panic]
    fn a_word_past_the_end_panics() {
        word(&[0; 8], 1);
    }
}

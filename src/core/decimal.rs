//! A JSON number's text to the nearest double, without the standard library's parser.
//!
//! `str::parse::<f64>` (core's `dec2flt`) carries 128-bit power-of-five tables and the code
//! around them; with this file in their place the RocketRide module is 2.1 KB gzip smaller
//! and the fleet-rlm one 11.5 KB. `json_read` reads most numbers with one exact operation
//! on doubles. What that leaves comes here:
//! - up to 19 digits with a small exponent ([`quick`]): one 128-bit multiplication or
//!   division. This is every 17-digit float, such as an `eventTime` from Python's
//!   `time.time()`, so it must be fast (about as fast as `str::parse`, by `bench/feed.mjs`);
//! - anything else ([`nearest_f64`]: more digits, a large exponent), which is rare: the
//!   number as an exact ratio of big integers and one long division for 64 bits of
//!   quotient. Slow (a microsecond) but small.
//!
//! Both round once, to nearest with ties to even, as `JSON.parse` and `str::parse` do; the
//! tests hold them to `str::parse`.

use std::cmp::Ordering;

/// The nearest double to `text`, a number already checked against JSON's grammar; `None`
/// when it is too large for a double (it would round to infinity).
#[must_use]
pub fn nearest_f64(text: &str) -> Option<f64> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = Decimal::parse(text).nearest()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// The nearest double to `digits × 10^scale` when one 128-bit operation gives it exactly
/// (`|scale| <= 19`); `None` sends the number to [`nearest_f64`]. This is the path of a float
/// with 16 to 19 digits, such as Python's `time.time()` written out (`1767229240.0312345`),
/// which a double's own arithmetic cannot read exactly.
#[must_use]
pub fn quick(digits: u64, scale: i32) -> Option<f64> {
    if !(-19..=19).contains(&scale) {
        return None;
    }
    if digits == 0 {
        return Some(0.0);
    }
    // From a table: `10u128.pow` multiplies its way there in 128 bits, each a call in wasm.
    let (wide, pow) = (u128::from(digits), u128::from(POW10[scale.unsigned_abs() as usize]));
    if scale >= 0 {
        return round_wide(wide * pow, 0, false); // below 2^128: exact
    }
    // digits / 10^-scale with the dividend moved to the top of 128 bits: at least 64
    // quotient bits, and the remainder says whether anything is left below them.
    let up = digits.leading_zeros() + 64;
    let dividend = wide << up;
    let quotient = dividend / pow;
    round_wide(quotient, -i64::from(up), quotient * pow != dividend)
}

/// 10^0 to 10^19, every power of ten a `u64` holds.
const POW10: [u64; 20] = {
    let mut table = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// `wide × 2^k` (plus a little more when `inexact`) to the nearest double.
fn round_wide(wide: u128, k: i64, inexact: bool) -> Option<f64> {
    let shift = 64 - i64::from(wide.leading_zeros()); // bits beyond 64
    if shift <= 0 {
        return round((wide << -shift) as u64, k + shift, inexact);
    }
    let lost = wide & ((1 << shift) - 1) != 0;
    round((wide >> shift) as u64, k + shift, inexact || lost)
}

/// Significant digits kept. A double halfway between two others has at most 767
/// significant digits, so digits past 800 can only tell "above" from "exactly on" it,
/// which [`Decimal::sticky`] records.
const MAX_DIGITS: usize = 800;

/// `digits × 10^scale`, with `sticky` set when non-zero digits were dropped.
struct Decimal {
    digits: Vec<u8>,
    scale: i64,
    sticky: bool,
}

impl Decimal {
    /// Reads an unsigned JSON number (`12.5e-3`).
    fn parse(text: &str) -> Self {
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], exponent(&text[at + 1..])),
            None => (text, 0),
        };
        let mut d = Decimal { digits: Vec::new(), scale: exponent, sticky: false };
        let mut fraction = false;
        for b in mantissa.bytes() {
            if b == b'.' {
                fraction = true;
                continue;
            }
            let digit = b - b'0';
            if d.digits.len() < MAX_DIGITS && (digit != 0 || !d.digits.is_empty()) {
                d.digits.push(digit);
                d.scale -= i64::from(fraction);
            } else if d.digits.is_empty() {
                d.scale -= i64::from(fraction); // a leading zero
            } else {
                d.sticky |= digit != 0;
                d.scale += i64::from(!fraction);
            }
        }
        while d.digits.last() == Some(&0) {
            d.digits.pop();
            d.scale += 1;
        }
        d
    }

    /// The nearest double, or `None` past the largest one.
    fn nearest(&self) -> Option<f64> {
        let order = self.digits.len() as i64 + self.scale; // 10^(order-1) <= value < 10^order
        if self.digits.is_empty() || order < -343 {
            return Some(0.0); // below half the smallest subnormal (4.9e-324)
        }
        if order > 310 {
            return None;
        }
        let mut num = Big::from_digits(&self.digits);
        let mut den = Big::one();
        if self.scale >= 0 {
            num.mul_pow10(self.scale as u32);
        } else {
            den.mul_pow10(self.scale.unsigned_abs() as u32);
        }
        let (quotient, k, inexact) = quotient_64_bits(num, den);
        round(quotient, k, inexact || self.sticky)
    }
}

/// The exponent after `e`, saturated far past any double's range.
fn exponent(text: &str) -> i64 {
    let (sign, digits) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    sign * digits.bytes().fold(0i64, |e, b| (e * 10 + i64::from(b - b'0')).min(1_000_000))
}

/// `(q, k, inexact)` with `q = floor(num / den / 2^k)` in `[2^63, 2^64)` and `inexact`
/// when the division left a remainder.
fn quotient_64_bits(num: Big, den: Big) -> (u64, i64, bool) {
    // num / den lies in (2^(L-1), 2^(L+1)), so k = L - 64 puts the quotient in (2^63, 2^65).
    let mut k = num.bits() as i64 - den.bits() as i64 - 64;
    let (mut a, mut b) = (num, den);
    if k < 0 {
        a.shl(k.unsigned_abs() as usize);
    } else {
        b.shl(k as usize);
    }
    let mut limit = b.clone();
    limit.shl(64);
    if a.cmp(&limit) != Ordering::Less {
        b.shl(1);
        k += 1;
    }
    // Binary long division, one quotient bit per step, from 2^63 down.
    b.shl(63);
    let mut q = 0u64;
    for bit in (0..64).rev() {
        if a.cmp(&b) != Ordering::Less {
            a.sub(&b);
            q |= 1 << bit;
        }
        b.shr1();
    }
    (q, k, !a.is_zero())
}

/// `q × 2^k` (plus a little more when `inexact`) rounded to the nearest double, ties to
/// even; `None` when that is infinite.
fn round(q: u64, k: i64, inexact: bool) -> Option<f64> {
    let top = k + 63; // q × 2^k lies in [2^top, 2^(top+1))
    // A normal double keeps 53 of q's 64 bits; a subnormal fewer, down to the 2^-1074 unit.
    let drop = 11 + (-1022 - top).max(0);
    if drop > 64 {
        return Some(0.0); // below 2^-1075, half the smallest subnormal
    }
    // In 64 bits (a 128-bit shift is a call in wasm): all of q is below the unit at 64.
    let (mut mantissa, rest) = match drop {
        64 => (0, q),
        _ => (q >> drop, q & ((1 << drop) - 1)),
    };
    let half = 1u64 << (drop - 1);
    if rest > half || (rest == half && (inexact || mantissa & 1 == 1)) {
        mantissa += 1;
    }
    // mantissa <= 2^53 converts exactly, and scaling by a power of two is exact while finite.
    let value = mantissa as f64 * pow2(k + drop);
    value.is_finite().then_some(value)
}

/// 2^e for e in [-1074, 1023].
fn pow2(e: i64) -> f64 {
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1 << (e + 1074))
    }
}

/// An unsigned big integer: 32-bit limbs, least significant first, no zero limb on top.
#[derive(Clone)]
struct Big(Vec<u32>);

impl Big {
    fn one() -> Self {
        Big(vec![1])
    }

    fn from_digits(digits: &[u8]) -> Self {
        let mut big = Big(Vec::new());
        for chunk in digits.chunks(9) {
            big.mul_small(10u32.pow(chunk.len() as u32));
            let value = chunk.iter().fold(0u32, |v, &d| v * 10 + u32::from(d));
            big.add_small(value);
        }
        big
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> usize {
        self.0.last().map_or(0, |top| 32 * self.0.len() - top.leading_zeros() as usize)
    }

    fn mul_small(&mut self, factor: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn add_small(&mut self, mut value: u32) {
        for limb in &mut self.0 {
            let (sum, overflow) = limb.overflowing_add(value);
            *limb = sum;
            if !overflow {
                return;
            }
            value = 1;
        }
        if value != 0 {
            self.0.push(value);
        }
    }

    fn mul_pow10(&mut self, mut e: u32) {
        while e >= 9 {
            self.mul_small(1_000_000_000);
            e -= 9;
        }
        self.mul_small(10u32.pow(e));
    }

    fn shl(&mut self, bits: usize) {
        let mut shifted = vec![0; bits / 32];
        let mut carry = 0;
        for &limb in &self.0 {
            let wide = (u64::from(limb) << (bits % 32)) | carry;
            shifted.push(wide as u32);
            carry = wide >> 32;
        }
        shifted.push(carry as u32);
        self.0 = shifted;
        self.trim();
    }

    fn shr1(&mut self) {
        let mut carry = 0;
        for limb in self.0.iter_mut().rev() {
            let next = *limb & 1;
            *limb = (*limb >> 1) | (carry << 31);
            carry = next;
        }
        self.trim();
    }

    /// `self -= other`, for `other <= self`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = false;
        for (i, limb) in self.0.iter_mut().enumerate() {
            let (d, b1) = limb.overflowing_sub(other.0.get(i).copied().unwrap_or(0));
            let (d, b2) = d.overflowing_sub(u32::from(borrow));
            *limb = d;
            borrow = b1 || b2;
        }
        self.trim();
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{nearest_f64, quick};
    use proptest::prelude::*;

    /// What `str::parse` (correctly rounded) makes of `text`, `None` for infinity.
    fn std_parse(text: &str) -> Option<f64> {
        text.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    fn same(text: &str) {
        let (ours, std) = (nearest_f64(text), std_parse(text));
        assert_eq!(ours.map(f64::to_bits), std.map(f64::to_bits), "{text}: {ours:?} against {std:?}");
    }

    #[test]
    fn edges_of_the_double_range_round_as_the_standard_parser_does() {
        for text in [
            "0", "-0", "0.0", "0e5", "1", "-1", "0.1", "0.30000000000000004", "9007199254740993",
            "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "2e308",
            "1e309", "4.9e-324", "5e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
            "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308",
            "1e-400", "-1e-400", "1e99999999999", "1e-99999999999", "123456789012345678901234567890",
            "0.000000000000000000000000000000000000000000001", "179769313486231580793728971405301e276",
        ] {
            same(text);
        }
        assert_eq!(nearest_f64("-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
    }

    #[test]
    fn digits_past_eight_hundred_still_break_a_tie() {
        // 2^53 + 1 lies exactly between two doubles: it rounds to the even one, 2^53, and
        // any non-zero digit after it, however far out, rounds it up.
        let exact = format!("9007199254740993.{}", "0".repeat(900));
        same(&exact);
        assert_eq!(nearest_f64(&exact), Some(9_007_199_254_740_992.0));
        let above = format!("{exact}1");
        same(&above);
        assert_eq!(nearest_f64(&above), Some(9_007_199_254_740_994.0));
    }

    proptest! {
        #[test]
        fn any_digits_and_exponent_round_as_the_standard_parser_does(
            int in "(0|[1-9][0-9]{0,40})",
            frac in proptest::option::of("[0-9]{1,40}"),
            exp in proptest::option::of(-400i32..400),
        ) {
            let mut text = int;
            if let Some(frac) = frac { text += &format!(".{frac}"); }
            if let Some(exp) = exp { text += &format!("e{exp}"); }
            let (ours, std) = (nearest_f64(&text), std_parse(&text));
            prop_assert_eq!(ours.map(f64::to_bits), std.map(f64::to_bits), "{}", text);
        }

        #[test]
        fn every_double_reads_back_from_its_shortest_and_its_exact_text(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            for text in [format!("{x:e}"), format!("{x:.800e}")] {
                prop_assert_eq!(nearest_f64(&text).map(f64::to_bits), Some(x.to_bits()), "{}", text);
            }
        }

        #[test]
        fn up_to_nineteen_digits_round_as_the_standard_parser_does(digits in any::<u64>(), scale in -19i32..=19) {
            let text = format!("{digits}e{scale}");
            prop_assert_eq!(quick(digits, scale).map(f64::to_bits), std_parse(&text).map(f64::to_bits), "{}", text);
        }

        /// Midpoints between two doubles that fit in a u64: m + 1/2 scaled by 2^e.
        #[test]
        fn halfway_cases_in_nineteen_digits_round_to_even(m in (1u64 << 52)..(1u64 << 53), e in -3i32..=10) {
            let (digits, scale) = if e > 0 { ((2 * m + 1) << (e - 1), 0) } else { ((2 * m + 1) * 5u64.pow((1 - e) as u32), e - 1) };
            let text = format!("{digits}e{scale}");
            prop_assert_eq!(quick(digits, scale).map(f64::to_bits), std_parse(&text).map(f64::to_bits), "{}", text);
        }

        /// Just below, on and just above the midpoint 5t·2^(e-1) (5t = 2m+1 odd), where only
        /// what lies under the 64 bits kept (a remainder, a product's low bits) says which
        /// way to round: with one more digit (`mid·10 ± 1` e-1), or as `mid/10 ± 1` e1.
        #[test]
        fn near_halfway_cases_in_nineteen_digits(t in ((1u64 << 53) / 5)..((1u64 << 54) / 5), e in 1u32..=14) {
            let t = t | 1;
            let (digits, scale) = if e <= 4 { (((t * 5) << (e - 1)) * 10, -1) } else { (t << (e - 2), 1) };
            for digits in [digits - 1, digits, digits + 1] {
                let text = format!("{digits}e{scale}");
                prop_assert_eq!(quick(digits, scale).map(f64::to_bits), std_parse(&text).map(f64::to_bits), "{}", text);
            }
        }

        /// The 19-digit numbers just below and just above a midpoint that needs more digits:
        /// often within one unit of the 64 bits kept, so that the remainder decides.
        #[test]
        fn nineteen_digits_next_to_a_longer_midpoint(m in (1u64 << 52)..(1u64 << 53), e in -30i32..=0) {
            let shift = (1 - e) as u32;
            let mid = u128::from(2 * m + 1) * 5u128.pow(shift);
            let cut = (mid.to_string().len() as u32).saturating_sub(19);
            let below = (mid / 10u128.pow(cut)) as u64;
            let scale = cut as i32 - shift as i32;
            for digits in [below, below + 1] {
                let text = format!("{digits}e{scale}");
                prop_assert_eq!(quick(digits, scale).map(f64::to_bits), std_parse(&text).map(f64::to_bits), "{}", text);
            }
        }

        /// The midpoint (2m+1)·2^(e-1) between m·2^e and (m+1)·2^e, written out exactly, and
        /// the numbers just below and above it.
        #[test]
        fn halfway_cases_round_to_even(m in (1u64 << 52)..(1u64 << 53), e in -30i32..=0) {
            let shift = (1 - e) as u32; // midpoint = (2m+1) × 5^shift × 10^-shift
            let digits = u128::from(2 * m + 1) * 5u128.pow(shift);
            for text in [format!("{digits}e-{shift}"), format!("{digits}0000000000000000000001e-{}", shift + 22), format!("{}999999999999999999999e-{}", digits - 1, shift + 21)] {
                same(&text);
            }
        }
    }
}

//! Exact money: fixed-point with ten decimal places, the precision AWS bills at.
//!
//! Line items are stored as `Decimal128(18, 10)` and summed as `i128`, so totals are
//! exact however many rows they cover; floating point never touches a sum.

use std::fmt;
use std::fmt::Write as _;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub};
use std::str::FromStr;

/// Decimal places kept for every amount.
pub const SCALE: u32 = 10;
/// Arrow/Parquet precision of a stored per-line amount (fits an INT64 in Parquet).
pub const STORED_PRECISION: u8 = 18;
const UNIT: i128 = 10_i128.pow(SCALE);
/// 2⁶³ as a float: every float of smaller magnitude converts to i64 exactly.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// `scaled.round()` as an integer (half away from zero), through i64 where it fits (any amount
/// under $922 million): the CPU converts that in one instruction, while `round` and a float to
/// i128 are library calls. The fraction left after truncating is exact (below 2⁵² it is a
/// multiple of the float's spacing; above, it is zero), so the result is `round`'s.
fn round_to_units(scaled: f64) -> i128 {
    if scaled.abs() < I64_LIMIT {
        let whole = scaled as i64;
        let fraction = scaled - whole as f64;
        return i128::from(whole + i64::from(fraction >= 0.5) - i64::from(fraction <= -0.5));
    }
    scaled.round() as i128
}

/// An amount of money in units of 10⁻¹⁰ of the currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i128);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a decimal number")]
pub struct ParseMoneyError(pub String);

impl Money {
    pub const ZERO: Money = Money(0);

    /// From raw units of 10⁻¹⁰.
    pub const fn from_units(units: i128) -> Self {
        Money(units)
    }

    pub const fn units(self) -> i128 {
        self.0
    }

    /// From a whole number of cents.
    pub const fn from_cents(cents: i64) -> Self {
        Money(cents as i128 * (UNIT / 100))
    }

    /// The nearest amount to a binary float, as Parquet exports store costs.
    ///
    /// Returns `None` for NaN and infinities.
    pub fn from_f64(value: f64) -> Option<Self> {
        if !value.is_finite() {
            return None;
        }
        Some(Money(round_to_units(value * UNIT as f64)))
    }

    /// From a decimal with `scale` fractional digits (FOCUS decimals, Arrow decimals).
    pub fn from_scaled(value: i128, scale: i8) -> Self {
        let scale = i32::from(scale);
        let target = SCALE as i32;
        if scale == target {
            Money(value)
        } else if scale < target {
            Money(value * 10_i128.pow((target - scale) as u32))
        } else {
            Money(round_div(value, 10_i128.pow((scale - target) as u32)))
        }
    }

    pub fn to_f64(self) -> f64 {
        self.0 as f64 / UNIT as f64
    }

    pub fn abs(self) -> Self {
        Money(self.0.abs())
    }

    /// Rounded to whole cents, half away from zero.
    pub fn round_to_cents(self) -> Self {
        let step = UNIT / 100;
        Money(round_div(self.0, step) * step)
    }

    /// Exact decimal text: at least two and at most ten fractional digits, no trailing zeros past two.
    pub fn to_exact_string(self) -> String {
        let mut text = String::with_capacity(24);
        self.write_exact(&mut text);
        text
    }

    /// Appends [`Money::to_exact_string`]'s text to `out`, without allocating: reports write
    /// tens of thousands of amounts.
    pub fn write_exact(self, out: &mut String) {
        if self.0 < 0 {
            out.push('-');
        }
        let abs = self.0.unsigned_abs();
        // 128-bit division is a library call; nearly every amount fits in 64 bits.
        let frac = match u64::try_from(abs) {
            Ok(abs) => {
                write!(out, "{}", abs / UNIT as u64).expect("writing to a String cannot fail");
                abs % UNIT as u64
            }
            Err(_) => {
                write!(out, "{}", abs / UNIT as u128).expect("writing to a String cannot fail");
                (abs % UNIT as u128) as u64
            }
        };
        out.push('.');
        let mut fraction = [b'0'; SCALE as usize];
        let mut rest = frac;
        for digit in fraction.iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let kept = fraction.iter().rposition(|&d| d != b'0').map_or(2, |last| (last + 1).max(2));
        out.push_str(std::str::from_utf8(&fraction[..kept]).expect("ASCII digits"));
    }

    /// Rounded to cents with thousands separators, for people: `-1,234.57`.
    pub fn to_display_string(self) -> String {
        let cents = round_div(self.0, UNIT / 100);
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, ch) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        format!("{sign}{grouped}.{:02}", abs % 100)
    }
}

/// Integer division rounding half away from zero.
fn round_div(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    let remainder = value % divisor;
    if remainder.abs() * 2 >= divisor { quotient + value.signum() } else { quotient }
}

impl FromStr for Money {
    type Err = ParseMoneyError;

    /// Parses plain and scientific decimal notation exactly (`0.0000035`, `-12`, `3.5E-6`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || ParseMoneyError(text.to_owned());
        let trimmed = text.trim();
        let (mantissa, exponent) = match trimmed.find(['e', 'E']) {
            Some(pos) => {
                let exp: i32 = trimmed[pos + 1..].parse().map_err(|_| err())?;
                (&trimmed[..pos], exp)
            }
            None => (trimmed, 0),
        };
        let (negative, digits) = match mantissa.as_bytes().first() {
            Some(b'-') => (true, &mantissa[1..]),
            Some(b'+') => (false, &mantissa[1..]),
            _ => (false, mantissa),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err());
        }
        if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        // value = digits × 10^(exponent − len(frac)); bring it to SCALE fractional digits.
        let mut units: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            units = units.checked_mul(10).and_then(|u| u.checked_add(i128::from(b - b'0'))).ok_or_else(err)?;
        }
        let shift = SCALE as i32 + exponent - frac_part.len() as i32;
        let units = if shift >= 0 {
            10_i128.checked_pow(shift as u32).and_then(|p| units.checked_mul(p)).ok_or_else(err)?
        } else if -shift > 38 {
            0
        } else {
            round_div(units, 10_i128.pow((-shift) as u32))
        };
        Ok(Money(if negative { -units } else { units }))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_exact_string())
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_exact_string())
    }
}

impl<'de> serde::Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Money {
        text.parse().unwrap()
    }

    #[test]
    fn parses_plain_and_scientific_exactly() {
        assert_eq!(m("0.0000035").units(), 35_000);
        assert_eq!(m("3.5E-6"), m("0.0000035"));
        assert_eq!(m("-12"), Money::from_cents(-1200));
        assert_eq!(m("1e2"), Money::from_cents(10_000));
        assert_eq!(m(".5"), Money::from_cents(50));
        assert_eq!(m("0.00000000005").units(), 1, "rounds half away from zero past ten places");
        for bad in ["", "-", "1.2.3", "abc", "1e", "NaN", "1,5"] {
            assert!(bad.parse::<Money>().is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn floats_round_to_nearest_unit() {
        assert_eq!(Money::from_f64(0.1).unwrap(), m("0.1"));
        assert_eq!(Money::from_f64(1234.5678901234).unwrap(), m("1234.5678901234"));
        assert_eq!(Money::from_f64(f64::NAN), None);
        // Either side of where amounts stop fitting in i64 units ($922,337,203.69).
        for value in [922_337_203.0, 922_337_203.685_477_5, 922_337_204.0, -922_337_204.0, 1e15, -1e20] {
            let expected = Money::from_units((value * 1e10_f64).round() as i128);
            assert_eq!(Money::from_f64(value).unwrap(), expected, "{value}");
        }
    }

    #[test]
    fn floats_round_half_away_from_zero_as_f64_round_does() {
        // Halves and the floats either side of them, up to where floats are all integers (2⁵²)
        // and on to where they stop fitting in i64 (2⁶³).
        let mut scaled: Vec<f64> = vec![0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 1e-300, 9.223_372_036_854_775e18];
        for half in [0.5_f64, 2.5, 1_234_567.5, -7.5, 2_251_799_813_685_247.5, 4_503_599_627_370_495.0] {
            scaled.extend([half, f64::from_bits(half.to_bits() + 1), f64::from_bits(half.to_bits() - 1)]);
        }
        // A deterministic spread of magnitudes and signs.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let magnitude = 10_f64.powi((state % 20) as i32);
            let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
            scaled.push(sign * magnitude * (state >> 11) as f64 / (1u64 << 53) as f64);
        }
        for value in scaled {
            assert_eq!(round_to_units(value), value.round() as i128, "{value:e}");
        }
    }

    #[test]
    fn scaled_decimals_convert() {
        assert_eq!(Money::from_scaled(123, 2), m("1.23"));
        assert_eq!(Money::from_scaled(123_456_789_012_345, 14), m("1.2345678901"));
    }

    /// The text `to_exact_string` gave before it wrote its digits itself.
    fn exact_by_format(money: Money) -> String {
        let sign = if money.0 < 0 { "-" } else { "" };
        let abs = money.0.unsigned_abs();
        let (whole, frac) = (abs / UNIT as u128, abs % UNIT as u128);
        let mut frac_text = format!("{frac:010}");
        while frac_text.len() > 2 && frac_text.ends_with('0') {
            frac_text.pop();
        }
        format!("{sign}{whole}.{frac_text}")
    }

    #[test]
    fn exact_text_is_written_as_the_format_would() {
        let edges = [0, 1, -1, 9, 10, 99, 100, UNIT - 1, UNIT, UNIT + 1, -UNIT, 123_456_789_012_345];
        let wide = [i128::from(u64::MAX), i128::from(u64::MAX) + 1, -i128::from(u64::MAX) - 7, i128::MAX, i128::MIN];
        let spread =
            (0..100_000_i128).map(|i| (i * 7_919_993).pow(2) % 10_i128.pow(22) * if i % 3 == 0 { -1 } else { 1 });
        let mut out = String::from("kept:");
        for units in edges.into_iter().chain(wide).chain(spread) {
            let money = Money::from_units(units);
            assert_eq!(money.to_exact_string(), exact_by_format(money), "{units}");
            out.truncate(5);
            money.write_exact(&mut out);
            assert_eq!(&out[5..], exact_by_format(money));
        }
    }

    #[test]
    fn formats_for_machines_and_people() {
        assert_eq!(m("1234567.891").to_exact_string(), "1234567.891");
        assert_eq!(m("5").to_exact_string(), "5.00");
        assert_eq!(m("-0.0000035").to_exact_string(), "-0.0000035");
        assert_eq!(m("1234567.895").to_display_string(), "1,234,567.90");
        assert_eq!(m("-0.004").to_display_string(), "0.00");
        assert_eq!(m("-1000.5").to_display_string(), "-1,000.50");
        assert_eq!(m("2.345").round_to_cents(), m("2.35"));
    }
}

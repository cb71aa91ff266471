//! Arbitrary-precision numbers.
//!
//! Terraform's numbers are arbitrary-precision, so integers well beyond 2^53 keep every digit.
//! [`Number`] wraps a big decimal; its representation is private so that it can change
//! (for example to a fast path for small integers) without touching callers.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive, Zero};

/// Digits kept by inexact operations such as division (Terraform keeps 512 bits, about 154
/// decimal digits).
pub const PRECISION_DIGITS: u64 = 154;

#[derive(Clone, Debug)]
pub struct Number(BigDecimal);

impl Number {
    pub fn from_i64(n: i64) -> Number {
        Number(BigDecimal::from(n))
    }

    /// A number from a finite float; `None` for NaN and infinities, which the language has no
    /// value for.
    pub fn from_f64(f: f64) -> Option<Number> {
        if !f.is_finite() {
            return None;
        }
        // Shortest round-trip text, so 0.1 stays 0.1 rather than 0.1000000000000000055…
        BigDecimal::from_str(&format!("{f}"))
            .ok()
            .map(Number::normalized)
    }

    /// Parses decimal or scientific notation (`12`, `-1.5`, `1e3`). Leading `+` is accepted;
    /// hexadecimal and the like are the caller's business.
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let t = t.strip_prefix('+').unwrap_or(t);
        if t.is_empty() || t.contains(|c: char| c.is_whitespace()) {
            return None;
        }
        BigDecimal::from_str(t).ok().map(Number::normalized)
    }

    fn normalized(d: BigDecimal) -> Number {
        Number(d.normalized())
    }

    pub fn zero() -> Number {
        Number(BigDecimal::zero())
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    pub fn is_integer(&self) -> bool {
        self.0.is_integer()
    }

    pub fn is_negative(&self) -> bool {
        self.0.sign() == bigdecimal::num_bigint::Sign::Minus
    }

    /// The value as an `i64` when it is an integer in range.
    pub fn to_i64(&self) -> Option<i64> {
        if self.is_integer() {
            self.0.to_i64()
        } else {
            None
        }
    }

    /// The nearest float (lossy).
    pub fn to_f64(&self) -> f64 {
        self.0.to_f64().unwrap_or(f64::NAN)
    }

    pub fn as_big_decimal(&self) -> &BigDecimal {
        &self.0
    }

    pub fn from_big_decimal(d: BigDecimal) -> Number {
        Number::normalized(d)
    }

    pub fn add(&self, other: &Number) -> Number {
        Number::normalized(&self.0 + &other.0)
    }
    pub fn sub(&self, other: &Number) -> Number {
        Number::normalized(&self.0 - &other.0)
    }
    pub fn mul(&self, other: &Number) -> Number {
        Number::normalized(&self.0 * &other.0)
    }
    pub fn neg(&self) -> Number {
        Number(-self.0.clone())
    }
    /// Division; `None` when dividing by zero (the caller reports the error).
    pub fn div(&self, other: &Number) -> Option<Number> {
        if other.is_zero() {
            return None;
        }
        let q = (&self.0 / &other.0).with_prec(PRECISION_DIGITS);
        Some(Number::normalized(q))
    }
    /// Remainder with the sign of the dividend, as Terraform's `%`; `None` for a zero divisor.
    pub fn rem(&self, other: &Number) -> Option<Number> {
        if other.is_zero() {
            return None;
        }
        Some(Number::normalized(&self.0 % &other.0))
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_string().hash(state);
    }
}

/// Plain decimal notation without exponent and without trailing zeros: `1`, `-2.5`,
/// `12345678901234567890`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0.normalized();
        if d.is_zero() {
            return f.write_str("0");
        }
        let (_, scale) = d.as_bigint_and_exponent();
        if scale < 0 {
            // normalized() may leave a negative scale (e.g. 1E+3): print all digits.
            write!(f, "{}", d.with_scale(0))
        } else {
            write!(f, "{}", d.to_plain_string())
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Number { Number(BigDecimal::from(n)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64, i128, u128);

impl From<usize> for Number {
    fn from(n: usize) -> Number {
        Number(BigDecimal::from(n as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_beyond_two_to_the_53_keep_every_digit() {
        let n = Number::parse("9007199254740993").unwrap();
        assert_eq!(n.to_string(), "9007199254740993");
        let m = n.add(&Number::from_i64(1));
        assert_eq!(m.to_string(), "9007199254740994");
    }

    #[test]
    fn display_has_no_exponent_and_no_trailing_zeros() {
        assert_eq!(Number::parse("1e3").unwrap().to_string(), "1000");
        assert_eq!(Number::parse("2.50").unwrap().to_string(), "2.5");
        assert_eq!(Number::parse("-0.001").unwrap().to_string(), "-0.001");
        assert_eq!(Number::from_f64(0.1).unwrap().to_string(), "0.1");
    }

    #[test]
    fn division_by_zero_is_none() {
        assert!(Number::from_i64(1).div(&Number::zero()).is_none());
        assert_eq!(
            Number::from_i64(7)
                .div(&Number::from_i64(2))
                .unwrap()
                .to_string(),
            "3.5"
        );
    }
}

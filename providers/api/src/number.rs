//! Arbitrary-precision numbers, with the two infinities.
//!
//! Terraform's numbers are arbitrary-precision, so integers well beyond 2^53 keep every digit.
//! [`Number`] wraps a big decimal; its representation is private so that it can change
//! (for example to a fast path for small integers) without touching callers.
//!
//! Like Terraform's (cty's big floats), numbers may be `+Inf` or `-Inf`: `1/0` is `+Inf`,
//! infinities compare beyond every finite number, print as `+Inf`/`-Inf`, and the operations
//! that have no meaningful result (`Inf - Inf`, `0 * Inf`, `0/0`, `Inf/Inf`) are
//! [`ArithmeticError`]s carrying Terraform's messages. There is no NaN and no negative zero.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use bigdecimal::{BigDecimal, ToPrimitive, Zero};

/// Digits kept by inexact operations such as division (Terraform keeps 512 bits, about 154
/// decimal digits).
pub const PRECISION_DIGITS: u64 = 154;

#[derive(Clone, Debug)]
pub struct Number(Repr);

#[derive(Clone, Debug)]
enum Repr {
    Finite(BigDecimal),
    Infinite { negative: bool },
}

/// An arithmetic operation without a result: the detail texts are Terraform's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithmeticError {
    /// `+Inf + -Inf`.
    OpposingInfinities,
    /// `Inf - Inf` (same sign).
    InfinityMinusInfinity,
    /// `0 * Inf`.
    ZeroTimesInfinity,
    /// `0 / 0` or `Inf / Inf`.
    IndeterminateQuotient,
    /// `x % Inf` or `Inf % x`.
    ModuloWithInfinity,
}

impl fmt::Display for ArithmeticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArithmeticError::OpposingInfinities => "can't compute sum of opposing infinities",
            ArithmeticError::InfinityMinusInfinity => "can't subtract infinity from itself",
            ArithmeticError::ZeroTimesInfinity => "can't multiply zero by infinity",
            ArithmeticError::IndeterminateQuotient => {
                "can't divide zero by zero or infinity by infinity"
            }
            ArithmeticError::ModuloWithInfinity => "can't use modulo with zero and infinity",
        })
    }
}

impl std::error::Error for ArithmeticError {}

/// The result of an arithmetic operation.
pub type Arithmetic = Result<Number, ArithmeticError>;

impl Number {
    pub fn from_i64(n: i64) -> Number {
        Number(Repr::Finite(BigDecimal::from(n)))
    }

    /// `+Inf` (or `-Inf` when `negative`).
    pub fn infinity(negative: bool) -> Number {
        Number(Repr::Infinite { negative })
    }

    /// A number from a float; infinities map to infinities, NaN to `None` (the language has
    /// no value for it).
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        if f.is_infinite() {
            return Some(Number::infinity(f < 0.0));
        }
        // Shortest round-trip text, so 0.1 stays 0.1 rather than 0.1000000000000000055…
        BigDecimal::from_str(&format!("{f}"))
            .ok()
            .map(Number::normalized)
    }

    /// Parses decimal or scientific notation (`12`, `-1.5`, `1e3`). Leading `+` is accepted;
    /// hexadecimal and the like are the caller's business. Infinities are not accepted here
    /// (see [`Number::parse_with_infinity`]).
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let t = t.strip_prefix('+').unwrap_or(t);
        if t.is_empty() || t.contains(|c: char| c.is_whitespace()) {
            return None;
        }
        BigDecimal::from_str(t).ok().map(Number::normalized)
    }

    /// Like [`Number::parse`], but also accepts what Terraform's string-to-number conversion
    /// reads as infinity: `Inf` or `inf`, optionally signed. Surrounding whitespace is refused.
    pub fn parse_with_infinity(text: &str) -> Option<Number> {
        if text.trim() != text {
            return None;
        }
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        if rest == "Inf" || rest == "inf" {
            return Some(Number::infinity(negative));
        }
        Number::parse(text)
    }

    fn normalized(d: BigDecimal) -> Number {
        Number(Repr::Finite(d.normalized()))
    }

    pub fn zero() -> Number {
        Number(Repr::Finite(BigDecimal::zero()))
    }

    pub fn is_zero(&self) -> bool {
        matches!(&self.0, Repr::Finite(d) if d.is_zero())
    }

    /// Whether this is `+Inf` or `-Inf`.
    pub fn is_infinite(&self) -> bool {
        matches!(self.0, Repr::Infinite { .. })
    }

    /// Whether this is a whole number (never true for the infinities).
    pub fn is_integer(&self) -> bool {
        matches!(&self.0, Repr::Finite(d) if d.is_integer())
    }

    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Finite(d) => d.sign() == bigdecimal::num_bigint::Sign::Minus,
            Repr::Infinite { negative } => *negative,
        }
    }

    /// The value as an `i64` when it is an integer in range.
    pub fn to_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Finite(d) if d.is_integer() => d.to_i64(),
            _ => None,
        }
    }

    /// The nearest float (lossy); the infinities become float infinities.
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::Finite(d) => d.to_f64().unwrap_or(f64::NAN),
            Repr::Infinite { negative: true } => f64::NEG_INFINITY,
            Repr::Infinite { negative: false } => f64::INFINITY,
        }
    }

    /// The decimal value; `None` for the infinities.
    pub fn as_big_decimal(&self) -> Option<&BigDecimal> {
        match &self.0 {
            Repr::Finite(d) => Some(d),
            Repr::Infinite { .. } => None,
        }
    }

    pub fn from_big_decimal(d: BigDecimal) -> Number {
        Number::normalized(d)
    }

    /// `-1`, `0` or `1`.
    fn signum(&self) -> i8 {
        if self.is_zero() {
            0
        } else if self.is_negative() {
            -1
        } else {
            1
        }
    }

    pub fn add(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => Ok(Number::normalized(a + b)),
            (Repr::Infinite { negative: x }, Repr::Infinite { negative: y }) if x != y => {
                Err(ArithmeticError::OpposingInfinities)
            }
            (Repr::Infinite { .. }, _) => Ok(self.clone()),
            (_, Repr::Infinite { .. }) => Ok(other.clone()),
        }
    }

    pub fn sub(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => Ok(Number::normalized(a - b)),
            (Repr::Infinite { negative: x }, Repr::Infinite { negative: y }) if x == y => {
                Err(ArithmeticError::InfinityMinusInfinity)
            }
            (Repr::Infinite { .. }, _) => Ok(self.clone()),
            (_, Repr::Infinite { .. }) => Ok(other.neg()),
        }
    }

    pub fn mul(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => Ok(Number::normalized(a * b)),
            _ if self.is_zero() || other.is_zero() => Err(ArithmeticError::ZeroTimesInfinity),
            _ => Ok(Number::infinity(self.is_negative() != other.is_negative())),
        }
    }

    pub fn neg(&self) -> Number {
        match &self.0 {
            Repr::Finite(d) => Number::normalized(-d.clone()),
            Repr::Infinite { negative } => Number::infinity(!negative),
        }
    }

    /// Division, as Terraform's `/`: a non-zero number divided by zero is an infinity with
    /// the dividend's sign; `0/0` and `Inf/Inf` are errors; a finite number divided by an
    /// infinity is zero.
    pub fn div(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            (Repr::Infinite { .. }, Repr::Infinite { .. }) => {
                Err(ArithmeticError::IndeterminateQuotient)
            }
            (Repr::Finite(_), Repr::Infinite { .. }) => Ok(Number::zero()),
            (Repr::Infinite { negative }, Repr::Finite(_)) => {
                Ok(Number::infinity(*negative != (other.signum() < 0)))
            }
            (Repr::Finite(a), Repr::Finite(b)) => {
                if b.is_zero() {
                    if a.is_zero() {
                        Err(ArithmeticError::IndeterminateQuotient)
                    } else {
                        Ok(Number::infinity(self.is_negative()))
                    }
                } else {
                    Ok(Number::normalized((a / b).with_prec(PRECISION_DIGITS)))
                }
            }
        }
    }

    /// Remainder with the sign of the dividend, as Terraform's `%`: `x % 0` is `x` (also for
    /// infinite `x`), and any other remainder involving an infinity is an error (Terraform
    /// reports the same error for `x % Inf` and crashes on `Inf % x`).
    pub fn rem(&self, other: &Number) -> Arithmetic {
        if other.is_zero() {
            return Ok(self.clone());
        }
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => Ok(Number::normalized(a % b)),
            _ => Err(ArithmeticError::ModuloWithInfinity),
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
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
        // -Inf < every finite number < +Inf.
        fn rank(n: &Number) -> i8 {
            match n.0 {
                Repr::Infinite { negative: true } => -1,
                Repr::Finite(_) => 0,
                Repr::Infinite { negative: false } => 1,
            }
        }
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_string().hash(state);
    }
}

/// Plain decimal notation without exponent and without trailing zeros: `1`, `-2.5`,
/// `12345678901234567890`; the infinities as Terraform prints them, `+Inf` and `-Inf`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match &self.0 {
            Repr::Finite(d) => d.normalized(),
            Repr::Infinite { negative: true } => return f.write_str("-Inf"),
            Repr::Infinite { negative: false } => return f.write_str("+Inf"),
        };
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
            fn from(n: $t) -> Number { Number(Repr::Finite(BigDecimal::from(n))) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64, i128, u128);

impl From<usize> for Number {
    fn from(n: usize) -> Number {
        Number(Repr::Finite(BigDecimal::from(n as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse_with_infinity(s).unwrap()
    }

    #[test]
    fn integers_beyond_two_to_the_53_keep_every_digit() {
        let n = Number::parse("9007199254740993").unwrap();
        assert_eq!(n.to_string(), "9007199254740993");
        let m = n.add(&Number::from_i64(1)).unwrap();
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
    fn division_by_zero_is_an_infinity_with_the_sign_of_the_dividend() {
        let one = Number::from_i64(1);
        assert_eq!(one.div(&Number::zero()).unwrap().to_string(), "+Inf");
        assert_eq!(one.neg().div(&Number::zero()).unwrap().to_string(), "-Inf");
        assert_eq!(
            Number::zero().div(&Number::zero()),
            Err(ArithmeticError::IndeterminateQuotient)
        );
        assert_eq!(
            Number::from_i64(7)
                .div(&Number::from_i64(2))
                .unwrap()
                .to_string(),
            "3.5"
        );
    }

    #[test]
    fn infinities_order_beyond_every_finite_number() {
        let big = Number::parse("1e400").unwrap();
        assert!(n("-Inf") < big.neg() && big < n("+Inf"));
        assert_eq!(n("inf"), n("+Inf"));
        assert_ne!(n("Inf"), n("-Inf"));
        assert!(Number::parse("Inf").is_none());
        assert!(Number::parse_with_infinity(" Inf").is_none());
        assert!(Number::parse_with_infinity("Infinity").is_none());
    }

    #[test]
    fn operations_without_a_result_are_errors_and_the_others_keep_the_sign() {
        let inf = n("+Inf");
        let two = Number::from_i64(2);
        assert_eq!(
            inf.add(&inf.neg()),
            Err(ArithmeticError::OpposingInfinities)
        );
        assert_eq!(inf.sub(&inf), Err(ArithmeticError::InfinityMinusInfinity));
        assert_eq!(
            inf.mul(&Number::zero()),
            Err(ArithmeticError::ZeroTimesInfinity)
        );
        assert_eq!(inf.div(&inf), Err(ArithmeticError::IndeterminateQuotient));
        assert_eq!(two.rem(&inf), Err(ArithmeticError::ModuloWithInfinity));
        assert_eq!(two.sub(&inf).unwrap().to_string(), "-Inf");
        assert_eq!(inf.mul(&two.neg()).unwrap().to_string(), "-Inf");
        assert_eq!(two.div(&inf).unwrap().to_string(), "0");
        assert_eq!(inf.div(&two.neg()).unwrap().to_string(), "-Inf");
        assert_eq!(two.rem(&Number::zero()).unwrap().to_string(), "2");
        assert_eq!(inf.rem(&Number::zero()).unwrap().to_string(), "+Inf");
        assert!(!inf.is_integer() && inf.to_i64().is_none() && inf.as_big_decimal().is_none());
        assert_eq!(Number::from_f64(f64::NEG_INFINITY), Some(inf.neg()));
        assert_eq!(Number::from_f64(f64::NAN), None);
    }
}

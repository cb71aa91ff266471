//! Arbitrary-precision numbers, with the two infinities.
//!
//! Terraform's numbers are arbitrary-precision, so integers well beyond 2^53 keep every digit.
//! [`Number`] wraps a big decimal; its representation is private so that it can change
//! (for example to a fast path for small integers) without touching callers.
//!
//! Like Terraform's (cty's big floats), numbers may be `+Inf` or `-Inf`: `1/0` is `+Inf`,
//! infinities compare beyond every finite number, print as `+Inf`/`-Inf`, and the operations
//! that have no meaningful result (`Inf - Inf`, `0 * Inf`, `0/0`, `Inf/Inf`) are
//! [`ArithmeticError`]s carrying Terraform's messages. There is no NaN.
//!
//! Zero has a sign, as in Terraform (Go's `big.Float`, whose zeros follow IEEE 754): `-0`
//! prints `-0` and survives `jsonencode`, `tostring` and `format("%v")`; it is equal to `0`
//! (`==`, ordering) but a set keeps both. The arithmetic gives zeros IEEE's signs: a product
//! or quotient is negative when exactly one operand is; a sum of zeros is `-0` only when both
//! are; a sum that cancels exactly (`x + -x`) is `0`.

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
    /// The value, and whether it is negative zero (never true for a non-zero value).
    Finite(BigDecimal, bool),
    Infinite {
        negative: bool,
    },
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
        Number(Repr::Finite(BigDecimal::from(n), false))
    }

    /// `+Inf` (or `-Inf` when `negative`).
    pub fn infinity(negative: bool) -> Number {
        Number(Repr::Infinite { negative })
    }

    /// A number from a float; infinities map to infinities, `-0.0` to negative zero, NaN to
    /// `None` (the language has no value for it).
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        if f.is_infinite() {
            return Some(Number::infinity(f < 0.0));
        }
        if f == 0.0 {
            return Some(Number::signed_zero(f.is_sign_negative()));
        }
        // Shortest round-trip text, so 0.1 stays 0.1 rather than 0.1000000000000000055…
        BigDecimal::from_str(&format!("{f}"))
            .ok()
            .map(Number::normalized)
    }

    /// Parses decimal or scientific notation (`12`, `-1.5`, `1e3`). Leading `+` is accepted;
    /// hexadecimal and the like are the caller's business. Infinities are not accepted here
    /// (see [`Number::parse_with_infinity`]). A zero written with `-` is negative zero, as
    /// Terraform parses it (`tonumber("-0")`, `jsondecode("-0.0")`).
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let t = t.strip_prefix('+').unwrap_or(t);
        if t.is_empty() || t.contains(|c: char| c.is_whitespace()) {
            return None;
        }
        let n = BigDecimal::from_str(t).ok().map(Number::normalized)?;
        Some(if n.is_zero() && t.starts_with('-') {
            Number::signed_zero(true)
        } else {
            n
        })
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
        Number(Repr::Finite(d.normalized(), false))
    }

    /// `d`, or a zero with the sign `negative` when `d` is zero.
    fn normalized_signed(d: BigDecimal, negative: bool) -> Number {
        let n = Number::normalized(d);
        if n.is_zero() {
            Number::signed_zero(negative)
        } else {
            n
        }
    }

    /// (Positive) zero.
    pub fn zero() -> Number {
        Number(Repr::Finite(BigDecimal::zero(), false))
    }

    /// Zero, negative zero when `negative`.
    pub fn signed_zero(negative: bool) -> Number {
        Number(Repr::Finite(BigDecimal::zero(), negative))
    }

    /// Whether this is zero, of either sign.
    pub fn is_zero(&self) -> bool {
        matches!(&self.0, Repr::Finite(d, _) if d.is_zero())
    }

    /// Whether this is negative zero.
    pub fn is_negative_zero(&self) -> bool {
        matches!(&self.0, Repr::Finite(_, true))
    }

    /// The sign bit: true for negative numbers, `-Inf` and negative zero.
    pub fn is_sign_negative(&self) -> bool {
        self.is_negative() || self.is_negative_zero()
    }

    /// The same number with positive zero for negative zero: what results computed through
    /// integers (`floor`, `abs`, `parseint`, `%d`) give in Terraform.
    pub fn without_negative_zero(self) -> Number {
        if self.is_negative_zero() {
            Number::zero()
        } else {
            self
        }
    }

    /// Whether the two are the same number including the sign of zero (`==` and ordering
    /// treat `-0` and `0` as equal; a set does not).
    pub fn identical(&self, other: &Number) -> bool {
        self == other && self.is_negative_zero() == other.is_negative_zero()
    }

    /// Whether this is `+Inf` or `-Inf`.
    pub fn is_infinite(&self) -> bool {
        matches!(self.0, Repr::Infinite { .. })
    }

    /// Whether this is a whole number (never true for the infinities).
    pub fn is_integer(&self) -> bool {
        matches!(&self.0, Repr::Finite(d, _) if d.is_integer())
    }

    /// Whether this is less than zero (never true for negative zero; see
    /// [`Number::is_sign_negative`]).
    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Finite(d, _) => d.sign() == bigdecimal::num_bigint::Sign::Minus,
            Repr::Infinite { negative } => *negative,
        }
    }

    /// The value as an `i64` when it is an integer in range.
    pub fn to_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Finite(d, _) if d.is_integer() => d.to_i64(),
            _ => None,
        }
    }

    /// The nearest float (lossy); the infinities become float infinities.
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::Finite(_, true) => -0.0,
            Repr::Finite(d, false) => d.to_f64().unwrap_or(f64::NAN),
            Repr::Infinite { negative: true } => f64::NEG_INFINITY,
            Repr::Infinite { negative: false } => f64::INFINITY,
        }
    }

    /// The decimal value; `None` for the infinities.
    pub fn as_big_decimal(&self) -> Option<&BigDecimal> {
        match &self.0 {
            Repr::Finite(d, _) => Some(d),
            Repr::Infinite { .. } => None,
        }
    }

    pub fn from_big_decimal(d: BigDecimal) -> Number {
        Number::normalized(d)
    }

    pub fn add(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            // Zeros sum to -0 only when both are -0; an exact cancellation is +0.
            (Repr::Finite(a, x), Repr::Finite(b, y)) => {
                Ok(Number::normalized_signed(a + b, *x && *y))
            }
            (Repr::Infinite { negative: x }, Repr::Infinite { negative: y }) if x != y => {
                Err(ArithmeticError::OpposingInfinities)
            }
            (Repr::Infinite { .. }, _) => Ok(self.clone()),
            (_, Repr::Infinite { .. }) => Ok(other.clone()),
        }
    }

    pub fn sub(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            (Repr::Finite(a, x), Repr::Finite(b, y)) => {
                Ok(Number::normalized_signed(a - b, *x && !*y && b.is_zero()))
            }
            (Repr::Infinite { negative: x }, Repr::Infinite { negative: y }) if x == y => {
                Err(ArithmeticError::InfinityMinusInfinity)
            }
            (Repr::Infinite { .. }, _) => Ok(self.clone()),
            (_, Repr::Infinite { .. }) => Ok(other.neg()),
        }
    }

    pub fn mul(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            (Repr::Finite(a, _), Repr::Finite(b, _)) => Ok(Number::normalized_signed(
                a * b,
                self.is_sign_negative() != other.is_sign_negative(),
            )),
            _ if self.is_zero() || other.is_zero() => Err(ArithmeticError::ZeroTimesInfinity),
            _ => Ok(Number::infinity(self.is_negative() != other.is_negative())),
        }
    }

    pub fn neg(&self) -> Number {
        match &self.0 {
            Repr::Finite(d, z) => Number::normalized_signed(-d.clone(), d.is_zero() && !z),
            Repr::Infinite { negative } => Number::infinity(!negative),
        }
    }

    /// Division, as Terraform's `/`: a non-zero number divided by zero is an infinity;
    /// `0/0` and `Inf/Inf` are errors; a finite number divided by an infinity is zero. The
    /// sign of an infinite or zero result is negative when exactly one operand's is (`1/-0`
    /// is `-Inf`).
    pub fn div(&self, other: &Number) -> Arithmetic {
        let negative = self.is_sign_negative() != other.is_sign_negative();
        match (&self.0, &other.0) {
            (Repr::Infinite { .. }, Repr::Infinite { .. }) => {
                Err(ArithmeticError::IndeterminateQuotient)
            }
            (Repr::Finite(..), Repr::Infinite { .. }) => Ok(Number::signed_zero(negative)),
            (Repr::Infinite { .. }, Repr::Finite(..)) => Ok(Number::infinity(negative)),
            (Repr::Finite(a, _), Repr::Finite(b, _)) => {
                if b.is_zero() {
                    if a.is_zero() {
                        Err(ArithmeticError::IndeterminateQuotient)
                    } else {
                        Ok(Number::infinity(negative))
                    }
                } else {
                    Ok(Number::normalized_signed(
                        (a / b).with_prec(PRECISION_DIGITS),
                        negative,
                    ))
                }
            }
        }
    }

    /// Remainder with the sign of the dividend, as Terraform's `%`: `x % 0` is `x` (also for
    /// infinite `x`), and any other remainder involving an infinity is an error (Terraform
    /// reports the same error for `x % Inf` and crashes on `Inf % x`).
    ///
    /// Terraform computes `a - b * trunc(a / b)`, the truncated quotient being an integer
    /// (which has no negative zero), so a zero remainder is `-0` only for `-0 % b` with a
    /// positive `b`.
    pub fn rem(&self, other: &Number) -> Arithmetic {
        if other.is_zero() {
            return Ok(self.clone());
        }
        match (&self.0, &other.0) {
            (Repr::Finite(a, x), Repr::Finite(b, _)) => {
                Ok(Number::normalized_signed(a % b, *x && !other.is_negative()))
            }
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
                Repr::Finite(..) => 0,
                Repr::Infinite { negative: false } => 1,
            }
        }
        match (&self.0, &other.0) {
            (Repr::Finite(a, _), Repr::Finite(b, _)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

/// Consistent with `==`: both zeros hash alike.
impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        if self.is_zero() {
            "0".hash(state)
        } else {
            self.to_string().hash(state)
        }
    }
}

/// Plain decimal notation without exponent and without trailing zeros: `1`, `-2.5`,
/// `12345678901234567890`, `-0`; the infinities as Terraform prints them, `+Inf` and `-Inf`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match &self.0 {
            Repr::Finite(_, true) => return f.write_str("-0"),
            Repr::Finite(d, false) => d.normalized(),
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
            fn from(n: $t) -> Number { Number(Repr::Finite(BigDecimal::from(n), false)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64, i128, u128);

impl From<usize> for Number {
    fn from(n: usize) -> Number {
        Number(Repr::Finite(BigDecimal::from(n as u64), false))
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

    #[test]
    fn zeros_carry_a_sign_through_arithmetic_as_in_terraform() {
        let (z, nz) = (n("0"), n("-0"));
        let five = Number::from_i64(5);
        let show = |r: Arithmetic| r.unwrap().to_string();
        assert_eq!(nz.to_string(), "-0");
        assert_eq!(z.neg().to_string(), "-0");
        assert_eq!(nz.neg().to_string(), "0");
        assert_eq!(nz, z, "-0 == 0");
        assert!(!nz.identical(&z) && nz.identical(&z.neg()));
        assert!(!nz.is_negative() && nz.is_sign_negative() && nz.is_zero());
        assert_eq!(show(z.mul(&Number::from_i64(-1))), "-0");
        assert_eq!(show(nz.mul(&nz)), "0");
        assert_eq!(show(nz.add(&z)), "0");
        assert_eq!(show(nz.add(&nz)), "-0");
        assert_eq!(show(nz.sub(&z)), "-0");
        assert_eq!(show(nz.sub(&nz)), "0");
        assert_eq!(show(five.sub(&five)), "0");
        assert_eq!(show(five.neg().add(&five)), "0");
        assert_eq!(show(z.div(&five.neg())), "-0");
        assert_eq!(show(nz.div(&five.neg())), "0");
        assert_eq!(show(five.div(&nz)), "-Inf");
        assert_eq!(show(five.neg().div(&nz)), "+Inf");
        assert_eq!(show(five.neg().div(&n("+Inf"))), "-0");
        assert_eq!(show(nz.rem(&five)), "-0");
        assert_eq!(show(nz.rem(&five.neg())), "0");
        assert_eq!(show(five.neg().rem(&five)), "0");
        assert_eq!(show(nz.rem(&z)), "-0");
        assert_eq!(Number::parse("-0.0").unwrap().to_string(), "-0");
        assert_eq!(Number::from_f64(-0.0).unwrap().to_string(), "-0");
        assert_eq!(nz.to_f64().to_bits(), (-0.0f64).to_bits());
        assert_eq!(nz.without_negative_zero().to_string(), "0");
    }
}

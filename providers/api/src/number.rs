//! Arbitrary-precision numbers, with the two infinities, as Terraform's.
//!
//! Terraform's numbers are Go `big.Float`s: binary floating point with a mantissa of a given
//! precision. Literals and parsed text get 512 bits (so integers far beyond 2^53 keep every
//! digit), whole numbers made by functions (`length`, `parseint`) 64 bits or more, and results
//! of float functions (`pow`, `log`) 53 bits, as Go's float64; an arithmetic result has the
//! larger precision of its operands and is rounded to it (to nearest, ties to even). A number
//! prints as the shortest decimal that rounds back to it at its precision (`1/3` prints 155
//! digits, `pow(2, 64)` prints `18446744073709550000`). [`Number`] keeps exactly that:
//! mantissa, binary exponent and precision; its representation is private.
//!
//! Like Terraform's, numbers may be `+Inf` or `-Inf`: `1/0` is `+Inf`, infinities compare
//! beyond every finite number, print as `+Inf`/`-Inf`, and the operations that have no
//! meaningful result (`Inf - Inf`, `0 * Inf`, `0/0`, `Inf/Inf`) are [`ArithmeticError`]s
//! carrying Terraform's messages. There is no NaN.
//!
//! Zero has a sign, as in Terraform (Go's `big.Float`, whose zeros follow IEEE 754): `-0`
//! prints `-0` and survives `jsonencode`, `tostring` and `format("%v")`; it is equal to `0`
//! (`==`, ordering) but a set keeps both. The arithmetic gives zeros IEEE's signs: a product
//! or quotient is negative when exactly one operand is; a sum of zeros is `-0` only when both
//! are; a sum that cancels exactly (`x + -x`) is `0`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use bigdecimal::num_bigint::{BigInt, BigUint, Sign};
use bigdecimal::{BigDecimal, One, ToPrimitive, Zero};

/// Bits of mantissa of parsed numbers (Terraform parses with 512).
pub const PRECISION_BITS: u32 = 512;
/// Bits of mantissa of integers made from machine integers (Go's `SetInt64`).
const INT_BITS: u32 = 64;
/// Bits of mantissa of float results (Go's float64).
const FLOAT_BITS: u32 = 53;
/// Decimal exponents beyond this are refused by [`Number::parse`] (they would take
/// unbounded time and memory).
const MAX_DECIMAL_EXPONENT: i64 = 100_000;

#[derive(Clone, Debug)]
pub struct Number(Repr);

#[derive(Clone, Debug)]
enum Repr {
    Finite(Float),
    Infinite { negative: bool },
}

/// `(-1)^neg × mant × 2^exp`, rounded to `prec` bits. `mant` is odd, or zero (then `exp` is 0
/// and `neg` is the sign of the zero).
#[derive(Clone, Debug)]
struct Float {
    neg: bool,
    mant: BigUint,
    exp: i64,
    prec: u32,
}

impl Float {
    fn zero(neg: bool, prec: u32) -> Float {
        Float {
            neg,
            mant: BigUint::zero(),
            exp: 0,
            prec,
        }
    }

    /// `mant × 2^exp` rounded to `prec` bits, to nearest with ties to even; `sticky` says
    /// that the exact value is a little more than `mant × 2^exp` (callers then pass at least
    /// `prec + 2` bits).
    fn round(neg: bool, mut mant: BigUint, mut exp: i64, prec: u32, mut sticky: bool) -> Float {
        if mant.is_zero() {
            return Float::zero(neg, prec);
        }
        let bits = mant.bits();
        if bits > u64::from(prec) {
            let shift = bits - u64::from(prec);
            let half = mant.bit(shift - 1);
            sticky |= mant.trailing_zeros().unwrap_or(0) < shift - 1;
            mant >>= shift;
            exp += shift as i64;
            if half && (sticky || mant.bit(0)) {
                mant += 1u32;
            }
        }
        let tz = mant.trailing_zeros().unwrap_or(0);
        mant >>= tz;
        Float {
            neg,
            mant,
            exp: exp + tz as i64,
            prec,
        }
    }

    fn is_zero(&self) -> bool {
        self.mant.is_zero()
    }

    fn from_int(n: BigInt) -> Float {
        let (sign, mag) = n.into_parts();
        let prec = INT_BITS.max(mag.bits() as u32);
        Float::round(sign == Sign::Minus, mag, 0, prec, false)
    }

    fn signed(&self) -> BigInt {
        BigInt::from_biguint(
            if self.neg { Sign::Minus } else { Sign::Plus },
            self.mant.clone(),
        )
    }

    /// Both mantissas (signed) scaled to their common lowest exponent.
    fn aligned(&self, other: &Float) -> (BigInt, BigInt, i64) {
        let e = self.exp.min(other.exp);
        (
            self.signed() << (self.exp - e) as usize,
            other.signed() << (other.exp - e) as usize,
            e,
        )
    }

    /// The sum of two non-zero numbers.
    fn add(&self, other: &Float, prec: u32) -> Float {
        let (a, b, e) = self.aligned(other);
        let (sign, mag) = (a + b).into_parts();
        Float::round(sign == Sign::Minus, mag, e, prec, false)
    }

    /// The product as cty computes it: rounded to 512 bits, then kept with the larger of
    /// `prec` and the bits the product needs (so the product of two 53-bit floats has up to
    /// 106 bits).
    fn mul(&self, other: &Float, prec: u32) -> Float {
        let p = Float::round(
            self.neg != other.neg,
            &self.mant * &other.mant,
            self.exp + other.exp,
            PRECISION_BITS,
            false,
        );
        let needed = p.mant.bits() as u32;
        Float::round(p.neg, p.mant, p.exp, prec.max(needed), false)
    }

    /// The quotient of two non-zero numbers.
    fn div(&self, other: &Float, prec: u32) -> Float {
        let (a, b) = (&self.mant, &other.mant);
        let shift = (i64::from(prec) + 2 + b.bits() as i64 - a.bits() as i64).max(0);
        let num = a << shift as usize;
        let q = &num / b;
        let sticky = !(num % b).is_zero();
        Float::round(
            self.neg != other.neg,
            q,
            self.exp - other.exp - shift,
            prec,
            sticky,
        )
    }

    fn cmp_magnitude(&self, other: &Float) -> Ordering {
        match (self.is_zero(), other.is_zero()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let top = |f: &Float| f.mant.bits() as i64 + f.exp;
        top(self).cmp(&top(other)).then_with(|| {
            let e = self.exp.min(other.exp);
            (&self.mant << (self.exp - e) as usize).cmp(&(&other.mant << (other.exp - e) as usize))
        })
    }

    /// The exact decimal digits (no leading or trailing zeros; empty for zero) and the
    /// position of the decimal point: the value is `0.DIGITS × 10^point`.
    fn decimal(mant: &BigUint, exp: i64) -> (Vec<u8>, i64) {
        if mant.is_zero() {
            return (Vec::new(), 0);
        }
        let (n, frac) = if exp >= 0 {
            (mant << exp as usize, 0)
        } else {
            (mant * BigUint::from(5u32).pow((-exp) as u32), -exp)
        };
        let mut digits = n.to_string().into_bytes();
        let point = digits.len() as i64 - frac;
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        (digits, point)
    }

    /// The shortest decimal that rounds back to this number at its precision, as Go's
    /// `big.Float` finds it (the half-ulp interval is symmetric even at powers of two).
    fn shortest(&self) -> (Vec<u8>, i64) {
        let (mut d, mut point) = Float::decimal(&self.mant, self.exp);
        // Zero; or an integer whose ulp is at most 1, where every shorter decimal is at least
        // 1 away: the exact digits are the shortest.
        if d.is_empty()
            || (self.exp >= 0 && self.mant.bits() as i64 + self.exp <= i64::from(self.prec))
        {
            return (d, point);
        }
        // The mantissa with prec + 1 bits: its last bit is half an ulp.
        let bits = self.mant.bits() as i64;
        let up = i64::from(self.prec) + 1 - bits;
        let (m, e) = if up >= 0 {
            (&self.mant << up as usize, self.exp - up)
        } else {
            (&self.mant >> (-up) as usize, self.exp - up)
        };
        let (lower, _) = Float::decimal(&(&m - 1u32), e);
        let (upper, _) = Float::decimal(&(&m + 1u32), e);
        let inclusive = !m.bit(1);
        let at = |x: &[u8], i: usize| x.get(i).copied().unwrap_or(b'0');
        for i in 0..d.len() {
            let (l, c, u) = (at(&lower, i), d[i], at(&upper, i));
            let okdown = l != c || inclusive && i + 1 == lower.len();
            let okup = c != u && (inclusive || c + 1 < u || i + 1 < upper.len());
            match (okdown, okup) {
                (true, true) => {
                    round_digits(&mut d, &mut point, i + 1);
                    break;
                }
                (true, false) => {
                    d.truncate(i + 1);
                    break;
                }
                (false, true) => {
                    round_up_digits(&mut d, &mut point, i + 1);
                    break;
                }
                _ => {}
            }
        }
        while d.last() == Some(&b'0') {
            d.pop();
        }
        (d, point)
    }
}

/// Rounds decimal digits to `n` of them, half to even (Go's `decimal.round`).
fn round_digits(d: &mut Vec<u8>, point: &mut i64, n: usize) {
    if n >= d.len() {
        return;
    }
    let up = if d[n] == b'5' && n + 1 == d.len() {
        n > 0 && (d[n - 1] - b'0') % 2 == 1
    } else {
        d[n] >= b'5'
    };
    if up {
        round_up_digits(d, point, n);
    } else {
        d.truncate(n);
    }
}

fn round_up_digits(d: &mut Vec<u8>, point: &mut i64, n: usize) {
    if n >= d.len() {
        return;
    }
    let mut i = n;
    while i > 0 && d[i - 1] >= b'9' {
        i -= 1;
    }
    if i == 0 {
        d.clear();
        d.push(b'1');
        *point += 1;
    } else {
        d[i - 1] += 1;
        d.truncate(i);
    }
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
        Number::from_int(BigInt::from(n))
    }

    fn from_int(n: BigInt) -> Number {
        Number(Repr::Finite(Float::from_int(n)))
    }

    fn finite(f: Float) -> Number {
        Number(Repr::Finite(f))
    }

    /// `+Inf` (or `-Inf` when `negative`).
    pub fn infinity(negative: bool) -> Number {
        Number(Repr::Infinite { negative })
    }

    /// A number from a float, exactly, with a float's 53 bits of precision (as Terraform's
    /// float functions return); infinities map to infinities, `-0.0` to negative zero, NaN to
    /// `None` (the language has no value for it).
    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_nan() {
            return None;
        }
        if f.is_infinite() {
            return Some(Number::infinity(f < 0.0));
        }
        let bits = f.to_bits();
        let neg = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1 << 52) - 1);
        let (mant, exp) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), biased - 1075)
        };
        Some(Number::finite(Float::round(
            neg,
            BigUint::from(mant),
            exp,
            FLOAT_BITS,
            false,
        )))
    }

    /// Parses decimal or scientific notation (`12`, `-1.5`, `1e3`, `.5`, `5.`) to 512 bits, as
    /// Terraform does. Leading `+` is accepted; hexadecimal, underscores and the like are the
    /// caller's business. Infinities are not accepted here (see
    /// [`Number::parse_with_infinity`]). A zero written with `-` is negative zero
    /// (`tonumber("-0")`).
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let (neg, t) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exponent) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut e10: i64 = match exponent {
            None => 0,
            Some(x) => {
                let digits = x.strip_prefix(['+', '-']).unwrap_or(x);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let v: i64 = digits
                    .parse()
                    .ok()
                    .filter(|v| *v <= MAX_DECIMAL_EXPONENT * 2)?;
                if x.starts_with('-') { -v } else { v }
            }
        };
        let all = format!("{int}{frac}");
        let all = all.trim_start_matches('0');
        e10 -= frac.len() as i64;
        if all.is_empty() {
            return Some(Number::signed_zero(neg));
        }
        let digits = BigUint::from_str(all).ok()?;
        let magnitude = all.len() as i64 + e10;
        if magnitude.abs() > MAX_DECIMAL_EXPONENT {
            return None;
        }
        let prec = PRECISION_BITS;
        let f = if e10 >= 0 {
            Float::round(
                neg,
                digits * BigUint::from(10u32).pow(e10 as u32),
                0,
                prec,
                false,
            )
        } else {
            // digits / 10^k = digits / 5^k × 2^-k
            let k = -e10;
            let den = BigUint::from(5u32).pow(k as u32);
            let shift = (i64::from(prec) + 2 + den.bits() as i64 - digits.bits() as i64).max(0);
            let num = digits << shift as usize;
            let q = &num / &den;
            let sticky = !(num % &den).is_zero();
            Float::round(neg, q, -k - shift, prec, sticky)
        };
        Some(Number::finite(f))
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

    /// (Positive) zero.
    pub fn zero() -> Number {
        Number::signed_zero(false)
    }

    /// Zero, negative zero when `negative`.
    pub fn signed_zero(negative: bool) -> Number {
        Number::finite(Float::zero(negative, INT_BITS))
    }

    /// Whether this is zero, of either sign.
    pub fn is_zero(&self) -> bool {
        matches!(&self.0, Repr::Finite(f) if f.is_zero())
    }

    /// Whether this is negative zero.
    pub fn is_negative_zero(&self) -> bool {
        matches!(&self.0, Repr::Finite(f) if f.is_zero() && f.neg)
    }

    /// The sign bit: true for negative numbers, `-Inf` and negative zero.
    pub fn is_sign_negative(&self) -> bool {
        match &self.0 {
            Repr::Finite(f) => f.neg,
            Repr::Infinite { negative } => *negative,
        }
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
        matches!(&self.0, Repr::Finite(f) if f.exp >= 0)
    }

    /// Whether this is less than zero (never true for negative zero; see
    /// [`Number::is_sign_negative`]).
    pub fn is_negative(&self) -> bool {
        match &self.0 {
            Repr::Finite(f) => f.neg && !f.is_zero(),
            Repr::Infinite { negative } => *negative,
        }
    }

    /// The value as an `i64` when it is an integer in range.
    pub fn to_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Finite(f) if f.exp >= 0 => {
                if f.mant.bits() as i64 + f.exp > 64 {
                    return None;
                }
                f.signed()
                    .checked_mul(&(BigInt::one() << f.exp as usize))?
                    .to_i64()
            }
            _ => None,
        }
    }

    /// The nearest float; the infinities become float infinities.
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::Finite(f) if f.is_zero() => {
                if f.neg {
                    -0.0
                } else {
                    0.0
                }
            }
            Repr::Finite(_) => self
                .to_big_decimal()
                .and_then(|d| d.to_string().parse::<f64>().ok())
                .unwrap_or(f64::NAN),
            Repr::Infinite { negative: true } => f64::NEG_INFINITY,
            Repr::Infinite { negative: false } => f64::INFINITY,
        }
    }

    /// The exact decimal value; `None` for the infinities.
    pub fn to_big_decimal(&self) -> Option<BigDecimal> {
        match &self.0 {
            Repr::Finite(f) => {
                if f.exp >= 0 {
                    Some(BigDecimal::from(f.signed() << f.exp as usize))
                } else {
                    let k = -f.exp;
                    let n = f.signed() * BigInt::from(5u32).pow(k as u32);
                    Some(BigDecimal::new(n, k))
                }
            }
            Repr::Infinite { .. } => None,
        }
    }

    /// The decimal Terraform prints for this number (the shortest that reads back as it);
    /// `None` for the infinities.
    pub fn to_shortest_big_decimal(&self) -> Option<BigDecimal> {
        match &self.0 {
            Repr::Finite(_) => BigDecimal::from_str(&self.to_string()).ok(),
            Repr::Infinite { .. } => None,
        }
    }

    /// A number from a decimal: an integer exactly (with at least 64 bits, as Terraform's
    /// integers from functions), anything else as [`Number::parse`] reads its text.
    pub fn from_big_decimal(d: BigDecimal) -> Number {
        if d.is_integer() {
            let (n, scale) = d.with_scale(0).into_bigint_and_exponent();
            debug_assert_eq!(scale, 0);
            Number::from_int(n)
        } else {
            Number::parse(&d.to_string()).unwrap_or_else(Number::zero)
        }
    }

    /// This number rounded to the precision of `like` (as Go's `SetInt` into an existing
    /// float: `floor(1e400)` keeps the 512 bits of `1e400`).
    pub fn with_precision_of(self, like: &Number) -> Number {
        match (self.0, &like.0) {
            (Repr::Finite(f), Repr::Finite(l)) => {
                Number::finite(Float::round(f.neg, f.mant, f.exp, l.prec, false))
            }
            (repr, _) => Number(repr),
        }
    }

    fn prec_with(a: &Float, b: &Float) -> u32 {
        a.prec.max(b.prec)
    }

    pub fn add(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => {
                let prec = Number::prec_with(a, b);
                Ok(Number::finite(match (a.is_zero(), b.is_zero()) {
                    // Zeros sum to -0 only when both are -0.
                    (true, true) => Float::zero(a.neg && b.neg, prec),
                    (true, false) => Float::round(b.neg, b.mant.clone(), b.exp, prec, false),
                    (false, true) => Float::round(a.neg, a.mant.clone(), a.exp, prec, false),
                    // An exact cancellation is +0.
                    (false, false) => a.add(b, prec),
                }))
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
            (Repr::Infinite { negative: x }, Repr::Infinite { negative: y }) if x == y => {
                Err(ArithmeticError::InfinityMinusInfinity)
            }
            _ => self.add(&other.neg()),
        }
    }

    pub fn mul(&self, other: &Number) -> Arithmetic {
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => {
                let prec = Number::prec_with(a, b);
                Ok(Number::finite(if a.is_zero() || b.is_zero() {
                    Float::zero(a.neg != b.neg, prec)
                } else {
                    a.mul(b, prec)
                }))
            }
            _ if self.is_zero() || other.is_zero() => Err(ArithmeticError::ZeroTimesInfinity),
            _ => Ok(Number::infinity(self.is_negative() != other.is_negative())),
        }
    }

    pub fn neg(&self) -> Number {
        match &self.0 {
            Repr::Finite(f) => Number::finite(Float {
                neg: !f.neg,
                ..f.clone()
            }),
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
            (Repr::Finite(a), Repr::Infinite { .. }) => {
                Ok(Number::finite(Float::zero(negative, a.prec)))
            }
            (Repr::Infinite { .. }, Repr::Finite(..)) => Ok(Number::infinity(negative)),
            (Repr::Finite(a), Repr::Finite(b)) => {
                let prec = Number::prec_with(a, b);
                match (a.is_zero(), b.is_zero()) {
                    (true, true) => Err(ArithmeticError::IndeterminateQuotient),
                    (false, true) => Ok(Number::infinity(negative)),
                    (true, false) => Ok(Number::finite(Float::zero(negative, prec))),
                    (false, false) => Ok(Number::finite(a.div(b, prec))),
                }
            }
        }
    }

    /// Remainder with the sign of the dividend, as Terraform's `%`: `x % 0` is `x` (also for
    /// infinite `x`), and any other remainder involving an infinity is an error (Terraform
    /// reports the same error for `x % Inf` and crashes on `Inf % x`).
    ///
    /// Terraform computes `a - b * trunc(a / b)` in its floating point: the quotient rounded
    /// to the operands' precision (so `1 % 1e-7` is 0), the product to the dividend's (so
    /// `pow(2, 70) % 3` is 0), the difference to twice the dividend's and then to the
    /// dividend's. The truncated quotient is an integer (which has no negative zero), so a
    /// zero remainder is `-0` only for `-0 % b` with a positive `b`.
    pub fn rem(&self, other: &Number) -> Arithmetic {
        if other.is_zero() {
            return Ok(self.clone());
        }
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => {
                let prec = Number::prec_with(a, b);
                if a.is_zero() {
                    return Ok(Number::finite(Float::zero(a.neg && !b.neg, prec)));
                }
                let ratio = a.div(b, prec);
                let q = if ratio.exp >= 0 {
                    &ratio.mant << ratio.exp as usize
                } else {
                    &ratio.mant >> (-ratio.exp) as usize
                };
                if q.is_zero() {
                    return Ok(self.clone());
                }
                let q = Float::from_int(BigInt::from_biguint(
                    if ratio.neg { Sign::Minus } else { Sign::Plus },
                    q,
                ));
                // The product is rounded to the dividend's precision: for a float-sized
                // dividend, `pow(2, 70) % 3` is 0 in Terraform.
                let product = Float::round(
                    b.neg != q.neg,
                    &b.mant * &q.mant,
                    b.exp + q.exp,
                    a.prec,
                    false,
                );
                let negated = Float {
                    neg: !product.neg,
                    ..product
                };
                let work = a.add(&negated, a.prec.saturating_mul(2));
                Ok(Number::finite(Float::round(
                    work.neg, work.mant, work.exp, a.prec, false,
                )))
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
            (Repr::Finite(a), Repr::Finite(b)) => {
                let sign = |f: &Float| {
                    if f.is_zero() {
                        0
                    } else if f.neg {
                        -1
                    } else {
                        1
                    }
                };
                match sign(a).cmp(&sign(b)) {
                    Ordering::Equal if sign(a) < 0 => b.cmp_magnitude(a),
                    Ordering::Equal => a.cmp_magnitude(b),
                    o => o,
                }
            }
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

/// Consistent with `==`: equal numbers hash alike whatever their precision and the sign of
/// zero.
impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match &self.0 {
            Repr::Finite(f) if f.is_zero() => 0u8.hash(state),
            Repr::Finite(f) => {
                (1u8, f.neg, f.exp).hash(state);
                f.mant.hash(state);
            }
            Repr::Infinite { negative } => (2u8, *negative).hash(state),
        }
    }
}

/// Plain decimal notation without exponent, the shortest that reads back as the number at
/// its precision (Go's `Text('f', -1)`): `1`, `-2.5`, `12345678901234567890`, `-0`; the
/// infinities as Terraform prints them, `+Inf` and `-Inf`.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = match &self.0 {
            Repr::Finite(x) => x,
            Repr::Infinite { negative: true } => return f.write_str("-Inf"),
            Repr::Infinite { negative: false } => return f.write_str("+Inf"),
        };
        let mut out = String::new();
        if x.neg {
            out.push('-');
        }
        let (d, point) = x.shortest();
        if point > 0 {
            for i in 0..point {
                out.push(d.get(i as usize).map_or('0', |c| *c as char));
            }
        } else {
            out.push('0');
        }
        let decimals = (d.len() as i64 - point).max(0);
        if decimals > 0 {
            out.push('.');
            for i in 0..decimals {
                let j = point + i;
                out.push(if j >= 0 {
                    d.get(j as usize).map_or('0', |c| *c as char)
                } else {
                    '0'
                });
            }
        }
        f.write_str(&out)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Number { Number::from_int(BigInt::from(n)) }
        }
    )*};
}
from_int!(i8, i16, i32, i64, u8, u16, u32, u64, i128, u128, usize);

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
        assert!(!inf.is_integer() && inf.to_i64().is_none() && inf.to_big_decimal().is_none());
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

    #[test]
    fn numbers_are_binary_floats_printed_as_terraform_prints_them() {
        let show = |r: Arithmetic| r.unwrap().to_string();
        let third = show(n("1").div(&n("3")));
        assert!(
            third.starts_with("0.3333") && third.ends_with("35"),
            "{third}"
        );
        assert_eq!(third.len(), 157, "512 bits print 155 digits");
        assert_eq!(
            show(n("9007199254740993").mul(&n("1").div(&n("3")).unwrap())),
            "3002399751580331"
        );
        assert_eq!(n("0.1").to_string(), "0.1");
        assert_eq!(show(n("0.1").add(&n("0.2"))), "0.3");
        assert_eq!(
            Number::from_f64(18446744073709551616.0)
                .unwrap()
                .to_string(),
            "18446744073709550000"
        );
        assert_eq!(Number::from_f64(0.1).unwrap().to_string(), "0.1");
        assert_eq!(
            Number::from_f64(-9.999999999999997e-22)
                .unwrap()
                .to_string(),
            "-0.0000000000000000000009999999999999997"
        );
        let big = "123456789012345678901234567890123456789";
        assert_eq!(n(big).to_string(), big);
        assert_eq!(n("1e3").to_i64(), Some(1000));
        assert_eq!(n("2.5").to_f64(), 2.5);
        assert_eq!(n("-7.5").rem(&n("2")).unwrap().to_string(), "-1.5");
        assert!(n("1.5") < n("2") && n("-2") < n("-1.5") && n("1.0") == n("1"));
        assert!(Number::parse("1_000").is_none() && Number::parse("1e").is_none());
        assert_eq!(n(".5").to_string(), "0.5");
        assert_eq!(n("5.").to_string(), "5");
    }
}

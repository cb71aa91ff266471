//! Numeric functions: abs ceil floor log max min parseint pow signum.

use bigdecimal::num_bigint::BigInt;
use bigdecimal::{BigDecimal, RoundingMode};
use brick_provider_api::{Number, Type, Value};

use super::{FunctionError, Registry, Result, func, number, p, text};
use crate::eval::Environment;

pub(super) fn register(r: &mut Registry) {
    let num = || p("num", Type::Number);
    r.insert("abs", func(vec![num()], Type::Number, abs));
    r.insert("ceil", func(vec![num()], Type::Number, ceil));
    r.insert("floor", func(vec![num()], Type::Number, floor));
    r.insert(
        "log",
        func(vec![num(), p("base", Type::Number)], Type::Number, log),
    );
    r.insert(
        "max",
        func(vec![], Type::Number, max).variadic(p("numbers", Type::Number)),
    );
    r.insert(
        "min",
        func(vec![], Type::Number, min).variadic(p("numbers", Type::Number)),
    );
    r.insert(
        "parseint",
        func(
            vec![p("number", Type::String), p("base", Type::Number)],
            Type::Number,
            parseint,
        ),
    );
    r.insert(
        "pow",
        func(vec![num(), p("power", Type::Number)], Type::Number, pow),
    );
    r.insert("signum", func(vec![num()], Type::Number, signum));
}

type Env<'a> = &'a dyn Environment;

fn abs(a: &[Value], _: Env) -> Result<Value> {
    let n = number(&a[0]);
    Ok(Value::number(if n.is_negative() {
        n.neg()
    } else {
        n.without_negative_zero()
    }))
}

fn round(a: &[Value], mode: RoundingMode) -> Value {
    let n = number(&a[0]);
    match n.to_big_decimal() {
        // The integer keeps the argument's precision, as in Terraform.
        Some(d) => Value::number(
            Number::from_big_decimal(d.with_scale_round(0, mode)).with_precision_of(&n),
        ),
        None => Value::number(n), // the infinities round to themselves
    }
}

fn ceil(a: &[Value], _: Env) -> Result<Value> {
    Ok(round(a, RoundingMode::Ceiling))
}

fn floor(a: &[Value], _: Env) -> Result<Value> {
    Ok(round(a, RoundingMode::Floor))
}

fn float_result(f: f64) -> Result<Value> {
    Number::from_f64(f)
        .map(Value::number)
        .ok_or_else(|| FunctionError::call("The result is not a number (NaN)."))
}

fn log(a: &[Value], _: Env) -> Result<Value> {
    let x = number(&a[0]).to_f64();
    let base = number(&a[1]).to_f64();
    // As Terraform (Go): a quotient of natural logarithms, so log(1000, 10) is
    // 2.9999999999999996.
    float_result(x.ln() / base.ln())
}

fn extreme(a: &[Value], want_max: bool) -> Result<Value> {
    let mut best: Option<Number> = None;
    for v in a {
        let n = number(v);
        best = Some(match best {
            None => n,
            Some(b) if (want_max && n > b) || (!want_max && n < b) => n,
            Some(b) => b,
        });
    }
    best.map(Value::number)
        .ok_or_else(|| FunctionError::call("must pass at least one number"))
}

fn max(a: &[Value], _: Env) -> Result<Value> {
    extreme(a, true)
}

fn min(a: &[Value], _: Env) -> Result<Value> {
    extreme(a, false)
}

fn digit_value(c: char, base: u32) -> Option<u32> {
    let d = match c {
        '0'..='9' => c as u32 - '0' as u32,
        'a'..='z' => c as u32 - 'a' as u32 + 10,
        'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
        'A'..='Z' => c as u32 - 'A' as u32 + 36,
        _ => return None,
    };
    (d < base).then_some(d)
}

fn parseint(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    let base = number(&a[1]);
    if base.to_i64().is_none() {
        return Err(FunctionError::arg(
            1,
            "Invalid value for \"base\" parameter: value must be a whole number, between -9223372036854775808 and 9223372036854775807.",
        ));
    }
    let base = match base.to_i64() {
        Some(b) if (2..=62).contains(&b) => b as u32,
        _ => {
            return Err(FunctionError::arg(
                1,
                "Invalid value for \"base\" parameter: base must be a whole number between 2 and 62 inclusive.",
            ));
        }
    };
    let fail = || {
        FunctionError::arg(
            0,
            format!(
                "Invalid value for \"number\" parameter: cannot parse {s:?} as a base {base} integer."
            ),
        )
    };
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() {
        return Err(fail());
    }
    let mut acc = BigInt::from(0);
    for c in digits.chars() {
        let d = digit_value(c, base).ok_or_else(fail)?;
        acc = acc * base + d;
    }
    if negative {
        acc = -acc;
    }
    Ok(Value::number(Number::from_big_decimal(BigDecimal::from(
        acc,
    ))))
}

fn pow(a: &[Value], _: Env) -> Result<Value> {
    let x = number(&a[0]);
    let y = number(&a[1]);
    // Terraform computes powers with Go's math.Pow, whose results for whole exponents are
    // not always the correctly rounded ones.
    float_result(go_pow(x.to_f64(), y.to_f64()))
}

fn signum(a: &[Value], _: Env) -> Result<Value> {
    let n = number(&a[0]);
    if n.to_i64().is_none() {
        return Err(FunctionError::call(
            "value must be a whole number, between -9223372036854775808 and 9223372036854775807.",
        ));
    }
    let s = if n.is_zero() {
        0
    } else if n.is_negative() {
        -1
    } else {
        1
    };
    Ok(Value::number(s))
}

/// Go's `math.Pow`: special cases as IEEE's `pow`, then `x^y` as `x^frac(y)` (through `exp`
/// and `ln`) times `x^int(y)` by repeated squaring of the mantissa, scaled at the end.
fn go_pow(x: f64, y: f64) -> f64 {
    let odd_int = |v: f64| v.fract() == 0.0 && v.abs() < (1u64 << 53) as f64 && (v as i64) % 2 != 0;
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 {
        return if y < 0.0 {
            if x.is_sign_negative() && odd_int(y) {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        } else if x.is_sign_negative() && odd_int(y) {
            x
        } else {
            0.0
        };
    }
    if y.is_infinite() {
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if x.is_infinite() {
        if x < 0.0 {
            return go_pow(1.0 / x, -y);
        }
        return if y < 0.0 { 0.0 } else { f64::INFINITY };
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let (mut yi, mut yf) = (y.abs().trunc(), y.abs().fract());
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= (1u64 << 63) as f64 {
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = (yf * x.ln()).exp();
    }
    let (mut x1, mut xe) = frexp(x);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// Go's `math.Frexp`: `f = frac × 2^exp` with `|frac|` in [0.5, 1).
fn frexp(f: f64) -> (f64, i64) {
    if f == 0.0 || f.is_infinite() || f.is_nan() {
        return (f, 0);
    }
    let (f, adjust) = if f.abs() < f64::MIN_POSITIVE {
        (f * (1u64 << 52) as f64, -52)
    } else {
        (f, 0)
    };
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1022 + adjust;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, exp)
}

/// `frac × 2^exp`, rounding once at the end like Go's `math.Ldexp`.
fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || frac.is_infinite() || frac.is_nan() {
        return frac;
    }
    let (f, e) = frexp(frac);
    let exp = exp + e;
    let n = Number::from_f64(f).unwrap_or_else(Number::zero);
    // Scale exactly as a big number, then round to the nearest float.
    let two = Number::from_i64(2);
    let half = Number::parse("0.5").unwrap_or_else(Number::zero);
    if exp > 1100 {
        return if f < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if exp < -1200 {
        return if f < 0.0 { -0.0 } else { 0.0 };
    }
    let mut scaled = n;
    let factor = if exp >= 0 { &two } else { &half };
    for _ in 0..exp.unsigned_abs() {
        scaled = scaled.mul(factor).unwrap_or_else(|_| Number::zero());
    }
    scaled.to_f64()
}

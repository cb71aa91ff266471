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
    match n.as_big_decimal() {
        Some(d) => Value::number(Number::from_big_decimal(d.with_scale_round(0, mode))),
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
    let r = x.ln() / base.ln();
    // Exact powers come out exact (log(16, 2) is 4, not 3.9999999999999996).
    let rounded = r.round();
    if (r - rounded).abs() < 1e-12 && base.powf(rounded) == x {
        return float_result(rounded);
    }
    float_result(r)
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
    // Terraform computes powers in floating point, so big results are rounded alike.
    float_result(x.to_f64().powf(y.to_f64()))
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

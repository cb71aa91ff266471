//! `format` and `formatlist`: Terraform's printf-like formatting.
//!
//! Verbs: `%%`, `%v` (`%#v` gives JSON), `%t`, `%b %d %o %x %X`, `%e %E %f %g %G`, `%s`, `%q`;
//! flags `-`, `+`, ` `, `0`, `#`; width and precision (counting grapheme clusters for
//! strings); `%[n]` argument indices. Numbers are formatted from their exact decimal value.

use std::num::NonZeroU64;

use bigdecimal::num_bigint::Sign;
use bigdecimal::{BigDecimal, RoundingMode};
use brick_provider_api::value::Kind;
use brick_provider_api::{Number, Type, Value};
use unicode_segmentation::UnicodeSegmentation;

use super::encoding::json_string;
use super::{FunctionError, Registry, Result, elements, func, p, text};
use crate::eval::Environment;
use crate::eval::convert::convert;

type Env<'a> = &'a dyn Environment;

pub(super) fn register(r: &mut Registry) {
    r.insert(
        "format",
        func(vec![p("format", Type::String)], Type::String, format)
            .variadic(p("args", Type::Dynamic).null_ok()),
    );
    r.insert(
        "formatlist",
        func(
            vec![p("format", Type::String)],
            Type::list(Type::String),
            formatlist,
        )
        .variadic(p("args", Type::Dynamic).null_ok().unknown_ok()),
    );
}

fn format(a: &[Value], _: Env) -> Result<Value> {
    format_values(text(&a[0]), &a[1..]).map(Value::string)
}

fn formatlist(a: &[Value], _: Env) -> Result<Value> {
    let fmt = text(&a[0]);
    let args = &a[1..];
    if args.iter().any(|v| !v.is_known()) || !a[0].is_known() {
        return Ok(Value::unknown(Type::list(Type::String)));
    }
    // Lists and tuples are iterated in step; other values repeat on every line.
    let mut len: Option<(usize, usize)> = None;
    for (i, v) in args.iter().enumerate() {
        if matches!(v.kind, Kind::List(..) | Kind::Tuple(_) | Kind::Set(..)) {
            let n = elements(v).len();
            match len {
                None => len = Some((n, i)),
                Some((m, j)) if m != n => {
                    return Err(FunctionError::arg(
                        i + 1,
                        format!(
                            "Invalid value for \"args\" parameter: argument {} has length {n}, which is inconsistent with argument {} of length {m}.",
                            i + 1,
                            j + 1
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let rows = len.map(|(n, _)| n).unwrap_or(1);
    let mut out = Vec::with_capacity(rows);
    for row in 0..rows {
        let line_args: Vec<Value> = args
            .iter()
            .map(|v| match &v.kind {
                Kind::List(..) | Kind::Tuple(_) | Kind::Set(..) => elements(v)[row].clone(),
                _ => v.clone(),
            })
            .collect();
        if !line_args.iter().all(Value::is_wholly_known) {
            out.push(Value::unknown(Type::String));
            continue;
        }
        let (plain, marks) = Value::tuple(line_args).unmark_deep();
        let s = format_values(fmt, elements(&plain))?;
        out.push(Value::string(s).with_marks(marks));
    }
    Ok(Value::list(Type::String, out))
}

/// The largest width or precision `format` accepts.
const MAX_WIDTH: usize = 100_000;

#[derive(Clone, Copy, Default)]
struct Spec {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Formats `args` by the format string `fmt`, with Terraform's verbs and error messages.
pub(crate) fn format_values(fmt: &str, args: &[Value]) -> Result<String> {
    let mut out = String::new();
    let mut next_arg = 0usize;
    let mut max_used = 0usize;
    let mut chars = fmt.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&(_, f)) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        if let Some(&(bracket, '[')) = chars.peek() {
            chars.next();
            let inner = bracket + 1;
            let mut n = String::new();
            while let Some(&(_, d)) = chars.peek() {
                chars.next();
                if d == ']' {
                    break;
                }
                n.push(d);
            }
            let index: usize = n.parse().unwrap_or(0);
            if index == 0 {
                let bad = n.chars().next().unwrap_or(']');
                return Err(FunctionError::call(format!(
                    "unrecognized format character '{bad}' at offset {inner}."
                )));
            }
            next_arg = index - 1;
        }
        let mut digits = String::new();
        while let Some(&(_, d)) = chars.peek() {
            if !d.is_ascii_digit() {
                break;
            }
            digits.push(d);
            chars.next();
        }
        if !digits.is_empty() {
            spec.width = Some(digits.parse().unwrap_or(usize::MAX));
        }
        if let Some(&(_, '.')) = chars.peek() {
            chars.next();
            let mut digits = String::new();
            while let Some(&(_, d)) = chars.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                digits.push(d);
                chars.next();
            }
            spec.precision = Some(if digits.is_empty() {
                0
            } else {
                digits.parse().unwrap_or(usize::MAX)
            });
        }
        let Some((end, verb)) = chars.next() else {
            return Err(FunctionError::call(format!(
                "invalid format string starting at offset {}.",
                fmt.len()
            )));
        };
        let verb_text = &fmt[start..end + verb.len_utf8()];
        // Widths and precisions this large can only exhaust memory.
        if spec.width.is_some_and(|w| w > MAX_WIDTH)
            || spec.precision.is_some_and(|p| p > MAX_WIDTH)
        {
            return Err(FunctionError::call(format!(
                "the width or precision in {verb_text:?} at offset {start} is larger than {MAX_WIDTH}."
            )));
        }
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !verb.is_alphabetic() {
            return Err(FunctionError::call(format!(
                "unrecognized format character '{verb}' at offset {end}."
            )));
        }
        if !"vtbdoxXeEfgGsq".contains(verb) {
            return Err(FunctionError::call(format!(
                "unsupported format verb '{verb}' in {verb_text:?} at offset {start}."
            )));
        }
        let Some(arg) = args.get(next_arg) else {
            return Err(FunctionError::call(format!(
                "not enough arguments for {verb_text:?} at {start}: need index {} but have {} total.",
                next_arg + 1,
                args.len()
            )));
        };
        next_arg += 1;
        max_used = max_used.max(next_arg);
        let bad = |msg: &str| {
            FunctionError::call(format!(
                "unsupported value for {verb_text:?} at {start}: {msg}."
            ))
        };
        if arg.is_null() && verb != 'v' {
            return Err(bad("null value cannot be formatted"));
        }
        let want = |ty: Type| convert(arg, &ty).map_err(|e| bad(&e.to_string()));
        let piece = match verb {
            'v' => {
                match (&arg.kind, spec.sharp) {
                    // Numbers as %g with the width and its padding flags, but neither the
                    // precision nor the sign flags (Terraform: `%-4v` of 100 is "100 ").
                    (Kind::Number(n), false) => format_float(
                        n,
                        'g',
                        &Spec {
                            minus: spec.minus,
                            zero: spec.zero,
                            width: spec.width,
                            ..Spec::default()
                        },
                    ),
                    (_, true) => pad(&super::encoding::json_encode(arg), &spec, false),
                    _ => pad(&display_value(arg), &spec, false),
                }
            }
            // Terraform ignores the width of %t.
            't' => display_value(&want(Type::Bool)?),
            's' => {
                let v = want(Type::String)?;
                pad(&truncate(text(&v), spec.precision), &spec, false)
            }
            'q' => {
                let v = want(Type::String)?;
                let quoted = json_string(&truncate(text(&v), spec.precision));
                pad(&quoted, &spec, false)
            }
            'b' | 'd' | 'o' | 'x' | 'X' => {
                let v = want(Type::Number)?;
                let n = v.as_number().cloned().unwrap_or_else(Number::zero);
                if !n.is_integer() {
                    return Err(bad("an integer is required"));
                }
                format_integer(&n, verb, &spec)
            }
            _ => {
                let v = want(Type::Number)?;
                let n = v.as_number().cloned().unwrap_or_else(Number::zero);
                format_float(&n, verb, &spec)
            }
        };
        out.push_str(&piece);
    }
    if max_used < args.len() {
        return Err(FunctionError::arg(
            1 + max_used,
            format!(
                "Invalid value for \"args\" parameter: too many arguments; only {max_used} used by format string."
            ),
        ));
    }
    Ok(out)
}

/// `%v` text: strings as they are, numbers in plain decimal, collections as JSON.
fn display_value(v: &Value) -> String {
    match &v.kind {
        Kind::String(s) => s.clone(),
        Kind::Number(n) => n.to_string(),
        Kind::Bool(b) => b.to_string(),
        Kind::Null(_) => "null".into(),
        _ => super::encoding::json_encode(v),
    }
}

fn truncate(s: &str, precision: Option<usize>) -> String {
    // A zero precision is the same as none for strings.
    match precision {
        Some(p) if p > 0 => s.graphemes(true).take(p).collect(),
        _ => s.to_string(),
    }
}

/// Pads to the width (in grapheme clusters); numbers zero-pad after their sign.
fn pad(s: &str, spec: &Spec, numeric: bool) -> String {
    let len = s.graphemes(true).count();
    let Some(width) = spec.width.filter(|w| *w > len) else {
        return s.to_string();
    };
    let fill = width - len;
    if spec.minus {
        return format!("{s}{}", " ".repeat(fill));
    }
    if spec.zero {
        if numeric && let Some(first) = s.chars().next().filter(|c| "+- ".contains(*c)) {
            return format!("{first}{}{}", "0".repeat(fill), &s[1..]);
        }
        return format!("{}{s}", "0".repeat(fill));
    }
    format!("{}{s}", " ".repeat(fill))
}

fn sign_prefix(negative: bool, spec: &Spec) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn format_integer(n: &Number, verb: char, spec: &Spec) -> String {
    let (int, _) = n
        .to_big_decimal()
        .unwrap_or_default()
        .with_scale_round(0, RoundingMode::Down)
        .as_bigint_and_exponent();
    let negative = int.sign() == Sign::Minus;
    let magnitude = if negative { -int } else { int };
    let (radix, prefix) = match verb {
        'b' => (2, "0b"),
        'o' => (8, "0"),
        'x' => (16, "0x"),
        'X' => (16, "0X"),
        _ => (10, ""),
    };
    let mut digits = magnitude.to_str_radix(radix);
    if verb == 'X' {
        digits = digits.to_uppercase();
    }
    if let Some(p) = spec.precision
        && digits.len() < p
    {
        digits = format!("{}{digits}", "0".repeat(p - digits.len()));
    }
    let prefix = if spec.sharp { prefix } else { "" };
    let s = format!("{}{prefix}{digits}", sign_prefix(negative, spec));
    pad(&s, spec, true)
}

/// The significant digits of `d` (no leading or trailing zeros) and the decimal point
/// position: the value is `0.DIGITS × 10^dp`.
fn decimal_digits(d: &BigDecimal) -> (String, i64) {
    let (int, scale) = d.normalized().as_bigint_and_exponent();
    let digits = int.magnitude().to_string();
    if digits == "0" {
        return (String::new(), 0);
    }
    let trimmed = digits.trim_end_matches('0');
    let dp = digits.len() as i64 - scale;
    (trimmed.to_string(), dp)
}

fn round_sig(d: &BigDecimal, sig: u64) -> BigDecimal {
    match NonZeroU64::new(sig) {
        Some(sig) if !d.is_zero_value() => d.with_precision_round(sig, RoundingMode::HalfEven),
        _ => d.clone(),
    }
}

trait IsZero {
    fn is_zero_value(&self) -> bool;
}
impl IsZero for BigDecimal {
    fn is_zero_value(&self) -> bool {
        self.sign() == Sign::NoSign
    }
}

fn exp_text(exp: i64, upper: bool) -> String {
    let e = if upper { 'E' } else { 'e' };
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{e}{sign}{:02}", exp.abs())
}

/// `d.ddd e±XX` from digits/dp with `decimals` digits after the point.
fn fmt_e(digits: &str, dp: i64, decimals: usize, upper: bool, sharp: bool) -> String {
    let mut ds: String = digits.to_string();
    if ds.is_empty() {
        ds.push('0');
    }
    while ds.len() < decimals + 1 {
        ds.push('0');
    }
    let exp = if digits.is_empty() { 0 } else { dp - 1 };
    let mut s = ds[..1].to_string();
    if decimals > 0 || sharp {
        s.push('.');
        s.push_str(&ds[1..decimals + 1]);
    }
    s + &exp_text(exp, upper)
}

/// Plain decimal from digits/dp with `decimals` digits after the point.
fn fmt_f(digits: &str, dp: i64, decimals: usize) -> String {
    let mut int_part = String::new();
    let mut frac = String::new();
    for i in 0..dp.max(1) {
        int_part.push(if i >= 0 && i < dp {
            digit_at(digits, i)
        } else {
            '0'
        });
    }
    for i in 0..decimals as i64 {
        frac.push(digit_at(digits, dp + i));
    }
    let int_part = if dp <= 0 { "0".to_string() } else { int_part };
    if decimals > 0 {
        format!("{int_part}.{frac}")
    } else {
        int_part
    }
}

fn digit_at(digits: &str, i: i64) -> char {
    if i < 0 {
        return '0';
    }
    digits
        .as_bytes()
        .get(i as usize)
        .map(|b| *b as char)
        .unwrap_or('0')
}

fn format_float(n: &Number, verb: char, spec: &Spec) -> String {
    let Some(d) = n.to_big_decimal() else {
        // Infinities, as Go prints them: a sign always (a space with the space flag), and
        // never zero padding.
        let sign = if n.is_negative() {
            "-"
        } else if spec.space && !spec.plus {
            " "
        } else {
            "+"
        };
        return pad(
            &format!("{sign}Inf"),
            &Spec {
                zero: false,
                ..*spec
            },
            false,
        );
    };
    // Go prints negative zero with its sign (`-0.000000`).
    let negative = n.is_sign_negative();
    let abs = d.abs();
    let upper = verb.is_ascii_uppercase();
    let body = match verb {
        'f' => {
            let prec = spec.precision.unwrap_or(6);
            let r = abs.with_scale_round(prec as i64, RoundingMode::HalfEven);
            let (digits, dp) = decimal_digits(&r);
            let mut s = fmt_f(&digits, dp, prec);
            if spec.sharp && prec == 0 {
                s.push('.');
            }
            s
        }
        'e' | 'E' => {
            let prec = spec.precision.unwrap_or(6);
            let r = round_sig(&abs, prec as u64 + 1);
            let (digits, dp) = decimal_digits(&r);
            fmt_e(&digits, dp, prec, upper, spec.sharp)
        }
        _ => {
            // %g: as Go's strconv, shortest digits unless a precision is given.
            let (digits, dp, eprec, prec) = match spec.precision {
                // Without a precision, the shortest digits that read back as the number.
                None => {
                    let shortest = n.to_shortest_big_decimal().unwrap_or_default().abs();
                    let (digits, dp) = decimal_digits(&shortest);
                    let nd = digits.len() as i64;
                    (digits, dp, 6, nd)
                }
                Some(p) => {
                    let p = p.max(1) as i64;
                    let (digits, dp) = decimal_digits(&round_sig(&abs, p as u64));
                    let nd = digits.len() as i64;
                    let eprec = if p > nd && nd >= dp { nd } else { p };
                    (digits, dp, eprec, p)
                }
            };
            let nd = digits.len() as i64;
            if digits.is_empty() {
                "0".to_string()
            } else {
                let exp = dp - 1;
                if exp < -4 || exp >= eprec {
                    let prec = prec.min(nd);
                    fmt_e(&digits, dp, (prec - 1).max(0) as usize, upper, false)
                } else {
                    let prec = if prec > dp { nd } else { prec };
                    fmt_f(&digits, dp, (prec - dp).max(0) as usize)
                }
            }
        }
    };
    let s = format!("{}{body}", sign_prefix(negative, spec));
    pad(&s, spec, true)
}

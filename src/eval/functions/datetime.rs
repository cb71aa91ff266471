//! Date and time functions: formatdate timeadd timecmp timestamp.
//!
//! Timestamps are RFC 3339 strings; `timestamp` reads the clock through the [`Environment`].

use brick_provider_api::{Type, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::{FunctionError, Registry, Result, func, p, text};
use crate::eval::Environment;

type Env<'a> = &'a dyn Environment;

pub(super) fn register(r: &mut Registry) {
    r.insert(
        "formatdate",
        func(
            vec![p("format", Type::String), p("time", Type::String)],
            Type::String,
            formatdate,
        ),
    );
    r.insert(
        "timeadd",
        func(
            vec![p("timestamp", Type::String), p("duration", Type::String)],
            Type::String,
            timeadd,
        ),
    );
    r.insert(
        "timecmp",
        func(
            vec![
                p("timestamp_a", Type::String),
                p("timestamp_b", Type::String),
            ],
            Type::Number,
            timecmp,
        ),
    );
    r.insert("timestamp", func(vec![], Type::String, timestamp));
}

/// Parses an RFC 3339 timestamp; the error names the parameter as Terraform does.
pub(crate) fn parse_timestamp(s: &str, arg: usize, param: &str) -> Result<OffsetDateTime> {
    // Go's RFC 3339 parser wants an upper-case `Z`.
    let parsed = if s.ends_with('z') || !matches!(s.as_bytes().get(10), Some(b'T' | b't')) {
        OffsetDateTime::parse("", &Rfc3339)
    } else {
        OffsetDateTime::parse(s, &Rfc3339)
    };
    // Go refuses a leap second (60), which the time crate reads as 59.
    let leap = s
        .get(17..19)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u8>().ok())
        .is_some_and(|sec| sec >= 60);
    let parsed = if leap {
        OffsetDateTime::parse("", &Rfc3339)
    } else {
        parsed
    };
    parsed.map_err(|e| {
        let year_ok = s.len() >= 4 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit);
        let why = if leap {
            format!("cannot use {:?} as second", &s[19..])
        } else if !year_ok {
            format!("cannot use {s:?} as year")
        } else if s.ends_with('z') {
            "cannot use \"z\" as UTC offset".to_string()
        } else if !s.contains('T') && !s.contains('t') {
            "missing required time introducer 'T'".to_string()
        } else {
            e.to_string()
        };
        FunctionError::arg(
            arg,
            format!(
                "Invalid value for \"{param}\" parameter: not a valid RFC3339 timestamp: {why}."
            ),
        )
    })
}

/// RFC 3339 without fractional seconds, `Z` for UTC, as Go's `time.RFC3339`.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        offset_text(t.offset(), true, "Z")
    )
}

fn offset_text(o: UtcOffset, colon: bool, utc: &str) -> String {
    if o.is_utc() {
        return utc.to_string();
    }
    let secs = o.whole_seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.abs();
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn formatdate(a: &[Value], _: Env) -> Result<Value> {
    let fmt = text(&a[0]);
    let t = parse_timestamp(text(&a[1]), 1, "time")?;
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // Quoted literal; '' is a literal quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => {
                        return Err(FunctionError::arg(
                            0,
                            "Invalid value for \"format\" parameter: unterminated literal '.",
                        ));
                    }
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => {
                        out.push('\'');
                        j += 2;
                    }
                    Some('\'') => break,
                    Some(ch) => {
                        out.push(*ch);
                        j += 1;
                    }
                }
            }
            i = j + 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let token: String = chars[i..j].iter().collect();
        i = j;
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let piece = match token.as_str() {
            "YYYY" => format!("{:04}", t.year()),
            "YY" => format!("{:02}", t.year().rem_euclid(100)),
            "MMMM" => MONTHS[u8::from(t.month()) as usize - 1].to_string(),
            "MMM" => MONTHS[u8::from(t.month()) as usize - 1][..3].to_string(),
            "MM" => format!("{:02}", u8::from(t.month())),
            "M" => u8::from(t.month()).to_string(),
            "DD" => format!("{:02}", t.day()),
            "D" => t.day().to_string(),
            "EEEE" => t.weekday().to_string(),
            "EEE" => t.weekday().to_string()[..3].to_string(),
            "hh" => format!("{:02}", t.hour()),
            "h" => t.hour().to_string(),
            "HH" => format!("{hour12:02}"),
            "H" => hour12.to_string(),
            "AA" => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
            "aa" => if t.hour() < 12 { "am" } else { "pm" }.to_string(),
            "mm" => format!("{:02}", t.minute()),
            "m" => t.minute().to_string(),
            "ss" => format!("{:02}", t.second()),
            "s" => t.second().to_string(),
            "ZZZZZ" => offset_text(t.offset(), true, "+00:00"),
            "ZZZZ" => offset_text(t.offset(), false, "+0000"),
            "ZZZ" => offset_text(t.offset(), false, "UTC"),
            "Z" => offset_text(t.offset(), true, "Z"),
            other => {
                let why = match c {
                    'Y' => ": year must either be \"YY\" or \"YYYY\"",
                    'M' => ": month must be \"M\", \"MM\", \"MMM\", or \"MMMM\"",
                    'D' => ": day of month must either be \"D\" or \"DD\"",
                    'E' => ": day of week must either be \"EEE\" or \"EEEE\"",
                    'h' | 'H' => ": hour must either be one or two letters",
                    'm' => ": minute must either be \"m\" or \"mm\"",
                    's' => ": second must either be \"s\" or \"ss\"",
                    _ => "",
                };
                return Err(FunctionError::arg(
                    0,
                    format!(
                        "Invalid value for \"format\" parameter: invalid date format verb {other:?}{why}."
                    ),
                ));
            }
        };
        out.push_str(&piece);
    }
    Ok(Value::string(out))
}

/// Parses a Go duration string (`1h30m`, `-2.5s`, `100ms`) into nanoseconds.
pub(crate) fn parse_duration(s: &str) -> std::result::Result<i128, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    let mut exact: i128 = 0;
    let mut all_exact = true;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {s:?}")),
        };
        match num.parse::<i128>() {
            Ok(n) => {
                exact = exact
                    .checked_add(n.checked_mul(scale).ok_or_else(invalid)?)
                    .ok_or_else(invalid)?
            }
            Err(_) => {
                all_exact = false;
                total += num.parse::<f64>().map_err(|_| invalid())? * scale as f64;
            }
        }
    }
    let ns = if all_exact {
        exact
    } else {
        exact + total.trunc() as i128
    };
    Ok(if negative { -ns } else { ns })
}

fn timeadd(a: &[Value], _: Env) -> Result<Value> {
    let t = parse_timestamp(text(&a[0]), 0, "timestamp").map_err(|e| {
        let msg = e
            .message
            .replacen("Invalid value for \"timestamp\" parameter: ", "", 1);
        FunctionError::call(msg)
    })?;
    let ns = parse_duration(text(&a[1])).map_err(|e| FunctionError::call(format!("{e}.")))?;
    // Beyond ±10^20 ns (about 3,000 years) no timestamp stays in range.
    if ns.unsigned_abs() > 100_000_000_000_000_000_000 {
        return Err(FunctionError::call("the resulting time is out of range."));
    }
    let d = Duration::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i32);
    let r = t
        .checked_add(d)
        .ok_or_else(|| FunctionError::call("the resulting time is out of range."))?;
    Ok(Value::string(rfc3339(r)))
}

fn timecmp(a: &[Value], _: Env) -> Result<Value> {
    let x = parse_timestamp(text(&a[0]), 0, "timestamp_a")?;
    let y = parse_timestamp(text(&a[1]), 1, "timestamp_b")?;
    Ok(Value::number(match x.cmp(&y) {
        std::cmp::Ordering::Less => -1,
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1,
    }))
}

fn timestamp(_: &[Value], env: Env) -> Result<Value> {
    let (secs, nanos) = env.now();
    let t = OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| FunctionError::call("the clock is out of range."))?
        + Duration::nanoseconds(nanos as i64);
    Ok(Value::string(rfc3339(t)))
}

//! String functions: chomp endswith format formatlist indent join lower regex regexall replace
//! split startswith strcontains strrev substr title trim trimprefix trimsuffix trimspace upper.
//!
//! Lengths and offsets count Unicode grapheme clusters, as Terraform does.

use std::collections::BTreeMap;

use brick_provider_api::{Type, Value};
use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

use super::{FunctionError, Registry, Result, elements, func, integer, list_string, p, text};
use crate::eval::Environment;

type Env<'a> = &'a dyn Environment;

pub(super) fn register(r: &mut Registry) {
    let s = || p("str", Type::String);
    r.insert("chomp", func(vec![s()], Type::String, chomp));
    r.insert(
        "endswith",
        func(vec![s(), p("suffix", Type::String)], Type::Bool, endswith),
    );
    r.insert(
        "startswith",
        func(vec![s(), p("prefix", Type::String)], Type::Bool, startswith),
    );
    r.insert(
        "strcontains",
        func(
            vec![s(), p("substr", Type::String)],
            Type::Bool,
            strcontains,
        ),
    );
    r.insert(
        "indent",
        func(vec![p("spaces", Type::Number), s()], Type::String, indent),
    );
    r.insert(
        "join",
        func(vec![p("separator", Type::String)], Type::String, join)
            .variadic(p("lists", Type::list(Type::String))),
    );
    r.insert("lower", func(vec![s()], Type::String, lower));
    r.insert("upper", func(vec![s()], Type::String, upper));
    r.insert(
        "regex",
        func(
            vec![p("pattern", Type::String), p("string", Type::String)],
            Type::Dynamic,
            regex_fn,
        )
        .ret_from(regex_ret),
    );
    r.insert(
        "regexall",
        func(
            vec![p("pattern", Type::String), p("string", Type::String)],
            Type::Dynamic,
            regexall,
        )
        .ret_from(|a| Type::list(regex_ret(a))),
    );
    r.insert(
        "replace",
        func(
            vec![s(), p("substr", Type::String), p("replace", Type::String)],
            Type::String,
            replace,
        ),
    );
    r.insert(
        "split",
        func(
            vec![p("separator", Type::String), s()],
            Type::list(Type::String),
            split,
        ),
    );
    r.insert("strrev", func(vec![s()], Type::String, strrev));
    r.insert(
        "substr",
        func(
            vec![s(), p("offset", Type::Number), p("length", Type::Number)],
            Type::String,
            substr,
        ),
    );
    r.insert("title", func(vec![s()], Type::String, title));
    r.insert(
        "trim",
        func(vec![s(), p("cutset", Type::String)], Type::String, trim),
    );
    r.insert(
        "trimprefix",
        func(
            vec![s(), p("prefix", Type::String)],
            Type::String,
            trimprefix,
        ),
    );
    r.insert(
        "trimsuffix",
        func(
            vec![s(), p("suffix", Type::String)],
            Type::String,
            trimsuffix,
        ),
    );
    r.insert("trimspace", func(vec![s()], Type::String, trimspace));
    super::format::register(r);
}

fn chomp(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]).trim_end_matches(['\n', '\r']);
    Ok(Value::string(s))
}

fn endswith(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::bool(text(&a[0]).ends_with(text(&a[1]))))
}

fn startswith(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::bool(text(&a[0]).starts_with(text(&a[1]))))
}

fn strcontains(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::bool(text(&a[0]).contains(text(&a[1]))))
}

fn indent(a: &[Value], _: Env) -> Result<Value> {
    let n = integer(&a[0]).map_err(|e| FunctionError::call(format!("{e}.")))?;
    if n < 0 {
        return Err(FunctionError::arg(
            0,
            "Invalid value for \"spaces\" parameter: the number of spaces must not be negative.",
        ));
    }
    if n > 100_000 {
        return Err(FunctionError::arg(
            0,
            "Invalid value for \"spaces\" parameter: the number of spaces must not be more than 100000.",
        ));
    }
    let n = n as usize;
    let pad = format!("\n{}", " ".repeat(n));
    Ok(Value::string(text(&a[1]).replace('\n', &pad)))
}

fn join(a: &[Value], _: Env) -> Result<Value> {
    if a.len() < 2 {
        return Err(FunctionError::call("at least one list is required."));
    }
    let mut parts = Vec::new();
    let mut index = 0;
    for list in &a[1..] {
        for item in elements(list) {
            if item.is_null() {
                return Err(FunctionError::arg(
                    1,
                    format!(
                        "Invalid value for \"lists\" parameter: element {index} is null; cannot concatenate null values."
                    ),
                ));
            }
            parts.push(text(item));
            index += 1;
        }
    }
    Ok(Value::string(parts.join(text(&a[0]))))
}

/// Go's rune-by-rune simple case mapping: a character whose case mapping is several
/// characters (`ß` → `SS`) stays as it is, and there is no context (no final sigma).
pub(crate) fn upper_char(c: char) -> char {
    // Greek letters with ypogegrammeni have a full upper-case mapping of two letters but a
    // simple one (Go's, Terraform's) to the prosgegrammeni form.
    if let Some(u) = ypogegrammeni_simple_upper(c) {
        return u;
    }
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn ypogegrammeni_simple_upper(c: char) -> Option<char> {
    let u = match c as u32 {
        0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7 => c as u32 + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => return None,
    };
    char::from_u32(u)
}

/// Unicode's simple title-case mapping (Go's `unicode.ToTitle`): the upper-case letter except
/// for the digraphs DŽ, LJ, NJ and DZ, whose title case is a capital followed by a small letter.
fn title_char(c: char) -> char {
    match c {
        '\u{01C4}'..='\u{01C6}' => '\u{01C5}',
        '\u{01C7}'..='\u{01C9}' => '\u{01C8}',
        '\u{01CA}'..='\u{01CC}' => '\u{01CB}',
        '\u{01F1}'..='\u{01F3}' => '\u{01F2}',
        _ => upper_char(c),
    }
}

fn lower_char(c: char) -> char {
    // Only U+0130 lowercases to several characters; its simple mapping is `i`.
    c.to_lowercase().next().unwrap_or(c)
}

fn lower(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(
        text(&a[0]).chars().map(lower_char).collect::<String>(),
    ))
}

fn upper(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(
        text(&a[0]).chars().map(upper_char).collect::<String>(),
    ))
}

/// Compiles a pattern for `regex`/`regexall`, rejecting a mix of named and unnamed groups.
fn compile(pattern: &str) -> Result<Regex> {
    let re = Regex::new(pattern).map_err(|e| {
        FunctionError::arg(
            0,
            format!(
                "Invalid value for \"pattern\" parameter: invalid regexp pattern: {}.",
                e.to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .trim_start_matches("error: ")
            ),
        )
    })?;
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.iter().any(Option::is_some) && names.iter().any(Option::is_none) {
        return Err(FunctionError::arg(
            0,
            "Invalid value for \"pattern\" parameter: invalid regexp pattern: cannot mix both named and unnamed capture groups.",
        ));
    }
    Ok(re)
}

fn regex_ret(a: &[Value]) -> Type {
    let Some(pattern) = a[0].as_str() else {
        return Type::Dynamic;
    };
    match Regex::new(pattern) {
        Ok(re) => match_type(&re),
        Err(_) => Type::Dynamic,
    }
}

fn match_type(re: &Regex) -> Type {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        Type::String
    } else if names.iter().all(Option::is_some) {
        Type::object(names.iter().flatten().map(|n| (*n, Type::String)))
    } else {
        Type::Tuple(vec![Type::String; names.len()])
    }
}

fn captures_value(re: &Regex, caps: &regex::Captures<'_>) -> Value {
    let group = |i: usize| {
        caps.get(i)
            .map(|m| Value::string(m.as_str()))
            .unwrap_or(Value::null(Type::String))
    };
    let names: Vec<Option<&str>> = re.capture_names().collect();
    if names.len() == 1 {
        return group(0);
    }
    if names[1..].iter().all(Option::is_some) {
        let attrs: BTreeMap<String, Value> = names
            .iter()
            .enumerate()
            .skip(1)
            .filter_map(|(i, n)| n.map(|n| (n.to_string(), group(i))))
            .collect();
        return Value::object(attrs);
    }
    Value::tuple((1..names.len()).map(group).collect())
}

fn regex_fn(a: &[Value], _: Env) -> Result<Value> {
    let re = compile(text(&a[0]))?;
    let caps = re.captures(text(&a[1])).ok_or_else(|| {
        FunctionError::call("pattern did not match any part of the given string.")
    })?;
    Ok(captures_value(&re, &caps))
}

fn regexall(a: &[Value], _: Env) -> Result<Value> {
    let re = compile(text(&a[0]))?;
    let items: Vec<Value> = re
        .captures_iter(text(&a[1]))
        .map(|c| captures_value(&re, &c))
        .collect();
    Ok(Value::list(match_type(&re), items))
}

fn replace(a: &[Value], _: Env) -> Result<Value> {
    let (s, sub, rep) = (text(&a[0]), text(&a[1]), text(&a[2]));
    if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
        let re = Regex::new(&sub[1..sub.len() - 1]).map_err(|e| {
            FunctionError::arg(
                1,
                format!(
                    "Invalid value for \"substr\" parameter: invalid regular expression: {}.",
                    e.to_string().lines().last().unwrap_or_default().trim()
                ),
            )
        })?;
        return Ok(Value::string(re.replace_all(s, rep).into_owned()));
    }
    if sub.is_empty() {
        // Go's strings.Replace inserts at every rune boundary.
        let mut out = String::from(rep);
        for c in s.chars() {
            out.push(c);
            out.push_str(rep);
        }
        return Ok(Value::string(out));
    }
    Ok(Value::string(s.replace(sub, rep)))
}

fn split(a: &[Value], _: Env) -> Result<Value> {
    let (sep, s) = (text(&a[0]), text(&a[1]));
    let parts: Vec<String> = if sep.is_empty() {
        s.chars().map(String::from).collect()
    } else {
        s.split(sep).map(String::from).collect()
    };
    Ok(list_string(parts))
}

fn strrev(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(
        text(&a[0]).graphemes(true).rev().collect::<String>(),
    ))
}

fn substr(a: &[Value], _: Env) -> Result<Value> {
    let g: Vec<&str> = text(&a[0]).graphemes(true).collect();
    let len = g.len() as i64;
    let mut offset = integer(&a[1]).map_err(|e| FunctionError::call(format!("{e}.")))?;
    let length = integer(&a[2]).map_err(|e| FunctionError::call(format!("{e}.")))?;
    // As Terraform: a zero length is an empty result, except after a negative offset, where
    // it reads to the end like a negative length.
    if offset < 0 {
        offset = (len + offset).max(0);
    } else if length == 0 {
        return Ok(Value::string(""));
    }
    if offset >= len {
        return Ok(Value::string(""));
    }
    let end = if length <= 0 {
        len
    } else {
        (offset.saturating_add(length)).min(len)
    };
    Ok(Value::string(g[offset as usize..end as usize].concat()))
}

fn title(a: &[Value], _: Env) -> Result<Value> {
    // As Go's strings.Title: a letter following a separator is upper-cased. ASCII letters,
    // digits and underscores are not separators, other ASCII is; beyond ASCII only spaces
    // are (so the `x` of "😀x" stays lower case).
    let mut out = String::new();
    let mut prev_sep = true;
    for c in text(&a[0]).chars() {
        if prev_sep {
            out.push(title_char(c));
        } else {
            out.push(c);
        }
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    Ok(Value::string(out))
}

fn trim(a: &[Value], _: Env) -> Result<Value> {
    let cutset: Vec<char> = text(&a[1]).chars().collect();
    Ok(Value::string(text(&a[0]).trim_matches(&cutset[..])))
}

fn trimprefix(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    Ok(Value::string(s.strip_prefix(text(&a[1])).unwrap_or(s)))
}

fn trimsuffix(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    Ok(Value::string(s.strip_suffix(text(&a[1])).unwrap_or(s)))
}

fn trimspace(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(text(&a[0]).trim()))
}

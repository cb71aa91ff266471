//! Encoding functions: base64decode base64encode csvdecode jsondecode jsonencode
//! textdecodebase64 textencodebase64 urlencode yamldecode yamlencode.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use brick_provider_api::value::Kind;
use brick_provider_api::{Number, Type, Value};

use super::{FunctionError, Registry, Result, func, p, text};
use crate::eval::Environment;

type Env<'a> = &'a dyn Environment;

pub(super) fn register(r: &mut Registry) {
    let s = || p("str", Type::String);
    r.insert("base64decode", func(vec![s()], Type::String, base64decode));
    r.insert("base64encode", func(vec![s()], Type::String, base64encode));
    r.insert(
        "csvdecode",
        func(vec![s()], Type::Dynamic, csvdecode).ret_from(|_| Type::list(Type::Dynamic)),
    );
    r.insert("jsondecode", func(vec![s()], Type::Dynamic, jsondecode));
    r.insert(
        "jsonencode",
        func(
            vec![p("val", Type::Dynamic).null_ok()],
            Type::String,
            jsonencode,
        ),
    );
    r.insert(
        "textdecodebase64",
        func(
            vec![p("source", Type::String), p("encoding", Type::String)],
            Type::String,
            textdecodebase64,
        ),
    );
    r.insert(
        "textencodebase64",
        func(
            vec![p("string", Type::String), p("encoding", Type::String)],
            Type::String,
            textencodebase64,
        ),
    );
    r.insert("urlencode", func(vec![s()], Type::String, urlencode));
    r.insert(
        "yamldecode",
        func(vec![p("src", Type::String)], Type::Dynamic, yamldecode),
    );
    r.insert(
        "yamlencode",
        func(
            vec![p("value", Type::Dynamic).null_ok()],
            Type::String,
            yamlencode,
        ),
    );
}

// ---- base64 -----------------------------------------------------------------------------

fn base64decode(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    // Line breaks inside base64 text are ignored, as Go's decoder does.
    let compact: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    let bytes = STANDARD
        .decode(&compact)
        .map_err(|_| FunctionError::call(format!("failed to decode base64 data {s:?}.")))?;
    String::from_utf8(bytes).map(Value::string).map_err(|_| {
        FunctionError::call("the result of decoding the provided string is not valid UTF-8.")
    })
}

fn base64encode(a: &[Value], _: Env) -> Result<Value> {
    Ok(Value::string(STANDARD.encode(text(&a[0]))))
}

fn encoding_for(name: &str, arg: usize) -> Result<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_label(name.trim().as_bytes()).ok_or_else(|| {
        FunctionError::arg(
            arg,
            format!(
                                "Invalid value for \"encoding\" parameter: {name:?} is not a supported IANA encoding name or alias in this version of brick."
            ),
        )
    })
}

fn textencodebase64(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    let enc = encoding_for(text(&a[1]), 1)?;
    let bytes: Vec<u8> = if enc == encoding_rs::UTF_16LE {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    } else if enc == encoding_rs::UTF_16BE {
        s.encode_utf16().flat_map(u16::to_be_bytes).collect()
    } else {
        let (out, _, unmappable) = enc.encode(s);
        if unmappable {
            return Err(FunctionError::arg(
                0,
                format!(
                    "Invalid value for \"string\" parameter: the given string contains characters that cannot be represented in {}.",
                    enc.name()
                ),
            ));
        }
        out.into_owned()
    };
    Ok(Value::string(STANDARD.encode(bytes)))
}

fn textdecodebase64(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    let enc = encoding_for(text(&a[1]), 1)?;
    let bytes = STANDARD.decode(s).map_err(|_| {
        let offset = s
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='))
            .unwrap_or(s.len());
        FunctionError::arg(
            0,
            format!("Invalid value for \"source\" parameter: the given value is has an invalid base64 symbol at offset {offset}."),
        )
    })?;
    let (out, _, had_errors) = enc.decode(&bytes);
    if had_errors {
        return Err(FunctionError::arg(
            0,
            format!(
                "Invalid value for \"source\" parameter: the given string contains symbols that are not defined for {}.",
                enc.name()
            ),
        ));
    }
    Ok(Value::string(out.into_owned()))
}

fn urlencode(a: &[Value], _: Env) -> Result<Value> {
    let mut out = String::new();
    for b in text(&a[0]).bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::string(out))
}

// ---- JSON -------------------------------------------------------------------------------

/// A JSON string literal as Go's encoder writes it: `<`, `>`, `&`, U+2028 and U+2029
/// escaped as `\u003c` etc.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Terraform's `jsonencode` of a known value (unknown parts encode as `null`).
pub(crate) fn json_encode(v: &Value) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

fn write_json(v: &Value, out: &mut String) {
    match &v.kind {
        Kind::Null(_) | Kind::Unknown(_) => out.push_str("null"),
        Kind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Kind::Number(n) => out.push_str(&n.to_string()),
        Kind::String(s) => out.push_str(&json_string(s)),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json_string(k));
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

fn jsonencode(a: &[Value], _: Env) -> Result<Value> {
    super::check_depth(&a[0], 0)?;
    if contains_infinity(&a[0]) {
        return Err(FunctionError::call("cannot serialize infinity as JSON."));
    }
    Ok(Value::string(json_encode(&a[0])))
}

/// Whether `+Inf` or `-Inf` appears anywhere in `v` (JSON has no notation for them).
fn contains_infinity(v: &Value) -> bool {
    match &v.kind {
        Kind::Number(n) => n.is_infinite(),
        _ => v.children().any(contains_infinity),
    }
}

/// Converts parsed JSON into a value: objects become objects, arrays tuples.
pub(crate) fn from_json(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::null_dynamic(),
        serde_json::Value::Bool(b) => Value::bool(*b),
        serde_json::Value::Number(n) => Number::parse(&n.to_string())
            .map(Value::number)
            .unwrap_or_else(Value::null_dynamic),
        serde_json::Value::String(s) => Value::string(s.clone()),
        serde_json::Value::Array(items) => Value::tuple(items.iter().map(from_json).collect()),
        serde_json::Value::Object(m) => Value::object(
            m.iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// `s` with every `\\u` escape of a lone UTF-16 surrogate inside a JSON string replaced by
/// `\\ufffd`, as Go's decoder reads them (serde_json refuses them).
fn replace_lone_surrogates(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains("\\u") {
        return std::borrow::Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let hex_at = |i: usize| -> Option<u32> {
        if b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'u') {
            s.get(i + 2..i + 6)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
        } else {
            None
        }
    };
    let mut out = String::with_capacity(s.len());
    let (mut i, mut last, mut in_string) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                if let Some(u) = hex_at(i) {
                    let high = (0xD800..0xDC00).contains(&u);
                    let low = |v: Option<u32>| v.is_some_and(|v| (0xDC00..0xE000).contains(&v));
                    if high && low(hex_at(i + 6)) {
                        i += 12;
                        continue;
                    }
                    if high || low(Some(u)) {
                        out.push_str(&s[last..i]);
                        out.push_str("\\ufffd");
                        last = i + 6;
                    }
                    i += 6;
                    continue;
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    std::borrow::Cow::Owned(out)
}

fn jsondecode(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    let fixed = replace_lone_surrogates(s);
    let j: serde_json::Value = serde_json::from_str(&fixed)
        .map_err(|e| FunctionError::call(format!("{}.", json_error(&e, s))))?;
    Ok(from_json(&j))
}

/// Words a JSON syntax error as Go's decoder (and so Terraform) does.
fn json_error(e: &serde_json::Error, s: &str) -> String {
    if s.trim().is_empty() {
        return "EOF".to_string();
    }
    if e.is_eof() {
        return if json_ends_inside_scalar(s) {
            "unexpected EOF".to_string()
        } else {
            "EOF".to_string()
        };
    }
    let msg = e.to_string();
    let what = msg.split(" at line ").next().unwrap_or(&msg);
    let at = s
        .lines()
        .nth(e.line().saturating_sub(1))
        .and_then(|l| l.chars().nth(e.column().saturating_sub(1)))
        .unwrap_or(' ');
    match what {
        "trailing characters" | "invalid number" => "extraneous data after JSON object".into(),
        "expected value" => format!("invalid character '{at}' looking for beginning of value"),
        "trailing comma" if at == '}' => {
            format!("invalid character '{at}' looking for beginning of object key string")
        }
        "trailing comma" => format!("invalid character '{at}' looking for beginning of value"),
        "key must be a string" => format!("invalid character '{at}'"),
        "expected `:`" => format!("invalid character '{at}' after object key"),
        "expected `,` or `]`" => format!("invalid character '{at}' after array element"),
        "expected `,` or `}`" => format!("invalid character '{at}' after object key:value pair"),
        "invalid escape" => format!("invalid character '{at}' in string escape code"),
        "expected ident" => format!("invalid character '{at}' in literal"),
        other => other.to_string(),
    }
}

/// Whether JSON text stops in the middle of a string or a literal (`nul`), which Go reports
/// as "unexpected EOF" rather than "EOF".
fn json_ends_inside_scalar(s: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for c in s.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        }
    }
    in_string || s.trim_end().ends_with(|c: char| c.is_ascii_alphabetic())
}

// ---- CSV --------------------------------------------------------------------------------

/// Parses RFC 4180 CSV: quoted fields with `""` escapes, CRLF or LF line ends.
fn parse_csv(s: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut line = 1;
    let mut in_row = false;
    while let Some(c) = chars.next() {
        in_row = true;
        match c {
            '"' if field.is_empty() => {
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c)
                        }
                        None => {
                            return Err(format!(
                                "CSV parse error on line {line}: extraneous or missing \" in quoted-field"
                            ));
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(_) => {
                        return Err(format!(
                            "CSV parse error on line {line}: extraneous or missing \" in quoted-field"
                        ));
                    }
                }
            }
            '"' => {
                return Err(format!(
                    "CSV parse error on line {line}: bare \" in non-quoted-field"
                ));
            }
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                // Empty lines are skipped, as Go's CSV reader does.
                if !(row.is_empty() && field.is_empty()) {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                line += 1;
                in_row = false;
            }
            c => field.push(c),
        }
    }
    if in_row {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

fn csvdecode(a: &[Value], _: Env) -> Result<Value> {
    let rows = parse_csv(text(&a[0])).map_err(FunctionError::call)?;
    let Some((header, records)) = rows.split_first() else {
        return Err(FunctionError::call("missing header line."));
    };
    let mut seen = std::collections::BTreeSet::new();
    for h in header {
        if !seen.insert(h) {
            return Err(FunctionError::call(format!("duplicate column name {h:?}.")));
        }
    }
    let ty = Type::object(header.iter().map(|h| (h.clone(), Type::String)));
    let mut out = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        if rec.len() != header.len() {
            return Err(FunctionError::call(format!(
                "CSV parse error on line {}: wrong number of fields.",
                i + 2
            )));
        }
        out.push(Value::object(
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(|f| Value::string(f.clone())))
                .collect(),
        ));
    }
    Ok(Value::list(ty, out))
}

// ---- YAML -------------------------------------------------------------------------------

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Builds values from parser events. Plain scalars are resolved as Terraform's YAML decoder
/// does (YAML 1.1 style: `yes`/`on` are true, `~` is null, `0x1F` is a number, a date becomes
/// an RFC 3339 timestamp string); quoted and block scalars are strings.
#[derive(Default)]
struct YamlBuilder {
    /// The source as characters, to name anchors in messages.
    src: Vec<char>,
    /// Anchors of collections still being built.
    open_anchors: Vec<usize>,
    stack: Vec<Frame>,
    anchors: BTreeMap<usize, Value>,
    documents: Vec<Value>,
    second_document_line: Option<usize>,
    starts: usize,
    error: Option<String>,
}

enum Frame {
    Seq(usize, Vec<Value>),
    Map(usize, BTreeMap<String, Value>, Option<String>),
}

impl YamlBuilder {
    fn push_value(&mut self, v: Value, key_text: Option<String>) {
        match self.stack.last_mut() {
            None => self.documents.push(v),
            Some(Frame::Seq(_, items)) => items.push(v),
            Some(Frame::Map(_, m, pending)) => match pending.take() {
                None if v.is_null() => {
                    self.error = Some("mapping key cannot be null".into());
                }
                None => {
                    let key = key_text.unwrap_or_else(|| match &v.kind {
                        Kind::String(s) => s.clone(),
                        Kind::Null(_) => "null".into(),
                        _ => render_key(&v),
                    });
                    *pending = Some(key);
                }
                Some(k) => {
                    m.insert(k, v);
                }
            },
        }
    }
}

fn render_key(v: &Value) -> String {
    match &v.kind {
        Kind::Bool(b) => b.to_string(),
        Kind::Number(n) => n.to_string(),
        _ => json_encode(v),
    }
}

/// Checks a node's tag: standard YAML tags are accepted, others are not.
fn check_tag(tag: &Option<yaml_rust2::parser::Tag>) -> std::result::Result<Option<String>, String> {
    match tag {
        None => Ok(None),
        Some(t)
            if t.handle == "tag:yaml.org,2002:"
                && matches!(
                    t.suffix.as_str(),
                    "str"
                        | "int"
                        | "float"
                        | "bool"
                        | "null"
                        | "map"
                        | "seq"
                        | "timestamp"
                        | "binary"
                ) =>
        {
            Ok(Some(t.suffix.clone()))
        }
        Some(t) => {
            let shown = if t.handle.is_empty() {
                format!("!{}", t.suffix)
            } else if t.handle == "tag:yaml.org,2002:" {
                format!("!!{}", t.suffix)
            } else {
                format!("{}{}", t.handle, t.suffix)
            };
            Err(format!("unsupported tag {shown:?}"))
        }
    }
}

impl YamlBuilder {
    fn anchor_name_at(&self, index: usize) -> String {
        self.src
            .iter()
            .skip(index)
            .skip_while(|c| **c == '*')
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}'))
            .collect()
    }
}

impl MarkedEventReceiver for YamlBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.starts += 1;
                if self.starts == 2 {
                    self.second_document_line = Some(mark.line());
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = match check_tag(&tag) {
                    Ok(t) => t,
                    Err(e) => {
                        self.error = Some(e);
                        return;
                    }
                };
                let forced_string = tag.as_deref() == Some("str");
                let v = if style == TScalarStyle::Plain && !forced_string {
                    match resolve_plain(&text) {
                        Ok(v) => v,
                        Err(e) => {
                            self.error = Some(e);
                            return;
                        }
                    }
                } else {
                    Value::string(text.clone())
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.push_value(v, Some(text));
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(v) => self.push_value(v, None),
                None if self.open_anchors.contains(&id) => {
                    self.error = Some(format!(
                        "cannot refer to anchor {:?} from inside its own definition",
                        self.anchor_name_at(mark.index())
                    ))
                }
                None => self.error = Some("unknown anchor".into()),
            },
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)
                if check_tag(&tag).is_err() =>
            {
                let _ = anchor;
                self.error = check_tag(&tag).err();
            }
            Event::SequenceStart(..) | Event::MappingStart(..)
                if self.stack.len() >= crate::eval::convert::MAX_DEPTH =>
            {
                self.error = Some(format!(
                    "the document is nested more than {} levels deep",
                    crate::eval::convert::MAX_DEPTH
                ));
            }
            Event::SequenceStart(anchor, _) => {
                self.open_anchors.push(anchor);
                self.stack.push(Frame::Seq(anchor, Vec::new()))
            }
            Event::MappingStart(anchor, _) => {
                self.open_anchors.push(anchor);
                self.stack.push(Frame::Map(anchor, BTreeMap::new(), None))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.open_anchors.pop();
                let (anchor, v) = match self.stack.pop() {
                    Some(Frame::Seq(a, items)) => (a, Value::tuple(items)),
                    Some(Frame::Map(a, m, _)) => (a, Value::object(m)),
                    None => return,
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.push_value(v, None);
            }
            _ => {}
        }
    }
}

fn resolve_plain(s: &str) -> std::result::Result<Value, String> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::null_dynamic()),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Ok(Value::bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Ok(Value::bool(false));
        }
        ".nan" | ".NaN" | ".NAN" => return Err("floating point NaN is not supported".into()),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | "+.Inf" | "-.Inf" | "+.INF" | "-.INF" => {
            return Ok(Value::number(Number::infinity(s.starts_with('-'))));
        }
        _ => {}
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    // Underscores and binary literals are not numbers for Terraform's decoder.
    let clean: String = body.to_string();
    let radix = |digits: &str, base: u32| -> Option<Value> {
        if digits.is_empty() {
            return None;
        }
        let mut acc = bigdecimal::num_bigint::BigInt::from(0);
        for c in digits.chars() {
            acc = acc * base + c.to_digit(base)?;
        }
        if neg {
            acc = -acc;
        }
        Some(Value::number(Number::from_big_decimal(
            bigdecimal::BigDecimal::from(acc),
        )))
    };
    let prefixed = if let Some(h) = clean.strip_prefix("0x") {
        radix(h, 16)
    } else if let Some(o) = clean.strip_prefix("0o") {
        radix(o, 8)
    } else {
        None
    };
    if let Some(v) = prefixed {
        return Ok(v);
    }
    let numeric = !clean.is_empty()
        && clean
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && clean
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.');
    if numeric && let Some(n) = Number::parse(&clean) {
        return Ok(Value::number(if neg { n.neg() } else { n }));
    }
    // A timestamp (`T` or `t` between date and time) is normalized to RFC 3339.
    if s.len() > 10 && matches!(s.as_bytes()[10], b'T' | b't') {
        let upper = format!("{}T{}", &s[..10], &s[11..]);
        if let Ok(t) =
            time::OffsetDateTime::parse(&upper, &time::format_description::well_known::Rfc3339)
        {
            return Ok(Value::string(super::datetime::rfc3339(t)));
        }
    }
    // A date alone is a timestamp at midnight UTC.
    let b = s.as_bytes();
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return Ok(Value::string(format!("{s}T00:00:00Z")));
    }
    Ok(Value::string(s))
}

fn yamldecode(a: &[Value], _: Env) -> Result<Value> {
    let src = text(&a[0]);
    // Terraform's decoder speaks YAML 1.1 and refuses documents declaring another version.
    if let Some(rest) = src.trim_start().strip_prefix("%YAML")
        && rest.split_whitespace().next() != Some("1.1")
    {
        return Err(FunctionError::call("found incompatible YAML document."));
    }
    let mut builder = YamlBuilder {
        src: src.chars().collect(),
        ..YamlBuilder::default()
    };
    let mut parser = Parser::new_from_str(src);
    parser.load(&mut builder, true).map_err(|e| {
        FunctionError::call(format!(
            "on line {}, column {}: {}.",
            e.marker().line(),
            e.marker().col() + 1,
            e.info().trim_start_matches("while parsing a node, ")
        ))
    })?;
    if let Some(e) = builder.error {
        return Err(FunctionError::call(format!("{e}.")));
    }
    match builder.documents.len() {
        0 => Err(FunctionError::call(
            "on line 1, column 1: missing start of document.",
        )),
        1 => Ok(builder.documents.pop().unwrap_or_else(Value::null_dynamic)),
        _ => Err(FunctionError::call(format!(
            "on line {}, column 1: unexpected extra content after value.",
            // Reported at the line before the second document's marker, as Terraform does.
            builder
                .second_document_line
                .unwrap_or(2)
                .saturating_sub(1)
                .max(1)
        ))),
    }
}

/// YAML text for a value as Terraform's `yamlencode` writes it: block style, every string
/// and key double-quoted, multi-line strings as literal blocks.
pub(crate) fn yaml_encode(v: &Value) -> String {
    let mut out = String::new();
    write_yaml_root(v, &mut out);
    out
}

fn yaml_scalar(v: &Value, indent: usize) -> Option<String> {
    Some(match &v.kind {
        Kind::Null(_) | Kind::Unknown(_) => "null".to_string(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(n) => n.to_string(),
        Kind::String(s) => yaml_string(s, indent),
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) if items.is_empty() => {
            "[]".to_string()
        }
        Kind::Map(_, m) | Kind::Object(m) if m.is_empty() => "{}".to_string(),
        _ => return None,
    })
}

/// Whether go-yaml writes this character as it is (its `is_printable`): line feed, printable
/// ASCII, and the Basic Multilingual Plane above U+00A0 except surrogates, U+FEFF and
/// U+FFFE/U+FFFF. Everything else forces double quotes and is escaped.
fn yaml_printable(c: char) -> bool {
    let u = c as u32;
    c == '\n'
        || (0x20..=0x7E).contains(&u)
        || (0xA0..=0xD7FF).contains(&u)
        || ((0xE000..=0xFFFD).contains(&u) && u != 0xFEFF)
}

fn yaml_string(s: &str, indent: usize) -> String {
    // Multi-line strings are literal blocks unless a character needs escaping or a line
    // ends with a space, which a block cannot keep.
    let literal = s.contains('\n')
        && s.chars().all(yaml_printable)
        && !s.contains(" \n")
        && !s.ends_with(' ');
    if !literal {
        return yaml_quoted(s);
    }
    let chomp = if s.ends_with('\n') {
        if s == "\n" || s.ends_with("\n\n") {
            "+"
        } else {
            ""
        }
    } else {
        "-"
    };
    // Content starting with a space or a line break needs an explicit indentation.
    let hint = if s.starts_with(' ') || s.starts_with('\n') {
        "2"
    } else {
        ""
    };
    let pad = " ".repeat(indent + 2);
    let mut out = format!("|{hint}{chomp}");
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

/// A double-quoted YAML string with go-yaml's escapes.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push('\u{a0}'),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if yaml_printable(c) => out.push(c),
            c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn write_yaml_root(v: &Value, out: &mut String) {
    if let Some(s) = yaml_scalar(v, 0) {
        out.push_str(&s);
        out.push('\n');
        // A plain scalar document is closed with an explicit end marker, as go-yaml does.
        if matches!(
            v.kind,
            Kind::Null(_) | Kind::Unknown(_) | Kind::Bool(_) | Kind::Number(_)
        ) {
            out.push_str("...\n");
        }
        return;
    }
    write_yaml_block(v, 0, out);
}

/// Writes a non-empty collection in block style at `indent`, each entry on its own line.
fn write_yaml_block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match &v.kind {
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match yaml_scalar(item, indent) {
                    Some(s) => {
                        out.push(' ');
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        // Nested collections start on the dash's line, indented by two.
                        let mut inner = String::new();
                        write_yaml_block(item, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(inner.trim_start_matches(' '));
                    }
                }
            }
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            for (k, item) in m {
                out.push_str(&pad);
                out.push_str(&yaml_quoted(k));
                out.push(':');
                match yaml_scalar(item, indent) {
                    Some(s) => {
                        out.push(' ');
                        out.push_str(&s);
                        out.push('\n');
                    }
                    None => {
                        out.push('\n');
                        let child =
                            if matches!(item.kind, Kind::List(..) | Kind::Set(..) | Kind::Tuple(_))
                            {
                                indent
                            } else {
                                indent + 2
                            };
                        write_yaml_block(item, child, out);
                    }
                }
            }
        }
        _ => {}
    }
}

fn yamlencode(a: &[Value], _: Env) -> Result<Value> {
    super::check_depth(&a[0], 0)?;
    Ok(Value::string(yaml_encode(&a[0])))
}

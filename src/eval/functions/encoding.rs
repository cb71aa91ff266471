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
    let bytes = STANDARD.decode(s).map_err(|_| {
        FunctionError::arg(
            0,
            format!("Invalid value for \"str\" parameter: failed to decode base64 data {s:?}."),
        )
    })?;
    String::from_utf8(bytes).map(Value::string).map_err(|_| {
        FunctionError::arg(
            0,
            "Invalid value for \"str\" parameter: the result of decoding the provided string is not valid UTF-8.",
        )
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
                "Invalid value for \"encoding\" parameter: {name:?} is not a supported IANA encoding name or alias."
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
        FunctionError::arg(
            0,
            "Invalid value for \"source\" parameter: the given value is has an invalid base64 symbol.",
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
    Ok(Value::string(json_encode(&a[0])))
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

fn jsondecode(a: &[Value], _: Env) -> Result<Value> {
    let s = text(&a[0]);
    let j: serde_json::Value = serde_json::from_str(s).map_err(|e| {
        FunctionError::arg(
            0,
            format!(
                "Invalid value for \"str\" parameter: {}.",
                json_error(&e, s)
            ),
        )
    })?;
    Ok(from_json(&j))
}

fn json_error(e: &serde_json::Error, s: &str) -> String {
    if s.trim().is_empty() || e.is_eof() {
        return "unexpected end of JSON input".to_string();
    }
    let msg = e.to_string();
    msg.split(" at line ").next().unwrap_or(&msg).to_string()
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
                                "parse error on line {line}: extraneous or missing \" in quoted-field"
                            ));
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(_) => {
                        return Err(format!(
                            "parse error on line {line}: extraneous or missing \" in quoted-field"
                        ));
                    }
                }
            }
            '"' => {
                return Err(format!(
                    "parse error on line {line}: bare \" in non-quoted-field"
                ));
            }
            ',' => row.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
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
    let ty = Type::object(header.iter().map(|h| (h.clone(), Type::String)));
    let mut out = Vec::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        if rec.len() != header.len() {
            return Err(FunctionError::call(format!(
                "record on line {}: wrong number of fields.",
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

fn from_yaml(y: &yaml_rust2::Yaml) -> Result<Value> {
    use yaml_rust2::Yaml;
    Ok(match y {
        Yaml::Null | Yaml::BadValue => Value::null_dynamic(),
        Yaml::Boolean(b) => Value::bool(*b),
        Yaml::Integer(i) => Value::number(*i),
        Yaml::Real(r) => {
            let parsed =
                Number::parse(r).or_else(|| r.parse::<f64>().ok().and_then(Number::from_f64));
            match parsed {
                Some(n) => Value::number(n),
                None => {
                    return Err(FunctionError::call(format!(
                        "cannot parse {r:?} as a number."
                    )));
                }
            }
        }
        Yaml::String(s) => Value::string(s.clone()),
        Yaml::Array(items) => Value::tuple(items.iter().map(from_yaml).collect::<Result<_>>()?),
        Yaml::Hash(h) => {
            let mut m = BTreeMap::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Real(r) => r.clone(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => "null".to_string(),
                    _ => {
                        return Err(FunctionError::call(
                            "map keys must be strings, numbers or bools.",
                        ));
                    }
                };
                m.insert(key, from_yaml(v)?);
            }
            Value::object(m)
        }
        Yaml::Alias(_) => {
            return Err(FunctionError::call("YAML aliases are not supported."));
        }
    })
}

fn yamldecode(a: &[Value], _: Env) -> Result<Value> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text(&a[0])).map_err(|e| {
        FunctionError::call(format!(
            "on line {}, column {}: {}.",
            e.marker().line(),
            e.marker().col() + 1,
            e.info()
        ))
    })?;
    match docs.len() {
        0 => Ok(Value::null_dynamic()),
        1 => from_yaml(&docs[0]),
        _ => Err(FunctionError::call("unexpected extra content after value.")),
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

fn yaml_string(s: &str, indent: usize) -> String {
    let multiline = s.contains('\n')
        && !s.chars().any(|c| c != '\n' && c != '\t' && c.is_control())
        && !s.lines().any(|l| l.ends_with(' ') || l.ends_with('\t'))
        && !s.starts_with(' ');
    if multiline {
        let chomp = if s.ends_with("\n\n") {
            "+"
        } else if s.ends_with('\n') {
            ""
        } else {
            "-"
        };
        let pad = " ".repeat(indent + 2);
        let mut out = format!("|{chomp}");
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                out.push_str(&pad);
                out.push_str(line);
            }
        }
        return out;
    }
    yaml_quoted(s)
}

fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn write_yaml_root(v: &Value, out: &mut String) {
    if let Some(s) = yaml_scalar(v, 0) {
        out.push_str(&s);
        out.push('\n');
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
    Ok(Value::string(yaml_encode(&a[0])))
}

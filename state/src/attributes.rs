//! [`Attributes`]: an object's recorded attributes, held as their canonical compact JSON text.
//!
//! A state holds every object's attributes from load to save, beside the engine's own values
//! of them. As a `serde_json::Value` tree (an ordered map per object, a string per key and per
//! number) a small object of four attributes took about 2.8 KiB; as text it takes the size of
//! its JSON, about 330 bytes. Readers parse it when they need the value
//! ([`Attributes::value`]); the document writer walks the text without building the tree.

use std::fmt;

use serde::de::Deserializer;
use serde::ser::{Error as _, SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON value held as compact text with object keys sorted at every depth (the form the
/// state document writes, so equal values have equal text).
#[derive(Clone, PartialEq, Eq)]
pub struct Attributes(Box<str>);

impl Attributes {
    /// The canonical text of `v`.
    pub fn new(v: &Value) -> Attributes {
        let mut out = Vec::with_capacity(128);
        write_canonical(v, &mut out);
        Attributes(
            String::from_utf8(out)
                .expect("serde_json writes UTF-8")
                .into_boxed_str(),
        )
    }

    /// The value, parsed from the text.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).expect("attributes hold valid JSON")
    }

    /// The compact canonical JSON text.
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The attributes are a JSON object (as every recorded object's are).
    pub fn is_object(&self) -> bool {
        self.0.starts_with('{')
    }

    /// The top-level attribute `name`, parsed; `None` when absent or not an object.
    pub fn get(&self, name: &str) -> Option<Value> {
        if !self.is_object() {
            return None;
        }
        Members::new(&self.0)
            .find(|(k, _)| key_text(k).as_deref() == Some(name))
            .and_then(|(_, v)| serde_json::from_str(v).ok())
    }
}

impl From<Value> for Attributes {
    fn from(v: Value) -> Attributes {
        Attributes::new(&v)
    }
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Raw(&self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Attributes, D::Error> {
        Value::deserialize(d).map(|v| Attributes::new(&v))
    }
}

/// Writes `v` compactly with object keys sorted, without copying it.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k).expect("a key always serializes");
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        leaf => serde_json::to_writer(&mut *out, leaf).expect("a JSON leaf always serializes"),
    }
}

/// One JSON value's compact text, serialized by walking it (the pretty writer indents it).
struct Raw<'a>(&'a str);

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        match t.as_bytes().first() {
            Some(b'{') => {
                let mut map = s.serialize_map(None)?;
                for (k, v) in Members::new(t) {
                    let key = key_text(k).ok_or_else(|| S::Error::custom("bad key"))?;
                    map.serialize_entry(key.as_ref(), &Raw(v))?;
                }
                map.end()
            }
            Some(b'[') => {
                let mut seq = s.serialize_seq(None)?;
                for v in Elements::new(t) {
                    seq.serialize_element(&Raw(v))?;
                }
                seq.end()
            }
            Some(b'"') => match key_text(t) {
                Some(k) => s.serialize_str(&k),
                None => Err(S::Error::custom("bad string")),
            },
            Some(b't') => s.serialize_bool(true),
            Some(b'f') => s.serialize_bool(false),
            Some(b'n') => s.serialize_unit(),
            _ => t
                .parse::<serde_json::Number>()
                .map_err(S::Error::custom)?
                .serialize(s),
        }
    }
}

/// The string a JSON string literal's text holds; borrowed when it has no escapes.
fn key_text(lit: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = lit.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(lit)
            .ok()
            .map(std::borrow::Cow::Owned)
    } else {
        Some(std::borrow::Cow::Borrowed(inner))
    }
}

/// The end (exclusive) of the compact JSON value starting at `i`.
fn value_end(b: &[u8], mut i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']') {
                i += 1;
            }
            i
        }
    }
}

/// The end (exclusive) of the string literal starting at `i`.
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The members of a compact object's text: key literal and value text.
struct Members<'a> {
    t: &'a str,
    i: usize,
}

impl<'a> Members<'a> {
    fn new(t: &'a str) -> Members<'a> {
        Members { t, i: 1 }
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let b = self.t.as_bytes();
        if self.i >= b.len() || b[self.i] != b'"' {
            return None;
        }
        let k_end = string_end(b, self.i);
        let key = &self.t[self.i..k_end];
        let v_start = k_end + 1; // past ':'
        let v_end = value_end(b, v_start);
        let value = &self.t[v_start..v_end];
        self.i = v_end + 1; // past ',' or '}'
        Some((key, value))
    }
}

/// The elements of a compact array's text.
struct Elements<'a> {
    t: &'a str,
    i: usize,
}

impl<'a> Elements<'a> {
    fn new(t: &'a str) -> Elements<'a> {
        Elements { t, i: 1 }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let b = self.t.as_bytes();
        if self.i >= b.len() || b[self.i] == b']' {
            return None;
        }
        let end = value_end(b, self.i);
        let v = &self.t[self.i..end];
        self.i = end + 1;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "zeta": [1, 2.50, -3e7, true, false, null, [], {}],
            "alpha": {"b": "q\"uo\\te\n", "a": {"y": [{"k": "v"}], "x": ""}},
            "ünï": "snow ☃ \u{1}",
            "big": 123456789012345678901234567890u128.to_string(),
            "n": 12345678901234567890u64,
        })
    }

    #[test]
    fn text_is_compact_with_keys_sorted() {
        let a = Attributes::new(&json!({"b": 1, "a": {"d": [2, {"z": 0, "y": 1}], "c": null}}));
        assert_eq!(
            a.as_json(),
            r#"{"a":{"c":null,"d":[2,{"y":1,"z":0}]},"b":1}"#
        );
    }

    #[test]
    fn value_round_trips() {
        let v = sample();
        let a = Attributes::new(&v);
        assert_eq!(a.value(), v);
        assert_eq!(Attributes::new(&a.value()), a);
    }

    #[test]
    fn pretty_walk_writes_what_the_value_would() {
        let v = sample();
        let a = Attributes::new(&v);
        let walked = serde_json::to_string_pretty(&a).unwrap();
        let canon = serde_json::to_string_pretty(&crate::format::canonical(&v)).unwrap();
        assert_eq!(walked, canon);
        let compact = serde_json::to_string(&a).unwrap();
        assert_eq!(compact, a.as_json());
    }

    #[test]
    fn get_reads_a_top_level_attribute() {
        let a = Attributes::new(&json!({"id": "x\"1", "other": {"id": 2}}));
        assert_eq!(a.get("id"), Some(json!("x\"1")));
        assert_eq!(a.get("other"), Some(json!({"id": 2})));
        assert_eq!(a.get("missing"), None);
        assert_eq!(Attributes::new(&json!([1])).get("id"), None);
    }

    #[test]
    fn deserializes_any_order_into_canonical_text() {
        let a: Attributes =
            serde_json::from_str(r#"{ "b" : [ 1 , 2 ] , "a" : "\u003c" }"#).unwrap();
        assert_eq!(a.as_json(), r#"{"a":"<","b":[1,2]}"#);
    }
}

//! Values with the *unknown* and *sensitive* marks.
//!
//! A [`Value`] is a [`Kind`] plus [`Marks`]. Marks may sit at any depth (one attribute of an
//! object may be sensitive while its siblings are not); operations and functions carry them
//! from inputs to results. An unknown value ("known after apply") has a type but no content.
//!
//! Invariants kept by the constructors (build values through them, not by hand):
//! - `Set` elements are deduplicated and in canonical order ([`Value::canonical_cmp`]):
//!   strings lexicographically, numbers numerically, as Terraform orders them;
//! - `List`, `Set` and `Map` carry their element type, even when empty.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::number::Number;
use crate::types::Type;

/// Marks carried by a value: `sensitive`, and the console-only `type` mark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Marks(u8);

impl Marks {
    pub const NONE: Marks = Marks(0);
    pub const SENSITIVE: Marks = Marks(1);
    /// The value is (or was computed from) a type description made by the console-only
    /// `type()` function, as Terraform's `TypeType` mark: the console prints such a string
    /// bare (`object({...})`) and refuses any other value carrying the mark.
    pub const TYPE: Marks = Marks(2);

    pub fn is_sensitive(self) -> bool {
        self.0 & Marks::SENSITIVE.0 != 0
    }
    /// Whether every mark of `other` is set here.
    pub fn contains(self, other: Marks) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: Marks) -> Marks {
        Marks(self.0 | other.0)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Null(Type),
    Unknown(Type),
    Bool(bool),
    Number(Number),
    String(String),
    List(Type, Vec<Value>),
    Set(Type, Vec<Value>),
    Map(Type, BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

/// A value of the language. Equality (`==`) is structural and includes marks; the language's
/// own `==` operator lives in the evaluator.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub kind: Kind,
    pub marks: Marks,
}

impl From<Kind> for Value {
    fn from(kind: Kind) -> Value {
        Value {
            kind,
            marks: Marks::NONE,
        }
    }
}

impl Value {
    // ---- constructors -------------------------------------------------------------------

    pub fn null(ty: Type) -> Value {
        Kind::Null(ty).into()
    }
    /// The untyped null (`null` in the language).
    pub fn null_dynamic() -> Value {
        Value::null(Type::Dynamic)
    }
    pub fn unknown(ty: Type) -> Value {
        Kind::Unknown(ty).into()
    }
    pub fn bool(b: bool) -> Value {
        Kind::Bool(b).into()
    }
    pub fn number(n: impl Into<Number>) -> Value {
        Kind::Number(n.into()).into()
    }
    /// A string, in Unicode normal form C as every string of Terraform's (cty's `StringVal`):
    /// `"e\u{301}"` and `"\u{e9}"` are the same string.
    pub fn string(s: impl Into<String>) -> Value {
        Kind::String(nfc(s.into())).into()
    }
    pub fn list(elem: Type, items: Vec<Value>) -> Value {
        Kind::List(elem, items).into()
    }
    pub fn tuple(items: Vec<Value>) -> Value {
        Kind::Tuple(items).into()
    }
    pub fn map(elem: Type, entries: BTreeMap<String, Value>) -> Value {
        Kind::Map(elem, entries).into()
    }
    pub fn object(attrs: BTreeMap<String, Value>) -> Value {
        Kind::Object(attrs).into()
    }
    pub fn object_from<I, K>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
    pub fn empty_object() -> Value {
        Value::object(BTreeMap::new())
    }
    /// A set: duplicates removed, elements in canonical order. Elements that are not wholly
    /// known are never merged (two unknown values may turn out different), as in Terraform.
    pub fn set(elem: Type, mut items: Vec<Value>) -> Value {
        let collections = items.iter().all(|v| {
            matches!(
                v.kind,
                Kind::List(..) | Kind::Set(..) | Kind::Tuple(_) | Kind::Map(..) | Kind::Object(_)
            )
        });
        if collections {
            // The same order as canonical_cmp, with each element's text built once.
            items.sort_by_cached_key(|v| (set_hash_text(v), v.marks));
        } else {
            items.sort_by(Value::canonical_cmp);
        }
        // Terraform finds a set's elements by their hash text, which tells -0 from 0.
        items
            .dedup_by(|a, b| a == b && a.is_wholly_known() && set_hash_text(a) == set_hash_text(b));
        Kind::Set(elem, items).into()
    }

    // ---- marks --------------------------------------------------------------------------

    pub fn with_marks(mut self, marks: Marks) -> Value {
        self.marks = self.marks.union(marks);
        self
    }
    pub fn sensitive(self) -> Value {
        self.with_marks(Marks::SENSITIVE)
    }
    /// Whether this value itself (not counting nested values) is sensitive.
    pub fn is_sensitive(&self) -> bool {
        self.marks.is_sensitive()
    }
    /// Whether this value or anything inside it is sensitive.
    pub fn contains_sensitive(&self) -> bool {
        self.contains_marks(Marks::SENSITIVE)
    }
    /// Whether this value or anything inside it carries all of `marks`.
    pub fn contains_marks(&self, marks: Marks) -> bool {
        self.marks.contains(marks) || self.children().any(|c| c.contains_marks(marks))
    }
    /// Whether this value or anything inside it carries any mark.
    pub fn contains_any_mark(&self) -> bool {
        self.marks != Marks::NONE || self.children().any(Value::contains_any_mark)
    }
    /// The value without its own marks (nested marks stay).
    pub fn unmarked(&self) -> Value {
        Value {
            kind: self.kind.clone(),
            marks: Marks::NONE,
        }
    }
    /// The value with every mark removed at every depth, and the union of what was removed.
    pub fn unmark_deep(&self) -> (Value, Marks) {
        let mut marks = self.marks;
        let kind = match &self.kind {
            Kind::List(t, items) => Kind::List(t.clone(), unmark_all(items, &mut marks)),
            Kind::Set(t, items) => Kind::Set(t.clone(), unmark_all(items, &mut marks)),
            Kind::Tuple(items) => Kind::Tuple(unmark_all(items, &mut marks)),
            Kind::Map(t, m) => Kind::Map(t.clone(), unmark_map(m, &mut marks)),
            Kind::Object(m) => Kind::Object(unmark_map(m, &mut marks)),
            other => other.clone(),
        };
        (
            Value {
                kind,
                marks: Marks::NONE,
            },
            marks,
        )
    }

    // ---- inspection ---------------------------------------------------------------------

    pub fn ty(&self) -> Type {
        match &self.kind {
            Kind::Null(t) | Kind::Unknown(t) => t.clone(),
            Kind::Bool(_) => Type::Bool,
            Kind::Number(_) => Type::Number,
            Kind::String(_) => Type::String,
            Kind::List(t, _) => Type::list(t.clone()),
            Kind::Set(t, _) => Type::set(t.clone()),
            Kind::Map(t, _) => Type::map(t.clone()),
            Kind::Tuple(items) => Type::Tuple(items.iter().map(Value::ty).collect()),
            Kind::Object(attrs) => {
                Type::Object(attrs.iter().map(|(k, v)| (k.clone(), v.ty())).collect())
            }
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null(_))
    }
    /// Whether this value itself is known (its elements may still be unknown).
    pub fn is_known(&self) -> bool {
        !matches!(self.kind, Kind::Unknown(_))
    }
    /// Whether this value and everything inside it is known.
    pub fn is_wholly_known(&self) -> bool {
        self.is_known() && self.children().all(Value::is_wholly_known)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        }
    }
    pub fn as_number(&self) -> Option<&Number> {
        match &self.kind {
            Kind::Number(n) => Some(n),
            _ => None,
        }
    }
    /// Elements of a list, set or tuple.
    pub fn as_sequence(&self) -> Option<&[Value]> {
        match &self.kind {
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => Some(items),
            _ => None,
        }
    }
    /// Entries of a map or object.
    pub fn as_mapping(&self) -> Option<&BTreeMap<String, Value>> {
        match &self.kind {
            Kind::Map(_, m) | Kind::Object(m) => Some(m),
            _ => None,
        }
    }
    /// An attribute of an object or an entry of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_mapping().and_then(|m| m.get(key))
    }

    /// Direct children: elements of sequences, values of mappings.
    pub fn children(&self) -> Box<dyn Iterator<Item = &Value> + '_> {
        match &self.kind {
            Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
                Box::new(items.iter())
            }
            Kind::Map(_, m) | Kind::Object(m) => Box::new(m.values()),
            _ => Box::new(std::iter::empty()),
        }
    }

    /// The total order used for sets, Terraform's (cty's): known values first — by kind
    /// (bool, number, string, collections), then `false` before `true`, strings
    /// lexicographically by bytes, numbers numerically, collections element by element —
    /// then nulls, then unknown values last.
    pub fn canonical_cmp(a: &Value, b: &Value) -> Ordering {
        fn rank(k: &Kind) -> u8 {
            match k {
                Kind::Bool(_) => 0,
                Kind::Number(_) => 1,
                Kind::String(_) => 2,
                Kind::List(..) => 3,
                Kind::Set(..) => 4,
                Kind::Tuple(_) => 5,
                Kind::Map(..) => 6,
                Kind::Object(_) => 7,
                Kind::Null(_) => 8,
                Kind::Unknown(_) => 9,
            }
        }
        let by_rank = rank(&a.kind).cmp(&rank(&b.kind));
        if by_rank != Ordering::Equal {
            return by_rank;
        }
        let ordered = match (&a.kind, &b.kind) {
            (Kind::Bool(x), Kind::Bool(y)) => x.cmp(y),
            // -0 before 0: a set keeps both.
            (Kind::Number(x), Kind::Number(y)) => x
                .cmp(y)
                .then_with(|| y.is_negative_zero().cmp(&x.is_negative_zero())),
            (Kind::String(x), Kind::String(y)) => x.cmp(y),
            (Kind::Null(x), Kind::Null(y)) | (Kind::Unknown(x), Kind::Unknown(y)) => x.cmp(y),
            // Collections have no natural order; Terraform orders them by the bytes of their
            // set-hash text (so `[10]` comes before `[1]`), and so does brick.
            _ => set_hash_text(a).cmp(&set_hash_text(b)),
        };
        ordered.then_with(|| a.marks.cmp(&b.marks))
    }
}

/// The text by which Terraform (cty) orders collection elements of a set: `?` for unknown,
/// `~` for null, `T`/`F`, numbers in decimal, strings quoted, sequences as `[e;e;]`, maps as
/// `{"k":v;}`, objects as `<"k":v;>`.
fn set_hash_text(v: &Value) -> String {
    let mut out = String::new();
    write_set_hash(v, &mut out);
    out
}

fn write_set_hash(v: &Value, out: &mut String) {
    match &v.kind {
        Kind::Unknown(_) => out.push('?'),
        Kind::Null(_) => out.push('~'),
        Kind::Bool(b) => out.push(if *b { 'T' } else { 'F' }),
        Kind::Number(n) => out.push_str(&n.to_string()),
        Kind::String(s) => quote_go(s, out),
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            out.push('[');
            for x in xs {
                write_set_hash(x, out);
                out.push(';');
            }
            out.push(']');
        }
        Kind::Map(_, m) | Kind::Object(m) => {
            let object = matches!(v.kind, Kind::Object(_));
            out.push(if object { '<' } else { '{' });
            for (k, x) in m {
                quote_go(k, out);
                out.push(':');
                write_set_hash(x, out);
                out.push(';');
            }
            out.push(if object { '>' } else { '}' });
        }
    }
}

fn quote_go(s: &str, out: &mut String) {
    out.push_str(&go_quote(s));
}

/// A string quoted as Go's `strconv.Quote` and `%q` quote it (Terraform's console, its plan
/// renderer and cty's set hashes all use it): `\"`, `\\`, the C
/// escapes `\a \b \f \n \r \t \v`, `\xNN` for other ASCII controls and DEL, `\uNNNN` or
/// `\UNNNNNNNN` for other characters Go does not print (controls, spaces other than ` `,
/// format characters, private use). `${` is not escaped.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if !go_printable(c) && (c as u32) < 0x10000 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if !go_printable(c) => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space; not controls, other spaces and separators, format characters or private use.
fn go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let u = c as u32;
    let format = matches!(
        u,
        0xAD | 0x600..=0x605
            | 0x61C
            | 0x6DD
            | 0x70F
            | 0x890..=0x891
            | 0x8E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    );
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF);
    !(c.is_control() || c.is_whitespace() || format || private)
}

/// `s` in Unicode normal form C; ASCII and already-normal text are returned as they are.
pub fn nfc(s: String) -> String {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        s
    } else {
        s.nfc().collect()
    }
}

fn unmark_all(items: &[Value], marks: &mut Marks) -> Vec<Value> {
    items
        .iter()
        .map(|v| {
            let (u, m) = v.unmark_deep();
            *marks = marks.union(m);
            u
        })
        .collect()
}

fn unmark_map(m: &BTreeMap<String, Value>, marks: &mut Marks) -> BTreeMap<String, Value> {
    m.iter()
        .map(|(k, v)| {
            let (u, mk) = v.unmark_deep();
            *marks = marks.union(mk);
            (k.clone(), u)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_of_strings_are_ordered_lexicographically_and_deduplicated() {
        let s = Value::set(
            Type::String,
            vec![
                Value::string("b"),
                Value::string("a"),
                Value::string("b"),
                Value::string("B"),
            ],
        );
        let items: Vec<_> = s
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(items, ["B", "a", "b"]);
    }

    #[test]
    fn sets_list_unknown_elements_last_and_keep_each_of_them() {
        let u = || Value::unknown(Type::String);
        let s = Value::set(
            Type::String,
            vec![Value::string("b"), u(), Value::string("a"), u()],
        );
        let shown: Vec<String> = s
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap_or("?").to_string())
            .collect();
        assert_eq!(shown, ["a", "b", "?", "?"]);
    }

    #[test]
    fn sets_of_collections_are_ordered_by_terraforms_hash_text() {
        let list = |ns: &[i64]| Value::tuple(ns.iter().map(|n| Value::number(*n)).collect());
        let s = Value::set(
            Type::Tuple(vec![Type::Number]),
            vec![list(&[1]), list(&[10]), list(&[2])],
        );
        let items = s.as_sequence().unwrap();
        assert_eq!(items, [list(&[10]), list(&[1]), list(&[2])]);
        let mut sorted = items.to_vec();
        sorted.sort_by(Value::canonical_cmp);
        assert_eq!(sorted, items, "canonical_cmp agrees with Value::set");
    }

    #[test]
    fn strings_are_normalized_to_nfc() {
        assert_eq!(Value::string("e\u{301}"), Value::string("\u{e9}"));
        assert_eq!(Value::string("e\u{301}x").as_str(), Some("\u{e9}x"));
        assert_eq!(Value::string("plain").as_str(), Some("plain"));
    }

    #[test]
    fn sensitivity_is_found_at_any_depth_and_removed_by_unmark_deep() {
        let v = Value::object_from([
            ("a", Value::string("x").sensitive()),
            ("b", Value::bool(true)),
        ]);
        assert!(!v.is_sensitive());
        assert!(v.contains_sensitive());
        let (plain, marks) = v.unmark_deep();
        assert!(marks.is_sensitive());
        assert!(!plain.contains_sensitive());
    }

    #[test]
    fn an_unknown_element_makes_a_value_not_wholly_known() {
        let v = Value::tuple(vec![Value::number(1), Value::unknown(Type::String)]);
        assert!(v.is_known());
        assert!(!v.is_wholly_known());
        assert_eq!(v.ty(), Type::Tuple(vec![Type::Number, Type::String]));
    }
}

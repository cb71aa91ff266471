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
    pub fn string(s: impl Into<String>) -> Value {
        Kind::String(s.into()).into()
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
    /// A set: duplicates removed, elements in canonical order.
    pub fn set(elem: Type, mut items: Vec<Value>) -> Value {
        items.sort_by(Value::canonical_cmp);
        items.dedup_by(|a, b| a == b);
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

    /// The total order used for sets: by kind first (null, unknown, bool, number, string,
    /// collections), then strings lexicographically (by bytes, as Terraform), numbers
    /// numerically, and collections element by element.
    pub fn canonical_cmp(a: &Value, b: &Value) -> Ordering {
        fn rank(k: &Kind) -> u8 {
            match k {
                Kind::Null(_) => 0,
                Kind::Unknown(_) => 1,
                Kind::Bool(_) => 2,
                Kind::Number(_) => 3,
                Kind::String(_) => 4,
                Kind::List(..) => 5,
                Kind::Set(..) => 6,
                Kind::Tuple(_) => 7,
                Kind::Map(..) => 8,
                Kind::Object(_) => 9,
            }
        }
        let by_rank = rank(&a.kind).cmp(&rank(&b.kind));
        if by_rank != Ordering::Equal {
            return by_rank;
        }
        let ordered = match (&a.kind, &b.kind) {
            (Kind::Bool(x), Kind::Bool(y)) => x.cmp(y),
            (Kind::Number(x), Kind::Number(y)) => x.cmp(y),
            (Kind::String(x), Kind::String(y)) => x.cmp(y),
            (Kind::Null(x), Kind::Null(y)) | (Kind::Unknown(x), Kind::Unknown(y)) => x.cmp(y),
            (Kind::List(_, x), Kind::List(_, y))
            | (Kind::Set(_, x), Kind::Set(_, y))
            | (Kind::Tuple(x), Kind::Tuple(y)) => cmp_seq(x, y),
            (Kind::Map(_, x), Kind::Map(_, y)) | (Kind::Object(x), Kind::Object(y)) => {
                cmp_seq_by(x.iter(), y.iter(), |(ka, va), (kb, vb)| {
                    ka.cmp(kb).then_with(|| Value::canonical_cmp(va, vb))
                })
            }
            _ => Ordering::Equal,
        };
        ordered.then_with(|| a.marks.cmp(&b.marks))
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

fn cmp_seq(x: &[Value], y: &[Value]) -> Ordering {
    cmp_seq_by(x.iter(), y.iter(), |a: &&Value, b: &&Value| {
        Value::canonical_cmp(a, b)
    })
}

fn cmp_seq_by<I, T>(mut x: I, mut y: I, f: impl Fn(&T, &T) -> Ordering) -> Ordering
where
    I: Iterator<Item = T>,
{
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) => match f(&a, &b) {
                Ordering::Equal => continue,
                o => return o,
            },
        }
    }
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

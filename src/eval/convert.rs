//! Type conversion and unification, following Terraform's (cty's) rules: string ↔ number ↔
//! bool conversions, tuple → list/set, object → map, collection → collection, null and unknown
//! values keeping their marks.
//!
//! The rules, as Terraform applies them to variables, arguments and function parameters:
//! - `dynamic` (any) accepts every value unchanged;
//! - number → string prints the number in plain decimal (no exponent); bool → string gives
//!   `"true"`/`"false"`; string → number parses decimal or scientific notation; string → bool
//!   accepts `"true"`/`"false"` (and, as cty does, `"1"`/`"0"`); number ↔ bool never converts;
//! - list, set and tuple convert to list, set or (same length) tuple element by element;
//!   map and object convert to map or object entry by entry. An object target drops extra
//!   attributes and requires every attribute it declares;
//! - a collection of `dynamic` takes the unified type of the elements ([`unify`]);
//! - a null converts to a null of the target type, an unknown to an unknown of the target type;
//! - marks (sensitive) stay on the value they were on, at every depth.

use std::collections::BTreeMap;
use std::fmt;

use brick_provider_api::value::Kind;
use brick_provider_api::{Number, Type, Value};

/// Why a value could not be converted, e.g. "a number is required".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionError {
    /// Where inside the value the problem is: attribute names, keys, indices as text.
    pub path: Vec<String>,
    pub message: String,
    /// The same path with the kind of each step, for rendering.
    pub steps: Vec<PathStep>,
}

/// One step of a [`ConversionError`] path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// An object attribute.
    Attribute(String),
    /// A map key.
    Key(String),
    /// A list, set or tuple index.
    Index(usize),
}

impl PathStep {
    fn text(&self) -> String {
        match self {
            PathStep::Attribute(s) | PathStep::Key(s) => s.clone(),
            PathStep::Index(i) => i.to_string(),
        }
    }
}

impl ConversionError {
    fn new(message: impl Into<String>) -> ConversionError {
        ConversionError {
            path: Vec::new(),
            message: message.into(),
            steps: Vec::new(),
        }
    }

    fn at(mut self, step: PathStep) -> ConversionError {
        self.path.insert(0, step.text());
        self.steps.insert(0, step);
        self
    }
}

/// Renders as Terraform does: `attribute "nodes": element 0: a number is required`.
impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            match step {
                PathStep::Attribute(a) => write!(f, "attribute {a:?}: ")?,
                PathStep::Key(k) => write!(f, "element {k:?}: ")?,
                PathStep::Index(i) => write!(f, "element {i}: ")?,
            }
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConversionError {}

/// How deeply values may nest before conversion gives up with an error instead of
/// exhausting the stack.
pub const MAX_DEPTH: usize = 256;

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one level of nesting for as long as it lives.
struct DepthGuard;

impl DepthGuard {
    fn enter() -> Result<DepthGuard, ConversionError> {
        DEPTH.with(|d| {
            if d.get() >= MAX_DEPTH {
                return Err(ConversionError::new(format!(
                    "the value is nested more than {MAX_DEPTH} levels deep"
                )));
            }
            d.set(d.get() + 1);
            Ok(DepthGuard)
        })
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Converts `value` to type `want` (`Type::Dynamic` accepts anything).
///
/// Conversion recurses once per level of nesting (up to [`MAX_DEPTH`]); each level runs where
/// at least 64 KiB of stack remain, on a fresh segment otherwise (`stacker`), so a value at the
/// depth limit converts on any thread, a tokio worker's or a scoped thread's 2 MiB included.
pub fn convert(value: &Value, want: &Type) -> Result<Value, ConversionError> {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || convert_level(value, want))
}

/// One level of [`convert`].
fn convert_level(value: &Value, want: &Type) -> Result<Value, ConversionError> {
    if *want == Type::Dynamic {
        return Ok(value.clone());
    }
    let _depth = DepthGuard::enter()?;
    // A value that already has the wanted (concrete) type needs no work.
    if !want.has_dynamic() && value.ty() == *want {
        return Ok(value.clone());
    }
    let marks = value.marks;
    let converted = match &value.kind {
        Kind::Null(t) => Value::null(convert_type(t, want)?),
        Kind::Unknown(t) => Value::unknown(convert_type(t, want)?),
        Kind::Bool(_) | Kind::Number(_) | Kind::String(_) => convert_primitive(value, want)?,
        Kind::List(_, items) | Kind::Set(_, items) | Kind::Tuple(items) => {
            convert_sequence(value, items, want)?
        }
        Kind::Map(_, entries) | Kind::Object(entries) => convert_mapping(value, entries, want)?,
    };
    Ok(converted.with_marks(marks))
}

/// The type a value of type `from` has after conversion to `want`, checking only types (used
/// for nulls and unknowns, whose content cannot be inspected).
pub fn convert_type(from: &Type, want: &Type) -> Result<Type, ConversionError> {
    if *want == Type::Dynamic {
        return Ok(from.clone());
    }
    if *from == Type::Dynamic || from == want {
        return Ok(want.clone());
    }
    match (from, want) {
        (Type::Bool | Type::Number, Type::String) | (Type::String, Type::Number | Type::Bool) => {
            Ok(want.clone())
        }
        (Type::List(e) | Type::Set(e), Type::List(w) | Type::Set(w)) => {
            let t = convert_type(e, w).map_err(|e| e.at(PathStep::Index(0)))?;
            Ok(rebuild_collection(want, t))
        }
        (Type::Map(e), Type::Map(w)) => {
            let t = convert_type(e, w)?;
            Ok(Type::map(t))
        }
        (Type::Tuple(ts), Type::List(w) | Type::Set(w)) => {
            let mut out = Vec::with_capacity(ts.len());
            for (i, t) in ts.iter().enumerate() {
                out.push(convert_type(t, w).map_err(|e| e.at(PathStep::Index(i)))?);
            }
            let elem = if w.has_dynamic() {
                unify(&out).ok_or_else(|| ConversionError::new(same_type_message(want)))?
            } else {
                (**w).clone()
            };
            Ok(rebuild_collection(
                want,
                if out.is_empty() { (**w).clone() } else { elem },
            ))
        }
        (Type::Object(attrs), Type::Map(w)) => {
            let mut out = Vec::with_capacity(attrs.len());
            for (k, t) in attrs {
                out.push(convert_type(t, w).map_err(|e| e.at(PathStep::Attribute(k.clone())))?);
            }
            let elem = if out.is_empty() || !w.has_dynamic() {
                (**w).clone()
            } else {
                unify(&out).ok_or_else(|| ConversionError::new(same_type_message(want)))?
            };
            Ok(Type::map(elem))
        }
        (Type::Tuple(ts), Type::Tuple(ws)) => {
            if ts.len() != ws.len() {
                return Err(ConversionError::new(format!(
                    "tuple required with {} elements",
                    ws.len()
                )));
            }
            let mut out = Vec::with_capacity(ts.len());
            for (i, (t, w)) in ts.iter().zip(ws).enumerate() {
                out.push(convert_type(t, w).map_err(|e| e.at(PathStep::Index(i)))?);
            }
            Ok(Type::Tuple(out))
        }
        (Type::List(e) | Type::Set(e), Type::Tuple(ws)) => {
            // The length is only known from a value; check the element types.
            let mut out = Vec::with_capacity(ws.len());
            for (i, w) in ws.iter().enumerate() {
                out.push(convert_type(e, w).map_err(|e| e.at(PathStep::Index(i)))?);
            }
            Ok(Type::Tuple(out))
        }
        (Type::Object(attrs), Type::Object(wants)) => {
            let mut out = BTreeMap::new();
            for (k, w) in wants {
                let Some(t) = attrs.get(k) else {
                    return Err(ConversionError::new(format!("attribute {k:?} is required")));
                };
                out.insert(
                    k.clone(),
                    convert_type(t, w).map_err(|e| e.at(PathStep::Attribute(k.clone())))?,
                );
            }
            Ok(Type::Object(out))
        }
        (Type::Map(e), Type::Object(wants)) => {
            let mut out = BTreeMap::new();
            for (k, w) in wants {
                out.insert(
                    k.clone(),
                    convert_type(e, w).map_err(|e| e.at(PathStep::Attribute(k.clone())))?,
                );
            }
            Ok(Type::Object(out))
        }
        _ => Err(ConversionError::new(mismatch_message(from, want))),
    }
}

fn rebuild_collection(like: &Type, elem: Type) -> Type {
    match like {
        Type::Set(_) => Type::set(elem),
        Type::Map(_) => Type::map(elem),
        _ => Type::list(elem),
    }
}

fn same_type_message(want: &Type) -> &'static str {
    match want {
        Type::Set(_) => "all set elements must have the same type",
        Type::Map(_) => "all map elements must have the same type",
        _ => "all list elements must have the same type",
    }
}

/// What Terraform says when no conversion exists from `got` to `want`.
fn mismatch_message(got: &Type, want: &Type) -> String {
    format!(
        "{}, but have {}",
        required_message(got, want),
        friendly(got)
    )
}

fn required_message(got: &Type, want: &Type) -> String {
    match want {
        Type::Bool => "bool required".into(),
        Type::Number => "number required".into(),
        Type::String => "string required".into(),
        Type::List(e) if **e == Type::Dynamic => "list required".into(),
        Type::Set(e) if **e == Type::Dynamic => "set required".into(),
        Type::Map(e) if **e == Type::Dynamic => "map required".into(),
        Type::List(e) => format!("list of {} required", friendly(e)),
        Type::Set(e) => format!("set of {} required", friendly(e)),
        Type::Map(e) => format!("map of {} required", friendly(e)),
        Type::Tuple(_) => "tuple required".into(),
        Type::Object(_) => {
            let _ = got;
            "object required".into()
        }
        Type::Dynamic => "any value required".into(),
    }
}

/// A type as Terraform names it in messages: `list of number`, `object`, `tuple`.
pub(crate) fn friendly(t: &Type) -> String {
    match t {
        Type::Dynamic => "any single type".into(),
        Type::Object(_) => "object".into(),
        Type::Tuple(_) => "tuple".into(),
        Type::List(e) => format!("list of {}", friendly(e)),
        Type::Set(e) => format!("set of {}", friendly(e)),
        Type::Map(e) => format!("map of {}", friendly(e)),
        other => other.to_string(),
    }
}

/// Terraform's text for a number: plain decimal, no exponent.
pub fn number_to_string(n: &Number) -> String {
    n.to_string()
}

/// Terraform's string → number rule: decimal or scientific notation with an optional sign,
/// or `Inf`/`inf` (optionally signed) for an infinity; no surrounding spaces.
pub fn parse_number(s: &str) -> Option<Number> {
    if s.is_empty() || s.trim() != s {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    if lower.contains("nan") || lower.trim_start_matches(['+', '-']).starts_with("0x") {
        return None;
    }
    Number::parse_with_infinity(s)
}

fn convert_primitive(value: &Value, want: &Type) -> Result<Value, ConversionError> {
    let v = value.unmarked();
    match (&v.kind, want) {
        (Kind::Bool(_), Type::Bool)
        | (Kind::Number(_), Type::Number)
        | (Kind::String(_), Type::String) => Ok(v),
        (Kind::Bool(b), Type::String) => Ok(Value::string(if *b { "true" } else { "false" })),
        (Kind::Number(n), Type::String) => Ok(Value::string(number_to_string(n))),
        (Kind::String(s), Type::Number) => parse_number(s)
            .map(Value::number)
            .ok_or_else(|| ConversionError::new("a number is required")),
        (Kind::String(s), Type::Bool) => match s.as_str() {
            "true" | "1" => Ok(Value::bool(true)),
            "false" | "0" => Ok(Value::bool(false)),
            other => match other.to_ascii_lowercase().as_str() {
                "true" => Err(ConversionError::new(
                    "a bool is required; to convert from string, use lowercase \"true\"",
                )),
                "false" => Err(ConversionError::new(
                    "a bool is required; to convert from string, use lowercase \"false\"",
                )),
                _ => Err(ConversionError::new("a bool is required")),
            },
        },
        _ => Err(ConversionError::new(mismatch_message(&v.ty(), want))),
    }
}

/// Converts every element to `elem`; when `elem` contains `dynamic`, the results are then
/// brought to their unified type. Returns the element type and the elements.
fn convert_elements<'a>(
    items: impl Iterator<Item = (PathStep, &'a Value)>,
    elem: &Type,
    want: &Type,
) -> Result<(Type, Vec<(PathStep, Value)>), ConversionError> {
    let mut out = Vec::new();
    for (step, item) in items {
        let c = convert(item, elem).map_err(|e| e.at(step.clone()))?;
        out.push((step, c));
    }
    if !elem.has_dynamic() || out.is_empty() {
        return Ok((elem.clone(), out));
    }
    let values: Vec<&Value> = out.iter().map(|(_, v)| v).collect();
    let unified =
        unify_value_types(&values).ok_or_else(|| ConversionError::new(same_type_message(want)))?;
    // An untyped null (or unknown) beside structural values leaves Terraform no single
    // element type for a list or set: `tolist([null, {}])` fails, `tolist([null, 1])` does
    // not (a map is another matter: `tomap({a=null, b={x=1}})` works).
    let untyped = values.iter().any(|v| v.ty() == Type::Dynamic);
    let sequence = matches!(want, Type::List(_) | Type::Set(_));
    if sequence && untyped && !unified.is_primitive() && unified != Type::Dynamic {
        return Err(ConversionError::new(same_type_message(want)));
    }
    let mut again = Vec::with_capacity(out.len());
    for (step, v) in out {
        let c = convert(&v, &unified).map_err(|e| e.at(step.clone()))?;
        again.push((step, c));
    }
    Ok((unified, again))
}

fn convert_sequence(value: &Value, items: &[Value], want: &Type) -> Result<Value, ConversionError> {
    match want {
        Type::List(elem) | Type::Set(elem) => {
            let (ty, out) = convert_elements(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (PathStep::Index(i), v)),
                elem,
                want,
            )?;
            let values: Vec<Value> = out.into_iter().map(|(_, v)| v).collect();
            Ok(match want {
                Type::Set(_) => {
                    // Set elements cannot carry marks: they move to the set, as in Terraform.
                    let mut marks = brick_provider_api::Marks::NONE;
                    let values = values
                        .iter()
                        .map(|v| {
                            let (plain, m) = v.unmark_deep();
                            marks = marks.union(m);
                            plain
                        })
                        .collect();
                    Value::set(ty, values).with_marks(marks)
                }
                _ => Value::list(ty, values),
            })
        }
        Type::Tuple(wants) => {
            if items.len() != wants.len() {
                return Err(ConversionError::new(format!(
                    "tuple required with {} elements",
                    wants.len()
                )));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, (item, w)) in items.iter().zip(wants).enumerate() {
                out.push(convert(item, w).map_err(|e| e.at(PathStep::Index(i)))?);
            }
            Ok(Value::tuple(out))
        }
        _ => Err(ConversionError::new(mismatch_message(&value.ty(), want))),
    }
}

fn convert_mapping(
    value: &Value,
    entries: &BTreeMap<String, Value>,
    want: &Type,
) -> Result<Value, ConversionError> {
    let is_object = matches!(value.kind, Kind::Object(_));
    let step = |k: &String| {
        if is_object {
            PathStep::Attribute(k.clone())
        } else {
            PathStep::Key(k.clone())
        }
    };
    match want {
        Type::Map(elem) => {
            let (ty, out) =
                convert_elements(entries.iter().map(|(k, v)| (step(k), v)), elem, want)?;
            let map = out
                .into_iter()
                .map(|(s, v)| (s.text(), v))
                .collect::<BTreeMap<_, _>>();
            Ok(Value::map(ty, map))
        }
        Type::Object(wants) => {
            let mut out = BTreeMap::new();
            for (k, w) in wants {
                let Some(v) = entries.get(k) else {
                    return Err(ConversionError::new(format!("attribute {k:?} is required")));
                };
                out.insert(
                    k.clone(),
                    convert(v, w).map_err(|e| e.at(PathStep::Attribute(k.clone())))?,
                );
            }
            Ok(Value::object(out))
        }
        _ => Err(ConversionError::new(mismatch_message(&value.ty(), want))),
    }
}

/// The single type all of `types` can convert to, if there is one (for conditional results,
/// list literals and collection function arguments).
///
/// As in Terraform: identical types unify to themselves; `dynamic` beside primitives gives the
/// primitives' result, beside anything else `dynamic`;
/// primitives unify to `string` when any is a string (bool and number alone do not unify);
/// objects with the same attribute names unify attribute by attribute, other mixes of objects
/// and maps unify to a map of the unified attribute types; tuples of one length unify element
/// by element, other mixes of tuples, lists and sets to a list (a set when all are sets) of
/// the unified element types.
pub fn unify(types: &[Type]) -> Option<Type> {
    let first = types.first()?;
    if types.iter().all(|t| t == first) {
        return Some(first.clone());
    }
    // `dynamic` converts to any primitive, so it does not take part in a primitive result
    // (an element `[null]` beside `["a"]` becomes `tuple([string])`, as in Terraform).
    let known: Vec<&Type> = types.iter().filter(|t| **t != Type::Dynamic).collect();
    if known.is_empty() {
        return Some(Type::Dynamic);
    }
    if known.iter().all(|t| t.is_primitive()) {
        if known.iter().all(|t| *t == known[0]) {
            return Some(known[0].clone());
        }
        return known.contains(&&Type::String).then_some(Type::String);
    }
    if types.contains(&Type::Dynamic) {
        return Some(Type::Dynamic);
    }
    let all_mappings = types
        .iter()
        .all(|t| matches!(t, Type::Object(_) | Type::Map(_)));
    if all_mappings {
        if let Some(obj) = unify_objects(types) {
            return Some(obj);
        }
        let mut elems = Vec::new();
        for t in types {
            match t {
                Type::Object(attrs) => elems.extend(attrs.values().cloned()),
                Type::Map(e) => elems.push((**e).clone()),
                _ => unreachable!("checked above"),
            }
        }
        return Some(Type::map(unify_or_dynamic_empty(&elems)?));
    }
    let all_sequences = types
        .iter()
        .all(|t| matches!(t, Type::Tuple(_) | Type::List(_) | Type::Set(_)));
    if all_sequences {
        // Tuples of one length unify element by element or not at all (Terraform does not
        // fall back to a list for `[[null, 1], ["a", true]]`).
        let same_length_tuples = types.iter().all(|t| match (t, first) {
            (Type::Tuple(a), Type::Tuple(b)) => a.len() == b.len(),
            _ => false,
        });
        if same_length_tuples {
            return unify_tuples(types);
        }
        let mut elems = Vec::new();
        for t in types {
            match t {
                Type::Tuple(ts) => elems.extend(ts.iter().cloned()),
                Type::List(e) | Type::Set(e) => elems.push((**e).clone()),
                _ => unreachable!("checked above"),
            }
        }
        let any_set = types.iter().any(|t| matches!(t, Type::Set(_)));
        let all_sets = types.iter().all(|t| matches!(t, Type::Set(_)));
        if any_set && !all_sets {
            // Sets beside lists or tuples: like Terraform (cty), the result is the first of
            // the given types, lists before sets, that every type converts to, allowing
            // conversions that may fail for some values (string to number): so
            // `true ? toset([1]) : ["a"]` is a set of numbers, and choosing the other result
            // fails.
            let lists = types.iter().filter(|t| matches!(t, Type::List(_)));
            let sets = types.iter().filter(|t| matches!(t, Type::Set(_)));
            return lists
                .chain(sets)
                .find(|c| types.iter().all(|t| converts_unsafely(t, c)))
                .cloned();
        }
        let elem = unify_or_dynamic_empty(&elems)?;
        return Some(if all_sets {
            Type::set(elem)
        } else {
            Type::list(elem)
        });
    }
    None
}

/// Whether a value of type `from` may convert to `to`, counting the conversions that fail for
/// some values (a string to a number or bool).
fn converts_unsafely(from: &Type, to: &Type) -> bool {
    if from == to || *to == Type::Dynamic || *from == Type::Dynamic {
        return true;
    }
    match (from, to) {
        (f, Type::String) => f.is_primitive(),
        (Type::String, Type::Number | Type::Bool) => true,
        (Type::List(e) | Type::Set(e), Type::List(t) | Type::Set(t)) => converts_unsafely(e, t),
        (Type::Tuple(es), Type::List(t) | Type::Set(t)) => {
            es.iter().all(|e| converts_unsafely(e, t))
        }
        (Type::Map(e), Type::Map(t)) => converts_unsafely(e, t),
        (Type::Object(a), Type::Map(t)) => a.values().all(|e| converts_unsafely(e, t)),
        (Type::Tuple(a), Type::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| converts_unsafely(x, y))
        }
        (Type::Object(a), Type::Object(b)) => b
            .iter()
            .all(|(k, t)| a.get(k).is_some_and(|f| converts_unsafely(f, t))),
        (Type::Map(e), Type::Object(b)) => b.values().all(|t| converts_unsafely(e, t)),
        _ => false,
    }
}

/// Unifies the types of values; a null or unknown of type `dynamic` converts to anything, so
/// it does not take part (`[null, 2]` is a list of numbers).
pub fn unify_value_types(values: &[&Value]) -> Option<Type> {
    let types: Vec<Type> = values
        .iter()
        .filter(|v| !(v.ty() == Type::Dynamic && (v.is_null() || !v.is_known())))
        .map(|v| v.ty())
        .collect();
    unify_or_dynamic_empty(&types)
}

fn unify_or_dynamic_empty(types: &[Type]) -> Option<Type> {
    if types.is_empty() {
        Some(Type::Dynamic)
    } else {
        unify(types)
    }
}

fn unify_objects(types: &[Type]) -> Option<Type> {
    let mut objects = Vec::new();
    for t in types {
        match t {
            Type::Object(attrs) => objects.push(attrs),
            _ => return None,
        }
    }
    let first = objects[0];
    if !objects
        .iter()
        .all(|o| o.len() == first.len() && o.keys().all(|k| first.contains_key(k)))
    {
        return None;
    }
    let mut out = BTreeMap::new();
    for k in first.keys() {
        let attr_types: Vec<Type> = objects.iter().map(|o| o[k].clone()).collect();
        out.insert(k.clone(), unify(&attr_types)?);
    }
    Some(Type::Object(out))
}

fn unify_tuples(types: &[Type]) -> Option<Type> {
    let mut tuples = Vec::new();
    for t in types {
        match t {
            Type::Tuple(ts) => tuples.push(ts),
            _ => return None,
        }
    }
    let len = tuples[0].len();
    if !tuples.iter().all(|t| t.len() == len) {
        return None;
    }
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        let elem_types: Vec<Type> = tuples.iter().map(|t| t[i].clone()).collect();
        out.push(unify(&elem_types)?);
    }
    Some(Type::Tuple(out))
}

/// Unifies the types of `values` and converts every value to the result, as Terraform does
/// for conditional results and collection function arguments. `None` when the types do not
/// unify or a value does not convert.
pub fn unify_values(values: &[Value]) -> Option<(Type, Vec<Value>)> {
    let ty = unify_value_types(&values.iter().collect::<Vec<_>>())?;
    let converted = values
        .iter()
        .map(|v| convert(v, &ty))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    Some((ty, converted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }
    fn n(x: i64) -> Value {
        Value::number(x)
    }

    /// One conversion case: input, target type, expected result or error text (Display).
    fn check(input: Value, want: Type, expected: Result<Value, &str>) {
        let got = convert(&input, &want);
        match (got, expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "converting {input:?} to {want}"),
            (Err(g), Err(e)) => assert_eq!(g.to_string(), e, "converting {input:?} to {want}"),
            (g, e) => panic!("converting {input:?} to {want}: got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn primitive_values_convert_by_terraforms_rules() {
        let cases: Vec<(Value, Type, Result<Value, &str>)> = vec![
            (n(42), Type::String, Ok(s("42"))),
            (
                Value::number(Number::parse("1e21").unwrap()),
                Type::String,
                Ok(s("1000000000000000000000")),
            ),
            (
                Value::number(Number::parse("-2.50").unwrap()),
                Type::String,
                Ok(s("-2.5")),
            ),
            (Value::bool(true), Type::String, Ok(s("true"))),
            (s("12"), Type::Number, Ok(n(12))),
            (
                s("1.5e2"),
                Type::Number,
                Ok(Value::number(Number::from_i64(150))),
            ),
            (s(" 12"), Type::Number, Err("a number is required")),
            (s("abc"), Type::Number, Err("a number is required")),
            (s("true"), Type::Bool, Ok(Value::bool(true))),
            (s("false"), Type::Bool, Ok(Value::bool(false))),
            (
                s("True"),
                Type::Bool,
                Err("a bool is required; to convert from string, use lowercase \"true\""),
            ),
            (s("yes"), Type::Bool, Err("a bool is required")),
            (
                Value::bool(true),
                Type::Number,
                Err("number required, but have bool"),
            ),
            (n(1), Type::Bool, Err("bool required, but have number")),
            (
                Value::tuple(vec![]),
                Type::String,
                Err("string required, but have tuple"),
            ),
        ];
        for (input, want, expected) in cases {
            check(input, want, expected);
        }
    }

    #[test]
    fn structural_values_convert_to_collections_with_unified_element_types() {
        check(
            Value::tuple(vec![n(1), s("a")]),
            Type::list(Type::Dynamic),
            Ok(Value::list(Type::String, vec![s("1"), s("a")])),
        );
        check(
            Value::tuple(vec![s("b"), s("a"), s("b")]),
            Type::set(Type::String),
            Ok(Value::set(Type::String, vec![s("a"), s("b")])),
        );
        check(
            Value::tuple(vec![Value::bool(true), n(1)]),
            Type::list(Type::Dynamic),
            Err("all list elements must have the same type"),
        );
        check(
            Value::object_from([("a", n(1)), ("b", s("x"))]),
            Type::map(Type::String),
            Ok(Value::map(
                Type::String,
                [("a".to_string(), s("1")), ("b".to_string(), s("x"))].into(),
            )),
        );
        check(
            Value::tuple(vec![s("x"), s("y")]),
            Type::list(Type::Number),
            Err("element 0: a number is required"),
        );
        check(
            Value::tuple(vec![]),
            Type::list(Type::Dynamic),
            Ok(Value::list(Type::Dynamic, vec![])),
        );
    }

    #[test]
    fn objects_require_declared_attributes_and_drop_extra_ones() {
        let want = Type::object([("name", Type::String), ("size", Type::Number)]);
        check(
            Value::object_from([("name", s("a")), ("size", s("3")), ("extra", n(1))]),
            want.clone(),
            Ok(Value::object_from([("name", s("a")), ("size", n(3))])),
        );
        check(
            Value::object_from([("size", n(3))]),
            want.clone(),
            Err("attribute \"name\" is required"),
        );
        check(
            Value::tuple(vec![Value::object_from([
                ("name", s("a")),
                ("size", s("x")),
            ])]),
            Type::list(want),
            Err("element 0: attribute \"size\": a number is required"),
        );
    }

    #[test]
    fn null_and_unknown_values_take_the_target_type_and_keep_marks() {
        check(
            Value::null_dynamic(),
            Type::Number,
            Ok(Value::null(Type::Number)),
        );
        check(
            Value::unknown(Type::Dynamic).sensitive(),
            Type::list(Type::String),
            Ok(Value::unknown(Type::list(Type::String)).sensitive()),
        );
        check(
            Value::unknown(Type::Bool),
            Type::Number,
            Err("number required, but have bool"),
        );
        check(
            Value::tuple(vec![n(1).sensitive(), n(2)]),
            Type::list(Type::String),
            Ok(Value::list(Type::String, vec![s("1").sensitive(), s("2")])),
        );
        check(
            Value::tuple(vec![Value::unknown(Type::Dynamic), n(2)]),
            Type::list(Type::Dynamic),
            Ok(Value::list(
                Type::Number,
                vec![Value::unknown(Type::Number), n(2)],
            )),
        );
    }

    #[test]
    fn values_nested_too_deeply_give_an_error_instead_of_overflowing_the_stack() {
        let mut v = Value::string("x");
        let mut ty = Type::String;
        for _ in 0..(MAX_DEPTH + 10) {
            v = Value::tuple(vec![v]);
            ty = Type::list(ty);
        }
        let err = std::thread::Builder::new()
            .stack_size(64 * 1024 * 1024)
            .spawn(move || convert(&v, &ty).map(|_| ()))
            .expect("spawn")
            .join()
            .expect("no panic");
        assert!(err.unwrap_err().message.contains("nested more than"));
    }

    #[test]
    fn element_marks_move_onto_a_set_because_set_elements_cannot_carry_them() {
        check(
            Value::tuple(vec![s("a").sensitive(), s("b")]),
            Type::set(Type::String),
            Ok(Value::set(Type::String, vec![s("a"), s("b")]).sensitive()),
        );
        check(
            Value::tuple(vec![s("a").sensitive(), s("b")]),
            Type::list(Type::String),
            Ok(Value::list(Type::String, vec![s("a").sensitive(), s("b")])),
        );
    }

    #[test]
    fn types_unify_the_way_terraform_unifies_them() {
        let cases: Vec<(Vec<Type>, Option<Type>)> = vec![
            (vec![Type::Number, Type::String], Some(Type::String)),
            (vec![Type::Number, Type::Bool], None),
            (vec![Type::Number, Type::Dynamic], Some(Type::Number)),
            (vec![Type::Dynamic, Type::Dynamic], Some(Type::Dynamic)),
            (
                vec![Type::object([("a", Type::Number)]), Type::Dynamic],
                Some(Type::Dynamic),
            ),
            (
                vec![
                    Type::Tuple(vec![Type::Dynamic]),
                    Type::Tuple(vec![Type::String]),
                ],
                Some(Type::Tuple(vec![Type::String])),
            ),
            (
                vec![
                    Type::Tuple(vec![Type::Number]),
                    Type::Tuple(vec![Type::Bool]),
                ],
                None,
            ),
            (
                vec![
                    Type::object([("a", Type::Number)]),
                    Type::object([("a", Type::String)]),
                ],
                Some(Type::object([("a", Type::String)])),
            ),
            (
                vec![
                    Type::object([("a", Type::Number)]),
                    Type::object([("b", Type::String)]),
                ],
                Some(Type::map(Type::String)),
            ),
            (
                vec![Type::list(Type::Number), Type::Tuple(vec![Type::String])],
                Some(Type::list(Type::String)),
            ),
            (
                vec![
                    Type::Tuple(vec![Type::Number]),
                    Type::Tuple(vec![Type::String, Type::String]),
                ],
                Some(Type::list(Type::String)),
            ),
            (vec![Type::list(Type::String), Type::String], None),
        ];
        for (types, expected) in cases {
            assert_eq!(unify(&types), expected, "unifying {types:?}");
        }
    }

    #[test]
    fn conversion_at_the_depth_limit_fits_in_a_default_test_thread_stack() {
        let mut v = Value::string("x");
        let mut ty = Type::String;
        for _ in 0..(MAX_DEPTH - 1) {
            v = Value::tuple(vec![v]);
            ty = Type::list(ty);
        }
        let r = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || {
                let ok = convert(&v, &ty).is_ok();
                std::mem::forget(v);
                ok
            })
            .expect("spawn")
            .join()
            .expect("no stack overflow");
        assert!(r);
    }
}

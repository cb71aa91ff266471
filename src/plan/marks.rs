//! Sensitive marks on values: where a schema declares them, and how they survive a provider
//! round trip (providers take and return plain values). Shared by the planner and the executor.

use brick_provider_api::Value;
use brick_provider_api::schema::Block;
use brick_provider_api::value::Kind;

/// Marks the attributes the schema declares sensitive.
pub fn mark_sensitive(v: &Value, block: &Block) -> Value {
    mark_sensitive_owned(v.clone(), block)
}

/// [`mark_sensitive`] of a value the caller gives up: the value is not copied.
pub fn mark_sensitive_owned(v: Value, block: &Block) -> Value {
    let Kind::Object(mut m) = v.kind else {
        return v;
    };
    for (name, a) in &block.attributes {
        if a.sensitive
            && let Some(x) = m.get_mut(name)
            && !x.is_null()
        {
            x.marks = x.marks.union(brick_provider_api::value::Marks::SENSITIVE);
        }
    }
    Value {
        kind: Kind::Object(m),
        marks: v.marks,
    }
}

/// `to` with the sensitive marks of `from` at the same places (configuration marks survive a
/// provider round trip, which returns plain values).
pub fn copy_marks(from: &Value, to: Value) -> Value {
    if from.is_sensitive() {
        return to.sensitive();
    }
    let to_marks = to.marks;
    let kind = match (&from.kind, to.kind) {
        (Kind::Object(f), Kind::Object(mut t)) => {
            for (k, fv) in f {
                if let Some(tv) = t.remove(k) {
                    t.insert(k.clone(), copy_marks(fv, tv));
                }
            }
            Kind::Object(t)
        }
        (Kind::Map(_, f), Kind::Map(ty, mut t)) => {
            for (k, fv) in f {
                if let Some(tv) = t.remove(k) {
                    t.insert(k.clone(), copy_marks(fv, tv));
                }
            }
            Kind::Map(ty, t)
        }
        (Kind::List(_, f) | Kind::Tuple(f), Kind::List(ty, t)) if f.len() == t.len() => {
            Kind::List(ty, f.iter().zip(t).map(|(a, b)| copy_marks(a, b)).collect())
        }
        (Kind::List(_, f) | Kind::Tuple(f), Kind::Tuple(t)) if f.len() == t.len() => {
            Kind::Tuple(f.iter().zip(t).map(|(a, b)| copy_marks(a, b)).collect())
        }
        (_, other) => other,
    };
    Value {
        kind,
        marks: to_marks,
    }
}

/// Marks computed attributes that merely echo a sensitive input (`output = input` in
/// `brick_data`): a top-level attribute of `new` equal to a sensitive attribute of `planned`
/// is sensitive too, so a secret never leaks through a copy.
pub fn propagate_sensitive(planned: &Value, new: Value) -> Value {
    let (Some(p), Kind::Object(m)) = (planned.as_mapping(), &new.kind) else {
        return new;
    };
    let secrets: Vec<Value> = p
        .values()
        .filter(|v| v.contains_sensitive() && !v.is_null())
        .map(|v| v.unmark_deep().0)
        .collect();
    if secrets.is_empty() {
        return new;
    }
    let mut out = m.clone();
    for v in out.values_mut() {
        if !v.contains_sensitive() && !v.is_null() && secrets.contains(&v.unmark_deep().0) {
            *v = v.clone().sensitive();
        }
    }
    Value {
        kind: Kind::Object(out),
        marks: new.marks,
    }
}

//! The engine's side of the resource instance change lifecycle, shared with providers and the
//! conformance suite: building the *proposed new state* from configuration and prior state,
//! and checking that a provider's planned and new states keep the contract (see
//! [`crate::provider`] and `CONTRACT.md`).

use std::collections::BTreeMap;

use crate::provider::{AttrPath, PathStep};
use crate::schema::{Block, Nesting, Presence};
use crate::value::{Kind, Value};

/// Merges configuration and prior state into the proposed new state that `plan_resource`
/// receives: configured values as written; a computed attribute left unset in configuration
/// keeps its prior value (null when creating). A null `config` proposes destruction (null).
pub fn proposed_new_state(block: &Block, prior: &Value, config: &Value) -> Value {
    if config.is_null() {
        return Value::null(block.value_type());
    }
    if !config.is_known() {
        return config.clone();
    }
    let mut out = BTreeMap::new();
    for (name, attr) in &block.attributes {
        let c = config
            .get(name)
            .cloned()
            .unwrap_or_else(|| Value::null(attr.ty.clone()));
        let p = if prior.is_null() || !prior.is_known() {
            None
        } else {
            prior.get(name)
        };
        let v = match attr.presence {
            Presence::Computed => p.cloned().unwrap_or_else(|| Value::null(attr.ty.clone())),
            Presence::OptionalComputed if c.is_null() => {
                p.cloned().unwrap_or_else(|| Value::null(attr.ty.clone()))
            }
            _ => c,
        };
        out.insert(name.clone(), v);
    }
    for (name, nb) in &block.blocks {
        let c = config
            .get(name)
            .cloned()
            .unwrap_or_else(Value::null_dynamic);
        let p = if prior.is_null() || !prior.is_known() {
            None
        } else {
            prior.get(name)
        };
        let v = match (nb.nesting, p) {
            (Nesting::Single, Some(p)) => {
                if c.is_null() {
                    c
                } else {
                    proposed_new_state(&nb.block, p, &c)
                }
            }
            _ => c,
        };
        out.insert(name.clone(), v);
    }
    Value::object(out)
}

/// One way a provider broke the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Renders an attribute path as `a.b["k"][0]`.
pub fn path_string(path: &[PathStep]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            PathStep::Attr(a) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(a);
            }
            PathStep::Key(k) => s.push_str(&format!("[{k:?}]")),
            PathStep::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Checks the planned state against the configuration: every non-null configured value must
/// be kept (or the prior value returned for it).
pub fn check_planned(
    block: &Block,
    prior: &Value,
    config: &Value,
    planned: &Value,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if config.is_null() {
        if !planned.is_null() {
            out.push(Violation {
                path: String::new(),
                message: "a destroy must be planned as null".into(),
            });
        }
        return out;
    }
    if planned.is_null() {
        out.push(Violation {
            path: String::new(),
            message: "the planned state is null although the configuration is not".into(),
        });
        return out;
    }
    for (name, attr) in &block.attributes {
        let c = config.get(name);
        let p = planned.get(name);
        let Some(p) = p else {
            out.push(Violation {
                path: name.clone(),
                message: "attribute missing from the planned state".into(),
            });
            continue;
        };
        if let Some(c) = c
            && attr.settable()
            && !c.is_null()
            && c.is_wholly_known()
        {
            let prior_v = if prior.is_null() {
                None
            } else {
                prior.get(name)
            };
            if !same(c, p) && prior_v.is_none_or(|pv| !same(pv, p)) {
                out.push(Violation {
                    path: name.clone(),
                    message:
                        "planned value differs from both the configuration and the prior state"
                            .into(),
                });
            }
        }
    }
    out
}

/// Checks a new state returned by apply: wholly known, and equal to every known planned value.
pub fn check_new_state(planned: &Value, new_state: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    if !new_state.is_wholly_known() {
        out.push(Violation {
            path: String::new(),
            message: "the new state contains unknown values".into(),
        });
    }
    agree(planned, new_state, &mut Vec::new(), &mut out);
    out
}

fn agree(planned: &Value, new: &Value, path: &mut AttrPath, out: &mut Vec<Violation>) {
    if !planned.is_known() {
        return;
    }
    match (&planned.kind, &new.kind) {
        (Kind::Object(a), Kind::Object(b)) | (Kind::Map(_, a), Kind::Map(_, b))
            if a.len() == b.len() =>
        {
            for (k, pv) in a {
                let Some(nv) = b.get(k) else {
                    out.push(Violation {
                        path: path_string(path),
                        message: format!("key {k:?} missing from the new state"),
                    });
                    continue;
                };
                path.push(if matches!(planned.kind, Kind::Object(_)) {
                    PathStep::Attr(k.clone())
                } else {
                    PathStep::Key(k.clone())
                });
                agree(pv, nv, path, out);
                path.pop();
            }
        }
        (Kind::List(_, a), Kind::List(_, b)) | (Kind::Tuple(a), Kind::Tuple(b))
            if a.len() == b.len() =>
        {
            for (i, (pv, nv)) in a.iter().zip(b).enumerate() {
                path.push(PathStep::Index(i as u64));
                agree(pv, nv, path, out);
                path.pop();
            }
        }
        _ => {
            if planned.is_wholly_known() && !same(planned, new) {
                out.push(Violation {
                    path: path_string(path),
                    message: "the new state differs from the known planned value".into(),
                });
            } else if !planned.is_wholly_known() && planned.ty() != new.ty() && !planned.is_null() {
                // Sets with unknown elements: only the shape can be compared.
            }
        }
    }
}

/// Structural equality ignoring marks (without copying either value).
pub fn same(a: &Value, b: &Value) -> bool {
    fn seq(x: &[Value], y: &[Value]) -> bool {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
    }
    fn map(x: &BTreeMap<String, Value>, y: &BTreeMap<String, Value>) -> bool {
        x.len() == y.len() && x.iter().zip(y).all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
    }
    match (&a.kind, &b.kind) {
        (Kind::List(t1, x), Kind::List(t2, y)) | (Kind::Set(t1, x), Kind::Set(t2, y)) => {
            t1 == t2 && seq(x, y)
        }
        (Kind::Tuple(x), Kind::Tuple(y)) => seq(x, y),
        (Kind::Map(t1, x), Kind::Map(t2, y)) => t1 == t2 && map(x, y),
        (Kind::Object(x), Kind::Object(y)) => map(x, y),
        (x, y) => x == y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Attribute;
    use crate::types::Type;

    fn block() -> Block {
        Block::default()
            .attr("name", Attribute::required(Type::String))
            .attr("id", Attribute::computed(Type::String))
            .attr("size", Attribute::optional_computed(Type::Number))
    }

    #[test]
    fn computed_attributes_keep_their_prior_value_in_the_proposed_state() {
        let prior = Value::object_from([
            ("name", Value::string("a")),
            ("id", Value::string("i-1")),
            ("size", Value::number(3)),
        ]);
        let config = Value::object_from([
            ("name", Value::string("b")),
            ("id", Value::null(Type::String)),
            ("size", Value::null(Type::Number)),
        ]);
        let p = proposed_new_state(&block(), &prior, &config);
        assert_eq!(p.get("name"), Some(&Value::string("b")));
        assert_eq!(p.get("id"), Some(&Value::string("i-1")));
        assert_eq!(p.get("size"), Some(&Value::number(3)));
    }

    #[test]
    fn a_new_state_that_changes_a_known_planned_value_is_a_violation() {
        let planned = Value::object_from([
            ("name", Value::string("a")),
            ("id", Value::unknown(Type::String)),
        ]);
        let ok = Value::object_from([("name", Value::string("a")), ("id", Value::string("x"))]);
        let bad = Value::object_from([("name", Value::string("b")), ("id", Value::string("x"))]);
        assert!(check_new_state(&planned, &ok).is_empty());
        let v = check_new_state(&planned, &bad);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].path, "name");
    }
}

//! [`evaluate_body`]: a resource, data source or provider body evaluated against the schema
//! block of its type into one object value.
//!
//! Unset optional attributes are null; nested blocks are collected by their [`Nesting`]
//! (labelled `Nesting::Map` blocks keyed by label); `dynamic "NAME" { for_each, iterator,
//! content }` blocks expand like static ones; every attribute is converted to its schema type;
//! computed-only attributes are unknown when `computed_unknown` is asked for.

use std::collections::BTreeMap;

use brick_provider_api::schema::{Block as SchemaBlock, Nesting, Presence};
use brick_provider_api::{Type, Value};

use super::evaluator::{Evaluator, convert_value, describe};
use super::{Environment, Scope};
use crate::config::{Block, Body, Span};
use crate::diag::{Diagnostic, did_you_mean};

/// Block instances per block type: (label, value, span of the block).
type Instances<'s> = BTreeMap<&'s str, Vec<(Option<String>, Value, Span)>>;

fn err(code: &str, summary: &str, detail: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::error(format!("brick::eval::{code}"), summary, detail).at(span)
}

/// Evaluates `body` against `schema`. Attributes the user may not set (computed) are null in
/// the result; the planner fills them in. Errors are diagnostics; the value is always an
/// object of `schema.value_type()` shape (failed parts unknown).
pub fn evaluate_body(
    body: &Body,
    schema: &SchemaBlock,
    scope: &dyn Scope,
    env: &dyn Environment,
) -> (Value, Vec<Diagnostic>) {
    let mut ev = Evaluator::new(scope, env);
    let v = block_value(&mut ev, body, schema, body.span);
    (v, ev.diags)
}

fn block_value(ev: &mut Evaluator, body: &Body, schema: &SchemaBlock, at: Span) -> Value {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for a in &body.attributes {
        let Some(sa) = schema.attributes.get(&a.name) else {
            let candidates = schema.attributes.keys().chain(schema.blocks.keys());
            let help = did_you_mean(&a.name, candidates.map(String::as_str))
                .map(|s| format!("Did you mean `{s}`?"));
            let detail = if schema.blocks.contains_key(&a.name) {
                format!(
                    "\"{}\" is a block, not an argument: write {} {{ … }} without the equals sign.",
                    a.name, a.name
                )
            } else {
                format!("An argument named \"{}\" is not expected here.", a.name)
            };
            ev.diags.push(
                err(
                    "unsupported_argument",
                    "Unsupported argument",
                    detail,
                    a.name_span,
                )
                .help_opt(help)
                .label("not in the schema"),
            );
            continue;
        };
        if sa.presence == Presence::Computed {
            ev.diags.push(err(
                "computed_argument",
                "Invalid argument",
                format!(
                    "\"{}\" is computed by the provider and cannot be set in configuration.",
                    a.name
                ),
                a.name_span,
            ));
            continue;
        }
        let v = match ev.eval(&a.expr) {
            Ok(v) => match convert_value(&v, &sa.ty) {
                Ok(c) => c,
                Err(m) => {
                    ev.diags.push(
                        err(
                            "wrong_type",
                            "Incorrect attribute value type",
                            format!("Inappropriate value for attribute \"{}\": {} is required, but this is {} ({m}).", a.name, sa.ty, describe(&v.ty())),
                            a.expr.span,
                        ),
                    );
                    Value::unknown(sa.ty.clone())
                }
            },
            Err(()) => Value::unknown(sa.ty.clone()),
        };
        let v = if sa.sensitive { v.sensitive() } else { v };
        out.insert(a.name.clone(), v);
    }
    for (name, sa) in &schema.attributes {
        if out.contains_key(name) {
            continue;
        }
        if sa.presence == Presence::Required && body.attribute(name).is_none() {
            ev.diags.push(
                err(
                    "missing_argument",
                    "Missing required argument",
                    format!("The argument \"{name}\" is required, but no definition was found."),
                    at,
                )
                .help(format!("Add {name} = … to this block.")),
            );
        }
        let v = match (&sa.default, sa.presence) {
            (Some(d), Presence::Optional | Presence::OptionalComputed)
                if body.attribute(name).is_none() =>
            {
                d.clone()
            }
            _ => Value::null(sa.ty.clone()),
        };
        out.insert(name.clone(), v);
    }

    // Nested blocks, static and dynamic, grouped by type.
    let mut instances: Instances = BTreeMap::new();
    let mut unknown_blocks: Vec<&str> = Vec::new();
    for b in &body.blocks {
        if b.kind == "dynamic" {
            dynamic_block(ev, b, schema, &mut instances, &mut unknown_blocks);
            continue;
        }
        let Some(nb) = schema.blocks.get(&b.kind) else {
            let candidates = schema.blocks.keys().chain(schema.attributes.keys());
            let help = did_you_mean(&b.kind, candidates.map(String::as_str))
                .map(|s| format!("Did you mean `{s}`?"));
            let detail = if schema.attributes.contains_key(&b.kind) {
                format!(
                    "\"{}\" is an argument, not a block: write {} = {{ … }}.",
                    b.kind, b.kind
                )
            } else {
                format!("Blocks of type \"{}\" are not expected here.", b.kind)
            };
            ev.diags.push(
                err(
                    "unsupported_block",
                    "Unsupported block type",
                    detail,
                    b.kind_span,
                )
                .help_opt(help),
            );
            continue;
        };
        let key = block_key(ev, b, nb.nesting);
        let v = block_value(ev, &b.body, &nb.block, b.kind_span);
        if let Some(key) = key {
            instances
                .entry(
                    schema
                        .blocks
                        .get_key_value(&b.kind)
                        .map(|(k, _)| k.as_str())
                        .unwrap_or(""),
                )
                .or_default()
                .push((key, v, b.kind_span));
        }
    }
    for (name, nb) in &schema.blocks {
        let list = instances.remove(name.as_str()).unwrap_or_default();
        let ty = nb.block.value_type();
        if unknown_blocks.contains(&name.as_str()) {
            let t = match nb.nesting {
                Nesting::Single => ty,
                Nesting::List { .. } => Type::list(ty),
                Nesting::Set { .. } => Type::set(ty),
                Nesting::Map => Type::map(ty),
            };
            out.insert(name.clone(), Value::unknown(t));
            continue;
        }
        let value = match nb.nesting {
            Nesting::Single => {
                if list.len() > 1 {
                    ev.diags.push(err(
                        "duplicate_block",
                        "Duplicate block",
                        format!("Only one \"{name}\" block is allowed here."),
                        list[1].2,
                    ));
                }
                list.into_iter()
                    .next()
                    .map(|(_, v, _)| v)
                    .unwrap_or_else(|| Value::null(ty))
            }
            Nesting::List { min, max } | Nesting::Set { min, max } => {
                if list.len() < min {
                    ev.diags.push(err(
                        "missing_block",
                        "Insufficient blocks",
                        format!(
                            "At least {min} \"{name}\" block(s) are required, but {} were given.",
                            list.len()
                        ),
                        at,
                    ));
                }
                if let Some(max) = max.filter(|m| list.len() > *m) {
                    ev.diags.push(err(
                        "too_many_blocks",
                        "Too many blocks",
                        format!("No more than {max} \"{name}\" block(s) are allowed, but {} were given.", list.len()),
                        list[max].2,
                    ));
                }
                let items: Vec<Value> = list.into_iter().map(|(_, v, _)| v).collect();
                if matches!(nb.nesting, Nesting::List { .. }) {
                    Value::list(ty, items)
                } else {
                    Value::set(ty, items)
                }
            }
            Nesting::Map => {
                let mut m = BTreeMap::new();
                for (k, v, span) in list {
                    let k = k.unwrap_or_default();
                    if m.contains_key(&k) {
                        ev.diags.push(err(
                            "duplicate_block",
                            "Duplicate block",
                            format!("A \"{name}\" block labelled \"{k}\" was already given."),
                            span,
                        ));
                        continue;
                    }
                    m.insert(k, v);
                }
                Value::map(ty, m)
            }
        };
        out.insert(name.clone(), value);
    }
    Value::object(out)
}

/// The label of a labelled (`Nesting::Map`) block, `Some(None)` for unlabelled kinds, `None`
/// after a label error.
fn block_key(ev: &mut Evaluator, b: &Block, nesting: Nesting) -> Option<Option<String>> {
    let want = usize::from(nesting == Nesting::Map);
    if b.labels.len() != want {
        ev.diags.push(err(
            "wrong_labels",
            "Wrong number of block labels",
            if want == 1 {
                format!(
                    "A \"{}\" block needs one label, its key: {} \"NAME\" {{ … }}.",
                    b.kind, b.kind
                )
            } else {
                format!("A \"{}\" block takes no labels.", b.kind)
            },
            b.header_span(),
        ));
        return None;
    }
    Some(b.labels.first().cloned())
}

fn dynamic_block<'s>(
    ev: &mut Evaluator,
    b: &Block,
    schema: &'s SchemaBlock,
    instances: &mut Instances<'s>,
    unknown_blocks: &mut Vec<&'s str>,
) {
    let [kind] = b.labels.as_slice() else {
        ev.diags.push(err(
            "wrong_labels",
            "Wrong number of block labels",
            "A dynamic block takes one label: the type of block it generates, e.g. dynamic \"volume\" { … }.",
            b.header_span(),
        ));
        return;
    };
    let Some((kind_key, nb)) = schema.blocks.get_key_value(kind) else {
        let help = did_you_mean(kind, schema.blocks.keys().map(String::as_str))
            .map(|s| format!("Did you mean `{s}`?"));
        ev.diags.push(
            err(
                "unsupported_block",
                "Unsupported block type",
                format!("Blocks of type \"{kind}\" are not expected here."),
                b.label_spans[0],
            )
            .help_opt(help),
        );
        return;
    };
    let iterator = match b.body.attribute("iterator") {
        None => kind.clone(),
        Some(a) => match &a.expr.kind {
            crate::config::ExprKind::Variable(n) => n.clone(),
            _ => {
                ev.diags.push(err(
                    "invalid_iterator",
                    "Invalid dynamic iterator name",
                    "The iterator argument must be a single bare name.",
                    a.expr.span,
                ));
                return;
            }
        },
    };
    let Some(fe) = b.body.attribute("for_each") else {
        ev.diags.push(err(
            "missing_argument",
            "Missing required argument",
            "A dynamic block needs a \"for_each\" argument.",
            b.kind_span,
        ));
        return;
    };
    let contents: Vec<&Block> = b.body.blocks_of("content").collect();
    let [content] = contents.as_slice() else {
        ev.diags.push(err(
            "missing_block",
            "Missing content block",
            "A dynamic block needs exactly one nested content { … } block.",
            b.kind_span,
        ));
        return;
    };
    let Ok(coll) = ev.eval(&fe.expr) else {
        return;
    };
    if !coll.is_known() {
        unknown_blocks.push(kind_key.as_str());
        return;
    }
    let pairs: Vec<(Value, Value)> = match (&coll.kind, coll.as_sequence(), coll.as_mapping()) {
        (brick_provider_api::value::Kind::Set(..), Some(items), _) => {
            items.iter().map(|v| (v.clone(), v.clone())).collect()
        }
        (_, Some(items), _) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Value::number(i), v.clone()))
            .collect(),
        (_, _, Some(m)) => m
            .iter()
            .map(|(k, v)| (Value::string(k.clone()), v.clone()))
            .collect(),
        _ => {
            ev.diags.push(err(
                "invalid_for_each",
                "Invalid dynamic for_each value",
                format!(
                    "Cannot use {} as the for_each of a dynamic block: a collection is required.",
                    if coll.is_null() {
                        "null".to_string()
                    } else {
                        describe(&coll.ty())
                    }
                ),
                fe.expr.span,
            ));
            return;
        }
    };
    let labels_attr = b.body.attribute("labels");
    for (k, v) in pairs {
        let it = Value::object_from([
            ("key", k.with_marks(coll.marks)),
            ("value", v.with_marks(coll.marks)),
        ]);
        let n = ev.locals.len();
        ev.locals.push((iterator.clone(), it));
        let mut key = None;
        if nb.nesting == Nesting::Map {
            match labels_attr.map(|a| ev.eval(&a.expr)) {
                Some(Ok(l)) => {
                    key = l
                        .as_sequence()
                        .and_then(|s| s.first())
                        .and_then(|x| x.as_str())
                        .map(str::to_string)
                }
                Some(Err(())) => {}
                None => {}
            }
            if key.is_none() {
                ev.diags.push(err(
                    "wrong_labels",
                    "Missing dynamic block labels",
                    format!(
                        "\"{kind}\" blocks are labelled: set labels = [\"…\"] in the dynamic block."
                    ),
                    b.kind_span,
                ));
                ev.locals.truncate(n);
                continue;
            }
        }
        let value = block_value(ev, &content.body, &nb.block, content.kind_span);
        ev.locals.truncate(n);
        instances
            .entry(kind_key.as_str())
            .or_default()
            .push((key, value, b.kind_span));
    }
}

//! `kafka_acl`: one ACL binding, with the arguments of Terraform's Mongey/kafka provider. Every
//! argument identifies the binding, so any change replaces it; creating one adds exactly that
//! binding (CreateAcls never touches others) and deleting one removes exactly that binding (the
//! DeleteAcls filter names every field, with no `Any` or `Match` that would widen it).

use brick_provider_api::provider::{ApplyResponse, PathStep, PlanResponse};
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};

use crate::client::{Client, REQUEST_TIMEOUT};
use crate::ffi::{self, Acl, AclOperation, AclPattern, AclPermission, AclResource};
use crate::value::{kafka_diag, s, str_attr};

pub const TYPE: &str = "kafka_acl";

/// The arguments, in the order of the import id.
const ARGS: [&str; 7] = [
    "acl_principal",
    "acl_host",
    "acl_operation",
    "acl_permission_type",
    "resource_type",
    "resource_name",
    "resource_pattern_type_filter",
];

pub fn schema() -> ResourceSchema {
    let arg = |d: &str| {
        Attribute::required(Type::String)
            .forces_replacement()
            .describe(d)
    };
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String).describe(
                    "principal|host|operation|permission|resource type|resource name|pattern type; also the import id.",
                ),
            )
            .attr("acl_principal", arg("Whom the ACL is for, e.g. User:alice."))
            .attr("acl_host", arg("The client host it applies to; * for any."))
            .attr(
                "acl_operation",
                arg("All, Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs or IdempotentWrite."),
            )
            .attr("acl_permission_type", arg("Allow or Deny."))
            .attr(
                "resource_type",
                arg("Topic, Group, Cluster or TransactionalID."),
            )
            .attr(
                "resource_name",
                arg("The resource's name (kafka-cluster for Cluster); with Prefixed, a prefix."),
            )
            .attr(
                "resource_pattern_type_filter",
                Attribute::optional(Type::String)
                    .forces_replacement()
                    .default(s("Literal"))
                    .describe("Literal (default) or Prefixed."),
            ),
    }
}

fn bad(attr: &str, value: &str, allowed: &str) -> Box<Diagnostic> {
    Box::new(
        Diagnostic::error(
            "brick::kafka::invalid_acl",
            "Invalid ACL argument",
            format!("{attr} \"{value}\" is not one of {allowed}."),
        )
        .at([attr]),
    )
}

fn names<T>(all: &[(T, &str)], skip: &[&str]) -> String {
    all.iter()
        .map(|(_, n)| *n)
        .filter(|n| !skip.contains(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The parsed value, or nothing with the error kept in `d`.
fn take<T>(d: &mut Diagnostics, r: Option<Result<T, Box<Diagnostic>>>) -> Option<T> {
    match r? {
        Ok(x) => Some(x),
        Err(e) => {
            d.push(*e);
            None
        }
    }
}

/// The binding a configuration or state describes, or what is wrong with it (unknown values
/// are skipped).
fn binding(v: &Value) -> Result<Option<Acl>, Diagnostics> {
    let mut d = Vec::new();
    let get = |a: &str| str_attr(v, a);
    let rt = get("resource_type").map(|t| {
        AclResource::parse(t)
            .filter(|r| *r != AclResource::Any)
            .ok_or_else(|| bad("resource_type", t, &names(AclResource::ALL, &["Any"])))
    });
    let pat = get("resource_pattern_type_filter")
        .or(Some("Literal"))
        .map(|t| {
            AclPattern::parse(t)
                .filter(|p| matches!(p, AclPattern::Literal | AclPattern::Prefixed))
                .ok_or_else(|| bad("resource_pattern_type_filter", t, "Literal, Prefixed"))
        });
    let op = get("acl_operation").map(|t| {
        AclOperation::parse(t)
            .filter(|o| *o != AclOperation::Any)
            .ok_or_else(|| bad("acl_operation", t, &names(AclOperation::ALL, &["Any"])))
    });
    let perm = get("acl_permission_type").map(|t| {
        AclPermission::parse(t)
            .filter(|p| *p != AclPermission::Any)
            .ok_or_else(|| bad("acl_permission_type", t, "Allow, Deny"))
    });
    let (rt, pat, op, perm) = (
        take(&mut d, rt),
        take(&mut d, pat),
        take(&mut d, op),
        take(&mut d, perm),
    );
    if let Some(p) = get("acl_principal")
        && !p.contains(':')
    {
        d.push(
            Diagnostic::error(
                "brick::kafka::invalid_acl",
                "Invalid ACL argument",
                format!("acl_principal \"{p}\" is not of the form Type:name."),
            )
            .at(["acl_principal"])
            .with_help("For example User:alice, or User:* for every user."),
        );
    }
    if rt == Some(AclResource::Cluster)
        && let Some(name) = get("resource_name")
        && name != "kafka-cluster"
    {
        d.push(*bad(
            "resource_name",
            name,
            "kafka-cluster (the only Cluster resource)",
        ));
    }
    if !d.is_empty() {
        return Err(d);
    }
    let (Some(rt), Some(pat), Some(op), Some(perm)) = (rt, pat, op, perm) else {
        return Ok(None);
    };
    let (Some(name), Some(principal), Some(host)) =
        (get("resource_name"), get("acl_principal"), get("acl_host"))
    else {
        return Ok(None);
    };
    Ok(Some(Acl {
        resource_type: rt,
        resource_name: name.into(),
        pattern: pat,
        principal: principal.into(),
        host: host.into(),
        operation: op,
        permission: perm,
    }))
}

pub fn validate(config: &Value) -> Diagnostics {
    binding(config).err().unwrap_or_default()
}

fn id_of(a: &Acl) -> String {
    [
        a.principal.as_str(),
        &a.host,
        a.operation.name(),
        a.permission.name(),
        a.resource_type.name(),
        &a.resource_name,
        a.pattern.name(),
    ]
    .join("|")
}

/// The state of a binding; the arguments keep the user's spelling when it names the same thing.
fn state_of(a: &Acl, carry: &Value) -> Value {
    let keep = |attr: &str, canonical: &str| -> Value {
        match str_attr(carry, attr) {
            Some(c)
                if c.eq_ignore_ascii_case(canonical)
                    || c.replace('_', "").eq_ignore_ascii_case(canonical) =>
            {
                s(c)
            }
            _ => s(canonical),
        }
    };
    Value::object_from([
        ("id", s(id_of(a))),
        ("acl_principal", s(&a.principal)),
        ("acl_host", s(&a.host)),
        ("acl_operation", keep("acl_operation", a.operation.name())),
        (
            "acl_permission_type",
            keep("acl_permission_type", a.permission.name()),
        ),
        (
            "resource_type",
            keep("resource_type", a.resource_type.name()),
        ),
        ("resource_name", s(&a.resource_name)),
        (
            "resource_pattern_type_filter",
            keep("resource_pattern_type_filter", a.pattern.name()),
        ),
    ])
}

pub fn plan(prior: &Value, proposed: &Value) -> PlanResponse {
    if proposed.is_null() {
        return PlanResponse::planned(proposed.clone());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    if m.get("resource_pattern_type_filter")
        .is_none_or(Value::is_null)
    {
        m.insert("resource_pattern_type_filter".into(), s("Literal"));
    }
    let planned = Value::object(m.clone());
    let id = match binding(&planned) {
        Ok(Some(a)) => s(id_of(&a)),
        _ => Value::unknown(Type::String),
    };
    m.insert("id".into(), id);
    let requires_replace = if prior.is_null() {
        Vec::new()
    } else {
        ARGS.iter()
            .filter(|a| prior.get(a) != m.get(**a))
            .map(|a| vec![PathStep::Attr(a.to_string())])
            .collect()
    };
    PlanResponse {
        planned: Value::object(m),
        requires_replace,
        diagnostics: Vec::new(),
    }
}

fn known(v: &Value) -> Result<Acl, Diagnostics> {
    match binding(v)? {
        Some(a) => Ok(a),
        None => Err(vec![Diagnostic::error(
            "brick::kafka::invalid_acl",
            "Incomplete ACL",
            "The ACL's arguments are not all known.",
        )]),
    }
}

pub async fn apply(client: &Client, prior: &Value, planned: &Value) -> ApplyResponse {
    let fail = |d: Diagnostics, state: &Value| ApplyResponse {
        new_state: state.clone(),
        diagnostics: d,
    };
    if planned.is_null() {
        let a = match known(prior) {
            Ok(a) => a,
            Err(d) => return fail(d, prior),
        };
        let id = id_of(&a);
        let r = client
            .blocking(move |admin| ffi::delete_acls(admin, &[a], REQUEST_TIMEOUT))
            .await;
        let r = match r.map(|mut v| v.pop()) {
            Ok(Some(Err(e))) | Err(e) => Err(e),
            Ok(_) => settle_acl(client, known(prior).ok(), false).await,
        };
        return match r {
            Err(e) => fail(
                vec![kafka_diag(
                    "Cannot delete ACL",
                    &format!("deleting ACL {id}"),
                    &e,
                )],
                prior,
            ),
            Ok(()) => ApplyResponse::done(Value::null(prior.ty())),
        };
    }
    let a = match known(planned) {
        Ok(a) => a,
        Err(d) => return fail(d, prior),
    };
    let id = id_of(&a);
    let create = a.clone();
    let r = client
        .blocking(move |admin| ffi::create_acls(admin, &[create], REQUEST_TIMEOUT))
        .await;
    let r = match r.map(|mut v| v.pop()) {
        Ok(Some(Err(e))) | Err(e) => Err(e),
        Ok(_) => settle_acl(client, Some(a.clone()), true).await,
    };
    match r {
        Err(e) => fail(
            vec![kafka_diag(
                "Cannot create ACL",
                &format!("creating ACL {id}"),
                &e,
            )],
            &Value::null(planned.ty()),
        ),
        Ok(()) => ApplyResponse::done(state_of(&a, planned)),
    }
}

/// Waits until every broker agrees the binding is there (`present`) or gone.
async fn settle_acl(
    client: &Client,
    a: Option<Acl>,
    present: bool,
) -> Result<(), crate::ffi::AdminError> {
    let Some(a) = a else { return Ok(()) };
    crate::client::settle("the ACL", || {
        let a = a.clone();
        async move { Ok(find(client, a).await?.is_some() == present) }
    })
    .await
}

/// Finds the exact binding.
async fn find(client: &Client, a: Acl) -> Result<Option<Acl>, crate::ffi::AdminError> {
    let want = a.clone();
    let found = client
        .blocking(move |admin| ffi::describe_acls(admin, &a, REQUEST_TIMEOUT))
        .await?;
    Ok(found.into_iter().find(|f| *f == want))
}

pub async fn read(client: &Client, current: &Value) -> Result<Option<Value>, Diagnostics> {
    let a = known(current)?;
    let id = id_of(&a);
    match find(client, a).await {
        Ok(Some(found)) => Ok(Some(state_of(&found, current))),
        Ok(None) => Ok(None),
        Err(e) => Err(vec![kafka_diag(
            "Cannot read ACL",
            &format!("reading ACL {id}"),
            &e,
        )]),
    }
}

/// Parses an import id: `principal|host|operation|permission|resource type|name|pattern type`.
pub fn parse_id(id: &str) -> Result<Value, Diagnostics> {
    let parts: Vec<&str> = id.split('|').collect();
    if parts.len() != ARGS.len() {
        return Err(vec![
            Diagnostic::error(
                "brick::kafka::invalid_acl_id",
                "Invalid ACL import id",
                format!("\"{id}\" does not have the 7 parts of a kafka_acl id."),
            )
            .with_help("Write principal|host|operation|permission|resource type|resource name|pattern type, e.g. User:alice|*|Read|Allow|Topic|orders|Literal."),
        ]);
    }
    let v = Value::object(
        ARGS.iter()
            .zip(parts)
            .map(|(k, v)| (k.to_string(), s(v)))
            .collect(),
    );
    binding(&v)?;
    Ok(v)
}

pub async fn import(client: &Client, id: &str) -> Result<Value, Diagnostics> {
    let v = parse_id(id)?;
    match read(client, &v).await? {
        Some(state) => Ok(state),
        None => Err(vec![Diagnostic::error(
            "brick::kafka::no_such_acl",
            "ACL not found",
            format!("The cluster has no ACL binding {id}."),
        )]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(op: &str) -> Value {
        Value::object_from([
            ("id", Value::null(Type::String)),
            ("acl_principal", s("User:alice")),
            ("acl_host", s("*")),
            ("acl_operation", s(op)),
            ("acl_permission_type", s("Allow")),
            ("resource_type", s("Topic")),
            ("resource_name", s("orders")),
            ("resource_pattern_type_filter", Value::null(Type::String)),
        ])
    }

    #[test]
    fn the_id_names_every_field_and_reads_back() {
        let p = plan(&Value::null_dynamic(), &acl("Read")).planned;
        let id = str_attr(&p, "id").unwrap();
        assert_eq!(id, "User:alice|*|Read|Allow|Topic|orders|Literal");
        let back = parse_id(id).unwrap();
        assert_eq!(binding(&back).unwrap(), binding(&p).unwrap());
    }

    #[test]
    fn any_change_replaces_the_binding_and_wildcards_are_refused() {
        let prior = plan(&Value::null_dynamic(), &acl("Read")).planned;
        let p = plan(&prior, &acl("Write"));
        assert!(
            p.requires_replace
                .contains(&vec![PathStep::Attr("acl_operation".into())])
        );
        assert!(
            !validate(&acl("Any")).is_empty(),
            "Any would widen a delete to other bindings"
        );
        assert!(!validate(&acl("Fly")).is_empty());
        assert!(validate(&acl("read")).is_empty(), "Kafka's names, any case");
    }
}

//! `maas_tag`: a MAAS tag (name, comment, kernel_opts). Machines get tags through
//! `maas_machine.tags`; this resource owns the tag itself.

use brick_provider_api::provider::{ApplyResponse, PlanResponse};
use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use serde_json::Value as Json;

use crate::client::{MaasClient, MaasError};
use crate::convert::{json_str, maas_diag, opt_s, s, str_attr};
use crate::provider::Ctx;

pub const TYPE: &str = "maas_tag";

pub fn schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: Block::default()
            .attr(
                "id",
                Attribute::computed(Type::String).describe("The tag's name."),
            )
            .attr(
                "name",
                Attribute::required(Type::String)
                    .forces_replacement()
                    .describe("The tag's name: letters, digits, - and _."),
            )
            .attr(
                "comment",
                Attribute::optional(Type::String).describe("A free-text description of the tag."),
            )
            .attr(
                "kernel_opts",
                Attribute::optional(Type::String)
                    .describe("Kernel options for machines with this tag."),
            ),
    }
}

pub fn validate(config: &Value) -> Diagnostics {
    let mut d = Vec::new();
    if let Some(name) = str_attr(config, "name")
        && (name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        d.push(
            Diagnostic::error(
                "brick::maas::invalid_tag_name",
                "Invalid tag name",
                format!("The tag name \"{name}\" may contain only letters, digits, - and _."),
            )
            .at(["name"]),
        );
    }
    d
}

pub fn plan(prior: &Value, proposed: &Value) -> PlanResponse {
    if proposed.is_null() {
        return PlanResponse::planned(proposed.clone());
    }
    let mut m = proposed.as_mapping().cloned().unwrap_or_default();
    let name = m
        .get("name")
        .cloned()
        .unwrap_or_else(|| Value::unknown(Type::String));
    m.insert("id".into(), name);
    let mut requires_replace = Vec::new();
    if !prior.is_null() && prior.get("name") != proposed.get("name") {
        requires_replace.push(vec![brick_provider_api::provider::PathStep::Attr(
            "name".into(),
        )]);
    }
    PlanResponse {
        planned: Value::object(m),
        requires_replace,
        diagnostics: Vec::new(),
    }
}

fn state_from(tag: &Json, carry: &Value) -> Value {
    // MAAS answers "" for an unset comment; keep null when the configuration left it null.
    let keep = |field: &str| {
        let v = json_str(tag, field);
        if v.is_empty() && carry.get(field).is_none_or(Value::is_null) {
            opt_s(None)
        } else {
            s(v)
        }
    };
    Value::object_from([
        ("id", s(json_str(tag, "name"))),
        ("name", s(json_str(tag, "name"))),
        ("comment", keep("comment")),
        ("kernel_opts", keep("kernel_opts")),
    ])
}

fn params(planned: &Value) -> Vec<(&'static str, String)> {
    let mut p = Vec::new();
    for f in ["comment", "kernel_opts"] {
        p.push((f, str_attr(planned, f).unwrap_or("").to_string()));
    }
    p
}

pub async fn apply(ctx: &Ctx, prior: &Value, planned: &Value) -> ApplyResponse {
    let c = &ctx.client;
    let fail = |d: Diagnostic, state: &Value| ApplyResponse {
        new_state: state.clone(),
        diagnostics: vec![d],
    };
    if planned.is_null() {
        let name = str_attr(prior, "name").unwrap_or("");
        return match c.delete(&format!("tags/{name}/")).await {
            Ok(_) | Err(MaasError::NotFound { .. }) => ApplyResponse::done(Value::null(prior.ty())),
            Err(e) => fail(
                maas_diag("Cannot delete tag", &format!("deleting tag {name}"), &e),
                prior,
            ),
        };
    }
    let name = str_attr(planned, "name").unwrap_or("").to_string();
    let result = if prior.is_null() {
        let mut p = params(planned);
        p.push(("name", name.clone()));
        create(c, &name, &p).await
    } else {
        c.put(&format!("tags/{name}/"), &params(planned)).await
    };
    match result {
        Ok(tag) => ApplyResponse::done(state_from(&tag, planned)),
        Err(e) => {
            let mut d = maas_diag("Cannot write tag", &format!("writing tag {name}"), &e);
            if matches!(e, MaasError::BadRequest { .. }) && e.to_string().contains("already exists")
            {
                d = d.with_help(format!("The tag exists in MAAS already: adopt it with `brick import ADDRESS {name}` (ADDRESS is this resource's address, e.g. maas_tag.{name}) or an `import` block, or delete it in MAAS."));
            }
            fail(d, prior)
        }
    }
}

/// Creates the tag `name` (`params` holds every field), never twice: a tag that exists
/// already is MAAS's "already exists" refusal, as MAAS would say it; a create whose answer was
/// lost (a gateway's 504 after MAAS did the work) is settled by looking the tag up, and sent
/// again only when it is not there.
pub async fn create(
    c: &MaasClient,
    name: &str,
    params: &[(&str, String)],
) -> Result<Json, MaasError> {
    let path = format!("tags/{name}/");
    match c.get(&path, &[]).await {
        Ok(_) => {
            return Err(MaasError::BadRequest {
                message: "name: Tag with this Name already exists.".into(),
                fields: None,
            });
        }
        Err(MaasError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match c.post("tags/", None, params).await {
            Err(e @ MaasError::Unconfirmed { .. }) => match c.get(&path, &[]).await {
                Ok(tag) => return Ok(tag),
                Err(MaasError::NotFound { .. }) if attempt < 5 => continue,
                Err(MaasError::NotFound { .. }) => return Err(e),
                Err(other) => return Err(other),
            },
            other => return other,
        }
    }
}

pub async fn read(ctx: &Ctx, current: &Value) -> Result<Option<Value>, Diagnostics> {
    let name = str_attr(current, "name").unwrap_or("");
    match ctx.client.get(&format!("tags/{name}/"), &[]).await {
        Ok(tag) => Ok(Some(state_from(&tag, current))),
        Err(MaasError::NotFound { .. }) => Ok(None),
        Err(e) => Err(vec![maas_diag(
            "Cannot read tag",
            &format!("reading tag {name}"),
            &e,
        )]),
    }
}

pub async fn import(ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
    match ctx.client.get(&format!("tags/{id}/"), &[]).await {
        Ok(tag) => Ok(state_from(&tag, &Value::null_dynamic())),
        Err(e) => Err(vec![maas_diag(
            "Cannot import tag",
            &format!("reading tag {id}"),
            &e,
        )]),
    }
}

//! `data "k8s_object"` (one object, e.g. a Secret an operator made) and `data "k8s_objects"`
//! (every object of a kind, in a namespace or all, by label and field selector).

use brick_provider_api::schema::{Attribute, Block, ResourceSchema};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};
use kube::api::ListParams;
use serde_json::Value as Json;

use crate::client::Ctx;
use crate::convert::{from_json, str_attr};

pub const OBJECT: &str = "k8s_object";
pub const OBJECTS: &str = "k8s_objects";

fn common() -> Block {
    Block::default()
        .attr(
            "api_version",
            Attribute::required(Type::String).describe("e.g. v1, apps/v1."),
        )
        .attr(
            "kind",
            Attribute::required(Type::String).describe("e.g. Secret."),
        )
        .attr(
            "namespace",
            Attribute::optional(Type::String).describe(
                "The namespace (namespaced kinds; k8s_object defaults to the context's).",
            ),
        )
}

pub fn object_schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: common()
            .attr("name", Attribute::required(Type::String))
            .attr(
                "object",
                Attribute::computed(Type::Dynamic)
                    .describe("The object as the server holds it (null when it does not exist)."),
            ),
    }
}

pub fn objects_schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        block: common()
            .attr(
                "label_selector",
                Attribute::optional(Type::String).describe("e.g. app=rook-ceph-mon."),
            )
            .attr(
                "field_selector",
                Attribute::optional(Type::String).describe("e.g. status.phase=Running."),
            )
            .attr(
                "objects",
                Attribute::computed(Type::Dynamic)
                    .describe("The objects found, in the server's order."),
            ),
    }
}

fn unknown_kind(api_version: &str, kind: &str) -> Diagnostics {
    let d = Diagnostic::error(
        "brick::k8s::unknown_kind",
        "Unknown kind",
        format!("The API server does not serve kind {kind} in {api_version}."),
    )
    .at(["kind"]);
    vec![match crate::removed::unknown_kind_help(api_version) {
        Some(help) => d.with_help(help),
        None => d,
    }]
}

fn clean(mut j: Json, api_version: &str, kind: &str) -> Value {
    if let Some(m) = j.as_object_mut() {
        m.entry("apiVersion")
            .or_insert_with(|| Json::String(api_version.into()));
        m.entry("kind").or_insert_with(|| Json::String(kind.into()));
        if let Some(md) = m.get_mut("metadata").and_then(Json::as_object_mut) {
            md.remove("managedFields");
        }
    }
    from_json(&j)
}

pub async fn read_object(ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
    let av = str_attr(config, "api_version").unwrap_or("");
    let kind_name = str_attr(config, "kind").unwrap_or("");
    let name = str_attr(config, "name").unwrap_or("");
    let kind = ctx
        .kind(av, kind_name, false)
        .await
        .map_err(|d| vec![d])?
        .ok_or_else(|| unknown_kind(av, kind_name))?;
    let api = ctx.api(&kind, str_attr(config, "namespace"));
    let found = api
        .get_opt(name)
        .await
        .map_err(|e| vec![ctx.error(&e, &format!("reading {kind_name} {name}"))])?;
    let object = match found {
        Some(o) => clean(
            serde_json::to_value(&o).unwrap_or(Json::Null),
            av,
            kind_name,
        ),
        None => Value::null_dynamic(),
    };
    let mut out = config.as_mapping().cloned().unwrap_or_default();
    out.insert("object".into(), object);
    Ok(Value::object(out))
}

pub async fn read_objects(ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
    let av = str_attr(config, "api_version").unwrap_or("");
    let kind_name = str_attr(config, "kind").unwrap_or("");
    let kind = ctx
        .kind(av, kind_name, false)
        .await
        .map_err(|d| vec![d])?
        .ok_or_else(|| unknown_kind(av, kind_name))?;
    let api = match (kind.namespaced, str_attr(config, "namespace")) {
        (true, Some(ns)) => ctx.api(&kind, Some(ns)),
        _ => kube::Api::all_with(ctx.client.clone(), &kind.resource),
    };
    let mut params = ListParams::default();
    if let Some(l) = str_attr(config, "label_selector") {
        params = params.labels(l);
    }
    if let Some(f) = str_attr(config, "field_selector") {
        params = params.fields(f);
    }
    let list = api
        .list(&params)
        .await
        .map_err(|e| vec![ctx.error(&e, &format!("listing {kind_name} objects"))])?;
    let items = list
        .items
        .into_iter()
        .map(|o| {
            clean(
                serde_json::to_value(&o).unwrap_or(Json::Null),
                av,
                kind_name,
            )
        })
        .collect();
    let mut out = config.as_mapping().cloned().unwrap_or_default();
    out.insert("objects".into(), Value::tuple(items));
    Ok(Value::object(out))
}

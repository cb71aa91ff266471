//! `brick plan --generate-config-out=FILE`: writes `resource` blocks for the import blocks
//! whose target the configuration does not declare, from the objects their providers read.

use std::fmt::Write as _;
use std::path::Path;

use brick_provider_api::Value;
use brick_provider_api::schema::{Block, Nesting};

use super::common::{Context, load_readonly, prior_of};
use crate::addr::InstanceKey;
use crate::diag::Diagnostic;

/// Writes FILE for the import blocks that need configuration; `false` when brick must stop
/// (diagnostics already shown). Nothing is written on any error.
pub async fn generate(ctx: &Context, path: &Path) -> bool {
    if path.exists() || path.is_symlink() {
        ctx.ui.diagnostics(
            &[Diagnostic::error(
                "brick::plan::generate_config_exists",
                "Target generated file already exists",
                format!(
                    "brick can only write generated config into a new file. Either choose a different target location or move all existing configuration out of {}, delete it and try again.",
                    path.display()
                ),
            )
            .help("Pass a file that does not exist yet to --generate-config-out.")],
            &[],
        );
        return false;
    }
    let Some(loaded) = ctx.load_generating() else {
        return false;
    };
    let declared =
        |r: &crate::addr::ResourceAddr| loaded.engine.resources.iter().any(|rc| rc.addr == *r);
    let missing: Vec<_> = loaded
        .engine
        .imports
        .iter()
        .filter(|im| !declared(&im.to.resource))
        .collect();
    if missing.is_empty() {
        ctx.ui.diagnostics(
            &[Diagnostic::warning(
                "brick::plan::generate_config_nothing",
                "No configuration generated",
                format!(
                    "Every import block's target has a resource block already, so nothing was written to {}.",
                    path.display()
                ),
            )],
            &[],
        );
        return true;
    }
    let mut refused = Vec::new();
    for im in &missing {
        if !im.to.resource.module.is_empty() {
            refused.push(Diagnostic::error(
                "brick::plan::generate_config_module",
                "Cannot generate configuration in a child module",
                format!("The import target {} is in a child module; brick generates configuration for the root module only.", im.to),
            ).help("Write the resource block in the module yourself."));
        } else if im.to.key != InstanceKey::None {
            refused.push(Diagnostic::error(
                "brick::plan::generate_config_key",
                "Cannot generate configuration for resource instance keys",
                format!("The import target {} has an instance key; configuration can only be generated for a resource without count or for_each.", im.to),
            ).help(format!("Write the resource block for {} yourself, or import into an address without a key.", im.to.resource)));
        }
    }
    if ctx.ui.diagnostics(&refused, &loaded.config.files) {
        return false;
    }
    let Ok(state) = load_readonly(ctx) else {
        return false;
    };
    let state = state.unwrap_or_else(|| brick_state::State::new(env!("CARGO_PKG_VERSION")));
    let names: Vec<String> = missing
        .iter()
        .map(|im| im.to.resource.implied_provider())
        .collect();
    let providers = crate::registry::provider_set(
        names
            .iter()
            .map(String::as_str)
            .chain(loaded.engine.providers.iter().map(|p| p.name.as_str())),
        &ctx.ids,
    );
    let values =
        crate::plan::scope::values_from_state(&loaded.engine, &prior_of(&state, &providers));
    let mut text = String::from(
        "# __generated__ by brick\n# Please review these resources and move them into your main configuration files.\n",
    );
    let mut configured = Vec::new();
    for (im, name) in missing.iter().zip(&names) {
        if !configured.contains(name) {
            let diags =
                crate::statefile::configure_provider(&loaded.engine, &values, &providers, name)
                    .await;
            if ctx.ui.diagnostics(&diags, &loaded.config.files) {
                return false;
            }
            configured.push(name.clone());
        }
        let block = match providers.resource_schema(name, &im.to.resource) {
            Ok(s) => s.block.clone(),
            Err(d) => {
                ctx.ui.diagnostics(&[d], &[]);
                return false;
            }
        };
        let provider = providers.get(name).cloned().expect("schema found");
        let obj = match crate::plan::call::import_one(&*provider, &im.to, &im.id, &block).await {
            Ok(v) => v,
            Err(d) => {
                ctx.ui.diagnostics(&[d], &[]);
                return false;
            }
        };
        let _ = write!(
            text,
            "\n# __generated__ by brick from {:?}\nresource {:?} {:?} {{\n",
            im.id, im.to.resource.type_name, im.to.resource.name
        );
        body(&mut text, &block, &obj);
        text.push_str("}\n");
    }
    let text = match super::fmt::format_source(&text) {
        Ok(t) => t,
        Err(d) => {
            ctx.ui.diagnostics(&[d], &[]);
            return false;
        }
    };
    if let Err(e) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
    {
        ctx.ui
            .error_line(&format!("Error: cannot write {}: {e}", path.display()));
        return false;
    }
    true
}

/// The arguments a user can set, from `v` (an object of `block`'s type): null ones left out,
/// sensitive ones written as `null # sensitive`, as Terraform does.
fn body(out: &mut String, block: &Block, v: &Value) {
    for (name, a) in &block.attributes {
        if !a.settable() {
            continue;
        }
        let Some(x) = v.get(name) else { continue };
        if x.is_null() {
            continue;
        }
        if a.sensitive || x.contains_sensitive() {
            let _ = writeln!(out, "{name} = null # sensitive");
        } else {
            let _ = writeln!(out, "{name} = {}", expr(x));
        }
    }
    for (name, nb) in &block.blocks {
        let Some(x) = v.get(name) else { continue };
        if x.is_null() {
            continue;
        }
        let one = |out: &mut String, label: Option<&str>, item: &Value| {
            match label {
                Some(l) => {
                    let _ = writeln!(out, "{name} {l:?} {{");
                }
                None => {
                    let _ = writeln!(out, "{name} {{");
                }
            }
            body(out, &nb.block, item);
            out.push_str("}\n");
        };
        match nb.nesting {
            Nesting::Single => one(out, None, x),
            Nesting::List { .. } | Nesting::Set { .. } => {
                for item in x.as_sequence().unwrap_or_default() {
                    one(out, None, item);
                }
            }
            Nesting::Map => {
                for (k, item) in x.as_mapping().into_iter().flatten() {
                    one(out, Some(k), item);
                }
            }
        }
    }
}

/// `v` as an HCL expression.
fn expr(v: &Value) -> String {
    if v.is_null() {
        return "null".to_string();
    }
    if let Some(s) = v.as_str() {
        return brick_provider_api::value::go_quote(s)
            .replace("${", "$${")
            .replace("%{", "%%{");
    }
    if let Some(b) = v.as_bool() {
        return b.to_string();
    }
    if let Some(n) = v.as_number() {
        return n.to_string();
    }
    if let Some(items) = v.as_sequence() {
        return format!(
            "[{}]",
            items.iter().map(expr).collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(m) = v.as_mapping() {
        if m.is_empty() {
            return "{}".to_string();
        }
        let mut s = String::from("{\n");
        for (k, x) in m {
            let key = if is_identifier(k) {
                k.clone()
            } else {
                brick_provider_api::value::go_quote(k)
            };
            let _ = writeln!(s, "{key} = {}", expr(x));
        }
        s.push('}');
        return s;
    }
    "null".to_string()
}

/// Whether `s` can stand unquoted as an object key.
fn is_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use brick_provider_api::Type;
    use brick_provider_api::schema::Attribute;

    #[test]
    fn settable_non_null_arguments_are_written_and_sensitive_ones_nulled() {
        let mut block = Block::default();
        block
            .attributes
            .insert("name".into(), Attribute::required(Type::String));
        block.attributes.insert(
            "password".into(),
            Attribute::optional(Type::String).sensitive(),
        );
        block
            .attributes
            .insert("note".into(), Attribute::optional(Type::String));
        block
            .attributes
            .insert("id".into(), Attribute::computed(Type::String));
        let v = Value::object_from([
            ("name", Value::string("a${b}")),
            ("password", Value::string("hunter2")),
            ("note", Value::null(Type::String)),
            ("id", Value::string("x")),
        ]);
        let mut out = String::new();
        body(&mut out, &block, &v);
        assert_eq!(out, "name = \"a$${b}\"\npassword = null # sensitive\n");
    }
}

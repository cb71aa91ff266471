//! `brick providers schema --json` (Terraform's `providers schema -json`) and `brick providers
//! docs [--out DIR]`: the schemas of the providers this build has, as JSON for tools and as
//! Markdown reference pages for people.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use brick_provider_api::schema::ProviderSchema;
use clap::Subcommand;

use super::common::Ui;
use crate::view::provider_schema::{docs_markdown, schemas_json};

#[derive(Subcommand, Debug)]
pub enum ProvidersCommand {
    /// Print the schemas of every provider this build has, in Terraform's JSON format.
    Schema {
        /// Required (as in Terraform): the only output format.
        #[arg(long)]
        json: bool,
    },
    /// Write each provider's reference (every argument and attribute) as Markdown.
    Docs {
        /// Write DIR/PROVIDER.md for each provider instead of printing.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Only this provider (`maas`, `brick`).
        #[arg(long, value_name = "NAME")]
        provider: Option<String>,
        /// Take the example of type T from DIR/T.hcl when there is one (else one is written from
        /// the schema's required arguments).
        #[arg(long, value_name = "DIR")]
        examples: Option<PathBuf>,
    },
}

/// The schemas of every provider of this build, by short name.
pub fn all_schemas() -> Vec<(String, ProviderSchema)> {
    let ids: crate::builtin::IdSource = Arc::new(String::new);
    crate::registry::available()
        .iter()
        .filter_map(|name| {
            crate::registry::instantiate(name, &ids).map(|p| (name.to_string(), p.schema()))
        })
        .collect()
}

/// The Markdown page of one provider, with examples read from `examples` (`TYPE.hcl`).
pub fn docs_for(name: &str, schema: &ProviderSchema, examples: Option<&Path>) -> String {
    let mut ex = BTreeMap::new();
    if let Some(dir) = examples {
        for ty in schema.resources.keys().chain(schema.data_sources.keys()) {
            if let Ok(text) = std::fs::read_to_string(dir.join(format!("{ty}.hcl"))) {
                ex.insert(ty.clone(), text);
            }
        }
    }
    docs_markdown(name, schema, &ex)
}

pub fn run(ui: &Ui, command: ProvidersCommand) -> u8 {
    match command {
        ProvidersCommand::Schema { json } => {
            if !json {
                ui.error_line("\nError: The `providers schema` command requires the `--json` flag.\n\nHelp: run `brick providers schema --json`, or `brick providers docs` for reference pages.\n");
                return 1;
            }
            ui.out_document(&schemas_json(&all_schemas()));
            0
        }
        ProvidersCommand::Docs {
            out,
            provider,
            examples,
        } => {
            let all = all_schemas();
            let chosen: Vec<&(String, ProviderSchema)> = all
                .iter()
                .filter(|(n, _)| provider.as_ref().is_none_or(|p| p == n))
                .collect();
            if chosen.is_empty() {
                ui.error_line(&format!(
                    "\nError: Unknown provider\n\nThis build of brick has no provider {:?}; it has {}.\n",
                    provider.unwrap_or_default(),
                    crate::registry::available().join(", ")
                ));
                return 1;
            }
            for (name, schema) in chosen {
                let page = docs_for(name, schema, examples.as_deref());
                match &out {
                    None => ui.out(&page),
                    Some(dir) => {
                        let path = dir.join(format!("{name}.md"));
                        if let Err(e) =
                            std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, page))
                        {
                            ui.error_line(&format!(
                                "\nError: Cannot write {}: {e}.\n",
                                path.display()
                            ));
                            return 1;
                        }
                        ui.error_line(&format!("Wrote {}", path.display()));
                    }
                }
            }
            0
        }
    }
}

//! `brick providers schema --json` in Terraform's format and `brick providers docs` (issue 10,
//! item 24); the MAAS provider's committed reference equals what its schema generates.

mod support;

use std::path::Path;

use support::{Run, command};

fn brick(args: &[&str]) -> Run {
    Run::of(&mut command(Path::new(env!("CARGO_MANIFEST_DIR")), args))
}

#[test]
fn providers_schema_json_has_terraforms_shape_for_every_provider() {
    let out = brick(&["providers", "schema", "--json"]).ok();
    let j = out.json();
    assert_eq!(j["format_version"], "1.0");
    let maas = &j["provider_schemas"]["brick.local/brick/maas"];
    assert_eq!(
        maas["provider"]["block"]["attributes"]["api_key"],
        serde_json::json!({"type": "string", "description": "API key consumer:token:secret. Default: env MAAS_API_KEY.", "description_kind": "plain", "optional": true, "sensitive": true})
    );
    let machine = &maas["resource_schemas"]["maas_machine"];
    assert_eq!(machine["version"], 0);
    assert_eq!(
        machine["block"]["attributes"]["system_id"]["computed"],
        true
    );
    assert_eq!(
        machine["block"]["block_types"]["storage"]["nesting_mode"],
        "single"
    );
    assert_eq!(
        machine["block"]["block_types"]["storage"]["block"]["block_types"]["volume"]["nesting_mode"],
        "map"
    );
    assert!(maas["data_source_schemas"]["maas_machines"].is_object());
    assert!(
        j["provider_schemas"]["brick.local/brick/brick"]["resource_schemas"]["brick_data"]
            .is_object()
    );
    brick(&["providers", "schema"]).failed_with("requires the `--json` flag");
}

#[test]
fn the_committed_maas_reference_is_what_the_schema_generates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = brick(&[
        "providers",
        "docs",
        "--provider",
        "maas",
        "--examples",
        root.join("providers/maas/docs/examples").to_str().unwrap(),
    ])
    .ok();
    let committed = std::fs::read_to_string(root.join("providers/maas/docs/maas.md")).unwrap();
    assert!(
        out.stdout == committed,
        "providers/maas/docs/maas.md is out of date; regenerate it with\n  brick providers docs --provider maas --examples providers/maas/docs/examples --out providers/maas/docs"
    );
    // Every argument and attribute of every type is in it.
    let j = brick(&["providers", "schema", "--json"]).json();
    let maas = &j["provider_schemas"]["brick.local/brick/maas"];
    for table in ["resource_schemas", "data_source_schemas"] {
        for (ty, s) in maas[table].as_object().unwrap() {
            assert!(committed.contains(&format!("### `{ty}`")), "{ty}");
            for name in s["block"]["attributes"].as_object().unwrap().keys() {
                assert!(committed.contains(&format!("`{name}`")), "{ty}.{name}");
            }
        }
    }
    assert!(committed.contains("sensitive"));
    assert!(
        committed.contains("hostname      = each.key"),
        "examples are used"
    );
}

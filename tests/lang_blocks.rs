//! Blocks and their evaluation: resource bodies against schemas (nesting modes, dynamic
//! blocks, conversion, unknowns), variable inputs with precedence and optional attributes,
//! module loading, meta-arguments.

use std::collections::BTreeMap;
use std::path::Path;

use brick::config::{self, Config, IgnoreChanges, MemoryFs, ResourceMode};
use brick::diag::Diagnostic;
use brick::eval::scope::ModuleScope;
use brick::eval::{
    Expansion, InstanceScope, NullEnvironment, Type, Value, VariableInput, VariableSource,
    evaluate_body, expansion, parse_vars_file, resolve_variables, value_to_display,
};
use brick_provider_api::schema::{Attribute, Block, Nesting};

fn load(files: &[(&str, &str)]) -> (Config, Vec<Diagnostic>) {
    let mut fs = MemoryFs::new();
    for (p, t) in files {
        fs.insert(*p, *t);
    }
    let (c, d) = config::load(&fs, &brick::eval::Constants, Path::new("/c"));
    (c.expect("config"), d)
}

fn machine_schema() -> Block {
    let volume = Block::default()
        .attr("size", Attribute::required(Type::Number))
        .attr("fs", Attribute::optional(Type::String));
    let nic = Block::default().attr("name", Attribute::required(Type::String));
    let tags = Block::default().attr("k", Attribute::required(Type::String));
    Block::default()
        .attr("hostname", Attribute::required(Type::String))
        .attr("cores", Attribute::optional(Type::Number))
        .attr("zones", Attribute::optional(Type::list(Type::String)))
        .attr("id", Attribute::computed(Type::String))
        .block("volume", Nesting::Map, volume)
        .block(
            "nic",
            Nesting::List {
                min: 1,
                max: Some(4),
            },
            nic,
        )
        .block("tag", Nesting::Set { min: 0, max: None }, tags)
        .block(
            "power",
            Nesting::Single,
            Block::default().attr("type", Attribute::required(Type::String)),
        )
}

fn eval_resource(src: &str) -> (String, Vec<String>) {
    let (c, d) = load(&[("/c/main.hcl", src)]);
    assert!(d.is_empty(), "{d:?}");
    let env = NullEnvironment;
    let (vars, _) = resolve_variables(&c.root.variables, &[], &env);
    let scope = ModuleScope::new(&c.root, &env, vars, Box::new(|_| None));
    let r = c.root.resources.values().next().unwrap();
    let (v, d) = evaluate_body(&r.body, &machine_schema(), &scope, &env);
    (
        value_to_display(&v),
        d.iter()
            .map(|d| format!("{}: {}", d.code, d.detail))
            .collect(),
    )
}

#[test]
fn a_resource_body_becomes_an_object_with_nested_blocks_by_nesting_mode() {
    let (v, d) = eval_resource(
        r#"
variable "vols" {
  default = { root = 20, ceph = 100 }
}
resource "maas_machine" "m" {
  hostname = "kvm1"
  cores    = "4"
  zones    = ["a", 1]
  volume "os" {
    size = 10
  }
  dynamic "volume" {
    for_each = var.vols
    labels   = [volume.key]
    content {
      size = volume.value
      fs   = volume.key == "root" ? "ext4" : null
    }
  }
  dynamic "nic" {
    for_each = ["eth0", "eth1"]
    iterator = n
    content {
      name = n.value
    }
  }
  tag { k = "b" }
  tag { k = "a" }
}
"#,
    );
    assert!(d.is_empty(), "{d:?}");
    insta::assert_snapshot!(v);
}

#[test]
fn schema_violations_are_reported_with_suggestions() {
    let (_, d) = eval_resource(
        r#"
resource "maas_machine" "m" {
  hostnme = "x"
  id      = "set"
  cores   = "many"
  volume {
    size = 1
  }
  power { type = "ipmi" }
  power { type = "amt" }
  bogus {}
}
"#,
    );
    insta::assert_snapshot!(d.join("\n"));
}

#[test]
fn an_unknown_dynamic_for_each_makes_the_block_collection_unknown() {
    let src = r#"
resource "brick_data" "x" {}
resource "maas_machine" "m" {
  hostname = brick_data.x.id
  nic { name = "eth0" }
  dynamic "volume" {
    for_each = brick_data.x.output
    labels   = [volume.key]
    content { size = 1 }
  }
}
"#;
    let (c, _) = load(&[("/c/main.hcl", src)]);
    let env = NullEnvironment;
    let lookup = |r: &brick::eval::Reference| match r {
        brick::eval::Reference::Resource { .. } => Some(Value::unknown(Type::Dynamic)),
        _ => None,
    };
    let scope = ModuleScope::new(&c.root, &env, BTreeMap::new(), Box::new(lookup));
    let r = &c.root.resources["maas_machine.m"];
    let (v, d) = evaluate_body(&r.body, &machine_schema(), &scope, &env);
    assert!(d.is_empty(), "{d:?}");
    assert!(!v.get("hostname").unwrap().is_known());
    assert_eq!(v.get("hostname").unwrap().ty(), Type::String);
    assert!(!v.get("volume").unwrap().is_known());
    assert_eq!(v.get("nic").unwrap().as_sequence().unwrap().len(), 1);
}

#[test]
fn variables_follow_terraform_precedence_and_apply_optional_defaults() {
    let src = r#"
variable "node" {
  type = object({
    name = string
    ram  = optional(number, 8)
    tags = optional(list(string), [])
  })
}
variable "region" {
  default = "lab"
}
variable "count_" {
  type = number
  validation {
    condition     = var.count_ > 0
    error_message = "count_ must be positive."
  }
}
variable "secret" {
  type      = string
  sensitive = true
  nullable  = false
  default   = "d"
}
"#;
    let (c, d) = load(&[("/c/main.hcl", src)]);
    assert!(d.is_empty(), "{d:?}");
    let (file_inputs, d) = parse_vars_file(
        "region = \"file\"\ncount_ = 2\nsecret = null\n",
        99,
        "brick.vars.hcl",
    );
    assert!(d.is_empty());
    let mut inputs = brick::eval::env_inputs(&[
        ("BRICK_VAR_region".into(), "env".into()),
        ("BRICK_VAR_node".into(), "{ name = \"kvm1\" }".into()),
    ]);
    inputs.extend(file_inputs);
    inputs.push(VariableInput::Raw {
        name: "count_".into(),
        text: "3".into(),
        source: VariableSource::CommandLine,
    });
    let (vals, d) = resolve_variables(&c.root.variables, &inputs, &NullEnvironment);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(vals["region"], Value::string("file"));
    assert_eq!(vals["count_"], Value::number(3));
    assert_eq!(
        value_to_display(&vals["node"]),
        "{\n  \"name\" = \"kvm1\"\n  \"ram\" = 8\n  \"tags\" = tolist([])\n}"
    );
    assert!(vals["secret"].is_sensitive());
    assert_eq!(vals["secret"].unmarked(), Value::string("d"));

    // A failing validation, a missing required variable, an unconvertible value.
    let bad = [
        VariableInput::Raw {
            name: "count_".into(),
            text: "0".into(),
            source: VariableSource::CommandLine,
        },
        VariableInput::Raw {
            name: "nope".into(),
            text: "1".into(),
            source: VariableSource::CommandLine,
        },
    ];
    let (_, d) = resolve_variables(&c.root.variables, &bad, &NullEnvironment);
    let codes: Vec<&str> = d.iter().map(|d| d.code.as_str()).collect();
    // Values first (in name order), then the validation blocks, which may read any variable.
    assert_eq!(
        codes,
        [
            "brick::vars::undeclared",
            "brick::vars::missing",
            "brick::vars::validation"
        ]
    );
    assert!(d[2].detail.contains("count_ must be positive."));
    let (_, d) = resolve_variables(
        &c.root.variables,
        &[VariableInput::Raw {
            name: "count_".into(),
            text: "many".into(),
            source: VariableSource::CommandLine,
        }],
        &NullEnvironment,
    );
    assert!(
        d.iter().any(|d| d.code == "brick::vars::invalid_value"),
        "{d:?}"
    );
}

#[test]
fn modules_load_recursively_and_meta_arguments_are_decoded() {
    let (c, d) = load(&[
        (
            "/c/main.hcl",
            r#"
brick {
  required_version = ">= 0.1"
}
provider "maas" {
  alias = "site2"
  url   = "http://127.0.0.1"
}
module "net" {
  source   = "./modules/net"
  for_each = toset(["a", "b"])
  cidr     = "10.0.0.0/24"
}
resource "brick_data" "x" {
  count      = 2
  provider   = maas.site2
  depends_on = [module.net]
  lifecycle {
    create_before_destroy = true
    prevent_destroy       = true
    ignore_changes        = [input["a"], triggers_replace]
    replace_triggered_by  = [brick_data.y]
    precondition {
      condition     = count.index < 2
      error_message = "never"
    }
  }
}
resource "brick_data" "y" {}
data "brick_data" "z" {}
moved {
  from = brick_data.old
  to   = brick_data.y
}
removed {
  from = brick_data.gone
  lifecycle {
    destroy = false
  }
}
import {
  to = brick_data.y
  id = "abc"
}
"#,
        ),
        (
            "/c/modules/net/main.hcl",
            "variable \"cidr\" {}\noutput \"cidr\" { value = var.cidr }\n",
        ),
        ("/c/values.auto.vars.hcl", "not = \"configuration\"\n"),
    ]);
    assert!(d.is_empty(), "{d:?}");
    let m = &c.root;
    assert_eq!(
        m.settings.as_ref().unwrap().required_version.as_deref(),
        Some(">= 0.1")
    );
    assert!(m.providers.contains_key("maas.site2"));
    let net = &m.module_calls["net"];
    assert_eq!(net.module.as_ref().unwrap().path, ["net"]);
    assert!(net.module.as_ref().unwrap().outputs.contains_key("cidr"));
    assert!(net.inputs.contains_key("cidr"));
    let x = m
        .resource(ResourceMode::Managed, "brick_data", "x")
        .unwrap();
    assert_eq!(x.provider_ref().key(), "maas.site2");
    assert!(x.lifecycle.create_before_destroy && x.lifecycle.prevent_destroy);
    assert!(matches!(&x.lifecycle.ignore_changes, IgnoreChanges::Paths(p) if p.len() == 2));
    assert_eq!(x.lifecycle.replace_triggered_by.len(), 1);
    assert_eq!(x.lifecycle.preconditions.len(), 1);
    assert!(
        x.body.attributes.is_empty(),
        "meta-arguments are not body arguments"
    );
    assert!(m.resource(ResourceMode::Data, "brick_data", "z").is_some());
    assert_eq!((m.moved.len(), m.removed.len(), m.imports.len()), (1, 1, 1));
    assert!(!m.removed[0].destroy);
    assert_eq!(
        m.resource(ResourceMode::Managed, "brick_data", "y")
            .unwrap()
            .provider_name(),
        "brick"
    );
    let (e, d) = expansion(
        x.count.as_ref(),
        None,
        &brick::eval::EmptyScope,
        &NullEnvironment,
    );
    assert!(d.is_empty());
    assert_eq!(e, Expansion::Count(2));
    let inst = InstanceScope {
        parent: &brick::eval::EmptyScope,
        count_index: Some(1),
        each: None,
    };
    let (v, _) = brick::eval::evaluate(
        &brick::config::syntax::parse_expression("count.index * 10", 0)
            .0
            .unwrap(),
        &inst,
        &NullEnvironment,
    );
    assert_eq!(v, Value::number(10));
}

#[test]
fn count_and_for_each_values_get_terraforms_errors() {
    let cases = [
        ("count = -1", "must be greater than or equal to zero"),
        ("count = 1.5", "is not a whole number"),
        ("count = null", "is null"),
        ("for_each = [\"a\"]", "must be a map, or set of strings"),
        ("for_each = toset([1])", "set containing type number"),
        ("for_each = sensitive({ a = 1 })", "Sensitive values"),
        ("for_each = null", "is null"),
    ];
    for (arg, want) in cases {
        let (c, d) = load(&[(
            "/c/main.hcl",
            &format!("resource \"brick_data\" \"x\" {{\n  {arg}\n}}\n"),
        )]);
        assert!(d.is_empty(), "{d:?}");
        let r = &c.root.resources["brick_data.x"];
        let (e, d) = expansion(
            r.count.as_ref(),
            r.for_each.as_ref(),
            &brick::eval::EmptyScope,
            &NullEnvironment,
        );
        assert_eq!(e, Expansion::Unknown, "{arg}");
        assert!(d.iter().any(|d| d.detail.contains(want)), "{arg}: {d:?}");
    }
}

#[test]
fn inputs_are_gathered_in_terraform_precedence_order() {
    use brick::eval::{CliVar, gather_inputs};
    let mut fs = MemoryFs::new();
    fs.insert(
        "/c/main.hcl",
        "variable \"v\" {}\nvariable \"w\" {}\nvariable \"x\" {}\nvariable \"y\" {}\nvariable \"z\" {\n  type    = list(number)\n  default = []\n}\nvariable \"u\" {\n  default = \"default\"\n}\n",
    );
    fs.insert(
        "/c/brick.vars.hcl",
        "v = \"default-file\"\nw = \"default-file\"\nx = \"default-file\"\n",
    );
    fs.insert("/c/a.auto.vars.hcl", "w = \"auto-a\"\nx = \"auto-a\"\n");
    fs.insert("/c/b.auto.vars.hcl", "x = \"auto-b\"\n");
    fs.insert("/extra.vars.hcl", "y = \"var-file\"\n");
    let (c, d) = config::load(&fs, &brick::eval::Constants, Path::new("/c"));
    assert!(d.is_empty(), "{d:?}");
    let mut c = c.unwrap();
    let env = [
        ("BRICK_VAR_v".to_string(), "env".to_string()),
        ("BRICK_VAR_y".to_string(), "env".to_string()),
        // A non-string type is parsed as an HCL expression, as TF_VAR_ values are.
        ("BRICK_VAR_z".to_string(), "[1, 2]".to_string()),
    ];
    let cli = [
        CliVar::Var("y=flag".into()),
        CliVar::File("/extra.vars.hcl".into()),
    ];
    let (inputs, d) = gather_inputs(&fs, Path::new("/c"), &env, &cli, &mut c.files);
    assert!(d.is_empty(), "{d:?}");
    let (vals, d) = resolve_variables(&c.root.variables, &inputs, &NullEnvironment);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(vals["v"], Value::string("default-file"));
    assert_eq!(
        vals["z"],
        Value::list(Type::Number, vec![Value::number(1), Value::number(2)]),
        "the environment beats the default"
    );
    assert_eq!(vals["u"], Value::string("default"));
    assert_eq!(vals["w"], Value::string("auto-a"));
    assert_eq!(vals["x"], Value::string("auto-b"));
    assert_eq!(
        vals["y"],
        Value::string("var-file"),
        "the later command-line option wins"
    );
}

#[test]
fn timeouts_blocks_are_decoded_into_durations_and_kept_out_of_the_body() {
    let (c, d) = load(&[(
        "/c/main.hcl",
        "resource \"maas_machine\" \"m\" {\n  hostname = \"x\"\n  timeouts {\n    create = \"1h30m\"\n    delete = \"90s\"\n  }\n}\n",
    )]);
    assert!(d.is_empty(), "{d:?}");
    let r = &c.root.resources["maas_machine.m"];
    assert_eq!(
        r.timeouts.create,
        Some(std::time::Duration::from_secs(5400))
    );
    assert_eq!(r.timeouts.delete, Some(std::time::Duration::from_secs(90)));
    assert_eq!(r.timeouts.update, None);
    assert!(r.body.blocks.is_empty());
    let (_, d) = load(&[(
        "/c/main.hcl",
        "resource \"a_b\" \"m\" {\n  timeouts {\n    create = \"soon\"\n  }\n}\n",
    )]);
    assert_eq!(d[0].code, "brick::config::invalid_timeout");
}

#[test]
fn validation_conditions_may_refer_to_other_variables_as_in_terraform_1_9() {
    let src = r#"
variable "min" {
  type    = number
  default = 2
}
variable "max" {
  type = number
  validation {
    condition     = var.max >= var.min
    error_message = "max (${var.max}) must not be below min (${var.min})."
  }
}
variable "zone" {
  type    = string
  default = "a"
  validation {
    # Locals are not known while inputs are resolved: not decided here, never an error.
    condition     = var.zone == local.zone
    error_message = "zone differs."
  }
}
locals {
  zone = "b"
}
"#;
    let (c, d) = load(&[("/c/main.hcl", src)]);
    assert!(d.is_empty(), "{d:?}");
    let input = |max: &str| {
        vec![VariableInput::Raw {
            name: "max".into(),
            text: max.into(),
            source: VariableSource::CommandLine,
        }]
    };
    let (vals, d) = resolve_variables(&c.root.variables, &input("5"), &NullEnvironment);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(vals["max"], Value::number(5));
    let (vals, d) = resolve_variables(&c.root.variables, &input("1"), &NullEnvironment);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].code, "brick::vars::validation");
    assert!(
        d[0].detail.contains("max (1) must not be below min (2)."),
        "{}",
        d[0].detail
    );
    assert!(
        !vals["max"].is_known(),
        "an invalid variable is unknown downstream"
    );
}

#[test]
fn input_strings_are_normalized_to_nfc_like_every_terraform_string() {
    let (c, d) = load(&[("/c/main.hcl", "variable \"name\" {\n  type = string\n}\n")]);
    assert!(d.is_empty(), "{d:?}");
    let inputs = brick::eval::env_inputs(&[("BRICK_VAR_name".into(), "caf\u{65}\u{301}".into())]);
    let (vals, d) = resolve_variables(&c.root.variables, &inputs, &NullEnvironment);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(vals["name"].as_str(), Some("caf\u{e9}"));
}

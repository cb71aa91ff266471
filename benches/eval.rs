//! Evaluation speed at scale: a configuration of 5,000 blocks (2,000 resources, 2,000 locals,
//! 1,000 outputs, with references between them) is loaded, validated and fully evaluated.
//! Prints a table of median timings; the target is "well under 100 ms" for evaluation.
//!
//! Run: `cargo bench --bench eval` (release profile).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use brick::config::{self, MemoryFs, ResourceMode};
use brick::eval::scope::ModuleScope;
use brick::eval::{
    NullEnvironment, Reference, Type, Value, evaluate, evaluate_body, resolve_variables,
};

const RESOURCES: usize = 2_000;
const LOCALS: usize = 2_000;
const OUTPUTS: usize = 1_000;

fn source() -> String {
    let mut s = String::new();
    s.push_str("variable \"prefix\" {\n  default = \"node\"\n}\n\nvariable \"sizes\" {\n  type    = map(number)\n  default = { small = 1, large = 4 }\n}\n\n");
    s.push_str("locals {\n");
    for i in 0..LOCALS {
        let prev = if i == 0 {
            "0".to_string()
        } else {
            format!("local.l{}.n", i - 1)
        };
        s.push_str(&format!(
            "  l{i} = {{ n = {prev} + 1, name = \"${{var.prefix}}-{i}\", tags = [for t in [\"a\", \"b\"] : upper(t)], big = var.sizes[\"large\"] * {i} }}\n"
        ));
    }
    s.push_str("}\n\n");
    for i in 0..RESOURCES {
        s.push_str(&format!(
            "resource \"brick_data\" \"r{i}\" {{\n  input = {{\n    name  = local.l{}.name\n    size  = var.sizes[\"small\"] > 0 ? {i} : 0\n    peers = [for j in range(3) : \"peer-${{j}}\"]\n  }}\n  triggers_replace = [local.l{}.n]\n}}\n\n",
            i % LOCALS,
            (i * 7) % LOCALS
        ));
    }
    for i in 0..OUTPUTS {
        s.push_str(&format!(
            "output \"o{i}\" {{\n  value = {{ id = brick_data.r{}.id, n = local.l{}.n }}\n}}\n\n",
            i % RESOURCES,
            (i * 3) % LOCALS
        ));
    }
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let text = source();
    let fs = MemoryFs::new().with("/bench/main.hcl", text.clone());
    let env = NullEnvironment;
    let schema = brick::cli::validate::brick_data_schema();
    let (mut load_t, mut eval_t, mut validate_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut evaluated = 0;
    for _ in 0..7 {
        let t = Instant::now();
        let (c, d) = config::load(&fs, Path::new("/bench"));
        load_t.push(t.elapsed());
        assert!(d.is_empty(), "{:?}", &d[..d.len().min(3)]);
        let c = c.unwrap();
        let m = &c.root;

        let t = Instant::now();
        let (vars, d) = resolve_variables(&m.variables, &[], &env);
        assert!(d.is_empty());
        // Resources resolve to their evaluated body plus an unknown id, as at plan time.
        let inner = ModuleScope::new(m, &env, vars.clone(), Box::new(|_| None));
        let mut bodies: BTreeMap<String, Value> = BTreeMap::new();
        for r in m.resources.values() {
            let (v, d) = evaluate_body(&r.body, &schema.block, &inner, &env);
            assert!(d.is_empty(), "{d:?}");
            let mut o = v.as_mapping().cloned().unwrap_or_default();
            o.insert("id".into(), Value::unknown(Type::String));
            bodies.insert(r.name.clone(), Value::object(o));
        }
        let lookup = |r: &Reference| match r {
            Reference::Resource { name, .. } => bodies.get(name).cloned(),
            _ => None,
        };
        let scope = ModuleScope::new(m, &env, vars, Box::new(lookup));
        for name in m.locals.keys() {
            scope.local(name);
        }
        for o in m.outputs.values() {
            let (_, d) = evaluate(&o.value, &scope, &env);
            assert!(d.is_empty(), "{d:?}");
        }
        assert!(scope.take_diagnostics().is_empty());
        eval_t.push(t.elapsed());
        evaluated = m.resources.len() + m.locals.len() + m.outputs.len();
        assert!(
            m.resource(ResourceMode::Managed, "brick_data", "r0")
                .is_some()
        );

        let t = Instant::now();
        let d = brick::cli::validate::validate(&c, &BTreeMap::new());
        validate_t.push(t.elapsed());
        assert!(d.is_empty(), "{:?}", &d[..d.len().min(3)]);
    }
    println!(
        "brick eval benchmark: {evaluated} blocks ({RESOURCES} resources, {LOCALS} locals, {OUTPUTS} outputs), {} KiB of HCL, median of 7",
        text.len() / 1024
    );
    println!("| step                          | median    |");
    println!("|-------------------------------|-----------|");
    println!(
        "| load (parse + decode)         | {:>6.1} ms |",
        median(load_t).as_secs_f64() * 1e3
    );
    println!(
        "| evaluate (vars, locals, bodies, outputs) | {:>6.1} ms |",
        median(eval_t).as_secs_f64() * 1e3
    );
    println!(
        "| validate                      | {:>6.1} ms |",
        median(validate_t).as_secs_f64() * 1e3
    );
}

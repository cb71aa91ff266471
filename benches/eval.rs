//! Evaluation speed at scale: a configuration of 5,000 blocks (2,000 resources, 2,000 locals,
//! 1,000 outputs, with references between them) is loaded, validated and fully evaluated.
//! Prints a table of median timings; the target is "well under 100 ms" for evaluation.
//!
//! Run: `cargo bench --bench eval` (release profile).

use std::cell::RefCell;
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

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (Linux; clock
/// ticks of 10 ms, so steps are repeated and averaged). Wall-clock time on a loaded machine
/// overstates the work; CPU time does not.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

const RUNS: usize = 10;

/// Runs `f` RUNS times; returns (median wall time, mean CPU time) per run.
fn measure(mut f: impl FnMut()) -> (Duration, Option<Duration>) {
    let mut walls = Vec::new();
    let cpu0 = cpu_time();
    for _ in 0..RUNS {
        let t = Instant::now();
        f();
        walls.push(t.elapsed());
    }
    let cpu = cpu0.zip(cpu_time()).map(|(a, b)| (b - a) / RUNS as u32);
    walls.sort();
    (walls[RUNS / 2], cpu)
}

fn main() {
    let text = source();
    let fs = MemoryFs::new().with("/bench/main.hcl", text.clone());
    let env = NullEnvironment;
    let schema = brick::validate::brick_data_schema();

    let load = measure(|| {
        let (c, d) = config::load(&fs, &brick::eval::Constants, Path::new("/bench"));
        assert!(d.is_empty() && c.is_some());
    });
    let (c, _) = config::load(&fs, &brick::eval::Constants, Path::new("/bench"));
    let c = c.unwrap();
    let m = &c.root;
    let evaluated = m.resources.len() + m.locals.len() + m.outputs.len();
    assert!(
        m.resource(ResourceMode::Managed, "brick_data", "r0")
            .is_some()
    );

    let eval = measure(|| {
        let (vars, d) = resolve_variables(&m.variables, &[], &env);
        assert!(d.is_empty());
        // Resources resolve to their evaluated body plus an unknown id, as at plan time,
        // evaluated on first use against the same scope (locals evaluated once).
        let bodies: RefCell<BTreeMap<String, Value>> = RefCell::new(BTreeMap::new());
        let resolver = |r: &Reference, scope: &dyn brick::eval::Scope| {
            let Reference::Resource { type_name, name } = r else {
                return None;
            };
            if let Some(v) = bodies.borrow().get(name) {
                return Some(v.clone());
            }
            let res = m.resource(ResourceMode::Managed, type_name, name)?;
            let (v, d) = evaluate_body(&res.body, &schema.block, scope, &env);
            assert!(d.is_empty(), "{d:?}");
            let mut o = v.as_mapping().cloned().unwrap_or_default();
            o.insert("id".into(), Value::unknown(Type::String));
            let v = Value::object(o);
            bodies.borrow_mut().insert(name.clone(), v.clone());
            Some(v)
        };
        let scope = ModuleScope::with_resolver(m, &env, vars, Box::new(resolver));
        for r in m.resources.values() {
            let reference = Reference::Resource {
                type_name: r.type_name.clone(),
                name: r.name.clone(),
            };
            assert!(brick::eval::Scope::get(&scope, &reference).is_some());
        }
        for name in m.locals.keys() {
            scope.local(name);
        }
        for o in m.outputs.values() {
            let (_, d) = evaluate(&o.value, &scope, &env);
            assert!(d.is_empty(), "{d:?}");
        }
        assert!(scope.take_diagnostics().is_empty());
    });

    let validate = measure(|| {
        let d = brick::validate::validate(&c, &BTreeMap::new());
        assert!(d.is_empty(), "{:?}", &d[..d.len().min(3)]);
    });

    let ms = |d: Duration| format!("{:>7.1} ms", d.as_secs_f64() * 1e3);
    let cpu = |d: Option<Duration>| d.map(ms).unwrap_or_else(|| "      n/a".into());
    println!(
        "brick eval benchmark: {evaluated} blocks ({RESOURCES} resources, {LOCALS} locals, {OUTPUTS} outputs), {} KiB of HCL, {RUNS} runs",
        text.len() / 1024
    );
    println!("| step                                      | wall (median) | CPU (mean) |");
    println!("|-------------------------------------------|---------------|------------|");
    for (name, (wall, c)) in [
        ("load (parse + decode)", load),
        ("evaluate (vars, locals, bodies, outputs)", eval),
        ("validate", validate),
    ] {
        println!("| {name:<41} | {}    | {} |", ms(wall), cpu(c));
    }
}

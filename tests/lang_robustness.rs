//! Hostile input: every case must end in a diagnostic (or a value), never a panic, a hang or
//! a stack overflow. Timings are not asserted here (see benches/eval.rs).

use std::path::Path;

use brick::config::{self, MemoryFs};
use brick::diag::Diagnostic;
use brick::eval::{EmptyScope, NullEnvironment, evaluate, expansion};

fn load(bytes: impl Into<Vec<u8>>) -> (Option<config::Config>, Vec<Diagnostic>) {
    let fs = MemoryFs::new().with("/c/main.hcl", bytes);
    config::load(&fs, &brick::eval::Constants, Path::new("/c"))
}

fn codes(d: &[Diagnostic]) -> Vec<&str> {
    d.iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn malformed_hcl_is_a_syntax_diagnostic_with_a_location() {
    let (_, d) = load("resource \"brick_data\" \"x\" {\n  input = [1, 2\n}\n");
    assert_eq!(codes(&d), ["brick::config::syntax"]);
    assert!(d[0].span.is_some());
}

#[test]
fn invalid_utf8_is_a_diagnostic() {
    let (_, d) = load(b"locals { a = \"\xff\xfe\" }\n".to_vec());
    assert_eq!(codes(&d), ["brick::config::invalid_utf8"]);
}

#[test]
fn ten_thousand_nested_brackets_are_refused_without_overflowing_the_stack() {
    let deep = format!(
        "locals {{ a = {}1{} }}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (_, d) = load(deep);
    assert_eq!(codes(&d), ["brick::config::nested_too_deeply"]);
    let parens = format!(
        "locals {{ a = {}1{} }}\n",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert_eq!(codes(&load(parens).1), ["brick::config::nested_too_deeply"]);
    let nots = format!("locals {{ a = {}true }}\n", "!".repeat(10_000));
    assert_eq!(codes(&load(nots).1), ["brick::config::nested_too_deeply"]);
}

#[test]
fn a_ten_thousand_term_sum_is_refused_or_evaluated_but_never_crashes() {
    let sum = format!("locals {{ a = {}1 }}\n", "1 + ".repeat(10_000));
    let (c, d) = load(sum);
    if let Some(c) = c.filter(|_| d.is_empty()) {
        let (v, _) = evaluate(&c.root.locals["a"].expr, &EmptyScope, &NullEnvironment);
        assert_eq!(
            v.as_number().map(|n| n.to_string()).as_deref(),
            Some("10001")
        );
    } else {
        // hcl-edit refuses more than 128 chained operators: a diagnostic saying so.
        assert_eq!(codes(&d), ["brick::config::too_many_operators"], "{d:?}");
        assert!(d[0].span.is_some() && d[0].help.is_some(), "{d:?}");
    }
}

#[test]
fn a_fifty_megabyte_file_is_refused_with_a_diagnostic() {
    let mut s = String::with_capacity(52 << 20);
    s.push_str("locals {\n");
    while s.len() < 50 << 20 {
        s.push_str(&format!("  value = \"{}\"\n", "x".repeat(100)));
    }
    s.push_str("}\n");
    let (_, d) = load(s);
    assert_eq!(codes(&d), ["brick::config::file_too_large"]);
}

#[test]
fn a_file_just_under_the_size_limit_loads() {
    let mut s = String::with_capacity(16 << 20);
    s.push_str("locals {\n");
    let line = format!("  value = \"{}\"\n", "x".repeat(1000));
    let mut i = 0;
    while s.len() + line.len() + 20 < 4 << 20 {
        s.push_str(&line.replace("value", &format!("value_{i}")));
        i += 1;
    }
    s.push_str("}\n");
    let (c, d) = load(s);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(c.unwrap().root.locals.len(), i);
}

struct Million;

impl brick::eval::Scope for Million {
    fn get(&self, r: &brick::eval::Reference) -> Option<brick::eval::Value> {
        use brick::eval::{Type, Value};
        matches!(r, brick::eval::Reference::Variable(n) if n == "keys").then(|| {
            Value::set(
                Type::String,
                (0..1_000_000)
                    .map(|i| Value::string(format!("k{i}")))
                    .collect(),
            )
        })
    }
}

#[test]
fn for_each_over_a_million_elements_expands() {
    let (c, d) = load(
        "resource \"brick_data\" \"x\" {\n  for_each = { for k in var.keys : k => upper(k) }\n}\n",
    );
    assert!(d.is_empty(), "{d:?}");
    let c = c.unwrap();
    let r = &c.root.resources["brick_data.x"];
    let (e, d) = expansion(None, r.for_each.as_ref(), &Million, &NullEnvironment);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(e.len(), 1_000_000);
}

#[test]
fn an_unknown_function_is_a_diagnostic_with_a_suggestion() {
    let (c, _) = load("locals { a = lenght([1]) }\n");
    let c = c.unwrap();
    let (_, d) = evaluate(&c.root.locals["a"].expr, &EmptyScope, &NullEnvironment);
    assert_eq!(codes(&d), ["brick::eval::unknown_function"]);
    assert_eq!(d[0].help.as_deref(), Some("Did you mean `length`?"));
}

#[test]
fn garbage_bytes_never_panic_the_loader() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 7, 64, 512] {
        for _ in 0..50 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    {
                        let alphabet = b"{}[]()\"$%~=<>-!.,:?*#/\\\n abc123EOT";
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            let _ = load(bytes);
        }
    }
}

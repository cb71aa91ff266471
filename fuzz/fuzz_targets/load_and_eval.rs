//! Fuzz target: arbitrary bytes as a configuration file. Loading, validating, evaluating
//! every local and output, and formatting must never panic, hang or overflow the stack;
//! formatting must be idempotent.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use brick::config::{self, MemoryFs};
use brick::eval::scope::ModuleScope;
use brick::eval::{NullEnvironment, evaluate};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fs = MemoryFs::new().with("/f/main.hcl", data.to_vec());
    let (c, _) = config::load(&fs, &brick::eval::Constants, Path::new("/f"));
    if let Some(c) = &c {
        let env = NullEnvironment;
        let _ = brick::validate::validate(c, &BTreeMap::new());
        let scope = ModuleScope::new(&c.root, &env, BTreeMap::new(), Box::new(|_| None));
        for name in c.root.locals.keys() {
            let _ = scope.local(name);
        }
        for o in c.root.outputs.values() {
            let _ = evaluate(&o.value, &scope, &env);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(once) = brick::cli::fmt::format_source(text) {
            let twice = brick::cli::fmt::format_source(&once).expect("formatted output parses");
            assert_eq!(once, twice, "formatting is not idempotent");
        }
    }
});

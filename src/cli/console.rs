//! `brick console`: evaluates expressions line by line in the context of the configuration
//! and the current state, printing values as Terraform's console does (`(known after apply)`
//! for unknowns, `(sensitive value)` for sensitive ones).
//!
//! [`Console`] is the pure core; [`run`] is the CLI entry over any reader and writers. The
//! caller supplies resolved variables and a lookup for resources, data sources and module
//! outputs (normally backed by the state); a declared resource the lookup does not know is
//! unknown, as it would be before its first apply.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use brick_provider_api::{Type, Value};

use crate::config::{Config, ResourceMode, SourceFile};
use crate::diag::Diagnostic;
use crate::eval::scope::{Lookup, ModuleScope};
use crate::eval::{Environment, Reference, console_display, evaluate};

pub struct Console<'a> {
    config: &'a Config,
    scope: ModuleScope<'a>,
    env: &'a dyn Environment,
}

impl<'a> Console<'a> {
    pub fn new(
        config: &'a Config,
        env: &'a dyn Environment,
        variables: BTreeMap<String, Value>,
        state: Box<Lookup<'a>>,
    ) -> Console<'a> {
        let m = &config.root;
        let lookup = move |r: &Reference| -> Option<Value> {
            if let Some(v) = state(r) {
                return Some(v);
            }
            // Declared but not in state: unknown until applied.
            let declared = match r {
                Reference::Resource { type_name, name } => {
                    m.resource(ResourceMode::Managed, type_name, name).is_some()
                }
                Reference::Data { type_name, name } => {
                    m.resource(ResourceMode::Data, type_name, name).is_some()
                }
                Reference::Module(n) => m.module_calls.contains_key(n),
                _ => false,
            };
            declared.then(|| Value::unknown(Type::Dynamic))
        };
        Console {
            config,
            scope: ModuleScope::new(m, env, variables, Box::new(lookup)),
            env,
        }
    }

    /// Evaluates one line. `Ok(None)` for a blank line; the diagnostics' spans point into a
    /// source file named `<console>` whose text is the line (see [`Console::files_with`]).
    pub fn eval_line(&self, line: &str) -> Result<Option<String>, Vec<Diagnostic>> {
        if line.trim().is_empty() {
            return Ok(None);
        }
        let file = self.config.files.len();
        let (expr, diags) = crate::config::syntax::parse_expression(line.trim_end(), file);
        let Some(expr) = expr else {
            return Err(diags);
        };
        let (v, mut d) = evaluate(&expr, &self.scope, self.env);
        d.extend(self.scope.take_diagnostics());
        if d.iter().any(Diagnostic::is_error) {
            return Err(d);
        }
        console_display(&v).map(Some)
    }

    /// The configuration's files plus the console line, for rendering diagnostics.
    pub fn files_with(&self, line: &str) -> Vec<SourceFile> {
        let mut files = self.config.files.clone();
        files.push(SourceFile {
            path: PathBuf::from("<console>"),
            text: line.trim_end().into(),
        });
        files
    }
}

/// Reads expressions from `input` until EOF or `exit`, printing each value to `out` and
/// diagnostics to stderr. Exit code 1 when any line failed.
pub fn run(console: &Console, input: &mut dyn BufRead, out: &mut dyn Write) -> ExitCode {
    run_with_prompt(console, input, out, false)
}

/// [`run`] for a terminal when `prompt`: Terraform's `> ` prompt precedes each expression
/// (and the session ends at end of input or `exit` just the same).
pub fn run_with_prompt(
    console: &Console,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    prompt: bool,
) -> ExitCode {
    let mut failed = false;
    let mut line = String::new();
    loop {
        line.clear();
        if prompt {
            let _ = write!(out, "> ");
            let _ = out.flush();
        }
        // An expression continues over lines while brackets are open, as in Terraform.
        loop {
            match input.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    eprintln!("Error: cannot read input: {e}");
                    return ExitCode::from(1);
                }
            }
            if open_brackets(&line) <= 0 {
                break;
            }
        }
        if line.is_empty() {
            break;
        }
        if line.trim() == "exit" {
            break;
        }
        match console.eval_line(&line) {
            Ok(Some(v)) => {
                let _ = writeln!(out, "{v}");
            }
            Ok(None) => {}
            Err(diags) => {
                failed = true;
                super::common::render(&diags, &console.files_with(&line));
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Brackets opened and not closed in `text`, outside quoted strings.
fn open_brackets(text: &str) -> i64 {
    let mut depth = 0i64;
    let mut in_str = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MemoryFs;
    use crate::eval::NullEnvironment;

    fn config() -> Config {
        let fs = MemoryFs::new().with(
            "/c/main.hcl",
            "variable \"n\" { default = 3 }\nlocals { double = var.n * 2 }\nresource \"brick_data\" \"a\" {}\nresource \"brick_data\" \"b\" {}\n",
        );
        crate::config::load(&fs, &crate::eval::Constants, std::path::Path::new("/c"))
            .0
            .unwrap()
    }

    #[test]
    fn the_console_prints_values_from_config_and_state() {
        let c = config();
        let env = NullEnvironment;
        let vars = BTreeMap::from([("n".to_string(), Value::number(3))]);
        let state = |r: &Reference| match r {
            Reference::Resource { name, .. } if name == "a" => {
                Some(Value::object_from([("id", Value::string("abc"))]))
            }
            _ => None,
        };
        let console = Console::new(&c, &env, vars, Box::new(state));
        assert_eq!(console.eval_line("local.double + 1").unwrap().unwrap(), "7");
        assert_eq!(
            console.eval_line("brick_data.a.id").unwrap().unwrap(),
            "\"abc\""
        );
        assert_eq!(
            console.eval_line("brick_data.b.id").unwrap().unwrap(),
            "(known after apply)"
        );
        assert_eq!(console.eval_line("  ").unwrap(), None);
        let err = console.eval_line("var.nope").unwrap_err();
        assert_eq!(err[0].code, "brick::eval::undeclared_reference");
        let mut out = Vec::new();
        let code = run(
            &console,
            &mut "1 + 1\n\"a\"\nexit\n3\n".as_bytes(),
            &mut out,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "2\n\"a\"\n");
        assert_eq!(code, ExitCode::SUCCESS);
        // From a terminal: a prompt before each expression; an expression left open by a
        // bracket continues on the next line; a failed line makes the exit code 1.
        let mut out = Vec::new();
        let code = run_with_prompt(
            &console,
            &mut "[1,\n2]\nvar.nope\nlocal.double\n".as_bytes(),
            &mut out,
            true,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "> [\n  1,\n  2,\n]\n> > 6\n> "
        );
        assert_eq!(code, ExitCode::from(1));
    }
}

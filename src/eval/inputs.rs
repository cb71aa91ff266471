//! Input variables: values from `--var`, `--var-file`, `BRICK_VAR_*` and the auto-loaded
//! `brick.vars.hcl` / `*.auto.vars.hcl` files, resolved against the `variable` blocks.
//!
//! Pure: the CLI reads the files and the environment and passes their contents in
//! precedence order (lowest first, as Terraform: environment, `brick.vars.hcl`,
//! `*.auto.vars.hcl` in name order, then `--var`/`--var-file` in command-line order); a later
//! value for the same name wins.

// Diagnostics are plain data returned by value; boxing them would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use brick_provider_api::Value;

use super::evaluator::{convert_with_defaults, evaluate, evaluate_const, prim_to_string};
use super::{Environment, Reference, Scope};
use crate::config::{Attribute, Check, Expr, FileId, Span, TypeConstraint, Variable};
use crate::diag::{Diagnostic, did_you_mean};

/// Where a variable value came from (for messages and precedence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VariableSource {
    /// `BRICK_VAR_name`
    Environment,
    /// A variables file (`brick.vars.hcl`, `*.auto.vars.hcl`, `--var-file`).
    File(String),
    /// `--var name=value`
    CommandLine,
}

/// One value given for a variable.
#[derive(Clone, Debug)]
pub enum VariableInput {
    /// Text from `--var` or the environment: taken literally for primitive (and undeclared)
    /// types, parsed as an HCL expression for collection and structural types.
    Raw {
        name: String,
        text: String,
        source: VariableSource,
    },
    /// An attribute of a variables file.
    Expr {
        name: String,
        expr: Expr,
        source: VariableSource,
    },
}

impl VariableInput {
    fn name(&self) -> &str {
        match self {
            VariableInput::Raw { name, .. } | VariableInput::Expr { name, .. } => name,
        }
    }
    fn source(&self) -> &VariableSource {
        match self {
            VariableInput::Raw { source, .. } | VariableInput::Expr { source, .. } => source,
        }
    }
}

/// Parses a variables file (`name = value` lines) into inputs. Blocks are errors.
pub fn parse_vars_file(
    text: &str,
    file: FileId,
    path: &str,
) -> (Vec<VariableInput>, Vec<Diagnostic>) {
    let (body, mut diags) = crate::config::syntax::parse_file(text, file);
    let Some(body) = body else {
        return (Vec::new(), diags);
    };
    for b in &body.blocks {
        diags.push(
            Diagnostic::error(
                "brick::vars::unexpected_block",
                "Unexpected block in variables file",
                format!("A variables file contains only assignments (name = value); \"{}\" blocks are not allowed.", b.kind),
            )
            .at(b.kind_span),
        );
    }
    let inputs = body
        .attributes
        .into_iter()
        .map(|a: Attribute| VariableInput::Expr {
            name: a.name,
            expr: a.expr,
            source: VariableSource::File(path.to_string()),
        })
        .collect();
    (inputs, diags)
}

/// Splits `NAME=VALUE` from `--var`.
pub fn parse_var_flag(flag: &str) -> Result<VariableInput, Diagnostic> {
    match flag.split_once('=') {
        Some((name, text)) if !name.trim().is_empty() => Ok(VariableInput::Raw {
            name: name.trim().to_string(),
            text: text.to_string(),
            source: VariableSource::CommandLine,
        }),
        _ => Err(Diagnostic::error(
            "brick::vars::invalid_flag",
            "Invalid --var option",
            format!("The option --var \"{flag}\" is not of the form NAME=VALUE."),
        )
        .help("Write --var 'nodes=[\"kvm1\",\"kvm2\"]' or --var region=lab.")),
    }
}

/// Warnings for Terraform's variable sources that brick does not read, so a Terraform user
/// is not silently given defaults: `terraform.tfvars`, `*.auto.tfvars` (and their `.json`
/// forms) in `dir`, and `TF_VAR_<name>` set for a declared variable that no `BRICK_VAR_<name>`
/// sets. Each names what brick reads instead.
pub fn terraform_source_warnings<'a>(
    fs: &dyn crate::config::FileSystem,
    dir: &std::path::Path,
    env: &[(String, String)],
    declared: impl IntoIterator<Item = &'a str>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for path in fs.list_files(dir).unwrap_or_default() {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let instead = match name {
            "terraform.tfvars" | "terraform.tfvars.json" => "brick.vars.hcl".to_string(),
            _ => match name
                .strip_suffix(".auto.tfvars")
                .or_else(|| name.strip_suffix(".auto.tfvars.json"))
            {
                Some(stem) => format!("{stem}.auto.vars.hcl"),
                None => continue,
            },
        };
        let help = if name.ends_with(".json") {
            format!(
                "Write its values as {instead} in HCL (`name = value` lines): brick reads no JSON variables files."
            )
        } else {
            format!("Rename {name} to {instead}, or pass it with --var-file {name}.")
        };
        out.push(
            Diagnostic::warning(
                "brick::vars::terraform_file_ignored",
                "Terraform variables file not read",
                format!("brick does not read {name}: its variables files are brick.vars.hcl and *.auto.vars.hcl, so the values in {name} are not used."),
            )
            .help(help),
        );
    }
    let set: std::collections::BTreeSet<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    for name in declared {
        let tf = format!("TF_VAR_{name}");
        if set.contains(tf.as_str()) && !set.contains(format!("BRICK_VAR_{name}").as_str()) {
            out.push(
                Diagnostic::warning(
                    "brick::vars::terraform_env_ignored",
                    "Terraform environment variable not read",
                    format!("The environment variable {tf} is set, but brick reads variables from BRICK_VAR_<name>: var.{name} does not take its value from {tf}."),
                )
                .help(format!("Set BRICK_VAR_{name} instead (export BRICK_VAR_{name}=\"$TF_VAR_{name}\").")),
            );
        }
    }
    out
}

/// The inputs from `BRICK_VAR_<name>` environment variables.
pub fn env_inputs(env: &[(String, String)]) -> Vec<VariableInput> {
    env.iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("BRICK_VAR_")?;
            (!name.is_empty()).then(|| VariableInput::Raw {
                name: name.to_string(),
                text: v.clone(),
                source: VariableSource::Environment,
            })
        })
        .collect()
}

/// What a `validation` block that reads only input variables sees: every input variable
/// of the module, already converted. A condition that also reads locals, resources, data
/// sources or module outputs (Terraform ≥ 1.9) is not checked here but in the module's
/// scope during plan and apply (see [`reads_only_variables`] and `plan::from_config`).
struct ValidationScope<'a> {
    variables: &'a BTreeMap<String, Value>,
}

impl Scope for ValidationScope<'_> {
    fn get(&self, r: &Reference) -> Option<Value> {
        match r {
            Reference::Variable(n) => self.variables.get(n).cloned(),
            _ => None,
        }
    }
}

/// Whether a `validation` block reads nothing but input variables (and constants), so that
/// it can be checked as soon as the variables have their values. Others are checked in the
/// module's scope once what they read is known.
pub fn reads_only_variables(check: &Check) -> bool {
    [&check.condition, &check.error_message]
        .into_iter()
        .all(|e| {
            super::references(e).iter().all(|(r, _)| {
                !matches!(
                    r,
                    Reference::Local(_)
                        | Reference::Resource { .. }
                        | Reference::Data { .. }
                        | Reference::Module(_)
                )
            })
        })
}

/// Checks one `validation` block of `var.name` in `scope`. `None` when the condition is
/// not yet known (it is checked again once it is); otherwise the diagnostics (empty when
/// the condition holds). `module` names the module call for a child module's variable, and
/// `at` the argument that gave the value (the error points there, else at the condition).
pub fn check_validation(
    name: &str,
    module: Option<&str>,
    at: Option<Span>,
    check: &Check,
    scope: &dyn Scope,
    env: &dyn Environment,
) -> Option<Vec<Diagnostic>> {
    let (c, mut diags) = evaluate(&check.condition, scope, env);
    if diags.iter().any(Diagnostic::is_error) {
        return Some(diags);
    }
    if !c.is_wholly_known() {
        return None;
    }
    if c.as_bool() == Some(false) {
        let (m, _) = evaluate(&check.error_message, scope, env);
        let msg = prim_to_string(&m)
            .filter(|_| !m.is_sensitive() && m.is_wholly_known())
            .unwrap_or_else(|| "The value is not valid.".to_string());
        let of = match module {
            Some(call) => format!("var.{name} of module \"{call}\""),
            None => format!("var.{name}"),
        };
        let d = Diagnostic::error(
            "brick::vars::validation",
            "Invalid value for variable",
            format!("{msg} (validation of {of})"),
        );
        diags.push(match at {
            Some(span) => d.at(span).label("this value is not valid"),
            None => d.at(check.condition.span).label("this condition is false"),
        });
    }
    Some(diags)
}

/// Resolves every declared variable: the last input for it (inputs in precedence order,
/// lowest first), else its default; converted to the declared type (with `optional`
/// defaults), `nullable` and `sensitive` applied, `validation` blocks checked.
pub fn resolve_variables(
    declared: &BTreeMap<String, Variable>,
    inputs: &[VariableInput],
    env: &dyn Environment,
) -> (BTreeMap<String, Value>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut given: BTreeMap<&str, &VariableInput> = BTreeMap::new();
    for i in inputs {
        if !declared.contains_key(i.name()) {
            let help = did_you_mean(i.name(), declared.keys().map(String::as_str))
                .map(|s| format!("Did you mean `{s}`?"));
            let (sev_err, span) = match i {
                VariableInput::Expr { expr, .. } => (false, Some(expr.span)),
                VariableInput::Raw { source, .. } => (*source == VariableSource::CommandLine, None),
            };
            if matches!(i.source(), VariableSource::Environment) {
                continue; // Terraform ignores undeclared environment variables.
            }
            let d = if sev_err {
                Diagnostic::error(
                    "brick::vars::undeclared",
                    "Value for undeclared variable",
                    format!(
                        "A variable named \"{}\" was assigned on the command line, but the configuration does not declare it.",
                        i.name()
                    ),
                )
            } else {
                Diagnostic::warning(
                    "brick::vars::undeclared",
                    "Value for undeclared variable",
                    format!(
                        "The variables file assigns \"{}\", but the configuration does not declare a variable of that name.",
                        i.name()
                    ),
                )
            };
            diags.push(d.at_opt(span).help_opt(help));
            continue;
        }
        given.insert(i.name(), i);
    }
    let mut out = BTreeMap::new();
    for (name, var) in declared {
        let tc = var.constraint();
        let raw: Option<(Value, Option<Span>)> = match given.get(name.as_str()) {
            Some(VariableInput::Raw { text, .. }) => {
                let literal = matches!(
                    tc,
                    TypeConstraint::Any
                        | TypeConstraint::String
                        | TypeConstraint::Number
                        | TypeConstraint::Bool
                );
                if literal {
                    Some((Value::string(text.clone()), None))
                } else {
                    let (e, d) = crate::config::syntax::parse_expression(text, usize::MAX);
                    match e {
                        Some(e) => {
                            let (v, d2) = evaluate_const(&e);
                            if d2.iter().any(Diagnostic::is_error) {
                                diags.push(invalid_value(
                                    name,
                                    "the value is not a constant expression",
                                    None,
                                ));
                                continue;
                            }
                            Some((v, None))
                        }
                        None => {
                            let why = d.first().map(|x| x.detail.clone()).unwrap_or_default();
                            diags.push(invalid_value(name, &why, None));
                            continue;
                        }
                    }
                }
            }
            Some(VariableInput::Expr { expr, .. }) => {
                let (v, d) = evaluate_const(expr);
                if d.iter().any(Diagnostic::is_error) {
                    diags.extend(d.into_iter().map(|mut x| {
                        x.detail = format!("{} Variable values must be constants.", x.detail);
                        x
                    }));
                    continue;
                }
                Some((v, Some(expr.span)))
            }
            None => None,
        };
        let default = || -> Option<Value> { var.default.as_ref().map(|d| evaluate_const(d).0) };
        let (mut value, span) = match raw {
            Some((v, s)) if v.is_null() && !var.nullable => match default() {
                Some(d) => (d, s),
                None => {
                    diags.push(invalid_value(
                        name,
                        "the variable is not nullable and null was given",
                        s,
                    ));
                    continue;
                }
            },
            Some(x) => x,
            None => match default() {
                Some(d) => (d, var.default.as_ref().map(|d| d.span)),
                None => {
                    diags.push(
                        Diagnostic::error(
                            "brick::vars::missing",
                            "No value for required variable",
                            format!("The root module input variable \"{name}\" is not set, and has no default value."),
                        )
                        .at(var.span)
                        .help(format!("Use --var {name}=…, a variables file, or the environment variable BRICK_VAR_{name} to provide it.")),
                    );
                    continue;
                }
            },
        };
        value = match convert_with_defaults(&value, &tc) {
            Ok(v) => v,
            Err(m) => {
                diags.push(invalid_value(name, &m, span.or(Some(var.span))));
                out.insert(name.clone(), Value::unknown(tc.to_type()));
                continue;
            }
        };
        if var.sensitive {
            value = value.sensitive();
        }
        out.insert(name.clone(), value);
    }
    // Validation blocks, once every variable has its value: a condition may refer to other
    // variables as well as its own (Terraform ≥ 1.9). Reading values cannot form a cycle.
    let mut invalid = Vec::new();
    for (name, var) in declared {
        if !out.contains_key(name) {
            continue;
        }
        let scope = ValidationScope { variables: &out };
        let mut ok = true;
        for check in var.validations.iter().filter(|c| reads_only_variables(c)) {
            if let Some(d) = check_validation(name, None, None, check, &scope, env) {
                ok &= !d.iter().any(Diagnostic::is_error);
                diags.extend(d);
            }
        }
        if !ok {
            invalid.push((name.clone(), var.constraint().to_type()));
        }
    }
    for (name, ty) in invalid {
        out.insert(name, Value::unknown(ty));
    }
    (out, diags)
}

fn invalid_value(name: &str, why: &str, span: Option<Span>) -> Diagnostic {
    Diagnostic::error(
        "brick::vars::invalid_value",
        "Invalid value for input variable",
        format!(
            "The value given for var.{name} is not suitable: {}.",
            why.trim_end_matches('.')
        ),
    )
    .at_opt(span.filter(|s| s.file != usize::MAX))
}

/// Gathers every variable input in Terraform's precedence order (lowest first): the
/// `BRICK_VAR_*` environment, `brick.vars.hcl`, `*.auto.vars.hcl` in name order, then each
/// `--var` / `--var-file` in command-line order (`cli_order`). Files are read through `fs`
/// and appended to `files` (so diagnostics can point into them). Pass the result to
/// [`resolve_variables`].
pub fn gather_inputs(
    fs: &dyn crate::config::FileSystem,
    dir: &std::path::Path,
    env: &[(String, String)],
    cli_order: &[CliVar],
    files: &mut Vec<crate::config::SourceFile>,
) -> (Vec<VariableInput>, Vec<Diagnostic>) {
    let mut inputs = env_inputs(env);
    let mut diags = Vec::new();
    let mut read = |path: &std::path::Path,
                    inputs: &mut Vec<VariableInput>,
                    diags: &mut Vec<Diagnostic>,
                    required: bool| {
        match fs.read_up_to(path, crate::config::MAX_FILE_BYTES) {
            // Bounded like a configuration file: `--var-file /dev/zero` is refused at once.
            Ok(bytes) if bytes.len() > crate::config::MAX_FILE_BYTES => {
                diags.push(
                    Diagnostic::error(
                        "brick::vars::file_too_large",
                        "Variables file too large",
                        format!(
                            "The variables file {} is larger than {} MiB, the most brick reads of a variables file.",
                            path.display(),
                            crate::config::MAX_FILE_BYTES >> 20
                        ),
                    )
                    .help("Check the path given to --var-file; keep large data in a file read with file() instead."),
                )
            }
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let id = files.len();
                    let (i, d) = parse_vars_file(&text, id, &path.display().to_string());
                    files.push(crate::config::SourceFile {
                        path: path.to_path_buf(),
                        text: text.into(),
                    });
                    inputs.extend(i);
                    diags.extend(d);
                }
                Err(_) => diags.push(Diagnostic::error(
                    "brick::vars::invalid_utf8",
                    "Invalid UTF-8",
                    format!("The variables file {} is not valid UTF-8.", path.display()),
                )),
            },
            Err(e) if required => diags.push(Diagnostic::error(
                "brick::vars::unreadable_file",
                "Cannot read variables file",
                format!(
                    "The variables file {} could not be read: {e}.",
                    path.display()
                ),
            )),
            Err(_) => {}
        }
    };
    let listed = fs.list_hcl_files(dir).unwrap_or_default();
    let default = dir.join("brick.vars.hcl");
    if listed.contains(&default) {
        read(&default, &mut inputs, &mut diags, false);
    }
    let mut autos: Vec<_> = listed
        .iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".auto.vars.hcl"))
        })
        .cloned()
        .collect();
    autos.sort();
    for a in autos {
        read(&a, &mut inputs, &mut diags, false);
    }
    for c in cli_order {
        match c {
            CliVar::Var(flag) => match parse_var_flag(flag) {
                Ok(i) => inputs.push(i),
                Err(d) => diags.push(d),
            },
            CliVar::File(p) => read(p, &mut inputs, &mut diags, true),
        }
    }
    (inputs, diags)
}

/// One `--var NAME=VALUE` or `--var-file PATH` option, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliVar {
    Var(String),
    File(std::path::PathBuf),
}

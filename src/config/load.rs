//! Decoding parsed bodies into the typed blocks of [`Module`], recursively loading local
//! child modules. Every problem becomes a diagnostic; decoding goes on after one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::expr::{Expr, ExprKind, StaticStep};
use super::syntax::{Attribute, Block, Body, parse_file};
use super::types::{ConstEval, TypeConstraint};
use super::*;
use crate::diag::{Diagnostic, did_you_mean};

/// Deepest chain of nested module calls accepted (guards against a module calling itself).
const MAX_MODULE_DEPTH: usize = 16;

/// The largest configuration file read (larger ones are a diagnostic, not a minute of parsing).
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// Loads the configuration in `dir`: every `*.hcl` file except `*.vars.hcl`, and the local
/// modules it calls. Files are read through `fs`; type constraints' defaults are evaluated
/// through `consts` (`&eval::Constants`). Returns `None` only when nothing usable could be
/// read; otherwise the configuration plus every diagnostic found (the caller checks
/// [`crate::diag::has_errors`]).
pub fn load(
    fs: &dyn FileSystem,
    consts: &dyn ConstEval,
    dir: &Path,
) -> (Option<Config>, Vec<Diagnostic>) {
    let mut l = Loader {
        fs,
        consts,
        files: Vec::new(),
        diags: Vec::new(),
        stack: Vec::new(),
    };
    let root = l.module(dir, Vec::new(), None);
    let config = root.map(|root| Config {
        files: l.files,
        root,
    });
    (config, l.diags)
}

struct Loader<'a> {
    fs: &'a dyn FileSystem,
    consts: &'a dyn ConstEval,
    files: Vec<SourceFile>,
    diags: Vec<Diagnostic>,
    /// The directories of the module being loaded and its callers (to refuse a module
    /// that calls itself, e.g. `source = "./"`).
    stack: Vec<PathBuf>,
}

fn err(code: &str, summary: &str, detail: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::error(format!("brick::config::{code}"), summary, detail).at(span)
}

impl Loader<'_> {
    fn module(&mut self, dir: &Path, path: Vec<String>, call_span: Option<Span>) -> Option<Module> {
        let listed = match self.fs.list_hcl_files(dir) {
            Ok(l) => l,
            Err(e) => {
                let d = Diagnostic::error(
                    "brick::config::unreadable_directory",
                    "Cannot read configuration directory",
                    format!("The directory {} could not be read: {e}.", dir.display()),
                )
                .at_opt(call_span);
                self.diags.push(d);
                return None;
            }
        };
        let mut module = Module {
            dir: dir.to_path_buf(),
            path,
            ..Module::default()
        };
        let mut any = false;
        for file in listed {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".vars.hcl") {
                continue;
            }
            any = true;
            let bytes = match self.fs.read_up_to(&file, MAX_FILE_BYTES) {
                Ok(b) => b,
                Err(e) => {
                    self.diags.push(Diagnostic::error(
                        "brick::config::unreadable_file",
                        "Cannot read configuration file",
                        format!("The file {} could not be read: {e}.", file.display()),
                    ));
                    continue;
                }
            };
            if bytes.len() > MAX_FILE_BYTES {
                self.diags.push(
                    Diagnostic::error(
                        "brick::config::file_too_large",
                        "Configuration file too large",
                        format!(
                            "The file {} is larger than {} MiB, the most brick reads of a configuration file.",
                            file.display(),
                            MAX_FILE_BYTES >> 20
                        ),
                    )
                    .help("Split the configuration into several files or modules, or move data into a file read with file() or jsondecode()."),
                );
                continue;
            }
            let id = self.files.len();
            let text = match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    let at = e.utf8_error().valid_up_to();
                    let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    self.files.push(SourceFile {
                        path: file.clone(),
                        text: lossy.into(),
                    });
                    self.diags.push(
                        Diagnostic::error(
                            "brick::config::invalid_utf8",
                            "Invalid UTF-8",
                            format!(
                                "The file {} is not valid UTF-8 (first bad byte at offset {at}).",
                                file.display()
                            ),
                        )
                        .help("Configuration files must be UTF-8 encoded text."),
                    );
                    continue;
                }
            };
            self.files.push(SourceFile {
                path: file.clone(),
                text: text.into(),
            });
            let (body, diags) = parse_file(&self.files[id].text, id);
            self.diags.extend(diags);
            if let Some(body) = body {
                self.decode_file(&mut module, body);
            }
        }
        if !any && module.path.is_empty() {
            self.diags.push(Diagnostic::warning(
                "brick::config::empty",
                "No configuration files",
                format!(
                    "The directory {} contains no *.hcl configuration files.",
                    dir.display()
                ),
            ));
        }
        // Child modules.
        self.stack.push(normalize(dir));
        let calls: Vec<String> = module.module_calls.keys().cloned().collect();
        for name in calls {
            let call = &module.module_calls[&name];
            let span = call.span;
            let source = call.source.clone();
            if !(source.starts_with("./") || source.starts_with("../")) {
                self.diags.push(
                    err(
                        "unsupported_module_source",
                        "Unsupported module source",
                        format!("The module source \"{source}\" is not a local path; brick loads modules only from local directories."),
                        span,
                    )
                    .help(source_help(&source)),
                );
                continue;
            }
            if module.path.len() >= MAX_MODULE_DEPTH {
                self.diags.push(err(
                    "module_too_deep",
                    "Module calls nested too deeply",
                    format!("Module calls are nested more than {MAX_MODULE_DEPTH} levels deep; a module probably calls itself."),
                    span,
                ));
                continue;
            }
            let child_dir = normalize(&dir.join(&source));
            if let Some(i) = self.stack.iter().position(|d| *d == child_dir) {
                let what = if i + 1 == self.stack.len() {
                    "the module that contains it".to_string()
                } else {
                    format!(
                        "a module that (indirectly) calls it, {}",
                        child_dir.display()
                    )
                };
                self.diags.push(
                    err(
                        "module_calls_itself",
                        "Module calls itself",
                        format!("The module source \"{source}\" of module \"{name}\" refers to {what}; a module cannot call itself."),
                        span,
                    )
                    .help("Point source at the directory of another module, e.g. source = \"./modules/node\"."),
                );
                continue;
            }
            let mut child_path = module.path.clone();
            child_path.push(name.clone());
            let child = self.module(&child_dir, child_path, Some(span));
            if let Some(c) = module.module_calls.get_mut(&name) {
                c.module = child.map(Box::new);
            }
        }
        self.stack.pop();
        Some(module)
    }

    fn decode_file(&mut self, m: &mut Module, body: Body) {
        for a in &body.attributes {
            self.diags.push(
                err(
                    "unsupported_argument",
                    "Unsupported argument",
                    format!("An argument named \"{}\" is not expected at the top level of a configuration file.", a.name),
                    a.name_span,
                )
                .help("Arguments belong inside a block such as locals { … }."),
            );
        }
        for b in body.blocks {
            self.check_duplicate_attributes(&b.body);
            match b.kind.as_str() {
                "variable" => self.variable(m, b),
                "locals" => self.locals(m, b),
                "output" => self.output(m, b),
                "resource" => self.resource(m, b, ResourceMode::Managed),
                "data" => self.resource(m, b, ResourceMode::Data),
                "provider" => self.provider(m, b),
                "module" => self.module_call(m, b),
                "moved" => self.moved(m, b),
                "removed" => self.removed(m, b),
                "import" => self.import(m, b),
                "drift" => self.drift(m, b),
                "brick" | "terraform" => self.settings(m, b),
                other => {
                    const KINDS: &[&str] = &[
                        "variable", "locals", "output", "resource", "data", "provider", "module",
                        "moved", "removed", "import", "drift", "brick",
                    ];
                    let help = did_you_mean(other, KINDS.iter().copied())
                        .map(|s| format!("Did you mean `{s}`?"))
                        .unwrap_or_else(|| format!("The block types are: {}.", KINDS.join(", ")));
                    self.diags.push(
                        err(
                            "unsupported_block",
                            "Unsupported block type",
                            format!("Blocks of type \"{other}\" are not expected here."),
                            b.kind_span,
                        )
                        .help(help),
                    );
                }
            }
        }
    }

    fn check_duplicate_attributes(&mut self, body: &Body) {
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for a in &body.attributes {
            if let Some(first) = seen.get(a.name.as_str()) {
                let (line, _) = (first.start, first.end);
                let _ = line;
                self.diags.push(
                    err(
                        "duplicate_argument",
                        "Attribute redefined",
                        format!("The argument \"{}\" was already set earlier in this block; each argument may be set only once.", a.name),
                        a.name_span,
                    )
                    .help("Remove one of the two definitions."),
                );
            } else {
                seen.insert(&a.name, a.name_span);
            }
        }
        for b in &body.blocks {
            self.check_duplicate_attributes(&b.body);
        }
    }

    fn labels(&mut self, b: &Block, want: usize, names: &str) -> bool {
        if b.labels.len() != want {
            self.diags.push(
                err(
                    "wrong_labels",
                    "Wrong number of block labels",
                    format!(
                        "A {} block takes {want} label(s) ({names}), but this one has {}.",
                        b.kind,
                        b.labels.len()
                    ),
                    b.header_span(),
                )
                .help(format!("Write it as: {} {names} {{ … }}", b.kind)),
            );
            return false;
        }
        for (l, s) in b.labels.iter().zip(&b.label_spans) {
            if !is_identifier(l) {
                self.diags.push(err(
                    "invalid_name",
                    "Invalid name",
                    format!("\"{l}\" is not a valid name: a name starts with a letter or underscore and contains only letters, digits, underscores and dashes."),
                    *s,
                ));
                return false;
            }
        }
        true
    }

    /// Reports arguments and blocks other than `allowed` as unsupported.
    fn only(&mut self, body: &Body, attrs: &[&str], blocks: &[&str], what: &str) {
        for a in &body.attributes {
            if !attrs.contains(&a.name.as_str()) {
                let help = did_you_mean(&a.name, attrs.iter().copied())
                    .map(|s| format!("Did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        if attrs.is_empty() {
                            "This block takes no arguments.".to_string()
                        } else {
                            format!("The arguments of {what} are: {}.", attrs.join(", "))
                        }
                    });
                self.diags.push(
                    err(
                        "unsupported_argument",
                        "Unsupported argument",
                        format!(
                            "An argument named \"{}\" is not expected in {what}.",
                            a.name
                        ),
                        a.name_span,
                    )
                    .help(help),
                );
            }
        }
        for b in &body.blocks {
            if !blocks.contains(&b.kind.as_str()) {
                self.diags.push(err(
                    "unsupported_block",
                    "Unsupported block type",
                    format!("Blocks of type \"{}\" are not expected in {what}.", b.kind),
                    b.kind_span,
                ));
            }
        }
    }

    fn literal_bool(&mut self, body: &Body, name: &str) -> Option<bool> {
        let a = body.attribute(name)?;
        match literal(&a.expr).and_then(|v| v.as_bool()) {
            Some(b) => Some(b),
            None => {
                self.diags.push(err(
                    "invalid_argument",
                    "Invalid argument value",
                    format!("The argument \"{name}\" must be the literal true or false."),
                    a.expr.span,
                ));
                None
            }
        }
    }

    fn literal_string(&mut self, body: &Body, name: &str) -> Option<String> {
        let a = body.attribute(name)?;
        match a.expr.as_literal_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.diags.push(err(
                    "invalid_argument",
                    "Invalid argument value",
                    format!("The argument \"{name}\" must be a literal string; it cannot refer to other values."),
                    a.expr.span,
                ));
                None
            }
        }
    }

    fn checks(&mut self, body: &Body, kind: &str) -> Vec<Check> {
        let mut out = Vec::new();
        for b in body.blocks_of(kind) {
            self.only(
                &b.body,
                &["condition", "error_message"],
                &[],
                &format!("a {kind} block"),
            );
            let cond = b.body.attribute("condition");
            let msg = b.body.attribute("error_message");
            if let Some(c) = cond
                && kind != "validation"
                && super::refs::references(&c.expr).is_empty()
            {
                // As Terraform: a condition that reads nothing checks nothing.
                self.diags.push(
                    err(
                        "invalid_condition_expression",
                        &format!("Invalid {kind} expression"),
                        "The condition expression must refer to at least one object from elsewhere in the configuration, or else its result would not be checking anything.".to_string(),
                        c.expr.span,
                    )
                    .help("Make the condition test a variable, a resource or data attribute, `self`, `count.index` or `each`."),
                );
            }
            match (cond, msg) {
                (Some(c), Some(m)) => out.push(Check {
                    condition: c.expr.clone(),
                    error_message: m.expr.clone(),
                    span: b.span,
                }),
                _ => self.diags.push(err(
                    "missing_argument",
                    "Missing required argument",
                    format!("A {kind} block needs both \"condition\" and \"error_message\"."),
                    b.kind_span,
                )),
            }
        }
        out
    }

    fn reference_list(&mut self, body: &Body, name: &str) -> Vec<Expr> {
        let Some(a) = body.attribute(name) else {
            return Vec::new();
        };
        match &a.expr.kind {
            ExprKind::Tuple(items) => {
                let mut out = Vec::new();
                for i in items {
                    if i.as_static_traversal().is_some() {
                        out.push(i.clone());
                    } else {
                        self.diags.push(err(
                            "invalid_reference",
                            "Invalid reference",
                            format!("Each element of \"{name}\" must be a plain reference such as brick_data.x or module.net, not an expression."),
                            i.span,
                        ));
                    }
                }
                out
            }
            _ => {
                self.diags.push(err(
                    "invalid_argument",
                    "Invalid argument value",
                    format!("The argument \"{name}\" must be a list of references."),
                    a.expr.span,
                ));
                Vec::new()
            }
        }
    }

    fn provider_ref(&mut self, a: &Attribute) -> Option<ProviderRef> {
        match a.expr.as_static_traversal() {
            Some((name, steps)) if steps.is_empty() => Some(ProviderRef { name, alias: None }),
            Some((name, steps)) if steps.len() == 1 => match &steps[0] {
                StaticStep::Attr(alias) => Some(ProviderRef {
                    name,
                    alias: Some(alias.clone()),
                }),
                _ => None,
            },
            _ => None,
        }
        .or_else(|| {
            self.diags.push(err(
                "invalid_provider_reference",
                "Invalid provider reference",
                "A provider reference is a provider name, optionally followed by a dot and an alias, e.g. maas.site2.",
                a.expr.span,
            ));
            None
        })
    }

    fn variable(&mut self, m: &mut Module, b: Block) {
        if !self.labels(&b, 1, "\"NAME\"") {
            return;
        }
        let name = b.labels[0].clone();
        const RESERVED: &[&str] = &[
            "source",
            "version",
            "providers",
            "count",
            "for_each",
            "lifecycle",
            "depends_on",
            "locals",
        ];
        if RESERVED.contains(&name.as_str()) {
            self.diags.push(err(
                "invalid_name",
                "Invalid variable name",
                format!("The name \"{name}\" is reserved for a module call meta-argument and cannot be a variable name."),
                b.label_spans[0],
            ));
        }
        self.only(
            &b.body,
            &[
                "type",
                "default",
                "description",
                "sensitive",
                "nullable",
                "ephemeral",
            ],
            &["validation"],
            "a variable block",
        );
        let ty = match b.body.attribute("type") {
            None => None,
            Some(a) => match TypeConstraint::from_expr(&a.expr, self.consts) {
                Ok(t) => Some(t),
                Err(d) => {
                    self.diags.push(d);
                    None
                }
            },
        };
        let validations = self.checks(&b.body, "validation");
        let v = Variable {
            name: name.clone(),
            ty,
            default: b.body.attribute("default").map(|a| a.expr.clone()),
            description: self.literal_string(&b.body, "description"),
            sensitive: self.literal_bool(&b.body, "sensitive").unwrap_or(false),
            nullable: self.literal_bool(&b.body, "nullable").unwrap_or(true),
            validations,
            span: b.span,
        };
        self.insert_unique(
            &mut m.variables,
            name,
            v,
            b.header_span(),
            "variable",
            |v| v.span,
        );
    }

    fn insert_unique<T>(
        &mut self,
        map: &mut BTreeMap<String, T>,
        key: String,
        value: T,
        span: Span,
        what: &str,
        span_of: impl Fn(&T) -> Span,
    ) {
        if let Some(prev) = map.get(&key) {
            let prev = span_of(prev);
            let loc = self
                .files
                .get(prev.file)
                .map(|f| {
                    let (l, _) = crate::diag::line_col(&f.text, prev.start);
                    format!(" at {}:{l}", f.path.display())
                })
                .unwrap_or_default();
            self.diags.push(
                err(
                    "duplicate",
                    &format!("Duplicate {what}"),
                    format!("A {what} named \"{key}\" was already declared{loc}; each name may be declared only once."),
                    span,
                )
                .help("Rename or remove one of them."),
            );
        } else {
            map.insert(key, value);
        }
    }

    fn locals(&mut self, m: &mut Module, b: Block) {
        if !b.labels.is_empty() {
            self.labels(&b, 0, "");
        }
        for blk in &b.body.blocks {
            self.diags.push(err(
                "unsupported_block",
                "Unsupported block type",
                "A locals block contains only arguments (name = value), not blocks.",
                blk.kind_span,
            ));
        }
        for a in b.body.attributes {
            let l = Local {
                name: a.name.clone(),
                expr: a.expr,
                span: a.span,
            };
            self.insert_unique(&mut m.locals, a.name, l, a.name_span, "local value", |l| {
                l.span
            });
        }
    }

    fn output(&mut self, m: &mut Module, b: Block) {
        if !self.labels(&b, 1, "\"NAME\"") {
            return;
        }
        self.only(
            &b.body,
            &[
                "value",
                "description",
                "sensitive",
                "depends_on",
                "ephemeral",
            ],
            &["precondition"],
            "an output block",
        );
        let Some(value) = b.body.attribute("value").map(|a| a.expr.clone()) else {
            self.diags.push(err(
                "missing_argument",
                "Missing required argument",
                "An output block needs a \"value\" argument.",
                b.header_span(),
            ));
            return;
        };
        let o = Output {
            name: b.labels[0].clone(),
            value,
            description: self.literal_string(&b.body, "description"),
            sensitive: self.literal_bool(&b.body, "sensitive").unwrap_or(false),
            depends_on: self.reference_list(&b.body, "depends_on"),
            preconditions: self.checks(&b.body, "precondition"),
            span: b.span,
        };
        self.insert_unique(
            &mut m.outputs,
            b.labels[0].clone(),
            o,
            b.header_span(),
            "output",
            |o| o.span,
        );
    }

    fn resource(&mut self, m: &mut Module, b: Block, mode: ResourceMode) {
        if !self.labels(&b, 2, "\"TYPE\" \"NAME\"") {
            return;
        }
        let (type_name, name) = (b.labels[0].clone(), b.labels[1].clone());
        let (span, header) = (b.span, b.header_span());
        let mut body = b.body;
        let meta = ["count", "for_each", "depends_on", "provider", "lifecycle"];
        let count = body.attribute("count").map(|a| a.expr.clone());
        let for_each = body.attribute("for_each").map(|a| a.expr.clone());
        if let (Some(c), Some(_)) = (&count, &for_each) {
            self.diags.push(
                err(
                    "count_and_for_each",
                    "Invalid combination of \"count\" and \"for_each\"",
                    "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of resources to be created.",
                    c.span,
                )
                .help("Remove one of them."),
            );
        }
        let depends_on = self.reference_list(&body, "depends_on");
        let provider = body
            .attribute("provider")
            .cloned()
            .and_then(|a| self.provider_ref(&a));
        let mut lifecycle = Lifecycle::default();
        let mut seen_lifecycle = false;
        for lb in body.blocks_of("lifecycle") {
            if seen_lifecycle {
                self.diags.push(err(
                    "duplicate",
                    "Duplicate lifecycle block",
                    "A resource may have only one lifecycle block.",
                    lb.kind_span,
                ));
                continue;
            }
            seen_lifecycle = true;
            self.lifecycle(lb, &mut lifecycle, mode);
        }
        let mut timeouts = Timeouts::default();
        for tb in body.blocks_of("timeouts") {
            self.only(
                &tb.body,
                &["create", "read", "update", "delete"],
                &[],
                "a timeouts block",
            );
            for a in &tb.body.attributes {
                let Some(text) = a.expr.as_literal_str() else {
                    continue;
                };
                let d = match parse_duration(text) {
                    Ok(d) => d,
                    Err(why) => {
                        self.diags.push(err(
                            "invalid_timeout",
                            "Invalid timeout",
                            format!("The {} timeout is not a valid duration: {why}; write it like \"40m\", \"1h30m\" or \"90s\".", a.name),
                            a.expr.span,
                        ));
                        continue;
                    }
                };
                match a.name.as_str() {
                    "create" => timeouts.create = Some(d),
                    "read" => timeouts.read = Some(d),
                    "update" => timeouts.update = Some(d),
                    "delete" => timeouts.delete = Some(d),
                    _ => {}
                }
            }
        }
        let provisioners = match mode {
            ResourceMode::Managed => self.provisioners(&body),
            ResourceMode::Data => Vec::new(),
        };
        let timeouts_block = body.blocks_of("timeouts").next().cloned().map(Box::new);
        body.attributes.retain(|a| !meta.contains(&a.name.as_str()));
        body.blocks.retain(|b| {
            !["lifecycle", "connection", "provisioner", "timeouts"].contains(&b.kind.as_str())
        });
        let r = Resource {
            mode,
            type_name,
            name,
            provider,
            count,
            for_each,
            depends_on,
            lifecycle,
            timeouts,
            timeouts_block,
            provisioners,
            body: std::sync::Arc::new(body),
            span,
            decl_span: header,
        };
        let what = match mode {
            ResourceMode::Managed => "resource",
            ResourceMode::Data => "data source",
        };
        self.insert_unique(&mut m.resources, r.key(), r, header, what, |r| r.span);
    }

    /// A resource's `provisioner` blocks: `local-exec` as Terraform runs it; other
    /// provisioners and `connection` blocks (which only they use) are refused.
    fn provisioners(&mut self, body: &Body) -> Vec<crate::config::Provisioner> {
        let refuse_connection = |b: &Block| {
            err(
                "unsupported_connection",
                "Connection blocks are not supported",
                "brick runs no provisioner that connects to the object (remote-exec, file), so a connection block would never be used.",
                b.kind_span,
            )
            .help("Run remote commands from a local-exec provisioner (`command = \"ssh ubuntu@${self.ip} …\"`), or at first boot through cloud-init (maas_machine.user_data).")
        };
        for b in body.blocks_of("connection") {
            self.diags.push(refuse_connection(b));
        }
        let mut out = Vec::new();
        for b in body.blocks_of("provisioner") {
            if !self.labels(b, 1, "\"TYPE\"") {
                continue;
            }
            if b.labels[0] != "local-exec" {
                self.diags.push(
                    err(
                        "unsupported_provisioner",
                        "Unsupported provisioner",
                        format!("The provisioner \"{}\" is not supported: brick runs only \"local-exec\".", b.labels[0]),
                        b.label_spans[0],
                    )
                    .help("Use provisioner \"local-exec\" (which may call ssh or scp), or cloud-init (maas_machine.user_data) for first-boot work."),
                );
                continue;
            }
            self.only(
                &b.body,
                &[
                    "command",
                    "interpreter",
                    "working_dir",
                    "environment",
                    "quiet",
                    "when",
                    "on_failure",
                ],
                &["connection"],
                "a local-exec provisioner",
            );
            for c in b.body.blocks_of("connection") {
                self.diags.push(refuse_connection(c));
            }
            if b.body.attribute("command").is_none() {
                self.diags.push(err(
                    "missing_argument",
                    "Missing required argument",
                    "The argument \"command\" is required in a local-exec provisioner.",
                    b.kind_span,
                ));
                continue;
            }
            let mut keyword = |name: &str, allowed: &[&str]| -> Option<String> {
                let a = b.body.attribute(name)?;
                let word = match &a.expr.kind {
                    ExprKind::Variable(v) => Some(v.clone()),
                    ExprKind::Traversal(root, steps) if steps.is_empty() => match &root.kind {
                        ExprKind::Variable(v) => Some(v.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                match word {
                    Some(w) if allowed.contains(&w.as_str()) => Some(w),
                    _ => {
                        self.diags.push(err(
                            "invalid_argument",
                            "Invalid argument value",
                            format!(
                                "The argument \"{name}\" must be one of the keywords {}.",
                                allowed.join(", ")
                            ),
                            a.expr.span,
                        ));
                        None
                    }
                }
            };
            let when_destroy =
                keyword("when", &["create", "destroy"]).as_deref() == Some("destroy");
            let on_failure_continue =
                keyword("on_failure", &["continue", "fail"]).as_deref() == Some("continue");
            let mut args = b.body.clone();
            args.attributes
                .retain(|a| !["when", "on_failure"].contains(&a.name.as_str()));
            args.blocks.clear();
            out.push(crate::config::Provisioner {
                when_destroy,
                on_failure_continue,
                body: args,
                span: b.span,
            });
        }
        out
    }

    fn lifecycle(&mut self, lb: &Block, lc: &mut Lifecycle, mode: ResourceMode) {
        let (attrs, blocks): (&[&str], &[&str]) = match mode {
            ResourceMode::Managed => (
                &[
                    "create_before_destroy",
                    "prevent_destroy",
                    "ignore_changes",
                    "replace_triggered_by",
                ],
                &["precondition", "postcondition"],
            ),
            ResourceMode::Data => (&[], &["precondition", "postcondition"]),
        };
        self.only(&lb.body, attrs, blocks, "a lifecycle block");
        lc.create_before_destroy = self
            .literal_bool(&lb.body, "create_before_destroy")
            .unwrap_or(false);
        lc.prevent_destroy = self
            .literal_bool(&lb.body, "prevent_destroy")
            .unwrap_or(false);
        if let Some(a) = lb.body.attribute("ignore_changes") {
            lc.ignore_changes = match &a.expr.kind {
                ExprKind::Variable(v) if v == "all" => IgnoreChanges::All,
                ExprKind::Literal(v) if v.as_str() == Some("all") => IgnoreChanges::All,
                ExprKind::Tuple(items) => {
                    let mut paths = Vec::new();
                    for i in items {
                        match i.as_static_traversal() {
                            Some((root, mut steps)) => {
                                steps.insert(0, StaticStep::Attr(root));
                                paths.push((steps, i.span));
                            }
                            None => self.diags.push(err(
                                "invalid_reference",
                                "Invalid ignore_changes entry",
                                "Each entry of ignore_changes must be an attribute path such as tags[\"owner\"] or spec.size.",
                                i.span,
                            )),
                        }
                    }
                    IgnoreChanges::Paths(paths)
                }
                _ => {
                    self.diags.push(err(
                        "invalid_argument",
                        "Invalid ignore_changes value",
                        "ignore_changes must be a list of attribute paths or the keyword all.",
                        a.expr.span,
                    ));
                    IgnoreChanges::None
                }
            };
        }
        lc.replace_triggered_by = self.reference_list(&lb.body, "replace_triggered_by");
        lc.preconditions = self.checks(&lb.body, "precondition");
        lc.postconditions = self.checks(&lb.body, "postcondition");
    }

    fn provider(&mut self, m: &mut Module, b: Block) {
        if !self.labels(&b, 1, "\"NAME\"") {
            return;
        }
        let alias = self.literal_string(&b.body, "alias");
        let mut body = b.body.clone();
        body.attributes
            .retain(|a| a.name != "alias" && a.name != "version");
        let p = ProviderConfig {
            name: b.labels[0].clone(),
            alias,
            body,
            span: b.span,
        };
        let key = ProviderRef {
            name: p.name.clone(),
            alias: p.alias.clone(),
        }
        .key();
        self.insert_unique(
            &mut m.providers,
            key,
            p,
            b.header_span(),
            "provider configuration",
            |p| p.span,
        );
    }

    fn module_call(&mut self, m: &mut Module, b: Block) {
        if !self.labels(&b, 1, "\"NAME\"") {
            return;
        }
        let Some(source) = self.literal_string(&b.body, "source") else {
            if b.body.attribute("source").is_none() {
                self.diags.push(err(
                    "missing_argument",
                    "Missing required argument",
                    "A module block needs a \"source\" argument, e.g. source = \"./net\".",
                    b.header_span(),
                ));
            }
            return;
        };
        let count = b.body.attribute("count").map(|a| a.expr.clone());
        let for_each = b.body.attribute("for_each").map(|a| a.expr.clone());
        if let (Some(c), Some(_)) = (&count, &for_each) {
            self.diags.push(err(
                "count_and_for_each",
                "Invalid combination of \"count\" and \"for_each\"",
                "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of module instances to be created.",
                c.span,
            ));
        }
        let mut providers = BTreeMap::new();
        if let Some(a) = b.body.attribute("providers")
            && let ExprKind::Object(items) = &a.expr.kind
        {
            for (k, v) in items {
                let key = k
                    .as_literal_str()
                    .map(str::to_string)
                    .or_else(|| k.as_static_traversal().map(|t| t.0));
                let fake = Attribute {
                    name: String::new(),
                    name_span: v.span,
                    expr: v.clone(),
                    span: v.span,
                };
                if let (Some(key), Some(r)) = (key, self.provider_ref(&fake)) {
                    providers.insert(key, r);
                }
            }
        }
        for blk in &b.body.blocks {
            self.diags.push(err(
                "unsupported_block",
                "Unsupported block type",
                format!(
                    "Blocks of type \"{}\" are not expected in a module block.",
                    blk.kind
                ),
                blk.kind_span,
            ));
        }
        let meta = [
            "source",
            "version",
            "count",
            "for_each",
            "depends_on",
            "providers",
        ];
        let inputs = b
            .body
            .attributes
            .iter()
            .filter(|a| !meta.contains(&a.name.as_str()))
            .map(|a| (a.name.clone(), a.clone()))
            .collect();
        let call = ModuleCall {
            name: b.labels[0].clone(),
            source,
            count,
            for_each,
            depends_on: self.reference_list(&b.body, "depends_on"),
            providers,
            inputs,
            module: None,
            span: b.span,
            decl_span: b.header_span(),
        };
        self.insert_unique(
            &mut m.module_calls,
            b.labels[0].clone(),
            call,
            b.header_span(),
            "module call",
            |c| c.span,
        );
    }

    fn required(&mut self, b: &Block, name: &str) -> Option<Expr> {
        match b.body.attribute(name) {
            Some(a) => Some(a.expr.clone()),
            None => {
                self.diags.push(err(
                    "missing_argument",
                    "Missing required argument",
                    format!("A {} block needs a \"{name}\" argument.", b.kind),
                    b.kind_span,
                ));
                None
            }
        }
    }

    fn moved(&mut self, m: &mut Module, b: Block) {
        self.only(&b.body, &["from", "to"], &[], "a moved block");
        if let (Some(from), Some(to)) = (self.required(&b, "from"), self.required(&b, "to")) {
            m.moved.push(Moved {
                from,
                to,
                span: b.span,
            });
        }
    }

    fn removed(&mut self, m: &mut Module, b: Block) {
        self.only(
            &b.body,
            &["from"],
            &["lifecycle", "provisioner", "connection"],
            "a removed block",
        );
        let mut destroy = true;
        for lb in b.body.blocks_of("lifecycle") {
            self.only(
                &lb.body,
                &["destroy"],
                &[],
                "the lifecycle block of a removed block",
            );
            if let Some(d) = self.literal_bool(&lb.body, "destroy") {
                destroy = d;
            }
        }
        if let Some(from) = self.required(&b, "from") {
            m.removed.push(Removed {
                from,
                destroy,
                span: b.span,
            });
        }
    }

    /// `drift { ignore = [ADDR.PATH, ...]  reason = "…" }`: drift `brick drift` reports as
    /// ignored (root module only; addresses are absolute).
    fn drift(&mut self, m: &mut Module, b: Block) {
        self.only(&b.body, &["ignore", "reason"], &[], "a drift block");
        if !m.path.is_empty() {
            self.diags.push(
                err(
                    "drift_block_in_module",
                    "drift block in a child module",
                    "A drift block belongs in the root module: its addresses name instances of the whole configuration.",
                    b.kind_span,
                )
                .help("Move the block to the root module and write the addresses with their module path (module.NAME.TYPE.NAME.attribute)."),
            );
            return;
        }
        let reason = self.literal_string(&b.body, "reason");
        let Some(ignore) = self.required(&b, "ignore") else {
            return;
        };
        let ExprKind::Tuple(items) = &ignore.kind else {
            self.diags.push(err(
                "invalid_argument",
                "Invalid drift ignore list",
                "ignore must be a list of addresses with optional attribute paths, such as [maas_machine.node.tags].",
                ignore.span,
            ));
            return;
        };
        for item in items {
            let parsed = item
                .as_static_traversal()
                .ok_or_else(|| "not a static address".to_string())
                .and_then(|(root, steps)| crate::addr::parse_attr_target(&root, &steps));
            match parsed {
                Ok((target, path)) => m.drift_ignores.push(DriftIgnore {
                    target,
                    path,
                    text: self.source_text(item.span),
                    reason: reason.clone(),
                    span: item.span,
                }),
                Err(why) => self.diags.push(
                    err(
                        "invalid_drift_ignore",
                        "Invalid drift ignore entry",
                        format!("This entry is not a resource address with an optional attribute path: {why}."),
                        item.span,
                    )
                    .help("Write entries like maas_machine.node.tags, k8s_manifest.app[\"web\"].manifest.metadata.annotations or kafka_topic.events (the whole object)."),
                ),
            }
        }
    }

    /// The source text a span covers (whitespace collapsed).
    fn source_text(&self, span: Span) -> String {
        self.files
            .get(span.file)
            .and_then(|f| f.text.get(span.start..span.end))
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(""))
            .unwrap_or_default()
    }

    fn import(&mut self, m: &mut Module, b: Block) {
        self.only(
            &b.body,
            &["to", "id", "provider", "for_each", "identity"],
            &[],
            "an import block",
        );
        let provider = b
            .body
            .attribute("provider")
            .cloned()
            .and_then(|a| self.provider_ref(&a));
        if let (Some(to), Some(id)) = (self.required(&b, "to"), self.required(&b, "id")) {
            m.imports.push(Import {
                to,
                id,
                provider,
                span: b.span,
            });
        }
    }

    fn settings(&mut self, m: &mut Module, b: Block) {
        if let Some(prev) = &m.settings {
            let _ = prev;
            self.diags.push(err(
                "duplicate",
                "Duplicate settings block",
                "A module may have only one brick { … } settings block.",
                b.kind_span,
            ));
            return;
        }
        let mut backends = b.body.blocks_of("backend");
        let backend = backends.next().and_then(|bb| self.backend(bb));
        if let Some(extra) = backends.next() {
            self.diags.push(err(
                "duplicate_backend",
                "Duplicate backend configuration",
                "A configuration may have only one backend block.",
                extra.kind_span,
            ));
        }
        m.settings = Some(Settings {
            required_version: self.literal_string(&b.body, "required_version"),
            backend,
            body: b.body.clone(),
            span: b.span,
        });
    }

    fn backend(&mut self, b: &Block) -> Option<BackendBlock> {
        let [kind] = b.labels.as_slice() else {
            self.diags.push(err(
                "backend_label",
                "Invalid backend block",
                "A backend block has one label, its type: backend \"s3\" { … }.",
                b.kind_span,
            ));
            return None;
        };
        let mut settings = std::collections::BTreeMap::new();
        let ok = self.backend_body(&b.body, "", &mut settings);
        ok.then(|| BackendBlock {
            kind: kind.clone(),
            settings,
            span: b.span,
        })
    }

    fn backend_body(
        &mut self,
        body: &Body,
        prefix: &str,
        out: &mut std::collections::BTreeMap<String, String>,
    ) -> bool {
        let mut ok = true;
        for a in &body.attributes {
            ok &= self.backend_value(&a.expr, &format!("{prefix}{}", a.name), out);
        }
        for nested in &body.blocks {
            ok &= self.backend_body(&nested.body, &format!("{prefix}{}.", nested.kind), out);
        }
        ok
    }

    fn backend_value(
        &mut self,
        e: &Expr,
        name: &str,
        out: &mut std::collections::BTreeMap<String, String>,
    ) -> bool {
        match &e.kind {
            ExprKind::Paren(inner) => self.backend_value(inner, name, out),
            ExprKind::Object(items) => {
                let mut ok = true;
                for (k, v) in items {
                    let key = match &k.kind {
                        ExprKind::Variable(n) => Some(n.clone()),
                        _ => k.as_literal_str().map(str::to_string),
                    };
                    match key {
                        Some(key) => ok &= self.backend_value(v, &format!("{name}.{key}"), out),
                        None => ok &= self.backend_value(k, name, out),
                    }
                }
                ok
            }
            ExprKind::Literal(v) if literal_text(v).is_some() => {
                out.insert(name.to_string(), literal_text(v).unwrap_or_default());
                true
            }
            _ => {
                self.diags.push(err(
                    "backend_not_literal",
                    "Variables not allowed",
                    format!("The backend argument \"{name}\" must be a literal value: a backend is configured before anything is evaluated (as in Terraform). Give secrets through the environment (AWS_SECRET_ACCESS_KEY, PG_CONN_STR, KUBECONFIG) instead."),
                    e.span,
                ));
                false
            }
        }
    }
}

/// A literal string, bool or number as text (backend settings are text).
fn literal_text(v: &brick_provider_api::Value) -> Option<String> {
    v.as_str()
        .map(str::to_string)
        .or_else(|| v.as_bool().map(|b| b.to_string()))
        .or_else(|| v.as_number().map(|n| n.to_string()))
}

fn literal(e: &Expr) -> Option<&brick_provider_api::Value> {
    match &e.kind {
        ExprKind::Literal(v) => Some(v),
        ExprKind::Paren(i) => literal(i),
        _ => None,
    }
}

/// Whether `s` is a valid block name: a letter or `_` then letters, digits, `_` or `-`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// Resolves `.` and `..` components lexically (no file system access).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                // Leading `..` of a relative path stay.
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// The help of `unsupported_module_source`: what to do with the kind of source given.
fn source_help(source: &str) -> String {
    let local = "brick supports only local modules: copy the module into a directory of this configuration and use a relative path starting with ./ or ../";
    if source == "." || source == ".." {
        format!("A local path starts with ./ or ../, e.g. \"{source}/modules/net\".")
    } else if source.starts_with('/') {
        format!("Absolute paths are not module sources; {local} (e.g. \"./modules/net\").")
    } else if source.contains("::") || source.starts_with("git@") || source.contains("://") {
        format!(
            "brick does not download modules (git, http, s3, …); {local}, e.g. after `git clone`."
        )
    } else if source.split('/').count() >= 3 {
        format!(
            "brick has no module registry; {local}, e.g. from the registry's source repository."
        )
    } else {
        format!("{local} (e.g. \"./{source}\").")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_source_paths_are_normalised_lexically() {
        let n = |p: &str| normalize(Path::new(p)).display().to_string();
        assert_eq!(n("./"), ".");
        assert_eq!(n("."), ".");
        assert_eq!(n("root/./a/../b"), "root/b");
        assert_eq!(n("../x"), "../x");
        assert_eq!(n("../../x"), "../../x");
        assert_eq!(n("a/../../x"), "../x");
        assert_eq!(n("/r/../../x"), "/x");
        assert_eq!(n("/r/a/.."), "/r");
    }

    #[test]
    fn each_kind_of_remote_module_source_gets_its_own_hint() {
        assert!(source_help("hashicorp/consul/aws").contains("no module registry"));
        assert!(source_help("git::https://example.com/x.git").contains("does not download"));
        assert!(source_help("https://example.com/m.zip").contains("does not download"));
        assert!(source_help("/abs/mod").contains("Absolute paths"));
        assert!(source_help("net").contains("\"./net\""));
        assert!(source_help(".").contains("./ or ../"));
    }
}

//! [`ModuleScope`]: a ready-made [`Scope`] over one module — resolved variables, locals
//! evaluated on demand (memoised, cycles reported), `path.*`, and everything else (resources,
//! data sources, module outputs) from a caller-supplied lookup such as recorded state.
//! Used by `console`, `validate` and the fixture tests; the planner may use its own.

use std::cell::RefCell;
use std::collections::BTreeMap;

use brick_provider_api::{Type, Value};

use super::{Environment, Reference, Scope, evaluate};
use crate::config::Module;
use crate::diag::Diagnostic;

/// Looks up references a [`ModuleScope`] does not own (resources, data, modules, `self`).
pub type Lookup<'a> = dyn Fn(&Reference) -> Option<Value> + 'a;

pub struct ModuleScope<'a> {
    pub module: &'a Module,
    pub env: &'a dyn Environment,
    pub variables: BTreeMap<String, Value>,
    pub path_module: String,
    pub path_root: String,
    pub path_cwd: String,
    other: Box<Lookup<'a>>,
    /// `None` while a local is being evaluated (to detect cycles).
    locals: RefCell<BTreeMap<String, Option<Value>>>,
    diags: RefCell<Vec<Diagnostic>>,
}

impl<'a> ModuleScope<'a> {
    pub fn new(
        module: &'a Module,
        env: &'a dyn Environment,
        variables: BTreeMap<String, Value>,
        other: Box<Lookup<'a>>,
    ) -> ModuleScope<'a> {
        let dir = module.dir.display().to_string();
        ModuleScope {
            module,
            env,
            variables,
            path_module: dir.clone(),
            path_root: dir,
            path_cwd: env.cwd().display().to_string(),
            other,
            locals: RefCell::new(BTreeMap::new()),
            diags: RefCell::new(Vec::new()),
        }
    }

    /// Diagnostics from evaluating locals so far (each reported once).
    pub fn take_diagnostics(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags.borrow_mut())
    }

    /// The value of `local.name`, evaluating it on first use.
    pub fn local(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.locals.borrow().get(name) {
            return Some(v.clone().unwrap_or_else(|| {
                self.diags.borrow_mut().push(
                    Diagnostic::error(
                        "brick::eval::cycle",
                        "Cycle in local values",
                        format!("local.{name} depends on itself."),
                    )
                    .at(self.module.locals[name].expr.span),
                );
                Value::unknown(Type::Dynamic)
            }));
        }
        let l = self.module.locals.get(name)?;
        self.locals.borrow_mut().insert(name.to_string(), None);
        let (v, d) = evaluate(&l.expr, self, self.env);
        self.diags.borrow_mut().extend(d);
        self.locals
            .borrow_mut()
            .insert(name.to_string(), Some(v.clone()));
        Some(v)
    }
}

impl Scope for ModuleScope<'_> {
    fn get(&self, r: &Reference) -> Option<Value> {
        match r {
            Reference::Variable(n) => self.variables.get(n).cloned(),
            Reference::Local(n) => self.local(n),
            Reference::PathModule => Some(Value::string(self.path_module.clone())),
            Reference::PathRoot => Some(Value::string(self.path_root.clone())),
            Reference::PathCwd => Some(Value::string(self.path_cwd.clone())),
            other => (self.other)(other),
        }
    }
}

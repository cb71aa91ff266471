//! Terraform's built-in function library, with the same names and results.
//!
//! `try`, `can`, `templatefile` and `type` need the evaluator (lazy arguments, templates) and
//! are implemented there, not here.
//!
//! Every function is declared with its parameters (name, type, whether null or unknown values
//! are accepted) and the type of its result; [`call`] does what Terraform's function machinery
//! does before the implementation runs:
//! - checks the number of arguments;
//! - converts each argument to its parameter type with [`crate::eval::convert`] (so
//!   `join(",", [1, 2])` works) and rejects nulls where the parameter does not accept them;
//! - returns an unknown value of the result type when an argument is not wholly known;
//! - removes the sensitive mark from the arguments and puts it on the result, so a result
//!   computed from a sensitive value is sensitive. Functions that only move values around
//!   (`concat`, `element`, `lookup`, `tolist`, …) leave the marks on the elements they move.
//!
//! Families live in submodules: numeric, string (and `format`), collection, encoding,
//! filesystem, datetime, crypto, ipnet, conversion.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use brick_provider_api::value::{Kind, Marks};
use brick_provider_api::{Number, Type, Value};

use super::Environment;
use super::convert::convert;

mod collection;
mod conversion;
mod crypto;
mod datetime;
mod encoding;
pub(crate) mod filesystem;
mod format;
mod ipnet;
mod numeric;
mod string;
#[cfg(test)]
mod tests;

/// A function call that failed.
///
/// `message` is a complete sentence to show as the diagnostic's detail. When `arg` is set the
/// problem is with that argument (Terraform's "Invalid function argument", and the message
/// names the parameter: `Invalid value for "num" parameter: a number is required.`);
/// otherwise the call as a whole failed (Terraform's "Error in function call").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionError {
    /// The index of the argument at fault, when there is one.
    pub arg: Option<usize>,
    pub message: String,
}

impl FunctionError {
    pub(crate) fn call(message: impl Into<String>) -> FunctionError {
        FunctionError {
            arg: None,
            message: message.into(),
        }
    }
    pub(crate) fn arg(arg: usize, message: impl Into<String>) -> FunctionError {
        FunctionError {
            arg: Some(arg),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FunctionError {}

/// An arithmetic failure (`Inf - Inf` and the like) with Terraform's message.
impl From<brick_provider_api::ArithmeticError> for FunctionError {
    fn from(e: brick_provider_api::ArithmeticError) -> FunctionError {
        FunctionError::call(format!("{e}."))
    }
}

pub(crate) type Result<T> = std::result::Result<T, FunctionError>;

/// A function's implementation: arguments already converted, checked and unmarked.
pub(crate) type Impl = fn(&[Value], &dyn Environment) -> Result<Value>;

/// What happens to an argument's sensitive marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MarkMode {
    /// Removed at every depth; the result is marked with all of them.
    Deep,
    /// Only the argument's own mark is moved to the result; elements keep theirs.
    Shallow,
    /// The implementation sees the marks (`sensitive`, `nonsensitive`).
    Keep,
}

#[derive(Clone, Debug)]
pub(crate) struct Param {
    name: &'static str,
    ty: Type,
    allow_null: bool,
    allow_unknown: bool,
    marks: MarkMode,
}

pub(crate) fn p(name: &'static str, ty: Type) -> Param {
    Param {
        name,
        ty,
        allow_null: false,
        allow_unknown: false,
        marks: MarkMode::Deep,
    }
}

impl Param {
    pub(crate) fn null_ok(mut self) -> Param {
        self.allow_null = true;
        self
    }
    pub(crate) fn unknown_ok(mut self) -> Param {
        self.allow_unknown = true;
        self
    }
    pub(crate) fn shallow(mut self) -> Param {
        self.marks = MarkMode::Shallow;
        self
    }
    pub(crate) fn keep_marks(mut self) -> Param {
        self.marks = MarkMode::Keep;
        self
    }
}

/// The result type of a call, for unknown results.
pub(crate) enum Ret {
    Fixed(Type),
    /// Computed from the converted arguments (which may be unknown).
    From(fn(&[Value]) -> Type),
}

pub(crate) struct Function {
    params: Vec<Param>,
    variadic: Option<Param>,
    ret: Ret,
    imp: Impl,
}

pub(crate) fn func(params: Vec<Param>, ret: Type, imp: Impl) -> Function {
    Function {
        params,
        variadic: None,
        ret: Ret::Fixed(ret),
        imp,
    }
}

impl Function {
    pub(crate) fn variadic(mut self, param: Param) -> Function {
        self.variadic = Some(param);
        self
    }
    pub(crate) fn ret_from(mut self, f: fn(&[Value]) -> Type) -> Function {
        self.ret = Ret::From(f);
        self
    }
}

pub(crate) type Registry = BTreeMap<&'static str, Function>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut r = Registry::new();
        numeric::register(&mut r);
        string::register(&mut r);
        collection::register(&mut r);
        encoding::register(&mut r);
        filesystem::register(&mut r);
        datetime::register(&mut r);
        crypto::register(&mut r);
        ipnet::register(&mut r);
        conversion::register(&mut r);
        r
    })
}

/// Calls the function `name`. `None` when no such function exists.
pub fn call(
    name: &str,
    args: Vec<Value>,
    env: &dyn Environment,
) -> Option<std::result::Result<Value, FunctionError>> {
    let f = registry().get(name)?;
    Some(call_function(name, f, args, env))
}

fn call_function(
    name: &str,
    f: &Function,
    args: Vec<Value>,
    env: &dyn Environment,
) -> Result<Value> {
    let fixed = f.params.len();
    if args.len() < fixed {
        let missing = f.params[args.len()].name;
        return Err(FunctionError::call(format!(
            "Function \"{name}\" expects {}{fixed} argument(s). Missing value for \"{missing}\".",
            if f.variadic.is_some() {
                "at least "
            } else {
                ""
            }
        )));
    }
    if args.len() > fixed && f.variadic.is_none() {
        return Err(FunctionError::arg(
            fixed,
            format!("Function \"{name}\" expects only {fixed} argument(s)."),
        ));
    }
    let mut marks = Marks::NONE;
    let mut unknown = false;
    let mut converted = Vec::with_capacity(args.len());
    for (i, arg) in args.into_iter().enumerate() {
        let param = f
            .params
            .get(i)
            .or(f.variadic.as_ref())
            .expect("arity checked above");
        // A type description from the console-only `type()` is no value a function takes.
        if arg.marks.contains(Marks::TYPE)
            && let Some(e) = type_argument_error(name, i, param)
        {
            return Err(e);
        }
        let arg = match param.marks {
            MarkMode::Deep if arg.contains_sensitive() => {
                let (v, m) = arg.unmark_deep();
                marks = marks.union(m);
                v
            }
            MarkMode::Deep => arg,
            MarkMode::Shallow => {
                marks = marks.union(arg.marks);
                arg.unmarked()
            }
            MarkMode::Keep => arg,
        };
        if arg.is_null() && !param.allow_null {
            return Err(FunctionError::arg(
                i,
                format!(
                    "Invalid value for \"{}\" parameter: argument must not be null.",
                    param.name
                ),
            ));
        }
        let mut arg = if param.ty == Type::Dynamic {
            Ok(arg)
        } else {
            convert(&arg, &param.ty)
        }
        .map_err(|e| {
            FunctionError::arg(
                i,
                format!("Invalid value for \"{}\" parameter: {e}.", param.name),
            )
        })?;
        // Conversion to a set moves element marks onto the set; they belong to the result.
        if param.marks != MarkMode::Keep && !arg.marks.is_empty() {
            marks = marks.union(arg.marks);
            arg = arg.unmarked();
        }
        // Functions that only move values around (shallow marks) accept unknown elements;
        // the others need everything known.
        let known = match param.marks {
            MarkMode::Shallow => arg.is_known(),
            _ => arg.is_wholly_known(),
        };
        if !param.allow_unknown && !known {
            unknown = true;
        }
        converted.push(arg);
    }
    if unknown {
        let ty = match &f.ret {
            Ret::Fixed(t) => t.clone(),
            Ret::From(g) => g(&converted),
        };
        return Ok(Value::unknown(ty).with_marks(marks));
    }
    let result = (f.imp)(&converted, env).map_err(|mut e| {
        // Terraform's messages are sentences.
        if !e.message.ends_with('.') {
            e.message.push('.');
        }
        e
    })?;
    Ok(result.with_marks(marks))
}

/// The error for a type description (from the console-only `type()`) given as argument `i`,
/// worded as each Terraform function words it (recorded in tests/lang/console_types.txt);
/// `None` when the function passes the description through, as `coalesce` does.
fn type_argument_error(name: &str, i: usize, param: &Param) -> Option<FunctionError> {
    let arg = |detail: &str| {
        Some(FunctionError::arg(
            i,
            format!("Invalid value for \"{}\" parameter: {detail}", param.name),
        ))
    };
    let call = |detail: &str| Some(FunctionError::call(detail));
    match (name, i) {
        ("coalesce", _) => None,
        ("tostring" | "tonumber" | "tobool", _) => {
            arg(&format!("cannot convert type to {}.", &name[2..]))
        }
        ("tolist", _) => arg("cannot convert type to list of any single type."),
        ("toset", _) => arg("cannot convert type to set of any single type."),
        ("tomap", _) => arg("cannot convert type to map of any single type."),
        ("coalescelist", _) => call("coalescelist arguments must be lists or tuples."),
        ("concat", _) => arg("all arguments must be lists or tuples; got type."),
        ("contains", 0) => call("argument must be list, tuple, or set."),
        ("index", 0) => call("argument must be a list or tuple."),
        ("index", _) => call("item not found."),
        ("keys", _) => arg("must have map or object type."),
        ("length", _) => {
            call("argument must be a string, a collection type, or a structural type.")
        }
        ("lookup", 0) => arg("lookup() requires a map as the first argument."),
        ("merge", _) => call("arguments must be maps or objects, got \"type\"."),
        ("one", _) => arg("must be a list, set, or tuple value with either zero or one elements."),
        ("slice", 0) => arg("must be a list or tuple value."),
        ("sum", _) => arg("cannot sum noniterable."),
        ("values", _) => call("values() requires a map as the first argument."),
        ("zipmap", 1) => call("values argument must be a list or tuple value."),
        ("element", 0) => call("cannot read elements from type."),
        ("reverse", _) => arg("can only reverse list or tuple values, not type."),
        ("flatten", _) => call("can only flatten lists, sets and tuples."),
        ("yamlencode", _) => call("can't marshal type as YAML."),
        _ => match &param.ty {
            Type::Dynamic => arg("a value is required, but have type."),
            ty @ (Type::String | Type::Number | Type::Bool) => {
                arg(&format!("{ty} required, but have type."))
            }
            ty => arg(&format!("{} required.", conversion::friendly(ty))),
        },
    }
}

/// The names of every function `call` knows, for "did you mean" help.
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| registry().keys().copied().collect())
}

// ---- helpers for implementations --------------------------------------------------------

/// Refuses values nested deeper than [`crate::eval::convert::MAX_DEPTH`] before a recursive
/// walk over them (the check itself uses an explicit stack).
pub(crate) fn check_depth(v: &Value, arg: usize) -> Result<()> {
    let max = crate::eval::convert::MAX_DEPTH;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > max {
            return Err(FunctionError::arg(
                arg,
                format!("The value is nested more than {max} levels deep."),
            ));
        }
        stack.extend(v.children().map(|c| (c, depth + 1)));
    }
    Ok(())
}

/// The text of a converted string argument.
pub(crate) fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A converted number argument.
pub(crate) fn number(v: &Value) -> Number {
    v.as_number().cloned().unwrap_or_else(Number::zero)
}

/// Terraform's complaint about a number that is not a whole number fitting in an i64 (also
/// the infinities).
pub(crate) const NOT_AN_I64: &str =
    "value must be a whole number, between -9223372036854775808 and 9223372036854775807";

/// A converted number argument that must be a whole number fitting in an i64; `Err` holds
/// [`NOT_AN_I64`] for the caller to wrap as Terraform does for that function.
pub(crate) fn integer(v: &Value) -> std::result::Result<i64, &'static str> {
    number(v).to_i64().ok_or(NOT_AN_I64)
}

/// Elements of a converted list, set or tuple argument.
pub(crate) fn elements(v: &Value) -> &[Value] {
    v.as_sequence().unwrap_or_default()
}

/// Entries of a converted map or object argument.
pub(crate) fn entries(v: &Value) -> BTreeMap<String, Value> {
    v.as_mapping().cloned().unwrap_or_default()
}

/// Builds a list of strings.
pub(crate) fn list_string(items: Vec<String>) -> Value {
    Value::list(Type::String, items.into_iter().map(Value::string).collect())
}

/// The element type of a list/set/map type, or `dynamic`.
pub(crate) fn elem_type(t: &Type) -> Type {
    t.element_type().cloned().unwrap_or(Type::Dynamic)
}

/// The type of the first argument, for functions returning their input's type.
pub(crate) fn ret_first(args: &[Value]) -> Type {
    args.first().map(Value::ty).unwrap_or(Type::Dynamic)
}

pub(crate) fn is_kind_null_dynamic(v: &Value) -> bool {
    matches!(v.kind, Kind::Null(Type::Dynamic))
}

#[cfg(test)]
pub(crate) use filesystem::clean as filesystem_clean;
pub use filesystem::fileset_matcher;

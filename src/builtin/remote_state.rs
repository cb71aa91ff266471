//! The data source `brick_remote_state`, Terraform's `terraform_remote_state`: the root
//! outputs of another configuration's state, as the object `outputs`. Only the `local`
//! backend exists (a state file, `config = { path = "../other/brick.state.json" }`); Terraform's
//! own v4 state files are read too. Sensitive outputs stay sensitive; `defaults` fills in
//! outputs the state lacks. The file is read through [`FileSystem`], so tests use an in-memory
//! one and nothing below the CLI touches the disk directly.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use brick_provider_api::schema::{Attribute, Block};
use brick_provider_api::{Diagnostic, Diagnostics, Type, Value};

use crate::config::FileSystem;

pub const BRICK_REMOTE_STATE: &str = "brick_remote_state";

/// Where the local backend's state lives when `config.path` is not set.
pub const DEFAULT_PATH: &str = "brick.state.json";

/// The file system data sources read through.
pub type SharedFs = Arc<dyn FileSystem + Send + Sync>;

pub fn block() -> Block {
    Block::default()
        .attr(
            "backend",
            Attribute::required(Type::String)
                .describe("Where the state is kept. Only \"local\" (a state file) is supported."),
        )
        .attr(
            "config",
            Attribute::optional(Type::Dynamic)
                .describe("The backend's settings; for \"local\": `{ path = \"…\" }`."),
        )
        .attr(
            "defaults",
            Attribute::optional(Type::Dynamic)
                .describe("Values for outputs the state does not have."),
        )
        .attr(
            "outputs",
            Attribute::computed(Type::Dynamic)
                .describe("The root module outputs of the state, as an object."),
        )
}

fn diag(code: &str, summary: &str, detail: String, help: &str) -> Diagnostic {
    Diagnostic::error(code, summary, detail).with_help(help)
}

/// Static checks: the backend name and the local backend's settings.
pub fn validate(config: &Value) -> Diagnostics {
    let mut out = Vec::new();
    if let Some(b) = config.get("backend").and_then(Value::as_str)
        && b != "local"
    {
        out.push(diag(
            "brick::builtin::unsupported_backend",
            "Unsupported backend",
            format!("The backend {b:?} is not available in brick; only \"local\" state files can be read."),
            "Write backend = \"local\" and config = { path = \"../other/brick.state.json\" }.",
        ));
    }
    if let Some(c) = config
        .get("config")
        .filter(|c| c.is_known() && !c.is_null())
    {
        match c.as_mapping() {
            Some(m) => {
                for (k, v) in m {
                    if k != "path" {
                        out.push(diag(
                            "brick::builtin::invalid_backend_config",
                            "Invalid backend configuration",
                            format!("The local backend has no setting {k:?}."),
                            "The local backend takes only `path`.",
                        ));
                    } else if v.is_known() && !v.is_null() && v.as_str().is_none() {
                        out.push(diag(
                            "brick::builtin::invalid_backend_config",
                            "Invalid backend configuration",
                            "The local backend's path must be a string.".into(),
                            "Write path = \"../other/brick.state.json\".",
                        ));
                    }
                }
            }
            None => out.push(diag(
                "brick::builtin::invalid_backend_config",
                "Invalid backend configuration",
                "The config of brick_remote_state must be an object.".into(),
                "Write config = { path = \"../other/brick.state.json\" }.",
            )),
        }
    }
    out
}

/// Reads the state named by `config` and returns the data source's value.
pub fn read(fs: &dyn FileSystem, config: &Value) -> Result<Value, Diagnostics> {
    let problems = validate(config);
    if !problems.is_empty() {
        return Err(problems);
    }
    let path = config
        .get("config")
        .and_then(|c| c.get("path"))
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_PATH)
        .to_string();
    let bytes = match fs.read(Path::new(&path)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(vec![diag(
                "brick::builtin::remote_state_missing",
                "State file not found",
                format!("brick_remote_state reads the local state {path:?}, which does not exist."),
                "Apply the other configuration first, or correct config.path (relative paths start at the configuration's directory).",
            )]);
        }
        Err(e) => {
            return Err(vec![diag(
                "brick::builtin::remote_state_unreadable",
                "Cannot read state file",
                format!("brick_remote_state cannot read {path:?}: {e}."),
                "Check that the file is readable.",
            )]);
        }
    };
    let state = brick_state::from_bytes(&bytes, Path::new(&path)).map_err(|e| {
        vec![diag(
            "brick::builtin::remote_state_invalid",
            "Invalid state file",
            format!("brick_remote_state cannot load {path:?}: {e}."),
            "Point config.path at a state written by brick or Terraform.",
        )]
    })?;
    let mut outputs: BTreeMap<String, Value> = BTreeMap::new();
    if let Some(d) = config
        .get("defaults")
        .filter(|d| !d.is_null())
        .and_then(Value::as_mapping)
    {
        outputs.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (name, o) in &state.outputs {
        let ty = crate::plan::codec::type_from_json(&o.type_).unwrap_or(Type::Dynamic);
        let v = crate::plan::codec::from_json(&o.value, &ty)
            .unwrap_or_else(|| crate::plan::codec::from_json_implied(&o.value));
        outputs.insert(name.clone(), if o.sensitive { v.sensitive() } else { v });
    }
    let mut out = config.as_mapping().cloned().unwrap_or_default();
    out.insert("outputs".into(), Value::object(outputs));
    Ok(Value::object(out))
}

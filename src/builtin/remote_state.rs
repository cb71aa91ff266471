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
        .attr(
            "workspace",
            Attribute::optional(Type::String).describe(
                "The workspace whose state is read (as terraform_remote_state); only \"default\".",
            ),
        )
}

fn diag(code: &str, summary: &str, detail: String, help: &str) -> Diagnostic {
    Diagnostic::error(code, summary, detail).with_help(help)
}

/// Static checks: the backend name and the local backend's settings.
pub fn validate(config: &Value) -> Diagnostics {
    let mut out = Vec::new();
    if let Some(w) = config.get("workspace").and_then(Value::as_str)
        && w != "default"
    {
        out.push(diag(
            "brick::builtin::unsupported_workspace",
            "Unsupported workspace",
            format!("The workspace {w:?} cannot be read: brick's local backend has only the default workspace."),
            "Leave workspace out, or write workspace = \"default\".",
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MemoryFs;

    const STATE: &str = r#"{
  "format_version": 1,
  "brick_version": "0.1.0",
  "serial": 3,
  "lineage": "l",
  "outputs": {
    "subnet": {"value": "10.0.0.0/24", "type": "string", "sensitive": false},
    "token": {"value": "s3cret", "type": "string", "sensitive": true},
    "ports": {"value": [1, 2], "type": ["list", "number"], "sensitive": false}
  },
  "resources": []
}
"#;

    fn config(path: &str, defaults: Value) -> Value {
        Value::object_from([
            ("backend", Value::string("local")),
            (
                "config",
                Value::object_from([("path", Value::string(path))]),
            ),
            ("defaults", defaults),
            ("outputs", Value::null_dynamic()),
        ])
    }

    #[test]
    fn outputs_keep_their_types_and_sensitivity_and_defaults_fill_gaps() {
        let fs = MemoryFs::new().with("../net/brick.state.json", STATE);
        let defaults = Value::object_from([
            ("region", Value::string("garage")),
            ("subnet", Value::string("overridden by the state")),
        ]);
        let v = read(&fs, &config("../net/brick.state.json", defaults)).unwrap();
        let outs = v.get("outputs").unwrap();
        assert_eq!(outs.get("subnet"), Some(&Value::string("10.0.0.0/24")));
        assert_eq!(outs.get("region"), Some(&Value::string("garage")));
        assert_eq!(
            outs.get("ports").unwrap().ty(),
            Type::list(Type::Number),
            "the recorded type is kept"
        );
        assert!(outs.get("token").unwrap().is_sensitive());
        assert!(!outs.get("subnet").unwrap().is_sensitive());
        assert_eq!(v.get("backend"), Some(&Value::string("local")));
    }

    #[test]
    fn a_terraform_state_file_is_read_too() {
        let tf = r#"{
  "version": 4,
  "terraform_version": "1.9.0",
  "serial": 7,
  "lineage": "tf",
  "outputs": {"vpc": {"value": "vpc-1", "type": "string"}},
  "resources": [],
  "check_results": null
}
"#;
        let fs = MemoryFs::new().with("terraform.tfstate", tf);
        let v = read(&fs, &config("terraform.tfstate", Value::null_dynamic())).unwrap();
        assert_eq!(
            v.get("outputs").unwrap().get("vpc"),
            Some(&Value::string("vpc-1"))
        );
    }

    #[test]
    fn a_missing_or_invalid_state_is_a_clear_error_with_its_code() {
        let fs = MemoryFs::new().with("bad.json", "{ not json");
        let e = read(&fs, &config("nope.json", Value::null_dynamic())).unwrap_err();
        assert_eq!(e[0].code, "brick::builtin::remote_state_missing");
        assert!(e[0].detail.contains("nope.json"));
        let e = read(&fs, &config("bad.json", Value::null_dynamic())).unwrap_err();
        assert_eq!(e[0].code, "brick::builtin::remote_state_invalid");
    }

    #[test]
    fn only_the_local_backend_with_a_path_is_accepted() {
        let mut c = config("x", Value::null_dynamic());
        if let Some(m) = c.as_mapping().cloned() {
            let mut m = m;
            m.insert("backend".into(), Value::string("s3"));
            m.insert(
                "config".into(),
                Value::object_from([("bucket", Value::string("b"))]),
            );
            c = Value::object(m);
        }
        let codes: Vec<String> = validate(&c).into_iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            [
                "brick::builtin::unsupported_backend",
                "brick::builtin::invalid_backend_config"
            ]
        );
    }
}

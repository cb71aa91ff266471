//! Helpers shared by the provider's tests: a simulator plus a configured provider, and
//! configuration values conformed to the schema (unset attributes null, as the engine sends).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use brick_provider_api::provider::{ApplyRequest, PlanRequest, Progress, ReadRequest};
use brick_provider_api::schema::{Block, Nesting};
use brick_provider_api::{Provider, Type, Value};
use brick_provider_maas::resources::machine;
use brick_provider_maas::sim::{SimOptions, Simulator};
use brick_provider_maas::{MaasProvider, Settings};

pub async fn lab(opts: SimOptions) -> (Simulator, MaasProvider) {
    let sim = Simulator::start(opts).await.expect("simulator starts");
    let p = MaasProvider::new(Settings::fast());
    let diags = p
        .configure(&Value::object_from([
            ("api_url", Value::string(sim.url())),
            ("api_key", Value::string(sim.api_key()).sensitive()),
            ("ca_file", Value::null(Type::String)),
        ]))
        .await;
    assert!(diags.is_empty(), "{diags:?}");
    (sim, p)
}

/// A value of `block` with every attribute and block null, then `set` applied.
pub fn conform(block: &Block, set: Vec<(&str, Value)>) -> Value {
    let mut m = BTreeMap::new();
    for (k, a) in &block.attributes {
        m.insert(k.clone(), Value::null(a.ty.clone()));
    }
    for (k, b) in &block.blocks {
        let obj = b.block.value_type();
        let ty = match b.nesting {
            Nesting::Single => obj,
            Nesting::List { .. } => Type::list(obj),
            Nesting::Set { .. } => Type::set(obj),
            Nesting::Map => Type::map(obj),
        };
        m.insert(k.clone(), Value::null(ty));
    }
    for (k, v) in set {
        m.insert(k.to_string(), v);
    }
    Value::object(m)
}

pub fn strs(items: &[&str]) -> Value {
    Value::set(
        Type::String,
        items.iter().map(|s| Value::string(*s)).collect(),
    )
}

pub fn volume(size: &str, fstype: Option<&str>, mount: Option<&str>) -> Value {
    let opt = |x: Option<&str>| x.map_or_else(|| Value::null(Type::String), Value::string);
    Value::object_from([
        ("size", Value::string(size)),
        ("fstype", opt(fstype)),
        ("mount_point", opt(mount)),
    ])
}

/// The garage's layout: an OS volume and a raw volume for Ceph.
pub fn garage_storage() -> Value {
    let vol_ty = machine::schema().block.blocks["storage"].block.blocks["volume"]
        .block
        .value_type();
    let mut vols = BTreeMap::new();
    vols.insert("root".to_string(), volume("100G", Some("ext4"), Some("/")));
    vols.insert("ceph".to_string(), volume("rest", None, None));
    Value::object_from([
        ("layout", Value::string("lvm")),
        ("volume", Value::map(vol_ty, vols)),
    ])
}

pub fn machine_config(set: Vec<(&str, Value)>) -> Value {
    conform(&machine::schema().block, set)
}

pub fn garage_node(host: &str) -> Value {
    machine_config(vec![
        ("hostname", Value::string(host)),
        ("distro_series", Value::string("jammy")),
        (
            "user_data",
            Value::string(format!("#cloud-config\nhostname: {host}\n")),
        ),
        ("tags", strs(&["garage"])),
        ("storage", garage_storage()),
    ])
}

/// Records progress reports.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<String>>);
impl Progress for Recorder {
    fn report(&self, status: &str) {
        self.0.lock().unwrap().push(status.to_string());
    }
}
impl Recorder {
    pub fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

pub struct Outcome {
    pub state: Value,
    pub errors: Vec<brick_provider_api::Diagnostic>,
    pub progress: Vec<String>,
}

/// Plans and applies one change, as the engine would.
pub async fn plan_apply(p: &MaasProvider, ty: &str, prior: &Value, config: &Value) -> Outcome {
    let plan = p
        .plan_resource(PlanRequest {
            type_name: ty,
            prior,
            proposed: config,
        })
        .await;
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    let rec = Recorder::default();
    let r = p
        .apply_resource(ApplyRequest {
            type_name: ty,
            prior,
            planned: &plan.planned,
            progress: &rec,
        })
        .await;
    Outcome {
        state: r.new_state,
        errors: r.diagnostics,
        progress: rec.seen(),
    }
}

pub async fn create(p: &MaasProvider, config: &Value) -> Outcome {
    plan_apply(p, machine::TYPE, &Value::null(config.ty()), config).await
}

pub async fn destroy(p: &MaasProvider, ty: &str, prior: &Value) -> Outcome {
    let rec = Recorder::default();
    let r = p
        .apply_resource(ApplyRequest {
            type_name: ty,
            prior,
            planned: &Value::null(prior.ty()),
            progress: &rec,
        })
        .await;
    Outcome {
        state: r.new_state,
        errors: r.diagnostics,
        progress: rec.seen(),
    }
}

pub async fn read(p: &MaasProvider, ty: &str, current: &Value) -> Option<Value> {
    p.read_resource(ReadRequest {
        type_name: ty,
        current,
    })
    .await
    .expect("read succeeds")
}

pub fn attr<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

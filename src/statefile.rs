//! The bridge between the engine's in-memory state ([`PriorState`]) and `brick-state`'s
//! document, store and journal: conversions both ways (attributes typed by the provider
//! schemas), the [`StateSink`] that records apply steps in the journal, and the
//! reconciliation of intents an interrupted apply left unresolved.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use brick_provider_api::provider::{PathStep, ReadRequest};
use brick_provider_api::value::Kind;
use brick_provider_api::{Type, Value};
use brick_state as st;

use crate::apply::{Recorded, StateSink};
use crate::input::Configuration;
use crate::plan::address::{InstanceAddr, InstanceKey, ResourceAddr, ResourceMode};
use crate::plan::codec::{from_json, from_state_json, to_state_json, type_from_json, type_to_json};
use crate::plan::model::{Action, PriorInstance, PriorState};
use crate::plan::providers::ProviderSet;
use crate::plan::scope::{Working, values_from_state};

/// `provider["brick/maas"]` (or `provider["brick/maas"].east`) for provider config `maas`
/// (`maas.east`).
pub fn provider_addr(name: &str) -> String {
    // A child module's own configuration: `module.a.provider["brick/maas"]`, as Terraform.
    let (path, key) = crate::addr::provider_module(name);
    if !path.is_empty() {
        return format!("{}.{}", crate::addr::module_text(&path), provider_addr(key));
    }
    match name.split_once('.') {
        Some((ty, alias)) => format!("provider[\"brick/{ty}\"].{alias}"),
        None => format!("provider[\"brick/{name}\"]"),
    }
}

/// The inverse of [`provider_addr`]; also accepts Terraform's registry addresses.
pub fn provider_name(addr: &str) -> String {
    if addr.starts_with("module.")
        && let Some(i) = addr.find(".provider[\"")
    {
        return format!("{}.{}", &addr[..i], provider_name(&addr[i + 1..]));
    }
    let Some(rest) = addr.strip_prefix("provider[\"") else {
        return addr.to_string();
    };
    let Some((source, tail)) = rest.split_once("\"]") else {
        return addr.to_string();
    };
    let ty = source.rsplit('/').next().unwrap_or(source);
    let ty = crate::registry::provider_type(ty);
    match tail.strip_prefix('.') {
        Some(alias) => format!("{ty}.{alias}"),
        None => ty.to_string(),
    }
}

pub fn key_to_state(k: &InstanceKey) -> st::IndexKey {
    match k {
        InstanceKey::None => st::IndexKey::None,
        InstanceKey::Int(i) => st::IndexKey::Int(*i),
        InstanceKey::Str(s) => st::IndexKey::String(s.clone()),
    }
}

pub fn key_from_state(k: &st::IndexKey) -> InstanceKey {
    match k {
        st::IndexKey::None => InstanceKey::None,
        st::IndexKey::Int(i) => InstanceKey::Int(*i),
        st::IndexKey::String(s) => InstanceKey::Str(s.clone()),
    }
}

pub fn resource_to_state(r: &ResourceAddr) -> st::ResourceAddr {
    st::ResourceAddr {
        module: r.module.clone(),
        mode: match r.mode {
            ResourceMode::Managed => st::Mode::Managed,
            ResourceMode::Data => st::Mode::Data,
        },
        type_name: r.type_name.clone(),
        name: r.name.clone(),
    }
}

pub fn resource_from_state(r: &st::ResourceAddr) -> ResourceAddr {
    ResourceAddr {
        module: r.module.clone(),
        mode: match r.mode {
            st::Mode::Managed => ResourceMode::Managed,
            st::Mode::Data => ResourceMode::Data,
        },
        type_name: r.type_name.clone(),
        name: r.name.clone(),
    }
}

pub fn addr_to_state(a: &InstanceAddr) -> st::InstanceAddr {
    st::InstanceAddr {
        resource: resource_to_state(&a.resource),
        key: key_to_state(&a.key),
    }
}

pub fn addr_from_state(a: &st::InstanceAddr) -> InstanceAddr {
    InstanceAddr {
        resource: resource_from_state(&a.resource),
        key: key_from_state(&a.key),
    }
}

/// The schema type of a resource's attributes, or `Dynamic` when its provider is unknown.
fn schema_type(providers: &ProviderSet, provider: &str, r: &ResourceAddr) -> (Type, u64) {
    providers
        .resource_schema(provider, r)
        .map(|s| (s.block.value_type(), s.version))
        .unwrap_or((Type::Dynamic, 0))
}

fn path_steps_to_state(p: &[PathStep]) -> st::AttrPath {
    p.iter()
        .map(|s| match s {
            PathStep::Attr(a) => st::PathStep::Attr(a.clone()),
            PathStep::Key(k) => st::PathStep::Key(k.clone()),
            PathStep::Index(i) => st::PathStep::Index(*i),
        })
        .collect()
}

fn sensitive_paths(v: &Value, cur: &mut Vec<PathStep>, out: &mut Vec<st::AttrPath>) {
    if v.is_sensitive() {
        out.push(path_steps_to_state(cur));
        return;
    }
    match &v.kind {
        Kind::Object(m) => {
            for (k, x) in m {
                cur.push(PathStep::Attr(k.clone()));
                sensitive_paths(x, cur, out);
                cur.pop();
            }
        }
        Kind::Map(_, m) => {
            for (k, x) in m {
                cur.push(PathStep::Key(k.clone()));
                sensitive_paths(x, cur, out);
                cur.pop();
            }
        }
        Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs) => {
            for (i, x) in xs.iter().enumerate() {
                cur.push(PathStep::Index(i as u64));
                sensitive_paths(x, cur, out);
                cur.pop();
            }
        }
        _ => {}
    }
}

fn mark_path(v: &mut Value, path: &[st::PathStep]) {
    let Some((first, rest)) = path.split_first() else {
        *v = v.clone().sensitive();
        return;
    };
    let child = match (&mut v.kind, first) {
        (Kind::Object(m) | Kind::Map(_, m), st::PathStep::Attr(k) | st::PathStep::Key(k)) => {
            m.get_mut(k)
        }
        (Kind::List(_, xs) | Kind::Set(_, xs) | Kind::Tuple(xs), st::PathStep::Index(i)) => {
            xs.get_mut(*i as usize)
        }
        _ => None,
    };
    if let Some(c) = child {
        mark_path(c, rest);
    }
}

/// An object for the state document.
pub fn object_to_state(rec: &Recorded, schema_ty: &Type) -> st::ObjectState {
    let (plain, _) = rec.value.unmark_deep();
    let mut paths = Vec::new();
    sensitive_paths(&rec.value, &mut Vec::new(), &mut paths);
    st::ObjectState {
        schema_version: rec.schema_version,
        attributes: st::Attributes::new(&to_state_json(&plain, schema_ty)),
        sensitive_paths: paths,
        // Direct, as the planner gives them (see `Dependencies`).
        dependencies: rec.depends_on.iter().map(|d| d.to_string()).collect(),
        dependencies_whole: false,
        tainted: rec.tainted,
        tainted_reason: None,
        create_before_destroy: rec.create_before_destroy,
    }
}

/// Why tainted instances are tainted, by instance address, where the state says.
pub fn tainted_reasons(s: &st::State) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (raddr, res) in &s.resources {
        for (key, inst) in &res.instances {
            if let Some(obj) = &inst.current
                && obj.tainted
                && let Some(why) = &obj.tainted_reason
            {
                let addr = resource_from_state(raddr).instance(key_from_state(key));
                out.insert(addr.to_string(), why.clone());
            }
        }
    }
    out
}

/// A recorded dependency (`brick_data.a`, `module.m.brick_data.b`) as a shared resource
/// address, parsed once per distinct text; `None` for one that names no resource.
fn interned(
    seen: &mut HashMap<String, Option<Arc<crate::plan::address::ResourceAddr>>>,
    text: &str,
) -> Option<Arc<crate::plan::address::ResourceAddr>> {
    if let Some(a) = seen.get(text) {
        return a.clone();
    }
    let addr = match text.parse() {
        Ok(crate::plan::address::Target::Resource(r)) => Some(Arc::new(r)),
        Ok(crate::plan::address::Target::Instance(i)) => Some(Arc::new(i.resource)),
        Ok(crate::plan::address::Target::Module(_)) | Err(_) => None,
    };
    seen.insert(text.to_string(), addr.clone());
    addr
}

/// An object's recorded attributes in its provider's current schema version: upgraded by the
/// provider's [`upgrade_resource_state`] when recorded under an older version, refused when
/// recorded by a newer one (as Terraform's "Resource instance managed by newer provider
/// version"). An unknown provider or type reads as recorded.
///
/// [`upgrade_resource_state`]: brick_provider_api::Provider::upgrade_resource_state
fn upgraded(
    providers: &ProviderSet,
    provider: &str,
    addr: &InstanceAddr,
    obj: &st::ObjectState,
    version: u64,
) -> Result<(serde_json::Value, u64), Box<crate::diag::Diagnostic>> {
    if obj.schema_version == version || providers.resource_schema(provider, &addr.resource).is_err()
    {
        return Ok((obj.attributes.value(), obj.schema_version));
    }
    if obj.schema_version > version {
        return Err(Box::new(crate::diag::Diagnostic::error(
            "brick::state::newer_schema",
            "Resource instance managed by newer provider version",
            format!(
                "{addr}: the state was written with schema version {} of {}, and provider {provider} knows versions up to {version}.",
                obj.schema_version, addr.resource.type_name
            ),
        )
        .help(format!(
            "Use a brick with a {provider} provider at least as new as the one that wrote this state."
        ))));
    }
    let Some(p) = providers.get(provider) else {
        return Ok((obj.attributes.value(), obj.schema_version));
    };
    match p.upgrade_resource_state(
        &addr.resource.type_name,
        obj.schema_version,
        &obj.attributes.value(),
    ) {
        Ok(a) => Ok((a, version)),
        Err(ds) => {
            let d = ds
                .into_iter()
                .find(|d| d.severity == brick_provider_api::diag::Severity::Error)
                .unwrap_or_else(|| {
                    brick_provider_api::Diagnostic::error(
                        "brick::state::schema_upgrade",
                        "Cannot upgrade recorded state",
                        format!("provider {provider} gave no upgraded value"),
                    )
                });
            let mut d: crate::diag::Diagnostic = d.into();
            if !d.detail.contains(&addr.to_string()) {
                d.detail = format!("{addr}: {}", d.detail);
            }
            Err(Box::new(d))
        }
    }
}

/// The engine's view of a loaded state.
pub fn prior_from_state(s: &st::State, providers: &ProviderSet) -> PriorState {
    let mut out = PriorState {
        lineage: Some(s.lineage.clone()),
        serial: Some(s.serial),
        ..Default::default()
    };
    // Every dependency address is parsed once and shared (see `Dependencies`).
    let mut addrs: HashMap<String, Option<Arc<crate::plan::address::ResourceAddr>>> =
        HashMap::new();
    for (raddr, res) in &s.resources {
        let r = resource_from_state(raddr);
        let provider = provider_name(&res.provider);
        let (ty, version) = schema_type(providers, &provider, &r);
        for (key, inst) in &res.instances {
            let Some(obj) = &inst.current else { continue };
            let addr = r.instance(key_from_state(key));
            let (attributes, schema_version) =
                match upgraded(providers, &provider, &addr, obj, version) {
                    Ok(a) => a,
                    Err(d) => {
                        out.upgrade_errors.push(*d);
                        (obj.attributes.value(), obj.schema_version)
                    }
                };
            let mut value = from_state_json(&attributes, &ty)
                .unwrap_or_else(|| crate::plan::codec::from_json_implied(&attributes));
            for p in &obj.sensitive_paths {
                mark_path(&mut value, p);
            }
            out.instances.insert(
                addr,
                PriorInstance {
                    provider: provider.clone(),
                    value,
                    depends_on: obj
                        .dependencies
                        .iter()
                        .filter_map(|d| interned(&mut addrs, d))
                        .collect(),
                    tainted: obj.tainted,
                    schema_version,
                    create_before_destroy: obj.create_before_destroy,
                },
            );
        }
    }
    for (name, o) in &s.outputs {
        let ty = type_from_json(&o.type_).unwrap_or(Type::Dynamic);
        let v = from_json(&o.value, &ty)
            .unwrap_or_else(|| crate::plan::codec::from_json_implied(&o.value));
        let v = if o.sensitive { v.sensitive() } else { v };
        out.outputs.insert(name.clone(), (v, o.sensitive));
    }
    out
}

/// Records apply steps in the journal: intents durably before provider calls, results
/// batched (group commit).
pub struct JournalSink<'a> {
    pub journal: &'a st::Journal,
    pub providers: &'a ProviderSet,
    intents: HashMap<(InstanceAddr, bool), u64>,
    deposed: HashMap<InstanceAddr, String>,
}

impl<'a> JournalSink<'a> {
    pub fn new(journal: &'a st::Journal, providers: &'a ProviderSet) -> Self {
        JournalSink {
            journal,
            providers,
            intents: HashMap::new(),
            deposed: HashMap::new(),
        }
    }

    fn current_provider(&self, addr: &InstanceAddr) -> Option<String> {
        let a = addr_to_state(addr);
        self.journal
            .with_state(|s| s.resources.get(&a.resource).map(|r| r.provider.clone()))
    }
}

fn err(e: st::StateError) -> String {
    e.to_string()
}

impl StateSink for JournalSink<'_> {
    fn intent(
        &mut self,
        addr: &InstanceAddr,
        action: Action,
        destroying: bool,
        planned_v: &Value,
    ) -> Result<(), String> {
        let saddr = addr_to_state(addr);
        let provider = self
            .current_provider(addr)
            .unwrap_or_else(|| provider_addr(&addr.resource.implied_provider()));
        let (ia, deposed) = if destroying {
            let dk = if action == Action::CreateThenDelete {
                self.deposed.get(addr).cloned()
            } else {
                None
            };
            (st::IntentAction::Delete, dk)
        } else if action == Action::Update {
            (st::IntentAction::Update, None)
        } else {
            if action == Action::CreateThenDelete {
                let exists = self.journal.with_state(|s| s.object(&saddr).is_some());
                if exists {
                    let key = st::new_deposed_key();
                    self.journal
                        .record(
                            st::Change::Depose {
                                addr: saddr.clone(),
                                key: key.clone(),
                            },
                            st::Durability::Batched,
                        )
                        .map_err(err)?;
                    self.deposed.insert(addr.clone(), key);
                }
            }
            (st::IntentAction::Create, None)
        };
        let provider_short = provider_name(&provider);
        let (ty, _) = schema_type(self.providers, &provider_short, &addr.resource);
        let planned = to_state_json(&planned_v.unmark_deep().0, &ty);
        // Queued now; made durable for a whole batch by `flush_intents`.
        let id = self.journal.next_intent_id();
        self.journal
            .record(
                st::Change::Intent(st::Intent {
                    id,
                    addr: saddr,
                    deposed,
                    action: ia,
                    provider,
                    planned,
                }),
                st::Durability::Batched,
            )
            .map_err(err)?;
        self.intents.insert((addr.clone(), destroying), id);
        Ok(())
    }

    fn flush_intents(&mut self) -> Result<(), String> {
        self.journal.flush().map_err(err)
    }

    fn record(&mut self, addr: &InstanceAddr, state: Option<Recorded>) -> Result<(), String> {
        let saddr = addr_to_state(addr);
        let intent = match &state {
            Some(_) => self.intents.remove(&(addr.clone(), false)),
            // A destroy that finished, or a create that failed leaving nothing: either way no
            // intent of this address stays open (an open create would make the next run adopt
            // whatever it then finds under the planned values).
            None => self
                .intents
                .remove(&(addr.clone(), true))
                .or_else(|| self.intents.remove(&(addr.clone(), false))),
        };
        let change = match state {
            None => {
                let exists = self
                    .journal
                    .with_state(|s| s.instance(&saddr).is_some_and(|i| i.current.is_some()));
                if !exists {
                    if let Some(id) = intent {
                        st::Change::Resolve {
                            intent: id,
                            message: "already gone".into(),
                        }
                    } else {
                        return Ok(());
                    }
                } else {
                    st::Change::Remove {
                        intent,
                        addr: saddr,
                        deposed: None,
                    }
                }
            }
            Some(rec) => {
                let (ty, _) = schema_type(self.providers, &rec.provider, &addr.resource);
                st::Change::Set {
                    intent,
                    provider: provider_addr(&rec.provider),
                    object: object_to_state(&rec, &ty),
                    addr: saddr,
                    deposed: None,
                }
            }
        };
        self.journal
            .record(change, st::Durability::Batched)
            .map_err(err)
    }

    fn record_deposed(
        &mut self,
        addr: &InstanceAddr,
        state: Option<Recorded>,
    ) -> Result<(), String> {
        let Some(key) = self.deposed.get(addr).cloned() else {
            return Ok(());
        };
        let intent = self.intents.remove(&(addr.clone(), true));
        let saddr = addr_to_state(addr);
        let change = match state {
            None => {
                self.deposed.remove(addr);
                st::Change::Remove {
                    intent,
                    addr: saddr,
                    deposed: Some(key),
                }
            }
            Some(rec) => {
                let (ty, _) = schema_type(self.providers, &rec.provider, &addr.resource);
                st::Change::Set {
                    intent,
                    provider: provider_addr(&rec.provider),
                    object: object_to_state(&rec, &ty),
                    addr: saddr,
                    deposed: Some(key),
                }
            }
        };
        self.journal
            .record(change, st::Durability::Batched)
            .map_err(err)
    }

    fn record_output(&mut self, name: &str, value: Option<(Value, bool)>) -> Result<(), String> {
        let output = value.map(|(v, sensitive)| {
            let plain = v.unmark_deep().0;
            st::Output {
                value: crate::plan::codec::to_json(&plain),
                type_: type_to_json(&plain.ty()),
                // Apply decides: declared sensitive, or holding sensitive values.
                sensitive,
            }
        });
        let same = self
            .journal
            .with_state(|s| s.outputs.get(name) == output.as_ref());
        if same {
            return Ok(());
        }
        self.journal
            .record(
                st::Change::SetOutput {
                    name: name.to_string(),
                    output,
                },
                st::Durability::Batched,
            )
            .map_err(err)
    }

    fn finish(&mut self) -> Result<(), String> {
        self.journal.flush().map_err(err)
    }
}

/// Whether a value names its real object: a non-empty `id`.
pub fn has_identity(v: &Value) -> bool {
    match v.get("id") {
        Some(id) if id.is_known() && !id.is_null() => id.as_str().is_none_or(|s| !s.is_empty()),
        _ => false,
    }
}

/// Configures provider `name` (`maas`, `maas.east`) as the configuration says: its `provider`
/// block evaluated against `values` (what the state records, for a block that reads
/// variables, locals or resources), or an empty configuration when it has no block (the
/// provider then reads its environment). Returns the diagnostics of evaluating and
/// configuring; a block whose value is not known yet is an error here, since nothing is
/// planned that could make it known.
pub async fn configure_provider(
    engine: &Configuration,
    values: &Working,
    providers: &ProviderSet,
    name: &str,
) -> Vec<crate::diag::Diagnostic> {
    let Some(p) = providers.get(name) else {
        return vec![crate::diag::Diagnostic::error(
            "brick::cli::unknown_provider",
            "Provider not available",
            format!(
                "The configuration needs the provider {name:?}, which this build of brick does not include."
            ),
        )];
    };
    let config = match engine.providers.iter().find(|pc| pc.name == name) {
        None => Value::empty_object(),
        Some(pc) => {
            let block = providers
                .schema(name)
                .map(|s| s.provider.clone())
                .unwrap_or_default();
            let module = crate::addr::module_text(&crate::addr::provider_module(name).0);
            match (pc.body)(&values.view(&module), &block) {
                Err(ds) => return ds,
                Ok(v) if !v.is_wholly_known() => {
                    return vec![crate::diag::Diagnostic::error(
                        "brick::cli::provider_config_unknown",
                        "Provider configuration not known",
                        format!("The configuration of provider {name:?} depends on values that are not known until an apply makes them."),
                    )
                    .help("Run `brick apply` first, so that the values it depends on are known.")];
                }
                Ok(v) => v,
            }
        }
    };
    p.configure(&config)
        .await
        .into_iter()
        .map(crate::diag::Diagnostic::from)
        .collect()
}

/// Settles the intents an interrupted apply left: asks each provider whether the object
/// exists and records what it says. Returns a line per intent for the user. Each provider is
/// configured once, from `engine`'s provider blocks (evaluated against the recorded state);
/// one that cannot be configured leaves its intents pending.
pub async fn reconcile_pending(
    journal: &st::Journal,
    providers: &ProviderSet,
    engine: &Configuration,
) -> Vec<String> {
    let pending: Vec<st::Intent> = journal.with_state(|s| s.pending.values().cloned().collect());
    let mut notes = Vec::new();
    let values = journal.with_state(|s| values_from_state(engine, &prior_from_state(s, providers)));
    // Provider name → whether it could be configured.
    let mut configured: HashMap<String, bool> = HashMap::new();
    for intent in pending {
        let addr = addr_from_state(&intent.addr);
        let pname = provider_name(&intent.provider);
        let Some(p) = providers.get(&pname) else {
            notes.push(format!(
                "{addr}: cannot check an unfinished {:?} (provider {pname} missing)",
                intent.action
            ));
            continue;
        };
        let (ty, _) = schema_type(providers, &pname, &addr.resource);
        let current = journal.with_state(|s| s.object(&intent.addr).cloned());
        let probe = match (&intent.action, &current) {
            (st::IntentAction::Create, _) => intent.planned.clone(),
            (_, Some(o)) => o.attributes.value(),
            (_, None) => intent.planned.clone(),
        };
        let probe_v = from_state_json(&probe, &ty).unwrap_or_else(Value::null_dynamic);
        let found = if probe_v.is_null() {
            Ok(None)
        } else {
            let ready = match configured.get(&pname) {
                Some(ok) => *ok,
                None => {
                    let diags = configure_provider(engine, &values, providers, &pname).await;
                    let errors: Vec<&str> = diags
                        .iter()
                        .filter(|d| d.is_error())
                        .map(|d| d.summary.as_str())
                        .collect();
                    if !errors.is_empty() {
                        notes.push(format!(
                            "provider {pname}: cannot be configured ({}); its unfinished operations stay pending",
                            errors.join("; ")
                        ));
                    }
                    configured.insert(pname.clone(), errors.is_empty());
                    errors.is_empty()
                }
            };
            if !ready {
                continue;
            }
            p.read_resource(ReadRequest {
                type_name: &addr.resource.type_name,
                current: &probe_v,
            })
            .await
        };
        let change = match (intent.action, found) {
            (st::IntentAction::Create, Ok(Some(v))) if v.is_wholly_known() && has_identity(&v) => {
                notes.push(format!(
                    "{addr}: an interrupted create had finished; recorded it"
                ));
                st::Change::Set {
                    intent: Some(intent.id),
                    addr: intent.addr.clone(),
                    deposed: intent.deposed.clone(),
                    provider: intent.provider.clone(),
                    object: st::ObjectState::new(to_state_json(&v, &ty)),
                }
            }
            (st::IntentAction::Delete, Ok(None)) => {
                notes.push(format!(
                    "{addr}: an interrupted destroy had finished; removed it"
                ));
                st::Change::Remove {
                    intent: Some(intent.id),
                    addr: intent.addr.clone(),
                    deposed: intent.deposed.clone(),
                }
            }
            (_, Err(_)) => {
                notes.push(format!(
                    "{addr}: could not check an interrupted operation; it stays pending"
                ));
                continue;
            }
            // The create was under way, the provider cannot find an object from the planned
            // values alone (it learns the identity only from the create), and nothing is
            // recorded at the address: the object may exist. Keep it, tainted, so the next
            // apply replaces it (as Terraform treats a create that failed half-way) rather than
            // losing track of it.
            (st::IntentAction::Create, _)
                if !has_identity(&probe_v)
                    && current.is_none()
                    && providers
                        .get(&pname)
                        .is_some_and(|p| p.manages_remote_objects()) =>
            {
                notes.push(format!(
                    "{addr}: an interrupted create may have created an object that {pname} cannot look up without the create's result; recorded it as possibly created (tainted), so the next apply replaces it"
                ));
                let (_, schema_version) = schema_type(providers, &pname, &addr.resource);
                let mut object = st::ObjectState::new(intent.planned.clone());
                object.schema_version = schema_version;
                object.tainted = true;
                object.tainted_reason = Some(format!(
                    "possibly created: an interrupted create may have created it, and {pname} cannot look it up without the create's result"
                ));
                st::Change::Set {
                    intent: Some(intent.id),
                    addr: intent.addr.clone(),
                    deposed: intent.deposed.clone(),
                    provider: intent.provider.clone(),
                    object,
                }
            }
            _ => {
                notes.push(
                    format!(
                        "{addr}: an interrupted {:?} had not taken effect",
                        intent.action
                    )
                    .to_lowercase(),
                );
                st::Change::Resolve {
                    intent: intent.id,
                    message: "not found after interruption".into(),
                }
            }
        };
        let _ = journal.record(change, st::Durability::Batched);
    }
    notes
}

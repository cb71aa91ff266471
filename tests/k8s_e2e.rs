//! End to end against the real kube-apiserver of tests/peers: the real `brick` binary applies
//! `k8s_manifest`s, plans again without changes, sees kubectl's changes as drift naming
//! kubectl (and ignores fields brick never applied), takes fields back, refuses conflicts and
//! immutable changes with the server's words, plans a CRD and its custom resource together,
//! imports, destroys, and applies Rook's and Strimzi's install files unchanged.
//!
//! The peer is read from `BRICK_PEERS_KUBECONFIG` (never `KUBECONFIG`, so a developer's own
//! cluster is never touched); kubectl from `KUBECTL`. Without them each test says it is skipped.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Dir, Run, command};

struct Peer {
    kubeconfig: String,
    kubectl: Option<String>,
}

fn peer() -> Option<Peer> {
    let Ok(kubeconfig) = std::env::var("BRICK_PEERS_KUBECONFIG") else {
        brick_provider_api::testing::skip("no Kubernetes API — run tests/peers/up.sh k8s");
        return None;
    };
    Some(Peer {
        kubeconfig,
        kubectl: std::env::var("KUBECTL")
            .ok()
            .filter(|k| Path::new(k).exists()),
    })
}

impl Peer {
    fn provider(&self) -> String {
        format!(
            "provider \"k8s\" {{\n  config_path = {:?}\n}}\n",
            self.kubeconfig
        )
    }

    /// kubectl against the peer; `None` (skipped) without kubectl.
    fn kubectl(&self, args: &[&str]) -> Option<Run> {
        let Some(k) = &self.kubectl else {
            brick_provider_api::testing::skip("no kubectl (KUBECTL) to act as another manager");
            return None;
        };
        Some(Run::of(
            Command::new(k)
                .arg("--kubeconfig")
                .arg(&self.kubeconfig)
                .args(args),
        ))
    }

    fn dir(&self, body: &str) -> Dir {
        Dir::new(&format!("{}\n{body}", self.provider()))
    }
}

fn brick(dir: &Dir, args: &[&str]) -> Run {
    Run::of(&mut command(dir.path(), args))
}

fn write(dir: &Dir, body: &str, peer: &Peer) {
    std::fs::write(
        dir.path().join("main.hcl"),
        format!("{}\n{body}", peer.provider()),
    )
    .unwrap();
}

/// A name no other run of the tests uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{}", std::process::id(), nanos % 1_000_000)
}

fn config_map(name: &str, label: &str, retention: &str) -> String {
    format!(
        r#"resource "k8s_manifest" "cm" {{
  manifest = {{
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = {{ name = "{name}", labels = {{ app = "{label}" }} }}
    data       = {{ retention = "{retention}" }}
  }}
  # No garbage collector on the peer until kube-controller-manager runs there.
  delete_propagation = "Background"
}}
"#
    )
}

fn live_json(peer: &Peer, args: &[&str]) -> Option<serde_json::Value> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json", "--show-managed-fields"]);
    let r = peer.kubectl(&all)?.ok();
    Some(serde_json::from_str(&r.stdout).unwrap())
}

fn state_attrs(dir: &Dir, name: &str) -> serde_json::Value {
    let s = dir.state();
    s["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name && r["mode"] == "managed")
        .map(|r| r["instances"][0]["attributes"].clone())
        .unwrap_or_default()
}

#[test]
fn a_config_map_is_applied_read_by_kubectl_planned_again_without_changes_and_drift_names_kubectl() {
    let Some(peer) = peer() else { return };
    let name = unique("brick-e2e-cm");
    let dir = peer.dir(&config_map(&name, "a", "7d"));
    let r = brick(&dir, &["apply", "--auto-approve"]).ok();
    assert!(r.stdout.contains("1 added"), "{}", r.stdout);
    brick(&dir, &["plan", "--detailed-exitcode"]).ok();

    // Real kubectl reads what brick wrote: every field brick manages, as the state has it,
    // owned by field manager brick.
    let Some(live) = live_json(&peer, &["configmap", &name, "-n", "default"]) else {
        return;
    };
    let st = state_attrs(&dir, "cm");
    // A dynamic attribute is stored as Terraform stores one: its type beside its value.
    let manifest = &st["manifest"]["value"];
    assert_eq!(live["data"], manifest["data"]);
    assert_eq!(live["metadata"]["labels"], manifest["metadata"]["labels"]);
    assert_eq!(live["metadata"]["uid"], st["uid"]);
    assert_eq!(
        live["metadata"]["namespace"], "default",
        "defaulted as kubectl does"
    );
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(managers, ["brick"]);

    // A label brick never applied, added by another manager, is neither a diff nor drift.
    peer.kubectl(&["label", "configmap", &name, "-n", "default", "extra=x"])
        .unwrap()
        .ok();
    brick(&dir, &["plan", "--detailed-exitcode"]).ok();
    brick(&dir, &["plan", "--refresh-only", "--detailed-exitcode"]).ok();

    // A value brick applied, changed by kubectl, is drift naming kubectl; the plan takes it
    // back and the apply does (the server would refuse it without force: DOMAIN.md).
    peer.kubectl(&[
        "patch",
        "configmap",
        &name,
        "-n",
        "default",
        "-p",
        r#"{"data":{"retention":"1d"}}"#,
    ])
    .unwrap()
    .ok();
    let drift = brick(&dir, &["plan", "--refresh-only", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2, "{}{}", drift.stdout, drift.stderr);
    assert!(drift.stdout.contains("kubectl-patch"), "{}", drift.stdout);
    let plan = brick(&dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains(r#"retention = "1d" -> "7d""#),
        "{}",
        plan.stdout
    );
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let live = live_json(&peer, &["configmap", &name, "-n", "default"]).unwrap();
    assert_eq!(live["data"]["retention"], "7d");
    assert_eq!(
        live["metadata"]["labels"]["extra"], "x",
        "the other manager's label stays"
    );
    brick(&dir, &["plan", "--detailed-exitcode"]).ok();

    // A label change is made in place, never by replacement.
    write(&dir, &config_map(&name, "b", "7d"), &peer);
    let plan = brick(&dir, &["plan"]).ok();
    assert!(plan.stdout.contains("updated in-place"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let live = live_json(&peer, &["configmap", &name, "-n", "default"]).unwrap();
    assert_eq!(live["metadata"]["labels"]["app"], "b");
    assert_eq!(live["metadata"]["uid"], st["uid"], "the same object");

    brick(&dir, &["destroy", "--auto-approve"]).ok();
    let gone = peer
        .kubectl(&["get", "configmap", &name, "-n", "default"])
        .unwrap();
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
}

#[test]
fn a_field_another_manager_applied_is_a_conflict_naming_it_unless_forced() {
    let Some(peer) = peer() else { return };
    let name = unique("brick-e2e-conflict");
    let Some(k) = peer.kubectl.clone() else {
        brick_provider_api::testing::skip("no kubectl (KUBECTL) to act as another manager");
        return;
    };
    let doc = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\ndata:\n  retention: 3d\n"
    );
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), doc).unwrap();
    Run::of(Command::new(&k).args([
        "--kubeconfig",
        &peer.kubeconfig,
        "apply",
        "--server-side",
        "--field-manager=ops-team",
        "-f",
        tmp.path().to_str().unwrap(),
    ]))
    .ok();

    let dir = peer.dir(&config_map(&name, "a", "7d"));
    let r = brick(&dir, &["apply", "--auto-approve"]).failed_with("Field manager conflict");
    assert!(r.stderr.contains("ops-team"), "{}", r.stderr);
    assert!(r.stderr.contains(".data.retention"), "{}", r.stderr);
    assert!(r.stderr.contains("force_conflicts"), "{}", r.stderr);

    let forced = config_map(&name, "a", "7d").replace(
        "resource \"k8s_manifest\" \"cm\" {\n",
        "resource \"k8s_manifest\" \"cm\" {\n  force_conflicts = true\n",
    );
    write(&dir, &forced, &peer);
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let live = live_json(&peer, &["configmap", &name, "-n", "default"]).unwrap();
    assert_eq!(live["data"]["retention"], "7d");
    brick(&dir, &["destroy", "--auto-approve"]).ok();
}

fn crd(group: &str) -> String {
    format!(
        r#"resource "k8s_manifest" "crd" {{
  manifest = {{
    apiVersion = "apiextensions.k8s.io/v1"
    kind       = "CustomResourceDefinition"
    metadata   = {{ name = "widgets.{group}" }}
    spec = {{
      group = "{group}"
      scope = "Namespaced"
      names = {{ plural = "widgets", singular = "widget", kind = "Widget", listKind = "WidgetList" }}
      versions = [{{
        name    = "v1"
        served  = true
        storage = true
        schema = {{
          openAPIV3Schema = {{
            type = "object"
            properties = {{
              spec = {{
                type       = "object"
                properties = {{ size = {{ type = "integer", minimum = 1 }} }}
              }}
            }}
          }}
        }}
      }}]
    }}
  }}
  delete_propagation = "Background"
}}
"#
    )
}

fn widget(group: &str, size: &str) -> String {
    format!(
        r#"
resource "k8s_manifest" "widget" {{
  manifest = {{
    apiVersion = "{group}/v1"
    kind       = "Widget"
    metadata   = {{ name = "w1", namespace = "default" }}
    spec       = {{ size = {size} }}
  }}
  delete_propagation = "Background"
}}
"#
    )
}

#[test]
fn a_crd_and_a_custom_resource_of_it_plan_and_apply_together_and_the_schema_refuses_a_bad_field() {
    let Some(peer) = peer() else { return };
    let group = format!("{}.brick.test", unique("g"));
    // No reference from the custom resource to the CRD: the order is implicit.
    let dir = peer.dir(&format!("{}{}", crd(&group), widget(&group, "3")));
    let plan = brick(&dir, &["plan"]).ok();
    assert!(plan.stdout.contains("2 to add"), "{}", plan.stdout);
    brick(&dir, &["apply", "--auto-approve"]).ok();
    brick(&dir, &["plan", "--detailed-exitcode"]).ok();

    // A field the CRD's schema refuses: the server's message, at the manifest's file and line.
    write(
        &dir,
        &format!("{}{}", crd(&group), widget(&group, "0")),
        &peer,
    );
    let r = brick(&dir, &["apply", "--auto-approve"]).failed_with("spec.size");
    assert!(r.stderr.contains("main.hcl"), "{}", r.stderr);
    assert!(
        r.stderr.contains("should be greater than or equal to 1"),
        "{}",
        r.stderr
    );

    write(
        &dir,
        &format!("{}{}", crd(&group), widget(&group, "3")),
        &peer,
    );
    brick(&dir, &["destroy", "--auto-approve"]).ok();
    if let Some(r) = peer.kubectl(&["get", "crd", &format!("widgets.{group}")]) {
        assert!(r.stderr.contains("NotFound"), "{}", r.stderr);
    }

    // A CRD and a custom resource both new: the server cannot check the resource yet, so the
    // plan checks it against the CRD's openAPIV3Schema in the configuration, at its line.
    let group = format!("{}.brick.test", unique("g"));
    let dir = peer.dir(&format!("{}{}", crd(&group), widget(&group, "\"big\"")));
    let r = brick(&dir, &["plan"]).failed_with("brick::k8s::schema");
    assert!(
        r.stderr
            .contains("spec.size must be of type integer, not the string \"big\""),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("main.hcl line"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("widgets.{group}")),
        "{}",
        r.stderr
    );
}

#[test]
fn an_immutable_field_change_is_refused_with_the_servers_words_and_a_way_out() {
    let Some(peer) = peer() else { return };
    let name = unique("brick-e2e-immutable");
    let cm = |v: &str| {
        format!(
            r#"resource "k8s_manifest" "cm" {{
  manifest = {{
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = {{ name = "{name}" }}
    immutable  = true
    data       = {{ v = "{v}" }}
  }}
  delete_propagation = "Background"
}}
"#
        )
    };
    let dir = peer.dir(&cm("1"));
    brick(&dir, &["apply", "--auto-approve"]).ok();
    write(&dir, &cm("2"), &peer);
    // The plan's server-side dry run already meets the refusal: it names the field and the
    // replacement to ask for.
    let r = brick(&dir, &["plan"]).failed_with("Immutable field changed");
    assert!(r.stderr.contains("immutable field data"), "{}", r.stderr);
    assert!(
        r.stderr.contains("brick apply -replace='k8s_manifest.cm'"),
        "{}",
        r.stderr
    );
    let r = brick(&dir, &["apply", "--auto-approve"]).failed_with("Immutable field changed");
    assert!(r.stderr.contains("field is immutable"), "{}", r.stderr);
    assert!(r.stderr.contains("-replace"), "{}", r.stderr);
    brick(
        &dir,
        &["apply", "--auto-approve", "--replace", "k8s_manifest.cm"],
    )
    .ok();
    if let Some(live) = live_json(&peer, &["configmap", &name, "-n", "default"]) {
        assert_eq!(live["data"]["v"], "2");
    }
    brick(&dir, &["destroy", "--auto-approve"]).ok();
}

#[test]
fn an_existing_object_is_imported_by_terraform_provider_kubernetes_id() {
    let Some(peer) = peer() else { return };
    let name = unique("brick-e2e-import");
    let Some(created) = peer.kubectl(&[
        "create",
        "configmap",
        &name,
        "-n",
        "default",
        "--from-literal=retention=7d",
    ]) else {
        return;
    };
    created.ok();
    let dir = peer.dir(&config_map(&name, "a", "7d"));
    let id = format!("apiVersion=v1,kind=ConfigMap,namespace=default,name={name}");
    brick(&dir, &["import", "k8s_manifest.cm", &id]).ok();
    let st = state_attrs(&dir, "cm");
    assert_eq!(st["id"], id.as_str());
    // brick has applied nothing yet: the plan shows what it will take over, in place.
    let plan = brick(&dir, &["plan"]).ok();
    assert!(plan.stdout.contains("updated in-place"), "{}", plan.stdout);
    brick(&dir, &["apply", "--auto-approve"]).ok();
    brick(&dir, &["plan", "--detailed-exitcode"]).ok();
    brick(&dir, &["destroy", "--auto-approve"]).ok();
}

#[test]
fn bad_manifests_and_an_unreachable_server_fail_clearly_and_quickly() {
    let Some(peer) = peer() else { return };
    // No kind: refused before anything is applied, at the manifest's line.
    let dir = peer.dir(
        "resource \"k8s_manifest\" \"x\" {\n  manifest = {\n    apiVersion = \"v1\"\n    metadata = { name = \"x\" }\n  }\n}\n",
    );
    let r = brick(&dir, &["plan"]).failed_with("brick::k8s::manifest");
    assert!(r.stderr.contains("kind"), "{}", r.stderr);
    assert!(r.stderr.contains("main.hcl"), "{}", r.stderr);

    // A kind the server does not serve and no CRD defines: an error in seconds.
    let dir = peer.dir(
        "resource \"k8s_manifest\" \"x\" {\n  manifest = {\n    apiVersion = \"nothing.brick.test/v1\"\n    kind = \"Nothing\"\n    metadata = { name = \"x\", namespace = \"default\" }\n  }\n}\n",
    );
    let t = Instant::now();
    brick(&dir, &["apply", "--auto-approve"]).failed_with("Unknown kind");
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());

    // An unreachable API server: a clear error within seconds, not minutes.
    let dir = Dir::new(
        "provider \"k8s\" {\n  host     = \"https://127.0.0.1:1\"\n  insecure = true\n}\nresource \"k8s_manifest\" \"x\" {\n  manifest = {\n    apiVersion = \"v1\"\n    kind = \"ConfigMap\"\n    metadata = { name = \"x\" }\n  }\n}\n",
    );
    let t = Instant::now();
    let r = brick(&dir, &["apply", "--auto-approve"]).failed_with("unreachable");
    assert!(r.stderr.contains("127.0.0.1:1"), "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
}

/// The install files of `dir` under ../shared/manifests, copied beside the configuration.
fn manifests(sub: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared/manifests")
        .join(sub);
    let p = if p.exists() {
        p
    } else {
        PathBuf::from("/work/shared/manifests").join(sub)
    };
    if !p.exists() {
        brick_provider_api::testing::skip_without_reference_data(&format!(
            "../shared/manifests/{sub} is absent"
        ));
        return None;
    }
    Some(p)
}

fn install(peer: &Peer, files: &[PathBuf], filter: &str) -> Dir {
    let dir = peer.dir("");
    let mut names = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let n = format!("{i:03}.yaml");
        std::fs::copy(f, dir.path().join(&n)).unwrap();
        names.push(format!("\"{n}\""));
    }
    let body = format!(
        r#"data "k8s_documents" "install" {{
  content = join("\n---\n", [for f in [{}] : file(f)])
}}

resource "k8s_manifest" "install" {{
  for_each           = {{ for k, v in data.k8s_documents.install.documents : k => v {filter} }}
  manifest           = each.value
  # Nothing runs pods here (no scheduler, no kubelet): apply, do not wait for rollouts.
  wait_for_ready     = false
  delete_propagation = "Background"
}}
"#,
        names.join(", ")
    );
    write(&dir, &body, peer);
    dir
}

/// Whether a kube-controller-manager runs (it holds its leader lease, or — run with
/// `--leader-elect=false`, as tests/peers does — its root-CA publisher has put
/// `kube-root-ca.crt` into `default`): without it a namespace never leaves Terminating.
fn controller_manager(peer: &Peer) -> bool {
    let found = |args: &[&str]| peer.kubectl(args).is_some_and(|r| r.code == 0);
    found(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        "kube-controller-manager",
    ]) || found(&["get", "configmap", "-n", "default", "kube-root-ca.crt"])
}

/// The peer for tests that install Rook's or Strimzi's files whole, CRDs included, and destroy
/// them again: an API server where no other manager installed those (the shared peers run a
/// Rook operator and the KafkaTopic stand-in on theirs, and overwriting then deleting their
/// CRDs would break them). `tests/run-all.sh` starts a bare one and exports its kubeconfig as
/// `BRICK_PEERS_BARE_KUBECONFIG`; without it, the shared peer is used when it holds no such
/// CRD (a developer's `tests/peers/up.sh k8s`), and the test is skipped otherwise.
fn install_peer(crd: &str) -> Option<Peer> {
    if let Ok(kubeconfig) = std::env::var("BRICK_PEERS_BARE_KUBECONFIG") {
        return Some(Peer {
            kubeconfig,
            kubectl: std::env::var("KUBECTL")
                .ok()
                .filter(|k| Path::new(k).exists()),
        });
    }
    let peer = peer()?;
    let r = peer.kubectl(&["get", "crd", crd, "-o", "json", "--show-managed-fields"])?;
    if r.code == 0 && !r.stdout.contains("\"manager\": \"brick\"") {
        brick_provider_api::testing::skip(&format!(
            "{crd} is already installed on this API server by another manager — \
             run it against a bare one (BRICK_PEERS_BARE_KUBECONFIG, as tests/run-all.sh does)"
        ));
        return None;
    }
    Some(peer)
}

fn apply_plan_destroy(peer: &Peer, dir: &Dir) {
    let r = brick(dir, &["apply", "--auto-approve"]).ok();
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    let again = brick(dir, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.code, 0,
        "a second plan has no changes:\n{}{}",
        again.stdout, again.stderr
    );
    if controller_manager(peer) {
        brick(dir, &["destroy", "--auto-approve"]).ok();
        let st = dir.state();
        assert!(
            st["resources"].as_array().is_none_or(|r| r
                .iter()
                .all(|r| r["instances"].as_array().is_none_or(Vec::is_empty))),
            "everything destroyed"
        );
    } else {
        // FOR THE LEAD: a namespace's deletion needs kube-controller-manager (the peers issue);
        // until it runs, only the objects outside namespaces' own deletion are destroyed here.
        let st = dir.state();
        let mut args = vec!["destroy".to_string(), "--auto-approve".to_string()];
        for r in st["resources"].as_array().unwrap() {
            for i in r["instances"].as_array().unwrap() {
                if let Some(k) = i["index_key"].as_str()
                    && k.starts_with("Namespace/")
                {
                    args.push("--exclude".into());
                    args.push(format!("k8s_manifest.install[\"{k}\"]"));
                }
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        brick(dir, &args).ok();
    }
}

#[test]
fn rooks_install_files_apply_unchanged_plan_again_without_changes_and_destroy() {
    let Some(peer) = install_peer("cephclusters.ceph.rook.io") else {
        return;
    };
    let Some(rook) = manifests("rook-v1.20.6") else {
        return;
    };
    let files: Vec<PathBuf> = ["crds.yaml", "common.yaml", "operator.yaml"]
        .iter()
        .map(|f| rook.join(f))
        .collect();
    // operator.yaml's csi.ceph.io objects need the Ceph CSI operator's CRDs, which these
    // files do not carry (kubectl apply fails on them the same way).
    let dir = install(
        &peer,
        &files,
        r#"if !startswith(v.apiVersion, "csi.ceph.io/")"#,
    );
    apply_plan_destroy(&peer, &dir);
}

#[test]
fn strimzis_install_files_apply_unchanged_plan_again_without_changes_and_destroy() {
    let Some(peer) = install_peer("kafkatopics.kafka.strimzi.io") else {
        return;
    };
    let Some(strimzi) = manifests("strimzi-1.2.0/install") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&strimzi)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let dir = install(&peer, &files, "");
    apply_plan_destroy(&peer, &dir);
}

#[test]
fn timeouts_are_the_providers_own_limits_for_readiness_and_for_deletion_through_finalizers() {
    let Some(peer) = peer() else { return };
    let name = unique("brick-e2e-timeouts");
    let cm = |extra: &str| {
        format!(
            r#"resource "k8s_manifest" "cm" {{
  manifest = {{
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = {{ name = "{name}", namespace = "default"{extra} }}
    data       = {{ phase = "Pending" }}
  }}
  wait {{
    fields = {{ "data.phase" = "Done" }}
  }}
  timeouts {{
    create = "3s"
    update = "3s"
    delete = "2s"
  }}
}}
"#
        )
    };
    // Nobody ever sets data.phase = Done: the create timeout ends the wait, in the provider's
    // words (what it waited for), not the default ten minutes.
    let dir = peer.dir(&cm(""));
    let t = Instant::now();
    let r =
        brick(&dir, &["apply", "--auto-approve"]).failed_with("Timed out waiting for readiness");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert!(r.stderr.contains("data.phase is Pending"), "{}", r.stderr);
    assert!(!r.stderr.contains("brick::apply::timeout"), "{}", r.stderr);
    assert_eq!(state_attrs(&dir, "cm")["timeouts"]["create"], "3s");

    // A finalizer nobody removes: destroy waits for it until the delete timeout, naming it.
    write(
        &dir,
        &cm(", finalizers = [\"brick.test/hold\"]").replace(
            "  wait {\n    fields = { \"data.phase\" = \"Done\" }\n  }\n",
            "",
        ),
        &peer,
    );
    brick(&dir, &["apply", "--auto-approve"]).ok();
    let t = Instant::now();
    let r =
        brick(&dir, &["destroy", "--auto-approve"]).failed_with("Timed out waiting for deletion");
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    assert!(r.stderr.contains("brick.test/hold"), "{}", r.stderr);
    if let Some(k) = peer.kubectl(&[
        "patch",
        "configmap",
        &name,
        "-n",
        "default",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]) {
        k.ok();
    }
    brick(&dir, &["destroy", "--auto-approve"]).ok();
}

#[test]
fn destroy_deletes_a_namespaces_objects_before_it_in_foreground_and_waits_until_all_are_gone() {
    let Some(peer) = peer() else { return };
    if !controller_manager(&peer) {
        brick_provider_api::testing::skip(
            "no kube-controller-manager on the peer: namespaces never finish deleting",
        );
        return;
    }
    let ns = unique("brick-e2e-ns");
    let dir = peer.dir(&format!(
        r#"resource "k8s_manifest" "ns" {{
  manifest = {{
    apiVersion = "v1"
    kind       = "Namespace"
    metadata   = {{ name = "{ns}" }}
  }}
}}

resource "k8s_manifest" "settings" {{
  manifest = {{
    apiVersion = "v1"
    kind       = "ConfigMap"
    metadata   = {{ name = "settings", namespace = "{ns}" }}
    data       = {{ a = "1" }}
  }}
}}

resource "k8s_manifest" "web" {{
  manifest = {{
    apiVersion = "apps/v1"
    kind       = "Deployment"
    metadata   = {{ name = "web", namespace = "{ns}" }}
    spec = {{
      replicas = 2
      selector = {{ matchLabels = {{ app = "web" }} }}
      template = {{
        metadata = {{ labels = {{ app = "web" }} }}
        spec = {{
          tolerations = [{{ key = "kwok.x-k8s.io/node", operator = "Exists", effect = "NoSchedule" }}]
          containers  = [{{ name = "web", image = "nginx:1.27" }}]
        }}
      }}
    }}
  }}
  timeouts {{
    create = "2m"
  }}
}}
"#
    ));
    // No depends_on: the provider orders the namespace first and waits for the rollout.
    let r = brick(&dir, &["apply", "--auto-approve"]).ok();
    assert!(r.stdout.contains("3 added"), "{}", r.stdout);
    // The provider ranks the namespace first among the steps ready together (apply_order):
    // nothing had to wait for it.
    assert!(!r.stdout.contains("waiting for namespace"), "{}", r.stdout);
    let pods = peer
        .kubectl(&["get", "pods", "-n", &ns, "-o", "name"])
        .unwrap()
        .ok();
    assert_eq!(pods.stdout.lines().count(), 2, "{}", pods.stdout);

    let r = brick(&dir, &["destroy", "--auto-approve"]).ok();
    let done = |addr: &str| {
        r.stdout
            .lines()
            .position(|l| l.contains(&format!("{addr}: Destruction complete")))
            .unwrap_or_else(|| panic!("{addr} destroyed:\n{}", r.stdout))
    };
    assert!(
        done("k8s_manifest.settings") < done("k8s_manifest.ns"),
        "{}",
        r.stdout
    );
    assert!(
        done("k8s_manifest.web") < done("k8s_manifest.ns"),
        "{}",
        r.stdout
    );
    // destroy returned only once everything was gone: the namespace (its controller emptied
    // it and removed its finalizer), the Deployment's ReplicaSet and pods (Foreground).
    let gone = peer.kubectl(&["get", "namespace", &ns]).unwrap();
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
    let left = peer
        .kubectl(&["get", "pods,replicasets", "-n", &ns, "-o", "name"])
        .unwrap();
    assert!(left.stdout.trim().is_empty(), "{}", left.stdout);
}

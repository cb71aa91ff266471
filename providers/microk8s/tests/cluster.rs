//! microk8s_cluster through the provider: plans are pure and show generated values as known
//! after apply; apply makes the token, CA and admin certificate once; every rendered cloud-init
//! document passes the real `cloud-init schema`; the launch configurations parse back into
//! MicroK8s' schema; the admin certificate verifies against the CA with the real openssl; bad
//! settings are refused with codes. Also the provider conformance suite.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use brick_provider_api::conformance::{Fixture, assert_conforms};
use brick_provider_api::lifecycle::proposed_new_state;
use brick_provider_api::provider::{ApplyRequest, NoProgress, PlanRequest, Provider};
use brick_provider_api::testing::skip;
use brick_provider_api::{Type, Value};
use brick_provider_microk8s::Microk8sProvider;
use brick_provider_microk8s::resources::cluster;
use yaml_rust2::{Yaml, YamlLoader};

fn strs(v: &[&str]) -> Value {
    Value::list(Type::String, v.iter().map(|s| Value::string(*s)).collect())
}

/// A configuration conformed to the schema: every attribute present, unset ones null, defaults
/// filled in as the engine does.
fn config(nodes: &[(&str, bool)], set: &[(&str, Value)]) -> Value {
    let schema = cluster::schema();
    let mut m: BTreeMap<String, Value> = schema
        .block
        .attributes
        .iter()
        .map(|(k, a)| {
            (
                k.clone(),
                a.default
                    .clone()
                    .unwrap_or_else(|| Value::null(a.ty.clone())),
            )
        })
        .collect();
    m.insert("channel".into(), Value::string("1.32/stable"));
    m.insert("api_address".into(), Value::string("10.0.0.11"));
    let node_ty = Type::object([("control_plane", Type::Bool)]);
    m.insert(
        "nodes".into(),
        Value::map(
            node_ty,
            nodes
                .iter()
                .map(|(n, cp)| {
                    (
                        n.to_string(),
                        Value::object_from([("control_plane", Value::bool(*cp))]),
                    )
                })
                .collect(),
        ),
    );
    for (k, v) in set {
        m.insert(k.to_string(), v.clone());
    }
    Value::object(m)
}

fn garage() -> Value {
    config(
        &[("maas", true), ("kvm4", false), ("kvm5", false)],
        &[("extra_sans", strs(&["garage.lan"]))],
    )
}

async fn plan(p: &Microk8sProvider, prior: &Value, cfg: &Value) -> Value {
    let proposed = proposed_new_state(&cluster::schema().block, prior, cfg);
    let r = p
        .plan_resource(PlanRequest {
            type_name: cluster::TYPE,
            prior,
            proposed: &proposed,
        })
        .await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r.planned
}

async fn create(p: &Microk8sProvider, cfg: &Value) -> Value {
    let null = Value::null(cluster::schema().block.value_type());
    let planned = plan(p, &null, cfg).await;
    let r = p
        .apply_resource(ApplyRequest {
            type_name: cluster::TYPE,
            prior: &null,
            planned: &planned,
            progress: &NoProgress,
        })
        .await;
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    r.new_state
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{k}"))
}

fn cloud_init(state: &Value) -> BTreeMap<String, String> {
    state
        .get("cloud_init")
        .unwrap()
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

/// The files a cloud-init document writes, by path.
fn written_files(doc: &str) -> BTreeMap<String, String> {
    let y = &YamlLoader::load_from_str(doc).unwrap()[0];
    y["write_files"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["content"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

const LAUNCH: &str = "/var/snap/microk8s/common/.microk8s.yaml";

/// Checks a launch configuration against the fields of MicroK8s' schema
/// (microk8s-cluster-agent `pkg/k8sinit/schema.go`) brick writes.
fn check_launch_config(text: &str, token: &str) -> Yaml {
    let y = YamlLoader::load_from_str(text).unwrap().remove(0);
    let known = [
        "version",
        "persistentClusterToken",
        "join",
        "addons",
        "extraSANs",
    ];
    for k in y.as_hash().unwrap().keys() {
        assert!(known.contains(&k.as_str().unwrap()), "unknown field {k:?}");
    }
    assert_eq!(y["version"].as_str(), Some("0.1.0"));
    if let Some(t) = y["persistentClusterToken"].as_str() {
        assert!(t.len() >= 32, "{t}");
        assert_eq!(t, token);
    }
    if !y["join"].is_badvalue() {
        let url = y["join"]["url"].as_str().unwrap();
        let (addr, rest) = url.split_once(':').unwrap();
        addr.parse::<std::net::Ipv4Addr>().unwrap();
        let (port, tok) = rest.split_once('/').unwrap();
        assert_eq!(port, "25000");
        assert_eq!(tok, token);
        assert!(y["join"]["worker"].as_bool().is_some());
    }
    y
}

#[tokio::test]
async fn a_create_plans_generated_values_as_known_after_apply_and_purely() {
    let p = Microk8sProvider;
    let null = Value::null(cluster::schema().block.value_type());
    let a = plan(&p, &null, &garage()).await;
    let b = plan(&p, &null, &garage()).await;
    assert_eq!(a, b, "plan is pure");
    for k in ["token", "ca_certificate", "kubeconfig", "cloud_init"] {
        assert!(!a.get(k).unwrap().is_known(), "{k} is known after apply");
    }
    assert_eq!(s(&a, "api_endpoint"), "https://10.0.0.11:16443");
    assert_eq!(s(&a, "bootstrap_node"), "maas");
}

#[tokio::test]
async fn apply_makes_the_secrets_once_and_a_node_added_later_keeps_them() {
    let p = Microk8sProvider;
    let state = create(&p, &garage()).await;
    let token = s(&state, "token");
    assert_eq!(token.len(), 32);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    // A second plan changes nothing.
    assert_eq!(plan(&p, &state, &garage()).await, state);
    // A fourth PC: an update that keeps every secret and adds its cloud-init.
    let more = config(
        &[
            ("maas", true),
            ("kvm4", false),
            ("kvm5", false),
            ("spare1", true),
        ],
        &[("extra_sans", strs(&["garage.lan"]))],
    );
    let planned = plan(&p, &state, &more).await;
    assert!(planned.is_wholly_known());
    for k in [
        "token",
        "ca_certificate",
        "ca_private_key",
        "admin_certificate",
    ] {
        assert_eq!(planned.get(k), state.get(k), "{k}");
    }
    let before = cloud_init(&state);
    let after = cloud_init(&planned);
    assert_eq!(after.len(), 4);
    for (n, doc) in &before {
        assert_eq!(&after[n], doc, "{n}'s document is unchanged");
    }
    let launch = check_launch_config(&written_files(&after["spare1"])[LAUNCH], token);
    assert_eq!(launch["join"]["worker"].as_bool(), Some(false));
}

#[tokio::test]
async fn the_documents_say_how_each_node_forms_the_cluster() {
    let p = Microk8sProvider;
    let cfg = config(
        &[("maas", true), ("kvm4", true), ("kvm5", false)],
        &[
            ("bootstrap_node", Value::string("maas")),
            ("addons", strs(&["dns", "rook-ceph --rook-version v1.16.6"])),
        ],
    );
    let state = create(&p, &cfg).await;
    let token = s(&state, "token");
    let docs = cloud_init(&state);
    assert_eq!(docs.keys().collect::<Vec<_>>(), ["kvm4", "kvm5", "maas"]);
    for doc in docs.values() {
        assert!(doc.starts_with("#cloud-config\n"), "{doc}");
    }

    // The first node: no token at install; CA swap, then the token and addons.
    let first = written_files(&docs["maas"]);
    let install = check_launch_config(&first[LAUNCH], token);
    assert!(install["persistentClusterToken"].is_badvalue());
    assert!(install["join"].is_badvalue());
    assert_eq!(install["extraSANs"][0].as_str(), Some("10.0.0.11"));
    let later = check_launch_config(&first["/var/tmp/brick-microk8s/cluster.yaml"], token);
    assert_eq!(later["persistentClusterToken"].as_str(), Some(token));
    assert_eq!(later["addons"][0]["name"].as_str(), Some("dns"));
    assert_eq!(later["addons"][1]["name"].as_str(), Some("rook-ceph"));
    assert_eq!(later["addons"][1]["args"][1].as_str(), Some("v1.16.6"));
    assert_eq!(
        first["/var/tmp/brick-microk8s/ca/ca.crt"],
        s(&state, "ca_certificate")
    );
    assert_eq!(
        first["/var/tmp/brick-microk8s/ca/ca.key"],
        s(&state, "ca_private_key")
    );
    let script = &first["/var/tmp/brick-microk8s/form-cluster.sh"];
    let order: Vec<usize> = [
        "snap install microk8s --classic --channel=1.32/stable",
        "microk8s status --wait-ready",
        "microk8s refresh-certs \"$dir/ca\"",
        "\nshred -u \"$dir/ca/ca.key\"",
        "/var/snap/microk8s/common/etc/launcher/brick-cluster.yaml",
    ]
    .iter()
    .map(|step| {
        script
            .find(step)
            .unwrap_or_else(|| panic!("{step} in {script}"))
    })
    .collect();
    assert!(order.is_sorted(), "{script}");

    // A control-plane joiner carries the token; a worker joins as a worker without it.
    let cp = check_launch_config(&written_files(&docs["kvm4"])[LAUNCH], token);
    assert_eq!(
        cp["join"]["url"].as_str(),
        Some(&*format!("10.0.0.11:25000/{token}"))
    );
    assert_eq!(cp["join"]["worker"].as_bool(), Some(false));
    assert_eq!(cp["persistentClusterToken"].as_str(), Some(token));
    let worker = check_launch_config(&written_files(&docs["kvm5"])[LAUNCH], token);
    assert_eq!(worker["join"]["worker"].as_bool(), Some(true));
    assert!(worker["persistentClusterToken"].is_badvalue());
    assert!(
        !docs["kvm5"].contains("BEGIN RSA PRIVATE KEY"),
        "only the first node gets the CA key"
    );

    // Every control-plane node carries the cluster agent's token file, derived from the
    // admin key, that microk8s_node's destroy sends to remove a member from the datastore;
    // the worker does not.
    use brick_provider_microk8s::render;
    let agent_token = render::agent_token(s(&state, "admin_private_key"));
    assert_eq!(agent_token.len(), 64);
    for node in ["maas", "kvm4"] {
        assert_eq!(
            written_files(&docs[node]).get(render::AGENT_TOKEN_PATH),
            Some(&agent_token),
            "{node}"
        );
    }
    assert!(!written_files(&docs["kvm5"]).contains_key(render::AGENT_TOKEN_PATH));
    let parts = render::read_kubeconfig(s(&state, "kubeconfig")).expect("brick's kubeconfig reads");
    assert_eq!(parts.api_host, "10.0.0.11");
    assert_eq!(parts.ca_certificate, s(&state, "ca_certificate"));
    assert_eq!(
        render::agent_token(&parts.admin_private_key),
        agent_token,
        "the node computes the same token from the kubeconfig"
    );

    // The kubeconfig.
    let kc = YamlLoader::load_from_str(s(&state, "kubeconfig"))
        .unwrap()
        .remove(0);
    assert_eq!(
        kc["clusters"][0]["cluster"]["server"].as_str(),
        Some("https://10.0.0.11:16443")
    );
    assert_eq!(kc["current-context"].as_str(), Some("microk8s"));
}

#[tokio::test]
async fn every_rendered_document_passes_the_real_cloud_init_schema() {
    if Command::new("cloud-init")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("cloud-init is not installed (Debian package cloud-init)");
        return;
    }
    let p = Microk8sProvider;
    let state = create(
        &p,
        &config(
            &[("maas", true), ("kvm4", true), ("kvm5", false)],
            &[("bootstrap_node", Value::string("maas"))],
        ),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    for (node, doc) in cloud_init(&state) {
        let f = dir.path().join(format!("{node}.yaml"));
        std::fs::write(&f, &doc).unwrap();
        let o = Command::new("cloud-init")
            .args(["schema", "--config-file"])
            .arg(&f)
            .output()
            .unwrap();
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{node}: {out}\n{doc}");
        // "Valid cloud-config" (22.x), "Valid schema" (newer releases).
        assert!(
            out.contains("Valid cloud-config") || out.contains("Valid schema"),
            "{node}: {out}"
        );
    }
}

fn openssl(args: &[&str], dir: &Path) -> String {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "openssl {args:?}: {out}");
    out
}

#[tokio::test]
async fn the_admin_certificate_verifies_against_the_rsa_ca_with_openssl() {
    if Command::new("openssl").arg("version").output().is_err() {
        skip("openssl is not installed");
        return;
    }
    let p = Microk8sProvider;
    let state = create(&p, &garage()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (f, k) in [
        ("ca.crt", "ca_certificate"),
        ("ca.key", "ca_private_key"),
        ("admin.crt", "admin_certificate"),
        ("admin.key", "admin_private_key"),
    ] {
        std::fs::write(d.join(f), s(&state, k)).unwrap();
    }
    assert!(openssl(&["verify", "-CAfile", "ca.crt", "admin.crt"], d).contains("admin.crt: OK"));
    // What refresh-certs runs on the CA key: it must be RSA.
    assert!(openssl(&["rsa", "-in", "ca.key", "-check", "-noout"], d).contains("RSA key ok"));
    let subject = openssl(
        &[
            "x509",
            "-in",
            "admin.crt",
            "-noout",
            "-subject",
            "-ext",
            "extendedKeyUsage",
        ],
        d,
    );
    assert!(subject.contains("O = system:masters"), "{subject}");
    assert!(subject.contains("CN = admin"), "{subject}");
    assert!(
        subject.contains("TLS Web Client Authentication"),
        "{subject}"
    );
    let ca = openssl(
        &[
            "x509",
            "-in",
            "ca.crt",
            "-noout",
            "-subject",
            "-ext",
            "basicConstraints",
        ],
        d,
    );
    assert!(ca.contains("CA:TRUE"), "{ca}");
    assert!(
        !ca.contains("127.0.0.1"),
        "add-node refuses such a CA: {ca}"
    );
    // The key matches the certificate.
    let m1 = openssl(&["x509", "-in", "ca.crt", "-noout", "-pubkey"], d);
    let m2 = openssl(&["rsa", "-in", "ca.key", "-pubout"], d);
    assert!(m2.contains(m1.trim()), "{m1}\n{m2}");
}

fn codes(p: &Microk8sProvider, cfg: &Value) -> Vec<(String, Vec<String>)> {
    p.validate_resource(cluster::TYPE, cfg)
        .into_iter()
        .map(|d| (d.code, d.attribute))
        .collect()
}

#[test]
fn bad_settings_are_refused_with_codes_at_their_attribute() {
    let p = Microk8sProvider;
    let one = |c: &str, a: &str| vec![(format!("brick::microk8s::{c}"), vec![a.to_string()])];
    assert_eq!(codes(&p, &garage()), vec![]);
    assert_eq!(
        codes(
            &p,
            &config(
                &[("maas", true)],
                &[("api_address", Value::string("maas.lan"))]
            )
        ),
        one("api_address_not_ip", "api_address")
    );
    assert_eq!(
        codes(
            &p,
            &config(
                &[("maas", true)],
                &[("api_address", Value::string("127.0.0.1"))]
            )
        ),
        one("api_address_not_routable", "api_address")
    );
    assert_eq!(
        codes(&p, &config(&[("a", true), ("b", true)], &[])),
        one("ambiguous_bootstrap_node", "nodes")
    );
    assert_eq!(
        codes(&p, &config(&[("a", false), ("b", false)], &[])),
        one("no_control_plane", "nodes")
    );
    assert_eq!(
        codes(
            &p,
            &config(
                &[("a", true), ("b", false)],
                &[("bootstrap_node", Value::string("b"))]
            )
        ),
        one("bootstrap_node_is_worker", "bootstrap_node")
    );
    assert_eq!(
        codes(
            &p,
            &config(&[("a", true)], &[("bootstrap_node", Value::string("c"))])
        ),
        one("unknown_bootstrap_node", "bootstrap_node")
    );
    for bad in [
        "1.32/stabel",
        "132/stable",
        "1.26/stable",
        "1.32//stable",
        "",
        "latest/edge/x/y",
    ] {
        assert_eq!(
            codes(
                &p,
                &config(&[("a", true)], &[("channel", Value::string(bad))])
            ),
            one("bad_channel", "channel"),
            "{bad}"
        );
    }
    for good in [
        "1.32/stable",
        "1.28",
        "latest/edge",
        "1.30-strict/candidate",
        "1.32/stable/hotfix",
    ] {
        assert_eq!(
            codes(
                &p,
                &config(&[("a", true)], &[("channel", Value::string(good))])
            ),
            vec![],
            "{good}"
        );
    }
    assert_eq!(
        codes(
            &p,
            &config(&[("a", true)], &[("token", Value::string("short"))])
        ),
        one("bad_token", "token")
    );
    // Unknown values are accepted.
    let mut unknown = garage().as_mapping().cloned().unwrap();
    for k in ["channel", "api_address", "nodes", "bootstrap_node"] {
        let ty = cluster::schema().block.attributes[k].ty.clone();
        unknown.insert(k.into(), Value::unknown(ty));
    }
    assert_eq!(codes(&p, &Value::object(unknown)), vec![]);
}

#[tokio::test]
async fn a_changed_token_replaces_the_cluster() {
    let p = Microk8sProvider;
    let state = create(&p, &garage()).await;
    let schema = cluster::schema();
    assert!(schema.block.attributes["token"].forces_replacement);
    let other = "0123456789abcdef0123456789abcdef";
    let mut cfg = garage().as_mapping().cloned().unwrap();
    cfg.insert("token".into(), Value::string(other));
    let planned = plan(&p, &state, &Value::object(cfg)).await;
    assert_eq!(
        s(&planned, "token"),
        other,
        "the engine sees the difference and replaces"
    );
}

#[tokio::test]
async fn the_microk8s_provider_keeps_the_provider_contract() {
    let p = Microk8sProvider;
    let more = config(
        &[
            ("maas", true),
            ("kvm4", false),
            ("kvm5", false),
            ("spare1", false),
        ],
        &[("addons", strs(&["dns", "hostpath-storage"]))],
    );
    assert_conforms(&p, &[Fixture::new(cluster::TYPE, garage()).updated(more)]).await;
}

//! What a `microk8s_cluster` renders from its settings and secrets: MicroK8s launch
//! configurations, one cloud-init document per node, and the admin kubeconfig. Pure functions:
//! the same inputs give the same text, so a plan can render them when the secrets are known.
//!
//! How the cluster forms (see the crate's README):
//! 1. The first (bootstrap) node installs MicroK8s with a launch configuration holding only
//!    `extraSANs` — no token, so nobody can join yet.
//! 2. Once MicroK8s is ready it swaps in the cluster's CA with `microk8s refresh-certs`, so the
//!    admin certificate brick made is accepted, and deletes the CA key it was given.
//! 3. Only then it drops a second launch configuration into the cluster agent's directory
//!    (`$SNAP_COMMON/etc/launcher/`), with `persistentClusterToken` and the addons. The token
//!    therefore exists only after the CA swap: it is the gate that orders the joins.
//! 4. Every other node installs MicroK8s with `join { url = "<api_address>:25000/<token>" }`;
//!    its cluster agent retries the join every 5 s until the token exists on the first node.

use std::collections::BTreeMap;

use base64::Engine as _;
use yaml_rust2::yaml::{Hash, Yaml};

use crate::pki::ClusterPki;

/// The launch configuration format version written (MicroK8s 1.27+ reads 0.1.0; every field
/// brick writes exists since 0.1.0).
pub const LAUNCH_CONFIG_VERSION: &str = "0.1.0";
/// Where MicroK8s' install hook reads the launch configuration from.
pub const LAUNCH_CONFIG_PATH: &str = "/var/snap/microk8s/common/.microk8s.yaml";
/// The cluster agent's directory of launch configurations, applied every 5 s after install.
pub const LAUNCHER_DIR: &str = "/var/snap/microk8s/common/etc/launcher";
/// Where brick's cloud-init puts its files on a node (deleted once used where secret).
pub const WORK_DIR: &str = "/var/tmp/brick-microk8s";
/// The token file of the cluster agent's Cluster API endpoints (`POST
/// /cluster/api/v2.0/dqlite/remove` compares the `capi-auth-token` header with it): MicroK8s'
/// cluster agent reads `/capi/etc/token` (`snap.GetCAPIPath("etc", "token")`, default
/// directory `/capi`).
pub const AGENT_TOKEN_PATH: &str = "/capi/etc/token";
/// The cluster agent's port (join URLs) and the API server's port.
pub const AGENT_PORT: u16 = 25000;
pub const API_PORT: u16 = 16443;

/// A cluster's settings, as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    pub channel: String,
    /// IPv4 literal of the bootstrap node.
    pub api_address: String,
    /// The node that forms the cluster (its address is `api_address`).
    pub bootstrap_node: String,
    /// Node name → control plane?
    pub nodes: BTreeMap<String, bool>,
    /// `name` or `name arg…` (split on whitespace).
    pub addons: Vec<String>,
    pub extra_sans: Vec<String>,
}

/// The secrets a rendering needs.
#[derive(Clone, Debug)]
pub struct Secrets<'a> {
    pub token: &'a str,
    pub pki: &'a ClusterPki,
}

fn s(v: &str) -> Yaml {
    Yaml::String(v.to_string())
}

fn hash<'a>(entries: impl IntoIterator<Item = (&'a str, Yaml)>) -> Yaml {
    let mut h = Hash::new();
    for (k, v) in entries {
        h.insert(s(k), v);
    }
    Yaml::Hash(h)
}

fn emit(doc: &Yaml) -> String {
    let mut out = String::new();
    let mut e = yaml_rust2::YamlEmitter::new(&mut out);
    e.multiline_strings(true);
    e.dump(doc)
        .expect("emitting YAML into a String cannot fail");
    // The emitter starts with `---`; cloud-init wants `#cloud-config` first, so drop it.
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    format!("{body}\n")
}

/// The token brick's control-plane nodes accept on their cluster agent's `dqlite/remove`
/// endpoint, derived from the admin private key (SHA-256 of a fixed label and the key, 64 hex
/// characters): whoever holds the admin kubeconfig can compute it, and it grants nothing that
/// kubeconfig does not (cluster-admin), so `microk8s_node` needs no secret of its own to remove
/// a control-plane member from the datastore.
pub fn agent_token(admin_private_key: &str) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"brick microk8s cluster agent token\n");
    h.update(admin_private_key.as_bytes());
    hex::encode(h.finalize())
}

/// What a kubeconfig written by [`kubeconfig`] holds: the API server's host, the cluster's CA
/// and the admin private key (PEM). `None` for a kubeconfig of another shape.
pub struct KubeconfigParts {
    pub api_host: String,
    pub ca_certificate: String,
    pub admin_private_key: String,
}

/// Reads [`KubeconfigParts`] from a kubeconfig's first cluster and first user.
pub fn read_kubeconfig(text: &str) -> Option<KubeconfigParts> {
    let doc = yaml_rust2::YamlLoader::load_from_str(text)
        .ok()?
        .into_iter()
        .next()?;
    let b64 = |y: &Yaml| -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(y.as_str()?)
            .ok()?;
        String::from_utf8(bytes).ok()
    };
    let cluster = &doc["clusters"][0]["cluster"];
    let server = cluster["server"].as_str()?;
    let authority = server.strip_prefix("https://")?.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    Some(KubeconfigParts {
        api_host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        ca_certificate: b64(&cluster["certificate-authority-data"])?,
        admin_private_key: b64(&doc["users"][0]["user"]["client-key-data"])?,
    })
}

/// The join URL of the cluster: `<api_address>:25000/<token>` (no certificate fingerprint: it
/// cannot be known before the first node exists).
pub fn join_url(spec: &ClusterSpec, token: &str) -> String {
    format!("{}:{AGENT_PORT}/{token}", spec.api_address)
}

/// `https://<api_address>:16443`.
pub fn api_endpoint(api_address: &str) -> String {
    format!("https://{api_address}:{API_PORT}")
}

fn sans(spec: &ClusterSpec) -> Yaml {
    let mut v = vec![spec.api_address.clone()];
    for x in &spec.extra_sans {
        if !v.contains(x) {
            v.push(x.clone());
        }
    }
    Yaml::Array(v.iter().map(|x| s(x)).collect())
}

fn addons(spec: &ClusterSpec) -> Yaml {
    Yaml::Array(
        spec.addons
            .iter()
            .map(|a| {
                let mut words = a.split_whitespace();
                let name = words.next().unwrap_or_default();
                let args: Vec<Yaml> = words.map(s).collect();
                if args.is_empty() {
                    hash([("name", s(name))])
                } else {
                    hash([("name", s(name)), ("args", Yaml::Array(args))])
                }
            })
            .collect(),
    )
}

/// The bootstrap node's launch configuration read at install: only `extraSANs`, no token.
pub fn bootstrap_install_config(spec: &ClusterSpec) -> String {
    emit(&hash([
        ("version", s(LAUNCH_CONFIG_VERSION)),
        ("extraSANs", sans(spec)),
    ]))
}

/// The bootstrap node's second launch configuration, dropped into the cluster agent's
/// directory after the CA swap: the token (which opens the cluster to joins) and the addons.
pub fn bootstrap_cluster_config(spec: &ClusterSpec, token: &str) -> String {
    emit(&hash([
        ("version", s(LAUNCH_CONFIG_VERSION)),
        ("persistentClusterToken", s(token)),
        ("addons", addons(spec)),
    ]))
}

/// A joining node's launch configuration. Control-plane joiners carry the token too (any
/// control-plane node can then admit later nodes) and the SANs; workers join with `worker`.
pub fn joiner_config(spec: &ClusterSpec, token: &str, control_plane: bool) -> String {
    let join = hash([
        ("url", s(&join_url(spec, token))),
        ("worker", Yaml::Boolean(!control_plane)),
    ]);
    let mut entries = vec![("version", s(LAUNCH_CONFIG_VERSION))];
    if control_plane {
        entries.push(("persistentClusterToken", s(token)));
        entries.push(("extraSANs", sans(spec)));
    }
    entries.push(("join", join));
    emit(&hash(entries))
}

fn file(path: &str, permissions: &str, content: &str) -> Yaml {
    hash([
        ("path", s(path)),
        ("owner", s("root:root")),
        ("permissions", s(permissions)),
        ("content", s(content)),
    ])
}

fn bootstrap_script(spec: &ClusterSpec) -> String {
    format!(
        "#!/bin/sh
# Written by brick (microk8s_cluster): forms the MicroK8s cluster on its first node.
set -eu
dir={WORK_DIR}
trap 'shred -u \"$dir/ca/ca.key\" \"$dir/cluster.yaml\" 2>/dev/null || true' EXIT
snap install microk8s --classic --channel={channel}
microk8s status --wait-ready
# The cluster's CA, made by brick, so that brick's admin certificate is accepted.
microk8s refresh-certs \"$dir/ca\"
shred -u \"$dir/ca/ca.key\"
microk8s status --wait-ready
# The token (and the addons) only now: joins wait for it, so none happens before the CA swap.
install -m 0600 \"$dir/cluster.yaml\" {LAUNCHER_DIR}/brick-cluster.yaml
",
        channel = spec.channel
    )
}

fn joiner_script(spec: &ClusterSpec) -> String {
    format!(
        "#!/bin/sh
# Written by brick (microk8s_cluster): installs MicroK8s; its cluster agent joins the cluster
# (retrying every 5 s until the first node has registered the token).
set -eu
snap install microk8s --classic --channel={channel}
",
        channel = spec.channel
    )
}

/// The cloud-init document of `node` (`None` when the spec has no such node).
pub fn cloud_init(spec: &ClusterSpec, node: &str, secrets: &Secrets<'_>) -> Option<String> {
    let control_plane = *spec.nodes.get(node)?;
    let script = format!("{WORK_DIR}/form-cluster.sh");
    let files = if node == spec.bootstrap_node {
        vec![
            file(LAUNCH_CONFIG_PATH, "0600", &bootstrap_install_config(spec)),
            file(
                &format!("{WORK_DIR}/ca/ca.crt"),
                "0600",
                &secrets.pki.ca_certificate,
            ),
            file(
                &format!("{WORK_DIR}/ca/ca.key"),
                "0600",
                &secrets.pki.ca_private_key,
            ),
            file(
                &format!("{WORK_DIR}/cluster.yaml"),
                "0600",
                &bootstrap_cluster_config(spec, secrets.token),
            ),
            file(&script, "0700", &bootstrap_script(spec)),
        ]
    } else {
        vec![
            file(
                LAUNCH_CONFIG_PATH,
                "0600",
                &joiner_config(spec, secrets.token, control_plane),
            ),
            file(&script, "0700", &joiner_script(spec)),
        ]
    };
    let mut files = files;
    if control_plane {
        // The datastore member can be removed without a shell: `microk8s_node`'s destroy calls
        // a surviving control-plane node's agent with this token.
        files.push(file(
            AGENT_TOKEN_PATH,
            "0600",
            &agent_token(&secrets.pki.admin_private_key),
        ));
    }
    let doc = hash([
        ("write_files", Yaml::Array(files)),
        ("runcmd", Yaml::Array(vec![Yaml::Array(vec![s(&script)])])),
    ]);
    Some(format!("#cloud-config\n{}", emit(&doc)))
}

/// The admin kubeconfig: the API at `https://<api_address>:16443`, the cluster's CA, the admin
/// certificate and key.
pub fn kubeconfig(spec: &ClusterSpec, pki: &ClusterPki) -> String {
    let b64 = |x: &str| base64::engine::general_purpose::STANDARD.encode(x);
    let name = "microk8s";
    emit(&hash([
        ("apiVersion", s("v1")),
        ("kind", s("Config")),
        (
            "clusters",
            Yaml::Array(vec![hash([
                ("name", s(name)),
                (
                    "cluster",
                    hash([
                        ("server", s(&api_endpoint(&spec.api_address))),
                        ("certificate-authority-data", s(&b64(&pki.ca_certificate))),
                    ]),
                ),
            ])]),
        ),
        (
            "users",
            Yaml::Array(vec![hash([
                ("name", s("admin")),
                (
                    "user",
                    hash([
                        ("client-certificate-data", s(&b64(&pki.admin_certificate))),
                        ("client-key-data", s(&b64(&pki.admin_private_key))),
                    ]),
                ),
            ])]),
        ),
        (
            "contexts",
            Yaml::Array(vec![hash([
                ("name", s(name)),
                (
                    "context",
                    hash([("cluster", s(name)), ("user", s("admin"))]),
                ),
            ])]),
        ),
        ("current-context", s(name)),
    ]))
}

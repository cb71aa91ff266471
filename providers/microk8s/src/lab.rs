//! What the lab needs to play a MicroK8s machine: [`read_launch`] reads, from a machine's
//! user_data, the part brick's cloud-init gives MicroK8s (the bootstrap node's CA and token, or
//! a joiner's join URL), and [`serving_certificate`] makes the API server certificate the
//! first node would hold after `microk8s refresh-certs`. The lab itself (which starts the
//! simulated API server and registers Nodes) is the engine's composition; this module knows
//! only MicroK8s' side.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, SanType,
};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use yaml_rust2::{Yaml, YamlLoader};

use crate::render::{AGENT_PORT, LAUNCH_CONFIG_PATH, WORK_DIR};

/// What a machine's MicroK8s would do, as its launch configurations say.
#[derive(Clone, Debug, PartialEq)]
pub enum Launch {
    /// The first node: forms the cluster with this CA, then registers the token.
    Bootstrap {
        ca_certificate: String,
        ca_private_key: String,
        token: String,
        /// The API server certificate's extra names (`extraSANs`).
        sans: Vec<String>,
    },
    /// Another node: joins `address` (the cluster agent at `address:25000`) with `token`.
    Join {
        address: String,
        token: String,
        worker: bool,
    },
}

fn files(doc: &Yaml) -> Vec<(String, String)> {
    doc["write_files"]
        .as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|f| {
                    Some((
                        f["path"].as_str()?.to_string(),
                        f["content"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads the launch of a node from its cloud-init user_data; `None` when the document is not
/// a MicroK8s node's (or not brick's).
pub fn read_launch(user_data: &str) -> Option<Launch> {
    if !user_data.starts_with("#cloud-config") {
        return None;
    }
    let doc = YamlLoader::load_from_str(user_data)
        .ok()?
        .into_iter()
        .next()?;
    let files = files(&doc);
    let file = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| c.clone())
    };
    let launch = YamlLoader::load_from_str(&file(LAUNCH_CONFIG_PATH)?)
        .ok()?
        .into_iter()
        .next()?;
    if let Some(ca) = file(&format!("{WORK_DIR}/ca/ca.crt")) {
        let key = file(&format!("{WORK_DIR}/ca/ca.key"))?;
        let cluster = YamlLoader::load_from_str(&file(&format!("{WORK_DIR}/cluster.yaml"))?)
            .ok()?
            .into_iter()
            .next()?;
        return Some(Launch::Bootstrap {
            ca_certificate: ca,
            ca_private_key: key,
            token: cluster["persistentClusterToken"].as_str()?.to_string(),
            sans: strings(&launch["extraSANs"]),
        });
    }
    let url = launch["join"]["url"].as_str()?;
    let (host, rest) = url.split_once(':')?;
    let (port, token) = rest.split_once('/')?;
    if port != AGENT_PORT.to_string() {
        return None;
    }
    Some(Launch::Join {
        address: host.to_string(),
        token: token.split('/').next()?.to_string(),
        worker: launch["join"]["worker"].as_bool().unwrap_or(false),
    })
}

/// The API server's serving certificate for `names` (IP addresses or DNS names), signed by the
/// cluster's CA (PEM certificate and PKCS#1 RSA key, as `microk8s_cluster` makes them).
/// Returns the certificate and its key (PEM).
pub fn serving_certificate(
    ca_certificate: &str,
    ca_private_key: &str,
    names: &[String],
) -> Result<(String, String), String> {
    let rsa_key = rsa::RsaPrivateKey::from_pkcs1_pem(ca_private_key)
        .map_err(|e| format!("the CA key is not a PKCS#1 RSA key: {e}"))?;
    let der = rsa_key
        .to_pkcs8_der()
        .map_err(|e| format!("encoding the CA key: {e}"))?;
    let ca_key = KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes()),
        &PKCS_RSA_SHA256,
    )
    .map_err(|e| format!("loading the CA key: {e}"))?;
    let issuer = Issuer::from_ca_cert_pem(ca_certificate, ca_key)
        .map_err(|e| format!("reading the CA certificate: {e}"))?;
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kube-apiserver");
    p.distinguished_name = dn;
    p.subject_alt_names = names
        .iter()
        .filter_map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => Some(SanType::IpAddress(ip)),
            Err(_) => n.clone().try_into().ok().map(SanType::DnsName),
        })
        .collect();
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(365);
    let cert = p.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

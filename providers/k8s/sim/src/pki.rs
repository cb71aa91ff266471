//! Certificates for serving the simulated API: a serving certificate signed by a given CA
//! (the cluster's CA from `microk8s_cluster`), and a throwaway CA with serving and admin client
//! certificates for tests and `brick lab serve` without a cluster CA.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256, SanType,
};

use crate::server::TlsMaterial;

fn validity(p: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(365);
}

fn load_key(pem: &str) -> Result<KeyPair, String> {
    KeyPair::from_pem(pem)
        .or_else(|_| KeyPair::from_pem_and_sign_algo(pem, &PKCS_RSA_SHA256))
        .map_err(|e| format!("the CA key cannot be read (PKCS#8 PEM expected): {e}"))
}

fn sans(names: &[String]) -> Vec<SanType> {
    names
        .iter()
        .map(|n| match n.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(n.clone().try_into().expect("DNS name")),
        })
        .collect()
}

/// A serving certificate for `names` (DNS names or IP addresses) signed by the CA.
pub fn serving_cert(
    ca_cert_pem: &str,
    ca_key_pem: &str,
    names: &[String],
) -> Result<TlsMaterial, String> {
    let ca_key = load_key(ca_key_pem)?;
    let issuer = Issuer::from_ca_cert_pem(ca_cert_pem, ca_key)
        .map_err(|e| format!("the CA certificate cannot be read: {e}"))?;
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "kube-apiserver");
    p.distinguished_name = dn;
    p.subject_alt_names = sans(names);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut p);
    let cert = p.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    Ok(TlsMaterial {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A throwaway CA with a serving certificate for 127.0.0.1/localhost and an admin client
/// certificate (`CN=admin, O=system:masters`).
#[derive(Clone, Debug)]
pub struct TestPki {
    pub ca_cert_pem: String,
    pub ca_key_pem: String,
    pub serving: TlsMaterial,
    pub admin_cert_pem: String,
    pub admin_key_pem: String,
}

impl TestPki {
    pub fn generate() -> Result<TestPki, String> {
        let ca_key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut ca = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "brick-lab-ca");
        ca.distinguished_name = dn;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut ca);
        let ca_cert = ca.self_signed(&ca_key).map_err(|e| e.to_string())?;
        let ca_key_pem = ca_key.serialize_pem();
        let issuer = Issuer::new(ca, ca_key);
        let serving = serving_cert(
            &ca_cert.pem(),
            &ca_key_pem,
            &["127.0.0.1".into(), "localhost".into()],
        )?;
        let admin_key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut admin = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "admin");
        dn.push(DnType::OrganizationName, "system:masters");
        admin.distinguished_name = dn;
        admin.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut admin);
        let admin_cert = admin
            .signed_by(&admin_key, &issuer)
            .map_err(|e| e.to_string())?;
        Ok(TestPki {
            ca_cert_pem: ca_cert.pem(),
            ca_key_pem,
            serving,
            admin_cert_pem: admin_cert.pem(),
            admin_key_pem: admin_key.serialize_pem(),
        })
    }

    /// A kubeconfig for `server` authenticating with the admin client certificate.
    pub fn kubeconfig(&self, server: &str) -> String {
        kubeconfig(
            server,
            &self.ca_cert_pem,
            &self.admin_cert_pem,
            &self.admin_key_pem,
        )
    }
}

/// A kubeconfig (YAML) with one cluster, one client-certificate user and one context.
pub fn kubeconfig(server: &str, ca_pem: &str, cert_pem: &str, key_pem: &str) -> String {
    use base64::Engine;
    let b = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\nusers:\n- name: admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    user: admin\ncurrent-context: lab\n",
        b(ca_pem),
        b(cert_pem),
        b(key_pem)
    )
}

//! The cluster's secrets, made once when the cluster is created: an RSA CA (MicroK8s'
//! `refresh-certs` checks the key with `openssl rsa -check`, so it must be RSA), an admin client
//! certificate signed by it (`CN=admin, O=system:masters`, as MicroK8s' own admin) and the
//! join token (MicroK8s' `persistentClusterToken`).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use rsa::rand_core::{OsRng, RngCore};

/// Bits of the CA's RSA key.
pub const CA_KEY_BITS: usize = 2048;
/// How long the CA and the admin certificate are valid (MicroK8s' own CA: 10 years).
pub const VALIDITY_DAYS: i64 = 3650;
/// Length of a generated join token (MicroK8s requires at least 32 characters).
pub const TOKEN_LEN: usize = 32;

/// The generated secrets of one cluster, PEM encoded.
#[derive(Clone, Debug)]
pub struct ClusterPki {
    pub ca_certificate: String,
    /// PKCS#1 (`RSA PRIVATE KEY`), as `openssl genrsa` writes it and MicroK8s keeps it.
    pub ca_private_key: String,
    pub admin_certificate: String,
    pub admin_private_key: String,
}

/// A new join token: 32 lowercase hexadecimal characters (128 random bits), the shape of the
/// tokens `microk8s add-node` prints.
pub fn new_token() -> String {
    let mut bytes = [0u8; TOKEN_LEN / 2];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(VALIDITY_DAYS);
}

/// A new CA (RSA) named after the cluster, and an admin client certificate signed by it.
pub fn new_cluster_pki(cluster_name: &str) -> Result<ClusterPki, String> {
    let rsa_key = rsa::RsaPrivateKey::new(&mut OsRng, CA_KEY_BITS)
        .map_err(|e| format!("generating the CA's RSA key: {e}"))?;
    let pkcs8 = rsa_key
        .to_pkcs8_der()
        .map_err(|e| format!("encoding the CA's key: {e}"))?;
    let ca_private_key = rsa_key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| format!("encoding the CA's key: {e}"))?
        .to_string();
    let ca_key = KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
        &PKCS_RSA_SHA256,
    )
    .map_err(|e| format!("loading the CA's key: {e}"))?;

    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    // Never 127.0.0.1: MicroK8s' add-node refuses a CA whose subject holds it.
    dn.push(
        DnType::CommonName,
        format!("microk8s {cluster_name} CA (brick)"),
    );
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut ca);
    let ca_cert = ca
        .self_signed(&ca_key)
        .map_err(|e| format!("signing the CA: {e}"))?;

    let admin_key = KeyPair::generate().map_err(|e| format!("generating the admin key: {e}"))?;
    let mut admin = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "admin");
    dn.push(DnType::OrganizationName, "system:masters");
    admin.distinguished_name = dn;
    admin.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    admin.use_authority_key_identifier_extension = true;
    validity(&mut admin);
    let issuer = Issuer::new(ca, ca_key);
    let admin_cert = admin
        .signed_by(&admin_key, &issuer)
        .map_err(|e| format!("signing the admin certificate: {e}"))?;

    Ok(ClusterPki {
        ca_certificate: ca_cert.pem(),
        ca_private_key,
        admin_certificate: admin_cert.pem(),
        admin_private_key: admin_key.serialize_pem(),
    })
}

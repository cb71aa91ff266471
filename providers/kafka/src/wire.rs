//! A small Kafka connection of brick's own, for the admin APIs librdkafka lacks: client quotas
//! (DescribeClientQuotas and AlterClientQuotas, KIP-546) and partition reassignments
//! (AlterPartitionReassignments and ListPartitionReassignments, KIP-455), and each broker's own
//! Metadata (a wait that every broker sees a change). The messages are `kafka-protocol`'s,
//! generated from Kafka's own message schemas; this module only frames them over TCP, with TLS
//! (OpenSSL, as librdkafka) and SASL (PLAIN, SCRAM-SHA-256/512) as the provider is configured.
//! Blocking: callers run it on a blocking thread.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
use openssl::x509::X509;
use rdkafka::error::RDKafkaErrorCode;

use crate::client::Settings;
use crate::ffi::AdminError;

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// The Metadata version asked (Kafka 2.8+; 4.x serves 0–13).
const METADATA_VERSION: i16 = 12;

/// One connection to one broker.
pub struct Conn {
    stream: Box<dyn Stream>,
    correlation: i32,
}

fn err(code: RDKafkaErrorCode, message: impl Into<String>) -> AdminError {
    AdminError {
        code,
        message: message.into(),
    }
}

fn io(doing: &str, e: impl std::fmt::Display) -> AdminError {
    err(
        RDKafkaErrorCode::BrokerTransportFailure,
        format!("{doing}: {e}"),
    )
}

/// A Kafka error code of a response as an [`AdminError`] (0: none).
pub fn kafka_code(code: i16, message: Option<&str>) -> Result<(), AdminError> {
    if code == 0 {
        return Ok(());
    }
    let c: RDKafkaErrorCode = rdkafka_sys::RDKafkaRespErr::try_from(i32::from(code))
        .map(Into::into)
        .unwrap_or(RDKafkaErrorCode::Unknown);
    Err(err(c, message.unwrap_or_default()))
}

impl Conn {
    /// Connects to the first bootstrap server that answers, with TLS and SASL as configured.
    pub fn open(s: &Settings, timeout: Duration) -> Result<Conn, AdminError> {
        let mut last = err(RDKafkaErrorCode::AllBrokersDown, "no bootstrap server");
        for addr in &s.bootstrap_servers {
            match Conn::open_one(addr, s, timeout) {
                Ok(c) => return Ok(c),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The partition count of each of `topics` as every broker's own Metadata shows it (`None`:
    /// that broker does not know the topic yet, or no longer): one connection per broker that
    /// the cluster lists, each asked directly, since each learns changes from the metadata log
    /// on its own. Keyed by broker id.
    pub fn metadata_per_broker(
        s: &Settings,
        topics: &[String],
        timeout: Duration,
    ) -> Result<BTreeMap<i32, BTreeMap<String, Option<usize>>>, AdminError> {
        let req = MetadataRequest::default()
            .with_topics(Some(
                topics
                    .iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect(),
            ))
            .with_allow_auto_topic_creation(false);
        let shown = |r: &MetadataResponse| -> BTreeMap<String, Option<usize>> {
            let mut m: BTreeMap<String, Option<usize>> =
                topics.iter().map(|t| (t.clone(), None)).collect();
            for t in &r.topics {
                if let Some(name) = &t.name
                    && t.error_code == 0
                {
                    m.insert(name.0.to_string(), Some(t.partitions.len()));
                }
            }
            m
        };
        let first: MetadataResponse =
            Conn::open(s, timeout)?.call(ApiKey::Metadata, METADATA_VERSION, &req)?;
        let mut out = BTreeMap::new();
        for b in &first.brokers {
            let addr = format!("{}:{}", b.host, b.port);
            let r: MetadataResponse = Conn::open_one(&addr, s, timeout)?.call(
                ApiKey::Metadata,
                METADATA_VERSION,
                &req,
            )?;
            out.insert(b.node_id.0, shown(&r));
        }
        Ok(out)
    }

    fn open_one(addr: &str, s: &Settings, timeout: Duration) -> Result<Conn, AdminError> {
        let sock = addr
            .to_socket_addrs()
            .map_err(|e| io(&format!("resolving {addr}"), e))?
            .next()
            .ok_or_else(|| io(&format!("resolving {addr}"), "no address"))?;
        let tcp = TcpStream::connect_timeout(&sock, timeout)
            .map_err(|e| io(&format!("connecting to {addr}"), e))?;
        tcp.set_read_timeout(Some(timeout)).ok();
        tcp.set_write_timeout(Some(timeout)).ok();
        let stream: Box<dyn Stream> = if s.tls_enabled {
            let mut b = SslConnector::builder(SslMethod::tls_client())
                .map_err(|e| io("setting up TLS", e))?;
            if let Some(ca) = &s.ca_cert {
                if ca.contains("-----BEGIN") {
                    for cert in
                        X509::stack_from_pem(ca.as_bytes()).map_err(|e| io("reading ca_cert", e))?
                    {
                        b.cert_store_mut()
                            .add_cert(cert)
                            .map_err(|e| io("reading ca_cert", e))?;
                    }
                } else {
                    b.set_ca_file(ca).map_err(|e| io("reading ca_cert", e))?;
                }
            }
            if let Some(cert) = &s.client_cert {
                if cert.contains("-----BEGIN") {
                    let c = X509::from_pem(cert.as_bytes())
                        .map_err(|e| io("reading client_cert", e))?;
                    b.set_certificate(&c)
                        .map_err(|e| io("reading client_cert", e))?;
                } else {
                    b.set_certificate_file(cert, SslFiletype::PEM)
                        .map_err(|e| io("reading client_cert", e))?;
                }
            }
            if let Some(key) = &s.client_key {
                if key.contains("-----BEGIN") {
                    let k = PKey::private_key_from_pem(key.as_bytes())
                        .map_err(|e| io("reading client_key", e))?;
                    b.set_private_key(&k)
                        .map_err(|e| io("reading client_key", e))?;
                } else {
                    b.set_private_key_file(key, SslFiletype::PEM)
                        .map_err(|e| io("reading client_key", e))?;
                }
            }
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            let tls = b
                .build()
                .connect(host, tcp)
                .map_err(|e| io(&format!("TLS with {addr}"), e))?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        let mut c = Conn {
            stream,
            correlation: 0,
        };
        if s.sasl_mechanism.is_some() || s.sasl_username.is_some() {
            c.authenticate(s)?;
        }
        Ok(c)
    }

    /// Sends one request and reads its response.
    pub fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        req: &Req,
    ) -> Result<Resp, AdminError> {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("brick")));
        let mut body: Vec<u8> = Vec::new();
        let enc = |e: anyhow::Error| err(RDKafkaErrorCode::InvalidArgument, e.to_string());
        header
            .encode(&mut body, key.request_header_version(version))
            .map_err(enc)?;
        req.encode(&mut body, version).map_err(enc)?;
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend(body);
        self.stream
            .write_all(&frame)
            .and_then(|()| self.stream.flush())
            .map_err(|e| io("sending a request", e))?;
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .map_err(|e| io("reading a response", e))?;
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        self.stream
            .read_exact(&mut buf)
            .map_err(|e| io("reading a response", e))?;
        let mut rd: &[u8] = &buf;
        let dec = |e: anyhow::Error| err(RDKafkaErrorCode::BadMessage, e.to_string());
        let h =
            ResponseHeader::decode(&mut rd, key.response_header_version(version)).map_err(dec)?;
        if h.correlation_id != self.correlation {
            return Err(err(RDKafkaErrorCode::BadMessage, "a response out of order"));
        }
        Resp::decode(&mut rd, version).map_err(dec)
    }

    fn authenticate(&mut self, s: &Settings) -> Result<(), AdminError> {
        let mechanism = match s
            .sasl_mechanism
            .as_deref()
            .unwrap_or("plain")
            .to_ascii_lowercase()
            .as_str()
        {
            "plain" => "PLAIN",
            "scram-sha-256" => "SCRAM-SHA-256",
            "scram-sha-512" => "SCRAM-SHA-512",
            other => {
                return Err(err(
                    RDKafkaErrorCode::InvalidArgument,
                    format!("unknown SASL mechanism {other}"),
                ));
            }
        };
        let hs: SaslHandshakeResponse = self.call(
            ApiKey::SaslHandshake,
            1,
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
        )?;
        kafka_code(
            hs.error_code,
            Some(&format!("the broker does not offer SASL {mechanism}")),
        )?;
        let user = s.sasl_username.clone().unwrap_or_default();
        let pass = s.sasl_password.clone().unwrap_or_default();
        if mechanism == "PLAIN" {
            self.sasl_step(format!("\0{user}\0{pass}").into_bytes())?;
            return Ok(());
        }
        let md = if mechanism == "SCRAM-SHA-256" {
            MessageDigest::sha256()
        } else {
            MessageDigest::sha512()
        };
        let mut nonce = [0u8; 18];
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| io("SCRAM", e))?;
        let mut scram = Scram::new(md, &user, &pass, &openssl::base64::encode_block(&nonce));
        let first = self.sasl_step(scram.client_first().into_bytes())?;
        let fin = scram.client_final(&String::from_utf8_lossy(&first))?;
        let last = self.sasl_step(fin.into_bytes())?;
        scram.verify_server(&String::from_utf8_lossy(&last))
    }

    fn sasl_step(&mut self, bytes: Vec<u8>) -> Result<Vec<u8>, AdminError> {
        let r: SaslAuthenticateResponse = self.call(
            ApiKey::SaslAuthenticate,
            2,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes)),
        )?;
        let msg = r.error_message.as_ref().map(|m| m.to_string());
        kafka_code(
            r.error_code,
            msg.as_deref().or(Some("SASL authentication failed")),
        )?;
        Ok(r.auth_bytes.to_vec())
    }
}

/// The client side of SCRAM (RFC 5802, RFC 7677).
pub struct Scram {
    md: MessageDigest,
    password: String,
    first_bare: String,
    nonce: String,
    auth_message: String,
    salted: Vec<u8>,
}

fn scram_err(m: &str) -> AdminError {
    err(RDKafkaErrorCode::Authentication, format!("SCRAM: {m}"))
}

impl Scram {
    pub fn new(md: MessageDigest, user: &str, password: &str, nonce: &str) -> Scram {
        let name = user.replace('=', "=3D").replace(',', "=2C");
        Scram {
            md,
            password: password.into(),
            first_bare: format!("n={name},r={nonce}"),
            nonce: nonce.into(),
            auth_message: String::new(),
            salted: Vec::new(),
        }
    }

    pub fn client_first(&self) -> String {
        format!("n,,{}", self.first_bare)
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> Result<Vec<u8>, AdminError> {
        let k = PKey::hmac(key).map_err(|e| scram_err(&e.to_string()))?;
        let mut s = Signer::new(self.md, &k).map_err(|e| scram_err(&e.to_string()))?;
        s.update(data).map_err(|e| scram_err(&e.to_string()))?;
        s.sign_to_vec().map_err(|e| scram_err(&e.to_string()))
    }

    pub fn client_final(&mut self, server_first: &str) -> Result<String, AdminError> {
        let field = |k: &str| {
            server_first
                .split(',')
                .find_map(|p| p.strip_prefix(&format!("{k}=")))
                .ok_or_else(|| scram_err("the server's first message lacks a field"))
        };
        let r = field("r")?;
        if !r.starts_with(&self.nonce) {
            return Err(scram_err("the server's nonce does not extend ours"));
        }
        let salt = openssl::base64::decode_block(field("s")?).map_err(|_| scram_err("bad salt"))?;
        let iterations: usize = field("i")?
            .parse()
            .map_err(|_| scram_err("bad iteration count"))?;
        let mut salted = vec![0u8; self.md.size()];
        openssl::pkcs5::pbkdf2_hmac(
            self.password.as_bytes(),
            &salt,
            iterations,
            self.md,
            &mut salted,
        )
        .map_err(|e| scram_err(&e.to_string()))?;
        let without_proof = format!("c=biws,r={r}");
        self.auth_message = format!("{},{server_first},{without_proof}", self.first_bare);
        let client_key = self.hmac(&salted, b"Client Key")?;
        let stored =
            openssl::hash::hash(self.md, &client_key).map_err(|e| scram_err(&e.to_string()))?;
        let sig = self.hmac(&stored, self.auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
        self.salted = salted;
        Ok(format!(
            "{without_proof},p={}",
            openssl::base64::encode_block(&proof)
        ))
    }

    pub fn verify_server(&self, server_final: &str) -> Result<(), AdminError> {
        if let Some(e) = server_final.strip_prefix("e=") {
            return Err(scram_err(e));
        }
        let v = server_final
            .strip_prefix("v=")
            .ok_or_else(|| scram_err("the server's final message lacks its signature"))?;
        let server_key = self.hmac(&self.salted, b"Server Key")?;
        let want = self.hmac(&server_key, self.auth_message.as_bytes())?;
        if openssl::base64::encode_block(&want) != v {
            return Err(scram_err("the server's signature is wrong"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scram_sha_256_follows_the_rfc_7677_example() {
        let mut s = Scram::new(
            MessageDigest::sha256(),
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO",
        );
        assert_eq!(s.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let fin = s
            .client_final("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .unwrap();
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify_server("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(s.verify_server("v=AAAA").is_err());
    }
}

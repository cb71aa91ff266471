//! The kafka provider over TLS and SASL against a real broker started by this test: Kafka's
//! own broker (the peers' jars, `$KAFKA_BIN/../../libs`, or `$KAFKA_LIBS`) in KRaft mode with a
//! `SASL_SSL` listener that requires a client certificate (mutual TLS) and offers SASL/PLAIN and
//! SCRAM-SHA-512, certificates made here with rcgen. The conformance suite for `kafka_topic`,
//! `kafka_acl` and `kafka_quota` runs over SCRAM (quotas go over brick's own wire client, so its
//! TLS and SCRAM are proven too); PLAIN creates a topic; a wrong password and a missing client
//! certificate are clear errors that print no secret. Skipped, with a visible line, without the
//! peers' Kafka jars or `java`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brick_provider_api::conformance::{Fixture, assert_conforms};
use brick_provider_api::schema::Block;
use brick_provider_api::{Number, Provider, Type, Value};
use brick_provider_kafka::KafkaProvider;
use brick_provider_kafka::resources::{acl, quota, topic};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

const SCRAM_USER: &str = "brick";
const SCRAM_PASSWORD: &str = "scram-Secret-31";
const PLAIN_USER: &str = "plainuser";
const PLAIN_PASSWORD: &str = "plain-Secret-47";

/// The Kafka jars of the peers (`tests/peers/kafka.sh` keeps them beside the CLI).
fn libs() -> Option<PathBuf> {
    let dir = match std::env::var("KAFKA_LIBS") {
        Ok(d) => PathBuf::from(d),
        Err(_) => PathBuf::from(std::env::var("KAFKA_BIN").ok()?).join("../../libs"),
    };
    let java = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (java && dir.join(".").is_dir()).then_some(dir)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// PEM texts: the CA, the broker's key and chain, the client's certificate and key.
struct Pki {
    ca: String,
    server: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "brick tls_sasl test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>, cn: &str| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        let cert = p.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], "localhost");
    let (client_cert, client_key) = leaf(Vec::new(), "brick-client");
    Pki {
        ca: ca_cert.pem(),
        // Kafka's PEM key store file: the PKCS#8 key, then the chain.
        server: format!("{server_key}{server_cert}"),
        client_cert,
        client_key,
    }
}

/// A broker process, killed (by its own PID) when dropped.
struct Broker {
    child: Child,
    bootstrap: String,
    dir: PathBuf,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn java(libs: &Path, dir: &Path) -> Command {
    let mut c = Command::new("java");
    c.arg("-Xms64m")
        .arg("-Xmx384m")
        .arg(format!("-Dkafka.logs.dir={}", dir.display()))
        .arg(format!(
            "-Dlog4j2.configurationFile={}",
            dir.join("log4j2.properties").display()
        ))
        .arg("-cp")
        .arg(format!("{}/*", libs.display()));
    c
}

fn start_broker(libs: &Path, pki: &Pki) -> Broker {
    let dir = std::env::temp_dir().join(format!("brick-tls-sasl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("server.pem"), &pki.server).unwrap();
    std::fs::write(dir.join("ca.pem"), &pki.ca).unwrap();
    std::fs::write(
        dir.join("log4j2.properties"),
        "status = warn\nappender.file.type = File\nappender.file.name = file\nappender.file.fileName = ${sys:kafka.logs.dir}/server.log\nappender.file.layout.type = PatternLayout\nappender.file.layout.pattern = [%d] %p %m (%c)%n\nrootLogger.level = INFO\nrootLogger.appenderRef.file.ref = file\n",
    )
    .unwrap();
    let (port, internal, controller) = (free_port(), free_port(), free_port());
    // On a SASL_SSL listener Kafka honours ssl.client.auth only with the listener prefix
    // (KIP-684); the internal listener carries the broker's own traffic.
    let props = format!(
        "process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller}
listeners=SASL_SSL://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=SASL_SSL://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal}
listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_{PLAIN_USER}=\"{PLAIN_PASSWORD}\";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location={dir}/server.pem
ssl.truststore.type=PEM
ssl.truststore.location={dir}/ca.pem
listener.name.sasl_ssl.ssl.client.auth=required
log.dirs={dir}/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
super.users=User:ANONYMOUS
",
        dir = dir.display()
    );
    std::fs::write(dir.join("server.properties"), props).unwrap();
    let format = java(libs, &dir)
        .args([
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id=brickTlsSaslTest000001",
            "--add-scram",
        ])
        .arg(format!(
            "SCRAM-SHA-512=[name={SCRAM_USER},password={SCRAM_PASSWORD}]"
        ))
        .arg("-c")
        .arg(dir.join("server.properties"))
        .output()
        .expect("running Kafka's StorageTool");
    assert!(
        format.status.success(),
        "formatting the broker's storage: {}{}",
        String::from_utf8_lossy(&format.stdout),
        String::from_utf8_lossy(&format.stderr)
    );
    let child = java(libs, &dir)
        .arg("kafka.Kafka")
        .arg(dir.join("server.properties"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .expect("starting the broker");
    let broker = Broker {
        child,
        bootstrap: format!("127.0.0.1:{port}"),
        dir: dir.clone(),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        if log.contains("Kafka Server started") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the TLS/SASL broker did not start in 120 s: {}",
            log.lines().rev().take(20).collect::<Vec<_>>().join("\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    broker
}

fn conform(block: &Block, set: Vec<(&str, Value)>) -> Value {
    let mut m = BTreeMap::new();
    for (k, a) in &block.attributes {
        m.insert(k.clone(), Value::null(a.ty.clone()));
    }
    for (k, v) in set {
        m.insert(k.to_string(), v);
    }
    Value::object(m)
}

fn s(x: &str) -> Value {
    Value::string(x)
}

fn n(x: i64) -> Value {
    Value::number(Number::from_i64(x))
}

fn strings(pairs: &[(&str, &str)]) -> Value {
    Value::map(
        Type::String,
        pairs.iter().map(|(k, v)| (k.to_string(), s(v))).collect(),
    )
}

fn settings(
    bootstrap: &str,
    pki: &Pki,
    mechanism: &str,
    user: &str,
    password: &str,
    client_cert: bool,
) -> Value {
    let mut set = vec![
        (
            "bootstrap_servers",
            Value::list(Type::String, vec![s(bootstrap)]),
        ),
        ("tls_enabled", Value::bool(true)),
        ("ca_cert", s(&pki.ca)),
        ("sasl_mechanism", s(mechanism)),
        ("sasl_username", s(user)),
        ("sasl_password", s(password)),
    ];
    if client_cert {
        set.push(("client_cert", s(&pki.client_cert)));
        set.push(("client_key", s(&pki.client_key)));
    }
    conform(&KafkaProvider::provider_block(), set)
}

fn topic_cfg(name: &str, partitions: i64) -> Value {
    conform(
        &topic::schema().block,
        vec![
            ("name", s(name)),
            ("partitions", n(partitions)),
            ("replication_factor", n(1)),
            ("config", strings(&[("retention.ms", "3600000")])),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_works_over_mutual_tls_with_scram_and_plain() {
    let Some(libs) = libs() else {
        brick_provider_api::testing::skip(
            "no Kafka jars or java — run tests/peers/up.sh kafka (or set KAFKA_LIBS)",
        );
        return;
    };
    let pki = pki();
    let broker = start_broker(&libs, &pki);
    let b = broker.bootstrap.clone();

    // SCRAM-SHA-512 with a client certificate: the whole contract, quotas over brick's wire
    // client included.
    let p = KafkaProvider::default();
    let d = p
        .configure(&settings(
            &b,
            &pki,
            "scram-sha-512",
            SCRAM_USER,
            SCRAM_PASSWORD,
            true,
        ))
        .await;
    assert!(d.is_empty(), "{d:?}");
    let acl_cfg = |op: &str| {
        conform(
            &acl::schema().block,
            vec![
                ("acl_principal", s("User:reader")),
                ("acl_host", s("*")),
                ("acl_operation", s(op)),
                ("acl_permission_type", s("Allow")),
                ("resource_type", s("Topic")),
                ("resource_name", s("tls-topic")),
                ("resource_pattern_type_filter", s("Literal")),
            ],
        )
    };
    let quota_cfg = |rate: &str| {
        conform(
            &quota::schema().block,
            vec![
                ("entity_name", s("reader")),
                ("entity_type", s("user")),
                ("config", strings(&[("producer_byte_rate", rate)])),
            ],
        )
    };
    assert_conforms(
        &p,
        &[
            Fixture::new(topic::TYPE, topic_cfg("tls-topic", 1))
                .updated(topic_cfg("tls-topic", 3))
                .import_id_attr("name"),
            Fixture::new(acl::TYPE, acl_cfg("Read"))
                .updated(acl_cfg("Write"))
                .import_id_attr("id"),
            Fixture::new(quota::TYPE, quota_cfg("1048576"))
                .updated(quota_cfg("2097152"))
                .import_id_attr("id"),
        ],
    )
    .await;

    // SASL/PLAIN on the same listener.
    let plain = KafkaProvider::default();
    let d = plain
        .configure(&settings(
            &b,
            &pki,
            "plain",
            PLAIN_USER,
            PLAIN_PASSWORD,
            true,
        ))
        .await;
    assert!(d.is_empty(), "{d:?}");
    assert_conforms(
        &plain,
        &[Fixture::new(topic::TYPE, topic_cfg("plain-topic", 2)).import_id_attr("name")],
    )
    .await;

    // A wrong password, and no client certificate: clear errors, no secret in them.
    for (what, cfg) in [
        (
            "a wrong SCRAM password",
            settings(
                &b,
                &pki,
                "scram-sha-512",
                SCRAM_USER,
                "not-the-Password-9",
                true,
            ),
        ),
        (
            "no client certificate",
            settings(&b, &pki, "scram-sha-512", SCRAM_USER, SCRAM_PASSWORD, false),
        ),
    ] {
        let d = KafkaProvider::default().configure(&cfg).await;
        assert_eq!(
            d.iter().map(|d| d.code.as_str()).collect::<Vec<_>>(),
            vec!["brick::kafka::unreachable"],
            "{what}: {d:?}"
        );
        let text = format!("{d:?}");
        for secret in [
            SCRAM_PASSWORD,
            "not-the-Password-9",
            pki.client_key.as_str(),
        ] {
            assert!(!text.contains(secret), "{what}: a secret in {text}");
        }
    }
    drop(broker);
}

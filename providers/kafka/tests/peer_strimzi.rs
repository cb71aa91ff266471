//! Smoke tests of the strimzi peer (`tests/peers/up.sh strimzi`): Strimzi's real KafkaTopic CRD in
//! the k8s peer and the project's Topic Operator stand-in making the real Kafka follow it. Driven
//! by third-party clients only: `kubectl` ($KUBECTL) writes the KafkaTopic and reads its status,
//! Kafka's own `kafka-topics.sh` (in $KAFKA_BIN) describes the topic. Skipped, with a visible
//! line, without the peer; skipped with a message even under BRICK_TEST_STRICT when Strimzi's
//! manifests (reference data beside the repository) are absent, as the peer then says.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SKIP: &str = "no Strimzi peer — run tests/peers/up.sh strimzi";

struct Peer {
    kubectl: String,
    kubeconfig: String,
    namespace: String,
    cluster: String,
    topics_sh: String,
    bootstrap: String,
}

fn peer() -> Option<Peer> {
    if let Ok(reason) = std::env::var("STRIMZI_SKIPPED") {
        brick_provider_api::testing::skip_without_reference_data(&reason);
        return None;
    }
    let var = |n: &str| std::env::var(n).ok();
    let (
        Some(kubectl),
        Some(kubeconfig),
        Some(namespace),
        Some(cluster),
        Some(topics_sh),
        Some(bootstrap),
    ) = (
        var("KUBECTL"),
        var("BRICK_PEERS_KUBECONFIG"),
        var("STRIMZI_NAMESPACE"),
        var("STRIMZI_CLUSTER"),
        var("KAFKA_BIN").map(|d| format!("{d}/kafka-topics.sh")),
        var("KAFKA_BOOTSTRAP"),
    )
    else {
        brick_provider_api::testing::skip(SKIP);
        return None;
    };
    Some(Peer {
        kubectl,
        kubeconfig,
        namespace,
        cluster,
        topics_sh,
        bootstrap,
    })
}

impl Peer {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("-n")
            .arg(&self.namespace)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running kubectl");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("writing to kubectl");
        drop(input);
        child.wait_with_output().expect("kubectl's output")
    }

    fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn apply_topic(&self, name: &str, partitions: u32, replicas: u32) {
        let manifest = format!(
            "apiVersion: kafka.strimzi.io/v1\nkind: KafkaTopic\nmetadata:\n  name: {name}\n  labels:\n    strimzi.io/cluster: {cluster}\nspec:\n  partitions: {partitions}\n  replicas: {replicas}\n  config:\n    retention.ms: 7200000\n",
            cluster = self.cluster
        );
        self.kubectl_ok(&["apply", "-f", "-"], Some(&manifest));
    }

    /// `Ready` condition's status, reason and message, and observedGeneration vs generation.
    fn status(&self, name: &str) -> String {
        self.kubectl_ok(
            &[
                "get",
                "kafkatopic",
                name,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}|{.status.conditions[?(@.type==\"Ready\")].reason}|{.status.conditions[?(@.type==\"Ready\")].message}|{.status.topicName}|{.status.observedGeneration}/{.metadata.generation}",
            ],
            None,
        )
    }

    /// Waits until the status (as [`Peer::status`] prints it) satisfies `want`.
    fn wait_status(&self, name: &str, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.status(name);
            if want(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "KafkaTopic {name}: no {what} after 60 s; status: {s}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn describe(&self, topic: &str) -> Output {
        Command::new(&self.topics_sh)
            .args([
                "--bootstrap-server",
                &self.bootstrap,
                "--describe",
                "--topic",
            ])
            .arg(topic)
            .output()
            .expect("running kafka-topics.sh")
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

#[test]
fn a_kafka_topic_created_with_kubectl_becomes_a_real_topic_and_ready() {
    let Some(p) = peer() else { return };
    let name = unique("brick-kt");
    p.apply_topic(&name, 3, 3);
    let status = p.wait_status(&name, "Ready=True", |s| {
        s.starts_with("True|") && s.ends_with("/1")
    });
    assert_eq!(status, format!("True|||{name}|1/1"));

    let out = p.describe(&name);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kafka-topics.sh --describe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("Topic: {name}")) && text.contains("PartitionCount: 3"),
        "{text}"
    );
    assert!(text.contains("ReplicationFactor: 3"), "{text}");
    assert!(text.contains("retention.ms=7200000"), "{text}");
    let partitions = text
        .lines()
        .filter(|l| {
            l.trim_start()
                .starts_with(&format!("Topic: {name}\tPartition:"))
        })
        .count();
    assert_eq!(partitions, 3, "{text}");

    // Partitions grow; a decrease and a replication factor change are refused in the status,
    // with Strimzi's reasons, and Kafka keeps the topic as it is.
    p.apply_topic(&name, 5, 3);
    p.wait_status(&name, "Ready=True at generation 2", |s| {
        s.starts_with("True|") && s.ends_with("2/2")
    });
    let text = String::from_utf8_lossy(&p.describe(&name).stdout).into_owned();
    assert!(text.contains("PartitionCount: 5"), "{text}");

    p.apply_topic(&name, 2, 3);
    let refused = p.wait_status(&name, "a refused decrease", |s| s.starts_with("False|"));
    assert_eq!(
        refused,
        format!("False|NotSupported|Decreasing partitions not supported|{name}|3/3")
    );
    p.apply_topic(&name, 5, 2);
    let refused = p.wait_status(&name, "a refused replicas change", |s| {
        s.starts_with("False|") && s.ends_with("4/4")
    });
    assert!(
        refused.starts_with(
            "False|NotSupported|Replication factor change not supported, but required for partitions [0, 1, 2, 3, 4]|"
        ),
        "{refused}"
    );
    let text = String::from_utf8_lossy(&p.describe(&name).stdout).into_owned();
    assert!(
        text.contains("PartitionCount: 5") && text.contains("ReplicationFactor: 3"),
        "{text}"
    );

    // Deleting the KafkaTopic deletes the topic (behind Strimzi's finalizer).
    p.kubectl_ok(&["delete", "kafkatopic", &name, "--timeout=60s"], None);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = p.describe(&name);
        // TopicCommand prints its error on stdout (and, with a logger, the exception on stderr).
        let err = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() && err.contains("does not exist") {
            break;
        }
        assert!(Instant::now() < deadline, "topic {name} still there: {err}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_real_crd_rejects_a_kafka_topic_with_a_bad_spec() {
    let Some(p) = peer() else { return };
    let manifest = format!(
        "apiVersion: kafka.strimzi.io/v1\nkind: KafkaTopic\nmetadata:\n  name: {}\n  labels:\n    strimzi.io/cluster: {}\nspec:\n  partitions: three\n",
        unique("brick-bad"),
        p.cluster
    );
    let out = p.kubectl(&["apply", "-f", "-"], Some(&manifest));
    assert!(
        !out.status.success(),
        "a string partition count was accepted"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.partitions"), "{err}");
}

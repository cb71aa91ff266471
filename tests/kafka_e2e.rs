//! End to end on the real Kafka peer (`tests/peers/up.sh kafka`): the real `brick` binary creates
//! 1,000 topics in one plain apply (one CreateTopics request, counted in the brokers' request
//! log), grows partitions and changes configuration in place, sees changes made with the real
//! Kafka CLI (`kafka-configs.sh --alter`, `kafka-topics.sh --alter --partitions`) as drift,
//! refuses a partition decrease, imports a topic the CLI made, adds an ACL beside one the CLI
//! made without touching it, sets a quota the CLI reads back, and destroys it all. A no-op plan
//! right after apply exits 0: no broker default shows as a difference. Skipped, with a visible
//! line, without `KAFKA_BOOTSTRAP` and `KAFKA_BIN` (the CLI).

mod support;

use std::path::Path;
use std::process::Command;

use support::{Dir, Run, command};

struct Peer {
    bootstrap: String,
    bin: String,
    brokers: usize,
}

fn peer() -> Option<Peer> {
    let (Ok(bootstrap), Ok(bin)) = (std::env::var("KAFKA_BOOTSTRAP"), std::env::var("KAFKA_BIN"))
    else {
        brick_provider_api::testing::skip(
            "no Kafka or no Kafka CLI (KAFKA_BOOTSTRAP, KAFKA_BIN) — run tests/peers/up.sh kafka",
        );
        return None;
    };
    let brokers = std::env::var("KAFKA_BROKERS")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(1);
    Some(Peer {
        bootstrap,
        bin,
        brokers,
    })
}

impl Peer {
    /// Runs one of the real Kafka CLI scripts against the peer; its stdout.
    fn cli(&self, tool: &str, args: &[&str]) -> String {
        let out = Command::new(format!("{}/kafka-{tool}.sh", self.bin))
            .arg("--bootstrap-server")
            .arg(&self.bootstrap)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kafka-{tool}.sh {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn brick(&self, dir: &Path, args: &[&str]) -> Run {
        Run::of(command(dir, args).env("KAFKA_BOOTSTRAP_SERVERS", &self.bootstrap))
    }
}

/// The brokers' request log while it lives: `kafka.request.logger` at DEBUG on every broker
/// (set with the real `kafka-configs.sh --entity-type broker-loggers`, as an operator would;
/// set back to the level it had when dropped), read from each node's server.log under
/// `KAFKA_DIR` (tests/peers/kafka.sh). `None`, with a visible line, without `KAFKA_DIR`.
struct RequestLog<'a> {
    peer: &'a Peer,
    logs: Vec<(std::path::PathBuf, u64)>,
    level: String,
}

impl<'a> RequestLog<'a> {
    fn start(peer: &'a Peer) -> Option<RequestLog<'a>> {
        let Ok(dir) = std::env::var("KAFKA_DIR") else {
            brick_provider_api::testing::skip(
                "no KAFKA_DIR (the brokers' logs): the request count is not checked",
            );
            return None;
        };
        let described = peer.cli(
            "configs",
            &[
                "--describe",
                "--entity-type",
                "broker-loggers",
                "--entity-name",
                "1",
            ],
        );
        let level = described
            .lines()
            .find_map(|l| l.trim().strip_prefix("kafka.request.logger="))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("WARN")
            .to_string();
        let logs = (1..=peer.brokers)
            .map(|i| {
                let path = Path::new(&dir).join(format!("node{i}/server.log"));
                let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                (path, len)
            })
            .collect();
        let log = RequestLog { peer, logs, level };
        for ok in log.set("DEBUG") {
            assert!(ok, "kafka-configs.sh could not set the request logger");
        }
        Some(log)
    }

    /// Sets the request logger of every broker to `level`; whether each call succeeded.
    fn set(&self, level: &str) -> Vec<bool> {
        (1..=self.peer.brokers)
            .map(|i| {
                Command::new(format!("{}/kafka-configs.sh", self.peer.bin))
                    .args(["--bootstrap-server", &self.peer.bootstrap, "--alter"])
                    .args(["--entity-type", "broker-loggers", "--entity-name"])
                    .arg(i.to_string())
                    .arg("--add-config")
                    .arg(format!("kafka.request.logger={level}"))
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .collect()
    }

    /// The requests of `api` (its name in the log, `CREATE_TOPICS`) that clients sent (not
    /// those a broker forwarded to the controller) since the start, naming a topic whose name
    /// starts with `topic_prefix`.
    fn count(&self, api: &str, topic_prefix: &str) -> usize {
        let api = format!("\"requestApiKeyName\":\"{api}\"");
        let topic = format!("\"name\":\"{topic_prefix}");
        self.logs
            .iter()
            .map(|(path, from)| {
                let bytes = std::fs::read(path).unwrap_or_default();
                let new = String::from_utf8_lossy(&bytes[(*from as usize).min(bytes.len())..])
                    .into_owned();
                new.lines()
                    .filter(|l| {
                        l.contains("Completed request:")
                            && l.contains("\"isForwarded\":false")
                            && l.contains(&api)
                            && l.contains(&topic)
                    })
                    .count()
            })
            .sum()
    }
}

impl Drop for RequestLog<'_> {
    fn drop(&mut self) {
        let level = self.level.clone();
        let set = self.set(&level);
        if set.iter().any(|ok| !ok) && !std::thread::panicking() {
            panic!("the request logger could not be set back to {level}");
        }
    }
}

const MAIN: &str = r#"
variable "prefix" { type = string }
variable "n" { default = 1000 }
variable "rf" { default = 1 }
variable "partitions" { default = 2 }
variable "retention" { default = "3600000" }
variable "isr" { default = "1" }

provider "kafka" {}

resource "kafka_topic" "many" {
  count              = var.n
  name               = "${var.prefix}-many-${count.index}"
  partitions         = 1
  replication_factor = 1
}

resource "kafka_topic" "main" {
  name               = "${var.prefix}-main"
  partitions         = var.partitions
  replication_factor = var.rf
  config = {
    "retention.ms"        = var.retention
    "min.insync.replicas" = var.isr
  }
}

resource "kafka_acl" "read_main" {
  resource_name       = kafka_topic.main.name
  resource_type       = "Topic"
  acl_principal       = "User:reader"
  acl_host            = "*"
  acl_operation       = "Read"
  acl_permission_type = "Allow"
}

resource "kafka_quota" "reader" {
  entity_name = "${var.prefix}-reader"
  entity_type = "user"
  config = {
    "producer_byte_rate" = "1048576"
    "consumer_byte_rate" = "2097152"
  }
}
"#;

const IMPORTED: &str = r#"
resource "kafka_topic" "imported" {
  name               = "${var.prefix}-imported"
  partitions         = 2
  replication_factor = 1
  config = {
    "retention.ms" = "5000"
  }
}
"#;

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("e2e-{}-{nanos}", std::process::id())
}

#[test]
fn a_thousand_topics_apply_drift_from_the_kafka_cli_shows_an_import_adopts_and_destroy_cleans_up() {
    let Some(k) = peer() else { return };
    let prefix = unique();
    let dir = Dir::new(MAIN);
    let d = dir.path();
    let rf = k.brokers.min(3).to_string();
    let var = |name: &str, v: &str| format!("--var={name}={v}");
    let base = [var("prefix", &prefix), var("rf", &rf)];
    // The subcommand, the run's variables, then the step's own (a later --var wins).
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = extra[..1].iter().map(|s| s.to_string()).collect();
        a.extend(base.iter().cloned());
        a.extend(extra[1..].iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        k.brick(d, &a)
    };

    // An ACL someone else made on the same topic: brick's must never replace it.
    k.cli(
        "acls",
        &[
            "--add",
            "--allow-principal",
            "User:other",
            "--operation",
            "Read",
            "--topic",
            &format!("{prefix}-main"),
        ],
    );

    // Impossible plans are refused as a whole, at the resource's line, before anything changes.
    let too_many = (k.brokers + 1).to_string();
    let o = run(&["plan", &var("rf", &too_many)])
        .failed_with("Replication factor above the number of brokers");
    assert!(o.stderr.contains("on main.hcl line"), "{}", o.stderr);
    run(&["plan", "--var=isr=5"]).failed_with("min.insync.replicas above the replication factor");

    // 1,000 topics (and one more, an ACL and a quota) in one plain apply: the default
    // --parallelism of 10 counts requests, and the 1,001 topic creates are one CreateTopics
    // request, as the brokers' own request log shows.
    let log = RequestLog::start(&k);
    let t0 = std::time::Instant::now();
    let o = run(&["apply", "--auto-approve"]).ok();
    eprintln!("apply of 1,003 objects: {:?}", t0.elapsed());
    assert!(
        o.stdout.contains("1003 added"),
        "{}\n{}",
        o.stdout,
        o.stderr
    );
    if let Some(log) = log {
        assert_eq!(
            log.count("CREATE_TOPICS", &prefix),
            1,
            "1,001 topic creates in one CreateTopics request"
        );
    }
    let listed = k.cli("topics", &["--list"]);
    let many = listed
        .lines()
        .filter(|l| l.starts_with(&format!("{prefix}-many-")))
        .count();
    assert_eq!(many, 1000, "the real CLI lists the topics");

    // A no-op plan right after apply: no broker default shows as a difference.
    let t0 = std::time::Instant::now();
    let o = run(&["plan", "--detailed-exitcode"]);
    eprintln!("no-op plan over 1,003 objects: {:?}", t0.elapsed());
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);

    // The ACL is there beside the other one, as the real CLI reads them.
    let acls = k.cli("acls", &["--list", "--topic", &format!("{prefix}-main")]);
    assert!(
        acls.contains("User:reader") && acls.contains("User:other"),
        "{acls}"
    );
    // The quota, as the real CLI reads it.
    let reader = format!("{prefix}-reader");
    let quotas = k.cli(
        "configs",
        &[
            "--describe",
            "--entity-type",
            "users",
            "--entity-name",
            &reader,
        ],
    );
    assert!(
        quotas.contains("producer_byte_rate=1048576")
            && quotas.contains("consumer_byte_rate=2097152"),
        "{quotas}"
    );

    // Grow partitions and change the configuration in place.
    let o = run(&[
        "apply",
        "--auto-approve",
        "--var=partitions=4",
        "--var=retention=7200000",
    ])
    .ok();
    assert!(
        o.stdout.contains("0 added, 1 changed, 0 destroyed"),
        "{}",
        o.stdout
    );
    let described = k.cli(
        "topics",
        &["--describe", "--topic", &format!("{prefix}-main")],
    );
    assert!(described.contains("PartitionCount: 4"), "{described}");
    let configs = k.cli(
        "configs",
        &[
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            &format!("{prefix}-main"),
        ],
    );
    assert!(configs.contains("retention.ms=7200000"), "{configs}");

    // Drift made with the real CLI.
    k.cli(
        "configs",
        &[
            "--alter",
            "--entity-type",
            "topics",
            "--entity-name",
            &format!("{prefix}-main"),
            "--add-config",
            "retention.ms=1000",
        ],
    );
    k.cli(
        "topics",
        &[
            "--alter",
            "--topic",
            &format!("{prefix}-main"),
            "--partitions",
            "6",
        ],
    );
    // Six partitions now: four would be a decrease, refused at plan (never a recreate).
    run(&["plan", "--var=partitions=4", "--var=retention=7200000"])
        .failed_with("Partitions cannot decrease");
    let o = run(&[
        "plan",
        "--detailed-exitcode",
        "--var=partitions=6",
        "--var=retention=7200000",
    ]);
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("\"1000\" -> \"7200000\""),
        "the drifted value is shown: {}",
        o.stdout
    );
    assert!(o.stdout.contains("1 to change"), "{}", o.stdout);
    run(&[
        "apply",
        "--auto-approve",
        "--var=partitions=6",
        "--var=retention=7200000",
    ])
    .ok();
    let configs = k.cli(
        "configs",
        &[
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            &format!("{prefix}-main"),
        ],
    );
    assert!(configs.contains("retention.ms=7200000"), "{configs}");

    // A topic the CLI made is imported by name; the plan is then empty.
    k.cli(
        "topics",
        &[
            "--create",
            "--topic",
            &format!("{prefix}-imported"),
            "--partitions",
            "2",
            "--replication-factor",
            "1",
            "--config",
            "retention.ms=5000",
        ],
    );
    std::fs::write(d.join("imported.hcl"), IMPORTED).unwrap();
    let after = ["--var=partitions=6", "--var=retention=7200000"];
    let mut import = vec!["import"];
    import.extend(after);
    let id = format!("{prefix}-imported");
    import.extend(["kafka_topic.imported", id.as_str()]);
    run(&import).ok();
    let mut plan = vec!["plan", "--detailed-exitcode"];
    plan.extend(after);
    let o = run(&plan);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);

    // Destroy: every topic and brick's ACL go; the other ACL stays.
    let mut destroy = vec!["destroy", "--auto-approve"];
    destroy.extend(after);
    run(&destroy).ok();
    let listed = k.cli("topics", &["--list"]);
    assert!(
        !listed.lines().any(|l| l.starts_with(&prefix)),
        "no topic of this run is left"
    );
    let acls = k.cli("acls", &["--list", "--topic", &format!("{prefix}-main")]);
    assert!(
        acls.contains("User:other") && !acls.contains("User:reader"),
        "{acls}"
    );
    let quotas = k.cli(
        "configs",
        &[
            "--describe",
            "--entity-type",
            "users",
            "--entity-name",
            &reader,
        ],
    );
    assert!(!quotas.contains("byte_rate"), "{quotas}");
    k.cli(
        "acls",
        &[
            "--remove",
            "--force",
            "--allow-principal",
            "User:other",
            "--operation",
            "Read",
            "--topic",
            &format!("{prefix}-main"),
        ],
    );
}

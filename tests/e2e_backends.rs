//! State backends on their real stores: `s3` on Ceph's RGW, `kubernetes` on the real
//! kube-apiserver, `pg` on PostgreSQL (the peers of tests/peers). For each: two applies at once
//! (one holds the lock, the other is refused naming the holder), kill -9 of the holder and
//! its recovery (automatic in the holder's working copy, refused elsewhere), migration from
//! local to the backend and back, encryption (nothing readable in the store, no key and a
//! wrong key are clear errors). Kubernetes also keeps a state over 1 MiB in chunked Secrets.
//! A store that ignores conditional writes is refused by `brick init`: the real RGW behind an
//! in-test proxy that strips If-None-Match/If-Match (and signs again), and a tiny in-test S3
//! that ignores them (runs without peers).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use brick_provider_api::testing::skip;
use brick_state_backends::{self as be, BackendConfig};
use support::{Dir, Running, command, text};

#[derive(Clone, Copy, Debug)]
enum Kind {
    S3,
    Kubernetes,
    Pg,
}

/// The backend block (HCL) and the same settings for the backends crate, with a key of its
/// own; `None` (after a visible skip) when the peer is not running.
fn backend(kind: Kind) -> Option<(String, BackendConfig)> {
    let id = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut settings = BTreeMap::new();
    let hcl = match kind {
        Kind::S3 => {
            let (Some(endpoint), Some(ak), Some(sk)) = (
                env("BRICK_PEERS_S3_ENDPOINT"),
                env("BRICK_PEERS_S3_ACCESS_KEY"),
                env("BRICK_PEERS_S3_SECRET_KEY"),
            ) else {
                skip("no S3 store — run tests/peers/up.sh rgw");
                return None;
            };
            let bucket = env("BRICK_PEERS_S3_BUCKET").unwrap_or_else(|| "brick-state".into());
            let key = format!("tests/{id}/brick.state.json");
            settings.insert("bucket".into(), bucket.clone());
            settings.insert("key".into(), key.clone());
            settings.insert("endpoints.s3".into(), endpoint.clone());
            settings.insert("access_key".into(), ak.clone());
            settings.insert("secret_key".into(), sk.clone());
            settings.insert("use_path_style".into(), "true".into());
            format!(
                "backend \"s3\" {{\n    bucket = \"{bucket}\"\n    key = \"{key}\"\n    region = \"us-east-1\"\n    endpoints = {{ s3 = \"{endpoint}\" }}\n    access_key = \"{ak}\"\n    secret_key = \"{sk}\"\n    use_path_style = true\n    use_lockfile = true\n  }}"
            )
        }
        Kind::Kubernetes => {
            let Some(kc) = env("BRICK_PEERS_KUBECONFIG") else {
                skip("no Kubernetes API — run tests/peers/up.sh k8s");
                return None;
            };
            settings.insert("secret_suffix".into(), id.clone());
            settings.insert("namespace".into(), "default".into());
            settings.insert("config_path".into(), kc.clone());
            format!(
                "backend \"kubernetes\" {{\n    secret_suffix = \"{id}\"\n    namespace = \"default\"\n    config_path = \"{kc}\"\n  }}"
            )
        }
        Kind::Pg => {
            let Some(conn) = env("BRICK_PEERS_PG_CONN") else {
                skip("no PostgreSQL — run tests/peers/up.sh pg");
                return None;
            };
            let schema = format!("t_{id}");
            settings.insert("conn_str".into(), conn.clone());
            settings.insert("schema_name".into(), schema.clone());
            format!(
                "backend \"pg\" {{\n    conn_str = \"{conn}\"\n    schema_name = \"{schema}\"\n  }}"
            )
        }
    };
    let kind = match kind {
        Kind::S3 => "s3",
        Kind::Kubernetes => "kubernetes",
        Kind::Pg => "pg",
    };
    Some((
        hcl,
        BackendConfig {
            kind: kind.into(),
            settings,
        },
    ))
}

fn config(backend: &str, body: &str) -> String {
    format!("brick {{\n  {backend}\n}}\n\n{body}")
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    command(dir, args).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(o.status.success(), "brick {args:?} failed:\n{}", text(&o));
    text(&o)
}

fn fails(dir: &Path, args: &[&str], code: &str) -> String {
    let o = run(dir, args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "brick {args:?} should fail:\n{t}");
    assert!(t.contains(code), "brick {args:?} should say {code}:\n{t}");
    t
}

/// The store's document for `default`, decrypted with nothing (raw bytes).
fn raw(cfg: &BackendConfig) -> Option<Vec<u8>> {
    be::open(cfg)
        .unwrap()
        .read("default")
        .unwrap()
        .map(|s| s.bytes)
}

fn header(bytes: &[u8]) -> (String, u64) {
    be::remote_header(bytes).expect("a state document")
}

const SLOW: &str = "resource \"brick_data\" \"a\" { input = \"a\" }\nresource \"brick_sleep\" \"wait\" {\n  create_duration = \"8s\"\n  triggers = { a = brick_data.a.id }\n}\n";

fn concurrent_applies(kind: Kind) {
    let Some((hcl, cfg)) = backend(kind) else {
        return;
    };
    let a = Dir::new(&config(&hcl, SLOW));
    let b = Dir::new(&config(
        &hcl,
        "resource \"brick_data\" \"b\" { input = \"b\" }\n",
    ));
    ok(a.path(), &["init"]);
    ok(b.path(), &["init"]);
    let mut first = Running::start(command(a.path(), &["apply", "--auto-approve"]));
    first.wait_for("brick_sleep.wait: Creating...");
    let pid = first.child.id();
    // The second is refused at once, naming the holder (its pid, operation, lock id).
    let t = fails(
        b.path(),
        &["apply", "--auto-approve"],
        "brick::backend::locked",
    );
    assert!(
        t.contains(&format!("pid {pid}")),
        "names the holder's pid {pid}:\n{t}"
    );
    assert!(t.contains("apply by"), "names the holder's operation:\n{t}");
    assert!(t.contains("force-unlock"), "says how to recover:\n{t}");
    let (code, out) = first.finish();
    assert_eq!(code, Some(0), "the first apply finishes:\n{out}");
    // Released: the second one now runs, on the state the first one wrote.
    let t = ok(b.path(), &["apply", "--auto-approve"]);
    assert!(t.contains("1 added, 0 changed, 2 destroyed"), "{t}");
    let (_, serial) = header(&raw(&cfg).unwrap());
    assert_eq!(serial, 2, "two applies, two serials");
}

fn kill_nine_and_recover(kind: Kind) {
    let Some((hcl, cfg)) = backend(kind) else {
        return;
    };
    let a = Dir::new(&config(&hcl, SLOW));
    let b = Dir::new(&config(&hcl, SLOW));
    ok(a.path(), &["init"]);
    ok(b.path(), &["init"]);
    let mut first = Running::start(command(a.path(), &["apply", "--auto-approve"]));
    first.wait_for("brick_sleep.wait: Creating...");
    // The sleep lasts 8 s: let the journal's group commit reach the disk first.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let pid = first.child.id();
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let _ = first.finish();
    // Elsewhere (another working copy, without the crashed run's journal) the lock is still
    // refused, naming the crashed holder.
    let t = fails(b.path(), &["plan"], "brick::backend::locked");
    assert!(t.contains(&format!("pid {pid}")), "{t}");
    // ... and the store tells what the interrupted apply was doing, by whom, from where.
    for t in [t, ok(b.path(), &["state", "list"])] {
        assert!(t.contains("brick::backend::unfinished_apply"), "{t}");
        assert!(t.contains(&format!("(pid {pid}, working copy ")), "{t}");
        assert!(t.contains(&a.path().display().to_string()), "{t}");
        assert!(
            t.contains("create brick_data.a") && t.contains("create brick_sleep.wait"),
            "{t}"
        );
    }
    // Where it ran, the next run takes the lock over and settles the journal.
    let t = ok(a.path(), &["apply", "--auto-approve"]);
    assert!(
        t.contains("Recovered") || t.contains("interrupted"),
        "the journal is settled:\n{t}"
    );
    let state = raw(&cfg).expect("pushed");
    let s = String::from_utf8_lossy(&state);
    assert_eq!(
        s.matches("\"name\": \"a\"").count(),
        1,
        "tracked once:\n{s}"
    );
    assert!(s.contains("\"name\": \"wait\""), "{s}");
    // And now the other working copy runs too, with nothing left to do, and nothing
    // unfinished any more.
    let t = ok(b.path(), &["plan"]);
    assert!(t.contains("No changes"), "{t}");
    assert!(!t.contains("unfinished_apply"), "{t}");
}

fn migrate_and_encrypt(kind: Kind) {
    let Some((hcl, cfg)) = backend(kind) else {
        return;
    };
    let secret = "hunter2-very-secret";
    let body = format!(
        "variable \"pw\" {{\n  sensitive = true\n  default = \"{secret}\"\n}}\nresource \"brick_data\" \"a\" {{ input = var.pw }}\n"
    );
    let d = Dir::new(&body);
    ok(d.path(), &["init"]);
    ok(d.path(), &["apply", "--auto-approve"]);
    let local = std::fs::read(d.path().join("brick.state.json")).unwrap();
    let (lineage, serial) = header(&local);
    // The backend block appears: init refuses to move state silently...
    std::fs::write(d.path().join("main.hcl"), config(&hcl, &body)).unwrap();
    fails(d.path(), &["plan"], "brick::init::required");
    fails(d.path(), &["init"], "brick::init::backend_changed");
    // ... and -migrate-state copies it, encrypted, serial and lineage kept.
    let pass = "correct horse battery staple";
    let o = command(d.path(), &["init", "-migrate-state"])
        .env("BRICK_STATE_PASSPHRASE", pass)
        .env("BRICK_STATE_ALLOW_UNENCRYPTED", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let stored = raw(&cfg).expect("migrated");
    assert!(
        be::is_encrypted(&stored),
        "the store holds an encrypted document"
    );
    let shown = String::from_utf8_lossy(&stored);
    assert!(
        !shown.contains(secret) && !shown.contains(&lineage),
        "{shown}"
    );
    // Without the key, with a wrong one: clear errors naming the key's source.
    fails(d.path(), &["plan"], "brick::backend::encrypted");
    let o = command(d.path(), &["plan"])
        .env("BRICK_STATE_PASSPHRASE", "a wrong passphrase, long enough")
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("brick::backend::decrypt") && t.contains("BRICK_STATE_PASSPHRASE"),
        "{t}"
    );
    // The right key: no changes, and the state went round unchanged.
    let o = command(d.path(), &["plan"])
        .env("BRICK_STATE_PASSPHRASE", pass)
        .output()
        .unwrap();
    assert!(text(&o).contains("No changes"), "{}", text(&o));
    // The local working copy (snapshot, backup, lock) holds nothing readable either.
    let copy = d.path().join(".brick/remote/default");
    for e in std::fs::read_dir(&copy).unwrap() {
        let e = e.unwrap();
        let bytes = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
        assert!(
            !bytes.contains(secret) && !bytes.contains("brick_data"),
            "{} is readable:\n{bytes}",
            e.path().display()
        );
    }
    // A saved plan is encrypted too, and needs the key to be applied.
    let o = command(d.path(), &["plan", "--out", "tfplan"])
        .env("BRICK_STATE_PASSPHRASE", pass)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let saved = std::fs::read(d.path().join("tfplan")).unwrap();
    assert!(be::is_encrypted(&saved));
    assert!(!String::from_utf8_lossy(&saved).contains(secret));
    fails(d.path(), &["show", "tfplan"], "brick::cli::plan_decrypt");
    // Rotation: a new primary key, the old one as fallback; the next write uses the new one.
    let new_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let rotate = |args: &[&str]| {
        command(d.path(), args)
            .env("BRICK_STATE_KEY", new_key)
            .env("BRICK_STATE_FALLBACK_PASSPHRASE", pass)
            .output()
            .unwrap()
    };
    std::fs::write(
        d.path().join("main.hcl"),
        config(
            &hcl,
            &format!("{body}resource \"brick_data\" \"b\" {{ input = \"b\" }}\n"),
        ),
    )
    .unwrap();
    let o = rotate(&["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = command(d.path(), &["plan"])
        .env("BRICK_STATE_KEY", new_key)
        .output()
        .unwrap();
    assert!(
        text(&o).contains("No changes"),
        "readable with the new key alone: {}",
        text(&o)
    );
    // Back to local, still encrypted (the key is set), same lineage, a later serial.
    std::fs::write(
        d.path().join("main.hcl"),
        format!("{body}resource \"brick_data\" \"b\" {{ input = \"b\" }}\n"),
    )
    .unwrap();
    let o = command(d.path(), &["init", "-migrate-state"])
        .env("BRICK_STATE_KEY", new_key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    for f in ["brick.state.json", "brick.state.json.backup"] {
        let bytes = std::fs::read(d.path().join(f)).unwrap();
        assert!(be::is_encrypted(&bytes), "{f} is encrypted");
    }
    let o = command(d.path(), &["state", "pull"])
        .env("BRICK_STATE_KEY", new_key)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (l2, s2) = header(&o.stdout);
    assert_eq!(l2, lineage);
    assert!(s2 > serial, "{s2} > {serial}");
    let o = command(d.path(), &["plan"])
        .env("BRICK_STATE_KEY", new_key)
        .output()
        .unwrap();
    assert!(text(&o).contains("No changes"), "{}", text(&o));
    fails(d.path(), &["plan"], "brick::state::decrypt");
}

/// `force-unlock` of a backend's lock checks as on a local state: the lock of a brick still
/// running on this host is refused (even with `--force`, from either working copy); once its
/// holder is killed, brick asks first (no terminal to ask on: refused without `--force`), a
/// wrong id is refused, and `--force` from another working copy frees it for that one.
fn force_unlock_checks_the_holder_and_asks(kind: Kind) {
    let Some((hcl, cfg)) = backend(kind) else {
        return;
    };
    let a = Dir::new(&config(&hcl, SLOW));
    let b = Dir::new(&config(&hcl, SLOW));
    ok(a.path(), &["init"]);
    ok(b.path(), &["init"]);
    let store = be::open(&cfg).unwrap();
    let mut first = Running::start(command(a.path(), &["apply", "--auto-approve"]));
    first.wait_for("brick_sleep.wait: Creating...");
    let pid = first.child.id();
    let id = store
        .holder("default")
        .unwrap()
        .expect("the apply holds the lock")
        .id;
    for d in [&a, &b] {
        let t = fails(
            d.path(),
            &["force-unlock", "--force", &id],
            "brick::state::lock_holder_running",
        );
        assert!(t.contains(&format!("process {pid}")), "{t}");
        assert!(t.contains("--even-if-running"), "{t}");
    }
    assert_eq!(
        store.holder("default").unwrap().map(|h| h.id),
        Some(id.clone())
    );
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let _ = first.finish();
    let t = fails(
        b.path(),
        &["force-unlock", &id],
        "brick::cli::no_confirmation",
    );
    assert!(t.contains("--force"), "{t}");
    assert_eq!(
        store.holder("default").unwrap().map(|h| h.id),
        Some(id.clone()),
        "not removed without confirmation"
    );
    fails(
        b.path(),
        &["force-unlock", "--force", "not-the-id"],
        "brick::backend::lock_id_mismatch",
    );
    let t = ok(b.path(), &["force-unlock", "--force", &id]);
    assert!(
        t.contains("successfully unlocked") && t.contains(&format!("pid {pid}")),
        "{t}"
    );
    assert!(store.holder("default").unwrap().is_none());
    // The other working copy now runs (told of the interrupted apply it cannot settle).
    let t = ok(b.path(), &["plan"]);
    assert!(t.contains("brick::backend::unfinished_apply"), "{t}");
}

#[test]
fn s3_force_unlock_checks_the_holder_and_asks() {
    force_unlock_checks_the_holder_and_asks(Kind::S3);
}
#[test]
fn pg_force_unlock_checks_the_holder_and_asks() {
    force_unlock_checks_the_holder_and_asks(Kind::Pg);
}

#[test]
fn s3_concurrent_applies_one_is_refused_naming_the_holder() {
    concurrent_applies(Kind::S3);
}
#[test]
fn kubernetes_concurrent_applies_one_is_refused_naming_the_holder() {
    concurrent_applies(Kind::Kubernetes);
}
#[test]
fn pg_concurrent_applies_one_is_refused_naming_the_holder() {
    concurrent_applies(Kind::Pg);
}

#[test]
fn s3_kill_nine_of_the_holder_is_recovered_where_it_ran() {
    kill_nine_and_recover(Kind::S3);
}
#[test]
fn kubernetes_kill_nine_of_the_holder_is_recovered_where_it_ran() {
    kill_nine_and_recover(Kind::Kubernetes);
}
#[test]
fn pg_kill_nine_of_the_holder_is_recovered_where_it_ran() {
    kill_nine_and_recover(Kind::Pg);
}

#[test]
fn s3_migrate_from_local_and_back_with_encryption() {
    migrate_and_encrypt(Kind::S3);
}
#[test]
fn kubernetes_migrate_from_local_and_back_with_encryption() {
    migrate_and_encrypt(Kind::Kubernetes);
}
#[test]
fn pg_migrate_from_local_and_back_with_encryption() {
    migrate_and_encrypt(Kind::Pg);
}

#[test]
fn kubernetes_state_over_one_mib_is_chunked_across_secrets() {
    let Some((hcl, cfg)) = backend(Kind::Kubernetes) else {
        return;
    };
    // About 1.5 MiB of input, recorded twice (input and output): a state near 3 MiB.
    let body = "resource \"brick_data\" \"big\" {\n  input = join(\"\", [for i in range(1000) : join(\"\", [for j in range(24) : format(\"%064d\", i * 24 + j)])])\n}\n";
    let a = Dir::new(&config(&hcl, body));
    ok(a.path(), &["init"]);
    let t0 = Instant::now();
    ok(a.path(), &["apply", "--auto-approve"]);
    let took = t0.elapsed();
    let stored = raw(&cfg).expect("written");
    assert!(stored.len() > 2 * 1024 * 1024, "{} bytes", stored.len());
    // Secrets of the new generation hold it; the API server took each (under 1 MiB).
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let suffix = &cfg.settings["secret_suffix"];
    let out = Command::new(&kubectl)
        .args([
            "get",
            "secrets",
            "-n",
            "default",
            "-l",
            &format!("brick.dev/state-suffix={suffix},brick.dev/role=chunk"),
            "-o",
            "name",
        ])
        .env(
            "KUBECONFIG",
            std::env::var("BRICK_PEERS_KUBECONFIG").unwrap(),
        )
        .output()
        .unwrap();
    let chunks = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(chunks >= 3, "chunk Secrets: {chunks}");
    // Another working copy reads it whole: nothing to change.
    let b = Dir::new(&config(&hcl, body));
    ok(b.path(), &["init"]);
    assert!(ok(b.path(), &["plan"]).contains("No changes"));
    // A second write replaces the generation; the old chunks go.
    std::fs::write(
        b.path().join("main.hcl"),
        config(
            &hcl,
            &format!("{body}resource \"brick_data\" \"x\" {{ input = \"x\" }}\n"),
        ),
    )
    .unwrap();
    ok(b.path(), &["apply", "--auto-approve"]);
    let out = Command::new(&kubectl)
        .args([
            "get",
            "secrets",
            "-n",
            "default",
            "-l",
            &format!("brick.dev/state-suffix={suffix},brick.dev/role=chunk"),
            "-o",
            "name",
        ])
        .env(
            "KUBECONFIG",
            std::env::var("BRICK_PEERS_KUBECONFIG").unwrap(),
        )
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        chunks,
        "one generation of chunks left"
    );
    eprintln!(
        "kubernetes: a {} byte state applied in {took:?}",
        stored.len()
    );
}

/// A tiny S3 endpoint that stores objects and ignores every condition (If-None-Match,
/// If-Match), as some stores do.
fn careless_s3() -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut objects: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let key = path.split('?').next().unwrap_or("").to_string();
                let (status, out) = match method.as_str() {
                    "PUT" => {
                        objects.insert(key, body);
                        ("200 OK", Vec::new())
                    }
                    "GET" | "HEAD" => match objects.get(&key) {
                        Some(b) => ("200 OK", b.clone()),
                        None => (
                            "404 Not Found",
                            b"<Error><Code>NoSuchKey</Code></Error>".to_vec(),
                        ),
                    },
                    "DELETE" => {
                        objects.remove(&key);
                        ("204 No Content", Vec::new())
                    }
                    _ => ("400 Bad Request", Vec::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nETag: \"{}\"\r\nLast-Modified: Sun, 06 Dec 2026 10:00:00 GMT\r\nContent-Length: {}\r\n\r\n",
                    out.len(),
                    if method == "HEAD" { 0 } else { out.len() }
                );
                let _ = stream.write_all(head.as_bytes());
                if method != "HEAD" {
                    let _ = stream.write_all(&out);
                }
            }
        }
    });
    format!("http://{addr}")
}

#[test]
fn init_refuses_a_store_that_ignores_conditional_writes() {
    let endpoint = careless_s3();
    let d = Dir::new(&config(
        &format!(
            "backend \"s3\" {{\n    bucket = \"b\"\n    key = \"k/state.json\"\n    endpoints = {{ s3 = \"{endpoint}\" }}\n    access_key = \"x\"\n    secret_key = \"y\"\n  }}"
        ),
        "resource \"brick_data\" \"a\" { input = \"a\" }\n",
    ));
    let t = fails(d.path(), &["init"], "brick::backend::no_conditional_writes");
    assert!(t.contains("If-None-Match"), "{t}");
    assert!(
        !d.path().join(".brick/backend.json").exists(),
        "nothing recorded"
    );
}

/// HMAC-SHA256 (RFC 2104) over the sha2 the crate already uses, for the proxy's SigV4.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| block.iter().map(|k| k ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The SigV4 `Authorization` of a request (S3: the path as sent, the payload hash from
/// `x-amz-content-sha256`), signing `host` and every `x-amz-*` header, in the scope (date,
/// region, service) of the client's own signature.
fn sigv4(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    old_auth: &str,
    secret: &str,
) -> String {
    use sha2::{Digest, Sha256};
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let credential = old_auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split(',').next())
        .expect("a SigV4 Authorization");
    let (key_id, scope) = credential.split_once('/').unwrap();
    let s: Vec<&str> = scope.split('/').collect();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.contains('=') {
                p.to_string()
            } else {
                format!("{p}=")
            }
        })
        .collect();
    pairs.sort();
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k == "host" || k.starts_with("x-amz-"))
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    signed.sort();
    let names = signed
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical = format!(
        "{method}\n{path}\n{}\n{canonical_headers}\n{names}\n{}",
        pairs.join("&"),
        get("x-amz-content-sha256")
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        get("x-amz-date"),
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut k = hmac_sha256(format!("AWS4{secret}").as_bytes(), s[0].as_bytes());
    for part in &s[1..] {
        k = hmac_sha256(&k, part.as_bytes());
    }
    format!(
        "AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={names}, Signature={}",
        hex::encode(hmac_sha256(&k, to_sign.as_bytes()))
    )
}

/// A proxy on 127.0.0.1 in front of a real S3 store that drops the `If-None-Match` and
/// `If-Match` request headers, so the store performs every write unconditionally. object_store
/// signs every header it sends (SigV4 `SignedHeaders`), so a request that lost one would be
/// refused for its signature; with `secret` the proxy signs such a request again without
/// them. Returns the proxy's URL and the count of requests it stripped.
fn condition_stripping_proxy(
    upstream: &str,
    secret: Option<String>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::Ordering;
    let upstream = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let stripped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = stripped.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let (upstream, secret, count) = (upstream.clone(), secret.clone(), count.clone());
            // One request per connection: the upstream is asked to close, and so is the client.
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let mut parts = line.split_whitespace();
                let (method, target) = (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").to_string(),
                );
                let mut headers: Vec<(String, String)> = Vec::new();
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                assert!(
                    !headers.iter().any(|(k, _)| k == "transfer-encoding"),
                    "the proxy reads Content-Length bodies only: {headers:?}"
                );
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                let had_condition = headers
                    .iter()
                    .any(|(k, _)| k == "if-none-match" || k == "if-match");
                headers
                    .retain(|(k, _)| k != "if-none-match" && k != "if-match" && k != "connection");
                if had_condition {
                    count.fetch_add(1, Ordering::SeqCst);
                    if let Some(secret) = &secret {
                        let auth = headers
                            .iter()
                            .find(|(k, _)| k == "authorization")
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        let auth = sigv4(&method, &target, &headers, &auth, secret);
                        for h in headers.iter_mut().filter(|(k, _)| k == "authorization") {
                            h.1 = auth.clone();
                        }
                    }
                }
                let mut up = std::net::TcpStream::connect(&upstream).unwrap();
                let mut out = format!("{method} {target} HTTP/1.1\r\n");
                for (k, v) in &headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("connection: close\r\n\r\n");
                up.write_all(out.as_bytes()).unwrap();
                up.write_all(&body).unwrap();
                let _ = std::io::copy(&mut up, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (format!("http://{addr}"), stripped)
}

/// The real RGW behind a proxy that strips `If-None-Match` and `If-Match` (and signs the
/// request again, as the stripped headers were signed): RGW performs every write
/// unconditionally, and `brick init` refuses the store, recording nothing. Without the new
/// signature RGW refuses the stripped request itself (403), which says nothing about conditions.
#[test]
fn init_refuses_the_real_rgw_when_a_proxy_strips_the_conditions() {
    let Some((hcl, cfg)) = backend(Kind::S3) else {
        return;
    };
    let real = cfg.settings["endpoints.s3"].clone();
    let secret = cfg.settings["secret_key"].clone();
    let body = "resource \"brick_data\" \"a\" { input = \"a\" }\n";

    let (unsigned, _) = condition_stripping_proxy(&real, None);
    let d = Dir::new(&config(&hcl.replace(&real, &unsigned), body));
    let t = fails(d.path(), &["init"], "brick::backend::store");
    assert!(
        t.contains("403") && t.contains("SignatureDoesNotMatch"),
        "{t}"
    );

    let (proxy, stripped) = condition_stripping_proxy(&real, Some(secret));
    let d = Dir::new(&config(&hcl.replace(&real, &proxy), body));
    let t = fails(d.path(), &["init"], "brick::backend::no_conditional_writes");
    assert!(
        t.contains("a second create-if-absent (If-None-Match: *)") && t.contains("succeeded"),
        "RGW took the unconditional write: {t}"
    );
    assert!(stripped.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert!(
        !d.path().join(".brick/backend.json").exists(),
        "nothing recorded"
    );
    assert!(raw(&cfg).is_none(), "no state written to the store");
}

#[test]
fn backend_arguments_must_be_literal_and_known() {
    let d = Dir::new(
        "variable \"b\" { default = \"x\" }\nbrick {\n  backend \"s3\" {\n    bucket = var.b\n    key = \"k\"\n  }\n}\n",
    );
    let t = fails(d.path(), &["init"], "backend_not_literal");
    assert!(t.contains("main.hcl"), "{t}");
    let d = Dir::new(
        "brick {\n  backend \"s3\" {\n    bucket = \"b\"\n    key = \"k\"\n    buckett = \"c\"\n  }\n}\n",
    );
    let t = fails(d.path(), &["init"], "brick::backend::config");
    assert!(t.contains("buckett"), "{t}");
}

#[test]
fn local_workspaces_keep_separate_states() {
    let d = Dir::new("resource \"brick_data\" \"a\" { input = \"a\" }\n");
    ok(d.path(), &["apply", "--auto-approve"]);
    assert!(ok(d.path(), &["workspace", "new", "staging"]).contains("staging"));
    ok(d.path(), &["apply", "--auto-approve"]);
    assert!(
        d.path()
            .join("brick.state.d/staging/brick.state.json")
            .exists()
    );
    let list = ok(d.path(), &["workspace", "list"]);
    assert!(
        list.contains("  default") && list.contains("* staging"),
        "{list}"
    );
    ok(d.path(), &["workspace", "select", "default"]);
    fails(
        d.path(),
        &["workspace", "select", "nope"],
        "brick::workspace::not_found",
    );
}

#[test]
fn pg_two_schemas_never_share_a_lock() {
    let (Some((hcl_a, _)), Some((hcl_b, _))) = (backend(Kind::Pg), backend(Kind::Pg)) else {
        return;
    };
    let a = Dir::new(&config(&hcl_a, SLOW));
    let b = Dir::new(&config(
        &hcl_b,
        "resource \"brick_data\" \"b\" { input = \"b\" }\n",
    ));
    ok(a.path(), &["init"]);
    ok(b.path(), &["init"]);
    let mut first = Running::start(command(a.path(), &["apply", "--auto-approve"]));
    first.wait_for("brick_sleep.wait: Creating...");
    // Same database, same workspace name, another schema: its own lock.
    ok(b.path(), &["apply", "--auto-approve"]);
    let (code, out) = first.finish();
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn migrate_between_backends_keeps_serial_and_lineage() {
    let (Some((s3, s3_cfg)), Some((k8s, k8s_cfg)), Some((pg, pg_cfg)), Some((s3b, s3b_cfg))) = (
        backend(Kind::S3),
        backend(Kind::Kubernetes),
        backend(Kind::Pg),
        backend(Kind::S3),
    ) else {
        return;
    };
    let body = "resource \"brick_data\" \"a\" { input = \"a\" }\n";
    let d = Dir::new(body);
    ok(d.path(), &["apply", "--auto-approve"]);
    let (lineage, serial) = header(&std::fs::read(d.path().join("brick.state.json")).unwrap());
    // local -> s3 -> kubernetes -> pg -> s3 (another key): with local <-> each
    // (migrate_and_encrypt) and s3 -> pg -> kubernetes -> s3
    // (migration_from_a_backend_waits_for_an_unfinished_apply), every ordered pair.
    for (hcl, cfg) in [
        (&s3, &s3_cfg),
        (&k8s, &k8s_cfg),
        (&pg, &pg_cfg),
        (&s3b, &s3b_cfg),
    ] {
        std::fs::write(d.path().join("main.hcl"), config(hcl, body)).unwrap();
        let t = ok(d.path(), &["init", "-migrate-state"]);
        assert!(t.contains("Copied workspace \"default\""), "{t}");
        assert_eq!(
            header(&raw(cfg).unwrap()),
            (lineage.clone(), serial),
            "{}",
            cfg.kind
        );
        assert!(ok(d.path(), &["plan"]).contains("No changes"));
    }
    // A target holding another lineage is refused, and left as it was.
    let other = Dir::new(body);
    ok(other.path(), &["apply", "--auto-approve"]);
    std::fs::write(other.path().join("main.hcl"), config(&s3, body)).unwrap();
    fails(
        other.path(),
        &["init", "-migrate-state"],
        "brick::state::lineage_mismatch",
    );
    assert_eq!(header(&raw(&s3_cfg).unwrap()).0, lineage);
    std::fs::write(d.path().join("main.hcl"), body).unwrap();
    ok(d.path(), &["init", "-migrate-state"]);
    assert_eq!(
        header(&std::fs::read(d.path().join("brick.state.json")).unwrap()),
        (lineage, serial)
    );
    for cfg in [&s3_cfg, &k8s_cfg, &pg_cfg, &s3b_cfg] {
        clean(cfg, &["default"]);
    }
}

/// A Lease holder that dies (its renewal stops, the Lease stays): another client is refused,
/// naming it, until `leaseDurationSeconds` (60) pass without renewal; then it takes the Lease.
/// `force-unlock` as Terraform's: the wrong id is refused, the holder's id frees it at once.
#[test]
fn kubernetes_lease_of_a_dead_holder_expires_and_another_client_takes_it() {
    let Some((_, cfg)) = backend(Kind::Kubernetes) else {
        return;
    };
    let a = be::open(&cfg).expect("backend opens");
    let b = be::open(&cfg).expect("backend opens");
    let info_a = be::LockInfo::new("apply", "test", "machine-a:/work/a");
    let info_b = be::LockInfo::new("apply", "test", "machine-b:/work/b");
    // The holder dies: its lock is dropped without release, so nothing renews the Lease.
    drop(
        a.lock("default", &info_a)
            .expect("first client takes the lease"),
    );
    match b.lock("default", &info_b) {
        Err(be::BackendError::Locked { holder, .. }) => assert_eq!(holder.id, info_a.id),
        other => panic!("a live lease must refuse: {:?}", other.map(|_| ())),
    }
    assert!(matches!(
        b.force_unlock("default", "not-the-id"),
        Err(be::BackendError::LockIdMismatch { .. })
    ));
    let started = Instant::now();
    std::thread::sleep(std::time::Duration::from_secs(63));
    let held = b
        .lock("default", &info_b)
        .expect("an expired lease is taken over");
    assert!(started.elapsed().as_secs() >= 60);
    assert_eq!(b.holder("default").unwrap().unwrap().id, info_b.id);
    // force-unlock by the holder's id frees it for anyone, as Terraform's.
    let freed = a.force_unlock("default", &info_b.id).expect("force-unlock");
    assert_eq!(freed.id, info_b.id);
    drop(held);
    let again = a.lock("default", &info_a).expect("free after force-unlock");
    again.release().unwrap();
    assert!(b.holder("default").unwrap().is_none());
}

/// Removes what a test left in the store: its workspaces' states.
fn clean(cfg: &BackendConfig, workspaces: &[&str]) {
    if let Ok(b) = be::open(cfg) {
        for ws in workspaces {
            let _ = b.delete_workspace(ws);
            let _ = b.delete_workspace(&format!("{ws}{}", be::UNFINISHED_SUFFIX));
        }
    }
}

/// `brick workspace new` writes the new workspace's empty state to the store (as Terraform
/// does), so another working copy lists it and selects it before anything was applied there;
/// states of workspaces stay apart; a second `new` of the name is refused.
fn workspaces_are_shared_through_the_store(kind: Kind) {
    let Some((hcl, cfg)) = backend(kind) else {
        return;
    };
    let body = "resource \"brick_data\" \"a\" { input = \"a\" }\n";
    let a = Dir::new(&config(&hcl, body));
    let b = Dir::new(&config(&hcl, body));
    ok(a.path(), &["init"]);
    ok(b.path(), &["init"]);
    ok(a.path(), &["apply", "--auto-approve"]);
    let t = ok(a.path(), &["workspace", "new", "staging"]);
    assert!(
        t.contains("Created and switched to workspace \"staging\""),
        "{t}"
    );
    let stored = be::open(&cfg).unwrap().read("staging").unwrap();
    let (_, serial) = header(&stored.expect("an empty state in the store").bytes);
    assert_eq!(serial, 0);
    let list = ok(b.path(), &["workspace", "list"]);
    assert!(
        list.contains("* default") && list.contains("  staging"),
        "{list}"
    );
    fails(
        b.path(),
        &["workspace", "new", "staging"],
        "brick::workspace::exists",
    );
    ok(b.path(), &["workspace", "select", "staging"]);
    let t = ok(b.path(), &["apply", "--auto-approve"]);
    assert!(t.contains("1 added"), "staging starts empty: {t}");
    // The first working copy, on staging too, sees that apply; default kept its own.
    assert!(ok(a.path(), &["plan"]).contains("No changes"));
    ok(a.path(), &["workspace", "select", "default"]);
    assert!(ok(a.path(), &["plan"]).contains("No changes"));
    let store = be::open(&cfg).unwrap();
    let staging = header(&store.read("staging").unwrap().unwrap().bytes);
    let default = header(&store.read("default").unwrap().unwrap().bytes);
    assert_eq!(staging.1, 1, "applied once in staging");
    assert_ne!(staging.0, default.0, "a lineage of its own");
    clean(&cfg, &["default", "staging"]);
}

#[test]
fn s3_workspaces_are_shared_through_the_store() {
    workspaces_are_shared_through_the_store(Kind::S3);
}
#[test]
fn kubernetes_workspaces_are_shared_through_the_store() {
    workspaces_are_shared_through_the_store(Kind::Kubernetes);
}
#[test]
fn pg_workspaces_are_shared_through_the_store() {
    workspaces_are_shared_through_the_store(Kind::Pg);
}

/// A workspace name that would make an invalid Secret or Lease name (capitals, `_`) is
/// refused on the kubernetes backend with a clear diagnostic, as Terraform's refuses it:
/// by `workspace new` and `select`, and by any command run with it in `BRICK_WORKSPACE`.
#[test]
fn kubernetes_refuses_workspace_names_kubernetes_cannot_hold() {
    let Some((hcl, _)) = backend(Kind::Kubernetes) else {
        return;
    };
    let d = Dir::new(&config(
        &hcl,
        "resource \"brick_data\" \"a\" { input = \"a\" }\n",
    ));
    ok(d.path(), &["init"]);
    for name in ["Staging", "stage_2", &"x".repeat(47)] {
        for verb in ["new", "select"] {
            let t = fails(
                d.path(),
                &["workspace", verb, name],
                "brick::workspace::invalid_name",
            );
            assert!(
                t.contains("RFC 1123") || t.contains("longer than 46"),
                "{t}"
            );
        }
    }
    let o = command(d.path(), &["plan"])
        .env("BRICK_WORKSPACE", "Staging")
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("brick::backend::workspace_name"), "{t}");
    assert!(ok(d.path(), &["workspace", "new", "stage-2.eu"]).contains("stage-2.eu"));
}

/// The kubernetes backend's `labels` go on the state's Secrets and on the lock's Lease.
#[test]
fn kubernetes_labels_go_on_the_secrets_and_the_lease() {
    let Some((hcl, mut cfg)) = backend(Kind::Kubernetes) else {
        return;
    };
    let hcl = hcl.replacen(
        "secret_suffix",
        "labels = { team = \"garage\", \"example.com/owner\" = \"ana\" }\n    secret_suffix",
        1,
    );
    cfg.settings.insert("labels.team".into(), "garage".into());
    cfg.settings
        .insert("labels.example.com/owner".into(), "ana".into());
    let d = Dir::new(&config(
        &hcl,
        "resource \"brick_data\" \"a\" { input = \"a\" }\n",
    ));
    ok(d.path(), &["init"]);
    ok(d.path(), &["apply", "--auto-approve"]);
    let suffix = cfg.settings["secret_suffix"].clone();
    let kubectl = |what: &str| {
        let out = Command::new(std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()))
            .args([
                "get",
                what,
                "-n",
                "default",
                "-l",
                &format!("team=garage,example.com/owner=ana,brick.dev/state-suffix={suffix}"),
                "-o",
                "name",
            ])
            .env(
                "KUBECONFIG",
                std::env::var("BRICK_PEERS_KUBECONFIG").unwrap(),
            )
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        kubectl("secrets").trim(),
        format!("secret/brickstate-default-{suffix}")
    );
    let store = be::open(&cfg).unwrap();
    let held = store
        .lock("default", &be::LockInfo::new("apply", "test", "here"))
        .unwrap();
    assert_eq!(
        kubectl("leases").trim(),
        format!("lease.coordination.k8s.io/brickstate-lock-default-{suffix}")
    );
    held.release().unwrap();
    // brick's own labels are not the configuration's to set.
    let bad = hcl.replacen("team = ", "\"brick.dev/role\" = \"x\", team = ", 1);
    let d2 = Dir::new(&config(
        &bad,
        "resource \"brick_data\" \"a\" { input = \"a\" }\n",
    ));
    let t = fails(d2.path(), &["init"], "brick::backend::config");
    assert!(t.contains("brick.dev/role"), "{t}");
    clean(&cfg, &["default"]);
}

fn psql(conn: &str, sql: &str) -> String {
    let o = Command::new("psql")
        .args([conn, "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(o.status.success(), "psql {sql}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// `skip_schema_creation = true` (Terraform's): brick creates no schema, so a schema that an
/// administrator did not make is an error naming it, and one made beforehand is used; the
/// connection string may come from `PG_CONN_STR` instead of the configuration.
#[test]
fn pg_skip_schema_creation_uses_the_existing_schema_and_creates_none() {
    let Some((_, cfg)) = backend(Kind::Pg) else {
        return;
    };
    let conn = cfg.settings["conn_str"].clone();
    let schema = cfg.settings["schema_name"].clone();
    let hcl = format!(
        "backend \"pg\" {{\n    schema_name = \"{schema}\"\n    skip_schema_creation = true\n  }}"
    );
    let d = Dir::new(&config(
        &hcl,
        "resource \"brick_data\" \"a\" { input = \"a\" }\n",
    ));
    let brick = |args: &[&str]| {
        command(d.path(), args)
            .env("PG_CONN_STR", &conn)
            .output()
            .unwrap()
    };
    let exists = || {
        psql(
            &conn,
            &format!("SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"),
        )
    };
    let o = brick(&["init"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("brick::backend::store")
            && t.contains(&format!("schema \"{schema}\" does not exist")),
        "{t}"
    );
    assert_eq!(exists(), "0", "no schema created");
    psql(&conn, &format!("CREATE SCHEMA {schema}"));
    let o = brick(&["init"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = brick(&["apply", "--auto-approve"]);
    assert!(o.status.success(), "{}", text(&o));
    let (_, serial) = header(&raw(&cfg).expect("the state is in the schema"));
    assert_eq!(serial, 1);
    // Without PG_CONN_STR and without conn_str: a clear configuration error.
    let t = fails(d.path(), &["plan"], "brick::backend::config");
    assert!(t.contains("PG_CONN_STR"), "{t}");
    psql(&conn, &format!("DROP SCHEMA {schema} CASCADE"));
}

/// A state over 5 MiB goes to the store and back whole: written by one working copy, read by
/// another with nothing to change, changed there and seen by the first.
fn state_over_five_mib_round_trips(kind: Kind) {
    let Some((hcl, cfg)) = backend(kind) else {
        return;
    };
    // About 3 MiB of input, recorded twice (input and output): a state over 6 MiB.
    let body = "resource \"brick_data\" \"big\" {\n  input = join(\"\", [for i in range(1000) : join(\"\", [for j in range(48) : format(\"%064d\", i * 48 + j)])])\n}\n";
    let a = Dir::new(&config(&hcl, body));
    let b = Dir::new(&config(&hcl, body));
    ok(a.path(), &["init"]);
    ok(b.path(), &["init"]);
    let t0 = Instant::now();
    ok(a.path(), &["apply", "--auto-approve"]);
    let took = t0.elapsed();
    let stored = raw(&cfg).expect("written");
    assert!(stored.len() > 5 * 1024 * 1024, "{} bytes", stored.len());
    assert!(ok(b.path(), &["plan"]).contains("No changes"));
    let more = format!("{body}resource \"brick_data\" \"x\" {{ input = \"x\" }}\n");
    std::fs::write(b.path().join("main.hcl"), config(&hcl, &more)).unwrap();
    ok(b.path(), &["apply", "--auto-approve"]);
    std::fs::write(a.path().join("main.hcl"), config(&hcl, &more)).unwrap();
    assert!(ok(a.path(), &["plan"]).contains("No changes"));
    let after = raw(&cfg).unwrap();
    assert_eq!(header(&after).1, 2);
    eprintln!(
        "{}: a {} byte state applied in {took:?}",
        cfg.kind,
        stored.len()
    );
    clean(&cfg, &["default"]);
}

#[test]
fn s3_state_over_five_mib_round_trips() {
    state_over_five_mib_round_trips(Kind::S3);
}
#[test]
fn kubernetes_state_over_five_mib_round_trips_in_chunks() {
    state_over_five_mib_round_trips(Kind::Kubernetes);
}
#[test]
fn pg_state_over_five_mib_round_trips() {
    state_over_five_mib_round_trips(Kind::Pg);
}

/// Migration from a backend takes its lock and refuses while an apply is unfinished: the
/// crashed holder's lock refuses another working copy; once force-unlocked, the store's
/// record of the interrupted apply still refuses it; where it ran, its journal refuses it.
/// Settled there, the state moves s3 → pg → kubernetes → s3, serial and lineage kept.
#[test]
fn migration_from_a_backend_waits_for_an_unfinished_apply() {
    let (Some((s3, s3_cfg)), Some((pg, pg_cfg)), Some((k8s, k8s_cfg))) = (
        backend(Kind::S3),
        backend(Kind::Pg),
        backend(Kind::Kubernetes),
    ) else {
        return;
    };
    let d = Dir::new(&config(&s3, SLOW));
    let e = Dir::new(&config(&s3, SLOW));
    ok(d.path(), &["init"]);
    ok(e.path(), &["init"]);
    let mut first = Running::start(command(d.path(), &["apply", "--auto-approve"]));
    first.wait_for("brick_sleep.wait: Creating...");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let pid = first.child.id();
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let _ = first.finish();
    std::fs::write(e.path().join("main.hcl"), config(&pg, SLOW)).unwrap();
    let t = fails(
        e.path(),
        &["init", "-migrate-state"],
        "brick::backend::locked",
    );
    assert!(t.contains(&format!("pid {pid}")), "{t}");
    let id = be::open(&s3_cfg)
        .unwrap()
        .holder("default")
        .unwrap()
        .unwrap()
        .id;
    std::fs::write(e.path().join("main.hcl"), config(&s3, SLOW)).unwrap();
    ok(e.path(), &["force-unlock", "--force", &id]);
    std::fs::write(e.path().join("main.hcl"), config(&pg, SLOW)).unwrap();
    let t = fails(
        e.path(),
        &["init", "-migrate-state"],
        "brick::backend::unsettled",
    );
    assert!(
        t.contains(&format!("pid {pid}, working copy ")) && t.contains("has not finished"),
        "{t}"
    );
    assert!(raw(&pg_cfg).is_none(), "nothing copied");
    std::fs::write(d.path().join("main.hcl"), config(&pg, SLOW)).unwrap();
    let t = fails(
        d.path(),
        &["init", "-migrate-state"],
        "brick::backend::unsettled",
    );
    assert!(t.contains("journal"), "{t}");
    assert!(raw(&pg_cfg).is_none(), "nothing copied");
    assert!(
        be::open(&s3_cfg)
            .unwrap()
            .holder("default")
            .unwrap()
            .is_none(),
        "the source's lock is released"
    );
    // Settled where it ran, the state moves.
    std::fs::write(d.path().join("main.hcl"), config(&s3, SLOW)).unwrap();
    ok(d.path(), &["apply", "--auto-approve"]);
    let (lineage, serial) = header(&raw(&s3_cfg).unwrap());
    for (hcl, cfg) in [(&pg, &pg_cfg), (&k8s, &k8s_cfg), (&s3, &s3_cfg)] {
        std::fs::write(d.path().join("main.hcl"), config(hcl, SLOW)).unwrap();
        let t = ok(d.path(), &["init", "-migrate-state"]);
        assert!(t.contains("Migrated"), "{t}");
        assert_eq!(
            header(&raw(cfg).unwrap()),
            (lineage.clone(), serial),
            "{}",
            cfg.kind
        );
        assert!(
            ok(d.path(), &["plan"]).contains("No changes"),
            "{}",
            cfg.kind
        );
    }
    for cfg in [&s3_cfg, &pg_cfg, &k8s_cfg] {
        clean(cfg, &["default"]);
    }
}

/// A key in a file (`BRICK_STATE_KEY_FILE`, 32 raw bytes): the state is sealed with it; a
/// file of another key is a decryption error naming the variable and the file; a missing
/// file is an unusable key naming it; nothing is changed by either.
#[test]
fn key_file_seals_the_state_and_a_wrong_or_missing_file_is_named() {
    let d = Dir::new(
        "variable \"pw\" {\n  sensitive = true\n  default = \"hunter2-in-a-file\"\n}\nresource \"brick_data\" \"a\" { input = var.pw }\n",
    );
    let keys = tempfile::tempdir().unwrap();
    let right = keys.path().join("right.key");
    let wrong = keys.path().join("wrong.key");
    std::fs::write(&right, [7u8; 32]).unwrap();
    std::fs::write(&wrong, [9u8; 32]).unwrap();
    let with_key = |args: &[&str], file: &Path| {
        command(d.path(), args)
            .env("BRICK_STATE_KEY_FILE", file)
            .output()
            .unwrap()
    };
    let o = with_key(&["apply", "--auto-approve"], &right);
    assert!(o.status.success(), "{}", text(&o));
    let state = std::fs::read(d.path().join("brick.state.json")).unwrap();
    assert!(be::is_encrypted(&state));
    assert!(!String::from_utf8_lossy(&state).contains("hunter2"));
    let o = with_key(&["plan"], &wrong);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("brick::state::decrypt")
            && t.contains("BRICK_STATE_KEY_FILE")
            && t.contains(&wrong.display().to_string()),
        "{t}"
    );
    let missing = keys.path().join("missing.key");
    let o = with_key(&["plan"], &missing);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("brick::backend::bad_key") && t.contains(&missing.display().to_string()),
        "{t}"
    );
    assert_eq!(
        std::fs::read(d.path().join("brick.state.json")).unwrap(),
        state,
        "unchanged"
    );
    let o = with_key(&["plan"], &right);
    assert!(text(&o).contains("No changes"), "{}", text(&o));
}

/// kill -9 while a 6 MiB state moves: an apply killed once its journal is folded into the
/// working copy (while it pushes, or releases the lock: wherever the kill lands in that) is
/// settled by the next run where it ran, and the store then holds the
/// state; a plan of another working copy killed while it pulls leaves nothing that stops its
/// next run, or the first working copy's.
fn kill_nine_while_the_state_moves(kind: Kind) {
    let Some((hcl, cfg)) = backend(kind) else {
        return;
    };
    let body = "resource \"brick_data\" \"big\" {\n  input = join(\"\", [for i in range(1000) : join(\"\", [for j in range(48) : format(\"%064d\", i * 48 + j)])])\n}\nresource \"brick_data\" \"small\" { input = \"s\" }\n";
    let a = Dir::new(&config(&hcl, body));
    let b = Dir::new(&config(&hcl, body));
    ok(a.path(), &["init"]);
    ok(b.path(), &["init"]);
    let mut first = Running::start(command(a.path(), &["apply", "--auto-approve"]));
    first.wait_for("brick_data.big: Creation complete");
    first.wait_for("brick_data.small: Creation complete");
    // The journal goes once folded into the working copy; the push follows: kill then.
    let journal = a
        .path()
        .join(".brick/remote/default/brick.state.json.journal");
    let t0 = Instant::now();
    while journal.exists() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    first.child.kill().unwrap();
    let (_, out) = first.finish();
    assert!(!out.contains("Apply complete!"), "killed before its end");
    let t = ok(a.path(), &["plan"]);
    assert!(t.contains("No changes"), "{t}");
    let stored = raw(&cfg).expect("pushed by the next run at the latest");
    assert!(stored.len() > 5 * 1024 * 1024, "{} bytes", stored.len());
    let s = String::from_utf8_lossy(&stored);
    assert!(s.contains("\"name\": \"big\"") && s.contains("\"name\": \"small\""));
    let mut pulling = Running::start(command(b.path(), &["plan"]));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    pulling.child.kill().unwrap();
    let _ = pulling.finish();
    assert!(ok(b.path(), &["plan"]).contains("No changes"));
    assert!(ok(a.path(), &["plan"]).contains("No changes"));
    clean(&cfg, &["default"]);
}

#[test]
fn s3_kill_nine_while_the_state_moves_is_settled_by_the_next_run() {
    kill_nine_while_the_state_moves(Kind::S3);
}
#[test]
fn kubernetes_kill_nine_while_the_state_moves_is_settled_by_the_next_run() {
    kill_nine_while_the_state_moves(Kind::Kubernetes);
}
#[test]
fn pg_kill_nine_while_the_state_moves_is_settled_by_the_next_run() {
    kill_nine_while_the_state_moves(Kind::Pg);
}

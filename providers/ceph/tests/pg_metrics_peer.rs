//! The PG states the rook provider waits on, read by its own parser (`pg_metrics`) from the real
//! Ceph mgr's Prometheus module (`tests/peers/up.sh ceph`, Ceph 16.2): the gauges it relies on
//! exist under the names it reads, agree with what the monitors say (`pg stat`, `osd stat`),
//! and a pool made for the test is counted with its PGs until every one is active+clean.
//!
//! The metrics are read straight from the mgr on 127.0.0.1 (`CEPH_PROMETHEUS_URL`, which the
//! peer script exports, else the URL `mgr services` gives; when the module is off, the test
//! turns it on at a free port and off again at the end). The way brick reaches them on a Rook
//! cluster — the API server's service proxy to Rook's `rook-ceph-mgr` Service — is tested
//! against the lab's Kubernetes API only (`rook_lab.rs`): a Service leads only to its
//! endpoints, a real kube-apiserver refuses an endpoint on a loopback address ("may not be in
//! the loopback range", checked on the peers' 1.36), and the peers' Ceph runs on loopback.

use std::time::{Duration, Instant};

use brick_provider_ceph::pg_metrics::PgStates;
use brick_provider_ceph::rados::{ConnectOptions, Rados};
use serde_json::{Value, json};

const SKIP: &str = "no Ceph — run tests/peers/up.sh ceph";

fn connect() -> Option<Rados> {
    let Some(conf) = std::env::var_os("CEPH_CONF") else {
        brick_provider_api::testing::skip(SKIP);
        return None;
    };
    let mut opts = ConnectOptions::new(conf);
    opts.keyring = std::env::var_os("CEPH_KEYRING").map(Into::into);
    Some(Rados::connect(&opts).expect("connecting to the Ceph peer"))
}

fn mon(r: &Rados, cmd: Value) -> Value {
    r.mon_command_json(&cmd)
        .unwrap_or_else(|e| panic!("{cmd}: {e:?}"))
}

fn mon_do(r: &Rados, cmd: Value) {
    r.mon_command(&cmd)
        .unwrap_or_else(|e| panic!("{cmd}: {e:?}"));
}

/// Turns the prometheus module off again (and its settings) if this test turned it on.
struct ModuleOff<'a>(&'a Rados);
impl Drop for ModuleOff<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .mon_command(&json!({"prefix": "mgr module disable", "module": "prometheus"}));
        for name in ["mgr/prometheus/server_addr", "mgr/prometheus/server_port"] {
            let _ = self
                .0
                .mon_command(&json!({"prefix": "config rm", "who": "mgr", "name": name}));
        }
    }
}

/// Deletes the test's pool at the end.
struct PoolGone<'a>(&'a Rados, String);
impl Drop for PoolGone<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .mon_command(&json!({"prefix": "osd pool delete", "pool": self.1,
            "pool2": self.1, "yes_i_really_really_mean_it": true}));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET` of a URL on 127.0.0.1 (HTTP/1.0, no proxy): status and body.
fn get(url: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// The mgr's metrics URL, turning the module on when it is off (the guard turns it off).
fn metrics_url(r: &Rados) -> (String, Option<ModuleOff<'_>>) {
    if let Ok(url) = std::env::var("CEPH_PROMETHEUS_URL") {
        return (url, None);
    }
    let services = mon(r, json!({"prefix": "mgr services"}));
    if let Some(url) = services["prometheus"].as_str() {
        return (
            format!("{}metrics", url.trim_end_matches('/').to_string() + "/"),
            None,
        );
    }
    let port = free_port();
    let guard = ModuleOff(r);
    for (name, value) in [
        ("mgr/prometheus/server_addr", "127.0.0.1".to_string()),
        ("mgr/prometheus/server_port", port.to_string()),
    ] {
        mon_do(
            r,
            json!({"prefix": "config set", "who": "mgr", "name": name, "value": value}),
        );
    }
    mon_do(
        r,
        json!({"prefix": "mgr module enable", "module": "prometheus"}),
    );
    (format!("http://127.0.0.1:{port}/metrics"), Some(guard))
}

/// Scrapes until `ok` holds of the parsed states (the mgr refreshes them every 15 s), or panics
/// after `secs` with the last ones.
fn until(url: &str, secs: u64, what: &str, ok: impl Fn(&PgStates) -> bool) -> PgStates {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut last = String::from("no answer");
    loop {
        if let Some((200, text)) = get(url) {
            let st = PgStates::of(&text).unwrap_or_else(|e| panic!("the real mgr's metrics: {e}"));
            if ok(&st) {
                return st;
            }
            last = format!("{st:?}");
        } else if let Some((code, body)) = get(url) {
            last = format!(
                "HTTP {code}: {}",
                body.chars().take(200).collect::<String>()
            );
        }
        assert!(Instant::now() < end, "{what} within {secs} s; last: {last}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_real_mgrs_pg_gauges_are_read_and_count_a_new_pools_pgs_until_active_and_clean() {
    let Some(r) = connect() else { return };
    let (url, _module) = metrics_url(&r);

    // The monitors' view: OSDs up and in, and every PG active+clean (the peer is healthy).
    let osds = mon(&r, json!({"prefix": "osd stat"}));
    let up = osds["num_up_osds"].as_u64().unwrap();
    let inn = osds["num_in_osds"].as_u64().unwrap();
    let st = until(
        &url,
        90,
        "the metrics agree with osd stat and pg stat",
        |st| {
            let stat = mon(&r, json!({"prefix": "pg stat"}));
            // Pacific nests the counts under pg_summary.
            let pgs = stat.get("pg_summary").unwrap_or(&stat);
            let num = pgs["num_pgs"].as_u64().unwrap_or(0);
            let clean: u64 = pgs["num_pg_by_state"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["name"] == "active+clean")
                .filter_map(|s| s["num"].as_u64())
                .sum();
            st.counted
                && st.osds_up == up
                && st.osds_in == inn
                && st.total() == num
                && st.all_active_clean() == (clean == num)
        },
    );
    eprintln!("before: {}", st.describe());

    // A pool of 8 PGs, size 1 (the peer's OSDs are on one host): counted under its pool_id,
    // then every one active+clean.
    let name = format!(
        "brick-pgm-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let _gone = PoolGone(&r, name.clone());
    mon_do(
        &r,
        json!({"prefix": "osd pool create", "pool": name, "pg_num": 8, "pgp_num": 8,
            "pool_type": "replicated", "size": 1}),
    );
    let pools = mon(&r, json!({"prefix": "osd pool ls", "detail": "detail"}));
    let id = pools
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pool_name"] == name.as_str())
        .and_then(|p| p["pool_id"].as_u64())
        .unwrap()
        .to_string();
    let st = until(&url, 90, "the new pool's 8 PGs, active+clean", |st| {
        st.pools.get(&id).is_some_and(|p| {
            p.get("total") == Some(&8) && p.get("active") == Some(&8) && p.get("clean") == Some(&8)
        }) && st.all_active_clean()
    });
    eprintln!("with pool {id} ({name}): {}", st.describe());
    eprintln!("pool {id}: {:?}", st.pools[&id]);
}

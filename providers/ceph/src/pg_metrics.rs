//! The PG states of a Rook cluster, read from the Ceph mgr's Prometheus module, so that an
//! apply that adds OSDs can wait until backfill has ended (every PG active+clean): Rook's
//! CephCluster status carries no PG states, and data moving to a new OSD is *misplaced*, which
//! raises no health warning (`mon_warn_on_misplaced` is false by default).
//!
//! - [`parse`]: the Prometheus text exposition format (version 0.0.4), as the mgr writes it:
//!   `# HELP`/`# TYPE` comments, samples `name{label="value",…} value [timestamp]` with escaped
//!   label values. A small parser of our own: the `prometheus-parse` crate reads labels with a
//!   regular expression that breaks on a `}` or an escaped quote inside a label value, and
//!   pulls in regex, chrono and a second itertools.
//! - [`PgStates`]: the mgr's per-pool gauges `ceph_pg_total{pool_id}` and
//!   `ceph_pg_<state>{pool_id}` (one per state of `PG_STATES` in Ceph's `mgr_module.py`:
//!   active, clean, peering, backfilling, backfill_wait, degraded, …; a PG in
//!   `active+remapped+backfilling` counts once in each of the three) and the OSDs
//!   `ceph_osd_up`/`ceph_osd_in{ceph_daemon}`. Every PG is active+clean when, in every pool,
//!   `ceph_pg_active` and `ceph_pg_clean` equal `ceph_pg_total`.
//! - [`read`]: `GET /metrics` of Rook's Service `rook-ceph-mgr` (port `http-metrics`, 9283;
//!   `https-metrics` when Rook serves the metrics over TLS) through the API server's service
//!   proxy, `/api/v1/namespaces/<ns>/services/<scheme>:rook-ceph-mgr:<port>/proxy/metrics`,
//!   with the provider's own Kubernetes client: no port-forward, no route to the pods needed.
//!   What fails is sorted into [`Unreadable`] for the caller to decide between waiting and
//!   warning.

use std::collections::BTreeMap;

use brick_provider_k8s::machinery::Cluster as Ctx;
use serde_json::Value as Json;

use crate::kube::{self, ident};

/// Rook's metrics Service of the active mgr (`AppName` in Rook's `mgr.go`).
pub const SERVICE: &str = "rook-ceph-mgr";
/// The Service's port name when the metrics are plain HTTP, and when Rook serves them over TLS.
pub const PORT_HTTP: &str = "http-metrics";
pub const PORT_HTTPS: &str = "https-metrics";

/// One sample of the exposition: metric name, labels in their order, value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample of a text exposition; comments and blank lines are skipped. An error names the
/// line (1-based) and what is wrong with it.
pub fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(sample(line).map_err(|e| format!("line {}: {e}: {line}", i + 1))?);
    }
    Ok(out)
}

fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!first && c.is_ascii_digit())
}

fn sample(line: &str) -> Result<Sample, String> {
    let name_len = line
        .char_indices()
        .find(|&(i, c)| !is_name_char(c, i == 0))
        .map_or(line.len(), |(i, _)| i);
    if name_len == 0 {
        return Err("no metric name".into());
    }
    let name = line[..name_len].to_string();
    let mut rest = &line[name_len..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = labels_of(after, &mut labels)?;
    }
    let mut fields = rest.split_ascii_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = match value {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse()
            .map_err(|_| format!("value {v:?} is not a number"))?,
    };
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err(format!("timestamp {ts:?} is not an integer"));
    }
    if fields.next().is_some() {
        return Err("text after the timestamp".into());
    }
    Ok(Sample {
        name,
        labels,
        value,
    })
}

/// Reads `name="value",…}` into `labels`; returns what follows the closing brace.
fn labels_of<'a>(mut s: &'a str, labels: &mut Vec<(String, String)>) -> Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok(after);
        }
        let len = s
            .char_indices()
            .find(|&(i, c)| !is_name_char(c, i == 0) || c == ':')
            .map_or(s.len(), |(i, _)| i);
        if len == 0 {
            return Err("a label without a name".into());
        }
        let key = s[..len].to_string();
        s = s[len..].trim_start();
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("no = after label {key}"))?
            .trim_start();
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("label {key}'s value is not quoted"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("label {key}'s value is not closed")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    Some((_, c)) => {
                        value.push('\\');
                        value.push(c)
                    }
                    None => return Err(format!("label {key}'s value is not closed")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((key, value));
        s = s[end + 1..].trim_start();
        if let Some(after) = s.strip_prefix(',') {
            s = after;
        } else if !s.starts_with('}') {
            return Err("no , or } after a label".into());
        }
    }
}

/// The PG states the progress line names when any PG is in them, in this order.
const SHOWN: [&str; 13] = [
    "unknown",
    "down",
    "stale",
    "incomplete",
    "peering",
    "activating",
    "undersized",
    "degraded",
    "recovering",
    "recovery_wait",
    "backfilling",
    "backfill_wait",
    "backfill_toofull",
];

/// The PGs of every pool by state, and the OSDs up and in, from one scrape of the mgr.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PgStates {
    /// pool_id → state (`total`, `active`, `clean`, `backfilling`, …) → PGs.
    pub pools: BTreeMap<String, BTreeMap<String, u64>>,
    /// OSDs whose `ceph_osd_up` is 1, and whose `ceph_osd_in` is 1.
    pub osds_up: u64,
    pub osds_in: u64,
    /// Whether the scrape had the gauge `ceph_pg_total` at all (its `# TYPE` line or a sample):
    /// without it these are not a Ceph mgr's metrics, or a Ceph too old to count PGs per pool.
    pub counted: bool,
}

impl PgStates {
    pub fn of(text: &str) -> Result<PgStates, String> {
        let mut st = PgStates {
            counted: text
                .lines()
                .any(|l| l.trim_start().starts_with("# TYPE ceph_pg_total ")),
            ..PgStates::default()
        };
        for s in parse(text)? {
            let count = if s.value.is_finite() && s.value > 0.0 {
                s.value.round() as u64
            } else {
                0
            };
            if let Some(state) = s.name.strip_prefix("ceph_pg_") {
                let Some(pool) = s.label("pool_id") else {
                    continue;
                };
                st.counted |= state == "total";
                st.pools
                    .entry(pool.to_string())
                    .or_default()
                    .insert(state.to_string(), count);
            } else if s.name == "ceph_osd_up" {
                st.osds_up += count.min(1);
            } else if s.name == "ceph_osd_in" {
                st.osds_in += count.min(1);
            }
        }
        Ok(st)
    }

    fn sum(&self, state: &str) -> u64 {
        self.pools
            .values()
            .map(|p| p.get(state).copied().unwrap_or(0))
            .sum()
    }

    /// PGs in all pools.
    pub fn total(&self) -> u64 {
        self.sum("total")
    }

    /// PGs active+clean: per pool the fewer of active and clean (exact when every clean PG is
    /// active, as Ceph marks a PG clean only once it is active).
    pub fn active_clean(&self) -> u64 {
        self.pools
            .values()
            .map(|p| {
                let n = |s: &str| p.get(s).copied().unwrap_or(0);
                n("active").min(n("clean")).min(n("total"))
            })
            .sum()
    }

    /// Whether every PG of every pool is active and clean.
    pub fn all_active_clean(&self) -> bool {
        self.pools.values().all(|p| {
            let n = |s: &str| p.get(s).copied().unwrap_or(0);
            n("active") >= n("total") && n("clean") >= n("total")
        })
    }

    /// `PGs 97/128 active+clean, 31 backfilling` for progress lines.
    pub fn describe(&self) -> String {
        let mut out = format!("PGs {}/{} active+clean", self.active_clean(), self.total());
        for state in SHOWN {
            let n = self.sum(state);
            if n > 0 {
                out.push_str(&format!(", {n} {state}"));
            }
        }
        out
    }
}

/// Why the metrics could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum Unreadable {
    /// For good: the Service is absent, or the API server refused the proxy (RBAC).
    Lasting(String),
    /// Perhaps for a moment: no endpoint yet, the module starting, a connection error.
    Passing(String),
}

/// The path of the mgr's metrics through the API server's service proxy.
pub fn proxy_path(ns: &str, scheme: &str, port: &str) -> String {
    format!("/api/v1/namespaces/{ns}/services/{scheme}:{SERVICE}:{port}/proxy/metrics")
}

/// The scheme and port name of the metrics in Rook's Service: `https-metrics` when it has it
/// (Rook's metrics TLS), else `http-metrics`.
pub fn service_port(service: &Json) -> (&'static str, &'static str) {
    let has = |name: &str| {
        service
            .pointer("/spec/ports")
            .and_then(Json::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == name))
    };
    if has(PORT_HTTPS) {
        ("https", PORT_HTTPS)
    } else {
        ("http", PORT_HTTP)
    }
}

/// One scrape of the mgr's metrics in namespace `ns`, through the API server's service proxy:
/// the text and the path it was read at.
pub async fn read(ctx: &Ctx, ns: &str) -> Result<(String, String), (Unreadable, String)> {
    let svc = ident("v1", "Service", Some(ns), SERVICE);
    let path = proxy_path(ns, "http", PORT_HTTP);
    let service = match kube::get(ctx, &svc).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err((
                Unreadable::Lasting(format!(
                    "the Service {ns}/{SERVICE}, which Rook creates for the active mgr's metrics, does not exist"
                )),
                path,
            ));
        }
        Err(d) => return Err((classify_detail(&d.detail), path)),
    };
    let (scheme, port) = service_port(&service);
    let path = proxy_path(ns, scheme, port);
    let req = match http::Request::get(&path)
        .header(http::header::ACCEPT, "text/plain")
        .body(Vec::new())
    {
        Ok(r) => r,
        Err(e) => return Err((Unreadable::Lasting(e.to_string()), path)),
    };
    match ctx.ctx().client.request_text(req).await {
        Ok(text) => Ok((text, path)),
        Err(::kube::Error::Api(s)) => {
            let why = format!(
                "HTTP {} {}",
                s.code,
                if s.message.is_empty() {
                    &s.reason
                } else {
                    &s.message
                }
            );
            let why = why.trim().to_string();
            Err((
                match s.code {
                    401 | 403 | 404 | 405 => Unreadable::Lasting(why),
                    _ => Unreadable::Passing(why),
                },
                path,
            ))
        }
        Err(e) => Err((Unreadable::Passing(e.to_string()), path)),
    }
}

/// A failed read of the Service, by the words of its diagnostic: a refusal (403) lasts.
fn classify_detail(detail: &str) -> Unreadable {
    if detail.contains("HTTP 403") || detail.contains("HTTP 401") {
        Unreadable::Lasting(detail.to_string())
    } else {
        Unreadable::Passing(detail.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as Ceph 16.2.15's mgr wrote them on the peers' cluster (one pool, one OSD).
    const PACIFIC: &str = r#"# HELP ceph_pg_total PG Total Count per Pool
# TYPE ceph_pg_total gauge
ceph_pg_total{pool_id="1"} 1.0
# HELP ceph_osd_up OSD status up
# TYPE ceph_osd_up untyped
ceph_osd_up{ceph_daemon="osd.0"} 1.0
# HELP ceph_osd_in OSD status in
# TYPE ceph_osd_in untyped
ceph_osd_in{ceph_daemon="osd.0"} 1.0
# HELP ceph_pg_active PG active per pool
# TYPE ceph_pg_active gauge
ceph_pg_active{pool_id="1"} 1.0
# HELP ceph_pg_clean PG clean per pool
# TYPE ceph_pg_clean gauge
ceph_pg_clean{pool_id="1"} 1.0
ceph_pool_metadata{pool_id="1",name="device_health_metrics",type="replicated",description="replica:1",compression_mode="none"} 1.0
"#;

    #[test]
    fn samples_are_read_with_their_labels_in_order() {
        let s = parse(PACIFIC).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s[0].name, "ceph_pg_total");
        assert_eq!(s[0].label("pool_id"), Some("1"));
        assert_eq!(s[0].value, 1.0);
        let meta = &s[5];
        assert_eq!(
            meta.labels
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            ["pool_id", "name", "type", "description", "compression_mode"]
        );
        assert_eq!(meta.label("description"), Some("replica:1"));
    }

    #[test]
    fn label_values_keep_braces_commas_and_escapes() {
        let s = parse(
            "ceph_health_detail{name=\"a}b,c\",severity=\"say \\\"hi\\\"\\n\\\\\" ,} 1 1700000000000\nx 2e3\ny{} NaN\nz -Inf",
        )
        .unwrap();
        assert_eq!(s[0].label("name"), Some("a}b,c"));
        assert_eq!(s[0].label("severity"), Some("say \"hi\"\n\\"));
        assert_eq!(s[1].value, 2000.0);
        assert!(s[2].labels.is_empty() && s[2].value.is_nan());
        assert_eq!(s[3].value, f64::NEG_INFINITY);
    }

    #[test]
    fn a_broken_line_is_named() {
        for (text, why) in [
            ("ceph_pg_total{pool_id=\"1\" 3", "no , or }"),
            ("ceph_pg_total{pool_id=1} 3", "not quoted"),
            ("ceph_pg_total{pool_id=\"1} 3", "not closed"),
            ("ceph_pg_total three", "not a number"),
            ("ceph_pg_total", "no value"),
            ("{a=\"b\"} 1", "no metric name"),
            ("ceph_pg_total 1 soon", "timestamp"),
        ] {
            let e = parse(&format!("# TYPE x gauge\n{text}\n")).unwrap_err();
            assert!(e.starts_with("line 2: ") && e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn pacific_metrics_say_every_pg_is_active_and_clean() {
        let st = PgStates::of(PACIFIC).unwrap();
        assert!(st.counted);
        assert_eq!((st.total(), st.active_clean()), (1, 1));
        assert_eq!((st.osds_up, st.osds_in), (1, 1));
        assert!(st.all_active_clean());
        assert_eq!(st.describe(), "PGs 1/1 active+clean");
    }

    #[test]
    fn backfill_keeps_pgs_from_clean_and_is_shown() {
        let text = "# TYPE ceph_pg_total gauge\n\
            ceph_pg_total{pool_id=\"1\"} 1.0\nceph_pg_active{pool_id=\"1\"} 1.0\nceph_pg_clean{pool_id=\"1\"} 1.0\n\
            ceph_pg_total{pool_id=\"2\"} 128.0\nceph_pg_active{pool_id=\"2\"} 128.0\nceph_pg_clean{pool_id=\"2\"} 97.0\n\
            ceph_pg_remapped{pool_id=\"2\"} 31.0\nceph_pg_backfilling{pool_id=\"2\"} 4.0\nceph_pg_backfill_wait{pool_id=\"2\"} 27.0\n\
            ceph_pg_scrubbing{pool_id=\"2\"} 2.0\n\
            ceph_osd_up{ceph_daemon=\"osd.0\"} 1.0\nceph_osd_up{ceph_daemon=\"osd.1\"} 0.0\n";
        let st = PgStates::of(text).unwrap();
        assert!(!st.all_active_clean());
        assert_eq!(st.osds_up, 1);
        assert_eq!(
            st.describe(),
            "PGs 98/129 active+clean, 4 backfilling, 27 backfill_wait"
        );
        // Just after the module starts, Pacific's first scrape counted the PGs but none active.
        let first = "ceph_pg_total{pool_id=\"1\"} 1.0\nceph_pg_active{pool_id=\"1\"} 0.0\nceph_pg_clean{pool_id=\"1\"} 0.0\n";
        assert!(!PgStates::of(first).unwrap().all_active_clean());
    }

    #[test]
    fn metrics_without_pg_counts_are_told_apart_from_no_pools() {
        let none =
            PgStates::of("# TYPE ceph_pg_total gauge\nceph_osd_up{ceph_daemon=\"osd.0\"} 1\n")
                .unwrap();
        assert!(none.counted && none.all_active_clean() && none.total() == 0);
        let other = PgStates::of("# TYPE up gauge\nup 1\n").unwrap();
        assert!(!other.counted);
    }

    #[test]
    fn the_metrics_port_follows_rooks_service() {
        let svc =
            |name: &str| serde_json::json!({"spec": {"ports": [{"name": name, "port": 9283}]}});
        assert_eq!(service_port(&svc("http-metrics")), ("http", "http-metrics"));
        assert_eq!(
            service_port(&svc("https-metrics")),
            ("https", "https-metrics")
        );
        assert_eq!(
            proxy_path("rook-ceph", "http", PORT_HTTP),
            "/api/v1/namespaces/rook-ceph/services/http:rook-ceph-mgr:http-metrics/proxy/metrics"
        );
    }
}

//! Fidelity of the lab's Kubernetes API, measured: the same scripted real-kubectl commands run
//! against the peers' real kube-apiserver and against the simulator, and their results (exit
//! code, stdout, stderr) are compared ignoring uids, timestamps, resourceVersions and cluster
//! IPs. Prints every command with its verdict and the share of identical results; runs when
//! the peers are present (`BRICK_PEERS_KUBECONFIG`, `KUBECTL`) and skips visibly otherwise.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use brick_k8s_sim::pki::TestPki;
use brick_k8s_sim::{NodeSpec, SimOptions, SimServer};
use serde_json::Value;

/// One scripted step: kubectl arguments (with `{ns}` and `{var}` placeholders), an optional
/// stdin document, and an optional variable to capture the (trimmed) stdout into.
struct Step {
    args: &'static str,
    stdin: Option<&'static str>,
    capture: Option<&'static str>,
}

const fn run(args: &'static str) -> Step {
    Step {
        args,
        stdin: None,
        capture: None,
    }
}

const fn with(args: &'static str, stdin: &'static str) -> Step {
    Step {
        args,
        stdin: Some(stdin),
        capture: None,
    }
}

const fn capture(args: &'static str, var: &'static str) -> Step {
    Step {
        args,
        stdin: None,
        capture: Some(var),
    }
}

const NS: &str =
    r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"{ns}","labels":{"team":"lab"}}}"#;
const CM: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","namespace":"{ns}","labels":{"app":"web"}},"data":{"a":"1","b":"2"}}"#;
const CM_OTHER: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","namespace":"{ns}"},"data":{"a":"changed"}}"#;
const CM_SHRUNK: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","namespace":"{ns}","labels":{"app":"web"}},"data":{"b":"2"}}"#;
const SECRET: &str = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s1","namespace":"{ns}"},"stringData":{"password":"hunter2"}}"#;
const SVC: &str = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"{ns}"},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080}]}}"#;
const DEPLOY: &str = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"{ns}"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"registry.invalid/web:1","ports":[{"containerPort":8080}],"env":[{"name":"MODE","value":"lab"}]}]}}}}"#;
const DEPLOY_BAD: &str = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bad","namespace":"{ns}"},"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"y"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}"#;
const CRD: &str = r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.lab.brick.dev"},"spec":{"group":"lab.brick.dev","scope":"Namespaced","names":{"plural":"widgets","singular":"widget","kind":"Widget","shortNames":["wdg"]},"versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},"schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"type":"object","required":["size"],"properties":{"size":{"type":"integer","minimum":1},"color":{"type":"string","enum":["red","blue"]},"tags":{"type":"array","items":{"type":"string"}}}},"status":{"type":"object","properties":{"phase":{"type":"string"}}}}}}}]}}"#;
const WIDGET: &str = r#"{"apiVersion":"lab.brick.dev/v1","kind":"Widget","metadata":{"name":"w1","namespace":"{ns}"},"spec":{"size":3,"color":"red","tags":["a"]}}"#;
const WIDGET_TYPE: &str = r#"{"apiVersion":"lab.brick.dev/v1","kind":"Widget","metadata":{"name":"w2","namespace":"{ns}"},"spec":{"size":"big"}}"#;
const WIDGET_REQUIRED: &str = r#"{"apiVersion":"lab.brick.dev/v1","kind":"Widget","metadata":{"name":"w3","namespace":"{ns}"},"spec":{"color":"red"}}"#;
const WIDGET_ENUM: &str = r#"{"apiVersion":"lab.brick.dev/v1","kind":"Widget","metadata":{"name":"w4","namespace":"{ns}"},"spec":{"size":1,"color":"green"}}"#;
const WIDGET_UNKNOWN: &str = r#"{"apiVersion":"lab.brick.dev/v1","kind":"Widget","metadata":{"name":"w5","namespace":"{ns}"},"spec":{"size":1,"shape":"round"}}"#;
const FINALIZED: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","namespace":"{ns}","finalizers":["lab.brick.dev/hold"]},"data":{"x":"y"}}"#;
const OWNER: &str =
    r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner","namespace":"{ns}"}}"#;
const DEPENDENT: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dependent","namespace":"{ns}","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"{owner_uid}"}]}}"#;
const FROZEN: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"frozen","namespace":"{ns}"},"immutable":true,"data":{"v":"1"}}"#;
const FROZEN_CHANGED: &str = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"frozen","namespace":"{ns}"},"immutable":true,"data":{"v":"2"}}"#;
const PDB: &str = r#"{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"web","namespace":"{ns}"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"web"}}}}"#;

fn script() -> Vec<Step> {
    vec![
        with("apply --server-side -f -", NS),
        run("get namespace {ns} -o json"),
        with("apply --server-side -f -", CM),
        run("get configmap c1 -n {ns} -o json --show-managed-fields"),
        run("get configmaps -n {ns} -o name"),
        run("get configmaps -n {ns}"),
        run("get namespace {ns}"),
        run("create namespace {ns}-made-by-kubectl-create"),
        run("delete namespace {ns}-made-by-kubectl-create --wait=false"),
        run("get serviceaccounts -n {ns} -o name"),
        run("get configmaps -n {ns} -l app=web -o name"),
        run("get configmaps -n {ns} -l app!=web -o name"),
        run("get configmaps -n {ns} --field-selector metadata.name=c1 -o name"),
        run("label configmap c1 -n {ns} tier=front"),
        run("get configmap c1 -n {ns} -o jsonpath={.metadata.labels}"),
        run("annotate configmap c1 -n {ns} note=hello"),
        run(r#"patch configmap c1 -n {ns} --type merge -p {"data":{"c":"3"}}"#),
        run(r#"patch configmap c1 -n {ns} --type json -p [{"op":"remove","path":"/data/c"}]"#),
        run(r#"patch configmap c1 -n {ns} -p {"data":{"d":"4"}}"#),
        run("get configmap c1 -n {ns} -o json --show-managed-fields"),
        with("apply --server-side --field-manager other -f -", CM_OTHER),
        with(
            "apply --server-side --field-manager other --force-conflicts -f -",
            CM_OTHER,
        ),
        run("get configmap c1 -n {ns} -o json --show-managed-fields"),
        with(
            "apply --server-side -f - --dry-run=server -o json",
            CM_SHRUNK,
        ),
        with("apply --server-side --force-conflicts -f -", CM_SHRUNK),
        run("get configmap c1 -n {ns} -o json --show-managed-fields"),
        with("diff -f -", CM),
        with("apply --server-side -f -", FROZEN),
        with("apply --server-side -f -", FROZEN_CHANGED),
        with("apply --server-side -f -", SECRET),
        run("get secret s1 -n {ns} -o json"),
        with("apply --server-side -f -", SVC),
        run("get service web -n {ns} -o json"),
        // The service proxy: a Service that does not exist, and one without endpoints yet.
        run("get --raw /api/v1/namespaces/{ns}/services/http:absent:http/proxy/metrics"),
        run("get --raw /api/v1/namespaces/{ns}/services/http:web:http/proxy/metrics"),
        with("apply --server-side -f -", DEPLOY),
        run("get deployment web -n {ns} -o json --show-managed-fields"),
        run("wait --for=condition=Available deployment/web -n {ns} --timeout=60s"),
        run("rollout status deployment/web -n {ns} --timeout=60s"),
        run(
            "get deployment web -n {ns} -o 'jsonpath={.status.observedGeneration} {.status.readyReplicas} {.status.updatedReplicas}'",
        ),
        run("get deployment web -n {ns}"),
        run("get pods -n {ns} -l app=web -o 'jsonpath={range .items[*]}{.status.phase} {end}'"),
        run("scale deployment web -n {ns} --replicas=1"),
        run("get deployment web -n {ns} -o 'jsonpath={.spec.replicas} {.metadata.generation}'"),
        with("apply --server-side -f -", DEPLOY_BAD),
        with("apply --server-side -f -", PDB),
        run("get pdb web -n {ns} -o jsonpath={.spec}"),
        with("apply --server-side -f -", CRD),
        run("wait --for=condition=Established crd/widgets.lab.brick.dev --timeout=30s"),
        run("get crd widgets.lab.brick.dev -o jsonpath={.status.acceptedNames}"),
        with("apply --server-side -f -", WIDGET),
        run("get widget w1 -n {ns} -o json --show-managed-fields"),
        run("get wdg -n {ns} -o name"),
        with("apply --server-side -f -", WIDGET_TYPE),
        with("apply --server-side -f -", WIDGET_REQUIRED),
        with("apply --server-side -f -", WIDGET_ENUM),
        with("apply --server-side -f -", WIDGET_UNKNOWN),
        with("create -f -", WIDGET_UNKNOWN),
        run(
            r#"patch widget w1 -n {ns} --type merge --subresource status -p {"status":{"phase":"Ready"}}"#,
        ),
        run("get widget w1 -n {ns} -o 'jsonpath={.status.phase} {.metadata.generation}'"),
        run(r#"patch widget w1 -n {ns} --type merge -p {"spec":{"size":4}}"#),
        run("get widget w1 -n {ns} -o jsonpath={.metadata.generation}"),
        run(r#"patch widget w1 -n {ns} -p {"spec":{"size":5}}"#),
        with("create -f -", FINALIZED),
        run("delete configmap held -n {ns} --wait=false"),
        run("get configmap held -n {ns} -o jsonpath={.metadata.finalizers}"),
        run(
            r#"patch configmap held -n {ns} --type json -p [{"op":"remove","path":"/metadata/finalizers"}]"#,
        ),
        run("get configmap held -n {ns}"),
        with("create -f -", OWNER),
        capture(
            "get configmap owner -n {ns} -o jsonpath={.metadata.uid}",
            "owner_uid",
        ),
        with("create -f -", DEPENDENT),
        run("delete configmap owner -n {ns}"),
        run("wait --for=delete configmap/dependent -n {ns} --timeout=30s"),
        run("get configmap dependent -n {ns}"),
        run("delete configmap c1 -n {ns}"),
        run("get configmap c1 -n {ns}"),
        run("get configmap c1 -n {ns} --ignore-not-found -o name"),
        run("delete crd widgets.lab.brick.dev"),
        run("delete namespace {ns} --wait=false"),
        run("get namespace {ns} -o jsonpath={.status.phase}"),
        run("wait --for=delete namespace/{ns} --timeout=90s"),
        run("get namespace {ns}"),
    ]
}

struct Target {
    name: &'static str,
    kubeconfig: String,
    cache: tempfile::TempDir,
    vars: HashMap<String, String>,
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn kubectl(kubectl: &str, t: &mut Target, step: &Step, ns: &str) -> Outcome {
    let subst = |s: &str| {
        let mut s = s.replace("{ns}", ns);
        for (k, v) in &t.vars {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    };
    let args: Vec<String> = split_args(step.args).iter().map(|a| subst(a)).collect();
    let mut cmd = Command::new(kubectl);
    cmd.arg("--kubeconfig")
        .arg(&t.kubeconfig)
        .arg("--cache-dir")
        .arg(t.cache.path())
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl runs");
    if let Some(doc) = step.stdin {
        let _ = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(subst(doc).as_bytes());
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("kubectl finishes");
    let o = Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if let Some(var) = step.capture {
        t.vars.insert(var.to_string(), o.stdout.trim().to_string());
    }
    o
}

/// Splits on spaces, keeping single-quoted parts together.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Values that differ between any two clusters: identities, times, versions, addresses.
fn normalize_json(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                match k.as_str() {
                    "uid" | "resourceVersion" | "creationTimestamp" | "deletionTimestamp"
                    | "time" | "lastTransitionTime" | "lastUpdateTime" | "lastHeartbeatTime"
                    | "clusterIP" | "startTime" | "startedAt" => *val = Value::String("*".into()),
                    "clusterIPs" => *val = Value::String("*".into()),
                    _ => normalize_json(val),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize_json),
        _ => {}
    }
}

fn normalize(text: &str, t: &Target) -> String {
    if let Ok(mut v) = serde_json::from_str::<Value>(text) {
        normalize_json(&mut v);
        return serde_json::to_string_pretty(&v).unwrap_or_default();
    }
    let mut s = text.to_string();
    for v in t.vars.values() {
        if !v.is_empty() {
            s = s.replace(v, "*");
        }
    }
    // Timestamps, uids and resourceVersions inside free text (diff output, messages), and
    // ages in tables.
    let re = regex_lite(&s);
    let re = re
        .lines()
        .map(|l| {
            l.split(' ')
                .map(|w| if is_age(w) { "*" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    re.lines()
        .filter(|l| {
            !l.contains("resourceVersion")
                && !l.contains("creationTimestamp")
                && !l.contains("uid:")
                && !l.trim_start().starts_with("time:")
                && !l.starts_with("diff -u -N")
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `5s`, `2m10s`, `3h`, `4d`: a table's AGE.
fn is_age(w: &str) -> bool {
    let mut digits = false;
    let mut units = 0;
    for c in w.chars() {
        if c.is_ascii_digit() {
            digits = true;
        } else if "smhdy".contains(c) && digits {
            units += 1;
            digits = false;
        } else {
            return false;
        }
    }
    units > 0 && !digits
}

/// Masks RFC 3339 timestamps and UUIDs without a regex engine.
fn regex_lite(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        // 2026-12-06T11:01:56Z
        if i + 20 <= b.len()
            && b[i..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 10] == b'T'
            && b[i + 19] == b'Z'
        {
            out.push('*');
            i += 20;
            continue;
        }
        // 8-4-4-4-12 hex
        if i + 36 <= b.len()
            && [8, 13, 18, 23].iter().all(|&d| b[i + d] == b'-')
            && (0..36)
                .filter(|d| ![8, 13, 18, 23].contains(d))
                .all(|d| b[i + d].is_ascii_hexdigit())
        {
            out.push('*');
            i += 36;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[test]
fn real_kubectl_gets_the_same_results_from_the_lab_and_from_the_real_api_server() {
    let (Ok(real_kc), Ok(kubectl_bin)) = (
        std::env::var("BRICK_PEERS_KUBECONFIG"),
        std::env::var("KUBECTL"),
    ) else {
        brick_provider_api::testing::skip(
            "no real kube-apiserver (BRICK_PEERS_KUBECONFIG) or kubectl (KUBECTL) — source the peers' env",
        );
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let pki = TestPki::generate().expect("pki");
    let server = rt
        .block_on(SimServer::start(SimOptions {
            tls: Some(pki.serving.clone()),
            client_ca_pem: Some(pki.ca_cert_pem.clone()),
            time_scale: 0.2,
            ..SimOptions::default()
        }))
        .expect("the simulator starts");
    for n in ["maas", "kvm4", "kvm5"] {
        server.add_node(&NodeSpec::new(n)).expect("node");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sim_kc = dir.path().join("kubeconfig");
    std::fs::write(&sim_kc, pki.kubeconfig(&server.url())).expect("kubeconfig");
    let ns = format!("fidelity-{}", std::process::id());
    let mut real = Target {
        name: "real",
        kubeconfig: real_kc,
        cache: tempfile::tempdir().expect("cache"),
        vars: HashMap::new(),
    };
    let mut sim = Target {
        name: "lab",
        kubeconfig: sim_kc.to_string_lossy().into_owned(),
        cache: tempfile::tempdir().expect("cache"),
        vars: HashMap::new(),
    };
    let steps = script();
    let mut same = 0;
    let mut report = String::new();
    for (i, step) in steps.iter().enumerate() {
        let a = kubectl(&kubectl_bin, &mut real, step, &ns);
        let b = kubectl(&kubectl_bin, &mut sim, step, &ns);
        let (ao, bo) = (normalize(&a.stdout, &real), normalize(&b.stdout, &sim));
        let (ae, be) = (normalize(&a.stderr, &real), normalize(&b.stderr, &sim));
        let identical = a.code == b.code && ao == bo && ae == be;
        if identical {
            same += 1;
        }
        report.push_str(&format!(
            "{:>2} {} kubectl {}\n",
            i + 1,
            if identical { "same" } else { "DIFF" },
            step.args
        ));
        if !identical {
            let dump = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fidelity");
            let _ = std::fs::create_dir_all(&dump);
            let _ = std::fs::write(
                dump.join(format!("{}-real.txt", i + 1)),
                format!("{ao}\n{ae}"),
            );
            let _ = std::fs::write(
                dump.join(format!("{}-lab.txt", i + 1)),
                format!("{bo}\n{be}"),
            );
            if a.code != b.code {
                report.push_str(&format!(
                    "     exit: {} {} / {} {}\n",
                    real.name, a.code, sim.name, b.code
                ));
            }
            for (label, x, y) in [("stdout", &ao, &bo), ("stderr", &ae, &be)] {
                if x != y {
                    let d = similar_lines(x, y);
                    report.push_str(&format!("     {label}:\n{d}"));
                }
            }
        }
    }
    let share = same as f64 / steps.len() as f64;
    println!(
        "{report}\nidentical: {same}/{} ({:.0}%)",
        steps.len(),
        share * 100.0
    );
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("k8s-sim-fidelity.txt"),
        format!("{report}\nidentical: {same}/{}\n", steps.len()),
    );
    assert!(
        share >= 0.6,
        "the lab's share of results identical to the real API server fell to {:.0}%",
        share * 100.0
    );
}

/// The lines only one side has, marked `-` (real) and `+` (lab).
fn similar_lines(a: &str, b: &str) -> String {
    let al: Vec<&str> = a.lines().collect();
    let bl: Vec<&str> = b.lines().collect();
    let mut out = String::new();
    for l in &al {
        if !bl.contains(l) {
            out.push_str(&format!("       - {l}\n"));
        }
    }
    for l in &bl {
        if !al.contains(l) {
            out.push_str(&format!("       + {l}\n"));
        }
    }
    out
}

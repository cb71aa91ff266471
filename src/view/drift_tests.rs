//! The drift report's model and views on a fixed report: a released machine (changed, not
//! deleted), field managers naming kubectl, a Kafka config source, a deleted pool, a
//! sensitive value, ignore rules and a pending change. Text and Markdown are snapshots; the
//! JSON is validated against `schemas/drift-report.schema.json`.

use brick_provider_api::provider::{DriftExplanation, DriftNote, PathStep};
use brick_provider_api::{DriftSeverity, Type, Value};

use crate::addr::{InstanceKey, ResourceAddr, Target};
use crate::config::{DriftIgnore, StaticStep};
use crate::drift::{
    Classification, DriftReport, DriftValue, PendingChange, changed_paths, object_of, path_text,
};
use crate::plan::model::{Action, ResourceDrift};
use crate::view::drift::{MARKDOWN_BUDGET, render_json, render_markdown, render_text};

fn s(x: &str) -> Value {
    Value::string(x)
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::object_from(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

fn smap(pairs: &[(&str, &str)]) -> Value {
    Value::map(
        Type::String,
        pairs.iter().map(|(k, v)| (k.to_string(), s(v))).collect(),
    )
}

fn drift(ty: &str, name: &str, key: InstanceKey, before: Value, after: Value) -> ResourceDrift {
    ResourceDrift {
        addr: ResourceAddr::managed(ty, name).instance(key),
        provider: ty.split('_').next().unwrap().to_string(),
        before,
        after,
    }
}

fn attr(a: &str) -> Vec<PathStep> {
    vec![PathStep::Attr(a.to_string())]
}

fn rule(ty: &str, name: &str, path: &[&str], text: &str, reason: Option<&str>) -> DriftIgnore {
    DriftIgnore {
        target: Target::Resource(ResourceAddr::managed(ty, name)),
        path: path
            .iter()
            .map(|p| StaticStep::Attr(p.to_string()))
            .collect(),
        text: text.to_string(),
        reason: reason.map(str::to_string),
        span: Default::default(),
    }
}

fn machine(status: &str, tags: &[&str], ips: &[&str]) -> Value {
    obj(&[
        ("hostname", s("kvm5")),
        ("status", s(status)),
        (
            "tags",
            Value::set(Type::String, tags.iter().map(|t| s(t)).collect()),
        ),
        (
            "ip_addresses",
            Value::list(Type::String, ips.iter().map(|t| s(t)).collect()),
        ),
    ])
}

fn report() -> DriftReport {
    let rules = vec![
        rule(
            "maas_machine",
            "node",
            &["tags"],
            "maas_machine.node.tags",
            Some("the lab tags machines itself"),
        ),
        rule("brick_data", "scratch", &[], "brick_data.scratch", None),
    ];
    let mut objects = Vec::new();
    // kvm5 released behind brick's back: refresh says gone, MAAS says it is there, Ready.
    let d = drift(
        "maas_machine",
        "node",
        InstanceKey::Str("kvm5".into()),
        machine("Deployed", &["garage"], &["10.0.0.5"]),
        Value::null_dynamic(),
    );
    objects.push(object_of(
        &d,
        DriftExplanation {
            still_exists: Some(machine("Ready", &["garage", "spare"], &[])),
            notes: vec![DriftNote {
                path: attr("status"),
                detail: Some("MAAS status Ready, owner none".into()),
                severity: Some(DriftSeverity::DataRisk),
                ..DriftNote::default()
            }],
        },
        &rules,
    ));
    // A ConfigMap patched and labelled with kubectl.
    let cm = |retention: &str, app: &str, managers: &[(&str, &str)]| {
        obj(&[
            (
                "manifest",
                obj(&[
                    ("data", obj(&[("retention", s(retention))])),
                    (
                        "metadata",
                        obj(&[("labels", obj(&[("app", s(app))])), ("name", s("settings"))]),
                    ),
                ]),
            ),
            ("field_managers", smap(managers)),
        ])
    };
    let d = drift(
        "k8s_manifest",
        "settings",
        InstanceKey::None,
        cm("7d", "web", &[]),
        cm(
            "1d",
            "api",
            &[
                (".data.retention", "kubectl-patch"),
                (".metadata.labels.app", "kubectl-label"),
            ],
        ),
    );
    objects.push(object_of(
        &d,
        DriftExplanation {
            still_exists: None,
            notes: vec![
                DriftNote {
                    path: attr("field_managers"),
                    bookkeeping: true,
                    ..DriftNote::default()
                },
                DriftNote {
                    path: vec![
                        PathStep::Attr("manifest".into()),
                        PathStep::Attr("data".into()),
                        PathStep::Attr("retention".into()),
                    ],
                    by: Some("kubectl-patch".into()),
                    ..DriftNote::default()
                },
                DriftNote {
                    path: vec![
                        PathStep::Attr("manifest".into()),
                        PathStep::Attr("metadata".into()),
                        PathStep::Attr("labels".into()),
                    ],
                    by: Some("kubectl-label".into()),
                    severity: Some(DriftSeverity::Cosmetic),
                    ..DriftNote::default()
                },
            ],
        },
        &rules,
    ));
    // A topic's retention set with kafka-configs.sh.
    let topic = |ms: &str| {
        obj(&[
            ("name", s("events")),
            ("config", smap(&[("retention.ms", ms)])),
        ])
    };
    let d = drift(
        "kafka_topic",
        "events",
        InstanceKey::None,
        topic("604800000"),
        topic("1000"),
    );
    objects.push(object_of(
        &d,
        DriftExplanation {
            still_exists: None,
            notes: vec![DriftNote {
                path: vec![
                    PathStep::Attr("config".into()),
                    PathStep::Key("retention.ms".into()),
                ],
                detail: Some("source DYNAMIC_TOPIC_CONFIG: set on the topic outside brick".into()),
                severity: Some(DriftSeverity::DataRisk),
                ..DriftNote::default()
            }],
        },
        &rules,
    ));
    // A pool deleted.
    let d = drift(
        "ceph_pool",
        "data",
        InstanceKey::None,
        obj(&[("name", s("data")), ("size", Value::number(3))]),
        Value::null_dynamic(),
    );
    objects.push(object_of(&d, DriftExplanation::default(), &rules));
    // A secret changed: shown as changed, never its value.
    let d = drift(
        "brick_data",
        "secret",
        InstanceKey::None,
        obj(&[("input", s("old-Sekr1t").sensitive())]),
        obj(&[("input", s("new-Sekr1t").sensitive())]),
    );
    objects.push(object_of(&d, DriftExplanation::default(), &rules));
    // A whole object ignored.
    let d = drift(
        "brick_data",
        "scratch",
        InstanceKey::None,
        obj(&[("input", s("a"))]),
        obj(&[("input", s("b"))]),
    );
    objects.push(object_of(&d, DriftExplanation::default(), &rules));
    objects.sort_by(|a, b| a.address.cmp(&b.address));
    DriftReport {
        brick_version: "[version]".into(),
        timestamp: Some("2026-12-06T11:00:00Z".into()),
        checked: Some(9),
        objects,
        pending: Some(vec![PendingChange {
            address: "maas_tag.garage".into(),
            action: Action::Update,
        }]),
        pending_outputs: 0,
        count_pending: false,
    }
}

#[test]
fn a_released_machine_is_changed_with_its_status_not_deleted() {
    let r = report();
    let m = r
        .objects
        .iter()
        .find(|o| o.address == r#"maas_machine.node["kvm5"]"#)
        .unwrap();
    assert_eq!(m.classification, Classification::Changed);
    assert_eq!(m.severity, DriftSeverity::DataRisk);
    let paths: Vec<String> = m.changes.iter().map(|c| path_text(&c.path)).collect();
    assert_eq!(paths, ["ip_addresses", "status"]);
    // The tags changed too, but a rule ignores them: listed, not counted.
    assert_eq!(m.ignored.len(), 1);
    assert_eq!(
        path_text(&m.ignored[0].change.as_ref().unwrap().path),
        "tags"
    );
}

#[test]
fn field_managers_name_who_changed_each_field_and_are_not_a_change_themselves() {
    let r = report();
    let cm = r
        .objects
        .iter()
        .find(|o| o.address == "k8s_manifest.settings")
        .unwrap();
    let by: Vec<(String, Option<&str>, DriftSeverity)> = cm
        .changes
        .iter()
        .map(|c| (path_text(&c.path), c.by.as_deref(), c.severity))
        .collect();
    assert_eq!(
        by,
        [
            (
                "manifest.data.retention".to_string(),
                Some("kubectl-patch"),
                DriftSeverity::Normal
            ),
            (
                "manifest.metadata.labels.app".to_string(),
                Some("kubectl-label"),
                DriftSeverity::Cosmetic
            ),
        ]
    );
    assert_eq!(cm.changed_by(), ["kubectl-patch", "kubectl-label"]);
}

#[test]
fn drift_counts_unless_ignored_and_pending_changes_count_only_when_asked() {
    let mut r = report();
    assert_eq!(r.drifted().count(), 5);
    assert_eq!(r.exit_code(), 2);
    assert_eq!(r.ignored_count(), 2);
    // Only ignored drift and a pending change: 0, or 2 with --count-pending.
    r.objects.retain(|o| !o.counts());
    assert!(!r.has_drift());
    assert_eq!(r.exit_code(), 0);
    r.count_pending = true;
    assert_eq!(r.exit_code(), 2);
}

#[test]
fn a_secret_never_shows_in_any_format() {
    let r = report();
    let secret = r
        .objects
        .iter()
        .find(|o| o.address == "brick_data.secret")
        .unwrap();
    assert_eq!(secret.changes[0].before, DriftValue::Sensitive);
    for out in [
        render_text(&r),
        render_markdown(&r),
        render_json(&r).to_string(),
    ] {
        assert!(!out.contains("Sekr1t"), "{out}");
    }
}

#[test]
fn changed_paths_go_down_objects_and_maps_and_stop_at_sets_and_resized_lists() {
    let a = obj(&[
        ("m", smap(&[("a", "1"), ("b", "2")])),
        ("l", Value::list(Type::String, vec![s("x"), s("y")])),
        ("g", Value::list(Type::String, vec![s("x")])),
    ]);
    let b = obj(&[
        ("m", smap(&[("a", "1"), ("c", "3")])),
        ("l", Value::list(Type::String, vec![s("x"), s("z")])),
        ("g", Value::list(Type::String, vec![s("x"), s("y")])),
    ]);
    let paths: Vec<String> = changed_paths(&a, &b).iter().map(|p| path_text(p)).collect();
    assert_eq!(paths, ["g", "l[1]", r#"m["b"]"#, r#"m["c"]"#]);
}

#[test]
fn the_text_report_names_who_changed_what() {
    insta::assert_snapshot!("drift_report_text", render_text(&report()));
}

#[test]
fn the_markdown_report_has_a_summary_a_table_and_details() {
    insta::assert_snapshot!("drift_report_markdown", render_markdown(&report()));
}

#[test]
fn the_json_report_follows_its_documented_schema() {
    let json = render_json(&report());
    validate(&json);
    assert_eq!(json["format_version"], "1.0");
    assert_eq!(json["summary"]["drifted"], 5);
    assert_eq!(json["summary"]["deleted"], 1);
    assert_eq!(json["summary"]["data_risk"], 3);
    let kvm5 = &json["resources"][4];
    assert_eq!(kvm5["address"], r#"maas_machine.node["kvm5"]"#);
    assert_eq!(kvm5["classification"], "changed");
    assert_eq!(kvm5["severity"], "data-risk");
    insta::assert_snapshot!(
        "drift_report_json",
        serde_json::to_string_pretty(&json).unwrap()
    );
}

/// Validates a report against `schemas/drift-report.schema.json`.
pub fn validate(json: &serde_json::Value) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/drift-report.schema.json"
    );
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("drift.json", schema).unwrap();
    let id = compiler.compile("drift.json", &mut schemas).unwrap();
    if let Err(e) = schemas.validate(json, id) {
        panic!("the report does not follow its schema: {e:#}\n{json:#}");
    }
}

#[test]
fn a_huge_markdown_report_stays_under_githubs_comment_limit() {
    let mut r = report();
    let template = r.objects[1].clone();
    r.objects = (0..3000)
        .map(|i| {
            let mut o = template.clone();
            o.address = format!("k8s_manifest.settings[{i}]");
            for c in &mut o.changes {
                c.after = DriftValue::Json(serde_json::json!("x".repeat(5000)));
            }
            o
        })
        .collect();
    let md = render_markdown(&r);
    assert!(md.len() < MARKDOWN_BUDGET, "{} characters", md.len());
    assert!(md.contains("…and "), "folding is said");
    assert!(md.contains("(5002 characters)"), "long values are folded");
}

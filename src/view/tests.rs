//! Snapshot tests of plan rendering, text and JSON: every action kind, drift, sensitive and
//! unknown values, nested collections and multi-line strings.

use std::collections::BTreeMap;

use brick_provider_api::provider::PathStep;
use brick_provider_api::{Type, Value};

use crate::input::Configuration;
use crate::plan::address::InstanceAddr;
use crate::plan::model::*;
use crate::view::json::plan_json;
use crate::view::text::{Style, render_plan};

fn addr(s: &str) -> InstanceAddr {
    s.parse().unwrap()
}

fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn data(id: Value, input: Value, output: Value) -> Value {
    obj(&[
        ("id", id),
        ("input", input),
        ("output", output),
        ("triggers_replace", Value::null_dynamic()),
    ])
}

fn change(a: &str, action: Action, before: Value, after: Value) -> ResourceChange {
    ResourceChange {
        addr: addr(a),
        previous_addr: None,
        provider: "brick".into(),
        action,
        reason: None,
        before,
        after,
        replace_paths: vec![],
        depends_on: vec![],
        create_before_destroy: action == Action::CreateThenDelete,
        importing: None,
        schema_version: 0,
    }
}

fn plan_of(changes: Vec<ResourceChange>) -> Plan {
    Plan {
        format_version: PLAN_FORMAT_VERSION,
        brick_version: "0.1.0".into(),
        mode: PlanMode::Normal,
        state_lineage: Some("lineage".into()),
        state_serial: Some(3),
        config_hash: "hash".into(),
        changes,
        drift: vec![],
        outputs: vec![],
        deferred: vec![],
        configured_during_apply: vec![],
        targets: vec![],
        excludes: vec![],
        variables: BTreeMap::new(),
        errored: false,
        timestamp: None,
        tainted_reasons: Default::default(),
        // brick_data's schema, as the planner records it.
        schemas: BTreeMap::from([(
            "brick_data".to_string(),
            crate::plan::model::BlockShape {
                dynamic: vec!["input".into(), "output".into(), "triggers_replace".into()],
                blocks: BTreeMap::new(),
            },
        )]),
        relevant_attributes: Default::default(),
        diagnostics: vec![],
    }
}

fn unknown() -> Value {
    Value::unknown(Type::String)
}

fn s(x: &str) -> Value {
    Value::string(x)
}

fn check(name: &str, plan: &Plan) {
    let text = render_plan(plan, Style { color: false });
    insta::assert_snapshot!(format!("{name}_text"), text);
    let mut json = plan_json(plan, &PriorState::default(), &Configuration::default());
    // Versions change with every release; the snapshot should not.
    json["terraform_version"] = "[version]".into();
    json["brick_version"] = "[version]".into();
    json["prior_state"]["terraform_version"] = "[version]".into();
    insta::assert_snapshot!(
        format!("{name}_json"),
        serde_json::to_string_pretty(&json).unwrap()
    );
}

#[test]
fn create_update_and_delete_render_like_terraform() {
    let mut del = change(
        "brick_data.old",
        Action::Delete,
        data(s("id-old"), s("x"), s("x")),
        Value::null_dynamic(),
    );
    del.reason = Some(ActionReason::DeleteBecauseNoResourceConfig);
    let plan = plan_of(vec![
        change(
            "brick_data.new",
            Action::Create,
            Value::null_dynamic(),
            data(unknown(), s("hello"), unknown()),
        ),
        change(
            "brick_data.upd",
            Action::Update,
            data(s("id-1"), s("a"), s("a")),
            data(s("id-1"), s("b"), unknown()),
        ),
        del,
        change(
            "brick_data.same",
            Action::NoOp,
            data(s("id-2"), s("a"), s("a")),
            data(s("id-2"), s("a"), s("a")),
        ),
    ]);
    check("create_update_delete", &plan);
}

#[test]
fn replacements_show_what_forces_them_in_both_orders() {
    let before = obj(&[
        ("id", s("id-1")),
        ("input", s("a")),
        ("output", s("a")),
        ("triggers_replace", Value::number(1)),
    ]);
    let after = obj(&[
        ("id", unknown()),
        ("input", s("a")),
        ("output", unknown()),
        ("triggers_replace", Value::number(2)),
    ]);
    let mut dtc = change(
        "brick_data.dtc",
        Action::DeleteThenCreate,
        before.clone(),
        after.clone(),
    );
    dtc.reason = Some(ActionReason::ReplaceBecauseCannotUpdate);
    dtc.replace_paths = vec![vec![PathStep::Attr("triggers_replace".into())]];
    let mut ctd = change(
        "brick_data.ctd",
        Action::CreateThenDelete,
        before.clone(),
        after,
    );
    ctd.reason = Some(ActionReason::ReplaceBecauseCannotUpdate);
    ctd.replace_paths = vec![vec![PathStep::Attr("triggers_replace".into())]];
    let mut req = change(
        "brick_data.req",
        Action::DeleteThenCreate,
        before.clone(),
        obj(&[
            ("id", unknown()),
            ("input", s("a")),
            ("output", unknown()),
            ("triggers_replace", Value::number(1)),
        ]),
    );
    req.reason = Some(ActionReason::ReplaceByRequest);
    check("replace", &plan_of(vec![ctd, dtc, req]));
}

#[test]
fn reads_moves_imports_and_forgets_have_their_own_headers() {
    let mut read = change(
        "data.brick_thing.t",
        Action::Read,
        Value::null_dynamic(),
        obj(&[("id", unknown())]),
    );
    read.reason = Some(ActionReason::ReadBecauseConfigUnknown);
    let mut moved = change(
        "brick_data.to",
        Action::NoOp,
        data(s("i"), s("a"), s("a")),
        data(s("i"), s("a"), s("a")),
    );
    moved.previous_addr = Some(addr("brick_data.from"));
    let mut imported = change(
        "brick_data.imp",
        Action::NoOp,
        data(s("given"), Value::null_dynamic(), Value::null_dynamic()),
        data(s("given"), Value::null_dynamic(), Value::null_dynamic()),
    );
    imported.importing = Some("given".into());
    let mut forget = change(
        "brick_data.gone",
        Action::Forget,
        data(s("g"), s("a"), s("a")),
        Value::null_dynamic(),
    );
    forget.reason = Some(ActionReason::DeleteBecauseNoResourceConfig);
    check(
        "read_move_import_forget",
        &plan_of(vec![read, moved, imported, forget]),
    );
}

#[test]
fn sensitive_unknown_nested_and_multi_line_values() {
    let yaml_a = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: one\n  b: two\n";
    let yaml_b = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: one\n  b: three\n  c: four\n";
    let before = obj(&[
        ("id", s("id-1")),
        (
            "input",
            obj(&[
                ("doc", s(yaml_a)),
                ("password", s("old").sensitive()),
                (
                    "tags",
                    Value::map(
                        Type::String,
                        [("env".to_string(), s("prod")), ("team".to_string(), s("a"))]
                            .into_iter()
                            .collect(),
                    ),
                ),
                ("list", Value::list(Type::String, vec![s("x"), s("y")])),
            ]),
        ),
        ("output", Value::null_dynamic()),
        ("triggers_replace", Value::null_dynamic()),
    ]);
    let after = obj(&[
        ("id", s("id-1")),
        (
            "input",
            obj(&[
                ("doc", s(yaml_b)),
                ("password", s("new").sensitive()),
                (
                    "tags",
                    Value::map(
                        Type::String,
                        [
                            ("env".to_string(), s("prod")),
                            ("team".to_string(), s("b")),
                            ("new".to_string(), unknown()),
                        ]
                        .into_iter()
                        .collect(),
                    ),
                ),
                (
                    "list",
                    Value::list(Type::String, vec![s("x"), s("z"), s("y")]),
                ),
            ]),
        ),
        ("output", Value::unknown(Type::Dynamic)),
        ("triggers_replace", Value::null_dynamic()),
    ]);
    let mut plan = plan_of(vec![change(
        "brick_data.cfg",
        Action::Update,
        before,
        after,
    )]);
    plan.outputs = vec![
        OutputChange {
            name: "secret".into(),
            action: Action::Create,
            before: Value::null_dynamic(),
            after: s("x").sensitive(),
            sensitive: true,
        },
        OutputChange {
            name: "later".into(),
            action: Action::Update,
            before: s("a"),
            after: unknown(),
            sensitive: false,
        },
    ];
    check("sensitive_unknown_nested_multiline", &plan);
}

#[test]
fn drift_is_shown_before_the_changes_it_explains() {
    let mut plan = plan_of(vec![change(
        "brick_data.d",
        Action::Update,
        data(s("i"), s("changed"), s("changed")),
        data(s("i"), s("wanted"), unknown()),
    )]);
    plan.drift = vec![
        ResourceDrift {
            addr: addr("brick_data.d"),
            provider: "brick".into(),
            before: data(s("i"), s("wanted"), s("wanted")),
            after: data(s("i"), s("changed"), s("changed")),
        },
        ResourceDrift {
            addr: addr("brick_data.lost"),
            provider: "brick".into(),
            before: data(s("j"), s("x"), s("x")),
            after: Value::null_dynamic(),
        },
        // Nothing being changed reads this one: its drift is not shown (outside refresh-only).
        ResourceDrift {
            addr: addr("brick_data.unread"),
            provider: "brick".into(),
            before: data(s("k"), s("x"), s("x")),
            after: data(s("k"), s("y"), s("y")),
        },
    ];
    // What the changes read, as the planner records it: only d's `output` drift is relevant.
    plan.relevant_attributes = vec![
        ("brick_data.d".into(), vec![serde_json::json!("output")]),
        ("brick_data.lost".into(), vec![]),
    ];
    check("drift", &plan);
    plan.changes.clear();
    plan.mode = PlanMode::RefreshOnly;
    check("refresh_only", &plan);
}

#[test]
fn an_empty_plan_says_there_are_no_changes() {
    check(
        "no_changes",
        &plan_of(vec![change(
            "brick_data.same",
            Action::NoOp,
            data(s("i"), s("a"), s("a")),
            data(s("i"), s("a"), s("a")),
        )]),
    );
}

#[test]
fn nested_blocks_render_as_blocks_with_their_labels() {
    let volume = |size: i64, fs: &str| obj(&[("size", Value::number(size)), ("fs", s(fs))]);
    let machine = |os: i64, extra: bool| {
        let mut volumes = vec![("os", volume(os, "ext4")), ("ceph", volume(100, "none"))];
        if extra {
            volumes.push(("data", volume(5, "xfs")));
        }
        obj(&[
            ("id", s("abc")),
            ("hostname", s("kvm1")),
            (
                "storage",
                obj(&[
                    ("os_size", Value::number(os)),
                    (
                        "volume",
                        Value::map(
                            obj(&[("size", Value::number(0i64)), ("fs", s(""))]).ty(),
                            volumes
                                .into_iter()
                                .map(|(k, v)| (k.to_string(), v))
                                .collect(),
                        ),
                    ),
                ]),
            ),
        ])
    };
    let mut c = change(
        "maas_machine.kvm1",
        Action::Update,
        machine(20, false),
        machine(30, true),
    );
    c.provider = "maas".into();
    let mut plan = plan_of(vec![c]);
    let volume_shape = crate::plan::model::BlockShape::default();
    plan.schemas.insert(
        "maas_machine".into(),
        crate::plan::model::BlockShape {
            dynamic: vec![],
            blocks: BTreeMap::from([(
                "storage".to_string(),
                crate::plan::model::NestedShape {
                    nesting: "single".into(),
                    block: crate::plan::model::BlockShape {
                        dynamic: vec![],
                        blocks: BTreeMap::from([(
                            "volume".to_string(),
                            crate::plan::model::NestedShape {
                                nesting: "map".into(),
                                block: volume_shape,
                            },
                        )]),
                    },
                },
            )]),
        },
    );
    let text = render_plan(&plan, Style { color: false });
    insta::assert_snapshot!("nested_blocks_text", text);
}

//! The on-disk document: golden round trips, canonical output, upgrades and refusals.

use std::path::{Path, PathBuf};

use brick_state::{
    FORMAT_VERSION, IndexKey, ObjectState, PathStep, ResourceAddr, State, StateError, from_bytes,
    to_bytes,
};
use serde_json::json;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// Loads a golden file and saves it again: the bytes must be identical.
fn check_round_trip(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let state = from_bytes(&bytes, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let again = to_bytes(&state);
    assert_eq!(
        String::from_utf8(again).unwrap(),
        String::from_utf8(bytes).unwrap(),
        "{} does not round-trip",
        path.display()
    );
}

#[test]
fn every_golden_state_saves_to_the_bytes_it_was_loaded_from() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixture("golden")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            check_round_trip(&path);
            n += 1;
        }
    }
    assert!(n >= 2, "expected golden files, found {n}");
}

#[test]
fn the_golden_cluster_state_loads_into_the_expected_model() {
    let path = fixture("golden/cluster.json");
    let state = from_bytes(&std::fs::read(&path).unwrap(), &path).unwrap();
    assert_eq!(state.serial, 42);
    assert_eq!(state.resources.len(), 4);
    let node = ResourceAddr::managed("maas_machine", "node");
    let kvm1 = state
        .instance(&node.instance(IndexKey::String("kvm1".into())))
        .unwrap();
    let current = kvm1.current.as_ref().unwrap();
    assert!(current.create_before_destroy);
    assert_eq!(
        current.sensitive_paths,
        vec![vec![
            PathStep::Attr("power_parameters".into()),
            PathStep::Key("power_pass".into())
        ]]
    );
    assert_eq!(
        kvm1.deposed["00c0ffee"].attributes.value()["system_id"],
        "a7b2cd"
    );
    let kvm2 = state
        .object(&node.instance(IndexKey::String("kvm2".into())))
        .unwrap();
    assert!(kvm2.tainted);
    assert_eq!(
        state.pending[&7].addr.to_string(),
        "maas_machine.node[\"kvm3\"]"
    );
    assert!(state.outputs["admin_password"].sensitive);
    assert_eq!(state.object_count(), 8);
}

#[test]
fn saving_sorts_resources_instances_and_attribute_keys_and_ends_with_a_newline() {
    let mut state = State::with_lineage("l", "0.1.0");
    let put = |state: &mut State, addr: ResourceAddr, key: IndexKey, attrs| {
        state.apply(&brick_state::Change::Set {
            intent: None,
            addr: addr.instance(key),
            deposed: None,
            provider: "p".into(),
            object: ObjectState::new(attrs),
        });
    };
    put(
        &mut state,
        ResourceAddr::managed("z_thing", "a"),
        IndexKey::None,
        json!({"b": 1, "a": {"d": 1, "c": 2}}),
    );
    put(
        &mut state,
        ResourceAddr::managed("a_thing", "x"),
        IndexKey::String("b".into()),
        json!({}),
    );
    put(
        &mut state,
        ResourceAddr::managed("a_thing", "x"),
        IndexKey::Int(10),
        json!({}),
    );
    put(
        &mut state,
        ResourceAddr::managed("a_thing", "x"),
        IndexKey::Int(9),
        json!({}),
    );
    let text = String::from_utf8(to_bytes(&state)).unwrap();
    assert!(text.ends_with("}\n"));
    let pos = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    assert!(pos("\"a_thing\"") < pos("\"z_thing\""));
    assert!(pos("\"index_key\": 9") < pos("\"index_key\": 10"));
    assert!(pos("\"index_key\": 10") < pos("\"index_key\": \"b\""));
    assert!(pos("\"c\": 2") < pos("\"d\": 1"));
    assert!(pos("\"a\": {") < pos("\"b\": 1"));
    // And the canonical form is a fixed point.
    let again = to_bytes(&from_bytes(text.as_bytes(), Path::new("x")).unwrap());
    assert_eq!(String::from_utf8(again).unwrap(), text);
}

#[test]
fn a_newer_format_version_is_refused_naming_both_versions() {
    let doc = format!(
        "{{\"format_version\": {}, \"brick_version\": \"9.0.0\", \"serial\": 1, \"lineage\": \"l\"}}",
        FORMAT_VERSION + 1
    );
    let err = from_bytes(doc.as_bytes(), Path::new("brick.state.json")).unwrap_err();
    assert!(
        matches!(err, StateError::NewerFormat { found, supported, .. } if found == FORMAT_VERSION + 1 && supported == FORMAT_VERSION)
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("format version {}", FORMAT_VERSION + 1)),
        "{msg}"
    );
    assert!(msg.contains(&format!("up to {FORMAT_VERSION}")), "{msg}");
    assert_eq!(
        miette::Diagnostic::code(&err).unwrap().to_string(),
        "brick::state::newer_format"
    );
}

#[test]
fn a_terraform_v4_state_is_upgraded_to_the_current_format() {
    let input = fixture("upgrade/terraform_v4.tfstate");
    let state = from_bytes(&std::fs::read(&input).unwrap(), &input).unwrap();
    let expected = std::fs::read_to_string(fixture("upgrade/terraform_v4.expected.json")).unwrap();
    assert_eq!(String::from_utf8(to_bytes(&state)).unwrap(), expected);
}

#[test]
fn truncated_or_malformed_documents_are_corrupt_errors_not_panics() {
    let good = std::fs::read(fixture("golden/cluster.json")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("not an object", b"[1, 2]\n".to_vec()),
        ("no format version", b"{\"serial\": 1}\n".to_vec()),
        ("bad index key", br#"{"format_version":1,"brick_version":"x","serial":1,"lineage":"l","resources":[{"mode":"managed","type":"t","name":"n","provider":"p","instances":[{"index_key":1.5,"schema_version":0,"attributes":{}}]}]}"#.to_vec()),
        ("duplicate instance", br#"{"format_version":1,"brick_version":"x","serial":1,"lineage":"l","resources":[{"mode":"managed","type":"t","name":"n","provider":"p","instances":[{"schema_version":0,"attributes":{}},{"schema_version":0,"attributes":{}}]}]}"#.to_vec()),
        ("attributes not an object", br#"{"format_version":1,"brick_version":"x","serial":1,"lineage":"l","resources":[{"mode":"managed","type":"t","name":"n","provider":"p","instances":[{"schema_version":0,"attributes":3}]}]}"#.to_vec()),
        ("empty lineage", br#"{"format_version":1,"brick_version":"x","serial":1,"lineage":""}"#.to_vec()),
    ];
    for (name, bytes) in cases {
        match from_bytes(&bytes, Path::new("s.json")) {
            Err(StateError::Corrupt { .. }) => {}
            other => panic!("{name}: expected a corrupt error, got {other:?}"),
        }
    }
}

#[test]
fn instance_addresses_read_like_terraform_addresses() {
    let mut addr = ResourceAddr::managed("maas_machine", "node");
    assert_eq!(
        addr.instance(IndexKey::String("kvm4".into())).to_string(),
        "maas_machine.node[\"kvm4\"]"
    );
    assert_eq!(
        addr.instance(IndexKey::Int(3)).to_string(),
        "maas_machine.node[3]"
    );
    addr.module = "module.net".into();
    addr.mode = brick_state::Mode::Data;
    assert_eq!(
        addr.instance(IndexKey::None).to_string(),
        "module.net.data.maas_machine.node"
    );
}

#[test]
fn a_tainted_reason_is_saved_loaded_and_absent_when_there_is_none() {
    let mut state = State::with_lineage("l", "0.1.0");
    let mut object = ObjectState::new(json!({"name": "n"}));
    object.tainted = true;
    object.tainted_reason = Some("possibly created".into());
    let addr = ResourceAddr::managed("a_thing", "x").instance(IndexKey::None);
    state.apply(&brick_state::Change::Set {
        intent: None,
        addr: addr.clone(),
        deposed: None,
        provider: "p".into(),
        object,
    });
    let bytes = to_bytes(&state);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains("\"tainted_reason\": \"possibly created\""),
        "{text}"
    );
    let back = from_bytes(&bytes, Path::new("x")).unwrap();
    assert_eq!(back, state);
    assert_eq!(
        back.object(&addr).unwrap().tainted_reason.as_deref(),
        Some("possibly created")
    );
    // Without a reason the field is not written (states of older versions stay byte-equal).
    let mut state = State::with_lineage("l", "0.1.0");
    state.apply(&brick_state::Change::Set {
        intent: None,
        addr: addr.clone(),
        deposed: None,
        provider: "p".into(),
        object: ObjectState::new(json!({})),
    });
    let text = String::from_utf8(to_bytes(&state)).unwrap();
    assert!(!text.contains("tainted_reason"), "{text}");
}

/// Every format 1 document in `upgrade/format_v1` loads into the same model as its format 2
/// counterpart in `golden` (dependencies listed whole in one, directly in the other), and
/// saves to that counterpart's bytes.
#[test]
fn format_1_states_upgrade_to_the_same_model_as_their_format_2_golden_files() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixture("upgrade/format_v1")).unwrap() {
        let old = entry.unwrap().path();
        let new = fixture("golden").join(old.file_name().unwrap());
        let old_state = from_bytes(&std::fs::read(&old).unwrap(), &old).unwrap();
        let new_bytes = std::fs::read(&new).unwrap();
        let new_state = from_bytes(&new_bytes, &new).unwrap();
        assert_eq!(old_state, new_state, "{}", old.display());
        assert_eq!(
            String::from_utf8(to_bytes(&old_state)).unwrap(),
            String::from_utf8(new_bytes).unwrap(),
            "{} does not save as {}",
            old.display(),
            new.display()
        );
        n += 1;
    }
    assert!(n >= 2, "expected format 1 files, found {n}");
}

#[test]
fn direct_dependencies_on_disk_load_as_every_resource_upstream() {
    let path = fixture("golden/chain.json");
    let state = from_bytes(&std::fs::read(&path).unwrap(), &path).unwrap();
    let whole = state.with_whole_dependencies();
    let deps = |module: &str, name: &str, key: IndexKey| {
        let mut r = ResourceAddr::managed("brick_data", name);
        r.module = module.into();
        whole.object(&r.instance(key)).unwrap().dependencies.clone()
    };
    assert_eq!(
        deps("", "d", IndexKey::None),
        ["brick_data.a", "brick_data.b", "module.m.brick_data.c"]
    );
    assert_eq!(
        deps("module.m[\"y\"]", "c", IndexKey::None),
        ["brick_data.a", "brick_data.b"]
    );
    assert_eq!(deps("", "b", IndexKey::Int(1)), ["brick_data.a"]);
    // Written whole: `c` depends on more than `e` lists, so expanding would add to it.
    assert_eq!(deps("", "e", IndexKey::None), ["module.m.brick_data.c"]);
    let saved = String::from_utf8(to_bytes(&state)).unwrap();
    assert_eq!(saved, std::fs::read_to_string(&path).unwrap());
}

//! The simulator's JSON and `describe/` document compared with real MAAS responses: the
//! samples in ../shared/samples/maas (MAAS's own API examples, gomaasapi fixtures, and the
//! describe documents python-libmaas tests with). The samples are read at test time, never
//! copied; without them the tests skip with a message.

use std::collections::BTreeSet;
use std::path::PathBuf;

use brick_provider_maas::client::{ClientConfig, MaasClient};
use brick_provider_maas::sim::{SimOptions, Simulator};
use serde_json::Value as Json;

/// `shared/` beside the repository (or beside the worktree's parent, for a git worktree).
fn samples() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        root.join("../shared/samples/maas"),
        root.join("../../shared/samples/maas"),
    ];
    let found = candidates.iter().find(|d| d.is_dir()).cloned();
    if found.is_none() {
        brick_provider_api::testing::skip_without_reference_data(
            "shared/samples/maas is absent beside the repository",
        );
    }
    found
}

fn load(dir: &std::path::Path, rel: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(dir.join(rel)).unwrap()).unwrap()
}

fn keys(j: &Json) -> BTreeSet<String> {
    j.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every key of `real` must be in `ours`.
fn assert_covers(what: &str, ours: &Json, real: &Json) {
    let missing: Vec<String> = keys(real).difference(&keys(ours)).cloned().collect();
    assert!(
        missing.is_empty(),
        "{what}: keys of the real answer missing from the simulator's: {missing:?}"
    );
}

async fn deployed_machine(sim: &Simulator) -> Json {
    let c = MaasClient::new(&ClientConfig::new(sim.url(), sim.api_key())).unwrap();
    let id = sim.with_world(|w| w.by_hostname("kvm4").unwrap().system_id.clone());
    c.machine_op(
        &id,
        "set_storage_layout",
        &[("storage_layout", "lvm".into())],
    )
    .await
    .unwrap();
    c.post("machines/", Some("allocate"), &[("system_id", id.clone())])
        .await
        .unwrap();
    c.machine_op(&id, "deploy", &[]).await.unwrap();
    c.machine(&id).await.unwrap()
}

#[tokio::test]
async fn machine_json_has_every_field_of_real_maas_answers() {
    let Some(dir) = samples() else { return };
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let m = deployed_machine(&sim).await;
    let gomaasapi = load(&dir, "gomaasapi-fixtures/machineResponse.json");
    let allocate = load(&dir, "maas-api-examples/machines/machines-allocate.json");
    assert_covers("machine (gomaasapi)", &m, &gomaasapi);
    assert_covers("machine (MAAS allocate example)", &m, &allocate);
    assert_covers(
        "interface",
        &m["interface_set"][0],
        &gomaasapi["interface_set"][0],
    );
    assert_covers(
        "interface link",
        &m["interface_set"][0]["links"][0],
        &gomaasapi["interface_set"][0]["links"][0],
    );
    assert_covers(
        "physical block device",
        &m["physicalblockdevice_set"][0],
        &gomaasapi["physicalblockdevice_set"][0],
    );
    assert_covers(
        "partition",
        &m["physicalblockdevice_set"][0]["partitions"][0],
        &gomaasapi["physicalblockdevice_set"][0]["partitions"][0],
    );
    assert_covers(
        "filesystem",
        &m["physicalblockdevice_set"][0]["partitions"][0]["filesystem"],
        &gomaasapi["physicalblockdevice_set"][0]["partitions"][0]["filesystem"],
    );
    let vg_sample = load(&dir, "maas-api-examples/nodes/vol-groups-read.json");
    assert_covers("volume group", &m["volume_groups"][0], &vg_sample[0]);
    let bd_sample = load(&dir, "maas-api-examples/nodes/block-devs-read.json");
    assert_covers(
        "block device (MAAS example)",
        &m["physicalblockdevice_set"][0],
        &bd_sample[0],
    );
    // Same types where both have a value.
    for k in [
        "status",
        "cpu_count",
        "memory",
        "system_id",
        "tag_names",
        "ip_addresses",
        "power_state",
    ] {
        let same = matches!(
            (&m[k], &gomaasapi[k]),
            (Json::Number(_), Json::Number(_))
                | (Json::String(_), Json::String(_))
                | (Json::Array(_), Json::Array(_))
        );
        assert!(same, "{k}: {} vs {}", m[k], gomaasapi[k]);
    }
}

#[tokio::test]
async fn version_and_tags_answers_have_the_fields_of_real_ones() {
    let Some(dir) = samples() else { return };
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let c = MaasClient::new(&ClientConfig::new(sim.url(), sim.api_key())).unwrap();
    let v = c.get("version/", &[]).await.unwrap();
    assert_covers(
        "version",
        &v,
        &load(&dir, "gomaasapi-fixtures/versionResponse.json"),
    );
    let t = c
        .post("tags/", None, &[("name", "virtual".into())])
        .await
        .unwrap();
    assert_covers(
        "tag",
        &t,
        &load(&dir, "maas-api-examples/tags/get-tags.json")[0],
    );
}

#[tokio::test]
async fn every_handler_and_action_of_describe_exists_in_real_maas() {
    let Some(dir) = samples() else { return };
    let real20 = load(&dir, "python-libmaas-describe/api20.json");
    let real22 = load(&dir, "python-libmaas-describe/api22.raw.json");
    let ours = brick_provider_maas::sim::api::describe("http://localhost:5240");
    let real_handlers = |name: &str| -> Vec<Json> {
        [&real20, &real22]
            .iter()
            .flat_map(|d| d["resources"].as_array().unwrap().iter())
            .filter(|r| r["name"] == name)
            .flat_map(|r| [r["auth"].clone(), r["anon"].clone()])
            .filter(|h| !h.is_null())
            .collect()
    };
    for r in ours["resources"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        let h = if r["auth"].is_null() {
            &r["anon"]
        } else {
            &r["auth"]
        };
        let real = real_handlers(name);
        assert!(!real.is_empty(), "{name} is not a MAAS handler");
        // Paths and parameter names as the newer document (MAAS 2.2+) has them, where it has
        // the handler: python-libmaas binds parameters by these names.
        let modern: Vec<&Json> = real22["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == name)
            .flat_map(|r| [&r["auth"], &r["anon"]])
            .filter(|h| !h.is_null())
            .collect();
        let reference: Vec<&Json> = if modern.is_empty() {
            real.iter().collect()
        } else {
            modern
        };
        assert!(
            reference.iter().any(|x| x["path"] == h["path"]),
            "{name}: path {} differs from MAAS's",
            h["path"]
        );
        assert!(
            reference.iter().any(|x| x["params"] == h["params"]),
            "{name}: params differ"
        );
        for a in h["actions"].as_array().unwrap() {
            let found = real.iter().any(|x| {
                x["actions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|ra| ra["method"] == a["method"] && ra["op"] == a["op"])
            });
            assert!(
                found,
                "{name}: {} op={} is not a MAAS action",
                a["method"], a["op"]
            );
        }
    }
}

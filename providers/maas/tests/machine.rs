//! `maas_machine` through the Provider trait, against the simulator at a fast time scale.

mod common;

use brick_provider_api::provider::{PathStep, PlanRequest};
use brick_provider_api::{Provider, Value};
use brick_provider_maas::resources::machine;
use brick_provider_maas::sim::SimOptions;
use brick_provider_maas::sim::world::{LinkMode, Status};
use common::*;

#[tokio::test]
async fn a_ready_machine_is_laid_out_allocated_and_deployed_with_its_cloud_init() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let out = create(&p, &garage_node("kvm4")).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let s = &out.state;
    assert_eq!(attr(s, "status"), "Deployed");
    assert_eq!(attr(s, "power_state"), "on");
    assert_eq!(attr(s, "fqdn"), "kvm4.maas");
    assert_eq!(attr(s, "id"), attr(s, "system_id"));
    assert_eq!(
        s.get("cpu_count")
            .and_then(Value::as_number)
            .and_then(|n| n.to_i64()),
        Some(20)
    );
    let paths = s.get("volume_paths").unwrap();
    assert_eq!(
        paths.get("ceph").and_then(Value::as_str),
        Some("/dev/disk/by-dname/vgroot-ceph")
    );
    assert_eq!(
        paths.get("root").and_then(Value::as_str),
        Some("/dev/disk/by-dname/vgroot-root")
    );
    assert!(machine::conforms(s));
    assert!(s.is_wholly_known());
    // Progress carried MAAS's status names.
    assert!(
        out.progress.iter().any(|p| p.starts_with("Deploying")),
        "{:?}",
        out.progress
    );

    sim.with_world(|w| {
        let m = w.by_hostname("kvm4").unwrap();
        assert_eq!(m.status, Status::Deployed);
        assert_eq!(
            m.user_data.as_deref(),
            Some(&b"#cloud-config\nhostname: kvm4\n"[..])
        );
        assert_eq!(m.distro_series, "jammy");
        assert_eq!(m.tags, vec!["garage".to_string()]);
        // The ceph volume is raw and takes the rest; root is ext4 at /.
        let vg = &m.storage.vgs[0];
        let lvs: Vec<_> = m.storage.lvs(vg.id).collect();
        let ceph = lvs.iter().find(|d| d.name == "vgroot-ceph").unwrap();
        let root = lvs.iter().find(|d| d.name == "vgroot-root").unwrap();
        assert!(ceph.fs.is_none());
        assert_eq!(root.fs.as_ref().unwrap().mount_point.as_deref(), Some("/"));
        assert!(root.size >= 100_000_000_000 && root.size < 100_004_194_304);
        assert_eq!(
            m.storage.vg_size(vg),
            m.storage.vg_used(vg),
            "the rest went to ceph"
        );
    });
}

#[tokio::test]
async fn the_planned_volume_paths_are_known_before_apply_and_match_the_result() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    let cfg = garage_node("kvm5");
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &Value::null(cfg.ty()),
            proposed: &cfg,
        })
        .await;
    let planned_paths = plan.planned.get("volume_paths").unwrap().clone();
    assert!(planned_paths.is_wholly_known());
    assert!(!plan.planned.get("status").unwrap().is_known());
    let out = create(&p, &cfg).await;
    assert_eq!(out.state.get("volume_paths"), Some(&planned_paths));
}

#[tokio::test]
async fn a_new_pc_found_by_its_pxe_mac_is_commissioned_then_deployed() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let cfg = machine_config(vec![
        ("pxe_mac_address", Value::string("52:54:00:73:70:01")),
        ("storage", garage_storage()),
    ]);
    let out = create(&p, &cfg).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(attr(&out.state, "hostname"), "spare1");
    assert_eq!(attr(&out.state, "status"), "Deployed");
    for st in ["Commissioning", "Deploying"] {
        assert!(
            out.progress.iter().any(|p| p.starts_with(st)),
            "{st} not in {:?}",
            out.progress
        );
    }
    let ops: Vec<_> = sim.requests().into_iter().filter_map(|r| r.op).collect();
    assert!(ops.contains(&"commission".to_string()));
    let bd = out
        .state
        .get("block_devices")
        .unwrap()
        .as_sequence()
        .unwrap();
    assert_eq!(bd.len(), 1);
    assert_eq!(
        bd[0].get("path").and_then(Value::as_str),
        Some("/dev/disk/by-dname/sda")
    );
}

#[tokio::test]
async fn a_machine_that_fails_to_deploy_gives_a_clear_error_and_stays_tracked() {
    let mut opts = SimOptions::fast();
    opts.fail_deploy = vec!["kvm5".into()];
    let (_sim, p) = lab(opts).await;
    let out = create(&p, &garage_node("kvm5")).await;
    assert_eq!(out.errors.len(), 1);
    let e = &out.errors[0];
    assert_eq!(e.code, "brick::maas::deployment_failed");
    assert!(
        e.detail.contains("kvm5 ended in Failed deployment"),
        "{}",
        e.detail
    );
    assert!(e.help.is_some());
    // Still allocated to us: the state records it so the next plan replaces it.
    assert_eq!(attr(&out.state, "status"), "Failed deployment");
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &out.state,
            proposed: &garage_node("kvm5"),
        })
        .await;
    assert_eq!(
        plan.requires_replace,
        vec![vec![PathStep::Attr("status".into())]]
    );
}

#[tokio::test]
async fn an_unknown_hostname_is_a_clear_error_not_a_hang() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    let out = create(&p, &garage_node("kvm9")).await;
    assert_eq!(out.errors[0].code, "brick::maas::machine_not_found");
    assert!(out.errors[0].detail.contains("hostname kvm9"));
    assert!(out.state.is_null());
}

#[tokio::test]
async fn tags_change_in_place_without_redeploying() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let first = create(&p, &garage_node("kvm4")).await.state;
    let mut cfg = garage_node("kvm4");
    if let Some(m) = cfg.as_mapping().cloned() {
        let mut m = m;
        m.insert("tags".into(), strs(&["ceph", "k8s"]));
        cfg = Value::object(m);
    }
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &first,
            proposed: &cfg,
        })
        .await;
    assert!(
        plan.requires_replace.is_empty(),
        "{:?}",
        plan.requires_replace
    );
    sim.clear_requests();
    let out = plan_apply(&p, machine::TYPE, &first, &cfg).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let ops: Vec<_> = sim.requests().into_iter().filter_map(|r| r.op).collect();
    assert!(
        !ops.iter().any(|o| o == "deploy" || o == "release"),
        "{ops:?}"
    );
    sim.with_world(|w| {
        let mut tags = w.by_hostname("kvm4").unwrap().tags.clone();
        tags.sort();
        assert_eq!(tags, vec!["ceph".to_string(), "k8s".to_string()]);
    });
    assert_eq!(out.state.get("tags"), Some(&strs(&["ceph", "k8s"])));
}

#[tokio::test]
async fn changes_of_distro_user_data_or_storage_force_replacement() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    let first = create(&p, &garage_node("kvm4")).await.state;
    for (k, v) in [
        ("distro_series", Value::string("noble")),
        ("user_data", Value::string("#cloud-config\n{}\n")),
        ("hwe_kernel", Value::string("hwe-22.04")),
    ] {
        let mut m = garage_node("kvm4").as_mapping().cloned().unwrap();
        m.insert(k.into(), v);
        let plan = p
            .plan_resource(PlanRequest {
                type_name: machine::TYPE,
                prior: &first,
                proposed: &Value::object(m),
            })
            .await;
        assert_eq!(
            plan.requires_replace,
            vec![vec![PathStep::Attr(k.into())]],
            "{k}"
        );
    }
    // The same storage written differently ("100000M" = "100G") is not a change.
    let mut m = garage_node("kvm4").as_mapping().cloned().unwrap();
    let mut vols = std::collections::BTreeMap::new();
    vols.insert(
        "root".to_string(),
        volume("100000M", Some("ext4"), Some("/")),
    );
    vols.insert("ceph".to_string(), volume("rest", None, None));
    let vol_ty = machine::schema().block.blocks["storage"].block.blocks["volume"]
        .block
        .value_type();
    m.insert(
        "storage".into(),
        Value::object_from([
            ("layout", Value::string("lvm")),
            ("volume", Value::map(vol_ty.clone(), vols.clone())),
        ]),
    );
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &first,
            proposed: &Value::object(m.clone()),
        })
        .await;
    assert!(plan.requires_replace.is_empty());
    vols.insert("root".to_string(), volume("200G", Some("ext4"), Some("/")));
    m.insert(
        "storage".into(),
        Value::object_from([
            ("layout", Value::string("lvm")),
            ("volume", Value::map(vol_ty, vols)),
        ]),
    );
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &first,
            proposed: &Value::object(m),
        })
        .await;
    assert_eq!(
        plan.requires_replace,
        vec![vec![PathStep::Attr("storage".into())]]
    );
}

#[tokio::test]
async fn delete_releases_with_erase_and_waits_for_ready() {
    // Slow enough that the erase is surely seen: releasing 60 ms, erasing 1.8 s.
    let (sim, p) = lab(SimOptions {
        time_scale: 0.002,
        ..SimOptions::fast()
    })
    .await;
    let mut m = garage_node("kvm4").as_mapping().cloned().unwrap();
    m.insert("erase".into(), Value::bool(true));
    let state = create(&p, &Value::object(m)).await.state;
    let out = destroy(&p, machine::TYPE, &state).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.state.is_null());
    assert!(
        out.progress.iter().any(|p| p.starts_with("Disk erasing")),
        "{:?}",
        out.progress
    );
    sim.with_world(|w| {
        let m = w.by_hostname("kvm4").unwrap();
        assert_eq!(m.status, Status::Ready);
        assert!(m.owner.is_none() && m.owner_data.is_empty());
    });
}

#[tokio::test]
async fn a_machine_released_behind_bricks_back_reads_as_gone_and_a_broken_one_as_changed() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let kvm4 = create(&p, &garage_node("kvm4")).await.state;
    let kvm5 = create(&p, &garage_node("kvm5")).await.state;
    let now = std::time::Instant::now();
    sim.with_world(|w| {
        let i = w.index(attr(&kvm4, "system_id")).unwrap();
        w.release(i, &Default::default(), now).unwrap();
        let j = w.index(attr(&kvm5, "system_id")).unwrap();
        w.mark_broken(j).unwrap();
    });
    assert!(read(&p, machine::TYPE, &kvm4).await.is_none());
    let broken = read(&p, machine::TYPE, &kvm5).await.unwrap();
    assert_eq!(attr(&broken, "status"), "Broken");
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &broken,
            proposed: &garage_node("kvm5"),
        })
        .await;
    assert_eq!(
        plan.requires_replace,
        vec![vec![PathStep::Attr("status".into())]]
    );
}

#[tokio::test]
async fn tags_changed_behind_bricks_back_show_in_read() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let s = create(&p, &garage_node("kvm4")).await.state;
    sim.with_world(|w| {
        let i = w.index(attr(&s, "system_id")).unwrap();
        w.machines[i].tags.push("manual".into());
    });
    let r = read(&p, machine::TYPE, &s).await.unwrap();
    assert_eq!(r.get("tags"), Some(&strs(&["garage", "manual"])));
    // user_data and storage, which MAAS does not report, are kept.
    assert_eq!(r.get("user_data"), s.get("user_data"));
    assert_eq!(r.get("storage"), s.get("storage"));
}

#[tokio::test]
async fn read_many_refreshes_every_machine_with_one_list_call() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let mut states = Vec::new();
    for h in ["maas", "kvm4", "kvm5"] {
        let out = create(&p, &garage_node(h)).await;
        assert!(out.errors.is_empty(), "{h}: {:?}", out.errors);
        states.push(out.state);
    }
    sim.clear_requests();
    let got = p.read_many(machine::TYPE, &states).await;
    assert_eq!(got.len(), 3);
    for (g, s) in got.iter().zip(&states) {
        let g = g.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(g, s, "an untouched machine refreshes to the same state");
    }
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].path, "/MAAS/api/2.0/machines/");
}

#[tokio::test]
async fn an_interrupted_deploy_is_reattached_not_deployed_twice() {
    let (sim, p) = lab(SimOptions {
        time_scale: 0.003,
        ..SimOptions::fast()
    })
    .await;
    // A first run gets as far as deploy, then brick is interrupted.
    let cfg = garage_node("kvm4");
    let first = create(&p, &cfg);
    tokio::pin!(first);
    loop {
        tokio::select! {
            _ = &mut first => panic!("the first run finished before it could be interrupted"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {
                if sim.with_world(|w| w.by_hostname("kvm4").unwrap().status) == Status::Deploying {
                    break;
                }
            }
        }
    }
    sim.clear_requests();
    let out = create(&p, &garage_node("kvm4")).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(attr(&out.state, "status"), "Deployed");
    let ops: Vec<_> = sim.requests().into_iter().filter_map(|r| r.op).collect();
    assert!(
        !ops.iter().any(|o| o == "deploy" || o == "allocate"),
        "{ops:?}"
    );
}

#[tokio::test]
async fn a_run_killed_between_allocate_and_deploy_is_reattached_not_allocated_twice() {
    // The garage kill -9 campaign's trial 6: killed after the storage was laid out and the
    // machine allocated, before deploy. The next run found the machine Allocated to brick,
    // did not know its storage was done, released it, laid it out and allocated it again.
    let (sim, p) = lab(SimOptions {
        time_scale: 0.003,
        // Every answer takes a while, so the window between allocate and deploy is wide.
        latency: std::time::Duration::from_millis(40),
        ..SimOptions::fast()
    })
    .await;
    let cfg = garage_node("kvm4");
    let mut first = Box::pin(create(&p, &cfg));
    loop {
        tokio::select! {
            _ = &mut first => panic!("the first run finished before it could be interrupted"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(2)) => {
                if sim.with_world(|w| w.by_hostname("kvm4").unwrap().status) == Status::Allocated {
                    break;
                }
            }
        }
    }
    drop(first); // the kill: the run stops where it is
    sim.set_latency(std::time::Duration::ZERO);
    let ops = |sim: &brick_provider_maas::sim::Simulator| -> Vec<String> {
        sim.requests().into_iter().filter_map(|r| r.op).collect()
    };
    let before = ops(&sim);
    assert_eq!(
        before.iter().filter(|o| *o == "allocate").count(),
        1,
        "{before:?}"
    );
    assert!(!before.iter().any(|o| o == "deploy"), "{before:?}");
    sim.clear_requests();

    let out = create(&p, &cfg).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(attr(&out.state, "status"), "Deployed");
    let again = ops(&sim);
    for op in ["allocate", "release", "set_storage_layout"] {
        assert!(!again.iter().any(|o| o == op), "{op} in {again:?}");
    }
    assert_eq!(
        again.iter().filter(|o| *o == "deploy").count(),
        1,
        "{again:?}"
    );
    sim.with_world(|w| {
        let m = w.by_hostname("kvm4").unwrap();
        assert_eq!(m.status, Status::Deployed);
        assert_eq!(
            m.storage.lvs(m.storage.vgs[0].id).count(),
            2,
            "root and ceph"
        );
    });
}

#[tokio::test]
async fn three_machines_converge_when_a_third_of_answers_fail_with_503_or_504_and_some_with_409() {
    let mut opts = SimOptions::fast();
    opts.error_rate = 0.3;
    opts.conflict_rate = 0.1;
    let (sim, p) = lab(opts).await;
    let (na, nb, nc) = (
        garage_node("maas"),
        garage_node("kvm4"),
        garage_node("kvm5"),
    );
    let (a, b, c) = tokio::join!(create(&p, &na), create(&p, &nb), create(&p, &nc));
    assert!(sim.faults_injected() > 0, "faults were injected");
    for out in [&a, &b, &c] {
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(attr(&out.state, "status"), "Deployed");
    }
    sim.with_world(|w| {
        for h in ["maas", "kvm4", "kvm5"] {
            let m = w.by_hostname(h).unwrap();
            assert_eq!(m.status, Status::Deployed, "{h}");
            assert_eq!(m.storage.vgs.len(), 1, "{h} has one volume group");
            assert_eq!(
                m.storage.lvs(m.storage.vgs[0].id).count(),
                2,
                "{h} has root and ceph"
            );
        }
    });
}

#[tokio::test]
async fn import_by_hostname_keeps_user_data_and_storage_so_the_next_plan_is_empty() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    let created = create(&p, &garage_node("kvm4")).await.state;
    for id in ["kvm4", attr(&created, "system_id")] {
        let imported = p.import_resource(machine::TYPE, id).await.unwrap();
        assert_eq!(imported.len(), 1);
        let state = &imported[0].state;
        assert_eq!(state.get("user_data"), created.get("user_data"), "{id}");
        assert_eq!(state.get("storage"), created.get("storage"), "{id}");
        let plan = p
            .plan_resource(PlanRequest {
                type_name: machine::TYPE,
                prior: state,
                proposed: &garage_node("kvm4"),
            })
            .await;
        assert!(
            plan.requires_replace.is_empty(),
            "{:?}",
            plan.requires_replace
        );
        assert_eq!(&plan.planned, state, "the plan after import is empty");
    }
}

#[tokio::test]
async fn validation_names_every_problem_at_once() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    let vol_ty = machine::schema().block.blocks["storage"].block.blocks["volume"]
        .block
        .value_type();
    let mut vols = std::collections::BTreeMap::new();
    vols.insert("a".to_string(), volume("rest", None, None));
    vols.insert("b".to_string(), volume("rest", None, Some("srv")));
    vols.insert("c".to_string(), volume("lots", Some("ext4"), None));
    let cfg = machine_config(vec![
        ("pxe_mac_address", Value::string("52:54:00:zz")),
        (
            "storage",
            Value::object_from([
                ("layout", Value::string("flat")),
                ("volume", Value::map(vol_ty, vols)),
            ]),
        ),
    ]);
    let codes: Vec<String> = p
        .validate_resource(machine::TYPE, &cfg)
        .into_iter()
        .map(|d| d.code)
        .collect();
    for c in [
        "brick::maas::invalid_mac",
        "brick::maas::volumes_need_lvm",
        "brick::maas::lvm_root",
        "brick::maas::several_rest_volumes",
        "brick::maas::invalid_size",
        "brick::maas::invalid_mount_point",
        "brick::maas::mount_without_fstype",
    ] {
        assert!(codes.iter().any(|x| x == c), "{c} missing from {codes:?}");
    }
    let none = machine_config(vec![]);
    let codes: Vec<String> = p
        .validate_resource(machine::TYPE, &none)
        .into_iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(codes, vec!["brick::maas::machine_unidentified"]);
    assert!(
        p.validate_resource(machine::TYPE, &garage_node("kvm4"))
            .is_empty()
    );
}

#[tokio::test]
async fn unset_tags_leave_maas_tags_alone() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let mut m = garage_node("kvm4").as_mapping().cloned().unwrap();
    m.insert(
        "tags".into(),
        Value::null(brick_provider_api::Type::set(
            brick_provider_api::Type::String,
        )),
    );
    let cfg = Value::object(m);
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &Value::null(cfg.ty()),
            proposed: &cfg,
        })
        .await;
    assert!(
        !plan.planned.get("tags").unwrap().is_known(),
        "known after apply"
    );
    let s = create(&p, &cfg).await.state;
    assert_eq!(s.get("tags"), Some(&strs(&[])));
    sim.with_world(|w| {
        let i = w.index(attr(&s, "system_id")).unwrap();
        w.machines[i].tags.push("virtual".into());
    });
    let refreshed = read(&p, machine::TYPE, &s).await.unwrap();
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &refreshed,
            proposed: &cfg,
        })
        .await;
    assert!(plan.requires_replace.is_empty());
    assert_eq!(plan.planned, refreshed, "nothing to change");
}

#[tokio::test]
async fn a_static_ip_is_linked_before_deploy_refused_when_in_use_and_given_back_on_release() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let with_ip = |host: &str, ip: &str| {
        let mut m = garage_node(host).as_mapping().cloned().unwrap();
        m.insert("static_ip".into(), Value::string(ip));
        Value::object(m)
    };
    // The address is the boot interface's STATIC link, made while Allocated: the deployed
    // machine has it, and it is known at plan.
    let cfg = with_ip("kvm4", "10.0.0.50");
    let plan = p
        .plan_resource(PlanRequest {
            type_name: machine::TYPE,
            prior: &Value::null(cfg.ty()),
            proposed: &cfg,
        })
        .await;
    assert_eq!(attr(&plan.planned, "static_ip"), "10.0.0.50");
    let out = create(&p, &cfg).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let kvm4 = out.state.clone();
    assert_eq!(attr(&out.state, "static_ip"), "10.0.0.50");
    let ips = out.state.get("ip_addresses").unwrap();
    assert_eq!(
        ips.as_sequence().unwrap()[0].as_str(),
        Some("10.0.0.50"),
        "{ips:?}"
    );
    sim.with_world(|w| {
        let m = w.by_hostname("kvm4").unwrap();
        let links: Vec<_> = m.interfaces[0]
            .links
            .iter()
            .map(|l| (l.mode, l.ip.clone()))
            .collect();
        assert_eq!(links, vec![(LinkMode::Static, Some("10.0.0.50".into()))]);
    });

    // Another machine asking for the same address is refused as MAAS refuses it (409).
    let out = create(&p, &with_ip("kvm5", "10.0.0.50")).await;
    let codes: Vec<&str> = out.errors.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["brick::maas::static_ip_in_use"], "{:?}", out.errors);
    assert!(
        out.errors[0]
            .detail
            .contains("IP address is already in use"),
        "{:?}",
        out.errors
    );
    sim.with_world(|w| {
        let m = w.by_hostname("kvm5").unwrap();
        assert_ne!(m.status, Status::Deployed);
        assert!(m.interfaces[0].links.iter().all(|l| l.ip.is_none()));
    });
    // An address no subnet of MAAS holds is refused before anything is linked.
    let out = create(&p, &with_ip("spare1", "192.168.7.7")).await;
    let codes: Vec<&str> = out.errors.iter().map(|d| d.code.as_str()).collect();
    assert!(
        codes.contains(&"brick::maas::static_ip_no_subnet"),
        "{codes:?}"
    );

    // Releasing gives the address back: the boot interface is AUTO again.
    let out = destroy(&p, machine::TYPE, &kvm4).await;
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    sim.with_world(|w| {
        let m = w.by_hostname("kvm4").unwrap();
        assert_eq!(m.status, Status::Ready);
        let modes: Vec<_> = m.interfaces[0].links.iter().map(|l| l.mode).collect();
        assert_eq!(modes, [LinkMode::Auto]);
        assert!(!w.ip_in_use("10.0.0.50"));
    });
}

#[tokio::test]
async fn a_malformed_static_ip_or_subnet_is_refused_at_validation() {
    let (_sim, p) = lab(SimOptions::fast()).await;
    let codes = |set: Vec<(&str, Value)>| -> Vec<String> {
        let mut all = vec![("hostname", Value::string("kvm4"))];
        all.extend(set);
        p.validate_resource(machine::TYPE, &machine_config(all))
            .into_iter()
            .map(|d| d.code)
            .collect()
    };
    assert_eq!(
        codes(vec![("static_ip", Value::string("10.0.0.300"))]),
        ["brick::maas::invalid_static_ip"]
    );
    assert_eq!(
        codes(vec![
            ("static_ip", Value::string("10.0.0.50")),
            ("subnet_cidr", Value::string("10.0.1.0/24"))
        ]),
        ["brick::maas::static_ip_outside_subnet"]
    );
    assert_eq!(
        codes(vec![("subnet_cidr", Value::string("10.0.0.0/24"))]),
        ["brick::maas::subnet_without_static_ip"]
    );
    assert!(
        codes(vec![
            ("static_ip", Value::string("10.0.0.50")),
            ("subnet_cidr", Value::string("10.0.0.0/24"))
        ])
        .is_empty()
    );
}

#[tokio::test]
async fn a_static_link_made_by_hand_is_drift_only_where_brick_gives_the_address() {
    let (sim, p) = lab(SimOptions::fast()).await;
    let plain = create(&p, &garage_node("kvm4")).await.state;
    let mut m = garage_node("kvm5").as_mapping().cloned().unwrap();
    m.insert("static_ip".into(), Value::string("10.0.0.60"));
    let fixed = create(&p, &Value::object(m)).await.state;
    sim.with_world(|w| {
        // An admin gives kvm4 a static address, and changes kvm5's.
        for (host, ip) in [("kvm4", "10.0.0.70"), ("kvm5", "10.0.0.61")] {
            let i = w
                .index(w.by_hostname(host).unwrap().system_id.clone().as_str())
                .unwrap();
            let links = &mut w.machines[i].interfaces[0].links;
            links.retain(|l| l.mode != LinkMode::Static);
            links.push(brick_provider_maas::sim::world::Link {
                id: 999_000 + i as u64,
                mode: LinkMode::Static,
                ip: Some(ip.into()),
            });
        }
    });
    let r = read(&p, machine::TYPE, &plain).await.unwrap();
    assert!(r.get("static_ip").unwrap().is_null(), "{r:?}");
    let r = read(&p, machine::TYPE, &fixed).await.unwrap();
    assert_eq!(attr(&r, "static_ip"), "10.0.0.61");
}

//! The MAAS client against the simulator, and the simulator's MAAS semantics seen over HTTP:
//! authentication, `op=` dispatch, plain-text errors, retries under injected faults.

use std::time::Duration;

use brick_provider_maas::client::{ClientConfig, MaasClient, MaasError, RetryPolicy};
use brick_provider_maas::sim::{SimOptions, Simulator};
use serde_json::Value as Json;

fn client(sim: &Simulator, key: &str) -> MaasClient {
    let mut cfg = ClientConfig::new(sim.url(), key);
    cfg.retry = RetryPolicy {
        max_attempts: 12,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(50),
        give_up_after: Duration::from_secs(30),
    };
    MaasClient::new(&cfg).unwrap()
}

/// One check of the simulator's answer to a raw call: status and body text.
struct Case {
    method: reqwest::Method,
    path: &'static str,
    op: Option<&'static str>,
    form: &'static [(&'static str, &'static str)],
    status: u16,
    body: &'static str,
}

async fn check(sim: &Simulator, c: &Case) {
    let cl = client(sim, &sim.api_key());
    let params: Vec<(&str, String)> = c.form.iter().map(|(k, v)| (*k, v.to_string())).collect();
    let r = cl.call(c.method.clone(), c.path, c.op, &params).await;
    let (status, text) = match r {
        Ok(j) => (200, j.to_string()),
        Err(MaasError::BadRequest { message, .. }) => (400, message),
        Err(MaasError::NotFound { message }) => (404, message),
        Err(MaasError::Conflict { message }) => (409, message),
        Err(MaasError::Auth {
            status, message, ..
        }) => (status, message),
        Err(e) => panic!("unexpected {e:?}"),
    };
    assert_eq!(
        status, c.status,
        "{} {} op={:?}: {text}",
        c.method, c.path, c.op
    );
    assert!(
        text.contains(c.body),
        "{} {} op={:?}: {text:?} lacks {:?}",
        c.method,
        c.path,
        c.op,
        c.body
    );
}

#[tokio::test]
async fn the_simulator_answers_like_maas_for_ops_states_and_errors() {
    use reqwest::Method as M;
    // A deploy lasts 6 s here, not the fast pace's 60 ms: the second deploy must find the
    // machine still Deploying however slowly a loaded machine runs this test.
    let sim = Simulator::start(SimOptions {
        time_scale: 0.01,
        ..SimOptions::fast()
    })
    .await
    .unwrap();
    let kvm4 = sim.with_world(|w| w.by_hostname("kvm4").unwrap().system_id.clone());
    let spare1 = sim.with_world(|w| w.by_hostname("spare1").unwrap().system_id.clone());
    let k4: &'static str = Box::leak(format!("machines/{kvm4}/").into_boxed_str());
    let s1: &'static str = Box::leak(format!("machines/{spare1}/").into_boxed_str());
    let cases = [
        Case {
            method: M::POST,
            path: "machines/",
            op: Some("foo"),
            form: &[],
            status: 400,
            body: "Unrecognised signature: method=POST op=foo",
        },
        Case {
            method: M::GET,
            path: k4,
            op: Some("deploy"),
            form: &[],
            status: 400,
            body: "Unrecognised signature: method=GET op=deploy",
        },
        Case {
            method: M::GET,
            path: "machines/nope42/",
            op: None,
            form: &[],
            status: 404,
            body: "No Machine matches the given query.",
        },
        Case {
            method: M::POST,
            path: "machines/",
            op: Some("allocate"),
            form: &[("name", "spare1")],
            status: 409,
            body: "No machine available.",
        },
        Case {
            method: M::POST,
            path: "machines/",
            op: Some("allocate"),
            form: &[("cpu_count", "64")],
            status: 409,
            body: "No machine available.",
        },
        Case {
            method: M::POST,
            path: "machines/",
            op: Some("allocate"),
            form: &[("tags", "nosuchtag")],
            status: 400,
            body: "No such tag(s): 'nosuchtag'",
        },
        Case {
            method: M::POST,
            path: s1,
            op: Some("deploy"),
            form: &[],
            status: 409,
            body: "Can't deploy a machine that is in the 'New' state",
        },
        Case {
            method: M::POST,
            path: s1,
            op: Some("set_storage_layout"),
            form: &[("storage_layout", "lvm")],
            status: 409,
            body: "Cannot change the storage layout on a machine that is not Ready.",
        },
        Case {
            method: M::POST,
            path: k4,
            op: Some("set_storage_layout"),
            form: &[("storage_layout", "zfs")],
            status: 400,
            body: "storage_layout: Select a valid choice. zfs is not one of the available choices.",
        },
        Case {
            method: M::POST,
            path: k4,
            op: Some("deploy"),
            form: &[("user_data", "not base64!")],
            status: 400,
            body: "user_data: Must be a valid base64-encoded string.",
        },
        Case {
            method: M::POST,
            path: k4,
            op: Some("deploy"),
            form: &[("distro_series", "xenial")],
            status: 400,
            body: "'xenial' is not a valid distro_series",
        },
        Case {
            method: M::POST,
            path: s1,
            op: Some("release"),
            form: &[],
            status: 409,
            body: "Machine cannot be released in its current state ('New').",
        },
        Case {
            method: M::POST,
            path: k4,
            op: Some("release"),
            form: &[],
            status: 200,
            body: "\"Ready\"",
        },
        Case {
            method: M::GET,
            path: "version/",
            op: None,
            form: &[],
            status: 200,
            body: "capabilities",
        },
        Case {
            method: M::GET,
            path: "tags/nosuch/",
            op: None,
            form: &[],
            status: 404,
            body: "No Tag matches the given query.",
        },
        Case {
            method: M::POST,
            path: "machines/",
            op: Some("allocate"),
            form: &[("name", "kvm4"), ("mem", "30000")],
            status: 200,
            body: "\"Allocated\"",
        },
        Case {
            method: M::POST,
            path: k4,
            op: Some("deploy"),
            form: &[
                ("distro_series", "jammy"),
                ("user_data", "I2Nsb3VkLWNvbmZpZwo="),
            ],
            status: 200,
            body: "\"Deploying\"",
        },
        Case {
            method: M::POST,
            path: k4,
            op: Some("deploy"),
            form: &[],
            status: 409,
            body: "Can't deploy a machine that is in the 'Deploying' state",
        },
    ];
    for c in &cases {
        check(&sim, c).await;
    }
}

#[tokio::test]
async fn a_bad_key_gets_maas_401_text_and_the_error_never_shows_the_key() {
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let secret = "S3cretS3cretS3cret";
    let c = client(&sim, &format!("abc:def:{secret}"));
    let e = c.machines(&[]).await.unwrap_err();
    match &e {
        MaasError::Auth {
            status, message, ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(message, "Authorization Error: Invalid API key.");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(!e.to_string().contains(secret));
    assert!(!format!("{e:?}").contains(secret));
    // The right consumer and token with a wrong secret is refused too.
    let good = sim.api_key();
    let mut parts: Vec<&str> = good.split(':').collect();
    parts[2] = "wrong";
    let e = client(&sim, &parts.join(":"))
        .machines(&[])
        .await
        .unwrap_err();
    assert!(matches!(e, MaasError::Auth { status: 401, .. }));
}

#[tokio::test]
async fn a_request_without_credentials_is_refused_but_version_and_describe_are_public() {
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let http = reqwest::Client::new();
    let base = format!("{}api/2.0/", sim.url());
    let r = http.get(format!("{base}machines/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(format!("{base}version/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{base}describe/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let d: Json = r.json().await.unwrap();
    let uri = d["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "MachineHandler")
        .unwrap()["auth"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(uri, format!("{base}machines/{{system_id}}/"));
}

#[tokio::test]
async fn a_503_carries_retry_after_and_the_client_rides_out_503s_and_504s() {
    let mut opts = SimOptions::fast();
    opts.error_rate = 1.0;
    opts.time_scale = 0.1; // Retry-After: 1
    let sim = Simulator::start(opts).await.unwrap();
    // Raw: every answer is a fault; the 503s say when to come back.
    let http = reqwest::Client::new();
    let mut seen_503 = false;
    for _ in 0..20 {
        let r = http
            .get(format!("{}api/2.0/version/", sim.url()))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            503 => {
                assert_eq!(r.headers()["retry-after"], "1");
                seen_503 = true;
            }
            504 => {}
            s => panic!("unexpected {s}"),
        }
    }
    assert!(seen_503);
    let sim_fast = Simulator::start(SimOptions {
        error_rate: 0.5,
        ..SimOptions::fast()
    })
    .await
    .unwrap();
    let c = client(&sim_fast, &sim_fast.api_key());
    for _ in 0..30 {
        assert_eq!(c.machines(&[]).await.unwrap().len(), 6);
    }
    assert!(
        sim_fast.faults_injected() >= 10,
        "{}",
        sim_fast.faults_injected()
    );
}

#[tokio::test]
async fn conflicts_with_retry_after_are_retried_and_plain_conflicts_are_not() {
    let sim = Simulator::start(SimOptions {
        conflict_rate: 0.5,
        ..SimOptions::fast()
    })
    .await
    .unwrap();
    let c = client(&sim, &sim.api_key());
    for _ in 0..20 {
        assert_eq!(c.machines(&[]).await.unwrap().len(), 6);
    }
    assert!(sim.faults_injected() >= 3, "{}", sim.faults_injected());
    // A state conflict (no Retry-After) is an answer, not something to retry.
    sim.set_conflict_rate(0.0);
    let s1 = sim.with_world(|w| w.by_hostname("spare1").unwrap().system_id.clone());
    let before = sim.requests().len();
    let e = c.machine_op(&s1, "deploy", &[]).await.unwrap_err();
    assert!(matches!(e, MaasError::Conflict { .. }), "{e:?}");
    assert_eq!(sim.requests().len(), before + 1, "sent once");
}

#[tokio::test]
async fn an_unreachable_maas_is_a_transport_error_after_retries() {
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let url = sim.url().to_string();
    let key = sim.api_key();
    sim.shutdown().await;
    let mut cfg = ClientConfig::new(url, key);
    cfg.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        give_up_after: Duration::from_secs(30),
    };
    let e = MaasClient::new(&cfg)
        .unwrap()
        .machines(&[])
        .await
        .unwrap_err();
    assert!(matches!(e, MaasError::Transport { .. }), "{e:?}");
    assert!(e.is_transient());
}

#[tokio::test]
async fn machines_are_filtered_by_hostname_mac_tags_status_pool_and_zone() {
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let c = client(&sim, &sim.api_key());
    let names = |v: Vec<Json>| -> Vec<String> {
        let mut n: Vec<String> = v
            .iter()
            .map(|m| m["hostname"].as_str().unwrap().to_string())
            .collect();
        n.sort();
        n
    };
    let s = |x: &str| x.to_string();
    assert_eq!(
        names(
            c.machines(&[("hostname", s("kvm4")), ("hostname", s("kvm5"))])
                .await
                .unwrap()
        ),
        ["kvm4", "kvm5"]
    );
    assert_eq!(
        names(
            c.machines(&[("mac_address", s("52:54:00:73:70:02"))])
                .await
                .unwrap()
        ),
        ["spare2"]
    );
    assert_eq!(
        names(c.machines(&[("status", s("new"))]).await.unwrap()),
        ["spare1", "spare2", "spare3"]
    );
    assert_eq!(
        names(c.machines(&[("status", s("4"))]).await.unwrap()),
        ["kvm4", "kvm5", "maas"]
    );
    assert_eq!(
        c.machines(&[("pool", s("default")), ("zone", s("default"))])
            .await
            .unwrap()
            .len(),
        6
    );
    assert!(
        c.machines(&[("zone", s("elsewhere"))])
            .await
            .unwrap()
            .is_empty()
    );
    let kvm4 = sim.with_world(|w| w.by_hostname("kvm4").unwrap().system_id.clone());
    c.post("tags/", None, &[("name", s("ceph"))]).await.unwrap();
    c.post("tags/ceph/", Some("update_nodes"), &[("add", kvm4.clone())])
        .await
        .unwrap();
    assert_eq!(
        names(c.machines(&[("tags", s("ceph"))]).await.unwrap()),
        ["kvm4"]
    );
    assert_eq!(names(c.machines(&[("id", kvm4)]).await.unwrap()), ["kvm4"]);
}

#[tokio::test]
async fn commissioning_moves_new_through_commissioning_and_testing_to_ready() {
    let sim = Simulator::start(SimOptions {
        time_scale: 0.002,
        ..SimOptions::fast()
    })
    .await
    .unwrap();
    let c = client(&sim, &sim.api_key());
    let id = sim.with_world(|w| w.by_hostname("spare3").unwrap().system_id.clone());
    let m = c.machine_op(&id, "commission", &[]).await.unwrap();
    assert_eq!(m["status"], 1);
    assert_eq!(m["status_name"], "Commissioning");
    let mut seen = vec![];
    for _ in 0..400 {
        let m = c.machine(&id).await.unwrap();
        let st = m["status_name"].as_str().unwrap().to_string();
        if seen.last() != Some(&st) {
            seen.push(st.clone());
        }
        if st == "Ready" {
            assert_eq!(m["status"], 4);
            assert_eq!(m["cpu_count"], 4);
            assert!(m["physicalblockdevice_set"][0]["size"].as_u64().unwrap() >= 300_000_000_000);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen, ["Commissioning", "Testing", "Ready"]);
}

#[tokio::test]
async fn per_volume_lvm_endpoints_build_the_layout_and_are_refused_once_deployed() {
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let c = client(&sim, &sim.api_key());
    let id = sim.with_world(|w| w.by_hostname("maas").unwrap().system_id.clone());
    let s = |x: &str| x.to_string();
    c.machine_op(&id, "set_storage_layout", &[("storage_layout", s("blank"))])
        .await
        .unwrap();
    let devs = c
        .get(&format!("nodes/{id}/blockdevices/"), &[])
        .await
        .unwrap();
    let sda = devs[0]["id"].as_i64().unwrap();
    assert_eq!(devs[0]["used_for"], "Unused");
    let part = c
        .post(
            &format!("nodes/{id}/blockdevices/{sda}/partitions/"),
            None,
            &[],
        )
        .await
        .unwrap();
    let vg = c
        .post(
            &format!("nodes/{id}/volume-groups/"),
            None,
            &[("name", s("data")), ("partitions", part["id"].to_string())],
        )
        .await
        .unwrap();
    let vg_id = vg["id"].as_i64().unwrap();
    let lv = c
        .post(
            &format!("nodes/{id}/volume-group/{vg_id}/"),
            Some("create_logical_volume"),
            &[("name", s("srv")), ("size", s("10G"))],
        )
        .await
        .unwrap();
    let lv_id = lv["id"].as_i64().unwrap();
    assert_eq!(lv["name"], "data-srv");
    c.post(
        &format!("nodes/{id}/blockdevices/{lv_id}/"),
        Some("format"),
        &[("fstype", s("xfs"))],
    )
    .await
    .unwrap();
    let m = c
        .post(
            &format!("nodes/{id}/blockdevices/{lv_id}/"),
            Some("mount"),
            &[("mount_point", s("/srv"))],
        )
        .await
        .unwrap();
    assert_eq!(m["filesystem"]["mount_point"], "/srv");
    assert_eq!(m["used_for"], "xfs formatted filesystem mounted at /srv");
    let e = c
        .post(
            &format!("nodes/{id}/blockdevices/{lv_id}/"),
            Some("unformat"),
            &[],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Unmount the filesystem"), "{e}");
    c.post("machines/", Some("allocate"), &[("system_id", id.clone())])
        .await
        .unwrap();
    c.machine_op(&id, "deploy", &[]).await.unwrap();
    let e = c
        .post(
            &format!("nodes/{id}/volume-group/{vg_id}/"),
            Some("create_logical_volume"),
            &[("name", s("more"))],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MaasError::Conflict { .. }), "{e:?}");
}

#[tokio::test]
async fn libmaas_style_multipart_bodies_are_understood() {
    let sim = Simulator::start(SimOptions::fast()).await.unwrap();
    let c = client(&sim, &sim.api_key());
    let kvm5 = sim.with_world(|w| w.by_hostname("kvm5").unwrap().system_id.clone());
    // Sign a request the client's way, then send a multipart body by hand.
    let body = "--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=\"storage_layout\"\r\n\r\nbHZt\r\n--B--\r\n";
    let key = sim.api_key();
    let parts: Vec<&str> = key.split(':').collect();
    let auth = format!(
        "OAuth oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"%26{}\"",
        parts[0], parts[1], parts[2]
    );
    let r = reqwest::Client::new()
        .post(format!(
            "{}machines/{kvm5}/?op=set_storage_layout",
            c.base()
        ))
        .header("Authorization", auth)
        .header("Content-Type", "multipart/form-data; boundary=B")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let m: Json = r.json().await.unwrap();
    assert_eq!(m["volume_groups"][0]["name"], "vgroot");
}

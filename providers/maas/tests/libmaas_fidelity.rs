//! Fidelity of the MAAS simulator, proven with a real third-party client: python-libmaas 0.6.8
//! (Canonical's Python MAAS client) lists, allocates, sets a storage layout, deploys, releases
//! and commissions against the simulator. The venv comes from `tests/fidelity/setup.sh`; without
//! it the test skips with a message.

use std::path::PathBuf;

use brick_provider_maas::sim::{SimOptions, Simulator};

fn venv_python() -> Option<PathBuf> {
    let venv = match std::env::var_os("BRICK_FIDELITY_VENV") {
        Some(v) => PathBuf::from(v),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            cache.join("brick").join("maas-fidelity-venv")
        }
    };
    let py = venv.join("bin").join("python");
    py.exists().then_some(py)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_libmaas_lists_allocates_lays_out_deploys_releases_and_commissions() {
    let Some(python) = venv_python() else {
        brick_provider_api::testing::skip(
            "python-libmaas venv absent; run providers/maas/tests/fidelity/setup.sh",
        );
        return;
    };
    let sim = Simulator::start(SimOptions {
        fail_deploy: vec!["kvm5".into()],
        ..SimOptions::fast()
    })
    .await
    .unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity/libmaas_scenario.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(sim.url())
        .arg(sim.api_key())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "libmaas scenario failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    eprintln!("{stdout}");
    // The client really went through the API: describe, allocate, deploy, release, commission.
    let ops: Vec<String> = sim.requests().iter().filter_map(|r| r.op.clone()).collect();
    for op in [
        "allocate",
        "set_storage_layout",
        "deploy",
        "release",
        "commission",
        "update_nodes",
    ] {
        assert!(ops.iter().any(|o| o == op), "libmaas never called op={op}");
    }
}

//! The MAAS client as a user meets it through the real binary (issue 10): creates that a
//! gateway answered 504 after doing them are not repeated (item 9), an unreachable MAAS is
//! retried with progress and given up on in bounded time (item 22), and a refused API key is
//! said once (item 23). The MAAS is the simulator, in this process.

mod support;

use std::time::{Duration, Instant};

use brick_provider_maas::sim::{SimOptions, Simulator};
use support::{Dir, Run, command};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn tags_config(url: &str, key: &str, names: &[&str], extra: &str) -> String {
    let mut s =
        format!("provider \"maas\" {{\n  api_url = \"{url}\"\n  api_key = \"{key}\"\n{extra}}}\n");
    for n in names {
        s.push_str(&format!(
            "resource \"maas_tag\" \"{n}\" {{\n  name = \"{n}\"\n}}\n"
        ));
    }
    s
}

#[test]
fn the_lab_demo_succeeds_at_the_first_apply_under_gateway_faults() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("garage");
    let out = Run::of(
        std::process::Command::new(env!("CARGO_BIN_EXE_brick"))
            .args([
                "lab",
                "demo",
                "--time-scale",
                "fast",
                "--error-rate",
                "0.3",
                "--dir",
            ])
            .arg(&work)
            .env("NO_COLOR", "1")
            .env_remove("MAAS_API_URL")
            .env_remove("MAAS_API_KEY"),
    );
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(!out.stderr.contains("already exists"), "{}", out.stderr);
}

#[test]
fn a_tag_whose_create_answer_was_lost_is_applied_once_and_recorded() {
    let rt = runtime();
    let sim = rt.block_on(Simulator::start(SimOptions::fast())).unwrap();
    let dir = Dir::new(&tags_config(sim.url(), &sim.api_key(), &["garage"], ""));
    sim.lose_answers(1);
    Run::of(&mut command(dir.path(), &["apply", "--auto-approve"])).ok();
    assert_eq!(sim.faults_injected(), 1);
    let posts = sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/tags/"))
        .count();
    assert_eq!(posts, 1);
    let state = dir.state();
    assert_eq!(
        state["resources"][0]["instances"][0]["attributes"]["name"],
        "garage"
    );
    // Nothing is left pending: the next plan is empty.
    let plan = Run::of(&mut command(dir.path(), &["plan"])).ok();
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
}

#[test]
fn a_create_refused_because_the_tag_exists_leaves_nothing_pending_and_its_import_works() {
    let rt = runtime();
    let sim = rt.block_on(Simulator::start(SimOptions::fast())).unwrap();
    let dir = Dir::new(&tags_config(sim.url(), &sim.api_key(), &["garage"], ""));
    // Someone made the tag by hand.
    let other = Dir::new(&tags_config(sim.url(), &sim.api_key(), &["garage"], ""));
    Run::of(&mut command(other.path(), &["apply", "--auto-approve"])).ok();
    let failed = Run::of(&mut command(dir.path(), &["apply", "--auto-approve"]))
        .failed_with("already exists");
    // The help names a command that works, and it does.
    assert!(
        failed.stderr.contains("brick import ADDRESS garage"),
        "{}",
        failed.stderr
    );
    let imported = Run::of(&mut command(
        dir.path(),
        &["import", "maas_tag.garage", "garage"],
    ))
    .ok();
    assert!(
        !imported.stderr.contains("interrupted create"),
        "{}",
        imported.stderr
    );
}

#[test]
fn an_unreachable_maas_is_retried_with_progress_and_fails_within_the_configured_time() {
    // A port nothing listens on: the simulator's, after it stopped.
    let rt = runtime();
    let sim = rt.block_on(Simulator::start(SimOptions::fast())).unwrap();
    let (url, key) = (sim.url().to_string(), sim.api_key());
    rt.block_on(sim.shutdown());
    let dir = Dir::new(&tags_config(
        &url,
        &key,
        &["garage"],
        "  unreachable_timeout = \"4s\"\n",
    ));
    let started = Instant::now();
    let out = Run::of(&mut command(dir.path(), &["apply", "--auto-approve"]))
        .failed_with("cannot reach MAAS");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let api = format!("{url}api/2.0/tags/garage/");
    assert!(
        out.stderr.contains(&format!(
            "provider maas: still trying {api}: connection refused, attempt 2"
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("gave up after"), "{}", out.stderr);
}

#[test]
fn a_refused_api_key_is_said_once_for_all_resources_and_asked_once() {
    let rt = runtime();
    let sim = rt.block_on(Simulator::start(SimOptions::fast())).unwrap();
    let names = ["a", "b", "c"];
    let dir = Dir::new(&tags_config(sim.url(), &sim.api_key(), &names, ""));
    Run::of(&mut command(dir.path(), &["apply", "--auto-approve"])).ok();
    std::fs::write(
        dir.path().join("main.hcl"),
        tags_config(sim.url(), "wrong:wrong:wrong", &names, ""),
    )
    .unwrap();
    sim.clear_requests();
    let out = Run::of(&mut command(dir.path(), &["plan"])).failed_with("refused the API key");
    assert_eq!(
        out.stderr.matches("MAAS refused the API key").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("maas_tag.a, maas_tag.b, maas_tag.c:"),
        "{}",
        out.stderr
    );
    assert_eq!(sim.requests().len(), 1, "{:?}", sim.requests());
}

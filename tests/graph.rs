//! `brick graph` on the garage: DOT by default (as `terraform graph`), a Mermaid flowchart
//! that Mermaid's own parser accepts (tests/mermaid: `npm ci --prefix tests/mermaid`; skipped
//! without it) and that README.md shows verbatim, the order of application as text, and a
//! clear diagnostic for a format brick does not know.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use brick_provider_api::testing::skip;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn brick_graph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_brick"))
        .arg("graph")
        .args(args)
        .current_dir(root().join("examples/garage"))
        .env_remove("BRICK_LOG")
        .output()
        .expect("brick runs")
}

fn stdout_of(args: &[&str]) -> String {
    let out = brick_graph(args);
    assert!(
        out.status.success(),
        "brick graph {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The Mermaid block README.md shows after the line naming the command that makes it.
fn readme_block(readme: &Path) -> String {
    let text = std::fs::read_to_string(readme).unwrap();
    let marker = "<!-- generated: brick graph --format mermaid (examples/garage)";
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{} has no {marker:?} line", readme.display()));
    let rest = &text[at..];
    let start = rest.find("```mermaid\n").expect("a mermaid block follows") + "```mermaid\n".len();
    let end = rest[start..].find("```").expect("the block ends");
    rest[start..start + end].to_string()
}

#[test]
fn the_default_format_is_dot_as_terraform_graph_prints() {
    let dot = stdout_of(&[]);
    assert!(dot.starts_with("digraph {"), "{dot}");
    assert_eq!(dot, stdout_of(&["--format", "dot"]));
    assert!(
        dot.contains("\"provider[\\\"k8s\\\"]\" -> \"microk8s_node.n\""),
        "{dot}"
    );
}

#[test]
fn the_garage_as_a_mermaid_flowchart() {
    insta::assert_snapshot!("garage_mermaid", stdout_of(&["--format", "mermaid"]));
}

#[test]
fn the_readme_shows_the_garage_graph_exactly_as_brick_draws_it() {
    let drawn = stdout_of(&["--format", "mermaid"]);
    assert_eq!(
        readme_block(&root().join("README.md")),
        drawn,
        "README.md's garage graph is stale: paste `brick graph --format mermaid` run in examples/garage"
    );
}

#[test]
fn mermaid_s_own_parser_accepts_the_garage_graph() {
    let dir = root().join("tests/mermaid");
    if !dir.join("node_modules/mermaid").is_dir() {
        skip("Mermaid's parser is not installed (npm ci --prefix tests/mermaid)");
        return;
    }
    let drawn = stdout_of(&["--format", "mermaid"]);
    let mut child = Command::new("node")
        .arg("check.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(drawn.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "mermaid refuses brick's graph: {}\n{drawn}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"diagramType\":\"flowchart-v2\""),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn the_text_format_lists_the_garage_in_the_order_it_is_applied() {
    let text = stdout_of(&["--format", "text"]);
    let line = |name: &str| {
        text.lines()
            .position(|l| l.contains(&format!(" {name} ")) || l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name} is listed:\n{text}"))
    };
    assert!(line("maas_tag.garage") < line("maas_machine.node"));
    assert!(line("maas_machine.node") < line("microk8s_node.n"));
    assert!(line("microk8s_node.n") < line("provider[\"rook\"]"));
    assert!(line("provider[\"rook\"]") < line("rook_cluster.ceph"));
    assert!(line("rook_storage_class.block") < line("strimzi_kafka.seed"));
    assert!(
        text.contains("provider[\"k8s\"]               <- microk8s_node.n\n"),
        "the provider configured from the cluster says so:\n{text}"
    );
}

#[test]
fn an_unknown_format_is_refused_with_a_diagnostic() {
    let out = brick_graph(&["--format", "svg"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("brick::cli::invalid_graph_format")
            && stderr.contains("dot, mermaid, text"),
        "{stderr}"
    );
}

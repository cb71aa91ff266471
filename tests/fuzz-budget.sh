#!/usr/bin/env bash
# Runs the cargo-fuzz target `load_and_eval` (fuzz/fuzz_targets/load_and_eval.rs: load,
# validate, evaluate and format arbitrary bytes) for a short budget, as CI does from
# tests/run-all.sh. A crash, hang, stack overflow or leak fails the run and prints the
# reproducer's path and the command that replays it.
#
# - cargo-fuzz is installed from crates.io when missing (a debug build: it only drives cargo,
#   and builds in about a minute instead of three).
# - The nightly toolchain is used when rustup has one; otherwise the stable toolchain with
#   RUSTC_BOOTSTRAP=1, which accepts the -Z flags cargo-fuzz passes (the stable std ships the
#   AddressSanitizer runtime, so the default sanitizer works there too).
# - The seed corpus is every .hcl fixture under tests/ and examples/, copied to a scratch
#   directory, so the run leaves nothing behind but fuzz/artifacts/ on a failure.
#
# Budget: CI runs this on a fresh machine, where the build dominates. Measured here
# (2 cores, 2026-11-25): the cold build with AddressSanitizer and opt-level 1 took 655 CPU
# seconds (about 6 minutes on two idle cores), too much for a smoke run. The defaults are
# therefore no sanitizer (the loader and evaluator are safe Rust: libFuzzer still catches
# panics, stack overflows, timeouts and memory blow-ups) and an unoptimised build, with 45 s
# of fuzzing: measured, a cold build plus the run took 3 min 49 s wall, 232 CPU seconds
# (~150 executions a second), plus about a minute to install cargo-fuzz on a fresh machine.
# Ask for more when there is time: FUZZ_SANITIZER=address FUZZ_OPT=1
# FUZZ_SECONDS=600.
#
# Settings (environment):
#   FUZZ_SECONDS    fuzzing time after the build, default 45
#   FUZZ_SANITIZER  none (default) or address
#   FUZZ_OPT        opt-level of the dev build, default 0 (1 runs several times faster
#                   but builds slower)
#   FUZZ_RELEASE=1  an optimized build (slower to build, many more executions per second)
#   FUZZ_STABLE=1   the stable toolchain even when nightly is installed
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-45}
sanitizer=${FUZZ_SANITIZER:-none}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked --debug
fi

toolchain=()
if [ "${FUZZ_STABLE:-0}" != 1 ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
  echo "== fuzzing with the nightly toolchain"
else
  # The default toolchain (stable on a fresh CI machine); +stable when asked to force it.
  [ "${FUZZ_STABLE:-0}" = 1 ] && command -v rustup >/dev/null && toolchain=(+stable)
  export RUSTC_BOOTSTRAP=1
  echo "== fuzzing with the stable toolchain (RUSTC_BOOTSTRAP=1)"
fi

profile=(--dev)
if [ "${FUZZ_RELEASE:-0}" = 1 ]; then
  profile=()
else
  export CARGO_PROFILE_DEV_OPT_LEVEL=${FUZZ_OPT:-0}
fi

corpus=$(mktemp -d "${TMPDIR:-/tmp}/brick-fuzz-corpus.XXXXXX")
log=$(mktemp "${TMPDIR:-/tmp}/brick-fuzz-log.XXXXXX")
trap 'rm -rf "$corpus" "$log"' EXIT
n=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  cp "$f" "$corpus/$n.hcl" # numbered: many fixtures share a name (main.hcl)
done < <(find tests examples -name '*.hcl' -type f -size -64k -print0)
echo "== seed corpus: $(find "$corpus" -type f | wc -l) fixture files"

echo "== building fuzz target load_and_eval (sanitizer: $sanitizer)"
(cd fuzz && cargo "${toolchain[@]}" fuzz build load_and_eval "${profile[@]}" -s "$sanitizer")

echo "== fuzzing for ${seconds}s"
rc=0
(cd fuzz && cargo "${toolchain[@]}" fuzz run load_and_eval "${profile[@]}" -s "$sanitizer" "$corpus" -- \
  -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1) >"$log" 2>&1 || rc=$?
tail -n 25 "$log"
if [ "$rc" -ne 0 ]; then
  echo "fuzz-budget: the fuzz target failed (exit $rc)." >&2
  # libFuzzer names the input it saved ("Test unit written to ..."); cargo-fuzz says how to
  # replay it.
  grep -E 'Test unit written to|Reproduce with|cargo fuzz run' "$log" >&2 || true
  for f in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log"); do
    case $f in /*) p=$f ;; *) p=fuzz/$f ;; esac
    echo "fuzz-budget: reproducer: $p" >&2
    echo "fuzz-budget: replay with: (cd fuzz && cargo ${toolchain[*]} fuzz run load_and_eval ${profile[*]} -s $sanitizer ${p#fuzz/})" >&2
  done
  exit 1
fi
echo "== fuzzing found nothing in ${seconds}s"

#!/usr/bin/env bash
# Issue 17's measurement: adding PCs to the garage at the real systems' pace. Runs
# `brick lab bench` (hidden subcommand of src/cli/lab.rs) four times side by side, each on its
# own embedded lab: one PC and three PCs at once, each for PCs that are New in MAAS (just
# PXE-booted: the apply commissions them, ~5 min + ~2 min of tests, then deploys them, ~10 min)
# and for PCs already commissioned (Ready: the apply allocates and deploys them). The garage is
# set up at the demo's pace, then the lab switches to --time-scale (default realistic) and
# `brick apply` of the one-line change is timed until the new nodes are Ready and their OSDs up
# and in (what the apply waits for). Prints one table: wall time, critical path of waits,
# brick's own time. tests/garage_add_pc.rs runs the same bench at a compressed pace in CI.
#
# Usage: bench/garage-add-pc.sh [BRICK] [TIME_SCALE]   (a realistic run takes ~20 minutes)
set -euo pipefail
brick=${1:-target/release/brick}
scale=${2:-realistic}
out=$(mktemp -d)
runs=("new 1" "new 3" "ready 1" "ready 3")
for r in "${runs[@]}"; do
  set -- $r
  flag=()
  [ "$1" = ready ] && flag=(--commissioned)
  "$brick" lab bench --pcs "$2" "${flag[@]}" --time-scale "$scale" >"$out/$1$2.log" 2>&1 &
done
wait
echo "| PCs added | MAAS status before | wall (apply) | critical path of waits | wall over critical path | brick's own time |"
echo "|---|---|---|---|---|---|"
for r in "${runs[@]}"; do
  set -- $r
  line=$(grep '^BENCH' "$out/$1$2.log") || { echo "$1 pcs=$2 failed: see $out/$1$2.log" >&2; exit 1; }
  get() { sed -E "s/.* $1=([^ ]+).*/\\1/" <<<"$line"; }
  echo "| $2 | $(get new_pcs) | $(get wall) | $(get critical_path) | $(get over) | $(get own) |"
done
for r in "${runs[@]}"; do
  set -- $r
  echo
  echo "$1 pcs=$2:"
  sed -n '/^BENCH/,$p' "$out/$1$2.log" | grep -v '^STEP'
done
echo "(logs in $out)"

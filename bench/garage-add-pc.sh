#!/usr/bin/env bash
# Issue 17's measurement: adding PCs to the garage at the real systems' pace. Runs
# `brick lab bench` (hidden subcommand of src/cli/lab.rs) twice side by side — one PC, and
# three PCs at once — each on its own embedded lab: the garage is set up at the demo's pace,
# then the lab switches to --time-scale (default realistic: MAAS commissioning ~5 min and deploy
# ~10 min, MicroK8s install and join, OSD boot and backfill) and `brick apply` of the one-line
# change is timed until the new nodes are Ready and their OSDs up and in (what the apply waits
# for). Prints one table: wall time, critical path of waits, brick's own time.
#
# Usage: bench/garage-add-pc.sh [BRICK] [TIME_SCALE]   (a realistic run takes ~18 minutes)
set -euo pipefail
brick=${1:-target/release/brick}
scale=${2:-realistic}
out=$(mktemp -d)
for n in 1 3; do
  "$brick" lab bench --pcs "$n" --time-scale "$scale" >"$out/pcs$n.log" 2>&1 &
done
wait
echo "| PCs added | wall (apply) | critical path of waits | wall over critical path | brick's own time |"
echo "|---|---|---|---|---|"
for n in 1 3; do
  line=$(grep '^BENCH' "$out/pcs$n.log") || { echo "pcs=$n failed: see $out/pcs$n.log" >&2; exit 1; }
  wall=$(sed -E 's/.*wall=([^ ]+).*/\1/' <<<"$line")
  cp=$(sed -E 's/.*critical_path=([^ ]+).*/\1/' <<<"$line")
  over=$(sed -E 's/.*over=([^ ]+).*/\1/' <<<"$line")
  own=$(sed -E 's/.*own=([^ ]+).*/\1/' <<<"$line")
  echo "| $n | $wall | $cp | $over | $own |"
done
for n in 1 3; do
  echo
  echo "pcs=$n:"
  sed -n '/^BENCH/,$p' "$out/pcs$n.log"
done
echo "(logs in $out)"

#!/usr/bin/env bash
# Kafka benchmark: N topics created and a no-op plan over them, against the real broker, in one
# run, three ways side by side:
#   floor  one batched Admin API call (providers/kafka/examples/kafka_floor.rs: one
#          CreateTopics for all N, then the wait until every broker's own Metadata shows them,
#          each broker asked directly, as brick waits; the no-op "plan" is one Metadata + one
#          DescribeConfigs) — what the API costs with nothing around it;
#   brick  a plain `brick apply` of N kafka_topic resources (one CreateTopics: the engine counts
#          a batch of creates as one of its --parallelism operations), then `brick plan
#          --detailed-exitcode` (refresh + plan, must exit 0);
#   cli    the real kafka-topics.sh, one process per topic as a script would run it
#          (`--create`, and `--describe` for the "plan"); a JVM start per topic makes N runs
#          take many minutes, so SAMPLE topics are timed and the per-topic mean is multiplied
#          by N (the table says so).
#
#   source .peers/env            # KAFKA_BOOTSTRAP, KAFKA_BIN (tests/peers/up.sh kafka)
#   cargo build --release --bin brick && cargo build --release -p brick-provider-kafka --example kafka_floor
#   nice bench/kafka.sh          # N=1000 SAMPLE=20 by default
#
# Prints a Markdown table; wall times in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
SAMPLE=${SAMPLE:-20}
: "${KAFKA_BOOTSTRAP:?source .peers/env first}"
: "${KAFKA_BIN:?source .peers/env first (the Kafka CLI)}"
BRICK=${BRICK_BIN:-target/release/brick}
FLOOR=${FLOOR_BIN:-target/release/examples/kafka_floor}
[ -x "$BRICK" ] && [ -x "$FLOOR" ] || {
  echo "build first: cargo build --release --bin brick && cargo build --release -p brick-provider-kafka --example kafka_floor" >&2
  exit 1
}
run_id="bench-$$-$(date +%s)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# secs CMD...: runs CMD (output to $work/log) and prints its wall time in seconds.
secs() {
  local t0=$EPOCHREALTIME
  "$@" >>"$work/log" 2>&1 || {
    tail -20 "$work/log" >&2
    echo "failed: $*" >&2
    exit 1
  }
  python3 -c "print(f'{$EPOCHREALTIME - $t0:.2f}')"
}

echo "kafka benchmark: N=$N topics (1 partition, replication 1), $(nproc) cores, $(date -u +%FT%TZ)" >&2

# Floor.
floor_create=$(secs "$FLOOR" create "$run_id-floor" "$N")
floor_read=$(secs "$FLOOR" read "$run_id-floor" "$N")
floor_delete=$(secs "$FLOOR" delete "$run_id-floor" "$N")

# brick.
cat >"$work/main.hcl" <<EOF
provider "kafka" {}
resource "kafka_topic" "t" {
  count              = $N
  name               = "$run_id-brick-\${count.index}"
  partitions         = 1
  replication_factor = 1
}
EOF
export KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP
brick_apply=$(secs "$BRICK" -C "$work" apply --auto-approve)
brick_plan=$(secs "$BRICK" -C "$work" plan --detailed-exitcode)
brick_destroy=$(secs "$BRICK" -C "$work" destroy --auto-approve)

# The real CLI, one process per topic, on a sample.
cli_create=0
cli_describe=0
for i in $(seq 1 "$SAMPLE"); do
  t=$(secs "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --create \
    --topic "$run_id-cli-$i" --partitions 1 --replication-factor 1)
  cli_create=$(python3 -c "print($cli_create + $t)")
done
for i in $(seq 1 "$SAMPLE"); do
  t=$(secs "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --describe \
    --topic "$run_id-cli-$i")
  cli_describe=$(python3 -c "print($cli_describe + $t)")
done
secs "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$KAFKA_BOOTSTRAP" --delete \
  --topic "$run_id-cli-.*" >/dev/null

python3 - "$N" "$SAMPLE" "$floor_create" "$floor_read" "$floor_delete" "$brick_apply" \
  "$brick_plan" "$brick_destroy" "$cli_create" "$cli_describe" <<'EOF'
import sys
n, sample = int(sys.argv[1]), int(sys.argv[2])
fc, fr, fd, ba, bp, bd, cc, cd = map(float, sys.argv[3:])
per_c, per_d = cc / sample, cd / sample
print(f"| N = {n:,} topics | floor (one Admin API call) | brick | brick / floor | kafka-topics.sh, one process per topic (extrapolated from {sample}) |")
print("|---|---|---|---|---|")
print(f"| create | {fc:.2f} s | {ba:.2f} s | {ba / fc:.1f}× | {per_c * n:.0f} s ({per_c:.2f} s per topic) |")
print(f"| no-op plan (refresh) | {fr:.2f} s | {bp:.2f} s | {bp / fr:.1f}× | {per_d * n:.0f} s (`--describe`, {per_d:.2f} s per topic) |")
print(f"| delete | {fd:.2f} s | {bd:.2f} s | {bd / fd:.1f}× | |")
EOF

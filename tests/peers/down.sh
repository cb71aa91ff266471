#!/usr/bin/env bash
# Stops the peers tests/peers/up.sh started and removes their data:
#
#   tests/peers/down.sh [ceph] [kafka] [k8s]    (all when none is named)
#
# Only the processes up.sh recorded (pid and start time in .peers/<peer>/pids/) are signalled:
# SIGTERM, then SIGKILL after a grace period. Build and install caches stay in place.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(ceph kafka k8s)

for p in "${peers[@]}"; do
  case $p in ceph | kafka | k8s) ;; *)
    log "unknown peer '$p' (expected ceph, kafka or k8s)"
    exit 2
    ;;
  esac
  [ -d "$PEERS_DIR/$p" ] || continue
  pids=()
  for f in "$PEERS_DIR/$p"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(pid_is_ours "$f") || continue
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  # Grace period: Kafka and Ceph flush on SIGTERM; up to 20 s, then SIGKILL.
  for _ in $(seq 1 200); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${alive[@]}"; do
    log "$p: pid $pid ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null
  done
  log "$p: stopped ${#pids[@]} process(es)${pids[*]:+: ${pids[*]}}"
  rm -rf "${PEERS_DIR:?}/$p"
done

# Keep the combined env file in step with what still runs.
if [ -f "$PEERS_ENV_FILE" ]; then
  : >"$PEERS_ENV_FILE.tmp"
  for p in ceph kafka k8s; do
    [ -f "$PEERS_DIR/$p/env" ] && cat "$PEERS_DIR/$p/env" >>"$PEERS_ENV_FILE.tmp"
  done
  if [ -s "$PEERS_ENV_FILE.tmp" ]; then
    mv "$PEERS_ENV_FILE.tmp" "$PEERS_ENV_FILE"
  else
    rm -f "$PEERS_ENV_FILE.tmp" "$PEERS_ENV_FILE"
  fi
fi
rmdir "$PEERS_DIR" 2>/dev/null || true
exit 0

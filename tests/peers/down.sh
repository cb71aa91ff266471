#!/usr/bin/env bash
# Stops the peers tests/peers/up.sh started and removes their data:
#
#   tests/peers/down.sh [ceph] [rgw] [pg] [kafka] [k8s] [strimzi] [rook]   (all when none is named)
#
# Only the processes up.sh recorded (pid and start time in .peers/<peer>/pids/) are signalled:
# SIGTERM, then SIGKILL after a grace period. Build and install caches stay in place.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# stop_pids PEER PID...: SIGTERM, up to 20 s to exit, then SIGKILL.
stop_pids() {
  local peer=$1 pid alive
  shift
  kill -TERM "$@" 2>/dev/null
  for _ in $(seq 1 200); do
    alive=()
    for pid in "$@"; do proc_alive "$pid" && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${alive[@]}"; do
    log "$peer: pid $pid ignored SIGTERM for 20 s; killing it"
    kill -KILL "$pid" 2>/dev/null
  done
}

# The peers named (all by default), in the reverse of their start order: the operators before
# the systems they drive.
named=("$@")
[ ${#named[@]} -gt 0 ] || named=("${PEERS_ALL[@]}")
for p in "${named[@]}"; do
  case " ${PEERS_ALL[*]} " in *" $p "*) ;; *)
    log "unknown peer '$p' (expected one of ${PEERS_ALL[*]})"
    exit 2
    ;;
  esac
done
peers=()
for ((i = ${#PEERS_ALL[@]} - 1; i >= 0; i--)); do
  case " ${named[*]} " in *" ${PEERS_ALL[i]} "*) peers+=("${PEERS_ALL[i]}") ;; esac
done

for p in "${peers[@]}"; do
  [ -d "$PEERS_DIR/$p" ] || continue
  # Stop in the reverse order of starting (kube-apiserver before etcd, OSDs before the
  # monitor); Kafka's nodes all at once, since a KRaft quorum that loses its majority one node
  # at a time makes the last ones wait.
  names=()
  if [ -f "$PEERS_DIR/$p/pids/order" ]; then
    mapfile -t names < <(tac "$PEERS_DIR/$p/pids/order")
  fi
  pids=()
  if [ "$p" = kafka ]; then
    batch=()
    for n in "${names[@]}"; do
      pid=$(pid_is_ours "$PEERS_DIR/$p/pids/$n.pid") && batch+=("$pid")
    done
    [ ${#batch[@]} -gt 0 ] && stop_pids "$p" "${batch[@]}"
    pids=("${batch[@]}")
  else
    for n in "${names[@]}"; do
      pid=$(pid_is_ours "$PEERS_DIR/$p/pids/$n.pid") || continue
      stop_pids "$p" "$pid"
      pids+=("$pid")
    done
  fi
  log "$p: stopped ${#pids[@]} process(es)${pids[*]:+: ${pids[*]}}"
  rm -rf "${PEERS_DIR:?}/$p"
done

# Keep the combined env file in step with what still runs.
if [ -f "$PEERS_ENV_FILE" ]; then
  : >"$PEERS_ENV_FILE.tmp"
  for p in "${PEERS_ALL[@]}"; do
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

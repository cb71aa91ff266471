#!/usr/bin/env bash
# Starts the real systems brick's integration tests run against, on 127.0.0.1 only:
#
#   tests/peers/up.sh [ceph] [rgw] [pg] [kafka] [k8s] [strimzi] [rook]   (all when none is named)
#
# rgw (Ceph's S3 gateway) also starts ceph; pg is PostgreSQL.
# strimzi (Strimzi's CRDs and the KafkaTopic stand-in) also starts k8s and kafka; rook (the Rook
# operator with an external CephCluster) also starts k8s and ceph, and puts the Ceph monitor's
# msgr2 on port 3300 (Rook writes that port into its configuration).
#
# It installs or builds what is missing (Debian packages, Maven jars, Go builds — cached, so a
# second run starts in seconds), starts each peer, waits until it really serves, then prints
# `export NAME=VALUE` lines on stdout and writes them to .peers/env (source it). Progress goes to
# stderr. A peer that fails to start makes up.sh exit non-zero after printing the tail of that
# peer's log; the peers this run started are stopped again.
#
# Settings (environment): CEPH_OSDS (1-3, default 1), KAFKA_BROKERS (1 or 3, default 3),
# PEERS_DIR (runtime data, default <repo>/.peers), PEERS_CACHE (default ~/.cache/brick-peers),
# STRIMZI_MANIFESTS (default ../shared/manifests/strimzi-1.2.0 beside the repository).
# Stop everything with tests/peers/down.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$PEERS_SCRIPTS/ceph.sh"
. "$PEERS_SCRIPTS/rgw.sh"
. "$PEERS_SCRIPTS/pg.sh"
. "$PEERS_SCRIPTS/kafka.sh"
. "$PEERS_SCRIPTS/k8s.sh"
. "$PEERS_SCRIPTS/strimzi.sh"
. "$PEERS_SCRIPTS/rook.sh"

want=()
for a in "$@"; do
  case $a in
  ceph | rgw | pg | kafka | k8s | strimzi | rook) want+=("$a") ;;
  -h | --help)
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown peer '$a' (expected ceph, rgw, pg, kafka, k8s, strimzi or rook)" ;;
  esac
done
[ ${#want[@]} -gt 0 ] || want=("${PEERS_ALL[@]}")
wants() { case " ${want[*]} " in *" $1 "*) return 0 ;; esac; return 1; }
# Dependencies come along, in start order.
wants strimzi && want+=(k8s kafka)
wants rook && want+=(k8s ceph)
wants rgw && want+=(ceph)
ordered=()
for p in "${PEERS_ALL[@]}"; do wants "$p" && ordered+=("$p"); done
want=("${ordered[@]}")
# Rook writes the monitor address with msgr2's default port, so its Ceph must listen there.
if wants rook; then
  export CEPH_MON_PORT=${CEPH_MON_PORT:-3300}
fi

mkdir -p "$PEERS_DIR" "$PEERS_CACHE"

# A peer that is already up is reused as it is; one with stale pid files is cleared first.
started=()
todo=()
for p in "${want[@]}"; do
  if [ -d "$PEERS_DIR/$p/pids" ]; then
    if [ -n "$(peer_pids "$p")" ] && [ -f "$PEERS_DIR/$p/env" ] && [ -f "$PEERS_DIR/$p/ready" ]; then
      log "$p: already running (stop it with tests/peers/down.sh $p)"
      continue
    fi
    log "$p: clearing a stale earlier run"
    bash "$PEERS_SCRIPTS/down.sh" "$p"
  fi
  rm -rf "${PEERS_DIR:?}/$p"
  mkdir -p "$PEERS_DIR/$p"
  todo+=("$p")
done

on_exit() {
  local rc=$? p
  if [ $rc -ne 0 ]; then
    # Peers still starting are interrupted first (each stops its own build on TERM).
    for p in "${!start_pid[@]}"; do kill -TERM "${start_pid[$p]}" 2>/dev/null || true; done
    for p in "${!start_pid[@]}"; do wait "${start_pid[$p]}" 2>/dev/null || true; done
    if [ ${#started[@]} -gt 0 ]; then
      log "stopping the peers this run started: ${started[*]}"
      bash "$PEERS_SCRIPTS/down.sh" "${started[@]}" || true
    fi
  fi
  exit $rc
}
declare -A start_pid=()
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_todo() { case " ${todo[*]:-} " in *" $1 "*) return 0 ;; esac; return 1; }

# 1. Everything apt installs, in one go (apt holds a lock: no parallel installs).
pkgs=()
in_todo ceph && pkgs+=("${CEPH_APT_PACKAGES[@]}")
in_todo rgw && pkgs+=("${RGW_APT_PACKAGES[@]}")
in_todo pg && pkgs+=("${PG_APT_PACKAGES[@]}")
in_todo kafka && pkgs+=("${KAFKA_APT_PACKAGES[@]}")
in_todo k8s && pkgs+=("${K8S_APT_PACKAGES[@]}")
in_todo strimzi && pkgs+=("${STRIMZI_APT_PACKAGES[@]}")
in_todo rook && pkgs+=("${ROOK_APT_PACKAGES[@]}")
if [ ${#pkgs[@]} -gt 0 ]; then
  t=$(now_ms)
  apt_install "${pkgs[@]}" || die "apt-get could not install ${pkgs[*]}"
  log "packages ready in $(secs_since "$t")s"
fi

# 2. Start the peers side by side (each in a subshell of its own; the Go and cargo builds, long on
#    a cold machine, run inside them; strimzi and rook build first, then wait for the peers they
#    need), then wait for all of them.
for p in "${PEERS_ALL[@]}"; do
  in_todo "$p" || continue
  started+=("$p")
  (
    trap 'exit 143' TERM
    # A failure that printed no log tail of its own shows the peer's latest logs; the peers
    # waiting for this one learn of the failure from the `failed` file.
    # shellcheck disable=SC2064
    trap "rc=\$?; [ \$rc -eq 0 ] || touch $PEERS_DIR/$p/failed; [ \$rc -eq 0 ] || [ -n \"\${PEERS_TAIL_SHOWN:-}\" ] || [ \$rc -eq 143 ] || peer_logs_tail $p" EXIT
    "${p}_start"
    touch "$PEERS_DIR/$p/ready"
  ) &
  start_pid[$p]=$!
done
failed=()
for p in "${!start_pid[@]}"; do
  wait "${start_pid[$p]}" || failed+=("$p")
  unset "start_pid[$p]"
done
[ ${#failed[@]} -eq 0 ] || die "could not start: ${failed[*]} (see the log tails above)"

# 3. One env file for all running peers; print it.
: >"$PEERS_ENV_FILE.tmp"
for p in "${PEERS_ALL[@]}"; do
  [ -f "$PEERS_DIR/$p/env" ] && [ -f "$PEERS_DIR/$p/ready" ] && cat "$PEERS_DIR/$p/env" >>"$PEERS_ENV_FILE.tmp"
done
mv "$PEERS_ENV_FILE.tmp" "$PEERS_ENV_FILE"
for p in "${todo[@]}"; do
  [ -f "$PEERS_DIR/$p/metrics" ] && log "$p: $(tr '\n' ' ' <"$PEERS_DIR/$p/metrics")"
done
log "peers up: ${want[*]} (settings in $PEERS_ENV_FILE)"
cat "$PEERS_ENV_FILE"

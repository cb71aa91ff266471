# shellcheck shell=bash
# Shared helpers for the peer scripts in tests/peers/ (sourced, never run).
#
# Layout:
#   $PEERS_DIR   runtime data of running peers (data dirs, logs, pid files, env file):
#                <repo>/.peers by default, gitignored.
#   $PEERS_CACHE install and build caches that survive down.sh (Maven jars, Go binaries):
#                ~/.cache/brick-peers by default, outside the repo.

PEERS_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEERS_REPO=$(cd "$PEERS_SCRIPTS/../.." && pwd)
PEERS_DIR=${PEERS_DIR:-$PEERS_REPO/.peers}
PEERS_CACHE=${PEERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/brick-peers}
PEERS_ENV_FILE=$PEERS_DIR/env

# Every peer, in start order (down.sh stops them in the reverse order).
PEERS_ALL=(ceph rgw pg kafka k8s strimzi rook)

# Pinned versions (one place to bump them).
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
# The last Rook release that supports Ceph Pacific (16.2, Debian 12's Ceph).
ROOK_VERSION=${ROOK_VERSION:-v1.12.11}

peers_t0=${peers_t0:-${EPOCHREALTIME/./}}

# log MESSAGE...: a timestamped progress line on stderr.
log() {
  local now=${EPOCHREALTIME/./}
  local d=$((now - peers_t0))
  printf '[peers %4d.%01ds] %s\n' $((d / 1000000)) $((d / 100000 % 10)) "$*" >&2
}

die() {
  log "ERROR: $*"
  exit 1
}

# now_ms: wall clock in milliseconds.
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# secs_since START_MS: elapsed seconds with one decimal.
secs_since() {
  local d=$(($(now_ms) - $1))
  printf '%d.%01d' $((d / 1000)) $((d / 100 % 10))
}

# retry ATTEMPTS COMMAND...: run COMMAND until it succeeds, backing off 2, 4, 8... seconds.
retry() {
  local attempts=$1 n=1 delay=2
  shift
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      log "failed after $n attempts: $*"
      return 1
    fi
    log "attempt $n failed, retrying in ${delay}s: $*"
    sleep "$delay"
    n=$((n + 1))
    delay=$((delay * 2))
  done
}

# apt_install PACKAGE...: install the Debian packages that are missing (one apt-get update per run).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=
  [ "$(id -u)" = 0 ] || sudo=sudo
  if [ -z "${PEERS_APT_UPDATED:-}" ]; then
    log "apt-get update"
    retry 3 $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    PEERS_APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  retry 3 $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Use-Pty=0 "${missing[@]}" >&2
}

# proc_start PID: the process's start time in clock ticks since boot (guards against pid reuse).
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# proc_alive PID: the process exists and has not exited (a zombie waiting to be reaped by its
# parent counts as gone).
proc_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# record_pid PEER NAME PID: remember a process up.sh started (pid and start time), for down.sh.
record_pid() {
  mkdir -p "$PEERS_DIR/$1/pids"
  echo "$3 $(proc_start "$3" || echo 0)" >"$PEERS_DIR/$1/pids/$2.pid"
  echo "$2" >>"$PEERS_DIR/$1/pids/order"
}

# pid_is_ours PIDFILE: print the pid recorded in PIDFILE if that very process still runs.
pid_is_ours() {
  local pid start
  read -r pid start <"$1" 2>/dev/null || return 1
  [ -n "$pid" ] && [ "$(proc_start "$pid" 2>/dev/null)" = "$start" ] && echo "$pid"
}

# peer_pids PEER: the recorded pids of PEER that still run.
peer_pids() {
  local f
  for f in "$PEERS_DIR/$1"/pids/*.pid; do
    [ -e "$f" ] && pid_is_ours "$f"
  done
  return 0
}

# env_set PEER NAME VALUE: add an `export NAME=VALUE` line to the peer's env file.
env_set() {
  local f=$PEERS_DIR/$1/env
  mkdir -p "$PEERS_DIR/$1"
  local v=$3
  # Plain words stay readable; anything else is single-quoted for the shell.
  [[ $v =~ ^[A-Za-z0-9_./:,@%+=-]*$ ]] || v="'${v//\'/\'\\\'\'}'"
  printf 'export %s=%s\n' "$2" "$v" >>"$f"
}

# log_tail FILE [LINES]: print the end of a peer's log on stderr, framed.
log_tail() {
  local f=$1 n=${2:-40}
  PEERS_TAIL_SHOWN=1
  echo "----- last $n lines of $f -----" >&2
  if [ -f "$f" ]; then tail -n "$n" "$f" >&2; else echo "(no log file)" >&2; fi
  echo "----- end of $f -----" >&2
}

# peer_logs_tail PEER: the tails of the peer's most recently written logs (for failures that
# no specific check caught).
peer_logs_tail() {
  local f
  while read -r f; do
    log_tail "$f" 25
  done < <(find "$PEERS_DIR/$1" -maxdepth 3 -type f \( -name '*.log' -o -name '*.out' \) \
    -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 3 | cut -d' ' -f2-)
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# port_busy PORT: true when something listens on 127.0.0.1:PORT.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# rss_mb PID...: resident memory of the given processes, in MiB, summed.
rss_mb() {
  local total=0 pid kb
  for pid in "$@"; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo $((total / 1024))
}

# record_metric PEER KEY VALUE: measurements for the report ($PEERS_DIR/<peer>/metrics).
record_metric() {
  mkdir -p "$PEERS_DIR/$1"
  echo "$2=$3" >>"$PEERS_DIR/$1/metrics"
}

# peer_wait_ready PEER WHO: wait until PEER (started by this run of up.sh, or already running) is
# ready; fail when it could not start. WHO names the waiting peer in messages.
peer_wait_ready() {
  local end=$(($(date +%s) + ${PEERS_DEPENDENCY_TIMEOUT:-3600}))
  until [ -f "$PEERS_DIR/$1/ready" ]; do
    [ -f "$PEERS_DIR/$1/failed" ] && die "$2: needs $1, which could not start"
    [ "$(date +%s)" -lt "$end" ] || die "$2: $1 was not ready after ${PEERS_DEPENDENCY_TIMEOUT:-3600}s"
    sleep 1
  done
}

# shellcheck shell=bash
# PostgreSQL peer (sourced by up.sh): Debian's `postgresql` (15), a cluster of its own under
# $PEERS_DIR/pg run by the unprivileged `postgres` user (no system service), listening on
# 127.0.0.1 only (TCP, password authentication; no Unix socket outside the peer's directory).
# The database `brick` and its owner `brick` serve brick's `pg` state backend.

PG_APT_PACKAGES=(postgresql)

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/postgres" ] && echo "$d"; done | sort -V | tail -n 1
}

pg_start() {
  local dir=$PEERS_DIR/pg t0 bin port pass user=postgres
  t0=$(now_ms)
  bin=$(pg_bin)
  [ -n "$bin" ] || die "pg: PostgreSQL is not installed"
  id "$user" >/dev/null 2>&1 || die "pg: the user $user does not exist (Debian's postgresql package creates it)"
  port=$(free_port)
  pass=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  mkdir -p "$dir"/{data,run,log}
  printf '%s\n' "$pass" >"$dir/pass"
  chown -R "$user": "$dir"
  chmod 700 "$dir/data"
  # The peer's directory may sit under a root-only path: the postgres user needs to reach it.
  local p=$dir
  while ! runuser -u "$user" -- test -x "$dir" && [ "$p" != / ]; do
    p=$(dirname "$p")
    chmod o+x "$p" 2>/dev/null || true
  done
  runuser -u "$user" -- "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pass" \
    --auth-host=scram-sha-256 --auth-local=peer >"$dir/log/initdb.out" 2>&1 ||
    { log_tail "$dir/log/initdb.out"; die "pg: initdb failed"; }
  nohup runuser -u "$user" -- "$bin/postgres" -D "$dir/data" -c listen_addresses=127.0.0.1 \
    -c port="$port" -c unix_socket_directories="$dir/run" -c fsync=on -c max_connections=100 \
    >>"$dir/log/postgres.log" 2>&1 </dev/null &
  record_pid pg postgres $!
  log "pg: postgres started on 127.0.0.1:$port"
  local end=$(($(date +%s) + 60))
  until runuser -u "$user" -- "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do
    [ "$(date +%s)" -lt "$end" ] || { log_tail "$dir/log/postgres.log"; die "pg: not ready after 60s"; }
    sleep 0.3
  done
  runuser -u "$user" -- "$bin/psql" -q -h "$dir/run" -p "$port" -U postgres -d postgres \
    -c "CREATE ROLE brick LOGIN PASSWORD '$pass'" -c "CREATE DATABASE brick OWNER brick" \
    >>"$dir/log/setup.out" 2>&1 || { log_tail "$dir/log/setup.out"; die "pg: could not create the database"; }
  env_set pg BRICK_PEERS_PG_CONN "postgres://brick:$pass@127.0.0.1:$port/brick?sslmode=disable"
  record_metric pg ready_seconds "$(secs_since "$t0")"
  # shellcheck disable=SC2046
  record_metric pg rss_mb "$(rss_mb $(peer_pids pg))"
}

# shellcheck shell=bash
# RGW peer (sourced by up.sh): Ceph's own S3 gateway, Debian's `radosgw` (the Ceph peer's
# version), on the ceph peer's cluster, serving S3 over HTTP on 127.0.0.1 only (beast frontend).
# A user with a fixed key pair and the bucket `brick-state` are created for the tests of brick's
# `s3` state backend.

RGW_APT_PACKAGES=(radosgw curl)

rgw_start() {
  local dir=$PEERS_DIR/rgw t0 port ak sk bucket=brick-state
  mkdir -p "$dir"/{data,log,run}
  command -v radosgw >/dev/null || die "rgw: radosgw is not installed"
  peer_wait_ready ceph rgw
  t0=$(now_ms)
  # shellcheck disable=SC1091
  . "$PEERS_DIR/ceph/env"
  port=$(free_port)
  ak=BRICKPEERS$(head -c 5 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
  sk=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
  ceph auth get-or-create client.rgw.brick mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
    -o "$dir/keyring" >/dev/null || die "rgw: could not create its cephx key"
  # Small placement groups for its pools: the peer cluster has one OSD.
  nohup radosgw -f -n client.rgw.brick --keyring "$dir/keyring" \
    --rgw-frontends "beast endpoint=127.0.0.1:$port" --rgw-data "$dir/data" \
    --log-file "$dir/log/rgw.log" --admin-socket "$dir/run/rgw.asok" \
    --osd-pool-default-pg-num 8 --osd-pool-default-pgp-num 8 \
    >>"$dir/log/rgw.out" 2>&1 </dev/null &
  record_pid rgw radosgw $!
  log "rgw: radosgw started on 127.0.0.1:$port"
  rgw_wait 180 "the S3 endpoint" curl -fsS -o /dev/null "http://127.0.0.1:$port/" ||
    { log_tail "$dir/log/rgw.log"; die "rgw: the S3 endpoint did not answer"; }
  # The user survives in the cluster when the gateway is restarted: then it gets a new key.
  radosgw-admin user create --uid=brick --display-name="brick peers" \
    --access-key="$ak" --secret-key="$sk" >"$dir/user.json" 2>>"$dir/log/admin.out" ||
    radosgw-admin key create --uid=brick --key-type=s3 \
      --access-key="$ak" --secret-key="$sk" >"$dir/user.json" 2>>"$dir/log/admin.out" ||
    { log_tail "$dir/log/admin.out"; die "rgw: could not create the S3 user"; }
  # The bucket, through S3 itself (SigV4 by curl; RGW wants the payload's hash signed too).
  # (An existing bucket of this user answers 200 too.)
  rgw_wait 60 "the bucket $bucket" curl -fsS -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --user "$ak:$sk" "http://127.0.0.1:$port/$bucket" ||
    { log_tail "$dir/log/rgw.log"; die "rgw: could not create the bucket $bucket"; }
  log "rgw: S3 on http://127.0.0.1:$port, bucket $bucket"
  env_set rgw BRICK_PEERS_S3_ENDPOINT "http://127.0.0.1:$port"
  env_set rgw BRICK_PEERS_S3_ACCESS_KEY "$ak"
  env_set rgw BRICK_PEERS_S3_SECRET_KEY "$sk"
  env_set rgw BRICK_PEERS_S3_BUCKET "$bucket"
  record_metric rgw ready_seconds "$(secs_since "$t0")"
  # shellcheck disable=SC2046
  record_metric rgw rss_mb "$(rss_mb $(peer_pids rgw))"
}

# rgw_wait SECONDS WHAT COMMAND...: poll COMMAND every half second until it succeeds.
rgw_wait() {
  local secs=$1 what=$2 end
  shift 2
  end=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$end" ]; then
      log "rgw: timed out after ${secs}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

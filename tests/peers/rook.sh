# shellcheck shell=bash
# Rook peer (sourced by up.sh): the real Rook operator (github.com/rook/rook, built from the Go
# module proxy by k8s-build.sh; the last release that supports Debian's Ceph 16.2) with its real
# CRDs and RBAC, watching namespace rook-ceph of the k8s peer, and a CephCluster `rook-ceph` there
# in external mode connected to the ceph peer. CephBlockPools created in rook-ceph become real
# pools in the real Ceph. Needs k8s and ceph (whose monitor must listen on 3300: up.sh sees to it).
#
# The operator expects to run in a pod. It runs as a plain process instead, in a mount namespace
# of its own (unshare -m) where the pod's surroundings are mounted without touching the host:
# a tmpfs on /run holding the service account (token, ca.crt, namespace), the peer's directories
# bound over /etc/ceph and /var/lib/rook (under a tmpfs on /var/lib). KUBERNETES_SERVICE_HOST/PORT
# point at the API server, and a Pod object named like the operator exists (KWOK runs it).
# Not available: the CSI drivers (no kubelet), so PVCs cannot be provisioned.

ROOK_APT_PACKAGES=(util-linux mount)
ROOK_NS=rook-ceph

rook_bin_dir() { echo "$PEERS_CACHE/rook/bin/$ROOK_VERSION"; }

rook_build() {
  local dir=$PEERS_DIR/rook t0 b
  [ -x "$(rook_bin_dir)/rook" ] && [ -f "$(rook_bin_dir)/crds.yaml" ] && return 0
  log "rook: building the Rook operator $ROOK_VERSION (log: $dir/build.log)"
  t0=$(now_ms)
  setsid bash "$PEERS_SCRIPTS/k8s-build.sh" rook >"$dir/build.log" 2>&1 </dev/null &
  b=$!
  # shellcheck disable=SC2064
  trap "kill -TERM -- -$b 2>/dev/null; exit 143" TERM
  wait "$b" || {
    log_tail "$dir/build.log" 60
    die "rook: building the operator failed"
  }
  trap 'exit 143' TERM
  record_metric rook build_seconds "$(secs_since "$t0")"
  log "rook: built in $(secs_since "$t0")s"
}

rook_start() {
  local dir=$PEERS_DIR/rook t0 kubectl kc bin fsid admin_key mon_key port mon_port
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] || die "rook: needs root (unshare -m and mounts for the operator's pod surroundings)"
  command -v unshare >/dev/null || die "rook: unshare (util-linux) is not installed"
  rook_build
  peer_wait_ready ceph rook
  peer_wait_ready k8s rook
  t0=$(now_ms)
  bin=$(rook_bin_dir)
  # shellcheck disable=SC1091
  . "$PEERS_DIR/k8s/env"
  kubectl=$KUBECTL
  kc=$KUBECONFIG
  local conf=$PEERS_DIR/ceph/ceph.conf keyring=$PEERS_DIR/ceph/keyring
  fsid=$(sed -n 's/^fsid = //p' "$conf")
  mon_port=$(sed -n 's/^mon host = \[v2:127.0.0.1:\([0-9]*\),.*/\1/p' "$conf")
  [ "$mon_port" = 3300 ] || die "rook: the ceph peer's monitor listens on $mon_port; Rook needs 3300 (start ceph together with rook)"
  admin_key=$(ceph-authtool -p -n client.admin "$keyring") || die "rook: no client.admin key in $keyring"
  mon_key=$(ceph-authtool -p -n mon. "$keyring") || die "rook: no mon. key in $keyring"
  port=$(sed -n 's#.*server: https://127.0.0.1:\([0-9]*\).*#\1#p' "$kc")

  # Rook's CRDs and RBAC (namespace, service accounts, roles), as its examples install them.
  "$kubectl" apply --server-side -f "$bin/crds.yaml" >"$dir/install.log" 2>&1 &&
    "$kubectl" wait --for=condition=Established --timeout=60s crd/cephclusters.ceph.rook.io \
      crd/cephblockpools.ceph.rook.io >>"$dir/install.log" 2>&1 &&
    "$kubectl" apply --server-side -f "$bin/common.yaml" >>"$dir/install.log" 2>&1 || {
    log_tail "$dir/install.log"
    die "rook: the API server refused Rook's CRDs or RBAC"
  }

  # What the operator's pod would have: its settings, its service account token, a Pod object.
  "$kubectl" apply -f - >>"$dir/install.log" 2>&1 <<YAML || die "rook: could not create the operator's settings"
apiVersion: v1
kind: ConfigMap
metadata: {name: rook-ceph-operator-config, namespace: $ROOK_NS}
data:
  ROOK_LOG_LEVEL: INFO
  ROOK_CURRENT_NAMESPACE_ONLY: "true"
  ROOK_CSI_ENABLE_RBD: "false"
  ROOK_CSI_ENABLE_CEPHFS: "false"
  ROOK_CSI_ENABLE_NFS: "false"
  ROOK_ENABLE_DISCOVERY_DAEMON: "false"
  ROOK_DISABLE_ADMISSION_CONTROLLER: "true"
  ROOK_DISABLE_DEVICE_HOTPLUG: "true"
---
apiVersion: v1
kind: Pod
metadata:
  name: rook-ceph-operator
  namespace: $ROOK_NS
  labels: {app: rook-ceph-operator}
spec:
  serviceAccountName: rook-ceph-system
  containers:
  - name: rook-ceph-operator
    image: docker.io/rook/ceph:$ROOK_VERSION
    args: [ceph, operator]
---
apiVersion: v1
kind: Secret
metadata: {name: rook-ceph-mon, namespace: $ROOK_NS}
type: kubernetes.io/rook
stringData:
  cluster-name: $ROOK_NS
  fsid: $fsid
  mon-secret: $mon_key
  admin-secret: $admin_key
  ceph-username: client.admin
  ceph-secret: $admin_key
---
apiVersion: v1
kind: ConfigMap
metadata: {name: rook-ceph-mon-endpoints, namespace: $ROOK_NS}
data:
  data: a=127.0.0.1:3300
  mapping: "{}"
  maxMonId: "0"
YAML
  mkdir -p "$dir/serviceaccount" "$dir/etc-ceph" "$dir/var-lib-rook"
  "$kubectl" create token rook-ceph-system -n "$ROOK_NS" --duration=48h >"$dir/serviceaccount/token" 2>>"$dir/install.log" ||
    die "rook: could not get a token for the rook-ceph-system service account"
  base64 -d <<<"$(sed -n 's/.*certificate-authority-data: //p' "$kc")" >"$dir/serviceaccount/ca.crt"
  printf '%s' "$ROOK_NS" >"$dir/serviceaccount/namespace"
  chmod 600 "$dir/serviceaccount/token"

  # The operator in a mount namespace of its own: the mounts vanish with it.
  cat >"$dir/run-operator.sh" <<SH
#!/bin/sh
# Generated by tests/peers/rook.sh: runs inside unshare -m (a private mount namespace).
set -e
mount --make-rprivate /
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
cp $dir/serviceaccount/* /run/secrets/kubernetes.io/serviceaccount/
mount -t tmpfs -o mode=755 tmpfs /var/lib
mkdir -p /var/lib/rook
mount --bind $dir/var-lib-rook /var/lib/rook
mount --bind $dir/etc-ceph /etc/ceph
exec $bin/rook ceph operator
SH
  chmod +x "$dir/run-operator.sh"
  KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$port \
    POD_NAME=rook-ceph-operator POD_NAMESPACE=$ROOK_NS OPERATOR_NAMESPACE=$ROOK_NS \
    ROOK_LOG_LEVEL=INFO ROOK_CURRENT_NAMESPACE_ONLY=true \
    nohup unshare -m "$dir/run-operator.sh" >"$dir/operator.log" 2>&1 </dev/null &
  record_pid rook operator $!

  "$kubectl" apply -f - >>"$dir/install.log" 2>&1 <<YAML || die "rook: could not create the CephCluster"
apiVersion: ceph.rook.io/v1
kind: CephCluster
metadata: {name: $ROOK_NS, namespace: $ROOK_NS}
spec:
  external: {enable: true}
  dataDirHostPath: /var/lib/rook
  crashCollector: {disable: true}
  # Without monitoring the pool controller cannot learn the Ceph version (rook #13088).
  monitoring: {enabled: true}
YAML
  rook_wait "${ROOK_UP_TIMEOUT:-240}" "the CephCluster to connect" rook_connected "$kubectl"
  log "rook: operator $ROOK_VERSION running; CephCluster $ROOK_NS connected to the ceph peer"
  env_set rook ROOK_NAMESPACE "$ROOK_NS"
  env_set rook ROOK_CLUSTER "$ROOK_NS"
  record_metric rook ready_seconds "$(secs_since "$t0")"
  # shellcheck disable=SC2046
  record_metric rook rss_mb "$(rss_mb $(peer_pids rook))"
}

rook_connected() {
  local phase health
  phase=$("$1" get cephcluster "$ROOK_NS" -n "$ROOK_NS" -o 'jsonpath={.status.phase}') || return 1
  health=$("$1" get cephcluster "$ROOK_NS" -n "$ROOK_NS" -o 'jsonpath={.status.ceph.health}') || return 1
  [ "$phase" = Connected ] && [ -n "$health" ]
}

# rook_wait SECONDS WHAT COMMAND...: poll COMMAND; fail early if the operator died.
rook_wait() {
  local secs=$1 what=$2 end
  shift 2
  end=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    if ! pid_is_ours "$PEERS_DIR/rook/pids/operator.pid" >/dev/null; then
      log_tail "$PEERS_DIR/rook/operator.log"
      die "rook: the operator exited while waiting for $what"
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
      log_tail "$PEERS_DIR/rook/operator.log"
      die "rook: timed out after ${secs}s waiting for $what"
    fi
    sleep 1
  done
}

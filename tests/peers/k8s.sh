# shellcheck shell=bash
# Kubernetes peer (sourced by up.sh): a real etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler built from source at the pinned version (k8s-build.sh), serving TLS on 127.0.0.1
# with a CA, serving certificate, service-account keys and client certificates of our own; KWOK
# plays the kubelets: three fake Nodes named like the garage's machines (`maas`, `kvm4`, `kvm5`,
# with the MAAS simulator's CPU, memory and disk) become Ready, and Pods scheduled on them become
# Running. Exports KUBECONFIG.

K8S_APT_PACKAGES=(openssl curl python3)

k8s_bin() { echo "$PEERS_CACHE/k8s/bin/$K8S_VERSION/$1"; }
k8s_etcd_bin() { echo "$PEERS_CACHE/k8s/bin/etcd-$ETCD_VERSION/etcd"; }
k8s_kwok_dir() { echo "$PEERS_CACHE/k8s/bin/kwok-$KWOK_VERSION"; }

# The fake Nodes: name, CPUs, memory (MiB), disk (bytes) — the garage's machines as the MAAS
# simulator seeds them (providers/maas/src/sim/mod.rs, seed_garage).
K8S_NODES=(
  "maas 10 16384 1000000000000"
  "kvm4 20 32768 1000000000000"
  "kvm5 20 32768 1000000000000"
)

# k8s_build: build the binaries unless they are cached (k8s-build.sh), in a session of its own so
# that an interrupted start stops the go processes too.
k8s_build() {
  local dir=$PEERS_DIR/k8s t0 b
  local c missing=
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$(k8s_bin $c)" ] || missing=1
  done
  [ -x "$(k8s_etcd_bin)" ] && [ -x "$(k8s_kwok_dir)/kwok" ] && [ -f "$(k8s_kwok_dir)/stages.yaml" ] || missing=1
  [ -n "$missing" ] || return 0
  log "k8s: building the control plane, kubectl, etcd and KWOK (log: $dir/build.log)"
  t0=$(now_ms)
  setsid bash "$PEERS_SCRIPTS/k8s-build.sh" >"$dir/build.log" 2>&1 </dev/null &
  b=$!
  # shellcheck disable=SC2064
  trap "kill -TERM -- -$b 2>/dev/null; exit 143" TERM
  wait "$b" || {
    log_tail "$dir/build.log" 60
    die "k8s: building the control plane, etcd or KWOK failed"
  }
  trap 'exit 143' TERM
  record_metric k8s build_seconds "$(secs_since "$t0")"
  log "k8s: built in $(secs_since "$t0")s"
}

k8s_start() {
  local dir=$PEERS_DIR/k8s t0 etcd_port etcd_peer port kc
  mkdir -p "$dir"
  k8s_build
  t0=$(now_ms)
  mkdir -p "$dir/pki" "$dir/etcd"

  # PKI: one CA signs the serving certificate and the admin client certificate
  # (O=system:masters); a separate RSA key pair signs service-account tokens.
  (
    cd "$dir/pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=brick-peers-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
      -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' >client.ext
    # Client certificates: the admin (system:masters), and the two controllers with the user
    # names their bootstrap RBAC roles are bound to.
    for who in 'admin:/O=system:masters/CN=brick-admin' \
      'controller-manager:/CN=system:kube-controller-manager' 'scheduler:/CN=system:kube-scheduler'; do
      openssl req -newkey rsa:2048 -nodes -subj "${who#*:}" \
        -keyout "${who%%:*}.key" -out "${who%%:*}.csr" 2>/dev/null
      openssl x509 -req -in "${who%%:*}.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
        -extfile client.ext -out "${who%%:*}.crt" 2>/dev/null
    done
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  ) || die "k8s: openssl could not generate the certificates"

  etcd_port=$(free_port)
  etcd_peer=$(free_port)
  nohup "$(k8s_etcd_bin)" --name brick-peers --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "brick-peers=http://127.0.0.1:$etcd_peer" --listen-metrics-urls "" \
    --unsafe-no-fsync --quota-backend-bytes 1073741824 --log-level warn \
    >"$dir/etcd.log" 2>&1 </dev/null &
  record_pid k8s etcd $!
  k8s_wait 30 "etcd" "$dir/etcd.log" etcd curl -fsS "http://127.0.0.1:$etcd_port/health"
  log "k8s: etcd $ETCD_VERSION ready on 127.0.0.1:$etcd_port"

  port=$(free_port)
  nohup "$(k8s_bin kube-apiserver)" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
    --cert-dir="$dir/pki" --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" \
    --service-account-issuer="https://127.0.0.1:$port" \
    --service-account-key-file="$dir/pki/sa.pub" --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=RBAC \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true \
    --endpoint-reconciler-type=none --profiling=false \
    >"$dir/apiserver.log" 2>&1 </dev/null &
  record_pid k8s kube-apiserver $!
  k8s_wait 120 "kube-apiserver /readyz" "$dir/apiserver.log" kube-apiserver \
    curl -fsS --cacert "$dir/pki/ca.crt" "https://127.0.0.1:$port/readyz"

  # Kubeconfigs with embedded certificates: the admin's, and one per controller.
  kc=$dir/kubeconfig
  k8s_kubeconfig "$kc" "$port" admin
  k8s_kubeconfig "$dir/controller-manager.kubeconfig" "$port" controller-manager
  k8s_kubeconfig "$dir/scheduler.kubeconfig" "$port" scheduler
  # Ready for tests: the four system namespaces exist (a post-start hook creates them).
  k8s_wait 60 "the system namespaces" "$dir/apiserver.log" kube-apiserver \
    k8s_has_namespaces "$kc"
  log "k8s: kube-apiserver $K8S_VERSION ready on https://127.0.0.1:$port"

  # The controllers, without leader election, serving nothing (secure port 0): they only talk to
  # the API server.
  nohup "$(k8s_bin kube-controller-manager)" \
    --kubeconfig="$dir/controller-manager.kubeconfig" --leader-elect=false --secure-port=0 \
    --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
    --cluster-signing-cert-file="$dir/pki/ca.crt" --cluster-signing-key-file="$dir/pki/ca.key" \
    --use-service-account-credentials=true --controllers='*' --profiling=false \
    >"$dir/controller-manager.log" 2>&1 </dev/null &
  record_pid k8s kube-controller-manager $!
  nohup "$(k8s_bin kube-scheduler)" \
    --kubeconfig="$dir/scheduler.kubeconfig" --leader-elect=false --secure-port=0 --profiling=false \
    >"$dir/scheduler.log" 2>&1 </dev/null &
  record_pid k8s kube-scheduler $!
  # KWOK with its default stages manages the Nodes annotated kwok.x-k8s.io/node=fake. Its own
  # HTTP server (metrics, the fake kubelet API) is switched off; the fake Pods get addresses
  # from a range nothing on this machine uses.
  nohup "$(k8s_kwok_dir)/kwok" --config="$(k8s_kwok_dir)/stages.yaml" --kubeconfig="$kc" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr=10.244.0.0/24 --node-ip=127.0.0.1 --server-address= \
    >"$dir/kwok.log" 2>&1 </dev/null &
  record_pid k8s kwok $!
  k8s_create_nodes "$kc"
  k8s_wait 90 "the KWOK nodes to be Ready" "$dir/kwok.log" kwok \
    "$(k8s_bin kubectl)" --kubeconfig "$kc" wait --for=condition=Ready --timeout=5s node/maas node/kvm4 node/kvm5
  # The controller-manager is working once it has made the default ServiceAccount.
  k8s_wait 90 "the default ServiceAccount" "$dir/controller-manager.log" kube-controller-manager \
    "$(k8s_bin kubectl)" --kubeconfig "$kc" get serviceaccount default -n default
  pid_is_ours "$dir/pids/kube-scheduler.pid" >/dev/null || {
    log_tail "$dir/scheduler.log"
    die "k8s: kube-scheduler exited"
  }
  log "k8s: controller-manager, scheduler and KWOK nodes ${K8S_NODES[*]%% *} ready"

  env_set k8s KUBECONFIG "$kc"
  env_set k8s BRICK_PEERS_KUBECONFIG "$kc"
  env_set k8s KUBECTL "$(k8s_bin kubectl)"
  local names=() n
  for n in "${K8S_NODES[@]}"; do names+=("${n%% *}"); done
  env_set k8s BRICK_PEERS_KWOK_NODES "$(IFS=,; echo "${names[*]}")"
  record_metric k8s ready_seconds "$(secs_since "$t0")"
  # shellcheck disable=SC2046
  record_metric k8s rss_mb "$(rss_mb $(peer_pids k8s))"
}

# k8s_create_nodes KUBECONFIG: the fake Nodes, with the status a kubelet would register.
k8s_create_nodes() {
  local n name cpu mem disk
  for n in "${K8S_NODES[@]}"; do
    read -r name cpu mem disk <<<"$n"
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
spec: {}
status:
  capacity: {cpu: "$cpu", memory: ${mem}Mi, ephemeral-storage: "$disk", pods: "110"}
  allocatable: {cpu: "$cpu", memory: ${mem}Mi, ephemeral-storage: "$disk", pods: "110"}
  nodeInfo:
    architecture: amd64
    operatingSystem: linux
    kubeletVersion: fake
EOF
  done | "$(k8s_bin kubectl)" --kubeconfig "$1" create -f - >/dev/null ||
    die "k8s: could not create the KWOK nodes"
}

# k8s_kubeconfig FILE PORT USER: a kubeconfig for the client certificate pki/USER.{crt,key}.
k8s_kubeconfig() {
  python3 - "$1" "$2" "$PEERS_DIR/k8s/pki" "$3" <<'EOF'
import base64, sys
kc, port, pki, user = sys.argv[1:5]
b64 = lambda name: base64.b64encode(open(f"{pki}/{name}", "rb").read()).decode()
open(kc, "w").write(f"""apiVersion: v1
kind: Config
clusters:
- name: brick-peers
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {b64("ca.crt")}
users:
- name: brick-{user}
  user:
    client-certificate-data: {b64(user + ".crt")}
    client-key-data: {b64(user + ".key")}
contexts:
- name: brick-peers
  context:
    cluster: brick-peers
    user: brick-{user}
current-context: brick-peers
""")
EOF
  chmod 600 "$1"
}

k8s_has_namespaces() {
  local got
  got=$("$(k8s_bin kubectl)" --kubeconfig "$1" get namespaces -o name 2>/dev/null) || return 1
  for ns in default kube-system kube-public kube-node-lease; do
    grep -qx "namespace/$ns" <<<"$got" || return 1
  done
}

# k8s_wait SECONDS WHAT LOG PIDNAME COMMAND...: poll COMMAND; fail early if the process died.
k8s_wait() {
  local secs=$1 what=$2 logf=$3 name=$4 end
  shift 4
  end=$(($(date +%s) + secs))
  until "$@" >/dev/null 2>&1; do
    if ! pid_is_ours "$PEERS_DIR/k8s/pids/$name.pid" >/dev/null; then
      log_tail "$logf"
      die "k8s: $name exited while waiting for $what"
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
      log_tail "$logf"
      die "k8s: timed out after ${secs}s waiting for $what"
    fi
    sleep 0.5
  done
}

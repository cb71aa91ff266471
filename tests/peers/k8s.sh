# shellcheck shell=bash
# Kubernetes API peer (sourced by up.sh): a real etcd and kube-apiserver built from source at the
# pinned version (k8s-build.sh), serving TLS on 127.0.0.1 with a CA, serving certificate,
# service-account keys and an admin client certificate of our own; exports KUBECONFIG.
# There is no controller-manager, scheduler or kubelet: objects are stored and served, nothing
# reconciles them (namespaces stay Terminating, pods Pending, no default ServiceAccount).

K8S_APT_PACKAGES=(openssl curl python3)

k8s_bin() { echo "$PEERS_CACHE/k8s/bin/$K8S_VERSION/$1"; }
k8s_etcd_bin() { echo "$PEERS_CACHE/k8s/bin/etcd-$ETCD_VERSION/etcd"; }

# k8s_build: build the binaries unless they are cached (k8s-build.sh), in a session of its own so
# that an interrupted start stops the go processes too.
k8s_build() {
  local dir=$PEERS_DIR/k8s t0 b
  if [ -x "$(k8s_bin kube-apiserver)" ] && [ -x "$(k8s_bin kubectl)" ] && [ -x "$(k8s_etcd_bin)" ]; then
    return 0
  fi
  log "k8s: building kube-apiserver, kubectl and etcd (log: $dir/build.log)"
  t0=$(now_ms)
  setsid bash "$PEERS_SCRIPTS/k8s-build.sh" >"$dir/build.log" 2>&1 </dev/null &
  b=$!
  # shellcheck disable=SC2064
  trap "kill -TERM -- -$b 2>/dev/null; exit 143" TERM
  wait "$b" || {
    log_tail "$dir/build.log" 60
    die "k8s: building kube-apiserver/etcd failed"
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
    openssl req -newkey rsa:2048 -nodes -subj '/O=system:masters/CN=brick-admin' \
      -keyout admin.key -out admin.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 \
      -extfile admin.ext -out admin.crt 2>/dev/null
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

  # Admin kubeconfig with embedded certificates.
  kc=$dir/kubeconfig
  python3 - "$kc" "$port" "$dir/pki" <<'EOF'
import base64, sys
kc, port, pki = sys.argv[1], sys.argv[2], sys.argv[3]
b64 = lambda name: base64.b64encode(open(f"{pki}/{name}", "rb").read()).decode()
open(kc, "w").write(f"""apiVersion: v1
kind: Config
clusters:
- name: brick-peers
  cluster:
    server: https://127.0.0.1:{port}
    certificate-authority-data: {b64("ca.crt")}
users:
- name: brick-admin
  user:
    client-certificate-data: {b64("admin.crt")}
    client-key-data: {b64("admin.key")}
contexts:
- name: brick-peers
  context:
    cluster: brick-peers
    user: brick-admin
current-context: brick-peers
""")
EOF
  chmod 600 "$kc"
  # Ready for tests: the four system namespaces exist (a post-start hook creates them).
  k8s_wait 60 "the system namespaces" "$dir/apiserver.log" kube-apiserver \
    k8s_has_namespaces "$kc"
  log "k8s: kube-apiserver $K8S_VERSION ready on https://127.0.0.1:$port"
  env_set k8s KUBECONFIG "$kc"
  env_set k8s BRICK_PEERS_KUBECONFIG "$kc"
  env_set k8s KUBECTL "$(k8s_bin kubectl)"
  record_metric k8s ready_seconds "$(secs_since "$t0")"
  # shellcheck disable=SC2046
  record_metric k8s rss_mb "$(rss_mb $(peer_pids k8s))"
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

#!/usr/bin/env bash
# brick vs kubectl on the real kube-apiserver of tests/peers, side by side in one run:
#   apply:        brick apply            vs  kubectl apply --server-side -f FILES
#   no-op plan:   brick plan             vs  kubectl diff --server-side -f FILES
# on Rook's crds+common+operator and Strimzi's install files (../shared/manifests, read at run
# time), counting the API requests each makes (brick: BRICK_K8S_REQUEST_LOG; kubectl: -v=6).
# Each workload is applied by kubectl first and deleted, then by brick and destroyed, so both
# create every object. Usage (release build only):
#   source /work/main/.peers/env && BRICK_BIN=target/release/brick bench/k8s.sh [RUNS]
set -euo pipefail
RUNS=${1:-3}
BRICK_BIN=${BRICK_BIN:-target/release/brick}
BRICK_BIN=$(realpath "$BRICK_BIN")
: "${BRICK_PEERS_KUBECONFIG:?source the peers env first}" "${KUBECTL:?}"
SHARED=${SHARED_MANIFESTS:-$(dirname "$0")/../../shared/manifests}
[ -d "$SHARED" ] || SHARED=/work/shared/manifests
[ -d "$SHARED" ] || { echo "bench/k8s.sh: no ../shared/manifests, nothing to measure" >&2; exit 0; }
K() { "$KUBECTL" --kubeconfig "$BRICK_PEERS_KUBECONFIG" "$@"; }
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# workload NAME FILES...: a directory with the files, brick's configuration, and one
# concatenated file for kubectl (without the csi.ceph.io objects, whose CRDs Rook ships apart).
workload() {
  local name=$1; shift
  local d; d=$(mktemp -d "/tmp/brick-bench-k8s-$name.XXXX")
  local i=0 list=()
  for f in "$@"; do
    cp "$f" "$d/$(printf '%03d' $i).yaml"; list+=("\"$(printf '%03d' $i).yaml\""); i=$((i+1))
  done
  cat > "$d/main.hcl" <<HCL
provider "k8s" {
  config_path = "$BRICK_PEERS_KUBECONFIG"
}
data "k8s_documents" "w" {
  content = join("\n---\n", [for f in [$(IFS=,; echo "${list[*]}")] : file(f)])
}
resource "k8s_manifest" "w" {
  for_each           = { for k, v in data.k8s_documents.w.documents : k => v if !startswith(v.apiVersion, "csi.ceph.io/") }
  manifest           = each.value
  wait_for_ready     = false
  delete_propagation = "Background"
}
HCL
  python3 - "$d" "$@" <<'PY'
import sys, re
out = []
for f in sys.argv[2:]:
    for doc in re.split(r'(?m)^---\s*$', open(f).read()):
        if re.search(r'(?m)^apiVersion:\s*csi\.ceph\.io/', doc) or not re.search(r'(?m)^kind:', doc):
            continue
        out.append(doc.strip('\n'))
open(sys.argv[1] + '/kubectl.yaml', 'w').write('\n---\n'.join(out) + '\n')
# Namespaces are kept between runs: without kube-controller-manager one never leaves Terminating.
rest = [d for d in out if not re.search(r'(?m)^kind:\s*Namespace\s*$', d)]
open(sys.argv[1] + '/kubectl-delete.yaml', 'w').write('\n---\n'.join(rest) + '\n')
names = [re.search(r'(?m)^  name:\s*(\S+)', d).group(1) for d in out if re.search(r'(?m)^kind:\s*Namespace\s*$', d)]
open(sys.argv[1] + '/namespaces', 'w').write(''.join(n + '\n' for n in names))
PY
  echo "$d"
}

CPU=$(mktemp)
cpu() { awk '{print $1 + $2}' "$CPU"; }

run_kubectl() { # verb args... → prints "seconds requests cpu-seconds"
  local t0 t1 n
  t0=$(now)
  n=$( { /usr/bin/time -f '%U %S' -o "$CPU" "$KUBECTL" --kubeconfig "$BRICK_PEERS_KUBECONFIG" "$@" -v=6 2>&1 >/dev/null; } | grep -c '"Response"' || true)
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc) $n $(cpu)"
}

run_brick() { # dir args... → prints "seconds requests"
  local d=$1; shift
  local log="$d/requests-$1.log" t0 t1
  rm -f "$log"
  t0=$(now)
  BRICK_K8S_REQUEST_LOG=$log /usr/bin/time -f '%U %S' -o "$CPU" "$BRICK_BIN" -C "$d" "$@" >"$d/out-$1" 2>"$d/err" || { cat "$d/err" "$d/out-$1" >&2; return 1; }
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc) $(wc -l < "$log" 2>/dev/null || echo 0) $(cpu)"
}

measure() {
  local name=$1 d=$2 objects
  objects=$(grep -c '^kind:' "$d/kubectl.yaml" || true)
  local ka=() kd=() ba=() bp=() kan=0 kdn=0 ban=0 bpn=0 kac=() kdc=() bac=() bpc=() s n c
  for _ in $(seq "$RUNS"); do
    read -r s n c < <(run_kubectl apply --server-side --force-conflicts -f "$d/kubectl.yaml"); ka+=("$s"); kan=$n; kac+=("$c")
    read -r s n c < <(run_kubectl diff --server-side --force-conflicts -f "$d/kubectl.yaml" || true); kd+=("$s"); kdn=$n; kdc+=("$c")
    # Gone before brick creates them (a CRD still terminating keeps kubectl's fields: a conflict).
    K delete --wait=true --timeout=120s --ignore-not-found -f "$d/kubectl-delete.yaml" >/dev/null 2>&1 || true
    # kubectl's --wait can return while a CRD still finalizes; brick would then wait for it
    # (an apply that meets an object being deleted waits until it is gone), timed as brick's.
    for _ in $(seq 240); do
      [ -z "$(K get -f "$d/kubectl-delete.yaml" --ignore-not-found -o name 2>/dev/null)" ] && break
      sleep 0.5
    done
    sleep 1
    rm -f "$d/brick.state.json"*
    read -r s n c < <(run_brick "$d" apply --auto-approve); ba+=("$s"); ban=$n; bac+=("$c")
    read -r s n c < <(run_brick "$d" plan --detailed-exitcode); bp+=("$s"); bpn=$n; bpc+=("$c")
    local keep=()
    while read -r ns; do keep+=(--exclude "k8s_manifest.w[\"Namespace/$ns\"]"); done < "$d/namespaces"
    run_brick "$d" destroy --auto-approve "${keep[@]}" >/dev/null || true
    sleep 1
  done
  local mka mkd mba mbp
  mka=$(printf '%s\n' "${ka[@]}" | median); mkd=$(printf '%s\n' "${kd[@]}" | median)
  mba=$(printf '%s\n' "${ba[@]}" | median); mbp=$(printf '%s\n' "${bp[@]}" | median)
  local cka ckd cba cbp
  cka=$(printf '%s\n' "${kac[@]}" | median); ckd=$(printf '%s\n' "${kdc[@]}" | median)
  cba=$(printf '%s\n' "${bac[@]}" | median); cbp=$(printf '%s\n' "${bpc[@]}" | median)
  printf '| %s (%s objects) | apply | %.2f s wall, %.2f s CPU, %s requests | %.2f s wall, %.2f s CPU, %s requests | %.2f |\n' "$name" "$objects" "$mba" "$cba" "$ban" "$mka" "$cka" "$kan" "$(echo "$mka / $mba" | bc -l)"
  printf '| %s (%s objects) | no-op plan vs diff | %.2f s wall, %.2f s CPU, %s requests | %.2f s wall, %.2f s CPU, %s requests | %.2f |\n' "$name" "$objects" "$mbp" "$cbp" "$bpn" "$mkd" "$ckd" "$kdn" "$(echo "$mkd / $mbp" | bc -l)"
}

for crd in cephclusters.ceph.rook.io kafkas.kafka.strimzi.io; do
  if K get crd "$crd" -o json --show-managed-fields 2>/dev/null | grep -q '"manager"' \
     && ! K get crd "$crd" -o json --show-managed-fields | grep -q '"manager": "brick"'; then
    echo "bench/k8s.sh: $crd is installed by another manager on this API server; use a peer of your own:" >&2
    echo "  PEERS_DIR=\$PWD/.peers tests/peers/up.sh k8s && source .peers/env" >&2
    exit 1
  fi
done
rook=$(workload rook "$SHARED/rook-v1.20.6/crds.yaml" "$SHARED/rook-v1.20.6/common.yaml" "$SHARED/rook-v1.20.6/operator.yaml")
strimzi=$(workload strimzi "$SHARED"/strimzi-1.2.0/install/*.yaml)
echo "brick $("$BRICK_BIN" version 2>/dev/null | head -1), $(K version --client 2>/dev/null | head -1), median of $RUNS runs, $(date -u +%FT%TZ)"
echo
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo '| workload | step | brick | kubectl | wall kubectl/brick |'
echo '|---|---|---|---|---|'
measure rook "$rook"
measure strimzi "$strimzi"
rm -rf "$rook" "$strimzi" "$CPU"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# Starts a real Kubernetes control plane for tests, with no container engine:
#   etcd (its data under .gaia/controlplane/etcd, no fsync), kube-apiserver, kube-controller-manager,
#   kube-scheduler, and kwok faking the kubelets of a few Nodes.
# Everything listens on 127.0.0.1 only. State, pids and logs live in .gaia/controlplane/.
# When a healthy control plane is already running, it is reused.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

NODE_COUNT="${GAIA_CONTROLPLANE_NODES:-3}"
PV_COUNT="${GAIA_CONTROLPLANE_PVS:-40}"
PV_SIZE="${GAIA_CONTROLPLANE_PV_SIZE:-20Gi}"
READY_TIMEOUT="${GAIA_CONTROLPLANE_TIMEOUT:-90}"
# Started in this order.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

KUBECTL="${CP_BIN}/kubectl"

kubectl_admin() { "${KUBECTL}" --kubeconfig "${CP_KUBECONFIG}" "$@"; }

print_usage_hint() {
  cat >&2 <<EOF

Control plane of Kubernetes ${K8S_VERSION} is up (etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}):
  api server  $(sed -n 's/^ *server: //p' "${CP_KUBECONFIG}")
  components  ${COMPONENTS[*]}
  nodes       $("${KUBECTL}" --kubeconfig "${CP_KUBECONFIG}" get nodes -o name 2>/dev/null | sed 's#^node/##' | tr '\n' ' ')
  logs        ${CP_LOG_DIR}/
  tools       ${CP_BIN}/ (kubectl, helm)

Use it:
  export KUBECONFIG=${CP_KUBECONFIG}
Stop it (and remove its state):
  make controlplane-down    # or test/controlplane/down.sh
EOF
}

all_alive() {
  local c
  for c in "${COMPONENTS[@]}"; do
    cp_pid_alive "${c}" || return 1
  done
}

apiserver_ready() {
  [ -f "${CP_KUBECONFIG}" ] && kubectl_admin --request-timeout=3s get --raw=/readyz >/dev/null 2>&1
}

# Makes Released volumes of the pool Available again (their claims are gone), so that the
# pool of pre-created volumes is not used up by namespaces that tests deleted.
recycle_volumes() {
  local pv
  for pv in $(kubectl_admin get pv -l gaia.test/pool=controlplane \
    -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{" "}{end}' 2>/dev/null); do
    kubectl_admin patch pv "${pv}" --type=json -p '[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null 2>&1 || true
  done
}

cp_lock

# --- reuse ---------------------------------------------------------------------------------
CP_VERSIONS="$(basename "${CP_CACHE_DIR}")"
same_versions() { [ "$(cat "${CP_STATE_DIR}/versions" 2>/dev/null)" = "${CP_VERSIONS}" ]; }
if all_alive && same_versions && apiserver_ready; then
  recycle_volumes
  cp_log "reusing the running control plane (pids in ${CP_PID_DIR})"
  print_usage_hint
  exit 0
fi
if [ -d "${CP_PID_DIR}" ]; then
  cp_log "the previous control plane is not healthy or has other versions; stopping it first"
  "${CP_SCRIPT_DIR}/down.sh"
fi

# --- binaries ------------------------------------------------------------------------------
"${CP_SCRIPT_DIR}/build.sh"
command -v openssl >/dev/null 2>&1 || cp_die "openssl is needed to create the certificates (apt-get install openssl / brew install openssl)"
command -v curl >/dev/null 2>&1 || cp_die "curl is needed for health checks (apt-get install curl)"

mkdir -p "${CP_LOG_DIR}" "${CP_PID_DIR}" "${CP_PKI_DIR}" "${CP_STATE_DIR}/kwok"
cp_log "starting the control plane in ${CP_STATE_DIR}"

# --- ports ---------------------------------------------------------------------------------
port_in_use() { (: >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
USED_PORTS=" "
free_port() {
  local p i
  for i in $(seq 1 200); do
    p=$((20000 + (RANDOM * 32768 + RANDOM + i) % 12000))
    case "${USED_PORTS}" in *" ${p} "*) continue ;; esac
    if ! port_in_use "${p}"; then
      USED_PORTS+="${p} "
      echo "${p}"
      return 0
    fi
  done
  cp_die "found no free TCP port on 127.0.0.1"
}
ETCD_PORT="$(free_port)"
USED_PORTS+="${ETCD_PORT} "
ETCD_PEER_PORT="$(free_port)"
APISERVER_PORT="$(free_port)"
KCM_PORT="$(free_port)"
SCHEDULER_PORT="$(free_port)"
USED_PORTS+="${ETCD_PEER_PORT} ${APISERVER_PORT} ${KCM_PORT} ${SCHEDULER_PORT} "
cat >"${CP_STATE_DIR}/ports.env" <<EOF
ETCD_PORT=${ETCD_PORT}
ETCD_PEER_PORT=${ETCD_PEER_PORT}
APISERVER_PORT=${APISERVER_PORT}
KCM_PORT=${KCM_PORT}
SCHEDULER_PORT=${SCHEDULER_PORT}
EOF

# --- certificates --------------------------------------------------------------------------
PKI="${CP_PKI_DIR}"
openssl_quiet() { openssl "$@" >/dev/null 2>&1 || { openssl "$@" >&2; return 1; }; }
gen_ec_key() { openssl_quiet genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
# sign_cert NAME SUBJECT EXTENSIONS...
sign_cert() {
  local name=$1 subj=$2 ext=$3
  gen_ec_key "${PKI}/${name}.key"
  openssl_quiet req -new -key "${PKI}/${name}.key" -subj "${subj}" -out "${PKI}/${name}.csr"
  printf '%b\n' "${ext}" >"${PKI}/${name}.ext"
  openssl_quiet x509 -req -in "${PKI}/${name}.csr" -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" \
    -CAcreateserial -days 3650 -sha256 -extfile "${PKI}/${name}.ext" -out "${PKI}/${name}.crt"
  rm -f "${PKI}/${name}.csr" "${PKI}/${name}.ext"
}
if [ ! -f "${PKI}/admin.crt" ]; then
  cp_log "creating certificates in ${PKI}"
  gen_ec_key "${PKI}/ca.key"
  openssl_quiet req -x509 -new -key "${PKI}/ca.key" -subj "/CN=gaia-test-controlplane-ca" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "${PKI}/ca.crt"
  client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth'
  sign_cert apiserver "/CN=kube-apiserver" \
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  sign_cert admin "/O=system:masters/CN=gaia-test-admin" "${client_ext}"
  sign_cert kube-controller-manager "/CN=system:kube-controller-manager" "${client_ext}"
  sign_cert kube-scheduler "/CN=system:kube-scheduler" "${client_ext}"
  sign_cert kwok "/O=system:masters/CN=kwok" "${client_ext}"
  # Service-account token signing key pair (TokenRequest API, token controller).
  openssl_quiet genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${PKI}/sa.key"
  openssl_quiet pkey -in "${PKI}/sa.key" -pubout -out "${PKI}/sa.pub"
  chmod 600 "${PKI}"/*.key
fi

b64() { base64 <"$1" | tr -d '\n'; }
# write_kubeconfig FILE USER
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gaia-test
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: $(b64 "${PKI}/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "${PKI}/$2.crt")
    client-key-data: $(b64 "${PKI}/$2.key")
contexts:
- name: gaia-test
  context:
    cluster: gaia-test
    user: $2
current-context: gaia-test
EOF
  chmod 600 "$1"
}
write_kubeconfig "${CP_KUBECONFIG}" admin
for u in kube-controller-manager kube-scheduler kwok; do
  write_kubeconfig "${CP_STATE_DIR}/${u}.kubeconfig" "${u}"
done

# --- processes -----------------------------------------------------------------------------
# start NAME ARGS...: runs the binary in the background, detached from this shell and its
# terminal, with its output in logs/NAME.log and its pid in pids/NAME.pid.
start() {
  local name=$1
  shift
  local detach=()
  if command -v setsid >/dev/null 2>&1; then detach=(setsid); fi
  (cd "${CP_STATE_DIR}" && exec 8>&- && exec "${detach[@]}" "${CP_BIN}/${name}" "$@") \
    </dev/null >"${CP_LOG_DIR}/${name}.log" 2>&1 &
  echo $! >"${CP_PID_DIR}/${name}.pid"
}

fail_component() {
  local name=$1 why=$2 fix=$3
  local log="${CP_LOG_DIR}/${name}.log"
  printf '\n[controlplane] ERROR: %s %s.\n' "${name}" "${why}" >&2
  if grep -qE '^[EF][0-9]{4} |level=(error|fatal)|"level":"ERROR"' "${log}" 2>/dev/null; then
    printf '[controlplane] last errors in %s:\n' "${log}" >&2
    grep -E '^[EF][0-9]{4} |level=(error|fatal)|"level":"ERROR"' "${log}" | tail -n 8 | cut -c1-400 >&2
  fi
  printf '[controlplane] last lines of %s:\n' "${log}" >&2
  tail -n 15 "${log}" | cut -c1-400 >&2 || true
  printf '\n[controlplane] fix: %s\n' "${fix}" >&2
  case "${why}" in
    *"not ready after"*)
      printf '[controlplane] on a slow machine, raise GAIA_CONTROLPLANE_TIMEOUT (now %ss).\n' "${READY_TIMEOUT}" >&2
      ;;
  esac
  exit 1
}

# Whatever fails during start-up, stop what was started; keep the logs for inspection.
STARTING=0
stop_on_failure() {
  local rc=$?
  if [ "${rc}" -ne 0 ] && [ "${STARTING}" = 1 ]; then
    printf '[controlplane] start-up failed; stopping what was started (logs kept in %s)\n' "${CP_LOG_DIR}" >&2
    GAIA_CONTROLPLANE_KEEP_LOGS=1 "${CP_SCRIPT_DIR}/down.sh" >&2 || true
  fi
}
trap stop_on_failure EXIT

# wait_for NAME SECONDS FIX CHECK...: polls CHECK until it succeeds, the process dies, or time runs out.
wait_for() {
  local name=$1 timeout=$2 fix=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    cp_pid_alive "${name}" || fail_component "${name}" "exited during start-up" "${fix}"
    [ "${SECONDS}" -lt "${deadline}" ] || fail_component "${name}" "was not ready after ${timeout}s" "${fix}"
    sleep 0.2
  done
}

port_fix() { echo "another process may hold port $1 on 127.0.0.1; run test/controlplane/down.sh and try again"; }

STARTING=1
echo "${CP_VERSIONS}" >"${CP_STATE_DIR}/versions"
# A single-member etcd. Without fsync: the data only has to outlive the test run, not a power cut.
start etcd --name gaia-test --data-dir "${CP_STATE_DIR}/etcd" \
  --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
  --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-cluster "gaia-test=http://127.0.0.1:${ETCD_PEER_PORT}" \
  --unsafe-no-fsync --quota-backend-bytes 4294967296 --log-level warn
wait_for etcd 20 "$(port_fix "${ETCD_PORT}")" port_in_use "${ETCD_PORT}"
cp_log "etcd ${ETCD_VERSION} listening on 127.0.0.1:${ETCD_PORT}"

SA_ISSUER="https://kubernetes.default.svc.cluster.local"
start kube-apiserver \
  --etcd-servers="http://127.0.0.1:${ETCD_PORT}" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="${APISERVER_PORT}" \
  --endpoint-reconciler-type=none \
  --cert-dir="${PKI}" --tls-cert-file="${PKI}/apiserver.crt" --tls-private-key-file="${PKI}/apiserver.key" \
  --client-ca-file="${PKI}/ca.crt" \
  --requestheader-client-ca-file="${PKI}/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --authorization-mode=RBAC \
  --service-cluster-ip-range=10.0.0.0/16 \
  --allow-privileged=true \
  --service-account-issuer="${SA_ISSUER}" \
  --api-audiences="${SA_ISSUER}" \
  --service-account-key-file="${PKI}/sa.pub" \
  --service-account-signing-key-file="${PKI}/sa.key" \
  --profiling=false \
  --v=1
wait_for kube-apiserver "${READY_TIMEOUT}" \
  "see the log above; a port clash ($(port_fix "${APISERVER_PORT}")) or an unreachable store (etcd log) are the usual causes" \
  apiserver_ready
cp_log "kube-apiserver ready on https://127.0.0.1:${APISERVER_PORT}"

start kube-controller-manager \
  --kubeconfig="${CP_STATE_DIR}/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="${CP_STATE_DIR}/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="${CP_STATE_DIR}/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="${KCM_PORT}" \
  --leader-elect=false \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="${PKI}/sa.key" \
  --root-ca-file="${PKI}/ca.crt" \
  --cluster-signing-cert-file="${PKI}/ca.crt" --cluster-signing-key-file="${PKI}/ca.key" \
  --service-cluster-ip-range=10.0.0.0/16 \
  --kube-api-qps=100 --kube-api-burst=200 \
  --profiling=false \
  --v=1
start kube-scheduler \
  --kubeconfig="${CP_STATE_DIR}/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="${CP_STATE_DIR}/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="${CP_STATE_DIR}/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="${SCHEDULER_PORT}" \
  --leader-elect=false \
  --profiling=false \
  --v=1

# --- cluster objects: fake nodes, storage class, volume pool -------------------------------
manifest="${CP_STATE_DIR}/bootstrap.yaml"
{
  cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Retain
volumeBindingMode: Immediate
EOF
  for i in $(seq 1 "${NODE_COUNT}"); do
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-node-${i}
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
    topology.kubernetes.io/zone: zone-${i}
EOF
  done
  for i in $(seq -w 1 "${PV_COUNT}"); do
    cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: gaia-pv-${i}
  labels:
    gaia.test/pool: controlplane
spec:
  storageClassName: standard
  capacity:
    storage: ${PV_SIZE}
  accessModes: [ReadWriteOnce, ReadOnlyMany, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  hostPath:
    path: /tmp/gaia-controlplane-pv/${i}
    type: DirectoryOrCreate
EOF
  done
} >"${manifest}"
kubectl_admin create -f "${manifest}" >/dev/null
# Realistic node sizes (kwok keeps what is set before it first reports the node).
node_status='{"status":{"capacity":{"cpu":"16","memory":"64Gi","pods":"250","ephemeral-storage":"200Gi"},"allocatable":{"cpu":"16","memory":"64Gi","pods":"250","ephemeral-storage":"200Gi"}}}'
for i in $(seq 1 "${NODE_COUNT}"); do
  kubectl_admin patch node "kwok-node-${i}" --subresource=status --type=merge -p "${node_status}" >/dev/null
done

KWOK_WORKDIR="${CP_STATE_DIR}/kwok" start kwok \
  --kubeconfig="${CP_STATE_DIR}/kwok.kubeconfig" \
  --config="${CP_SCRIPT_DIR}/kwok.yaml" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-lease-duration-seconds=40 \
  --cidr=10.244.0.0/16

healthz() { curl -fsk --max-time 2 "https://127.0.0.1:$1/healthz"; }
nodes_ready() {
  local ready
  ready="$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$')"
  [ "${ready}" -ge "${NODE_COUNT}" ]
}
default_sa() { kubectl_admin -n default get serviceaccount default; }
wait_for kube-controller-manager "${READY_TIMEOUT}" "$(port_fix "${KCM_PORT}")" healthz "${KCM_PORT}"
wait_for kube-scheduler "${READY_TIMEOUT}" "$(port_fix "${SCHEDULER_PORT}")" healthz "${SCHEDULER_PORT}"
wait_for kwok "${READY_TIMEOUT}" "check ${CP_SCRIPT_DIR}/kwok.yaml and the kwok log" nodes_ready
wait_for kube-controller-manager "${READY_TIMEOUT}" "the service-account controllers did not run" default_sa
cp_log "controller-manager, scheduler and ${NODE_COUNT} kwok nodes ready"

STARTING=0
print_usage_hint
cp_log "started in $(cp_elapsed)"

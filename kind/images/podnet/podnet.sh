#!/bin/bash
# Gaia's pod network for kind nodes built here, doing what kind's kindnetd does on one L2
# network: every node gets a CNI configuration (ptp + host-local over its own podCIDR), a
# route to every other node's podCIDR via that node's address, and masquerading for traffic
# leaving the pod network. Runs as a DaemonSet on the host network (default-cni.yaml).
set -euo pipefail

: "${NODE_NAME:?NODE_NAME is required (downward API)}"
: "${POD_SUBNET:?POD_SUBNET is required}"
CNI_CONF="${CNI_CONF_DIR:-/etc/cni/net.d}/10-gaia-podnet.conflist"
INTERVAL="${PODNET_INTERVAL_SECONDS:-10}"

# kind injects CONTROL_PLANE_ENDPOINT so the network comes up before kube-proxy serves the
# kubernetes Service; otherwise kubectl's in-cluster configuration applies.
kubectl_args=()
if [ -n "${CONTROL_PLANE_ENDPOINT:-}" ]; then
  sa=/var/run/secrets/kubernetes.io/serviceaccount
  kubectl_args=(--server "https://${CONTROL_PLANE_ENDPOINT}" --certificate-authority "${sa}/ca.crt"
    --token "$(cat "${sa}/token")")
fi

log() { echo "$(date -u +%FT%TZ) $*"; }

write_cni_conf() {
  local cidr=$1 tmp
  tmp="$(mktemp "${CNI_CONF}.XXXXXX")"
  cat >"${tmp}" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "gaia-podnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": ${PODNET_MTU:-1500},
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "ranges": [[{ "subnet": "${cidr}" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  if cmp -s "${tmp}" "${CNI_CONF}"; then
    rm -f "${tmp}"
  else
    mv -f "${tmp}" "${CNI_CONF}"
    log "wrote ${CNI_CONF} for ${cidr}"
  fi
}

# Traffic from pods to anything outside the pod network leaves with the node's address.
ensure_masquerade() {
  local rule=(-s "${POD_SUBNET}" ! -d "${POD_SUBNET}" -m comment --comment "gaia-podnet: leaving the pod network" -j MASQUERADE)
  iptables -t nat -C POSTROUTING "${rule[@]}" 2>/dev/null || iptables -t nat -A POSTROUTING "${rule[@]}"
}

sync_once() {
  local nodes name cidr ip
  nodes="$(kubectl "${kubectl_args[@]}" get nodes -o \
    jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.podCIDR}{" "}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}')" ||
    return 1
  while read -r name cidr ip; do
    [ -n "${cidr:-}" ] || continue
    if [ "${name}" = "${NODE_NAME}" ]; then
      write_cni_conf "${cidr}"
    elif [ -n "${ip:-}" ]; then
      ip route replace "${cidr}" via "${ip}" || log "could not route ${cidr} via ${ip}"
    fi
  done <<<"${nodes}"
  ensure_masquerade
}

log "gaia-podnet on ${NODE_NAME}, pod subnet ${POD_SUBNET}"
trap 'exit 0' TERM INT
while true; do
  sync_once || log "could not list nodes; retrying"
  sleep "${INTERVAL}" &
  wait $!
done

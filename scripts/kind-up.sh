#!/usr/bin/env bash
# Creates the kind cluster for Gaia from kind-config.yaml (one control plane, two workers; the gateway and
# web UI reachable on 127.0.0.1:8666 and :8080), or reuses it when it already runs.
#   KIND_CLUSTER_NAME   cluster name (default gaia)
#   KIND_NODE_IMAGE     node image (default: kind's own; `make kind-node-image` builds one without a registry)
#   GAIA_KIND_CONFIG    another kind configuration (default kind-config.yaml), e.g. with other host ports
# Writes the cluster's kubeconfig to .gaia/kind/kubeconfig-<name>.
set -euo pipefail
STEP_NAME=kind-up
# shellcheck source=scripts/cluster-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster-lib.sh"

need_kind
need_kubectl
use_kind_provider
mkdir -p "$(dirname "${CLUSTER_KUBECONFIG}")"

if cluster_exists; then
  log "cluster ${KIND_CLUSTER_NAME} exists (${CONTAINER_ENGINE}); reusing it"
  kind export kubeconfig --name "${KIND_CLUSTER_NAME}" --kubeconfig "${CLUSTER_KUBECONFIG}" >/dev/null 2>&1
else
  while read -r port; do
    if (: >"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      die "port ${port} on 127.0.0.1 is taken, and ${KIND_CONFIG#"${REPO_ROOT}"/} maps it to the cluster. Stop what listens there (e.g. 'make dev', or another kind cluster: 'kind get clusters'), then run this again."
    fi
  done < <(sed -n 's/^ *hostPort: *\([0-9]*\).*/\1/p' "${KIND_CONFIG}")
  image_args=()
  if [ -n "${KIND_NODE_IMAGE:-}" ]; then image_args=(--image "${KIND_NODE_IMAGE}"); fi
  log "creating cluster ${KIND_CLUSTER_NAME} with ${CONTAINER_ENGINE}${KIND_NODE_IMAGE:+, node image ${KIND_NODE_IMAGE}} (a few minutes) ..."
  if ! kind create cluster --name "${KIND_CLUSTER_NAME}" --config "${KIND_CONFIG}" \
    --kubeconfig "${CLUSTER_KUBECONFIG}" "${image_args[@]}" --wait 5m; then
    die "kind could not create the cluster (output above). 'kind delete cluster --name ${KIND_CLUSTER_NAME}' clears a half-made one; with podman, check 'podman ps -a' and the node's journal ('podman exec ${KIND_CLUSTER_NAME}-control-plane journalctl -u kubelet')."
  fi
fi

log "waiting for every node to be Ready ..."
k wait --for=condition=Ready nodes --all --timeout=300s >/dev/null ||
  die "not every node became Ready: 'KUBECONFIG=${CLUSTER_KUBECONFIG} kubectl describe nodes' tells why"
k get nodes -o wide >&2
log "cluster ${KIND_CLUSTER_NAME} is up. Use it with: export KUBECONFIG=${CLUSTER_KUBECONFIG}"
next "make images kind-load deploy   (build Gaia's images, load them into the nodes, install the operator and a platform)"

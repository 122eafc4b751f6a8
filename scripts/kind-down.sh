#!/usr/bin/env bash
# Deletes the kind cluster (every node container and its data) and its kubeconfig.
set -euo pipefail
STEP_NAME=kind-down
# shellcheck source=scripts/cluster-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster-lib.sh"

need_kind
use_kind_provider
if cluster_exists; then
  log "deleting cluster ${KIND_CLUSTER_NAME} ..."
  kind delete cluster --name "${KIND_CLUSTER_NAME}" --kubeconfig "${CLUSTER_KUBECONFIG}"
else
  log "no cluster ${KIND_CLUSTER_NAME}; nothing to delete"
fi
rm -f "${CLUSTER_KUBECONFIG}"
next "make kind-up creates it again"

#!/usr/bin/env bash
# Installs Linkerd into the kind cluster with its Helm charts (the edge channel's linkerd-crds, then
# linkerd-control-plane), using the trust anchor and issuer that mesh/certs.sh makes, and waits until the
# control plane is ready. Afterwards `make deploy` turns the mesh on for the GaiaPlatform (policy strict: see
# mesh/POLICY.md).
#   LINKERD_CHART_VERSION   chart version of both charts (default below)
#   LINKERD_HELM_REPO       chart repository (default https://helm.linkerd.io/edge)
#   LINKERD_CHART_DIR       a folder holding linkerd-crds-<version>.tgz and linkerd-control-plane-<version>.tgz,
#                           for machines that cannot reach the repository (`helm pull` them elsewhere)
# Linkerd's images come from cr.l5d.io: the cluster's nodes must be able to pull them.
set -euo pipefail
STEP_NAME=mesh
# shellcheck source=scripts/cluster-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../scripts" && pwd)/cluster-lib.sh"

LINKERD_CHART_VERSION="${LINKERD_CHART_VERSION:-2026.9.1}"
LINKERD_HELM_REPO="${LINKERD_HELM_REPO:-https://helm.linkerd.io/edge}"
CERTS_DIR="${GAIA_MESH_CERTS_DIR:-${REPO_ROOT}/.gaia/mesh}"
MESH_DIR="${REPO_ROOT}/mesh"

need_helm
need_cluster

# chart_ref NAME: the chart from LINKERD_CHART_DIR when given, else from the repository.
chart_ref() {
  if [ -n "${LINKERD_CHART_DIR:-}" ]; then
    local archive="${LINKERD_CHART_DIR}/$1-${LINKERD_CHART_VERSION}.tgz"
    [ -f "${archive}" ] || die "${archive} is missing (helm pull $1 --repo ${LINKERD_HELM_REPO} --version ${LINKERD_CHART_VERSION})"
    CHART_ARGS=("${archive}")
  else
    CHART_ARGS=("$1" --repo "${LINKERD_HELM_REPO}" --version "${LINKERD_CHART_VERSION}")
  fi
}

"${MESH_DIR}/certs.sh" "${CERTS_DIR}"

# Linkerd's policy builds on the Gateway API's CRDs; let its chart install them unless the cluster has them.
install_gateway_api=true
if k get crd httproutes.gateway.networking.k8s.io >/dev/null 2>&1; then install_gateway_api=false; fi

log "installing linkerd-crds ${LINKERD_CHART_VERSION} (installGatewayAPI=${install_gateway_api}) ..."
chart_ref linkerd-crds
h upgrade --install linkerd-crds "${CHART_ARGS[@]}" --namespace linkerd --create-namespace \
  --set installGatewayAPI="${install_gateway_api}" --wait --timeout 5m >/dev/null ||
  die "installing linkerd-crds failed (output above). Without access to ${LINKERD_HELM_REPO}, set LINKERD_CHART_DIR to a folder with the chart archives."

log "installing linkerd-control-plane ${LINKERD_CHART_VERSION} (identity from ${CERTS_DIR}) ..."
chart_ref linkerd-control-plane
if ! h upgrade --install linkerd-control-plane "${CHART_ARGS[@]}" --namespace linkerd \
  --values "${MESH_DIR}/values.yaml" \
  --set-file identityTrustAnchorsPEM="${CERTS_DIR}/ca.crt" \
  --set-file identity.issuer.tls.crtPEM="${CERTS_DIR}/issuer.crt" \
  --set-file identity.issuer.tls.keyPEM="${CERTS_DIR}/issuer.key" \
  --wait --timeout 10m >/dev/null; then
  k -n linkerd get pods -o wide >&2 || true
  die "Linkerd's control plane did not become ready (pods above). ImagePullBackOff means the nodes cannot pull from cr.l5d.io; 'kubectl -n linkerd describe pods' says more."
fi
for deployment in linkerd-identity linkerd-destination linkerd-proxy-injector; do
  k -n linkerd rollout status "deployment/${deployment}" --timeout=300s >/dev/null ||
    die "deployment ${deployment} in namespace linkerd is not ready"
done
log "Linkerd ${LINKERD_CHART_VERSION} runs in namespace linkerd"
next "make deploy   (re-applies the platform with spec.mesh.linkerd.enabled: true, policy strict), then make e2e-kind"

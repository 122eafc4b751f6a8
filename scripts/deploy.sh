#!/usr/bin/env bash
# Installs Gaia into the kind cluster and waits until it is Ready:
#   1. the operator, with its Helm chart (charts/gaia-operator), into namespace gaia-system;
#   2. examples/gaiaplatform.yaml into namespace games, adjusted for kind: the locally built image, the gateway
#      and web UI on the NodePorts kind-config.yaml maps to the host, datastore versions whose images the
#      local kind node image carries, and the Linkerd mesh when Linkerd runs in the cluster (make mesh);
#   3. waits for the platform's Ready condition, showing its progress.
# Run again after `make images kind-load` to roll out new images (change GAIA_IMAGE_TAG for a new tag).
#   GAIA_MESH=auto|true|false        mesh on when Linkerd runs (auto, the default), always, never
#   GAIA_POSTGRES_VERSION (15), GAIA_NATS_VERSION (2.9), GAIA_DEPLOY_TIMEOUT (900 seconds)
set -euo pipefail
STEP_NAME=deploy
# shellcheck source=scripts/cluster-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster-lib.sh"

need_helm
need_cluster
[ -f "${PLATFORM_MANIFEST}" ] || die "no platform manifest at ${PLATFORM_MANIFEST}"
TIMEOUT="${GAIA_DEPLOY_TIMEOUT:-900}"

case "${GAIA_MESH:-auto}" in
  auto) if linkerd_ready; then mesh=true; else mesh=false; fi ;;
  true)
    linkerd_ready || die "GAIA_MESH=true, but Linkerd does not run in the cluster: run 'make mesh' first"
    mesh=true
    ;;
  false) mesh=false ;;
  *) die "GAIA_MESH must be auto, true or false (got '${GAIA_MESH}')" ;;
esac

# --- 1. the operator ---------------------------------------------------------------------------------------
# Helm installs a chart's CRDs only on first install; applying them first keeps them current on upgrades.
log "applying the GaiaPlatform CRD (server-side) ..."
k apply --server-side --force-conflicts -f "${REPO_ROOT}/charts/gaia-operator/crds/" >/dev/null
# Polled rather than `kubectl wait`: right after the apply the CRD may have no conditions yet, which
# `kubectl wait` reports as an error instead of waiting.
for _ in $(seq 1 60); do
  established="$(k get crd gaiaplatforms.gaia.dev -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null || true)"
  [ "${established}" = True ] && break
  sleep 1
done
[ "${established}" = True ] || die "the GaiaPlatform CRD did not become Established within 60 s: 'kubectl describe crd gaiaplatforms.gaia.dev'"
log "installing the operator (helm release ${OPERATOR_RELEASE} in ${OPERATOR_NAMESPACE}, image ${OPERATOR_IMAGE}) ..."
if ! h upgrade --install "${OPERATOR_RELEASE}" "${REPO_ROOT}/charts/gaia-operator" \
  --namespace "${OPERATOR_NAMESPACE}" --create-namespace \
  --set image.repository="${IMAGE_REPOSITORY}/gaia-operator" --set image.tag="${IMAGE_TAG}" \
  --set image.pullPolicy=IfNotPresent \
  --wait --timeout 5m >/dev/null; then
  k -n "${OPERATOR_NAMESPACE}" get pods -o wide >&2 || true
  die "the operator did not become ready. 'kubectl -n ${OPERATOR_NAMESPACE} describe pods' and 'kubectl -n ${OPERATOR_NAMESPACE} logs deploy/${OPERATOR_RELEASE}' tell why (ErrImageNeverPull / ImagePullBackOff: run 'make kind-load')."
fi
log "operator ready"

# --- 2. the platform ---------------------------------------------------------------------------------------
name="$(k patch --local -f "${PLATFORM_MANIFEST}" --type merge -p '{}' -o jsonpath='{.metadata.name}')"
# A service this source tree does not contain yet (no services/<name>/src/main.ts) would crash-loop in the
# image: it runs with zero replicas, and the gateway reports it unreachable in /health.
absent=""
services_patch=""
for service in gateway auth asset chat kb web; do
  if [ ! -f "${REPO_ROOT}/services/${service}/src/main.ts" ]; then
    absent+=" ${service}"
    services_patch+="${services_patch:+,}\"${service}\":{\"replicas\":0,\"autoscaling\":{\"enabled\":false}}"
  fi
done
if [ -n "${absent}" ]; then log "not in this build, so at 0 replicas:${absent}"; fi
patch="$(printf '{"spec":{"image":{"repository":"%s","tag":"%s","pullPolicy":"IfNotPresent"},"services":{%s},"exposure":{"gateway":{"serviceType":"NodePort"},"web":{"serviceType":"NodePort"}},"postgres":{"managed":{"version":"%s"}},"nats":{"managed":{"version":"%s"}},"mesh":{"linkerd":{"enabled":%s,"policy":"strict"}}}}' \
  "${IMAGE_REPOSITORY}/gaia" "${IMAGE_TAG}" "${services_patch}" "${GAIA_POSTGRES_VERSION:-15}" "${GAIA_NATS_VERSION:-2.9}" "${mesh}")"
k create namespace "${PLATFORM_NAMESPACE}" --dry-run=client -o yaml | k apply -f - >/dev/null
log "applying GaiaPlatform ${PLATFORM_NAMESPACE}/${name} from ${PLATFORM_MANIFEST#"${REPO_ROOT}"/} (image ${PLATFORM_IMAGE}, mesh ${mesh}) ..."
k patch --local -f "${PLATFORM_MANIFEST}" --type merge -p "${patch}" -o yaml |
  k apply --namespace "${PLATFORM_NAMESPACE}" -f - >/dev/null

# --- 3. wait for Ready ------------------------------------------------------------------------------------
# The Services' node ports are chosen by the API server; pin them to the ones kind maps to the host. The
# operator's server-side apply leaves nodePort alone, so this holds across reconciles.
pin_node_port() {
  local service=$1 port=$2 current
  current="$(k -n "${PLATFORM_NAMESPACE}" get service "${service}" -o jsonpath='{.spec.ports[0].nodePort}' 2>/dev/null || true)"
  [ -n "${current}" ] && [ "${current}" != "${port}" ] || return 0
  k -n "${PLATFORM_NAMESPACE}" patch service "${service}" --type=json \
    -p "[{\"op\":\"replace\",\"path\":\"/spec/ports/0/nodePort\",\"value\":${port}}]" >/dev/null &&
    log "service ${service}: nodePort ${port}"
}

# The go-template's $n and $c are its own variables, not the shell's.
# shellcheck disable=SC2016
status_line() {
  k -n "${PLATFORM_NAMESPACE}" get gaiaplatform "${name}" -o go-template='{{range .status.conditions}}{{.type}}={{.status}} {{end}}| {{range $n, $c := .status.components}}{{$n}} {{$c.ready}}/{{$c.desired}}  {{end}}{{with .status.conditions}}{{range .}}{{if and (eq .type "Ready") (ne .status "True")}}| {{.message}}{{end}}{{end}}{{end}}' 2>/dev/null || echo "(no status yet)"
}

log "waiting up to ${TIMEOUT}s for ${name} to be Ready (the first start pulls nothing, but initializes the database) ..."
deadline=$((SECONDS + TIMEOUT))
last=""
until [ "$(k -n "${PLATFORM_NAMESPACE}" get gaiaplatform "${name}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = "True" ]; do
  pin_node_port "${name}-gateway" "${GATEWAY_NODE_PORT}"
  pin_node_port "${name}-web" "${WEB_NODE_PORT}"
  line="$(status_line)"
  if [ "${line}" != "${last}" ]; then
    log "${line}"
    last="${line}"
  fi
  if [ "${SECONDS}" -ge "${deadline}" ]; then
    k -n "${PLATFORM_NAMESPACE}" get pods -o wide >&2 || true
    k -n "${PLATFORM_NAMESPACE}" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 20 >&2 || true
    die "${name} was not Ready after ${TIMEOUT}s (pods and recent events above). 'kubectl -n ${PLATFORM_NAMESPACE} describe gaia ${name}' shows its conditions; 'kubectl -n ${OPERATOR_NAMESPACE} logs deploy/${OPERATOR_RELEASE}' the operator's view."
  fi
  sleep 5
done
pin_node_port "${name}-gateway" "${GATEWAY_NODE_PORT}"
pin_node_port "${name}-web" "${WEB_NODE_PORT}"
k -n "${PLATFORM_NAMESPACE}" get gaiaplatform "${name}" >&2
log "Gaia is Ready: gateway ${GATEWAY_URL} (try: curl ${GATEWAY_URL}/health)"
next "make e2e-kind   (health, an API key, a streamed chat reply through the port mapping$([ "${mesh}" = true ] && echo ', the mesh policy'))"

#!/usr/bin/env bash
# Loads Gaia's platform and operator images (built by `make images`) into every node of the kind cluster,
# so that pods start without a registry.
set -euo pipefail
STEP_NAME=kind-load
# shellcheck source=scripts/cluster-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster-lib.sh"

need_kind
use_kind_provider
cluster_exists || die "no kind cluster ${KIND_CLUSTER_NAME}: run 'make kind-up' first"

work="$(mktemp -d "${TMPDIR:-/tmp}/gaia-kind-load.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

for image in "${PLATFORM_IMAGE}" "${OPERATOR_IMAGE}"; do
  if [ "${CONTAINER_ENGINE}" = docker ]; then
    docker image inspect "${image}" >/dev/null 2>&1 || die "${image} is not built: run 'make images' first"
    log "loading ${image} (docker) ..."
    kind load docker-image "${image}" --name "${KIND_CLUSTER_NAME}" >/dev/null ||
      die "kind could not load ${image} (output above)"
  else
    podman image exists "${image}" || die "${image} is not built: run 'make images' first"
    # `kind load docker-image` runs the Docker CLI; with podman, an image archive takes the same path.
    log "loading ${image} (podman save | kind load image-archive) ..."
    podman save -q --format docker-archive -o "${work}/image.tar" "${image}"
    kind load image-archive "${work}/image.tar" --name "${KIND_CLUSTER_NAME}" >/dev/null ||
      die "kind could not load ${image} (output above)"
    rm -f "${work}/image.tar"
  fi
done
log "loaded ${PLATFORM_IMAGE} and ${OPERATOR_IMAGE} into cluster ${KIND_CLUSTER_NAME}"
next "make deploy   (install the operator with Helm and apply examples/gaiaplatform.yaml)"

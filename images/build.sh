#!/usr/bin/env bash
# Builds Gaia's two images with Docker or podman:
#   localhost/gaia/gaia:<version>            the platform: all six services (`gaia serve NAME`), `gaia db migrate`
#   localhost/gaia/gaia-operator:<version>   the operator
#
#   images/build.sh [all|platform|operator]
#
# Settings (environment): GAIA_CONTAINER_ENGINE=docker|podman (default: a running Docker, else podman),
# GAIA_IMAGE_REPOSITORY (localhost/gaia), GAIA_IMAGE_TAG (the version in package.json),
# GAIA_BUILD_CA_FILE (a CA bundle the build's npm must trust, e.g. behind a TLS-intercepting proxy; default:
# NODE_EXTRA_CA_CERTS or npm's cafile, when set).
# With podman and no registry, the base images are made locally first (images/base.sh), and made again when
# images/base.sh's recipe changed (NODE_BASE_STAMP in images/lib.sh).
set -euo pipefail

# shellcheck source=images/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

what="${1:-all}"
case "${what}" in
  all | platform | operator) ;;
  *) images_die "usage: images/build.sh [all|platform|operator]" ;;
esac

select_engine
images_log "engine: ${ENGINE_CMD[*]}"

build_args=()
if [ "${ENGINE}" = podman ]; then
  # podman would otherwise look for newer base images on every build.
  build_args+=(--pull=never)
  if ! image_exists "${NODE_BASE}"; then
    images_log "${NODE_BASE} is not present; trying to pull it"
    if ! "${ENGINE_CMD[@]}" pull "${NODE_BASE}" >/dev/null 2>&1; then
      images_log "no registry reachable: building the base images locally (images/base.sh)"
      "${IMAGES_DIR}/base.sh"
    fi
  fi
fi
# A Node base made here by an older images/base.sh (without NODE_BASE_PACKAGES, say) is made again. Where that
# cannot be done (no root, no debootstrap), the build goes on: the Dockerfile installs what the base lacks.
if image_exists "${NODE_BASE}" && node_base_is_local && ! node_base_current; then
  images_log "${NODE_BASE} was made here by an older recipe (${NODE_BASE_LABEL}=$(image_label "${NODE_BASE}" "${NODE_BASE_LABEL}"), now ${NODE_BASE_STAMP}): images/base.sh makes it again"
  if ! "${IMAGES_DIR}/base.sh"; then
    images_log "WARNING: images/base.sh could not make ${NODE_BASE} again (above); the Dockerfile installs ${NODE_BASE_PACKAGES} with apt-get instead"
  fi
fi

ca_file="${GAIA_BUILD_CA_FILE:-${NODE_EXTRA_CA_CERTS:-}}"
if [ -z "${ca_file}" ] && command -v npm >/dev/null 2>&1; then
  ca_file="$(npm config get cafile 2>/dev/null || true)"
fi
case "${ca_file}" in null | undefined) ca_file="" ;; esac
if [ -n "${ca_file}" ] && [ -f "${ca_file}" ]; then
  images_log "the build's npm trusts the CA bundle ${ca_file} (build secret, not stored in the image)"
  build_args+=(--secret "id=ca-certificates,src=${ca_file}")
fi

# build NAME DOCKERFILE IMAGE
build() {
  local name=$1 dockerfile=$2 image=$3 started=${SECONDS}
  images_log "building ${image} from ${dockerfile} ..."
  if ! "${ENGINE_CMD[@]}" build "${build_args[@]}" -f "${REPO_ROOT}/${dockerfile}" -t "${image}" "${REPO_ROOT}"; then
    images_die "building the ${name} image failed (output above)"
  fi
  images_log "built ${image} in $((SECONDS - started))s"
}

if [ "${what}" = all ] || [ "${what}" = platform ]; then build platform Dockerfile "${PLATFORM_IMAGE}"; fi
if [ "${what}" = all ] || [ "${what}" = operator ]; then build operator Dockerfile.operator "${OPERATOR_IMAGE}"; fi

# A writable data directory for uid 10001: podman hands a tmpfs to the container's user with :U.
if [ "${ENGINE}" = podman ]; then data_tmpfs="/var/lib/gaia:rw,U"; else data_tmpfs="/var/lib/gaia:uid=10001,gid=10001"; fi
images_log "done. Try: ${ENGINE_CMD[*]} run --rm --network=host --read-only --tmpfs ${data_tmpfs} ${PLATFORM_IMAGE} gaia serve gateway"
images_log "next: make kind-up kind-load deploy (see charts/gaia-operator/README.md)"

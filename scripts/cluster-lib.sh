# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# Shared settings of the cluster scripts (kind-up, kind-load, deploy, e2e-kind, kind-down, mesh/install.sh).
# Sourced, not executed. Every setting can be overridden from the environment.

CLUSTER_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${CLUSTER_SCRIPTS_DIR}/.." && pwd)"

KIND_CLUSTER_NAME="${KIND_CLUSTER_NAME:-gaia}"
# The cluster's kubeconfig is kept apart from ~/.kube/config: export KUBECONFIG=<this> to use it.
CLUSTER_KUBECONFIG="${GAIA_KIND_KUBECONFIG:-${REPO_ROOT}/.gaia/kind/kubeconfig-${KIND_CLUSTER_NAME}}"
OPERATOR_NAMESPACE="${GAIA_OPERATOR_NAMESPACE:-gaia-system}"
OPERATOR_RELEASE="${GAIA_OPERATOR_RELEASE:-gaia-operator}"
PLATFORM_NAMESPACE="${GAIA_NAMESPACE:-games}"
PLATFORM_MANIFEST="${GAIA_PLATFORM_MANIFEST:-${REPO_ROOT}/examples/gaiaplatform.yaml}"
KIND_CONFIG="${GAIA_KIND_CONFIG:-${REPO_ROOT}/kind-config.yaml}"
# What kind-config.yaml maps to the host.
GATEWAY_NODE_PORT=30666
WEB_NODE_PORT=30080
GATEWAY_URL="${GAIA_GATEWAY_URL:-http://127.0.0.1:8666}"

# The images `make images` builds (images/lib.sh names them the same way).
IMAGE_REPOSITORY="${GAIA_IMAGE_REPOSITORY:-localhost/gaia}"
IMAGE_TAG="${GAIA_IMAGE_TAG:-$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "${REPO_ROOT}/package.json" | head -n1)}"
PLATFORM_IMAGE="${IMAGE_REPOSITORY}/gaia:${IMAGE_TAG}"
OPERATOR_IMAGE="${IMAGE_REPOSITORY}/gaia-operator:${IMAGE_TAG}"

# kind, kubectl and helm: `make kind-cli` links them into .gaia/kind/bin; the test control plane has kubectl
# and helm too.
PATH="${REPO_ROOT}/.gaia/kind/bin:${PATH}:${REPO_ROOT}/.gaia/controlplane/bin:${REPO_ROOT}/node_modules/.bin"
export PATH

STEP_NAME="${STEP_NAME:-cluster}"
log() { printf '[%s %4ss] %s\n' "${STEP_NAME}" "${SECONDS}" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "${STEP_NAME}" "$*" >&2
  exit 1
}
next() { printf '[%s] next: %s\n' "${STEP_NAME}" "$*" >&2; }

need() {
  local tool=$1 hint=$2
  command -v "${tool}" >/dev/null 2>&1 || die "${tool} is not installed. ${hint}"
}
need_kind() { need kind "Run 'make kind-cli' (builds kind into .gaia/kind/bin, with kubectl and helm)."; }
need_kubectl() { need kubectl "Run 'make kind-cli' (or install kubectl)."; }
need_helm() { need helm "Run 'make kind-cli' (or install helm 3)."; }

# kind talks to Docker by default; where no Docker engine answers and podman is installed, it uses podman with
# the settings this project's podman needs.
use_kind_provider() {
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    CONTAINER_ENGINE=docker
    return
  fi
  command -v podman >/dev/null 2>&1 || die "kind needs Docker or podman: install one (Debian: apt-get install -y podman runc)"
  CONTAINER_ENGINE=podman
  export KIND_EXPERIMENTAL_PROVIDER="${KIND_EXPERIMENTAL_PROVIDER:-podman}"
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    if [ -f "${REPO_ROOT}/kind/containers.conf" ]; then
      export CONTAINERS_CONF="${REPO_ROOT}/kind/containers.conf"
    else
      export CONTAINERS_CONF="${REPO_ROOT}/images/containers.conf"
    fi
  fi
}

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "${KIND_CLUSTER_NAME}"; }

# kubectl and helm against the kind cluster only.
need_cluster() {
  need_kubectl
  [ -f "${CLUSTER_KUBECONFIG}" ] || die "no kubeconfig at ${CLUSTER_KUBECONFIG}: create the cluster with 'make kind-up' first"
  kubectl --kubeconfig "${CLUSTER_KUBECONFIG}" get --raw=/readyz >/dev/null 2>&1 ||
    die "the cluster ${KIND_CLUSTER_NAME} does not answer (kubeconfig ${CLUSTER_KUBECONFIG}). Is it running? 'make kind-up' starts it."
}
k() { kubectl --kubeconfig "${CLUSTER_KUBECONFIG}" "$@"; }
h() { helm --kubeconfig "${CLUSTER_KUBECONFIG}" "$@"; }

# Whether Linkerd's control plane runs in the cluster (its identity Deployment is available).
linkerd_ready() {
  [ "$(k -n linkerd get deployment linkerd-identity -o jsonpath='{.status.availableReplicas}' 2>/dev/null)" -ge 1 ] 2>/dev/null
}

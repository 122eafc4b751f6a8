# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# Shared settings for the control-plane scripts (sourced, not executed).

CP_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CP_REPO_ROOT="$(cd "${CP_SCRIPT_DIR}/../.." && pwd)"

# Pinned versions. Override with the environment if you know what you are doing.
K8S_VERSION="${GAIA_K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${GAIA_ETCD_VERSION:-v3.6.5}"
KWOK_VERSION="${GAIA_KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${GAIA_HELM_VERSION:-v3.19.5}"
# Oldest Go known to build every pinned module.
GO_MIN_VERSION="1.26.5"

CP_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok helm)

CP_CACHE_ROOT="${GAIA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gaia}/controlplane"
CP_CACHE_DIR="${CP_CACHE_ROOT}/${K8S_VERSION}-etcd${ETCD_VERSION}-kwok${KWOK_VERSION}-helm${HELM_VERSION}"
CP_CACHE_BIN="${CP_CACHE_DIR}/bin"

CP_STATE_DIR="${GAIA_CONTROLPLANE_DIR:-${CP_REPO_ROOT}/.gaia/controlplane}"
CP_BIN="${CP_STATE_DIR}/bin"
CP_LOG_DIR="${CP_STATE_DIR}/logs"
CP_PID_DIR="${CP_STATE_DIR}/pids"
CP_PKI_DIR="${CP_STATE_DIR}/pki"
CP_KUBECONFIG="${CP_STATE_DIR}/kubeconfig"

CP_START_SECONDS="${SECONDS}"

cp_elapsed() { echo "$((SECONDS - CP_START_SECONDS))s"; }
cp_log() { printf '[controlplane %6s] %s\n' "$(cp_elapsed)" "$*" >&2; }
cp_die() {
  printf '[controlplane] ERROR: %s\n' "$*" >&2
  exit 1
}

# The -ldflags that stamp Kubernetes binaries with K8S_VERSION (without them they report v0.0.0, and Helm
# charts with a kubeVersion constraint refuse the cluster). Shared by every script that builds from k8s.io.
k8s_version_ldflags() {
  local major minor date flags="-s -w"
  read -r major minor < <(k8s_major_minor)
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    flags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${date}"
  done
  echo "${flags}"
}

# "MAJOR MINOR" of K8S_VERSION.
k8s_major_minor() {
  local ver="${K8S_VERSION#v}" minor
  minor="${ver#*.}"
  echo "${ver%%.*} ${minor%%.*}"
}

# The -ldflags of helm: its version, and the Kubernetes version it assumes without a cluster (`helm template`,
# `helm lint`), set the way helm's own Makefile sets them. Unset, helm assumes v1.20 and refuses charts whose
# kubeVersion asks for more.
helm_ldflags() {
  local major minor pkg flags="-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
  read -r major minor < <(k8s_major_minor)
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    flags+=" -X ${pkg}.k8sVersionMajor=${major} -X ${pkg}.k8sVersionMinor=${minor}"
  done
  echo "${flags}"
}

# Builds etcd ${ETCD_VERSION} into the file $1, using $2 as its wrapper module's directory (kept: its go.sum).
# etcd's server module replaces its sibling modules with ../ paths, so it builds only inside a wrapper module that
# pins them to the same release. Needs GO_BIN and GO_BUILD_P; on failure, prints the log's tail and returns 1.
build_etcd() {
  local out=$1 dir=$2
  if [ ! -f "${dir}/go.sum" ]; then
    rm -rf "${dir}"
    mkdir -p "${dir}"
    {
      echo "module gaia.build/etcd"
      echo
      echo "go 1.24"
      echo
      echo "require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}"
      echo
      echo "replace ("
      for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
        echo "	go.etcd.io/etcd/${m} => go.etcd.io/etcd/${m} ${ETCD_VERSION}"
      done
      echo ")"
    } >"${dir}/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >"${dir}/tools.go"
    if ! (cd "${dir}" && "${GO_BIN}" mod tidy) >"${dir}.tidy.log" 2>&1; then
      rm -f "${dir}/go.sum"
      tail -n 20 "${dir}.tidy.log" >&2
      return 1
    fi
  fi
  (cd "${dir}" && "${GO_BIN}" build -p "${GO_BUILD_P}" -trimpath -ldflags "-s -w" \
    -o "${out}.tmp" go.etcd.io/etcd/server/v3) || return 1
  mv -f "${out}.tmp" "${out}"
}

# Succeeds when version $1 >= version $2 (dotted numbers).
cp_version_ge() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -t. -k1,1n -k2,2n -k3,3n | head -n1)" = "$2" ]
}

# Finds a Go toolchain, or explains what to install.
cp_find_go() {
  local go_bin="${GO:-}"
  if [ -z "${go_bin}" ]; then
    if command -v go >/dev/null 2>&1; then
      go_bin="$(command -v go)"
    elif [ -x /usr/local/go/bin/go ]; then
      go_bin=/usr/local/go/bin/go
    fi
  fi
  if [ -z "${go_bin}" ] || ! [ -x "${go_bin}" ]; then
    cp_die "Go ${GO_MIN_VERSION} or newer is needed to build the test control plane (kube-apiserver, etcd, kwok ...). Install it from https://go.dev/dl/ (or your package manager), put 'go' on PATH (or set GO=/path/to/go), then run 'make controlplane'."
  fi
  local have
  have="$("${go_bin}" env GOVERSION 2>/dev/null | sed -e 's/^go//' -e 's/[^0-9.].*$//')"
  if ! cp_version_ge "${have}" "${GO_MIN_VERSION}"; then
    cp_die "Go ${have:-unknown} at ${go_bin} is too old: ${GO_MIN_VERSION} or newer is needed (the pinned modules require it). Install a newer Go from https://go.dev/dl/ and run 'make controlplane' again."
  fi
  GO_BIN="${go_bin}"
}

cp_pid_alive() {
  local f="${CP_PID_DIR}/$1.pid"
  [ -f "${f}" ] && kill -0 "$(cat "${f}")" 2>/dev/null
}

# Serializes up.sh and down.sh (e.g. two test runs starting at once). The lock lives next to the
# state directory, on file descriptor 8; processes started under it must close that descriptor.
cp_lock() {
  [ "${CP_LOCK_HELD:-0}" = 1 ] && return 0
  command -v flock >/dev/null 2>&1 || return 0
  mkdir -p "$(dirname "${CP_STATE_DIR}")"
  exec 8>"${CP_STATE_DIR}.lock"
  if ! flock -n 8; then
    cp_log "waiting for another up.sh/down.sh (lock ${CP_STATE_DIR}.lock) ..."
    flock -w 900 8 || cp_die "timed out waiting for the lock ${CP_STATE_DIR}.lock"
  fi
  export CP_LOCK_HELD=1
}

#!/usr/bin/env bash
# Builds the binaries of the test control plane from Go modules, once per version set:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes),
#   etcd, kwok (fake kubelets) and helm.
# Binaries are cached in ${GAIA_CACHE_DIR:-~/.cache/gaia}/controlplane/<versions>/bin and
# linked into .gaia/controlplane/bin. A second run builds nothing.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

link_bin() {
  mkdir -p "${CP_BIN}"
  local b
  for b in "${CP_BINARIES[@]}"; do
    ln -sfn "${CP_CACHE_BIN}/${b}" "${CP_BIN}/${b}"
  done
}

# The tools built with `go install` record their recipe (module, version, -ldflags) beside the binary: a changed
# recipe rebuilds that tool alone, in the same cache directory, and leaves the Kubernetes binaries be.
KWOK_RECIPE="sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
HELM_RECIPE="helm.sh/helm/v3/cmd/helm@${HELM_VERSION} $(helm_ldflags)"

recipe_current() {
  [ "$(cat "${CP_CACHE_BIN}/.$1.recipe" 2>/dev/null)" = "$2" ]
}

all_built() {
  local b
  for b in "${CP_BINARIES[@]}"; do
    [ -x "${CP_CACHE_BIN}/${b}" ] || return 1
  done
  recipe_current kwok "${KWOK_RECIPE}" && recipe_current helm "${HELM_RECIPE}"
}

if all_built; then
  link_bin
  cp_log "binaries cached in ${CP_CACHE_BIN} (nothing to build)"
  exit 0
fi

cp_find_go
mkdir -p "${CP_CACHE_BIN}"

# One build at a time per cache directory (CI jobs on one machine share the cache).
if command -v flock >/dev/null 2>&1; then
  exec 9>"${CP_CACHE_DIR}/.build.lock"
  if ! flock -n 9; then
    cp_log "another build holds ${CP_CACHE_DIR}/.build.lock; waiting ..."
    flock 9
  fi
  if all_built; then
    link_bin
    cp_log "binaries built by a concurrent run"
    exit 0
  fi
fi

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
# A machine with 2 cores has 2 compile jobs by default; allow overriding.
GO_BUILD_P="${GAIA_GO_BUILD_P:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"

k8s_ver="${K8S_VERSION#v}"
staging_ver="v0.${k8s_ver#*.}"
k8s_ldflags="$(k8s_version_ldflags)"

total=8
step() { cp_log "[$1/${total}] $2"; }

# Step 1: a wrapper module. k8s.io/kubernetes replaces its staging modules (k8s.io/api, ...)
# with ./staging/src paths, which only work inside its own repository; the wrapper replaces
# every one of them with the published v0.X.Y module instead.
mod_dir="${CP_CACHE_DIR}/k8s-module"
step 1 "preparing the k8s.io/kubernetes ${K8S_VERSION} wrapper module in ${mod_dir}"
if [ ! -f "${mod_dir}/go.sum" ]; then
  rm -rf "${mod_dir}"
  mkdir -p "${mod_dir}"
  k8s_gomod="$(cd "${mod_dir}" && "${GO_BIN}" mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "${k8s_gomod}" ] || cp_die "could not download k8s.io/kubernetes@${K8S_VERSION} (is the Go module proxy reachable? GOPROXY=$("${GO_BIN}" env GOPROXY))"
  mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/.*#\1#p' "${k8s_gomod}")
  [ "${#staging[@]}" -gt 10 ] || cp_die "found no staging replace directives in ${k8s_gomod}"
  {
    echo "module gaia.test/controlplane-build"
    echo
    echo "go $(sed -n 's/^go \(.*\)$/\1/p' "${k8s_gomod}")"
    echo
    echo "require k8s.io/kubernetes ${K8S_VERSION}"
    echo
    echo "replace ("
    for m in "${staging[@]}"; do
      echo "	${m} => ${m} ${staging_ver}"
    done
    echo ")"
  } >"${mod_dir}/go.mod"
  cat >"${mod_dir}/tools.go" <<'GO'
//go:build tools

// Package tools pins the commands built from k8s.io/kubernetes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  if ! (cd "${mod_dir}" && "${GO_BIN}" mod tidy) >"${CP_CACHE_DIR}/go-mod-tidy.log" 2>&1; then
    rm -f "${mod_dir}/go.sum"
    tail -n 30 "${CP_CACHE_DIR}/go-mod-tidy.log" >&2
    cp_die "go mod tidy failed in ${mod_dir} (log: ${CP_CACHE_DIR}/go-mod-tidy.log); is the Go module proxy reachable (GOPROXY=$("${GO_BIN}" env GOPROXY))?"
  fi
fi

n=1
build_k8s() {
  local name=$1
  n=$((n + 1))
  if [ -x "${CP_CACHE_BIN}/${name}" ]; then
    step "${n}" "${name} already built"
    return
  fi
  local t0=${SECONDS}
  step "${n}" "building ${name} ${K8S_VERSION} ..."
  (cd "${mod_dir}" && "${GO_BIN}" build -p "${GO_BUILD_P}" -trimpath -ldflags "${k8s_ldflags}" \
    -o "${CP_CACHE_BIN}/.${name}.tmp" "k8s.io/kubernetes/cmd/${name}")
  mv -f "${CP_CACHE_BIN}/.${name}.tmp" "${CP_CACHE_BIN}/${name}"
  step "${n}" "built ${name} in $((SECONDS - t0))s"
}

build_tool() {
  local name=$1 pkg=$2 ver=$3 ldflags=$4 recipe=$5
  n=$((n + 1))
  if [ -x "${CP_CACHE_BIN}/${name}" ] && recipe_current "${name}" "${recipe}"; then
    step "${n}" "${name} already built"
    return
  fi
  local t0=${SECONDS} tmp
  step "${n}" "building ${name} ${ver} ..."
  tmp="$(mktemp -d "${CP_CACHE_DIR}/.gobin.XXXXXX")"
  # go install pkg@version builds outside any module, so GOFLAGS=-mod=mod must not apply.
  GOFLAGS=-buildvcs=false GOBIN="${tmp}" "${GO_BIN}" install -p "${GO_BUILD_P}" -trimpath \
    -ldflags "-s -w ${ldflags}" "${pkg}@${ver}"
  mv -f "${tmp}/$(basename "${pkg}")" "${CP_CACHE_BIN}/${name}"
  rm -rf "${tmp}"
  printf '%s\n' "${recipe}" >"${CP_CACHE_BIN}/.${name}.recipe"
  step "${n}" "built ${name} in $((SECONDS - t0))s"
}

build_k8s kube-apiserver
build_k8s kube-controller-manager
build_k8s kube-scheduler
build_k8s kubectl
n=$((n + 1))
if [ -x "${CP_CACHE_BIN}/etcd" ]; then
  step "${n}" "etcd already built"
else
  t0=${SECONDS}
  step "${n}" "building etcd ${ETCD_VERSION} ..."
  build_etcd "${CP_CACHE_BIN}/etcd" "${CP_CACHE_DIR}/etcd-module" ||
    cp_die "building etcd failed (output above); is the Go module proxy reachable (GOPROXY=$("${GO_BIN}" env GOPROXY))?"
  step "${n}" "built etcd in $((SECONDS - t0))s"
fi
build_tool kwok sigs.k8s.io/kwok/cmd/kwok "${KWOK_VERSION}" "" "${KWOK_RECIPE}"
build_tool helm helm.sh/helm/v3/cmd/helm "${HELM_VERSION}" "$(helm_ldflags)" "${HELM_RECIPE}"

link_bin
cp_log "all binaries built in $(cp_elapsed) and cached in ${CP_CACHE_BIN}"

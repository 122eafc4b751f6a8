#!/usr/bin/env bash
# Builds every binary the kind node image needs, from Go modules (and pause from its C source),
# once per version set, into ${GAIA_CACHE_DIR:-~/.cache/gaia}/kind/<version>/bin:
#   kubelet, kubeadm, kube-proxy   k8s.io/kubernetes in a wrapper module (as the test control plane)
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, helm
#                                  reused from the test control plane's build (test/controlplane/build.sh)
#   etcd                           go.etcd.io/etcd/server/v3 in a wrapper module
#   coredns, crictl, local-path-provisioner   go install <module>@<version>
#   pause                          k8s.io/kubernetes build/pause/linux/pause.c, gcc -static
# A second run builds nothing.
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

KIND_BINARIES=(kubelet kubeadm kube-proxy kube-apiserver kube-controller-manager kube-scheduler
  kubectl helm etcd coredns crictl local-path-provisioner pause)

all_built() {
  local b
  for b in "${KIND_BINARIES[@]}"; do
    [ -x "${KIND_CACHE_BIN}/${b}" ] || return 1
  done
}

if all_built; then
  kind_log "binaries cached in ${KIND_CACHE_BIN} (nothing to build)"
  exit 0
fi

# The control plane's binaries first: same version, same flags, and its wrapper module is the
# starting point of ours.
"${KIND_REPO_ROOT}/test/controlplane/build.sh"

cp_find_go
mkdir -p "${KIND_CACHE_BIN}"
exec 8>"${KIND_CACHE_DIR}/.binaries.lock"
flock 8

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
GO_BUILD_P="${GAIA_GO_BUILD_P:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}"

for b in kube-apiserver kube-controller-manager kube-scheduler kubectl helm; do
  cp -f "${CP_CACHE_BIN}/${b}" "${KIND_CACHE_BIN}/${b}"
done

k8s_ldflags="$(k8s_version_ldflags)"

# kubelet, kubeadm and kube-proxy: the control plane's wrapper module (every staging module
# replaced by its published v0.X.Y), extended with these commands.
mod_dir="${KIND_CACHE_DIR}/k8s-module"
if [ ! -f "${mod_dir}/go.sum" ]; then
  kind_log "preparing the k8s.io/kubernetes ${K8S_VERSION} wrapper module for kubelet, kubeadm, kube-proxy"
  rm -rf "${mod_dir}"
  mkdir -p "${mod_dir}"
  sed 's#^module .*#module gaia.build/kind-node#' "${CP_CACHE_DIR}/k8s-module/go.mod" >"${mod_dir}/go.mod"
  cp "${CP_CACHE_DIR}/k8s-module/go.sum" "${mod_dir}/go.sum.tmp"
  cat >"${mod_dir}/tools.go" <<'GO'
//go:build tools

// Package tools pins the node commands built from k8s.io/kubernetes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
  mv "${mod_dir}/go.sum.tmp" "${mod_dir}/go.sum.seed"
  cp "${mod_dir}/go.sum.seed" "${mod_dir}/go.sum"
  if ! (cd "${mod_dir}" && "${GO_BIN}" mod tidy) >"${KIND_CACHE_DIR}/go-mod-tidy.log" 2>&1; then
    rm -f "${mod_dir}/go.sum"
    tail -n 30 "${KIND_CACHE_DIR}/go-mod-tidy.log" >&2
    kind_die "go mod tidy failed in ${mod_dir} (log: ${KIND_CACHE_DIR}/go-mod-tidy.log)"
  fi
  rm -f "${mod_dir}/go.sum.seed"
fi

built() {
  if [ -x "${KIND_CACHE_BIN}/$1" ]; then
    kind_log "$1 already built"
    return 0
  fi
  kind_log "building $1 ..."
  return 1
}

for name in kubeadm kube-proxy kubelet; do
  built "${name}" && continue
  t0=${SECONDS}
  (cd "${mod_dir}" && "${GO_BIN}" build -p "${GO_BUILD_P}" -trimpath -ldflags "${k8s_ldflags}" \
    -o "${KIND_CACHE_BIN}/.${name}.tmp" "k8s.io/kubernetes/cmd/${name}")
  mv -f "${KIND_CACHE_BIN}/.${name}.tmp" "${KIND_CACHE_BIN}/${name}"
  kind_log "built ${name} in $((SECONDS - t0))s"
done

if ! built etcd; then
  t0=${SECONDS}
  build_etcd "${KIND_CACHE_BIN}/etcd" "${KIND_CACHE_DIR}/etcd-module" || kind_die "building etcd ${ETCD_VERSION} failed (output above)"
  kind_log "built etcd ${ETCD_VERSION} in $((SECONDS - t0))s"
fi

# Modules without replace directives install directly.
go_install() {
  local name=$1 pkg=$2 ver=$3 ldflags=$4
  if [ -x "${KIND_CACHE_BIN}/${name}" ]; then
    kind_log "${name} already built"
    return
  fi
  kind_log "building ${name} ${ver} ..."
  local t0=${SECONDS} tmp
  tmp="$(mktemp -d "${KIND_CACHE_DIR}/.gobin.XXXXXX")"
  GOFLAGS=-buildvcs=false GOBIN="${tmp}" "${GO_BIN}" install -p "${GO_BUILD_P}" -trimpath \
    -ldflags "-s -w ${ldflags}" "${pkg}@${ver}"
  mv -f "${tmp}/$(basename "${pkg}")" "${KIND_CACHE_BIN}/${name}"
  rm -rf "${tmp}"
  kind_log "built ${name} in $((SECONDS - t0))s"
}

go_install crictl sigs.k8s.io/cri-tools/cmd/crictl "${CRICTL_VERSION}" \
  "-X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION}"
go_install local-path-provisioner github.com/rancher/local-path-provisioner "${LOCAL_PATH_VERSION}" \
  "-X main.VERSION=${LOCAL_PATH_VERSION}"
go_install coredns github.com/coredns/coredns "${COREDNS_VERSION}" \
  "-X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}"

# pause: a tiny C program; the Go module zip of k8s.io/kubernetes carries its source.
if ! built pause; then
  command -v gcc >/dev/null || kind_die "gcc is needed to build pause (apt-get install -y gcc libc6-dev)"
  src="$(cd "${mod_dir}" && "${GO_BIN}" list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
  gcc -Os -Wall -Werror -static -DVERSION="v${PAUSE_VERSION}" -o "${KIND_CACHE_BIN}/.pause.tmp" "${src}"
  strip "${KIND_CACHE_BIN}/.pause.tmp"
  mv -f "${KIND_CACHE_BIN}/.pause.tmp" "${KIND_CACHE_BIN}/pause"
fi

kind_log "all node binaries ready in ${KIND_CACHE_BIN} ($(kind_elapsed))"

#!/usr/bin/env bash
# Puts kind (built from sigs.k8s.io/kind at the pinned version), kubectl and helm (from the test
# control plane's build) into the folder given, default .gaia/kind/bin. Cached; a second run
# only links.
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

dest="${1:-${KIND_REPO_ROOT}/.gaia/kind/bin}"
if [ ! -x "${KIND_CLI_DIR}/kind" ] || [ ! -x "${CP_CACHE_BIN}/kubectl" ] || [ ! -x "${CP_CACHE_BIN}/helm" ]; then
  "${KIND_REPO_ROOT}/test/controlplane/build.sh"
  cp_find_go
  mkdir -p "${KIND_CLI_DIR}"
  kind_log "building kind ${KIND_VERSION} ..."
  GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="${KIND_CLI_DIR}" \
    "${GO_BIN}" install -trimpath -ldflags "-s -w" "sigs.k8s.io/kind@${KIND_VERSION}"
fi
mkdir -p "${dest}"
ln -sfn "${KIND_CLI_DIR}/kind" "${dest}/kind"
ln -sfn "${CP_CACHE_BIN}/kubectl" "${dest}/kubectl"
ln -sfn "${CP_CACHE_BIN}/helm" "${dest}/helm"
kind_log "kind ${KIND_VERSION}, kubectl and helm in ${dest}"

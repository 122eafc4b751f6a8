#!/usr/bin/env bash
# The kind tier, start to finish, as CI runs it: a fresh cluster (the node image built from source
# and cached when only podman is available), Gaia's images built and loaded, the operator and a
# GaiaPlatform deployed, the end-to-end checks, and the cluster deleted again, also on failure.
#   kind/e2e.sh                 run it; the last line is "kind: N passed, M failed"
#   KIND_CLUSTER_NAME           cluster name (default gaia-e2e, so a developer's "gaia" stays)
#   GAIA_KIND_KEEP=1            keep the cluster afterwards (to look around)
#   GAIA_KIND_TIMEOUT           seconds for all steps together (default 2700); a step still
#                               running then is stopped and counts as a failure
# Linkerd cannot be installed without a registry, so the platform runs with
# mesh.linkerd.enabled: false here and e2e-kind says it skipped the mesh check.
set -uo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cd "${KIND_REPO_ROOT}" || exit 1
export KIND_CLUSTER_NAME="${KIND_CLUSTER_NAME:-gaia-e2e}"
export GAIA_MESH=false

log="$(mktemp)"
finish() {
  local status=$?
  if [ "${GAIA_KIND_KEEP:-0}" != 1 ]; then
    make --no-print-directory kind-down >/dev/null 2>&1 || true
  fi
  local passed failed
  passed="$(grep -Eo '\] [0-9]+ passed, [0-9]+ failed' "${log}" | tail -n1 | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' || echo 0)"
  failed="$(grep -Eo '\] [0-9]+ passed, [0-9]+ failed' "${log}" | tail -n1 | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' || echo 0)"
  # A step that failed before the checks ran counts as one failure.
  if [ "${status}" -ne 0 ] && [ "${failed}" -eq 0 ]; then failed=1; fi
  rm -f "${log}"
  kind_log "kind tier finished in $(kind_elapsed)"
  echo "kind: ${passed} passed, ${failed} failed"
  exit "${status}"
}
trap finish EXIT

deadline=$((SECONDS + ${GAIA_KIND_TIMEOUT:-2700}))
step() {
  local left=$((deadline - SECONDS))
  if [ "${left}" -le 0 ]; then
    kind_log "out of time before 'make $*' (GAIA_KIND_TIMEOUT=${GAIA_KIND_TIMEOUT:-2700})"
    return 124
  fi
  kind_log "make $*"
  # timeout signals the step's whole process group, so nothing of it outlives the deadline.
  timeout "${left}" make --no-print-directory "$@" 2>&1 | tee -a "${log}"
  local status=${PIPESTATUS[0]}
  if [ "${status}" -eq 124 ]; then kind_log "'make $*' ran out of time (GAIA_KIND_TIMEOUT=${GAIA_KIND_TIMEOUT:-2700})"; fi
  return "${status}"
}

# A cluster of that name left by an earlier run is removed first: its containers may be stopped.
make --no-print-directory kind-down >/dev/null 2>&1 || true
step kind-up && step images && step kind-load && step deploy && step e2e-kind

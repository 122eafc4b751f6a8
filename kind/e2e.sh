#!/usr/bin/env bash
# The kind tier, start to finish, as CI runs it: a fresh cluster (the node image built from source
# and cached when only podman is available), Gaia's images built and loaded, the operator and a
# GaiaPlatform deployed, the end-to-end checks (scripts/e2e-kind.sh, then the knowledge base's: a developer's
# markdown file written through the gateway and found again by search), and the cluster deleted again, also
# on failure.
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
  # Every check script ends with "[NAME ...] N passed, M failed": the tier's figures are their sums.
  local passed failed
  passed="$(grep -Eo '\] [0-9]+ passed, [0-9]+ failed' "${log}" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+' | awk '{s += $1} END {print s + 0}')"
  failed="$(grep -Eo '\] [0-9]+ passed, [0-9]+ failed' "${log}" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+' | awk '{s += $1} END {print s + 0}')"
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

# The knowledge base through the gateway (kind's port mapping), with a developer's API key made in an auth pod
# as e2e-kind makes its own: POST /api/v0.2/kb/write of shared/e2e.md (developers and admins may write under
# shared/), then POST /api/v0.2/kb/search finds it first. Runs in a subshell with scripts/cluster-lib.sh's
# settings (kubeconfig, gateway URL, namespace); ends with "N passed, M failed" like e2e-kind.
e2e_kb() (
  set -uo pipefail
  STEP_NAME=e2e-kb
  SECONDS=0 # its log lines count from its own start, as the make steps' do
  # shellcheck source=scripts/cluster-lib.sh
  source "${KIND_REPO_ROOT}/scripts/cluster-lib.sh"
  need_cluster
  need curl "Install curl (apt-get install -y curl)."
  need node "Run 'make install' (the project's Node 24 is in node_modules/.bin)."
  local name ns passed=0 failed=0 key="" output="" answer="" code="" found=""
  pass() {
    passed=$((passed + 1))
    log "PASS  $*"
  }
  fail() {
    failed=$((failed + 1))
    log "FAIL  $*"
  }
  name="$(k patch --local -f "${PLATFORM_MANIFEST}" --type merge -p '{}' -o jsonpath='{.metadata.name}')"
  ns="${PLATFORM_NAMESPACE}"
  # kb answers curl's request body; the status code comes last, on a line of its own.
  kb_call() { # kb_call OPERATION JSON
    curl -sS --max-time 30 -w '\n%{http_code}' -H "X-API-Key: ${key}" -H 'content-type: application/json' \
      -d "$2" "${GATEWAY_URL}/api/v0.2/kb/$1" 2>&1 || true
  }

  if output="$(k -n "${ns}" exec "deploy/${name}-auth" -- gaia keys create --email e2e-kb@example.com --role developer --name e2e-kb 2>&1)"; then
    key="$(echo "${output}" | grep -Eo 'gaia_[A-Za-z0-9]+_[A-Za-z0-9_-]+' | head -n1 || true)"
  fi
  if [ -n "${key}" ]; then
    pass "kubectl exec deploy/${name}-auth -- gaia keys create --email e2e-kb@example.com --role developer"
  else
    fail "gaia keys create in an auth pod gave no key: ${output:-no output}"
  fi

  if [ -n "${key}" ]; then
    # kb is Ready when the platform is; a moment's 502/503 while the gateway finds it is retried.
    for _ in $(seq 1 30); do
      answer="$(kb_call write '{"path":"shared/e2e.md","content":"# E2E\n\nthe word quillfeather\n"}')"
      code="${answer##*$'\n'}"
      case "${code}" in 200 | 201 | 4??) break ;; esac
      sleep 2
    done
    if [ "${code}" = 201 ] || [ "${code}" = 200 ]; then
      pass "POST ${GATEWAY_URL}/api/v0.2/kb/write shared/e2e.md as a developer (HTTP ${code})"
    else
      fail "POST ${GATEWAY_URL}/api/v0.2/kb/write shared/e2e.md: HTTP ${code:-none}: ${answer:0:600}. 'kubectl -n ${ns} logs deploy/${name}-kb' tells why."
    fi
    # One replica without a Git remote: search sees the write at once; a second try covers a slow index.
    for _ in $(seq 1 10); do
      answer="$(kb_call search '{"query":"quillfeather"}')"
      found="$(echo "${answer%$'\n'*}" | node -e '
        try { console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).results?.[0]?.path ?? ""); } catch { console.log(""); }' 2>/dev/null || true)"
      [ "${found}" = shared/e2e.md ] && break
      sleep 2
    done
    if [ "${found}" = shared/e2e.md ]; then
      pass "POST ${GATEWAY_URL}/api/v0.2/kb/search quillfeather finds shared/e2e.md first"
    else
      fail "POST ${GATEWAY_URL}/api/v0.2/kb/search quillfeather: results[0].path is '${found}', not shared/e2e.md. Answer: ${answer:0:600}"
    fi
  else
    fail "kb write and search: skipped for want of an API key (see the failure above)"
  fi

  log "${passed} passed, ${failed} failed"
  [ "${failed}" -eq 0 ]
)

# A cluster of that name left by an earlier run is removed first: its containers may be stopped.
make --no-print-directory kind-down >/dev/null 2>&1 || true
# Every step in turn; the first that fails ends the tier (124: out of time). The kb checks run whatever e2e-kind
# found, and the tier fails if either did.
tier() {
  step kind-up && step images && step kind-load && step deploy || return
  local e2e_status kb_status
  step e2e-kind
  e2e_status=$?
  kind_log "e2e-kb: the knowledge base through the gateway"
  e2e_kb 2>&1 | tee -a "${log}"
  kb_status=${PIPESTATUS[0]}
  if [ "${e2e_status}" -ne 0 ]; then return "${e2e_status}"; fi
  return "${kb_status}"
}
tier

#!/usr/bin/env bash
# shellcheck disable=SC2016  # the single-quoted programs are JavaScript: ${...} in them is theirs
# End-to-end checks of Gaia in the kind cluster (after `make deploy`), from the host through kind's port
# mapping (127.0.0.1:8666 -> NodePort 30666 -> the gateway):
#   1. GET /health answers, with every backend's status;
#   2. an API key made inside an auth pod (`gaia keys create`, as an operator bootstraps one);
#   3. a streamed chat reply for that key, from the offline echo model (no provider keys in the example);
#   4. with the Linkerd mesh: a pod outside the mesh is refused by a backend, while meshed calls work (3).
# Exits non-zero when any check fails; prints what failed and where to look.
set -euo pipefail
STEP_NAME=e2e-kind
# shellcheck source=scripts/cluster-lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster-lib.sh"

need_cluster
need curl "Install curl (apt-get install -y curl)."
need node "Run 'make install' (the project's Node 24 is in node_modules/.bin)."
name="$(k patch --local -f "${PLATFORM_MANIFEST}" --type merge -p '{}' -o jsonpath='{.metadata.name}')"
ns="${PLATFORM_NAMESPACE}"
k -n "${ns}" get gaiaplatform "${name}" >/dev/null 2>&1 ||
  die "no GaiaPlatform ${ns}/${name} in the cluster: run 'make deploy' first"

passed=0
failed=0
pass() {
  passed=$((passed + 1))
  log "PASS  $*"
}
fail() {
  failed=$((failed + 1))
  log "FAIL  $*"
}

# --- 1. health through the port mapping --------------------------------------------------------------------
health=""
for _ in $(seq 1 30); do
  if health="$(curl -fsS --max-time 5 "${GATEWAY_URL}/health" 2>/dev/null)"; then break; fi
  health=""
  sleep 2
done
if [ -n "${health}" ] && echo "${health}" | node -e '
  const h = JSON.parse(require("fs").readFileSync(0, "utf8"));
  if (h.service !== "gateway" || !["healthy", "degraded"].includes(h.status)) process.exit(1);
  const bad = Object.entries(h.services ?? {}).filter(([, s]) => s.status !== "healthy").map(([n, s]) => `${n}: ${s.status}`);
  console.error(`      gateway ${h.status}; backends: ${Object.entries(h.services ?? {}).map(([n, s]) => `${n} ${s.status}`).join(", ")}`);
  if (h.status === "degraded" && bad.length) console.error(`      (degraded: ${bad.join("; ")} — services this build does not contain yet report unreachable)`);
'; then
  pass "GET ${GATEWAY_URL}/health"
else
  fail "GET ${GATEWAY_URL}/health did not answer with the gateway's health (got: ${health:-nothing}). Check the port mapping: 'kubectl -n ${ns} get svc ${name}-gateway' must show nodePort ${GATEWAY_NODE_PORT} ('make deploy' pins it)."
fi

# --- 2. an API key, made where an operator would make one --------------------------------------------------
key=""
if output="$(k -n "${ns}" exec "deploy/${name}-auth" -- gaia keys create --email e2e@example.com --role developer --name e2e 2>&1)"; then
  key="$(echo "${output}" | grep -Eo 'gaia_[A-Za-z0-9]+_[A-Za-z0-9_-]+' | head -n1 || true)"
fi
if [ -n "${key}" ]; then
  pass "kubectl exec deploy/${name}-auth -- gaia keys create --email e2e@example.com --role developer"
else
  fail "gaia keys create in an auth pod gave no key: ${output:-no output}"
fi

# --- 3. a streamed chat reply through the gateway -----------------------------------------------------------
if [ -n "${key}" ]; then
  message="hello from e2e-kind $(date +%s)"
  stream="$(curl -sS -N --max-time 60 -H "X-API-Key: ${key}" -H 'content-type: application/json' \
    -d "{\"message\":\"${message}\",\"stream\":true}" "${GATEWAY_URL}/api/v1/chat" 2>&1 || true)"
  if echo "${stream}" | MESSAGE="${message}" node -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
    if (lines.at(-1) !== "[DONE]") { console.error("      the stream did not end with data: [DONE]"); process.exit(1); }
    const text = lines.slice(0, -1).map((l) => JSON.parse(l)).map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
    console.error(`      reply (${lines.length - 1} chunks): ${text.slice(0, 160)}`);
    if (!text.includes(process.env.MESSAGE)) process.exit(1);
  '; then
    pass "POST ${GATEWAY_URL}/api/v1/chat (stream) answered by the echo model"
  else
    fail "the streamed chat reply was not the echo of the message. Stream:\n${stream:0:2000}"
  fi
else
  fail "streamed chat: skipped for want of an API key (see the failure above)"
fi

# --- 4. a conversation survives a gateway pod being deleted --------------------------------------------------
if [ -n "${key}" ]; then
  chat() { # POST a non-streamed v1 chat turn; prints the JSON answer
    curl -sS --max-time 60 -H "X-API-Key: ${key}" -H 'content-type: application/json' -d "$1" "${GATEWAY_URL}/api/v1/chat"
  }
  conversation="$(chat '{"message":"remember the lighthouse"}' | node -e '
    const a = JSON.parse(require("fs").readFileSync(0, "utf8")); if (!a.conversation_id) process.exit(1); console.log(a.conversation_id);' || true)"
  victim="$(k -n "${ns}" get pods -l "app.kubernetes.io/instance=${name},app.kubernetes.io/name=gateway" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
  if [ -n "${conversation}" ] && [ -n "${victim}" ] && k -n "${ns}" delete pod "${victim}" --wait=true >/dev/null; then
    answer=""
    for _ in $(seq 1 30); do # the other gateway pod, or the replacement, takes over
      answer="$(chat "{\"message\":\"and the harbour\",\"conversation_id\":\"${conversation}\"}" 2>/dev/null || true)"
      echo "${answer}" | grep -q "\"conversation_id\":\"${conversation}\"" && break
      answer=""
      sleep 2
    done
    messages="$(curl -sS --max-time 30 -H "X-API-Key: ${key}" "${GATEWAY_URL}/api/v1/conversations/${conversation}" 2>&1 || true)"
    if [ -n "${answer}" ] && echo "${messages}" | node -e '
      const text = require("fs").readFileSync(0, "utf8");
      if (!text.includes("remember the lighthouse") || !text.includes("and the harbour")) process.exit(1);'; then
      pass "conversation ${conversation} survived deleting gateway pod ${victim}: both turns are in it"
    else
      fail "conversation ${conversation} after deleting ${victim}: answer '${answer:0:300}', conversation '${messages:0:600}'"
    fi
  else
    fail "could not start a conversation (${conversation:-none}) or find a gateway pod (${victim:-none}) to delete"
  fi
else
  fail "conversation check: skipped for want of an API key (see the failure above)"
fi

# --- 5. the knowledge base: a developer writes a note, and search finds it --------------------------------------
if [ -n "${key}" ]; then
  kb_call() { # kb_call OPERATION JSON: the answer, then the status code on a line of its own
    curl -sS --max-time 30 -w '\n%{http_code}' -H "X-API-Key: ${key}" -H 'content-type: application/json' \
      -d "$2" "${GATEWAY_URL}/api/v0.2/kb/$1" 2>&1 || true
  }
  code=""
  for _ in $(seq 1 30); do # a moment's 502/503 while the gateway finds kb is retried
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
  found=""
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

# --- 6. an asset: the offline placeholder draws an image, downloaded through the gateway ------------------------
if [ -n "${key}" ]; then
  made="$(curl -sS --max-time 60 -H "X-API-Key: ${key}" -H 'content-type: application/json' \
    -d '{"type":"image","prompt":"an e2e lantern","size":"64x64"}' "${GATEWAY_URL}/api/v1/assets/generate" 2>&1 || true)"
  download="$(echo "${made}" | node -e '
    try { const a = JSON.parse(require("fs").readFileSync(0, "utf8")); if (a.status === "completed" && a.asset?.offline_placeholder) console.log(a.download_url); } catch {}' 2>/dev/null || true)"
  magic=""
  if [ -n "${download}" ]; then
    magic="$(curl -sS --max-time 30 -H "X-API-Key: ${key}" "${GATEWAY_URL}${download}" 2>/dev/null | head -c 4 | od -An -c | tr -d ' ' || true)"
  fi
  if [ "${magic}" = '211PNG' ]; then
    pass "POST ${GATEWAY_URL}/api/v1/assets/generate made a placeholder PNG, downloaded from ${download}"
  else
    fail "asset generation through the gateway: answer ${made:0:600}; first bytes of the download '${magic}'. 'kubectl -n ${ns} logs deploy/${name}-asset' tells why."
  fi
else
  fail "asset check: skipped for want of an API key (see the failure above)"
fi

# --- 7. the mesh refuses callers outside it -----------------------------------------------------------------
mesh="$(k -n "${ns}" get gaiaplatform "${name}" -o jsonpath='{.spec.mesh.linkerd.enabled}')"
if [ "${mesh}" = true ]; then
  # A pod of Gaia's own image, explicitly outside the mesh, calls auth directly (the gateway alone may).
  probe="e2e-outside-mesh-$(date +%s)"
  verdict="$(k -n "${ns}" run "${probe}" --quiet --rm -i --restart=Never \
    --image="${PLATFORM_IMAGE}" --image-pull-policy=IfNotPresent \
    --annotations=linkerd.io/inject=disabled --labels=app.kubernetes.io/name=e2e-probe \
    --command -- node -e '
      fetch(process.argv[1], { signal: AbortSignal.timeout(10000) })
        .then((r) => console.log(r.status === 403 ? "refused: HTTP 403" : `answered: HTTP ${r.status}`))
        .catch((e) => console.log(`refused: ${e.cause?.code ?? e.message}`));
    ' "http://${name}-auth:8001/health" 2>&1 || true)"
  case "${verdict}" in
    *refused*) pass "a pod outside the mesh is refused by auth (${verdict##*refused: })" ;;
    *) fail "a pod outside the mesh reached auth: ${verdict:-no output}. 'kubectl -n ${ns} get servers,authorizationpolicies' shows the policy the operator wrote." ;;
  esac
else
  log "SKIP  mesh policy check: ${ns}/${name} runs without Linkerd. 'make mesh' installs it (needs a registry for Linkerd's images), then 'make deploy' turns it on."
fi

log "${passed} passed, ${failed} failed"
if [ "${failed}" -gt 0 ]; then
  die "e2e-kind failed. 'kubectl -n ${ns} get pods', 'kubectl -n ${ns} describe gaia ${name}' and 'kubectl -n ${ns} logs deploy/${name}-gateway' are the places to look (KUBECONFIG=${CLUSTER_KUBECONFIG})."
fi
next "make kind-down deletes the cluster when you are done"

#!/usr/bin/env bash
# Stops the test control plane started by up.sh and removes its state (.gaia/controlplane).
# The binary cache (${GAIA_CACHE_DIR:-~/.cache/gaia}/controlplane) is kept.
# GAIA_CONTROLPLANE_KEEP_LOGS=1 keeps .gaia/controlplane/logs for inspection.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

COMPONENTS=(kwok kube-scheduler kube-controller-manager kube-apiserver etcd)

# Only signal a pid that still runs one of our binaries (pids get reused).
ours() {
  local pid=$1 name=$2
  kill -0 "${pid}" 2>/dev/null || return 1
  if [ -r "/proc/${pid}/cmdline" ]; then
    tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- "${name}"
  fi
}

# Signal everything at once (the state is discarded anyway), then wait up to 10 s.
cp_lock
stopped=()
pids=()
for c in "${COMPONENTS[@]}"; do
  f="${CP_PID_DIR}/${c}.pid"
  [ -f "${f}" ] || continue
  pid="$(cat "${f}")"
  if [ -n "${pid}" ] && ours "${pid}" "${c}"; then
    kill -TERM "${pid}" 2>/dev/null || true
    pids+=("${pid}")
    stopped+=("${c}(${pid})")
  fi
  rm -f "${f}"
done
for _ in $(seq 1 100); do
  alive=0
  for pid in "${pids[@]}"; do
    if kill -0 "${pid}" 2>/dev/null; then alive=1; fi
  done
  [ "${alive}" = 1 ] || break
  sleep 0.1
done
for pid in "${pids[@]}"; do
  kill -KILL "${pid}" 2>/dev/null || true
done

if [ "${#stopped[@]}" -gt 0 ]; then
  cp_log "stopped ${stopped[*]}"
else
  cp_log "nothing was running"
fi

if [ -d "${CP_STATE_DIR}" ]; then
  if [ "${GAIA_CONTROLPLANE_KEEP_LOGS:-0}" = 1 ]; then
    find "${CP_STATE_DIR}" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
    cp_log "removed the state in ${CP_STATE_DIR} (kept logs/)"
  else
    rm -rf "${CP_STATE_DIR}"
    cp_log "removed ${CP_STATE_DIR}"
  fi
fi

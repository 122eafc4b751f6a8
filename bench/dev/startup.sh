#!/usr/bin/env bash
# How long `make dev` (dependencies installed) takes from start to every service answering /health, and the
# process's resident memory then. Fresh data directory each run (first start: migrations, first admin) unless
# KEEP=1 reuses one (a warm start). Usage: bench/dev/startup.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH"
runs=${1:-3}
base=$((20000 + RANDOM % 20000))
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
for run in $(seq 1 "$runs"); do
  [ "${KEEP:-0}" = 1 ] || rm -rf "${data:?}"/*
  start=$(date +%s.%N)
  GAIA_DATA_DIR="$data" GAIA_GATEWAY_PORT=$base GAIA_AUTH_PORT=$((base + 1)) GAIA_CHAT_PORT=$((base + 3)) \
    GAIA_ASSET_PORT=$((base + 2)) GAIA_KB_PORT=$((base + 4)) GAIA_WEB_PORT=$((base + 5)) \
    node --import tsx bin/gaia.ts dev >"$data/out.log" 2>&1 &
  pid=$!
  for port in $base $((base + 1)) $((base + 3)); do
    until curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 || curl -s "http://127.0.0.1:$port/health" | grep -q degraded; do
      kill -0 "$pid" 2>/dev/null || { cat "$data/out.log"; exit 1; }
      sleep 0.05
    done
  done
  end=$(date +%s.%N)
  rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  printf 'run %d: healthy after %.2f s, RSS %d MB\n' "$run" "$(echo "$end - $start" | bc)" "$((rss_kb / 1024))"
  kill -TERM "$pid"
  wait "$pid" || true
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u)"

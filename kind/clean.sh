#!/usr/bin/env bash
# Removes the local kind node image (and its preloaded images) and the node image's cache.
# The Go build cache and the test control plane's binaries stay.
set -euo pipefail

# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

if command -v podman >/dev/null 2>&1; then
  podman rmi -f "${KIND_NODE_IMAGE_NAME}" >/dev/null 2>&1 || true
fi
rm -rf "${KIND_CACHE_DIR}"
kind_log "removed ${KIND_NODE_IMAGE_NAME} and ${KIND_CACHE_DIR}"

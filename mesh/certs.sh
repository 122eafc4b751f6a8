#!/usr/bin/env bash
# Makes the certificates Linkerd's identity needs, with openssl (ECDSA P-256, as Linkerd requires):
#   ca.crt, ca.key          the trust anchor: self-signed root, CA:TRUE, keyUsage keyCertSign+cRLSign
#                           (10 years; every proxy trusts it, so rotating it means re-rolling the mesh)
#   issuer.crt, issuer.key  the issuer: signed by the anchor, CA:TRUE pathlen:0, keyUsage keyCertSign+cRLSign
#                           (1 year); Linkerd's identity service signs each proxy's certificate with it
#
#   mesh/certs.sh [DIR]           make what is missing (default DIR: .gaia/mesh); re-issue an issuer that
#                                 expires within 30 days, with the same anchor
#   mesh/certs.sh --force [DIR]   make a new anchor and issuer
#
# The keys stay on this machine (mode 0600); for production keep the anchor's key offline, or let cert-manager
# rotate the issuer.
set -euo pipefail

force=false
if [ "${1:-}" = --force ]; then
  force=true
  shift
fi
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-${REPO_ROOT}/.gaia/mesh}"
ANCHOR_DAYS="${GAIA_MESH_ANCHOR_DAYS:-3650}"
ISSUER_DAYS="${GAIA_MESH_ISSUER_DAYS:-365}"
RENEW_SECONDS=$((30 * 24 * 3600))

log() { printf '[mesh-certs] %s\n' "$*" >&2; }
die() {
  printf '[mesh-certs] ERROR: %s\n' "$*" >&2
  exit 1
}
command -v openssl >/dev/null 2>&1 || die "openssl is missing (Debian: apt-get install -y openssl)"

mkdir -p "${DIR}"
chmod 700 "${DIR}"
umask 077

# openssl, quiet unless it fails.
ossl() {
  local out
  out="$(openssl "$@" 2>&1)" || die "openssl $1 failed: ${out}"
}
new_key() { ossl ecparam -name prime256v1 -genkey -noout -out "$1"; }

make_anchor() {
  log "making a new trust anchor (root.linkerd.cluster.local, ${ANCHOR_DAYS} days)"
  new_key "${DIR}/ca.key"
  ossl req -x509 -new -key "${DIR}/ca.key" -sha256 -days "${ANCHOR_DAYS}" \
    -subj "/CN=root.linkerd.cluster.local" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "${DIR}/ca.crt"
}

make_issuer() {
  log "issuing a new issuer certificate (identity.linkerd.cluster.local, ${ISSUER_DAYS} days)"
  new_key "${DIR}/issuer.key"
  ossl req -new -key "${DIR}/issuer.key" -subj "/CN=identity.linkerd.cluster.local" -out "${DIR}/issuer.csr"
  printf '%s\n' \
    "basicConstraints=critical,CA:TRUE,pathlen:0" \
    "keyUsage=critical,keyCertSign,cRLSign" \
    "subjectKeyIdentifier=hash" \
    "authorityKeyIdentifier=keyid:always" >"${DIR}/issuer.ext"
  ossl x509 -req -in "${DIR}/issuer.csr" -CA "${DIR}/ca.crt" -CAkey "${DIR}/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -sha256 -days "${ISSUER_DAYS}" \
    -extfile "${DIR}/issuer.ext" -out "${DIR}/issuer.crt"
  rm -f "${DIR}/issuer.csr" "${DIR}/issuer.ext"
}

if "${force}" || [ ! -s "${DIR}/ca.crt" ] || [ ! -s "${DIR}/ca.key" ]; then
  make_anchor
  make_issuer
elif [ ! -s "${DIR}/issuer.crt" ] || [ ! -s "${DIR}/issuer.key" ]; then
  make_issuer
elif ! openssl x509 -in "${DIR}/issuer.crt" -noout -checkend "${RENEW_SECONDS}" >/dev/null; then
  log "the issuer certificate expires within 30 days"
  make_issuer
else
  log "reusing the certificates in ${DIR}"
fi

openssl verify -CAfile "${DIR}/ca.crt" "${DIR}/issuer.crt" >/dev/null 2>&1 ||
  die "${DIR}/issuer.crt is not signed by ${DIR}/ca.crt: run mesh/certs.sh --force"
log "trust anchor ${DIR}/ca.crt (until $(openssl x509 -in "${DIR}/ca.crt" -noout -enddate | cut -d= -f2))"
log "issuer       ${DIR}/issuer.crt (until $(openssl x509 -in "${DIR}/issuer.crt" -noout -enddate | cut -d= -f2))"

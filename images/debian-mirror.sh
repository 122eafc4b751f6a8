# shellcheck shell=bash
# Sourced by the scripts that debootstrap a Debian root filesystem (images/base.sh, kind/).

# The Debian mirror apt already uses (it is known to be reachable), unless GAIA_DEBIAN_MIRROR says otherwise.
debian_mirror() {
  if [ -n "${GAIA_DEBIAN_MIRROR:-}" ]; then
    echo "${GAIA_DEBIAN_MIRROR}"
    return
  fi
  local found
  found="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v -- '-security' | head -n1 | tr -d ' ' || true)"
  echo "${found:-http://deb.debian.org/debian}"
}

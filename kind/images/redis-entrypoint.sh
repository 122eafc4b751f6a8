#!/bin/sh
# Arguments that start with '-' are redis-server's. Without a configuration file, protected
# mode is off (as in the official image): the pod network, not Redis, decides who connects.
set -eu
case "${1:-}" in
  -*) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = redis-server ]; then
  case "${2:-}" in
    *.conf) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
fi
exec "$@"

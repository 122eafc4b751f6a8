#!/bin/bash
# Initializes PGDATA on first start (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB), then runs
# the server on every address with password authentication for remote clients.
set -euo pipefail

: "${PGDATA:?}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-${POSTGRES_USER}}"

if [ "${1:-postgres}" = postgres ] && [ ! -s "${PGDATA}/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required to initialize the database}"
  mkdir -p "${PGDATA}"
  chmod 0700 "${PGDATA}"
  pwfile="$(mktemp)"
  printf '%s\n' "${POSTGRES_PASSWORD}" >"${pwfile}"
  initdb --username="${POSTGRES_USER}" --pwfile="${pwfile}" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 -D "${PGDATA}" >/dev/null
  rm -f "${pwfile}"
  printf "host all all all scram-sha-256\n" >>"${PGDATA}/pg_hba.conf"
  if [ "${POSTGRES_DB}" != postgres ]; then
    pg_ctl -D "${PGDATA}" -o "-c listen_addresses=''" -w start >/dev/null
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
      -c "CREATE DATABASE \"${POSTGRES_DB}\"" >/dev/null
    pg_ctl -D "${PGDATA}" -m fast -w stop >/dev/null
  fi
  echo "initialized ${PGDATA} (user ${POSTGRES_USER}, database ${POSTGRES_DB})"
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "${PGDATA}" -c listen_addresses='*' "$@"
fi
exec "$@"

#!/usr/bin/env bash
# PostgreSQL server binaries (initdb, pg_ctl) for the store tests; Debian's package.
# The tests start a throwaway cluster on loopback themselves (tests/store/conftest.py).
# Idempotent: installs nothing when a server is already there.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  echo "postgresql: already installed ($(ls -d /usr/lib/postgresql/*/bin | head -1))"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
# Debian's package starts a cluster of its own; the tests do not use it.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for c in /etc/postgresql/*/main; do
    [ -d "$c" ] || continue
    v=$(basename "$(dirname "$c")")
    pg_ctlcluster "$v" main stop >/dev/null 2>&1 || true
  done
fi
echo "postgresql: installed"

#!/usr/bin/env bash
# Installs the real services the tests run against (chain nodes, PostgreSQL, a browser).
# Each script in scripts/services.d/ installs one service if it is missing; the tests start
# and stop the servers themselves, on loopback. Idempotent: a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in scripts/services.d/*.sh; do
  [ -e "$script" ] || continue
  echo "== $(basename "$script")"
  bash "$script"
done

#!/usr/bin/env bash
# Debian's litecoind (Litecoin Core 0.21: Bitcoin Core's RPC, segwit on regtest) for the
# Bitcoin-family reserves tests; installed only when missing.
set -euo pipefail
if command -v litecoind >/dev/null 2>&1; then
  echo "litecoind: already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq litecoind

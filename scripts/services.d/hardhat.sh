#!/usr/bin/env bash
# Hardhat 2 and solc-js for the reserves tests (tests/chains/hardhat): `npm ci` from the
# committed package-lock.json, only when node_modules is missing. Needs Node 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/../../tests/chains/hardhat"
if [ -d node_modules/hardhat ] && [ -d node_modules/solc ]; then
  echo "hardhat: already installed"
  exit 0
fi
npm ci --no-audit --no-fund

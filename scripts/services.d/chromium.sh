#!/usr/bin/env bash
# Chromium for the page's browser tests (tests/web), from Debian's packages: Playwright
# (from PyPI) drives /usr/bin/chromium and never downloads a browser of its own.
# Idempotent: installs nothing when chromium is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "chromium: already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
echo "chromium: installed"

#!/bin/sh
# Copy the built browser files of the npm packages into api/static/vendor (committed), so
# the page serves them itself: no CDN, works offline and under a strict CSP.
# Run after `npm ci` here; the versions are those of package-lock.json.
set -eu
cd "$(dirname "$0")"
dest=${VENDOR_DEST:-../api/static/vendor}  # tests build into a scratch directory to compare
mkdir -p "$dest"
v() { node -p "require('./node_modules/$1/package.json').version"; }
cp node_modules/chart.js/dist/chart.umd.min.js "$dest/chart.umd.min.js"
cp node_modules/chart.js/LICENSE.md "$dest/chart.js.LICENSE.md"
# The private-proof libraries (docs/spec.md §16.15), one file the page loads only when a
# private proof is checked: libsecp256k1-zkp in WebAssembly and noble's secp256k1 points,
# bundled by esbuild (pinned in devDependencies; the same versions give the same bytes).
node_modules/.bin/esbuild zkp-entry.js --bundle --format=iife --platform=browser \
  --external:fs --external:path --external:crypto --minify --legal-comments=none \
  --log-level=warning --outfile="$dest/por-zkp.js"
node split-wasm.mjs "$dest/por-zkp.js" "$dest/por-zkp.wasm"
cp node_modules/@vulpemventures/secp256k1-zkp/LICENSE "$dest/secp256k1-zkp.LICENSE"
cp libsecp256k1-zkp.COPYING "$dest/libsecp256k1-zkp.COPYING"
cp node_modules/@noble/curves/LICENSE "$dest/noble-curves.LICENSE"
cp node_modules/@noble/hashes/LICENSE "$dest/noble-hashes.LICENSE"
cp node_modules/long/LICENSE "$dest/long.LICENSE"
{
  echo "chart.js $(v chart.js)"
  echo "por-zkp.js: @vulpemventures/secp256k1-zkp $(v @vulpemventures/secp256k1-zkp)," \
    "@noble/curves $(v @noble/curves), @noble/hashes $(v @noble/hashes), long $(v long)," \
    "bundled by esbuild $(v esbuild)"
} > "$dest/VERSIONS"

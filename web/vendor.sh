#!/bin/sh
# Copy the built browser files of the npm packages into api/static/vendor (committed), so
# the page serves them itself: no CDN, works offline and under a strict CSP.
# Run after `npm ci` here; the versions are those of package-lock.json.
set -eu
cd "$(dirname "$0")"
dest=../api/static/vendor
mkdir -p "$dest"
cp node_modules/chart.js/dist/chart.umd.min.js "$dest/chart.umd.min.js"
cp node_modules/chart.js/LICENSE.md "$dest/chart.js.LICENSE.md"
echo "chart.js $(node -p "require('./node_modules/chart.js/package.json').version")" > "$dest/VERSIONS"

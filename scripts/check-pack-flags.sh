#!/usr/bin/env bash
# Packing and publishing with the flags people use: `npm pack --dry-run`, `npm pack
# --pack-destination DIR` and `npm publish --dry-run`, with an empty Node cache so that the
# prepack step fetches the other Nodes while those flags are in npm's environment (they must not
# reach the npm it runs itself). Needs the npm registry. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MEMWATCH_RS_NODE_CACHE="$tmp/node-cache"
mkdir -p "$tmp/out"
echo "== npm pack --dry-run"
npm pack --dry-run --json > "$tmp/dry.json"
node -e "const [p] = require('$tmp/dry.json'); const n = p.files.filter((f) => /^prebuilds\/linux-x64\/memwatch-rs\.abi\d+\.node$/.test(f.path)).length; if (n < 4) { console.error('dry run lists ' + n + ' binaries'); process.exit(1); } console.log('   lists ' + p.files.length + ' files, ' + n + ' binaries')"
echo "== npm pack --pack-destination"
npm pack --pack-destination "$tmp/out" > /dev/null
ls "$tmp/out"
[ "$(ls "$tmp/out")" = "memwatch-rs-$(node -p "require('./package.json').version").tgz" ] || { echo "the destination holds more than our tarball"; exit 1; }
if ls "$tmp/node-cache"/*/*.tgz 2>/dev/null | grep -q .; then echo "a Node tarball was left in the cache"; exit 1; fi
echo "== npm publish --dry-run"
npm publish --dry-run > /dev/null
echo "== packing flags: ok"

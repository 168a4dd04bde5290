#!/bin/sh
# `npm run check:package` (run by `npm test`): lints the package as npm would
# publish it. Packs the current build (no prepack: `npm test` has just built)
# and runs publint and Are the Types Wrong on the tarball.
set -eu
cd "$(dirname "$0")/.."
out=.tmp/pack
rm -rf "$out" && mkdir -p "$out"
tarball="$out/$(npm pack --ignore-scripts --silent --pack-destination "$out")"
# --strict: a warning (a file missing from the tarball, a wrong condition order...) fails too.
publint run --strict "$tarball"
# The package is ESM only. CommonJS projects load it with require(), which
# Node.js supports for ES modules from 20.19 (our `engines`; tested by
# test/integration/package.test.ts), and TypeScript types since 5.8 under
# `module: nodenext`. Are the Types Wrong still models node16 CommonJS
# resolution as dynamic import only, so that one rule is ignored; every other
# check, node10 and node16 from CommonJS included, still runs.
attw "$tarball" --ignore-rules cjs-resolves-to-esm

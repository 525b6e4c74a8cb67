#!/usr/bin/env bash
# scripts/parse5.sh: install (once) the second judge's parser, parse5, from the npm
# registry into fuzz/parse5/node_modules, as its package-lock.json pins it. Without npm
# it says so and does nothing: the tests that need it then skip with that reason (in CI,
# where .ci/run installs Node.js, they fail instead).
set -euo pipefail
dir="$(cd "$(dirname "$0")/.." && pwd)/fuzz/parse5"
[ -d "$dir/node_modules/parse5" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
  echo "scripts/parse5.sh: npm not found; the parse5 judge's tests will skip (apt-get install nodejs npm)" >&2
  exit 0
fi
npm ci --prefix "$dir" --no-audit --no-fund --silent || echo "scripts/parse5.sh: npm ci failed; the parse5 judge's tests will skip" >&2

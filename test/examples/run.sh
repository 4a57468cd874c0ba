#!/usr/bin/env bash
# Runs the examples suite (test/examples): the quick start's examples of examples/{python,go,ts} against a fresh
# built server, output checked line by line, and the README's snippets checked against the tested files (its
# buf curl tour run). Prepares what the examples need: the .venv with the generated Python client, Go modules.
# Extra arguments go to vitest, e.g. `bash test/examples/run.sh -t python`.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/python-client.sh >/dev/null
(cd examples/go && go build -o /dev/null .) # fetches the modules and warms the build cache of `go run`
if [ ! -f dist/src/main.js ] || [ ! -f dist/examples/ts/main.js ]; then
  npm run build --silent
fi
exec npx vitest run --config test/examples/vitest.config.ts "$@"

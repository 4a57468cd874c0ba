#!/usr/bin/env bash
# Runs the browser tests (test/browser): Consort called from Chromium over gRPC-Web and Connect, cross-origin; and
# the operator dashboard driven while a Python and a Go agent work (screenshots in test-results/dashboard/).
# Builds the server and the dashboard when they are missing, installs the generated Python client into .venv, and
# installs Debian's Chromium when it is missing (as root); never downloads a browser otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ ! -f dist/src/main.js || ! -f dist/dashboard/index.html ]]; then
  npm run build --silent
fi
bash scripts/python-client.sh >/dev/null
(cd test/go && go build -o /dev/null ./cmd/driven-agent) # fetches the Go modules before the test's own build

CHROMIUM=/usr/bin/chromium
if [[ ! -x "$CHROMIUM" ]]; then
  if [[ "$(id -u)" -eq 0 ]]; then
    echo "run.sh: $CHROMIUM is missing; installing Debian's chromium package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "run.sh: $CHROMIUM is missing. Install Debian's Chromium as root, then run again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi

exec npx vitest run --config test/browser/vitest.config.ts "$@"

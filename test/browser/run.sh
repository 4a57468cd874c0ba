#!/usr/bin/env bash
# Runs the browser test (test/browser): Consort called from Chromium over gRPC-Web and Connect, cross-origin.
# Installs Debian's Chromium first when it is missing (as root); never downloads a browser otherwise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

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

#!/usr/bin/env bash
# Runs Consort's Go end-to-end tests (test/go) against the built server, through the generated client (gen/go).
# Extra arguments go to `go test`, e.g. `bash test/go/run.sh -run Shutdown -v`.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -f dist/src/main.js ]; then
  npm run build --silent
fi
cd test/go
exec go test -count=1 ./... "$@"

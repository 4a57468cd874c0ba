#!/usr/bin/env bash
# Runs Consort's Python end-to-end tests (test/python) against the built server, using the repo's .venv.
# Extra arguments go to pytest, e.g. `bash test/python/run.sh -k resume -v`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=$(bash scripts/python-client.sh) # the .venv, with the generated client (re)installed when gen/python changed

if [ ! -f dist/src/main.js ]; then
  npm run build --silent
fi
exec "$PY" -m pytest -q test/python "$@"

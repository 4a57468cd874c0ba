#!/usr/bin/env bash
# Runs Consort's Python end-to-end tests (test/python) against the built server, using the repo's .venv.
# Extra arguments go to pytest, e.g. `bash test/python/run.sh -k resume -v`.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=$(bash scripts/tools-python.sh)

# (Re)install the generated client only when gen/python changed since the last install.
stamp=.venv/.consort-client
sum=$(find gen/python -type f \( -name '*.py' -o -name '*.pyi' -o -name '*.toml' \) -not -path '*/__pycache__/*' \
  -print0 | sort -z | xargs -0 sha256sum | sha256sum)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$sum" ]; then
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall ./gen/python
  echo "$sum" >"$stamp"
fi

if [ ! -f dist/src/main.js ]; then
  npm run build --silent
fi
exec "$PY" -m pytest -q test/python "$@"

#!/usr/bin/env bash
# Installs the generated Python client (gen/python, module consort.v1) into the repository's .venv, which
# scripts/tools-python.sh creates; reinstalls only when gen/python changed since the last install. Prints the
# venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash scripts/tools-python.sh)
stamp=.venv/.consort-client
sum=$(find gen/python -type f \( -name '*.py' -o -name '*.pyi' -o -name '*.toml' \) -not -path '*/__pycache__/*' \
  -not -path 'gen/python/build/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$sum" ]; then
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall ./gen/python >&2
  echo "$sum" >"$stamp"
fi
echo "$PY"

#!/usr/bin/env bash
# Creates (once) the ignored Python virtualenv .venv with the pinned packages Consort's Python client, its
# generator and its tests need. Idempotent: a second run only checks the pins. Prints the venv's python path.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv >&2
fi
stamp=.venv/.consort-requirements
if ! cmp -s requirements-dev.txt "$stamp" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
  cp requirements-dev.txt "$stamp"
fi
echo "$PWD/.venv/bin/python"

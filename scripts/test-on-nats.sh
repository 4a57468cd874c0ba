#!/usr/bin/env bash
# Issue 12's "the whole suite passes against the NATS backend": runs every suite that starts Consort servers with
# the one switch CONSORT_TEST_BACKEND=nats, so each server the tests start keeps its signals on a throwaway
# `nats-server -js` of its own (test/test-backend.ts; test/python/conftest.py and test/go/backend_test.go read the
# same variable): TypeScript (vitest), Python, Go, the examples and, when test/browser/run.sh exists, the browser
# tests. The suite of test/nats is left out: it starts its own nats-servers, switch or not (npm test runs it).
# Needs Debian's nats-server (NATS_SERVER names another executable); builds first unless --no-build (npm test
# has built already). Extra arguments are not accepted: run one suite by hand to narrow it, e.g.
#   CONSORT_TEST_BACKEND=nats npx vitest run test/api/coordination.test.ts
# Exits non-zero if any suite fails; the last line counts the suites.
set -uo pipefail
cd "$(dirname "$0")/.."

NATS_SERVER="${NATS_SERVER:-/usr/sbin/nats-server}"
if [[ ! -x "$NATS_SERVER" ]]; then
  echo "test-on-nats.sh: $NATS_SERVER is missing: install Debian's nats-server (apt-get install nats-server, as root)" >&2
  exit 1
fi
export NATS_SERVER
export CONSORT_TEST_BACKEND=nats

if [[ "${1:-}" != "--no-build" ]]; then
  npm run build --silent || { echo "build failed"; exit 1; }
fi

SUITE_SUFFIX=" on NATS"
source scripts/suites.sh

run typescript npx vitest run
run python bash test/python/run.sh
run go bash test/go/run.sh
run examples bash test/examples/run.sh
if [ -f test/browser/run.sh ]; then run browser bash test/browser/run.sh; fi

summary "suites on NATS"

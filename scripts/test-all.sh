#!/usr/bin/env bash
# The README's test command (after `npm ci`): builds the server, then runs every suite — TypeScript (vitest:
# core units and API tests through grpc-js, Connect and gRPC-Web clients), Python (pytest, generated client,
# venv in .venv), Go (go test, generated client), the examples (the quick start in three languages, each agent a
# process, output checked; the README's snippets), the browser tests (headless Chromium) and the tests against a
# real NATS JetStream server (Debian's nats-server, started per test file), then the TypeScript, Python, Go,
# examples and browser suites again with every server they start on NATS JetStream (scripts/test-on-nats.sh).
# Each suite installs what it needs.
# Exits non-zero if any suite fails; the last line counts the suites.
set -uo pipefail
cd "$(dirname "$0")/.."

npm run build --silent || { echo "build failed"; exit 1; }

source scripts/suites.sh

run typescript npx vitest run
run python bash test/python/run.sh
run go bash test/go/run.sh
run examples bash test/examples/run.sh
if [ -f test/browser/run.sh ]; then run browser bash test/browser/run.sh; fi
run nats bash test/nats/run.sh
# The same suites again with every server on NATS JetStream (CONSORT_TEST_BACKEND=nats; nats-server installed above).
run on-nats bash scripts/test-on-nats.sh --no-build

summary "suites"

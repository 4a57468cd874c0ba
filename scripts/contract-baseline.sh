#!/usr/bin/env bash
# Records the contract as it stands (proto/, with its imports) in .ci/contract-baseline.binpb: the published
# contract `buf breaking` holds every later change to (see .ci/run). Run it deliberately, when a release
# is cut, never to make a failing check pass; a one-time breaking change an issue asks for is allowed by a
# commented `ignore_only` entry in buf.yaml instead, removed again with the next baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
buf build proto --exclude-source-info -o .ci/contract-baseline.binpb
echo "wrote .ci/contract-baseline.binpb from $(git rev-parse --short HEAD 2>/dev/null || echo 'the working tree')"

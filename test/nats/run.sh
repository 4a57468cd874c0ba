#!/usr/bin/env bash
# Runs the tests against a real NATS JetStream server (test/nats): each test file starts Debian's nats-server -js
# itself (throwaway store, 127.0.0.1, a free port). Installs Debian's nats-server when it is missing (as root);
# never downloads a server otherwise. NATS_SERVER names another executable.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

NATS_SERVER="${NATS_SERVER:-/usr/sbin/nats-server}"
if [[ ! -x "$NATS_SERVER" ]]; then
  if [[ "$(id -u)" -eq 0 ]]; then
    echo "run.sh: $NATS_SERVER is missing; installing Debian's nats-server package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
  else
    echo "run.sh: $NATS_SERVER is missing. Install Debian's nats-server as root, then run again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y nats-server" >&2
    exit 1
  fi
fi
export NATS_SERVER

# The replica-process tests start the built server (dist/src/main.js), as users do.
if [[ ! -f dist/src/main.js ]]; then
  npm run build --silent
fi

exec npx vitest run --config test/nats/vitest.config.ts "$@"

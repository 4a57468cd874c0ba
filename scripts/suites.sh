# Sourced by scripts/test-all.sh and scripts/test-on-nats.sh: runs suites one after the other, keeps going when one
# fails, and sums them up. `SUITE_SUFFIX` (e.g. " on NATS") is added to each suite's name.
# Usage: run <name> <command...> (as many as needed), then `summary`, which exits non-zero if any suite failed.
passed=0
failed=0
names=()
run() { # name command...
  local name="$1${SUITE_SUFFIX:-}"
  shift
  echo
  echo "=== $name ==="
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    names+=("$name: passed in $((SECONDS - t0))s")
  else
    failed=$((failed + 1))
    names+=("$name: FAILED after $((SECONDS - t0))s")
  fi
}
summary() { # what
  echo
  printf '%s\n' "${names[@]}"
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

#!/usr/bin/env bash
# Run the real-peer lifecycle tests (OctoPrint Virtual Printer, Moonraker + Klippy) N times in a
# row and report how many runs passed. Usage: scripts/peer_repeat.sh [N]   (default 20)
# Peers come from the cache (tests/peer_paths.py, scripts/peers/*.sh); without them the tests
# skip, and this script says so and fails rather than counting skips as passes.
# Environment: APF_PYTHON (interpreter), APF_PEER_TESTS (override the test selection).
set -uo pipefail
cd "$(dirname "$0")/.."
N="${1:-20}"
PY="${APF_PYTHON:-$PWD/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
TESTS=(${APF_PEER_TESTS:-tests/runtime/test_real_octoprint.py tests/runtime/test_real_moonraker.py \
  tests/drivers/test_octoprint.py tests/drivers/test_moonraker.py})
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/apf-peer-repeat.XXXXXX")
passed=0
for i in $(seq 1 "$N"); do
  log="$LOGS/run-$i.log"
  start=$(date +%s)
  PYTHONPATH=$PWD "$PY" -m pytest "${TESTS[@]}" -p no:homeassistant -p no:cacheprovider \
    --basetemp="$LOGS/tmp-$i" -q -k "not postgresql" -rsfE >"$log" 2>&1
  rc=$?
  summary=$(tail -n 1 "$log")
  if [ "$rc" = 0 ] && grep -q "SKIPPED.*\(peer\|SETUP\|scripts/peers\)" "$log"; then
    rc=99 # a skipped peer is not a pass
    summary="peer missing: $summary"
  fi
  [ "$rc" = 0 ] && passed=$((passed + 1))
  printf 'run %2d/%d: %s (%ss) %s\n' "$i" "$N" "$([ "$rc" = 0 ] && echo PASS || echo FAIL)" \
    "$(($(date +%s) - start))" "$summary"
  # Name what failed here: CI keeps only this script's output, not the logs.
  [ "$rc" = 0 ] || grep -E "^(FAILED|ERROR) " "$log" | head -n 5 | sed 's/^/    /'
done
echo "peer lifecycle runs: $passed/$N passed (logs in $LOGS)"
[ "$passed" = "$N" ]

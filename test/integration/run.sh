#!/usr/bin/env bash
# Integration tests (npm run test:integration): previews every committed
# stack offline with the real engine and plugins, then starts the OpenStack lab,
# runs the API tier and the engine tier on it, and stops the lab whatever
# happens.
#
# Environment:
#   SKE_LAB_DIR        lab state directory (default: a new temp dir, removed afterwards)
#   SKE_LAB_KEEP=1     stop the lab but keep its directory (logs, database) for inspection
#   SKE_TOOLCHAIN_CACHE  where scripts/toolchain/build.sh put the binaries
#   SKE_LAB_NOVA=0     do not start Nova (fake driver), Glance and Placement: no pre-flight
#                      test, and the engine tier deploys the network layer only (default 1)
#   SKE_INTEGRATION_REPORT  copy the API tier's vitest JSON report there (for
#                      scripts/threat-model/check.ts, which .ci/run runs on it)
#
# Last line: `integration: N passed, M failed, K skipped`; exit 1 if M > 0.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/test/integration"
cd "$ROOT" || exit 1
STARTED=$(date +%s.%N)
seconds_since() { awk -v now="$(date +%s.%N)" -v then="$1" 'BEGIN { printf "%.1f", now - then }'; }

OWN_LAB_DIR=0
if [ -z "${SKE_LAB_DIR:-}" ]; then
  SKE_LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ske-lab.XXXXXX")
  OWN_LAB_DIR=1
fi
export SKE_LAB_DIR

PASSED=0 FAILED=0 SKIPPED=0
FAILURES=() SKIPS=()
TIMES=()

# shellcheck source=openstack-lab/lib.sh
source "$HERE/openstack-lab/lib.sh"
lab_memory() { # "<RSS> MiB RSS / <PSS> MiB PSS" of the lab's recorded processes now
  local rss=0 pss=0 pidfile pid
  for pidfile in "$SKE_LAB_DIR"/pids/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    rss=$(( rss + $(rss_kib "$pid") )); pss=$(( pss + $(pss_kib "$pid") ))
  done
  echo "$(( rss / 1024 )) MiB RSS / $(( pss / 1024 )) MiB PSS"
}

stop_lab() {
  local purge=--purge
  if [ "${SKE_LAB_KEEP:-0}" = 1 ] || [ "$OWN_LAB_DIR" = 0 ]; then purge=""; fi
  bash "$HERE/openstack-lab/stop.sh" $purge
}
trap stop_lab EXIT
trap 'exit 130' INT TERM

# Runs one node-script tier whose last line is `<word>: N passed, M failed, K
# skipped` and adds its counts, FAILED and SKIPPED lines to the totals. A tier
# that reported nothing broke before its first step: never a silent pass.
run_script_tier() { # <tier name> <summary word> <script>
  local tier="$1" word="$2" script="$3" started line passed failed skipped
  local log="$SKE_LAB_DIR/${tier// /-}.log"
  started=$(date +%s.%N)
  node scripts/run-ts.cjs "$script" 2>&1 | tee "$log"
  line=$(grep -E "^$word: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$" "$log" | tail -n 1)
  if [ -z "$line" ]; then
    FAILED=$(( FAILED + 1 )); FAILURES+=("$tier: the runner reported no result")
  else
    read -r _ passed _ failed _ skipped _ <<<"$line"
    PASSED=$(( PASSED + passed )); FAILED=$(( FAILED + failed )); SKIPPED=$(( SKIPPED + skipped ))
    mapfile -t -O "${#FAILURES[@]}" FAILURES < <(sed -n "s/^  FAILED \(.*\)\$/$tier: \1/p" "$log")
    mapfile -t -O "${#SKIPS[@]}" SKIPS < <(sed -n "s/^  SKIPPED \(.*\)\$/$tier: \1/p" "$log")
  fi
  TIMES+=("$tier: $(seconds_since "$started")s")
}

# ---------------------------------------------------------------- preview tier
# Offline `pulumi preview` of every committed stack with the real plugins and
# the CrossGuard pack (test/integration/preview/): no lab, no credential, so
# it runs first and on its own.
echo "== preview tier: every committed stack, real engine and plugins, policy pack attached"
run_script_tier "preview tier" preview "$HERE/preview/run.ts"

# ---------------------------------------------------------------- lab
echo "== starting the OpenStack lab in $SKE_LAB_DIR"
lab_started=$(date +%s.%N)
if ! bash "$HERE/openstack-lab/start.sh"; then
  echo "integration: 0 passed, 1 failed, 0 skipped (the lab did not start; logs in $SKE_LAB_DIR/logs)"
  SKE_LAB_KEEP=1
  exit 1
fi
TIMES+=("lab start: $(seconds_since "$lab_started")s")
# Nova, Glance and Placement unless SKE_LAB_NOVA=0: about 1 GiB more memory.
# With them, the pre-flight test (preflight.test.ts) runs in the API tier and
# the engine tier deploys the compute layer too; without them the pre-flight
# test is reported as skipped.
if [ "${SKE_LAB_NOVA:-1}" = 1 ]; then
  echo "== starting Nova (fake driver), Glance and Placement"
  nova_started=$(date +%s.%N)
  if ! bash "$HERE/openstack-lab/start-nova.sh"; then
    echo "integration: 0 passed, 1 failed, 0 skipped (Nova did not start; logs in $SKE_LAB_DIR/logs)"
    SKE_LAB_KEEP=1
    exit 1
  fi
  TIMES+=("nova start: $(seconds_since "$nova_started")s")
fi
# Read now: a purged lab directory is gone by the summary.
lab_summary=$(awk -F'\t' '$1 == "packages" { p = $2 } $1 == "nova-packages" { n = $2; nova = 1 }
  END { printf "lab packages: %.1fs of the start (0 when already installed)", p; if (nova) printf "; Nova packages: %.1fs of Nova'"'"'s start", n }' "$SKE_LAB_DIR/timing.tsv")
memory_at_ready=$(awk -F'\t' '$1 == "total" { printf "%d MiB RSS / %d MiB PSS", $3 / 1024, $4 / 1024 }' "$SKE_LAB_DIR/memory.tsv")

# ---------------------------------------------------------------- API tier
echo
echo "== API tier: the network layer of test-lab through Neutron's REST API"
api_started=$(date +%s.%N)
npx vitest run --config "$HERE/vitest.config.mts" \
  --reporter=default --reporter=json --outputFile.json="$SKE_LAB_DIR/api-tier.json"
api_status=$?
TIMES+=("API tier: $(seconds_since "$api_started")s")
if [ -n "${SKE_INTEGRATION_REPORT:-}" ] && [ -f "$SKE_LAB_DIR/api-tier.json" ]; then
  cp "$SKE_LAB_DIR/api-tier.json" "$SKE_INTEGRATION_REPORT"
fi
if [ -f "$SKE_LAB_DIR/api-tier.json" ]; then
  PASSED=$(( PASSED + $(jq .numPassedTests "$SKE_LAB_DIR/api-tier.json") ))
  FAILED=$(( FAILED + $(jq .numFailedTests "$SKE_LAB_DIR/api-tier.json") ))
  SKIPPED=$(( SKIPPED + $(jq '.numPendingTests + .numTodoTests' "$SKE_LAB_DIR/api-tier.json") ))
  mapfile -t -O "${#FAILURES[@]}" FAILURES < <(jq -r '.testResults[].assertionResults[] | select(.status == "failed") | "API tier: " + .title' "$SKE_LAB_DIR/api-tier.json")
fi
if [ "$api_status" != 0 ] && [ "$FAILED" = 0 ]; then
  FAILED=1; FAILURES+=("API tier: vitest exited with $api_status before reporting a failed test")
fi
memory_after_api=$(lab_memory)

# ---------------------------------------------------------------- engine tier
# The real Pulumi CLI runs stacks/index.ts through the Automation API (the
# language host cannot be built here) with the real OpenStack plugin, bridged
# from terraform-provider-openstack (scripts/toolchain/providers); see
# test/integration/engine/.
echo
echo "== engine tier: the real Pulumi engine on the same lab"
run_script_tier "engine tier" engine "$HERE/engine/run.ts"

# ---------------------------------------------------------------- stop
echo
trap - EXIT
stop_started=$(date +%s.%N)
stop_lab
TIMES+=("lab stop: $(seconds_since "$stop_started")s")

# ---------------------------------------------------------------- summary
echo
echo "== summary"
echo "  $lab_summary"
for t in "${TIMES[@]}"; do echo "  $t"; done
echo "  lab memory (keystone, neutron-server, mariadb and their workers): $memory_at_ready at ready; $memory_after_api after the API tier"
echo "  total: $(seconds_since "$STARTED")s"
for s in "${SKIPS[@]}"; do echo "  SKIPPED $s"; done
for f in "${FAILURES[@]}"; do echo "  FAILED  $f"; done
echo "integration: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]

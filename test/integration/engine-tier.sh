#!/usr/bin/env bash
# Engine tier of the integration tests: the real Pulumi engine, language host
# and provider plugins from the toolchain cache (scripts/toolchain/build.sh
# lays them out; this script never builds anything).
#
#   1. `pulumi preview` of every committed stack, offline: no OS_* credentials,
#      no GitHub token, local file backend, passphrase secrets.
#   2. Against the lab: `pulumi up` of the test-lab stack, the API tier's
#      proofs on what the provider created, `pulumi preview
#      --expect-no-changes`, `pulumi destroy`, and no leftovers.
#
# A step whose binaries are missing is SKIPPED, loudly, with the reason the
# toolchain recorded in timings.tsv. Output ends with lines the runner counts:
#   engine-step: <name> <passed|failed|skipped> <seconds> [reason]
#
#   test/integration/engine-tier.sh <lab-dir> <rendered Pulumi.test-lab.yaml>
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LAB_DIR="${1:?usage: engine-tier.sh <lab-dir> <rendered Pulumi.test-lab.yaml>}"
LAB_STACK_FILE="${2:?usage: engine-tier.sh <lab-dir> <rendered Pulumi.test-lab.yaml>}"
cd "$ROOT" || exit 1
CACHE="${SKE_TOOLCHAIN_CACHE:-$HOME/.cache/ske-platform/toolchain}"
TIMINGS="$CACHE/timings.tsv"

# The layout build.sh prints (export lines at the end of scripts/toolchain/build.sh).
export PATH="$CACHE/path:$ROOT/node_modules/.bin:$PATH"
export PULUMI_HOME="$CACHE/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_SKIP_CONFIRMATIONS=true
export PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true

step_report() { echo "engine-step: $*"; }
seconds_since() { awk -v now="$(date +%s.%N)" -v then="$1" 'BEGIN { printf "%.1f", now - then }'; }

# Why a toolchain component is absent: the newest note timings.tsv holds for it.
why_missing() {
  local component=$1 row
  row=$(awk -F'\t' -v c="$component" '$2 == c { last = $4 ": " $8 } END { print last }' "$TIMINGS" 2>/dev/null)
  echo "${row:-never built (run scripts/toolchain/build.sh $component)}"
}

# Plugins the program needs: every @pulumi/* provider SDK in package.json, at
# the version the SDK asks the engine for.
mapfile -t PLUGINS < <(node -e '
  const deps = require(process.argv[1]).dependencies;
  for (const [name, version] of Object.entries(deps)) {
    const short = name.replace(/^@pulumi\//, "");
    if (name.startsWith("@pulumi/") && !["pulumi", "policy"].includes(short)) console.log(`${short} ${version}`);
  }' "$ROOT/package.json")

MISSING_ALL=()   # binaries step 1 lacks (every one)
MISSING_LAB=()   # binaries step 2 lacks (CLI, language host, openstack only)
need() { # need <component> <path> <needed by step 2: yes|no>
  [ -x "$2" ] && return 0
  echo "   MISSING $2"
  echo "           $1 $(why_missing "$1")"
  MISSING_ALL+=("$(basename "$2")")
  [ "$3" = no ] || MISSING_LAB+=("$(basename "$2")")
}
echo "== engine tier: toolchain in $CACHE"
need pulumi "$CACHE/path/pulumi" yes
need language-nodejs "$CACHE/path/pulumi-language-nodejs" yes
for plugin in "${PLUGINS[@]}"; do
  set -- $plugin
  need "$1" "$PULUMI_HOME/plugins/resource-$1-v$2/pulumi-resource-$1" "$([ "$1" = openstack ] && echo yes || echo no)"
done

[ ${#MISSING_ALL[@]} -gt 0 ] || echo "   every binary present: pulumi, pulumi-language-nodejs, ${#PLUGINS[@]} plugins"

if [ ${#MISSING_LAB[@]} -gt 0 ]; then
  # Step 2 needs a subset of step 1's binaries: nothing can run.
  echo "== SKIPPED: offline pulumi preview of every committed stack"
  step_report preview-committed-stacks skipped 0 "missing: ${MISSING_ALL[*]}"
  echo "== SKIPPED: pulumi up / preview --expect-no-changes / destroy of test-lab against the lab"
  step_report lab-up-preview-destroy skipped 0 "missing: ${MISSING_LAB[*]}"
  exit 0
fi

# A project directory of our own: symlinks to the repository, but copies of
# the stack files, because `pulumi stack init` writes the passphrase salt into
# Pulumi.<stack>.yaml and the committed files must stay untouched.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ske-engine.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PROJECT="$WORK/project"
mkdir -p "$PROJECT" "$WORK/state"
for entry in "$ROOT"/* "$ROOT"/.[!.]*; do
  case "$(basename "$entry")" in
    .git|out) ;;
    Pulumi.yaml) ln -s "$entry" "$PROJECT/" ;;
    Pulumi.*.yaml) cp "$entry" "$PROJECT/" ;;
    *) ln -s "$entry" "$PROJECT/" ;;
  esac
done
cp "$LAB_STACK_FILE" "$PROJECT/Pulumi.test-lab.yaml"
export PULUMI_BACKEND_URL="file://$WORK/state"
export PULUMI_CONFIG_PASSPHRASE="integration-only-passphrase"
pulumi_in() { pulumi --cwd "$PROJECT" --non-interactive --color never "$@"; }

# No cloud for the offline previews: no OpenStack credentials, no GitHub token.
offline() { env $(compgen -e | grep -E '^(OS_|GITHUB_TOKEN$|GH_TOKEN$)' | sed 's/^/-u /') "$@"; }

# ---------------------------------------------------------------- 1. previews
if [ ${#MISSING_ALL[@]} -gt 0 ]; then
  echo "== SKIPPED: offline pulumi preview of every committed stack"
  step_report preview-committed-stacks skipped 0 "missing: ${MISSING_ALL[*]}"
else
  for stackfile in "$PROJECT"/Pulumi.*.yaml; do
    stack=$(basename "$stackfile" .yaml); stack=${stack#Pulumi.}
    [ "$stack" = test-lab ] && continue
    started=$(date +%s.%N)
    echo "== pulumi preview --stack $stack (offline)"
    if pulumi_in stack init "$stack" --secrets-provider passphrase >/dev/null \
       && offline pulumi --cwd "$PROJECT" --non-interactive --color never preview --stack "$stack" --suppress-progress; then
      step_report "preview-$stack" passed "$(seconds_since "$started")"
    else
      step_report "preview-$stack" failed "$(seconds_since "$started")"
    fi
  done
fi

# ---------------------------------------------------------------- 2. lab
# shellcheck disable=SC1091
source "$LAB_DIR/openrc"
run_step() { # run_step <name> <command...>
  local name=$1 started; shift
  started=$(date +%s.%N)
  echo "== $name"
  if "$@"; then step_report "$name" passed "$(seconds_since "$started")"; return 0; fi
  step_report "$name" failed "$(seconds_since "$started")"; return 1
}
leftovers() { # every object of ours still in the lab, through the openstack CLI
  local kind found=0
  for kind in network subnet router "security group"; do
    # shellcheck disable=SC2086
    if openstack $kind list --tags managed-by:ske-platform -f value -c ID -c Name | grep .; then found=1; fi
  done
  for owner in network:router_interface network:router_gateway; do
    if openstack port list --device-owner "$owner" -f value -c ID | grep .; then found=1; fi
  done
  echo "servers: none possible (no Nova in the lab)"
  [ "$found" = 0 ]
}

pulumi_in stack init test-lab --secrets-provider passphrase >/dev/null || { step_report lab-up failed 0 "stack init"; exit 0; }
if run_step lab-up pulumi_in up --stack test-lab --yes --skip-preview --suppress-progress; then
  # The API tier's proofs, on what the provider created (no applier writes).
  run_step lab-proofs-after-up env SKE_LAB_DIR="$LAB_DIR" SKE_LAB_APPLIED_BY=pulumi \
    npx vitest run --config "$ROOT/test/integration/vitest.config.mts"
  run_step lab-expect-no-changes pulumi_in preview --stack test-lab --expect-no-changes --suppress-progress
fi
run_step lab-destroy pulumi_in destroy --stack test-lab --yes --suppress-progress
run_step lab-no-leftovers leftovers
exit 0

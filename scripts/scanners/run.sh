#!/usr/bin/env bash
# Build (or reuse) trivy and kube-score, then scan every Kubernetes object the
# synthesized stacks create, gated on scripts/scanners/waivers.yaml, and show
# that each scanner fails a deliberately bad object.
#
# Usage: scripts/scanners/run.sh [out-dir]   (default: out; needs <out>/<stack>/resources.json from synth)
# Exit status: 0 clean, 1 a new finding / stale waiver / self-test failure, 2 a scanner could not be built.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT="${1:-out}"
if ! scanner_env="$(bash scripts/scanners/build.sh)"; then
  echo "scanners: could not build trivy or kube-score (see above)" >&2
  exit 2
fi
eval "$scanner_env"
node scripts/run-ts.cjs scripts/scanners/scan.ts --out "$OUT" --self-test

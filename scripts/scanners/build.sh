#!/usr/bin/env bash
# Build the manifest scanners (trivy, kube-score) from their Go modules and
# cache each binary by its pin, outside the repository.
#
# Usage: scripts/scanners/build.sh [trivy|kube-score ...]   (default: both)
# stdout: one `export PATH=...` line, so `eval "$(build.sh)"` works.
# stderr: progress and wall time per binary.
#
# Cold: trivy takes about 7 minutes on 2 cores (a large dependency tree);
# kube-score well under a minute. Warm: a stat of the cached binary.
set -euo pipefail

CACHE="${SKE_SCANNERS_CACHE:-$HOME/.cache/ske-platform/scanners}"
export GOMODCACHE="${SKE_SCANNERS_GOMODCACHE:-$HOME/.cache/ske-platform/toolchain/go/mod}"
export GOCACHE="${SKE_SCANNERS_GOCACHE:-$HOME/.cache/ske-platform/toolchain/go/build}"
export CGO_ENABLED=0
export GOFLAGS=-buildvcs=false
NICE="${SKE_SCANNERS_NICE:-10}"

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; else
    echo "scanners/build.sh: no go command on PATH" >&2; exit 2; fi
fi

# name -> "package@version|extra environment"
# trivy v0.74.0 uses encoding/json/v2, which Go only compiles under
# GOEXPERIMENT=jsonv2. kube-score v1.20.0 is the newest tag the module proxy
# serves for github.com/zegl/kube-score.
declare -A PIN
PIN[trivy]="github.com/aquasecurity/trivy/cmd/trivy@v0.74.0|GOEXPERIMENT=jsonv2"
PIN[kube-score]="github.com/zegl/kube-score/cmd/kube-score@v1.20.0|"

log() { printf '[scanners] %s\n' "$*" >&2; }

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(trivy kube-score)
mkdir -p "$CACHE" "$GOMODCACHE" "$GOCACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then log "waiting for another scanners build on $CACHE"; flock 9; fi

failed=0
for name in "${want[@]}"; do
  if [ -z "${PIN[$name]+x}" ]; then log "unknown scanner '$name'"; exit 2; fi
  IFS='|' read -r spec env <<<"${PIN[$name]}"
  version="${spec##*@}"
  dir="$CACHE/$name-$version"
  t0=$SECONDS
  if [ -x "$dir/$name" ] && [ "$(cat "$dir/.complete" 2>/dev/null)" = "$spec" ]; then
    log "$name $version: cached ($dir/$name)"
  else
    rm -rf "$dir"; mkdir -p "$dir"
    log "$name $version: building $spec (cold: trivy ~7 min on 2 cores)"
    if env $env GOBIN="$dir" nice -n "$NICE" go install -trimpath -ldflags "-s -w" "$spec" >"$CACHE/$name.log" 2>&1; then
      printf '%s\n' "$spec" >"$dir/.complete"
      log "$name $version: built in $((SECONDS - t0))s"
    else
      log "$name $version: build failed after $((SECONDS - t0))s:"; tail -n 20 "$CACHE/$name.log" | sed 's/^/    /' >&2
      failed=1; continue
    fi
  fi
  mkdir -p "$CACHE/path"
  ln -sfn "$dir/$name" "$CACHE/path/$name"
done
echo "export PATH=\"$CACHE/path:\$PATH\""
exit $failed

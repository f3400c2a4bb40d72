#!/usr/bin/env bash
# Build the strict Kubernetes object checker (main.go in this folder) from the
# Go module proxy and cache the binary by pin, outside the repository. The
# unit suite feeds it every Kubernetes object synth renders
# (test/k8s-strict-decoding.test.ts); nothing deploys it.
#
# The pin is k8s.io/api in go.mod (through client-go), kept at the minor the
# clusters run (clusters.kubernetesVersion); a test fails when they drift.
#
# Usage: scripts/k8s-strict/build.sh
# stdout: one `export SKE_K8S_STRICT=...` line, so `eval "$(build.sh)"` works.
# stderr: progress and wall time.
# Cold (empty module and build caches): 228 s wall, 59 s CPU, measured on 2
# shared cores under load (mostly the module downloads); warm: a stat.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="$(sed -n 's|^\s*k8s.io/api \(v[^ ]*\).*$|\1|p' "$HERE/go.mod")"
CACHE="${SKE_K8S_STRICT_CACHE:-$HOME/.cache/ske-platform/k8s-strict}"
export GOMODCACHE="${SKE_K8S_STRICT_GOMODCACHE:-$HOME/.cache/ske-platform/toolchain/go/mod}"
export GOCACHE="${SKE_K8S_STRICT_GOCACHE:-$HOME/.cache/ske-platform/toolchain/go/build}"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
NICE="${SKE_K8S_STRICT_NICE:-10}"

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; else
    echo "k8s-strict/build.sh: no go command on PATH" >&2; exit 2; fi
fi
log() { printf '[k8s-strict] %s\n' "$*" >&2; }

[ -n "$VERSION" ] || { log "no k8s.io/api pin in $HERE/go.mod"; exit 2; }
# The source is part of the pin: a changed checker is rebuilt.
stamp="$VERSION $(sha256sum "$HERE/go.mod" "$HERE/go.sum" "$HERE/main.go" | sha256sum | cut -c1-16)"
dir="$CACHE/$VERSION"
mkdir -p "$CACHE" "$GOMODCACHE" "$GOCACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then log "waiting for another k8s-strict build on $CACHE"; flock 9; fi

t0=$SECONDS
if [ -x "$dir/k8s-strict" ] && [ "$(cat "$dir/.complete" 2>/dev/null)" = "$stamp" ]; then
  log "k8s-strict (k8s.io/api $VERSION): cached ($dir/k8s-strict)"
else
  rm -rf "$dir"; mkdir -p "$dir/mod"
  cp "$HERE/go.mod" "$HERE/go.sum" "$HERE/main.go" "$dir/mod/"
  log "k8s-strict (k8s.io/api $VERSION): building"
  if (cd "$dir/mod" && nice -n "$NICE" go build -mod=readonly -trimpath -ldflags "-s -w" \
        -o "$dir/k8s-strict.tmp" .) >"$dir/build.log" 2>&1; then
    mv -f "$dir/k8s-strict.tmp" "$dir/k8s-strict"
    printf '%s\n' "$stamp" >"$dir/.complete"
    log "k8s-strict (k8s.io/api $VERSION): built in $((SECONDS - t0))s"
  else
    log "k8s-strict (k8s.io/api $VERSION): build failed after $((SECONDS - t0))s:"; tail -n 20 "$dir/build.log" | sed 's/^/    /' >&2
    exit 1
  fi
fi
echo "export SKE_K8S_STRICT=\"$dir/k8s-strict\""

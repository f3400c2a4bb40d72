#!/usr/bin/env bash
# Build the real talosctl from its Go module and cache the binary by pin,
# outside the repository. Tests use it to parse every talosctl invocation the
# roll-out generates (test/talos-argv.test.ts); nothing deploys it.
#
# Why a wrapper module (this folder): talosctl lives in the Talos root module,
# whose go.mod carries replace directives (forked yaml, dhcp, wgctrl, ...).
# `go install pkg@version` ignores replaces, so this module repeats the
# non-local ones and pins every dependency in its committed go.sum.
#
# Usage: scripts/talosctl/build.sh
# stdout: one `export SKE_TALOSCTL=...` line, so `eval "$(build.sh)"` works.
# stderr: progress and wall time.
# Cold: about 10 minutes on 2 cores; warm: a stat of the cached binary.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION="$(sed -n 's|^require github.com/siderolabs/talos \(v[^ ]*\)$|\1|p' "$HERE/go.mod")"
CACHE="${SKE_TALOSCTL_CACHE:-$HOME/.cache/ske-platform/talosctl}"
export GOMODCACHE="${SKE_TALOSCTL_GOMODCACHE:-$HOME/.cache/ske-platform/toolchain/go/mod}"
export GOCACHE="${SKE_TALOSCTL_GOCACHE:-$HOME/.cache/ske-platform/toolchain/go/build}"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Two forks the checksum database does not list; go.sum pins them.
export GONOSUMDB=github.com/siderolabs/wgctrl-go,github.com/smira/dhcp
NICE="${SKE_TALOSCTL_NICE:-10}"

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; else
    echo "talosctl/build.sh: no go command on PATH" >&2; exit 2; fi
fi
log() { printf '[talosctl] %s\n' "$*" >&2; }

[ -n "$VERSION" ] || { log "no talos pin in $HERE/go.mod"; exit 2; }
stamp="$VERSION $(sha256sum "$HERE/go.mod" "$HERE/go.sum" | sha256sum | cut -c1-16)"
dir="$CACHE/$VERSION"
mkdir -p "$CACHE" "$GOMODCACHE" "$GOCACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then log "waiting for another talosctl build on $CACHE"; flock 9; fi

t0=$SECONDS
if [ -x "$dir/talosctl" ] && [ "$(cat "$dir/.complete" 2>/dev/null)" = "$stamp" ]; then
  log "talosctl $VERSION: cached ($dir/talosctl)"
else
  rm -rf "$dir"; mkdir -p "$dir/mod"
  cp "$HERE/go.mod" "$HERE/go.sum" "$HERE/tools.go" "$dir/mod/"
  log "talosctl $VERSION: building (cold: about 10 min on 2 cores)"
  if (cd "$dir/mod" && nice -n "$NICE" go build -mod=readonly -trimpath \
        -ldflags "-s -w -X github.com/siderolabs/talos/pkg/machinery/version.Tag=$VERSION" \
        -o "$dir/talosctl.tmp" github.com/siderolabs/talos/cmd/talosctl) >"$dir/build.log" 2>&1; then
    mv -f "$dir/talosctl.tmp" "$dir/talosctl"
    printf '%s\n' "$stamp" >"$dir/.complete"
    log "talosctl $VERSION: built in $((SECONDS - t0))s"
  else
    log "talosctl $VERSION: build failed after $((SECONDS - t0))s:"; tail -n 20 "$dir/build.log" | sed 's/^/    /' >&2
    exit 1
  fi
fi
echo "export SKE_TALOSCTL=\"$dir/talosctl\""

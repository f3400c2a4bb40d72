#!/usr/bin/env bash
# Lint the GitHub Actions workflows with actionlint, built from its Go module.
#
# Usage: scripts/actionlint.sh [actionlint args ...]
#   no argument = every workflow file under .github/workflows/.
#
# The binary is built once per version into a cache directory keyed by that
# version and reused afterwards; the Go module proxy and the checksum database
# vouch for the source, so nothing unpinned is fetched.
#
# Environment:
#   SKE_ACTIONLINT_VERSION  module version to build (default v1.7.12)
#   SKE_TOOLCHAIN_CACHE     cache root shared with scripts/toolchain/build.sh
#                           (default $HOME/.cache/ske-platform/toolchain)
#   SKE_TOOLCHAIN_GOCACHE / SKE_TOOLCHAIN_GOMODCACHE  Go caches (as in build.sh)
#
# Exit status: actionlint's (0 = clean, 1 = problems found); 2 when it cannot
# be built.
set -euo pipefail

VERSION="${SKE_ACTIONLINT_VERSION:-v1.7.12}"
MODULE="github.com/rhysd/actionlint"
PACKAGE="$MODULE/cmd/actionlint"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SKE_TOOLCHAIN_CACHE:-$HOME/.cache/ske-platform/toolchain}"
OUTDIR="$CACHE/bin/actionlint-$VERSION"
BIN="$OUTDIR/actionlint"

log() { printf '[actionlint] %s\n' "$*" >&2; }

if [ ! -x "$BIN" ] || [ ! -f "$OUTDIR/.complete" ]; then
  if ! command -v go >/dev/null 2>&1; then
    if [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; else
      log "no go command on PATH"; exit 2; fi
  fi
  export GOMODCACHE="${SKE_TOOLCHAIN_GOMODCACHE:-$CACHE/go/mod}"
  export GOCACHE="${SKE_TOOLCHAIN_GOCACHE:-$CACHE/go/build}"
  export CGO_ENABLED=0
  mkdir -p "$OUTDIR"
  log "building $PACKAGE@$VERSION into $OUTDIR"
  # `go install pkg@version` builds in module mode from the proxy, ignoring
  # any go.mod around us; GOBIN puts the result in the versioned directory.
  if ! GOBIN="$OUTDIR" nice -n 10 go install -trimpath -ldflags "-s -w" "$PACKAGE@$VERSION"; then
    log "build of $PACKAGE@$VERSION failed"; exit 2
  fi
  printf '%s %s\n' "$PACKAGE" "$VERSION" >"$OUTDIR/.complete"
fi

cd "$ROOT"
if [ $# -eq 0 ]; then
  shopt -s nullglob
  set -- .github/workflows/*.yml .github/workflows/*.yaml
  if [ $# -eq 0 ]; then log "no workflow files under .github/workflows"; exit 2; fi
fi
exec "$BIN" -no-color "$@"

#!/usr/bin/env bash
# Regenerates the committed Pulumi schemas (cmd/pulumi-resource-<p>/schema.json)
# with the bridge's tfgen. Run it after changing a pin or a mapping in this
# module, then run `npx vitest run test/provider-schemas.test.ts` and commit.
# CI never runs it: plugins are built from the committed schemas.
#
# Usage: scripts/toolchain/providers/generate-schemas.sh [openstack github tls random]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SKE_TOOLCHAIN_CACHE:-$HOME/.cache/ske-platform/toolchain}"
export GOMODCACHE="${SKE_TOOLCHAIN_GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${SKE_TOOLCHAIN_GOCACHE:-$CACHE/go/build}"
export CGO_ENABLED=0
command -v go >/dev/null 2>&1 || PATH="/usr/local/go/bin:$PATH"

declare -A VERSION=([openstack]=3.15.2 [github]=6.15.0 [tls]=5.6.1 [random]=4.21.2)
want=("$@"); [ ${#want[@]} -gt 0 ] || want=(openstack github tls random)

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$HERE"
nice -n "${SKE_TOOLCHAIN_NICE:-10}" go build -mod=readonly -trimpath -o "$work/tfgen" ./cmd/tfgen
for p in "${want[@]}"; do
  [ -n "${VERSION[$p]:-}" ] || { echo "unknown provider $p" >&2; exit 2; }
  # Docs are skipped: they would come from upstream markdown the module zips
  # lack, and the engine does not need them. The program's SDKs carry their own.
  (cd "$work" && ./tfgen "$p" schema --skip-docs --skip-examples --out "$work/$p") >"$work/$p.log" 2>&1 \
    || { cat "$work/$p.log" >&2; exit 1; }
  # The version the npm SDK asks for; description strings dropped (the engine
  # never reads them, and they were most of the size); pretty-printed so that
  # a review sees what a pin change did.
  jq --arg v "${VERSION[$p]}" '.version = $v
    | walk(if type == "object" and (.description | type) == "string" then del(.description) else . end)' \
    "$work/$p/schema.json" >"cmd/pulumi-resource-$p/schema.json"
  printf '%s: %s resources, %s functions, %s bytes\n' "$p" \
    "$(jq '.resources | length' "cmd/pulumi-resource-$p/schema.json")" \
    "$(jq '.functions // {} | length' "cmd/pulumi-resource-$p/schema.json")" \
    "$(wc -c <"cmd/pulumi-resource-$p/schema.json")"
done

#!/usr/bin/env bash
# Build the Pulumi engine pieces (CLI, Node.js language host, provider plugins)
# from Go modules, in throw-away wrapper modules kept outside the repository.
#
# Usage: scripts/toolchain/build.sh [component ...]
#   components: pulumi language-nodejs openstack random tls command github kubernetes
#               kube-apiserver etcd
#   no argument = all of them, in that order.
#   openstack, random, tls and github are bridged from the upstream Terraform
#   providers by the repository's own Go module, scripts/toolchain/providers
#   (committed go.sum and generated schemas; see its README.md); the others
#   are upstream Go modules built in throw-away wrapper modules. kube-apiserver
#   and etcd come from the repository's Go module scripts/toolchain/kube
#   (committed go.sum; see its README.md), like the bridged plugins.
#
# stdout: only the `export ...` lines to use (so `eval "$(build.sh ...)"` works).
# stderr: progress and per-binary wall time. Timings are appended to $CACHE/timings.tsv.
#
# Environment:
#   SKE_TOOLCHAIN_CACHE     cache root (default $HOME/.cache/ske-platform/toolchain)
#   SKE_TOOLCHAIN_GOCACHE   Go build cache    (default $CACHE/go/build)
#   SKE_TOOLCHAIN_GOMODCACHE Go module cache  (default $CACHE/go/mod)
#   SKE_TOOLCHAIN_NICE      nice level for the go commands (default 10)
#   SKE_TOOLCHAIN_REBUILD=1 ignore cached binaries
#   SKE_PULUMI_VERSION, SKE_<NAME>_VERSION, SKE_<NAME>_MODVERSION  override pins
#     (<NAME> upper-case, '-' as '_', e.g. SKE_LANGUAGE_NODEJS_MODVERSION).
#
# Exit status: 0 when every requested component is available, 1 otherwise
# (the other components are still built and laid out).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SKE_TOOLCHAIN_CACHE:-$HOME/.cache/ske-platform/toolchain}"
export GOMODCACHE="${SKE_TOOLCHAIN_GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${SKE_TOOLCHAIN_GOCACHE:-$CACHE/go/build}"
export CGO_ENABLED="${CGO_ENABLED:-0}"
NICE="${SKE_TOOLCHAIN_NICE:-10}"
PULUMI_HOME_DIR="$CACHE/pulumi-home"
TIMINGS="$CACHE/timings.tsv"

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; else
    echo "build.sh: no go command on PATH" >&2; exit 2; fi
fi

log() { printf '[toolchain] %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
gorun() { nice -n "$NICE" go "$@"; }

# ---------------------------------------------------------------------------
# Pins. PLUGIN_VERSION is what the npm SDK asks for (what the engine matches);
# MODVERSION is the Go module version to build (differs only where the module
# proxy serves no tag for that release).
PULUMI_VERSION="${SKE_PULUMI_VERSION:-v3.276.0}"

ALL=(pulumi language-nodejs openstack random tls command github kubernetes kube-apiserver etcd)

# name -> "kind|binary|module|modversion|package|plugin-version|version-var|extra requires"
declare -A SPEC
SPEC[pulumi]="cli|pulumi|github.com/pulumi/pulumi/pkg/v3|$PULUMI_VERSION|github.com/pulumi/pulumi/pkg/v3/cmd/pulumi|${PULUMI_VERSION#v}|github.com/pulumi/pulumi/sdk/v3/go/common/version.Version|github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
# No sdk/nodejs/cmd/pulumi-language-nodejs/v3.x tags upstream: set
# SKE_LANGUAGE_NODEJS_MODVERSION to the pseudo-version of the release commit.
SPEC[language-nodejs]="language|pulumi-language-nodejs|github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3|$PULUMI_VERSION|github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3|${PULUMI_VERSION#v}|github.com/pulumi/pulumi/sdk/v3/go/common/version.Version|github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
# The module proxy refuses pulumi-openstack, -random, -tls and -github's
# provider modules (403), so these four are "bridged": built from
# scripts/toolchain/providers, and cached by a fingerprint of that module.
SPEC[openstack]="bridged|pulumi-resource-openstack|ske.local/toolchain/providers|local|./cmd/pulumi-resource-openstack|3.15.2||"
SPEC[random]="bridged|pulumi-resource-random|ske.local/toolchain/providers|local|./cmd/pulumi-resource-random|4.21.2||"
SPEC[tls]="bridged|pulumi-resource-tls|ske.local/toolchain/providers|local|./cmd/pulumi-resource-tls|5.6.1||"
# provider/ is a nested module without provider/vX tags: v1.2.1 (commit
# 7f3eb6f3b77c) exists for it only as a pseudo-version.
SPEC[command]="resource|pulumi-resource-command|github.com/pulumi/pulumi-command/provider|v0.0.0-20260303235922-7f3eb6f3b77c|github.com/pulumi/pulumi-command/provider/cmd/pulumi-resource-command|1.2.1|github.com/pulumi/pulumi-command/provider/pkg/version.Version|"
SPEC[github]="bridged|pulumi-resource-github|ske.local/toolchain/providers|local|./cmd/pulumi-resource-github|6.15.0||"
# The module proxy serves pulumi-kubernetes/provider/v4 only as a pseudo-version.
SPEC[kubernetes]="resource|pulumi-resource-kubernetes|github.com/pulumi/pulumi-kubernetes/provider/v4|v4.0.0-20260115033456-f47bc2d6f199|github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes|4.34.2|github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version|"

# The integration tier's real Kubernetes API server (test/integration/kube-apiserver):
# built like the bridged plugins, in place from scripts/toolchain/kube. The
# version variable is stamped so that /version reports the release.
SPEC[kube-apiserver]="server|kube-apiserver|ske.local/toolchain/kube|local|k8s.io/kubernetes/cmd/kube-apiserver|1.34.4|k8s.io/component-base/version.gitVersion|"
SPEC[etcd]="server|etcd|ske.local/toolchain/kube|local|./cmd/etcd|3.6.4||"

# Per-component overrides from the environment.
for name in "${ALL[@]}"; do
  up="$(printf '%s' "$name" | tr 'a-z-' 'A-Z_')"
  IFS='|' read -r kind bin mod modver pkg pver vvar extra <<<"${SPEC[$name]}"
  mv_var="SKE_${up}_MODVERSION"; pv_var="SKE_${up}_VERSION"
  modver="${!mv_var:-$modver}"; pver="${!pv_var:-$pver}"
  SPEC[$name]="$kind|$bin|$mod|$modver|$pkg|$pver|$vvar|$extra"
done

# ---------------------------------------------------------------------------
record() { # name version status download_s build_s total_s note
  if [ ! -f "$TIMINGS" ]; then
    printf 'date\tcomponent\tversion\tstatus\tdownload_s\tbuild_s\ttotal_s\tnote\n' >"$TIMINGS"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$@" >>"$TIMINGS"
}

PROVIDERS_MODULE="$HERE/providers"

# What a bridged plugin is built from: the whole providers module (its go.mod,
# go.sum, Go sources and shims) and the plugin's committed schema (for
# kube-apiserver and etcd: the whole kube module, which has no schema).
bridged_fingerprint() {
  local dir="$2" schema="cmd/pulumi-resource-$1/schema.json"
  [ -f "$dir/$schema" ] || schema=/dev/null
  (cd "$dir" && find . \( -name '*.go' -o -name go.mod -o -name go.sum \) -print | LC_ALL=C sort \
    | xargs cat "$schema" | sha256sum | cut -c1-16)
}

# Build one bridged plugin from scripts/toolchain/providers, in place: the
# module's committed go.sum is used read-only, nothing is resolved anew.
build_bridged() {
  local name="$1" bin="$2" pkg="$3" pver="$4" PROVIDERS_MODULE="$HERE/${5#ske.local/toolchain/}"
  local vflag=""; [ -z "${6:-}" ] || vflag=" -X $6=v$pver"
  local outdir="$CACHE/bin/$name-v$pver" out="$CACHE/bin/$name-v$pver/$bin"
  local t0; t0="$(now)"
  local fingerprint; fingerprint="$(bridged_fingerprint "$name" "$PROVIDERS_MODULE")"
  local stamp="bridged $fingerprint $pver"
  if [ "${SKE_TOOLCHAIN_REBUILD:-0}" != 1 ] && [ -x "$out" ] \
     && [ "$(cat "$outdir/.complete" 2>/dev/null)" = "$stamp" ]; then
    log "$name $pver: cached ($out) $(elapsed "$t0" "$(now)")s"
    record "$name" "$pver" cached 0 0 "$(elapsed "$t0" "$(now)")" "bridged $fingerprint"
    return 0
  fi
  local logs="$CACHE/wrappers/$name-bridged"
  rm -rf "$logs"; mkdir -p "$logs" "$outdir"
  log "$name $pver: bridged from $PROVIDERS_MODULE ($fingerprint); loading packages"
  # Downloads what the module cache lacks (checked against the committed
  # go.sum), so the build below measures compilation only.
  if ! (cd "$PROVIDERS_MODULE" && gorun list -mod=readonly -deps -e -f '{{with .Error}}{{.}}{{end}}' "$pkg") >"$logs/list.log" 2>"$logs/list.err" \
     || grep -q . "$logs/list.log"; then
    cat "$logs/list.err" >>"$logs/list.log"
    log "$name: loading packages failed after $(elapsed "$t0" "$(now)")s:"; head -n 40 "$logs/list.log" | sed 's/^/    /' >&2
    record "$name" "$pver" failed "$(elapsed "$t0" "$(now)")" 0 "$(elapsed "$t0" "$(now)")" "go list: $(head -n1 "$logs/list.log" | tr '\t' ' ')"
    return 1
  fi
  local t1; t1="$(now)"
  log "$name $pver: modules ready in $(elapsed "$t0" "$t1")s; building $pkg"
  if ! (cd "$PROVIDERS_MODULE" && gorun build -mod=readonly -trimpath -ldflags "-s -w$vflag" -o "$out.tmp" "$pkg") >"$logs/build.log" 2>&1; then
    local t2; t2="$(now)"
    log "$name: go build failed after $(elapsed "$t1" "$t2")s:"; tail -n 40 "$logs/build.log" | sed 's/^/    /' >&2
    record "$name" "$pver" failed "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" "$(elapsed "$t0" "$t2")" "go build: $(tail -n1 "$logs/build.log" | tr '\t' ' ')"
    return 1
  fi
  rm -f "$outdir/.complete"
  mv -f "$out.tmp" "$out"
  printf '%s\n' "$stamp" >"$outdir/.complete"
  local t2; t2="$(now)"
  log "$name $pver: built $out (download $(elapsed "$t0" "$t1")s, build $(elapsed "$t1" "$t2")s, total $(elapsed "$t0" "$t2")s, load $(cut -d' ' -f1-3 /proc/loadavg))"
  record "$name" "$pver" built "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" "$(elapsed "$t0" "$t2")" "bridged $fingerprint; load $(cut -d' ' -f1 /proc/loadavg)"
}

# Build one component; prints nothing on stdout. Returns non-zero on failure.
build_one() {
  local name="$1" kind bin mod modver pkg pver vvar extra
  IFS='|' read -r kind bin mod modver pkg pver vvar extra <<<"${SPEC[$name]}"
  if [ "$kind" = bridged ] || [ "$kind" = server ]; then build_bridged "$name" "$bin" "$pkg" "$pver" "$mod" "$vvar"; return; fi
  local key="$name-v$pver"
  local outdir="$CACHE/bin/$key"
  local out="$outdir/$bin"
  local t0; t0="$(now)"

  local stamp="$mod $modver $pver"
  # Cache hit only for a finished build of the same module version.
  if [ "${SKE_TOOLCHAIN_REBUILD:-0}" != 1 ] && [ -x "$out" ] \
     && [ "$(cat "$outdir/.complete" 2>/dev/null)" = "$stamp" ]; then
    local t1; t1="$(now)"
    log "$name $pver: cached ($out) $(elapsed "$t0" "$t1")s"
    record "$name" "$pver" cached 0 0 "$(elapsed "$t0" "$t1")" "$modver"
    return 0
  fi

  local template="$HERE/mod/$name.go.mod"
  if [ ! -f "$template" ]; then
    log "$name: no wrapper template $template"; return 1
  fi
  local why
  why="$(sed -n 's|^// unbuildable: ||p' "$template")"
  if [ -n "$why" ]; then
    log "$name $pver: not built: $why"
    record "$name" "$pver" unavailable 0 0 0 "$why"
    return 1
  fi
  local work="$CACHE/wrappers/$name-$modver"
  rm -rf "$work"; mkdir -p "$work"
  sed -e "s|@VERSION@|$modver|g" "$template" >"$work/go.mod"

  log "$name $pver: resolving $mod@$modver (GOMODCACHE=$GOMODCACHE)"
  local getargs=("$mod@$modver")
  local e; for e in $extra; do getargs+=("$e"); done
  if ! (cd "$work" && gorun get "${getargs[@]}") >"$work/get.log" 2>&1; then
    local t1; t1="$(now)"
    log "$name: go get failed after $(elapsed "$t0" "$t1")s:"; grep -v '^go: downloading' "$work/get.log" | head -n 20 | sed 's/^/    /' >&2
    record "$name" "$pver" failed "$(elapsed "$t0" "$t1")" 0 "$(elapsed "$t0" "$t1")" "go get: $(grep -v '^go: downloading' "$work/get.log" | tr '\t\n' '  ' | cut -c1-300)"
    return 1
  fi

  # Build target. Providers embed files (schema-embed.json, ...) that upstream
  # generates from committed <x>.json at build time and does not ship in the
  # module: build a copy of the command package inside the wrapper and
  # generate them there (schema: with "version" set to the plugin version).
  local target="$pkg" moddir pkgdir embeds f base
  moddir="$(cd "$work" && go list -m -f '{{.Dir}}' "$mod")"
  pkgdir="$moddir${pkg#"$mod"}"
  embeds="$(sed -n 's|^//go:embed \(.*-embed\.json\)$|\1|p' "$pkgdir"/*.go 2>/dev/null || true)"
  for f in $embeds; do
    [ -f "$pkgdir/$f" ] && continue
    if [ "$target" = "$pkg" ]; then
      mkdir -p "$work/cmd/$bin"
      cp "$pkgdir"/*.go "$work/cmd/$bin/"
      rm -f "$work/cmd/$bin/generate.go" "$work/cmd/$bin"/*_test.go
      chmod -R u+w "$work/cmd"
      target="./cmd/$bin"
    fi
    base="${f%-embed.json}.json"
    if [ ! -f "$pkgdir/$base" ]; then
      log "$name: $pkgdir has no $base to make $f from"; return 1
    fi
    if [ "$f" = schema-embed.json ]; then
      jq -c --arg v "$pver" '.version = $v' "$pkgdir/$base" >"$work/cmd/$bin/$f"
    else
      jq -c . "$pkgdir/$base" >"$work/cmd/$bin/$f"
    fi
  done

  # Load every package of the build: downloads all needed modules and fills
  # go.sum, so the build step below measures compilation only.
  if ! (cd "$work" && gorun list -mod=mod -deps -e -f '{{with .Error}}{{.}}{{end}}' "$target") >"$work/list.log" 2>"$work/list.err" \
     || grep -q . "$work/list.log"; then
    cat "$work/list.err" >>"$work/list.log"
    local t1; t1="$(now)"
    log "$name: loading packages failed after $(elapsed "$t0" "$t1")s:"; head -n 40 "$work/list.log" | sed 's/^/    /' >&2
    record "$name" "$pver" failed "$(elapsed "$t0" "$t1")" 0 "$(elapsed "$t0" "$t1")" "go list: $(head -n1 "$work/list.log" | tr '\t' ' ')"
    return 1
  fi
  local t1; t1="$(now)"
  log "$name $pver: modules ready in $(elapsed "$t0" "$t1")s; building $target"

  local vflag="-X $vvar=$pver"
  [ "$kind" = resource ] || vflag="-X $vvar=v$pver"
  mkdir -p "$outdir"
  if ! (cd "$work" && gorun build -mod=mod -trimpath -ldflags "-s -w $vflag" -o "$out.tmp" "$target") \
       >"$work/build.log" 2>&1; then
    local t2; t2="$(now)"
    log "$name: go build failed after $(elapsed "$t1" "$t2")s:"; tail -n 40 "$work/build.log" | sed 's/^/    /' >&2
    record "$name" "$pver" failed "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" "$(elapsed "$t0" "$t2")" "go build: $(tail -n1 "$work/build.log" | tr '\t' ' ')"
    return 1
  fi
  rm -f "$outdir/.complete"
  mv -f "$out.tmp" "$out"
  printf '%s\n' "$stamp" >"$outdir/.complete"
  local t2; t2="$(now)"
  log "$name $pver: built $out (download $(elapsed "$t0" "$t1")s, build $(elapsed "$t1" "$t2")s, total $(elapsed "$t0" "$t2")s)"
  record "$name" "$pver" built "$(elapsed "$t0" "$t1")" "$(elapsed "$t1" "$t2")" "$(elapsed "$t0" "$t2")" "$modver"
}

# Put a built component where the engine looks for it.
lay_out() {
  local name="$1" kind bin mod modver pkg pver vvar extra
  IFS='|' read -r kind bin mod modver pkg pver vvar extra <<<"${SPEC[$name]}"
  local src="$CACHE/bin/$name-v$pver/$bin"
  [ -x "$src" ] || return 0
  case "$kind" in
    cli)
      mkdir -p "$CACHE/path"
      ln -sfn "$src" "$CACHE/path/$bin" ;;
    language)
      # With PULUMI_IGNORE_AMBIENT_PLUGINS=true the CLI does not search PATH for
      # language hosts; it looks next to its own (symlink-resolved) executable.
      local clidir="$CACHE/bin/pulumi-v${PULUMI_VERSION#v}"
      mkdir -p "$clidir" "$CACHE/path"
      if ! cmp -s "$src" "$clidir/$bin"; then
        ln -f "$src" "$clidir/$bin" 2>/dev/null || cp -f "$src" "$clidir/$bin"
      fi
      ln -sfn "$clidir/$bin" "$CACHE/path/$bin" ;;
    server)
      # Not a plugin: on the toolchain's PATH, where the integration tier looks.
      mkdir -p "$CACHE/path"
      ln -sfn "$src" "$CACHE/path/$bin" ;;
    resource|bridged)
      local short="${bin#pulumi-resource-}"
      local dir="$PULUMI_HOME_DIR/plugins/resource-$short-v$pver"
      mkdir -p "$dir"
      rm -f "$dir.partial" "$dir.lock"
      if ! cmp -s "$src" "$dir/$bin"; then
        ln -f "$src" "$dir/$bin" 2>/dev/null || cp -f "$src" "$dir/$bin"
      fi ;;
  esac
}

# ---------------------------------------------------------------------------
main() {
want=("$@")
[ ${#want[@]} -gt 0 ] || want=("${ALL[@]}")
for name in "${want[@]}"; do
  if [ -z "${SPEC[$name]+x}" ]; then
    echo "build.sh: unknown component '$name' (known: ${ALL[*]})" >&2; exit 2
  fi
done

mkdir -p "$CACHE" "$GOMODCACHE" "$GOCACHE" "$PULUMI_HOME_DIR/plugins"
# One build at a time per cache (wrappers and outputs are shared).
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then log "waiting for another build.sh on $CACHE"; flock 9; fi
log "cache $CACHE; go $(go env GOVERSION); components: ${want[*]}"

failed=()
start="$(now)"
for name in "${want[@]}"; do
  if build_one "$name"; then lay_out "$name"; else failed+=("$name"); fi
done
log "total $(elapsed "$start" "$(now)")s"

cat <<EOF
export PATH="$CACHE/path:\$PATH"
export PULUMI_HOME="$PULUMI_HOME_DIR"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
EOF

if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED: ${failed[*]} (see $CACHE/wrappers/<name>-<version>/*.log)"
  exit 1
fi
}

# One line, so that bash has read all of it before anything runs. (Replace this
# file with mv, not in place, while a build is running.)
main "$@"; exit $?

#!/usr/bin/env bash
# Compares two synth output directories (each holding <env>/resources.json and
# <env>/compliance.md, as `npm run synth -- --stack <env> --out DIR` writes
# them) byte for byte, for a change that must not change behaviour.
#   scripts/same-synth.sh BASE_DIR NEW_DIR [ENV...]   (default: production staging test)
# Secret inputs appear in resources.json as HMAC digests under a key drawn per
# process, so run both synths with one key, e.g.
#   export SKE_SECRET_DIGEST_KEY=same-synth   (synth/secret-digest.ts)
# Exit 0 when every file is identical; 1 with a diff of each file that is not;
# 2 when a file is missing on either side.
set -uo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 BASE_DIR NEW_DIR [ENV...]" >&2
  exit 2
fi
base=$1 new=$2
shift 2
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(production staging test)
status=0
for env in "${envs[@]}"; do
  for file in resources.json compliance.md; do
    a="$base/$env/$file" b="$new/$env/$file"
    if [ ! -f "$a" ] || [ ! -f "$b" ]; then
      echo "missing: $a or $b" >&2
      status=2
      continue
    fi
    if cmp -s "$a" "$b"; then
      echo "same: $env/$file ($(wc -c < "$a") bytes)"
    else
      echo "DIFFERENT: $env/$file"
      diff -u "$a" "$b" | head -n 60
      [ $status -eq 2 ] || status=1
    fi
  done
done
exit $status

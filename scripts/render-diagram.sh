#!/usr/bin/env bash
# Renders one diagram of a synth's compliance.md to PNG with Debian's headless
# Chromium and the mermaid bundle from node_modules, to look at a picture
# without GitHub. Nothing in CI needs it; the unit suite parses every diagram.
#
#   scripts/render-diagram.sh out/production/compliance.md "Flows of osl2" picture.png
set -euo pipefail
report=$1 title=$2 png=$3
root=$(cd "$(dirname "$0")/.." && pwd)
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "render-diagram: no $chromium (apt-get install chromium)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The fenced block under the bold title that starts with $title.
awk -v t="**$title" 'index($0, t) == 1 {f = 1} f && /^```mermaid/ {g = 1; next} g && /^```/ {exit} g {print}' "$report" > "$work/diagram.mmd"
[ -s "$work/diagram.mmd" ] || { echo "render-diagram: no diagram titled \"$title\" in $report" >&2; exit 1; }
cp "$root/node_modules/mermaid/dist/mermaid.min.js" "$work/"
{
  echo '<!doctype html><html><body style="margin:0;background:#fff"><pre class="mermaid">'
  sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' "$work/diagram.mmd"
  echo '</pre><script src="mermaid.min.js"></script><script>mermaid.initialize({startOnLoad:true,securityLevel:"strict"});</script></body></html>'
} > "$work/page.html"
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$work/profile" --hide-scrollbars \
  --window-size="${WIDTH:-1800},${HEIGHT:-1100}" --virtual-time-budget=5000 --screenshot="$png" "file://$work/page.html" 2>"$work/chromium.log" \
  || { cat "$work/chromium.log" >&2; exit 1; }
echo "render-diagram: wrote $png"

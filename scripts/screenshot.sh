#!/usr/bin/env bash
# Render the worker dashboard (/) of examples/word_count.ts in headless
# Chromium and save it as docs/dashboard.png (or the path given as $1).
# Needs Debian's `chromium` package (installed with apt-get when missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/docs/dashboard.png}"
mkdir -p "$(dirname "$out")"
if ! command -v chromium >/dev/null; then
  apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
fi
work="$(mktemp -d)"
profile="$(mktemp -d)"
log="$work/worker.log"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$work" "$profile"
}
trap cleanup EXIT
cd "$root"
deno run -A examples/word_count.ts -D "$work/data" worker -l info -p 0 >"$log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 300); do
  url="$(grep -ao 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1 || true)"
  if [ -n "$url" ] && grep -q "WORD COUNTS" "$log"; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "worker did not start:"; cat "$log"; exit 1; }
# Post a few more so the rates and offsets are not all zero.
for post in "streams of events flow through agents" "the fox and the dog are friends"; do
  deno run -A examples/word_count.ts -D "$work/data" send posts "$post" >/dev/null
done
sleep 2
timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --screenshot="$out" --window-size=1200,900 "$url/" >/dev/null 2>&1
echo "saved $out ($url/)"

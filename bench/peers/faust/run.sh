#!/usr/bin/env bash
# Runs the faust-streaming peer: `exec`s the venv's python on peer.py, so the
# process the harness spawns IS the worker (its pid gives /proc/<pid>/stat and
# /proc/<pid>/status). Arguments are passed through (see peer.py).
# The venv comes from setup.sh (run it once before; it prints the python path).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${FAUST_BENCH_VENV:-$HOME/.cache/faust-deno/faust-venv}/bin/python"
if [[ ! -x "$PY" || ! -f "$(dirname "$PY")/../.faust-bench-complete" ]]; then
  PY="$(bash "$HERE/setup.sh" | tail -1)"
fi
exec "$PY" "$HERE/peer.py" "$@"

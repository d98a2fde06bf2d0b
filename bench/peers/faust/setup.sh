#!/usr/bin/env bash
# Creates (once, cached) the Python virtual environment for the faust-streaming
# peer of `deno task bench:peers`, with the exact pins of requirements.txt.
#
#   bash bench/peers/faust/setup.sh      -> last stdout line: path of the venv's python
#
# Env:
#   FAUST_BENCH_VENV    venv directory (default ~/.cache/faust-deno/faust-venv)
#   FAUST_BENCH_PYTHON  interpreter that creates it (default python3; needs >= 3.10,
#                       the pins are resolved for CPython 3.11 manylinux wheels)
#
# Idempotent: a marker file in the venv holds the sha256 of requirements.txt and
# the interpreter version; when both match, nothing is done. Otherwise the venv
# is rebuilt from scratch (in place: venv scripts embed their own path) and the
# marker is written last, so an interrupted run is never taken as done.
# Only the python path goes to stdout; all logs go to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${FAUST_BENCH_VENV:-$HOME/.cache/faust-deno/faust-venv}"
PYTHON="${FAUST_BENCH_PYTHON:-python3}"
REQS="$HERE/requirements.txt"
MARKER="$VENV/.faust-bench-complete"

log() { echo "faust setup.sh: $*" >&2; }

command -v "$PYTHON" >/dev/null || {
  log "interpreter '$PYTHON' not found; set FAUST_BENCH_PYTHON to a python >= 3.10"
  exit 1
}
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || {
  log "'$PYTHON' is $("$PYTHON" --version 2>&1); faust-streaming 0.15.3 needs >= 3.10"
  exit 1
}

pyver="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
want="$(sha256sum "$REQS" | cut -d' ' -f1) $pyver"

if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" && -x "$VENV/bin/python" ]]; then
  echo "$VENV/bin/python"
  exit 0
fi

mkdir -p "$(dirname "$VENV")"
# Serialise concurrent setups (two bench runs started at once).
exec 9>"$VENV.lock"
if command -v flock >/dev/null; then flock 9; fi
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" && -x "$VENV/bin/python" ]]; then
  echo "$VENV/bin/python"
  exit 0
fi

log "creating venv in $VENV (faust-streaming from PyPI; ~30 s)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2 || \
  log "pip upgrade failed (continuing with the bundled pip)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: \
  -r "$REQS" >&2 || {
  log "pip install -r $REQS failed"
  rm -rf "$VENV"
  exit 1
}
"$VENV/bin/python" -c 'import faust, rocksdict, orjson; print("faust", faust.__version__)' >&2 || {
  log "import check failed"
  rm -rf "$VENV"
  exit 1
}
echo "$want" >"$MARKER"
log "ready: $VENV"
echo "$VENV/bin/python"

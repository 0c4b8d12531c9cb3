#!/usr/bin/env bash
# sccg-edge set-up and entry points. Each command creates (or reuses) the virtual environment and installs what it
# needs, so nothing has to be installed by hand first.
#
#   ./run.sh demo      the main job on the embedded default data (see README)
#   ./run.sh test      the default test suite (what CI runs)
#   ./run.sh env       only create/refresh the environment and print its path
#
# The environment lives in $SCCG_VENV (default: ~/.cache/sccg-edge/venv-py<version>) and is refreshed only when
# pyproject.toml changes, so repeated runs and CI on the same machine reuse it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
py="${PYTHON:-python3}"
pyver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
venv="${SCCG_VENV:-$HOME/.cache/sccg-edge/venv-py$pyver}"
stamp="$venv/.sccg-edge-deps"
want="$(sha256sum pyproject.toml | cut -c1-16)"

ensure_env() {
  if [ ! -x "$venv/bin/python" ]; then
    echo "[run.sh] creating virtual environment $venv" >&2
    mkdir -p "$(dirname "$venv")"
    "$py" -m venv "$venv"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "[run.sh] installing dependencies into $venv (first run takes a few minutes)" >&2
    "$venv/bin/python" -m pip install -q --upgrade pip
    # torch first and pinned: 2.13.0 is a CPU build from local disk here; an unpinned torch pulls a CUDA build.
    "$venv/bin/python" -m pip install -q "torch==2.13.0"
    "$venv/bin/python" -m pip install -q -e ".[dev]"
    echo "$want" > "$stamp"
  else
    "$venv/bin/python" -m pip install -q --no-deps -e . >/dev/null 2>&1 || "$venv/bin/python" -m pip install -q --no-deps -e .
  fi
}

# The browser test of the review pages (tests/integration/test_review_browser.py) drives Debian's Chromium. Install it
# when it is missing and this runs as root with apt-get; never fail the run over it (the test then skips, saying why).
ensure_test_tools() {
  if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[run.sh] installing chromium for the browser test (apt-get, once)" >&2
    { timeout 900 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
        --no-install-recommends chromium; } >/dev/null 2>&1 || echo "[run.sh] chromium not installed: the browser test will skip" >&2
  fi
  # The DICOM node tests (tests/unit/serve) talk to dcmtk's storescu, echoscu and storescp; same rule.
  if ! command -v storescu >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[run.sh] installing dcmtk for the DICOM node tests (apt-get, once)" >&2
    { timeout 900 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
        --no-install-recommends dcmtk; } >/dev/null 2>&1 || echo "[run.sh] dcmtk not installed: the dcmtk tests will skip" >&2
  fi
}

cmd="${1:-}"
shift || true
case "$cmd" in
  env)
    ensure_env
    echo "$venv"
    ;;
  test)
    ensure_env
    ensure_test_tools
    exec "$venv/bin/python" -m pytest "$@"
    ;;
  demo)
    ensure_env
    exec "$venv/bin/sccg-edge" demo "$@"
    ;;
  *)
    echo "usage: ./run.sh demo | test [pytest args] | env" >&2
    exit 2
    ;;
esac

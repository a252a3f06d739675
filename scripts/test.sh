#!/usr/bin/env bash
# Install codesign with its test extras into a venv and run the whole test suite (slow tests too).
#
# tests/fpga/test_finn_build.py runs FINN's own build, from a venv of its own (finn-plus's pins
# cannot share the product's torch): .venv-finn is created here when it is missing or cannot
# import FINN (about 3 min and 6 GB from the package registry). CODESIGN_SKIP_FINN=1 skips
# that; when the install fails (no network) a warning is printed and those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test bash scripts/install.sh
# services some tests need, from Debian's packages: chromium (the HTML pages are rendered in a
# real headless browser) and PostgreSQL (two search workers share one study on a local server
# the test starts). Installed when missing; without them those tests skip (fail under CI=true).
need_deb() {  # PACKAGE CHECK-COMMAND...
  local pkg=$1; shift
  if "$@" >/dev/null 2>&1; then return 0; fi
  local sudo=""
  [ "$(id -u)" = "0" ] || sudo="sudo -n"
  echo "installing Debian's $pkg for the tests"
  if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null 2>&1 \
         || { $sudo apt-get update -q >/dev/null 2>&1 \
              && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null 2>&1; }; }
  then
    echo "warning: could not install $pkg; the tests that need it skip" >&2
  fi
}
need_deb chromium command -v chromium
need_deb postgresql sh -c 'ls /usr/lib/postgresql/*/bin/initdb'
FINN_VENV=.venv-finn
if [ "${CODESIGN_SKIP_FINN:-0}" = "1" ]; then
  echo "CODESIGN_SKIP_FINN=1: not setting up $FINN_VENV (FINN build tests skip without it)"
elif "$FINN_VENV/bin/python" -c "import finn.builder.build_dataflow_config" >/dev/null 2>&1; then
  echo "FINN venv ready: $FINN_VENV"
else
  echo "setting up $FINN_VENV: finn-plus for tests/fpga/test_finn_build.py (~3 min, ~6 GB;" \
       "CODESIGN_SKIP_FINN=1 skips)"
  t0=$(date +%s)
  [ "${CI:-}" = "true" ] && export PIP_NO_CACHE_DIR="${PIP_NO_CACHE_DIR:-1}"
  df -h . 2>/dev/null | awk 'NR==2 {print "disk: " $4 " free on " $6}' || true
  if "${PYTHON:-python3}" -m venv --clear "$FINN_VENV" \
      && "$FINN_VENV/bin/pip" install -q finn-plus psutil \
      && "$FINN_VENV/bin/python" -c "import finn.builder.build_dataflow_config" >/dev/null 2>&1
  then
    echo "FINN venv installed in $(( $(date +%s) - t0 )) s: $FINN_VENV"
  else
    echo "warning: could not install finn-plus into $FINN_VENV (no network?);" \
         "tests/fpga/test_finn_build.py will skip" >&2
  fi
fi
exec "${VENV:-.venv}/bin/python" -m pytest -q "$@"

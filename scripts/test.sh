#!/usr/bin/env bash
# Install codesign with its test extras into a venv and run the whole test suite (slow tests too).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test bash scripts/install.sh
exec "${VENV:-.venv}/bin/python" -m pytest -q "$@"

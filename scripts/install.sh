#!/usr/bin/env bash
# Create (or reuse) a virtual environment and install codesign into it.
#   VENV=path  (default .venv)   EXTRAS=test  (optional extras to install)
set -euo pipefail
cd "$(dirname "$0")/.."
# pip's wheel cache would hold a second copy of torch's multi-GB CUDA wheels where they come
# from the registry (CI): a full disk failed a CI run that way. Off by default under CI.
if [ "${CI:-}" = "true" ] && [ -z "${PIP_NO_CACHE_DIR:-}" ]; then export PIP_NO_CACHE_DIR=1; fi
df -h . 2>/dev/null | awk 'NR==2 {print "disk: " $4 " free on " $6 " before installing"}' || true
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
# torch/torchvision pinned to the CPU-usable builds this kind of machine carries on disk;
# with a CUDA GPU present the same build uses it.
"$VENV/bin/pip" install -q "torch==2.14.1" "torchvision==0.29.1"
spec="."
if [ -n "${EXTRAS:-}" ]; then spec=".[${EXTRAS}]"; fi
"$VENV/bin/pip" install -q -e "$spec"
"$VENV/bin/python" -c "import codesign, brevitas, optuna, onnxruntime, qonnx; print('codesign installed in $VENV')"

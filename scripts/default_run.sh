#!/usr/bin/env bash
# The toolkit's main job on its embedded default, from a fresh machine:
# install, get Fashion-MNIST (Debian's dataset-fashion-mnist package), search a PYNQ-Z1 under
# 30k LUT and >= 10k frames/s, export the best design.  Everything lands in runs/default/.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=/usr/share/datasets/fashion-mnist
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
  SUDO=""; if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi
  $SUDO apt-get install -y -q dataset-fashion-mnist || {
    $SUDO apt-get update -q && $SUDO apt-get install -y -q dataset-fashion-mnist; }
fi
bash scripts/install.sh
OUT="${OUT:-runs/default}"
start=$(date +%s)
.venv/bin/codesign search --dataset fashion-mnist --device pynq-z1 --max-lut 30000 \
  --min-fps 10000 --epochs 2 --trials 40 --seed 0 --out "$OUT"
.venv/bin/codesign export "$OUT" --design best --out "$OUT/export"
echo "default run: $(( $(date +%s) - start )) s for search + export; see $OUT/pareto.png and $OUT/export/report.json"

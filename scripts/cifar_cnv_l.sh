#!/usr/bin/env bash
# The CIFAR-10 co-design run of bench/RESULTS.md section 10: search the cnv-l space for a
# PYNQ-Z1 under 30k LUT and >= 1,293 frames/s (the Lu et al. 2019 operating point), export the
# best design, and check the bundle with FINN's own estimate (when .venv-finn exists).
#
#   DATA=../shared/data/cifar10 bash scripts/cifar_cnv_l.sh            # 2 CPU cores: ~90 min
#   EPOCHS=30 FT_EPOCHS=10 bash scripts/cifar_cnv_l.sh                  # a GPU: more epochs
#
# EPOCHS, TRIALS, FT_EPOCHS, RERANK, RERANK_EPOCHS, VAL_SIZE, CALIB, OUT override the CPU defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${DATA:-../shared/data/cifar10}"
OUT="${OUT:-runs/cifar10-cnv-l}"
[ -x .venv/bin/codesign ] || bash scripts/install.sh
start=$(date +%s)
.venv/bin/codesign search --dataset cifar10 --data-dir "$DATA" --space cnv-l --device pynq-z1 \
  --max-lut 30000 --min-fps 1293 --epochs "${EPOCHS:-3}" --trials "${TRIALS:-40}" --seed 0 \
  --val-size "${VAL_SIZE:-2000}" --calib-images "${CALIB:-500}" --no-progress --out "$OUT"
searched=$(date +%s)
.venv/bin/codesign export "$OUT" --design best --out "$OUT/export" \
  --finetune-epochs "${FT_EPOCHS:-1}" --rerank "${RERANK:-3}" \
  --rerank-epochs "${RERANK_EPOCHS:-0.25}" --no-progress
done_at=$(date +%s)
echo "cifar10 cnv-l: search $(( searched - start )) s, export $(( done_at - searched )) s," \
     "total $(( done_at - start )) s; see $OUT/pareto.png and $OUT/export/report.json"
if [ -x .venv-finn/bin/python ]; then  # FINN's own estimate of the bundle, beside our FINN view
  .venv/bin/codesign estimate "$OUT/export/network.json" --device pynq-z1 --no-interconnect \
    --io-profile none --json > "$OUT/export/estimate_finn_view.json"
  .venv-finn/bin/python bench/finn_check.py check --bundle "$OUT/export" \
    --estimate "$OUT/export/estimate_finn_view.json" || echo "FINN check failed (see above)"
fi

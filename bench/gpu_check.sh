#!/usr/bin/env bash
# Every GPU check of issues 10 and 13 in one script, for a lent GPU machine (the `device` tool):
# the gpu-marked tests, the GPU latency tables (PyTorch on CUDA, batch 1 and 256: build +
# validate on 100 fresh candidates, figures and the GPU's name), the supernet-vs-stand-alone
# speed with utilisation, and a CIFAR-10 cnv-l search + export on the GPU.  Results go to $OUT
# (default: gpu_out/).
#   run: bash bench/gpu_check.sh      (carry .venv and the CIFAR data as ignored folders)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_out}"; mkdir -p "$OUT"
DATA="${DATA:-data/cifar10}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.csv" 2>&1
.venv/bin/python -m pytest -q -m gpu tests 2>&1 | tail -5 > "$OUT/gpu_tests.txt"
# issue 13: GPU latency tables first (a few minutes); the figures land in bench/ and are copied
PYTHONPATH=. timeout 900 .venv/bin/python bench/latency_table.py --device cuda --batch 1,256 \
  --no-progress > "$OUT/latency_cuda.txt" 2>&1
cp bench/latency_table.json bench/LATENCY.md bench/latency_cuda_b*_validate.png "$OUT/" \
  2>/dev/null || true
.venv/bin/python bench/supernet_speed.py --space cnv-l --dataset cifar10 --data-dir "$DATA" \
  --batch-size 256 --steps 20 --device cuda --json "$OUT/supernet_speed.json" \
  > "$OUT/supernet_speed.txt" 2>&1
start=$(date +%s)
DATA="$DATA" OUT="$OUT/cifar10-cnv-l" EPOCHS="${EPOCHS:-20}" FT_EPOCHS="${FT_EPOCHS:-5}" \
  RERANK=5 RERANK_EPOCHS=1 VAL_SIZE=5000 CALIB=2000 bash scripts/cifar_cnv_l.sh \
  > "$OUT/cifar_run.txt" 2>&1
echo "wall $(( $(date +%s) - start )) s" >> "$OUT/cifar_run.txt"
cp "$OUT/cifar10-cnv-l/export/report.json" "$OUT/report.json" 2>/dev/null || true

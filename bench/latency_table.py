"""Benchmark for issue 4: build the latency table of the default space and validate it.

One command (run it on a quiet machine; it records the load average before and after)::

    PYTHONPATH=. python bench/latency_table.py                 # CPU, onnxruntime, 1 thread, batch 1
    PYTHONPATH=. python bench/latency_table.py --device cuda   # GPU (PyTorch on CUDA)

It is the same as ``codesign latency build --device cpu --out bench/latency_cpu_table.json``
followed by ``codesign latency validate bench/latency_cpu_table.json --samples 100``, timed:
writes the table (``bench/latency_<device>_table.json``), the scatter plot
(``bench/latency_<device>_validate.png``) and the figures (``bench/latency_table.json``, one
entry per device kind).  Targets: table build <= 600 s on 2 cores; >= 95 % of 100 random
candidates within +-10 % of their measured end-to-end latency.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_avg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--runtime", default=None, choices=("onnxruntime", "torch"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args()

    from codesign.io import atomic_write_json
    from codesign.latency import (DEFAULT_RUNTIME, Protocol, build_table, plot_validation,
                                  space_ops, validate_table)
    from codesign.spaces.base import get_space

    runtime = args.runtime or DEFAULT_RUNTIME[args.device]
    space = get_space("cnv")
    load_before = load_avg()
    t0 = time.perf_counter()
    table = build_table(space, args.device, runtime, args.threads, args.batch, Protocol(),
                        progress=not args.no_progress)
    build_s = time.perf_counter() - t0
    stem = f"latency_{args.device}" + ("" if runtime == DEFAULT_RUNTIME[args.device]
                                        else f"_{runtime}")
    table_path = ROOT / "bench" / f"{stem}_table.json"
    atomic_write_json(table_path, table.to_dict())
    load_mid = load_avg()
    t0 = time.perf_counter()
    res = validate_table(table, space, args.samples, seed=2, progress=not args.no_progress)
    validate_s = time.perf_counter() - t0
    plot_validation(ROOT / "bench" / f"{stem}_validate.png", res)
    load_after = load_avg()

    o = table.overhead
    fig = {"date": time.strftime("%Y-%m-%d"),
           "command": "PYTHONPATH=. python bench/latency_table.py"
                      + (f" --device {args.device}" if args.device != "cpu" else "")
                      + (f" --runtime {runtime}" if args.runtime else ""),
           "target": table.describe_target(), "machine": table.machine,
           "space": "cnv (1x28x28, default)", "ops_in_space": len(space_ops(space)),
           "ops_measured": table.build["ops_measured"], "build_s": round(build_s, 1),
           "protocol": table.protocol,
           "overhead_fit": {k: o[k] for k in ("form", "alpha_ms", "beta", "gamma_ms", "n",
                                              "mape_fit", "mape_loo")},
           "validation": {k: res[k] for k in ("samples", "seed", "mape", "share_within_10pct",
                                              "share_within_5pct", "max_abs_rel_error")},
           "validate_s": round(validate_s, 1),
           "measured_ms_range": [min(r["measured_ms"] for r in res["rows"]),
                                 max(r["measured_ms"] for r in res["rows"])],
           "load_average_1_5_15": {"before": load_before, "after_build": load_mid,
                                   "after_validate": load_after},
           "table": str(table_path.relative_to(ROOT)),
           "plot": f"bench/{stem}_validate.png"}
    out = ROOT / "bench" / "latency_table.json"
    allfig = json.loads(out.read_text()) if out.is_file() else {}
    allfig[stem.removeprefix("latency_")] = fig
    atomic_write_json(out, allfig)

    v = fig["validation"]
    print("| target | ops | build (s) | overhead fit LOO MAPE | candidates | MAPE | within +-10 % "
          "| within +-5 % | worst | load avg before/after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {fig['target']} | {fig['ops_measured']} | {fig['build_s']} | "
          f"{100 * o['mape_loo']:.2f} % | {v['samples']} | {100 * v['mape']:.2f} % | "
          f"{100 * v['share_within_10pct']:.1f} % | {100 * v['share_within_5pct']:.1f} % | "
          f"{100 * v['max_abs_rel_error']:.1f} % | {load_before[0]} / {load_after[0]} |")
    print(f"measured end-to-end latency {fig['measured_ms_range'][0]:.4f} .. "
          f"{fig['measured_ms_range'][1]:.4f} ms; wrote {out.relative_to(ROOT)}, "
          f"{fig['table']}, {fig['plot']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

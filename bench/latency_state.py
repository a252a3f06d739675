"""Benchmark for issue 13: how stable is this machine's latency over time?

One network of the default space (the same one every time) is timed with onnxruntime in
consecutive 0.25 s windows for ``--seconds`` seconds, at 1 and 2 threads, with and without the
keep-awake spinners, one setting after the other.  It prints each window's median and a
summary per setting (fastest / median / slowest window, share of windows more than 10 % above
the fastest) and writes ``bench/latency_state.json``.  This is the evidence behind the
latency tables' state probe (``bench/LATENCY.md``)::

    PYTHONPATH=. .venv/bin/python bench/latency_state.py [--seconds 20] [--batch 8]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def trace(spec, threads: int, batch: int, seconds: float, keep_awake: bool) -> list[float]:
    from codesign.latency import KeepAwake, network_runner

    with tempfile.TemporaryDirectory() as tmp, KeepAwake(keep_awake):
        run = network_runner(spec, "cpu", "onnxruntime", threads, batch, Path(tmp), "net")
        for _ in range(50):
            run()
        out: list[float] = []
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            end = time.perf_counter() + 0.25
            got = []
            while time.perf_counter() < end:
                got.append(run.timed())
            out.append(float(np.median(got) * 1e3))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()

    from codesign.io import atomic_write_json
    from codesign.latency import cpu_model, random_networks
    from codesign.spaces.base import get_space

    spec = random_networks(get_space("cnv"), 2, seed=2)[1]
    rows = []
    print("| threads | keep-awake | fastest window (ms) | median window | slowest | windows "
          "> 1.1 x fastest |\n|---|---|---|---|---|---|")
    for threads, keep in ((1, False), (2, False), (2, True)):
        w = trace(spec, threads, args.batch, args.seconds, keep)
        a = np.array(w)
        row = {"threads": threads, "keep_awake": keep, "batch": args.batch, "windows_ms": w,
               "fastest_ms": float(a.min()), "median_ms": float(np.median(a)),
               "slowest_ms": float(a.max()), "share_slow": float(np.mean(a > 1.1 * a.min()))}
        rows.append(row)
        print(f"| {threads} | {'yes' if keep else 'no'} | {row['fastest_ms']:.3f} | "
              f"{row['median_ms']:.3f} | {row['slowest_ms']:.3f} | "
              f"{100 * row['share_slow']:.0f} % |", flush=True)
    atomic_write_json(ROOT / "bench" / "latency_state.json", {
        "date": time.strftime("%Y-%m-%d"), "cpu_model": cpu_model(),
        "command": f"PYTHONPATH=. .venv/bin/python bench/latency_state.py --seconds "
                   f"{args.seconds:g} --batch {args.batch}",
        "network": spec.to_dict(), "window_s": 0.25, "rows": rows})
    print("wrote bench/latency_state.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

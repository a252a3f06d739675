"""Re-price every design on a run's Pareto front with ``codesign estimate`` and check the budgets.

Runs the real command line (a subprocess per design, on the design's ``network`` JSON), so it
checks what a user would see, and prints one row per front design.

    .venv/bin/python bench/reprice_front.py runs/default
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main(run_dir: str) -> int:
    pareto = json.loads((Path(run_dir) / "pareto.json").read_text())
    req = pareto["request"]
    budgets = {"lut": req["max_lut"], "bram18": req["max_bram18"], "dsp": req["max_dsp"]}
    ok_all = True
    print(f"{'id':>4} {'val acc':>8} {'LUT':>7} {'BRAM18':>6} {'DSP':>4} {'frames/s':>9}  within budgets")
    for d in (x for x in pareto["designs"] if x["on_front"]):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(d["network"], f)
        cmd = [sys.executable, "-m", "codesign", "estimate", f.name, "--device", req["device"],
               "--json"] + (["--clock-mhz", str(req["clock_mhz"])] if req.get("clock_mhz") else [])
        rep = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        Path(f.name).unlink()
        t = rep["totals"]
        ok = all(t[k] <= v for k, v in budgets.items() if v is not None)
        ok &= req.get("min_fps") is None or rep["fps"] >= req["min_fps"]
        ok &= not rep["unsupported"] and t["lut"] == d["lut"]
        ok_all &= ok
        print(f"{d['id']:>4} {100 * d['accuracy']:7.2f}% {t['lut']:>7,} {t['bram18']:>6,} "
              f"{t['dsp']:>4,} {rep['fps']:>9,.0f}  {'yes' if ok else 'NO'}")
    print("all front designs within every budget:", ok_all)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "runs/default"))

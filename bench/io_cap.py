"""Fit the I/O-cap profiles on measured published frame rates; report leave-one-out error.

    .venv/bin/python bench/io_cap.py [--write]

Prints a table, writes ``bench/io_cap.json``; ``--write`` also refreshes the packaged
``hw_models/calibration_data/io_profiles_v2.json`` (what ``codesign estimate`` uses).  The
profiles are per board family (``<profile>@zynq7000``, ``<profile>@zynqmp``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpga.errors import read_json_file  # noqa: E402
from hw_models.io_cap import ROWS_FILE, fit_profiles, write_profiles  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="refresh the packaged profiles file")
    args = ap.parse_args()
    rows = read_json_file(ROWS_FILE, "io_rows")["fps_rows"]
    fit = fit_profiles(rows)
    print(f"{'profile':<20} {'t_host_us':>10} {'rows':>5} {'designs':>8}  boards")
    for name, p in fit["profiles"].items():
        print(f"{name:<20} {p['t_host_us']:>10.3f} {len(p['rows']):>5} "
              f"{p['distinct_designs']:>8}  {', '.join(p['boards'])}")
    print(f"\n{'row':<40} {'profile':<20} {'measured':>10} {'LOO pred':>10} {'error':>8}")
    for r in fit["loo"]:
        print(f"{r['name']:<40} {r['profile']:<20} {r['measured_fps']:>10.0f} "
              f"{r['loo_pred_fps']:>10.0f} {r['error_pct']:>7.1f}%")
    errs = [abs(r["error_pct"]) for r in fit["loo"]]
    summary = {"loo_mape_pct": round(sum(errs) / len(errs), 2), "loo_max_abs_pct": max(errs),
               "within_15pct": sum(e <= 15 for e in errs), "n": len(errs)}
    print(f"\nLOO MAPE {summary['loo_mape_pct']} %, max |error| {summary['loo_max_abs_pct']} %, "
          f"{summary['within_15pct']}/{summary['n']} within 15 %")
    out = dict(fit, summary=summary)
    (ROOT / "bench" / "io_cap.json").write_text(json.dumps(out, indent=2) + "\n")
    if args.write:
        print("wrote", write_profiles(fit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Issue #3's targets for the FPGA cost model, measured in one run against published builds.

    .venv/bin/python bench/cost_model_targets.py      # prints a table, writes bench/cost_model_targets.json

* frame rate, compute-bound designs: our cycles per frame against the published ones, and fps
  at the published clock (the OOC fmax where FINN reports one);
* frame rate, I/O plateaus: the I/O cap's leave-one-out error on measured rates (bench/io_cap.py);
* LUT: leave-one-out MAPE and band coverage of the calibrated model (codesign calibrate);
* BRAM18 where the build reports weight memory alone.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpga.errors import read_json_file  # noqa: E402
from hw_models.calibration import DEFAULT_ROWS_PATH, fit_calibration, load_rows  # noqa: E402
from hw_models.cost import FinnCostModel  # noqa: E402
from hw_models.io_cap import DATA_DIR, fit_profiles  # noqa: E402
from hw_models.network import NetworkSpec  # noqa: E402

PUBLISHED = ROOT.parent / "shared" / "reference" / "fpga_published_calibration.json"


def main() -> int:
    out: dict = {}
    rows = read_json_file(DEFAULT_ROWS_PATH, "rows")["rows"]
    pub = {r["name"]: r for r in read_json_file(PUBLISHED, "published")["rows"]} \
        if PUBLISHED.exists() else {}
    # --- compute-bound frame rate
    print("frame rate, compute-bound designs (cycles are what sets fps = f / cycles)")
    fr = []
    for r in rows:
        spec = NetworkSpec.from_dict(r["network"])
        rep = FinnCostModel.finn_view(r["device"], r["clock_mhz"]).estimate(spec)
        p = pub.get(r["name"], {})
        rep_fps = (p.get("reported") or {}).get("fps")
        fmax = (p.get("reported") or {}).get("fmax_mhz")
        derived = (p.get("derived") or {}).get("max_cycles") or \
            (p.get("finn_estimate_same_folding") or {}).get("max_cycles")
        row = {"name": r["name"], "ours_cycles": rep.cycles_per_frame, "published_cycles": derived,
               "fps_at_target_clock": rep.fps, "published_fps": rep_fps,
               "fps_type": (p.get("reported") or {}).get("fps_type")}
        if fmax:
            at_fmax = FinnCostModel.finn_view(r["device"], fmax).estimate(spec).fps
            row.update(fmax_mhz=fmax, fps_at_fmax=at_fmax,
                       error_at_fmax_pct=100 * (at_fmax - rep_fps) / rep_fps,
                       error_at_target_pct=100 * (rep.fps - rep_fps) / rep_fps)
        fr.append(row)
        print(f"  {r['name']:<36} cycles ours {rep.cycles_per_frame:>5} published {derived}"
              + (f"; fps at fmax {row['fps_at_fmax']:,.0f} vs {rep_fps:,.0f} "
                 f"({row['error_at_fmax_pct']:+.1f} %), at {r['clock_mhz']:g} MHz "
                 f"{row['error_at_target_pct']:+.1f} %" if fmax else ""))
    out["compute_bound"] = fr
    # --- I/O plateaus
    fit = fit_profiles(read_json_file(DATA_DIR / "io_rows_v2.json", "io_rows")["fps_rows"])
    errs = [abs(x["error_pct"]) for x in fit["loo"]]
    out["io_cap"] = {"loo": fit["loo"], "max_abs_pct": max(errs),
                     "within_15pct": f"{sum(e <= 15 for e in errs)}/{len(errs)}"}
    print(f"I/O plateaus: leave-one-out |error| max {max(errs):.1f} %, "
          f"{out['io_cap']['within_15pct']} within 15 % (target: within 15 %)")
    # --- LUT / BRAM calibration
    cal = fit_calibration(load_rows(DEFAULT_ROWS_PATH))
    lut, br = cal["loo"]["lut"], cal["loo"]["bram18"]
    out["lut"] = {"mape_uncalibrated": lut["mape_uncalibrated"], "mape_loo": lut["mape_loo"],
                  "band": lut["rel_band"], "band_coverage_loo": lut["band_coverage_loo"]}
    print(f"LUT: leave-one-out MAPE {100 * lut['mape_loo']:.1f} % (uncalibrated "
          f"{100 * lut['mape_uncalibrated']:.1f} %; target <= 20 %), band +/-"
          f"{100 * lut['rel_band']:.0f} % covers {100 * lut['band_coverage_loo']:.0f} % "
          f"(target >= 80 %)")
    # --- BRAM18, weights-only
    bram = []
    for r in rows:
        spec = NetworkSpec.from_dict(r["network"])
        p = pub.get(r["name"], {})
        brk = (p.get("reported") or {}).get("bram_breakdown")
        if r["name"].startswith("finn_cybsec"):  # OOC IP: weights are its only BRAM
            est = FinnCostModel.finn_view(r["device"]).estimate(spec).bram18
            meas, what = r["bram18"], "whole OOC IP (weight memories only)"
        elif brk:  # BNN-PYNQ: per-PE weight memories are the RAMB18 primitives
            est = FinnCostModel.finn_view(r["device"], weight_mem="per_pe",
                                          toolflow="bnn-pynq").estimate(spec).bram18
            meas, what = brk["ramb18"], ("RAMB18 primitives (per-PE weights), weight_mem=per_pe, "
                                         "toolflow=bnn-pynq")
        else:
            continue
        bram.append({"name": r["name"], "ours": est, "published": meas, "what": what,
                     "error_pct": 100 * (est - meas) / meas})
        print(f"  BRAM18 {r['name']:<36} ours {est:>4} published {meas:>4} "
              f"({100 * (est - meas) / meas:+.1f} %) - {what}")
    out["bram18_weights_only"] = bram
    out["bram18_total"] = {"mape_loo": br["mape_loo"], "band_coverage_loo": br["band_coverage_loo"]}
    (ROOT / "bench" / "cost_model_targets.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``codesign calibrate``: fit the FINN cost model's LUT/BRAM18 correction and its LOO error band.

torch-free.  Fits on the packaged published rows (``hw_models/calibration_data/
published_rows_v2.json``) or on your own post-synthesis results (``--data``, JSON or CSV; the
format is in :mod:`hw_models.calibration`), prints measured vs uncalibrated vs calibrated per
design and the leave-one-out MAPE, and writes the model (``--out``, atomically) for
``codesign estimate --calibrated MODEL.json``.
"""
from __future__ import annotations

import argparse
from typing import Any
import json

from codesign.io import atomic_write_json
from fpga.errors import check_out_file
from hw_models.calibration import DEFAULT_ROWS_PATH, fit_calibration, load_rows


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the cost model's LUT/BRAM18 correction on measured builds (LOO error bars)",
        description="Fit measured_LUT ~ a_mvau*MVAU_LUT + a_other*other_LUT + c and "
                    "measured_BRAM18 ~ b*BRAM18 + c (non-negative, weights 1/measured) on "
                    "measured designs, with leave-one-out MAPE and an error band. Rows: JSON list "
                    "of {name, device, clock_mhz, network, lut, bram18} or CSV "
                    "name,device,clock_mhz,network_path,lut,bram18.")
    p.add_argument("--data", default=None, metavar="FILE.json|FILE.csv",
                   help="measured designs (default: the packaged published rows)")
    p.add_argument("--out", default=None, metavar="MODEL.json",
                   help="write the fitted model here (atomically); default: do not write")
    p.add_argument("--model-version", dest="model_version", default="v3",
                   help="version string stored in the model (default v2)")
    p.add_argument("--json", action="store_true", help="print the fitted model as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out:
        check_out_file(args.out, "--out")  # before the fit, so nothing is written when it fails
    rows = load_rows(args.data or DEFAULT_ROWS_PATH)
    model = fit_calibration(rows, version=args.model_version)
    if args.out:
        atomic_write_json(args.out, model)
    if args.json:
        print(json.dumps(model, indent=2))
    else:
        print(format_fit(model, args.data or str(DEFAULT_ROWS_PATH), args.out))
    return 0


def format_fit(model: dict, data: str, out: str | None) -> str:
    loo = model["loo"]
    head = ("design", "family", "LUT meas", "uncal", "cal", "LOO", "fam-out", "BRAM18 meas",
            "uncal", "cal", "LOO")
    rows = [head]

    def fam(v: Any) -> str:
        return "-" if v is None else f"{v:,.0f}"

    for r in loo["rows"]:
        l, b = r["lut"], r["bram18"]
        rows.append((r["name"], r.get("family", "?"), f"{l['measured']:,.0f}",
                     f"{l['uncalibrated']:,.0f}", f"{l['calibrated']:,.0f}", f"{l['loo']:,.0f}",
                     fam(l.get("family_loo")), f"{b['measured']:,.0f}",
                     f"{b['uncalibrated']:,.0f}", f"{b['calibrated']:,.1f}", f"{b['loo']:,.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    c = model["coefficients"]
    lines = [f"calibration {model['version']} fitted on {loo['n']} designs from {data}"]
    lines += ["  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths)))
              for r in rows]
    cl, cb = c["lut"], c["bram18"]
    lines.append(f"LUT    = {cl['a_mvau']:.4f} * MVAU_LUT + {cl['a_other']:.4f} * other_LUT "
                 f"+ {cl['c_lut']:.1f}")
    lines.append(f"BRAM18 = {cb['b_scale']:.4f} * BRAM18 + {cb['c_bram18']:.2f}")
    if c.get("not_identified"):
        lines.append(f"not identified by these rows (fixed at 1.0): {', '.join(c['not_identified'])}")
    for key, label in (("lut", "LUT"), ("bram18", "BRAM18")):
        s = loo[key]
        unc = "n/a" if s["mape_uncalibrated"] is None else f"{100 * s['mape_uncalibrated']:.1f} %"
        fam_out = s.get("mape_family_loo")
        fam_txt = "n/a" if fam_out is None else f"{100 * fam_out:.1f} %"
        lines.append(f"{label}: MAPE uncalibrated {unc}, calibrated in-sample "
                     f"{100 * s['mape_fit']:.1f} %, leave-one-out {100 * s['mape_loo']:.1f} %, "
                     f"leave-one-family-out {fam_txt}; band +/-{100 * s['rel_band']:.1f} % covers "
                     f"{100 * s['band_coverage_loo']:.0f} % of the held-out cases "
                     f"({s.get('band_basis', 'loo')})")
    if out:
        lines.append(f"wrote {out}")
    return "\n".join(lines)

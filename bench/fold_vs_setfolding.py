"""Optimal folding (``codesign fold``) vs FINN's SetFolding on the example networks.

For every ``examples/*.json`` whose folding can be stripped and priced, and four targets per
network (1/2, 1/8, 1/32 and 1/128 of its highest achievable frame rate on the device's clock),
run SetFolding at the target and our LUT-optimal folding twice:

* ``ours@F``: optimal for the target F itself (what ``codesign fold --target-fps F`` prints);
* ``ours@SF``: optimal for SetFolding's *achieved* rate (budget = its cycles per frame), so ours
  is at equal-or-higher fps than SetFolding by construction: the like-for-like comparison
  (SetFolding often overshoots the target, and where its weight-width cap stops it, falls short).

Writes a table to stdout and ``bench/fold_vs_setfolding.json``.  Torch-free, seconds.

    .venv/bin/python bench/fold_vs_setfolding.py [--device pynq-z1]
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.io import atomic_write_json  # noqa: E402
from hw_models.cost import FinnCostModel  # noqa: E402
from hw_models.folding import (cycle_budget, finn_set_folding, min_cycles,  # noqa: E402
                               optimal_folding_for_budget)
from hw_models.network import NetworkSpec  # noqa: E402

FRACTIONS = (2, 8, 32, 128)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="pynq-z1")
    ap.add_argument("--out", default=None,
                    help="JSON output (default bench/fold_vs_setfolding[_full].json)")
    ap.add_argument("--model", choices=("finn", "full"), default="finn",
                    help="finn: the dataflow nodes, what the optimality proof covers (default); "
                         "full: with the FIFO allowance, width converters and input thresholding")
    args = ap.parse_args()
    # folding compared on the pipeline itself: no I/O cap (it would flatten every target above it)
    model = (FinnCostModel.finn_view(args.device) if args.model == "finn"
             else FinnCostModel(args.device, io_profile="none"))
    if args.out is None:
        suffix = "" if args.model == "finn" else "_full"
        args.out = str(ROOT / "bench" / f"fold_vs_setfolding{suffix}.json")
    rows = []
    t0 = time.perf_counter()
    for path in sorted((ROOT / "examples").glob("*.json")):
        try:
            spec = NetworkSpec.load(path)
            spec = spec.with_folding({l.name: (None, None) for l in spec.compute_layers})
            if not model.estimate(spec).valid:
                continue
        except Exception as exc:  # noqa: BLE001 - a file that is not a strippable network
            print(f"skip {path.name}: {exc}", file=sys.stderr)
            continue
        fps_max = model.clock_mhz * 1e6 / min_cycles(spec, model)
        for k in FRACTIONS:
            target = round(fps_max / k, 1)
            sf = model.estimate(finn_set_folding(spec, model, target))
            at_f = model.estimate(optimal_folding_for_budget(
                spec, model, cycle_budget(model.clock_mhz, target)))
            at_sf = model.estimate(optimal_folding_for_budget(spec, model, sf.cycles_per_frame))
            rows.append({
                "network": spec.name, "file": path.name, "target_fps": target,
                "sf_fps": sf.fps, "sf_lut": sf.lut, "sf_meets_target": sf.fps >= target,
                "ours_fps": at_f.fps, "ours_lut": at_f.lut,
                "ours_saved_pct": 100 * (sf.lut - at_f.lut) / sf.lut,
                "ours_at_sf_fps": at_sf.fps, "ours_at_sf_lut": at_sf.lut,
                "ours_at_sf_saved_pct": 100 * (sf.lut - at_sf.lut) / sf.lut,
                "fits_device": {"ours": at_f.lut <= model.device.lut,
                                "set_folding": sf.lut <= model.device.lut}})
    elapsed = time.perf_counter() - t0
    head = ("network", "target fps", "SF met", "SF fps", "SF LUT", "ours fps", "ours LUT", "saved %",
            "ours@SF fps", "ours@SF LUT", "saved %")
    table = [head] + [(r["file"][:-5], f"{r['target_fps']:,.0f}",
                       "yes" if r["sf_meets_target"] else "NO", f"{r['sf_fps']:,.0f}",
                       f"{r['sf_lut']:,}", f"{r['ours_fps']:,.0f}", f"{r['ours_lut']:,}",
                       f"{r['ours_saved_pct']:.1f}", f"{r['ours_at_sf_fps']:,.0f}",
                       f"{r['ours_at_sf_lut']:,}", f"{r['ours_at_sf_saved_pct']:.1f}")
                      for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(len(head))]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for t in table[1:]:
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(t, widths))) + " |")
    print(f"{len(rows)} comparisons in {elapsed:.2f} s on {args.device} at "
          f"{model.clock_mhz:g} MHz")
    atomic_write_json(args.out, {"device": args.device, "clock_mhz": model.clock_mhz,
                                 "model": args.model, "settings": model.settings,
                                 "lut_variant": model.lut_variant, "fractions": FRACTIONS,
                                 "machine": platform.processor() or platform.machine(),
                                 "elapsed_s": elapsed, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())

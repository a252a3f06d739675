"""``codesign fold NETWORK.json``: the resource-optimal PE/SIMD folding for a frame rate.

Torch-free.  ``--target-fps F`` chooses, per compute layer, the legal ``(pe, simd)`` minimising
LUTs (``--objective lut``) or ``w_lut*LUT + w_bram*BRAM18 + w_dsp*DSP`` (``--objective weighted
--weights W_LUT,W_BRAM18,W_DSP``) subject to ``cycles <= T = floor(f_clk / F)``, and compares it
with FINN's SetFolding at the same target.  The choice is exactly optimal for the cost model:
the pipeline's rate is its slowest stage's, so the target is a per-layer cycle bound, and the
cost is a sum over layers, so minimising each layer on its own (exhaustively over its legal
divisor pairs) minimises the sum (:func:`hw_models.folding.optimal_folding`).  Existing PE/SIMD
in the file are ignored.  The optimum must fit the device, or the command fails (exit 2)
naming the resource.

``--sweep --out DIR`` writes ``DIR/sweep.json`` and ``DIR/sweep.png``: every achievable frame
rate on the Pareto front (cost vs fps; :func:`hw_models.folding.pareto_foldings`, at most
``--max-points``, default 200) with the optimum's LUT/BRAM18/DSP and SetFolding's at the same
target.
"""
from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path
from typing import Any

from codesign.cli import float_arg, given
from codesign.io import atomic_write_bytes, atomic_write_json
from fpga.errors import InputError, check_out_dir, check_out_file
from hw_models.cost import CostReport, FinnCostModel
from hw_models.finn_ops import DEFAULT_LUT_VARIANT, LUT_VARIANTS
from hw_models.folding import (FIT_RESOURCES, LUT_WEIGHTS, check_fits, check_folding,
                               check_weights, cycle_budget, finn_set_folding, min_cycles,
                               optimal_folding_for_budget, pareto_foldings)
from hw_models.network import NetworkSpec

OBJECTIVES = ("lut", "weighted")
#: what ``--sweep --out DIR`` writes; a non-empty DIR holding anything else is refused
SWEEP_FILES = ("sweep.json", "sweep.png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fold", help="resource-optimal PE/SIMD folding for a frame rate, vs FINN's SetFolding",
        description="Choose the legal PE/SIMD per layer that minimises LUTs (or a weighted "
                    "LUT/BRAM18/DSP cost) while meeting --target-fps; exact for the FINN cost "
                    "model. Compared with FINN's SetFolding at the same target. --sweep: the "
                    "whole cost-vs-fps front.")
    p.add_argument("network", metavar="NETWORK.json", help="network file (its pe/simd are "
                   "ignored)")
    p.add_argument("--device", default="pynq-z1", help="target board (see `codesign devices`)")
    p.add_argument("--target-fps", type=float_arg, default=None, help="frame rate to meet")
    p.add_argument("--clock-mhz", type=float_arg, default=None,
                   help="fabric clock in MHz (default: the board's)")
    p.add_argument("--objective", default="lut", choices=OBJECTIVES,
                   help="lut: fewest LUTs; weighted: W_LUT*LUT + W_BRAM18*BRAM18 + W_DSP*DSP")
    p.add_argument("--weights", default=None, metavar="LUT,BRAM18,DSP",
                   help="weights of --objective weighted, e.g. 1,200,100")
    p.add_argument("--lut-variant", default=DEFAULT_LUT_VARIANT,
                   help=f"MVAU LUT formula: {' | '.join(LUT_VARIANTS)}")
    p.add_argument("--sweep", action="store_true",
                   help="every achievable fps with its cheapest folding (needs --out DIR)")
    p.add_argument("--max-points", type=int, default=200,
                   help="--sweep: at most this many points (default 200)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", default=None, help="FOLDED.json (the folded network) or, with "
                   "--sweep, a folder for sweep.json and sweep.png")
    p.set_defaults(func=run)


def parse_weights(objective: str, text: str | None) -> tuple[float, float, float]:
    if objective == "lut":
        if text is not None:
            raise InputError("--weights", "only with --objective weighted", ["--objective weighted"])
        return LUT_WEIGHTS
    if text is None:
        raise InputError("--weights", "required with --objective weighted",
                         ["W_LUT,W_BRAM18,W_DSP, e.g. 1,200,100"])
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError("--weights", f"got {text!r}", ["W_LUT,W_BRAM18,W_DSP"]) from None
    try:
        return check_weights(values)
    except InputError as exc:
        raise InputError("--weights", f"got {text!r}", exc.accepted) from None


def run(args: argparse.Namespace) -> int:
    # every check of the command line and the files comes before any work or write
    for flag, value in (("--clock-mhz", args.clock_mhz), ("--target-fps", args.target_fps)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(flag, f"got {given(value)}", ["a number > 0"])
    weights = parse_weights(args.objective, args.weights)
    if args.sweep:
        if args.target_fps is not None:
            raise InputError("--target-fps", "not with --sweep (the sweep tries every rate)")
        if args.out is None:
            raise InputError("--out", "required with --sweep", ["a folder"])
        if args.max_points < 2:
            raise InputError("--max-points", f"got {args.max_points}", ["an integer >= 2"])
        check_out_dir(args.out, "--out", SWEEP_FILES, what="sweep output")
    else:
        if args.target_fps is None:
            raise InputError("--target-fps", "required (or --sweep)", ["a number > 0"])
        if args.out is not None:
            check_out_file(args.out, "--out")
    model = FinnCostModel(args.device, clock_mhz=args.clock_mhz, lut_variant=args.lut_variant)
    spec = NetworkSpec.load(args.network)
    spec = spec.with_folding({l.name: (None, None) for l in spec.compute_layers})
    check_folding(spec)
    if args.sweep:
        result = sweep(spec, model, weights, args.max_points)
        png = plot_sweep(result)  # both files ready before either is written
        out = Path(args.out)
        atomic_write_json(out / "sweep.json", result)
        atomic_write_bytes(out / "sweep.png", png)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"{len(result['points'])} Pareto points for {spec.name} on {model.device.name}"
                  f" ({result['fps_max']:,.1f} to {result['fps_min']:,.1f} frames/s): "
                  f"{out / 'sweep.json'}, {out / 'sweep.png'}")
        return 0
    result, ours_spec = fold(spec, model, args.target_fps, weights)
    if args.out is not None:
        atomic_write_json(args.out, ours_spec.to_dict())
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_result(result, model))
    return 0


def _summary(report: CostReport, spec: NetworkSpec, weights: tuple[float, float, float],
             target_fps: float) -> dict[str, Any]:
    d = report.to_dict()
    d["folding"] = {l.name: [l.pe, l.simd] for l in spec.compute_layers}
    d["cost"] = weights[0] * report.lut + weights[1] * report.bram18 + weights[2] * report.dsp
    d["meets_target"] = report.fps >= target_fps
    return d


def fold(spec: NetworkSpec, model: FinnCostModel, target_fps: float,
         weights: tuple[float, float, float] = LUT_WEIGHTS) -> tuple[dict[str, Any], NetworkSpec]:
    """The optimum at ``target_fps`` (checked against the device) and SetFolding's, as the
    ``--json`` document, with the folded network."""
    budget = cycle_budget(model.clock_mhz, target_fps)
    try:
        ours = optimal_folding_for_budget(spec, model, budget, weights)
    except InputError as exc:
        if exc.field != "target_fps":
            raise
        # the user's value as given (``1e12``), not the rate the cycle budget rounds it to
        fastest = min_cycles(spec, model)
        best = model.clock_mhz * 1e6 / fastest
        raise InputError("--target-fps", f"{given(target_fps)} frames/s is out of reach for "
                         f"'{spec.name}' at {model.clock_mhz:g} MHz: its fastest legal folding "
                         f"needs {fastest:,} cycles per frame ({_rate(best)} frames/s)",
                         [f"a number in (0, {_rate(best)}]"]) from None
    check_fits(spec, model, ours, budget)
    theirs = finn_set_folding(spec, model, target_fps)
    r_ours, r_theirs = model.estimate(ours), model.estimate(theirs)
    saved = r_theirs.lut - r_ours.lut
    return {
        "network": spec.name, "device": model.device.name, "clock_mhz": model.clock_mhz,
        "target_fps": target_fps, "budget_cycles": budget,
        "objective": "lut" if tuple(weights) == LUT_WEIGHTS else "weighted",
        "weights": {"lut": weights[0], "bram18": weights[1], "dsp": weights[2]},
        "ours": _summary(r_ours, ours, weights, target_fps),
        "set_folding": _summary(r_theirs, theirs, weights, target_fps),
        "lut_saved": saved,
        "lut_saved_pct": 100.0 * saved / r_theirs.lut if r_theirs.lut else 0.0,
    }, ours


def sweep(spec: NetworkSpec, model: FinnCostModel,
          weights: tuple[float, float, float] = LUT_WEIGHTS, max_points: int = 200
          ) -> dict[str, Any]:
    """``sweep.json``: the Pareto front (fastest first), SetFolding priced at each point's fps."""
    points = []
    dev = model.device
    for cycles, folded in pareto_foldings(spec, model, weights, max_points):
        r = model.estimate(folded)
        fps = model.clock_mhz * 1e6 / cycles
        sf = model.estimate(finn_set_folding(spec, model, fps))
        points.append({
            "fps": fps, "cycles": cycles, "lut": r.lut, "bram18": r.bram18, "dsp": r.dsp,
            "uram": r.uram,
            "cost": weights[0] * r.lut + weights[1] * r.bram18 + weights[2] * r.dsp,
            "fits_device": all(getattr(r, k) <= getattr(dev, k) for k in FIT_RESOURCES),
            "folding": {l.name: [l.pe, l.simd] for l in folded.compute_layers},
            "set_folding": {"lut": sf.lut, "bram18": sf.bram18, "dsp": sf.dsp, "fps": sf.fps,
                            "meets_target": sf.fps >= fps * (1 - 1e-12)},
        })
    return {"network": spec.name, "device": dev.name, "clock_mhz": model.clock_mhz,
            "weights": {"lut": weights[0], "bram18": weights[1], "dsp": weights[2]},
            "max_points": max_points, "fps_max": points[0]["fps"],
            "fps_min": points[-1]["fps"], "device_lut": dev.lut,
            "note": "fps: every distinct frame rate of a Pareto-optimal folding (cost strictly "
                    "falls with fps), thinned evenly by rank to max_points; set_folding: FINN's "
                    "SetFolding run at that fps as its target",
            "points": points}


def plot_sweep(result: dict[str, Any]) -> bytes:
    """PNG bytes: LUT vs fps (log-log), ours and SetFolding, with the device's LUTs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = result["points"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.step([p["fps"] for p in pts], [p["lut"] for p in pts], where="post", color="C0",
            marker="o", markersize=3, label="optimal folding (ours)")
    ax.scatter([p["set_folding"]["fps"] for p in pts], [p["set_folding"]["lut"] for p in pts],
               color="C1", marker="x", s=18, label="FINN SetFolding (achieved fps)")
    ax.axhline(result["device_lut"], color="grey", linestyle="--", linewidth=1,
               label=f"{result['device']} LUTs")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("frames/s")
    ax.set_ylabel("LUT")
    ax.set_title(f"{result['network']} on {result['device']} at {result['clock_mhz']:g} MHz")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def format_result(result: dict[str, Any], model: FinnCostModel) -> str:
    """Per-layer folding, cycles, LUT/BRAM18/DSP of ours and SetFolding's, totals, fps."""
    ours, theirs = result["ours"], result["set_folding"]
    tl = {l["name"]: l for l in theirs["layers"]}
    head = ("layer", "PE", "SIMD", "cycles", "LUT", "BRAM18", "DSP", "|", "SF PE", "SF SIMD",
            "SF cycles", "SF LUT", "SF BRAM18", "SF DSP")
    rows = [head]

    def cells(l: dict[str, Any] | None) -> tuple[str, ...]:
        if l is None:
            return ("",) * 6
        return (_s(l.get("pe")), _s(l.get("simd")), f"{l['cycles']:,}", f"{l['lut']:,}",
                f"{l['bram18']:,}", f"{l['dsp']:,}")

    for l in ours["layers"]:
        rows.append((l["name"],) + cells(l) + ("|",) + cells(tl.get(l["name"])))
    tot = []
    for d in (ours, theirs):
        t = d["totals"]
        tot.append(("", "", f"{d['cycles_per_frame']:,}", f"{t['lut']:,}", f"{t['bram18']:,}",
                    f"{t['dsp']:,}"))
    rows.append(("total",) + tot[0] + ("|",) + tot[1])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    w = result["weights"]
    obj = "LUT" if result["objective"] == "lut" else \
        f"{w['lut']:g}*LUT + {w['bram18']:g}*BRAM18 + {w['dsp']:g}*DSP"
    lines = [f"network {result['network']} on {model.device.name} at {model.clock_mhz:g} MHz, "
             f"target {result['target_fps']:,.1f} frames/s (budget {result['budget_cycles']:,} "
             f"cycles); minimising {obj}; left: optimal folding, right (SF): FINN SetFolding"]
    for n, r in enumerate(rows):
        if n == len(rows) - 1:
            lines.append("  ".join("-" * x for x in widths))
        lines.append("  ".join(c.ljust(x) if i == 0 else c.rjust(x)
                               for i, (c, x) in enumerate(zip(r, widths))).rstrip())
    for label, d in (("optimal   ", ours), ("SetFolding", theirs)):
        lines.append(f"{label}: {d['fps']:,.1f} frames/s (target "
                     f"{'met' if d['meets_target'] else 'NOT met'}), LUT {d['totals']['lut']:,}, "
                     f"BRAM18 {d['totals']['bram18']:,}, DSP {d['totals']['dsp']:,}"
                     + (f", cost {d['cost']:,.1f}" if result["objective"] != "lut" else ""))
    lines.append(f"LUTs saved vs SetFolding: {result['lut_saved']:,} "
                 f"({result['lut_saved_pct']:.1f} %)")
    return "\n".join(lines)


def _rate(fps: float) -> str:
    return f"{fps:,.1f}" if fps >= 1 else f"{fps:.3g}"


def _s(v: Any) -> str:
    return "-" if v is None else str(v)

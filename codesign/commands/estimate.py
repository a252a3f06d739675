"""``codesign estimate NETWORK.json|MODEL.onnx``: price a network on an FPGA, no training.

torch-free (onnx is imported only for a ``.onnx`` input).

Reads the documented network JSON or a QONNX model (``.onnx``, read with
:func:`hw_models.qonnx_reader.read_qonnx`; QONNX carries no folding, so every layer is
"without pe/simd"), chooses the cheapest legal folding that meets
``--target-fps`` for layers without ``pe``/``simd`` (PE = SIMD = 1 without a target), and prints
per-layer and total cycles, LUT, BRAM18, DSP and the frame rate (``--json``: the cost report).
A design over the device's capacity (after weights spill to LUTRAM when block RAM runs out) is
reported as not fitting and the command exits 1.
"""
from __future__ import annotations

import argparse
import json
import math

from codesign.cli import float_arg, given
from fpga.errors import InputError
from hw_models.cost import DEFAULT_FIFO_DEPTH, CostReport, FinnCostModel
from hw_models.finn_ops import DEFAULT_LUT_VARIANT, LUT_VARIANTS
from hw_models.folding import check_folding, fold_for_fps
from hw_models.network import NetworkSpec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "estimate",
        help="price a network (JSON or QONNX) on an FPGA: cycles, LUT, BRAM18, DSP, fps",
        description="Price a network with the FINN-style analytical cost model. Layers without "
                    "pe/simd get the cheapest legal folding meeting --target-fps (PE = SIMD = 1 "
                    "when no target is given). A .onnx file is read as QONNX (as exported for "
                    "FINN); it carries no folding, so all its layers are folded this way.")
    p.add_argument("network", metavar="NETWORK.json|MODEL.onnx",
                   help="network file (see README, 'Network format') or a QONNX model (.onnx)")
    p.add_argument("--device", default="pynq-z1", help="target board (see `codesign devices`)")
    p.add_argument("--clock-mhz", type=float_arg, default=None,
                   help="fabric clock in MHz (default: the board's)")
    p.add_argument("--target-fps", type=float_arg, default=None,
                   help="frame rate the folding of layers without pe/simd must meet")
    p.add_argument("--lut-variant", default=DEFAULT_LUT_VARIANT,
                   help=f"MVAU LUT formula: {' | '.join(LUT_VARIANTS)} "
                        f"(default {DEFAULT_LUT_VARIANT}, what finn-plus 1.6.1 estimates)")
    p.add_argument("--weight-mem", default="block",
                   help="where MVAU weights live: block (FINN's decoupled default) | per_pe "
                        "(BNN-PYNQ-style per-PE memories) | distributed | ultra (UltraRAM; "
                        "parts with URAM only)")
    p.add_argument("--fifo-depth", type=int, default=DEFAULT_FIFO_DEPTH,
                   help="depth of the FIFO allowance at every layer boundary (default "
                        f"{DEFAULT_FIFO_DEPTH}; 0: none). FINN sizes FIFOs after its estimate")
    p.add_argument("--no-interconnect", action="store_true",
                   help="FINN's own estimate: the dataflow nodes only, as FINN estimates them "
                        "(no FIFOs or data-width converters, and none of what FINN's estimate "
                        "leaves out: LUTRAM weights, weight spill when block RAM runs out)")
    p.add_argument("--io-profile", default=None,
                   help="host/DMA path capping frames/s: finn-pynq | bnn-pynq | none (default: "
                        "finn-pynq on Zynq boards, none otherwise), fitted per board family "
                        "on measured frame rates (hw_models/io_cap.py)")
    p.add_argument("--toolflow", default="finn", choices=None,
                   help="whose engines to price: finn (finn-plus, what this toolkit exports to; "
                        "default) | bnn-pynq (BNN-PYNQ's hand-written HLS, for its published "
                        "builds: 1-bit weights stay 1-bit on wider inputs)")
    p.add_argument("--json", action="store_true", help="print the cost report as JSON")
    p.add_argument("--calibrated", nargs="?", const="", default=None, metavar="MODEL.json",
                   help="report the calibrated LUT/BRAM18 as the totals (`codesign calibrate`; "
                        "default: the packaged calibration), with their error bands; without it "
                        "the totals are the analytical model's and the calibrated figures and "
                        "bands (totals.lut_band, totals.bram18_band) are reported beside them; "
                        "put it after NETWORK")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for flag, value in (("--clock-mhz", args.clock_mhz), ("--target-fps", args.target_fps)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(flag, f"got {given(value)}", ["a number > 0"])
    if args.fifo_depth < 0:
        raise InputError("--fifo-depth", f"got {args.fifo_depth}", ["an integer >= 0"])
    model = FinnCostModel(args.device, clock_mhz=args.clock_mhz, lut_variant=args.lut_variant,
                          **model_options(args))
    spec = load_network(args.network)
    check_folding(spec)
    if args.target_fps is not None:
        spec = fold_for_fps(spec, model, args.target_fps, missing_only=True)
    report = model.estimate(spec)
    calibrated = getattr(args, "calibrated", None)
    if calibrated is not None:
        return _run_calibrated(args, spec, model, report, calibrated or None)
    bands = default_bands(args, spec, model)
    if args.json:
        d = report.to_dict()
        d["totals"].update({k: bands[k] for k in ("lut_band", "bram18_band", "lut_calibrated",
                                                  "bram18_calibrated")})
        d["calibration"] = bands["calibration"]
        _print_json(d, spec, args)
    else:
        print(format_report(report, spec, model, args.target_fps))
        print(format_bands(bands))
    return 0 if report.valid and report.fits_device is not False else 1


def default_bands(args: argparse.Namespace, spec: NetworkSpec, model: FinnCostModel) -> dict:
    """The packaged calibration's totals and error bands for ``spec`` (every estimate reports
    them); ``None`` bands, with the reason, when the model's settings are not the ones the
    calibration was fitted with (e.g. ``--no-interconnect``)."""
    from hw_models.calibration import CalibratedFinnModel

    try:
        cal = CalibratedFinnModel(model.device, clock_mhz=args.clock_mhz,
                                  lut_variant=args.lut_variant, **model_options(args))
    except InputError as exc:
        return {"lut_band": None, "bram18_band": None, "lut_calibrated": None,
                "bram18_calibrated": None,
                "calibration": {"available": False, "why": str(exc)}}
    c = cal.estimate(spec)
    return {"lut_band": list(c.lut_band), "bram18_band": list(c.bram18_band),
            "lut_calibrated": c.lut, "bram18_calibrated": c.bram18,
            "calibration": {"available": True, **dict(c.calibration)}}


def format_bands(bands: dict) -> str:
    info = bands["calibration"]
    if not info.get("available"):
        return f"no calibrated band: {info['why']}"
    line = (f"calibrated (v{str(info['version']).lstrip('v')}, {info['n_rows']} published builds; "
            f"family {info['family']}): LUT {bands['lut_calibrated']:,} "
            f"[{bands['lut_band'][0]:,}, {bands['lut_band'][1]:,}], BRAM18 "
            f"{bands['bram18_calibrated']:,} [{bands['bram18_band'][0]:,}, "
            f"{bands['bram18_band'][1]:,}] (bands: leave-one-family-out errors, >= 80 % coverage)")
    if info.get("band_widened_because"):
        line += "; band widened: " + "; ".join(info["band_widened_because"])
    return line


def model_options(args: argparse.Namespace) -> dict:
    """The interconnect and I/O settings of ``FinnCostModel`` from the command line."""
    return {"fifo_depth": args.fifo_depth, "interconnect": not args.no_interconnect,
            "beyond_finn": not args.no_interconnect, "toolflow": args.toolflow,
            "io_profile": args.io_profile, "weight_mem": args.weight_mem}


def _print_json(d: dict, spec: NetworkSpec, args: argparse.Namespace) -> None:
    """The ``--json`` output: the report's dict plus the network name and the target asked for."""
    d["network"] = spec.name
    if args.target_fps is not None:
        d["target_fps"] = args.target_fps
    print(json.dumps(d, indent=2))


def _run_calibrated(args: argparse.Namespace, spec: NetworkSpec, model: FinnCostModel,
                    report: CostReport, calibration: str | None) -> int:
    """``--calibrated``: the calibrated report (JSON) or the plain table plus calibrated totals."""
    from hw_models.calibration import CalibratedFinnModel

    cal = CalibratedFinnModel(model.device, clock_mhz=args.clock_mhz, calibration=calibration,
                              lut_variant=args.lut_variant, **model_options(args))
    creport = cal.estimate(spec)
    if args.json:
        _print_json(creport.to_dict(), spec, args)
    else:
        info = creport.calibration
        print(format_report(report, spec, model, args.target_fps))
        print(f"calibrated totals (calibration {info['version']}, fitted on {info['n_rows']} "
              f"designs; band = LOO error, covers >= 80 % of held-out designs): "
              f"LUT {creport.lut:,} [{creport.lut_band[0]:,}, {creport.lut_band[1]:,}], "
              f"BRAM18 {creport.bram18:,} [{creport.bram18_band[0]:,}, {creport.bram18_band[1]:,}]")
    return 0 if creport.valid else 1


def load_network(path: str) -> NetworkSpec:
    """A NetworkSpec from the network JSON or, for a ``.onnx`` file, from QONNX."""
    if str(path).lower().endswith(".onnx"):
        from hw_models.qonnx_reader import read_qonnx  # imports onnx: only when needed

        return read_qonnx(path)
    return NetworkSpec.load(path)


def format_report(report: CostReport, spec: NetworkSpec, model: FinnCostModel,
                  target_fps: float | None = None) -> str:
    """A human-readable table: one row per layer, then totals, frame rate and bottleneck."""
    head = ("layer", "op", "PE", "SIMD", "cycles", "LUT", "BRAM18", "DSP", "URAM")
    rows = [head]
    for l in report.layers:
        rows.append((l.name, l.op, _s(l.pe), _s(l.simd), f"{l.cycles:,}", f"{l.lut:,}",
                     f"{l.bram18:,}", f"{l.dsp:,}", f"{l.uram:,}"))
    rows.append(("total", "", "", "", f"{report.cycles_per_frame:,}", f"{report.lut:,}",
                 f"{report.bram18:,}", f"{report.dsp:,}", f"{report.uram:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"network {spec.name} on {model.device.name} ({model.device.part}) at "
             f"{report.clock_mhz:g} MHz; FINN model, lut_variant={model.lut_variant}"]
    for n, r in enumerate(rows):
        if n == len(rows) - 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    dev = model.device
    lines.append(f"cycles per frame: {report.cycles_per_frame:,} (slowest stage, in layer "
                 f"{report.bottleneck}); total row sums resources")
    rate = f"frame rate: {report.fps:,.1f} frames/s"
    if report.fps_io_cap is not None:
        rate += (f" (pipeline {report.fps_compute:,.1f}, I/O cap {report.fps_io_cap:,.1f} with "
                 f"profile {model.io.name} on {model.io.family}: {model.io.backing}"
                 + ("; I/O-bound)" if report.io_bound else ")"))
    if target_fps is not None:
        rate += f" (target {target_fps:,.1f}: {'met' if report.fps >= target_fps else 'NOT met'})"
    lines.append(rate)
    lines.append(f"utilisation of {dev.name}: LUT {100 * report.lut / dev.lut:.1f} %, BRAM18 "
                 f"{100 * report.bram18 / dev.bram18:.1f} %, DSP "
                 f"{100 * report.dsp / dev.dsp if dev.dsp else 0:.1f} % ("
                 + (f"FIFO allowance of depth {model.fifo_depth} and width converters included; "
                    if model.interconnect else "dataflow nodes only, as FINN's estimate; ")
                 + "the shell is reported below)")
    if report.spilled:
        moved = sum(x["bram18"] for x in report.spilled)
        lines.append(f"block RAM: the design asks for {report.bram18_demand:,} RAMB18 of the "
                     f"{dev.bram18:,}; {len(report.spilled)} weight memories ({moved:,} RAMB18) "
                     f"spill to LUTRAM for {sum(x['lut'] for x in report.spilled):,} LUTs "
                     f"(layers {', '.join(x['layer'] for x in report.spilled)}), as Vivado "
                     "places them when block RAM runs out")
    if report.shell is not None:
        sh, whole = report.shell, report.totals_with_shell
        lines.append(f"shell on {dev.name} (DMA, AXI interconnect; not in the totals): "
                     f"{sh['lut']:,} LUT, {sh['bram18']} BRAM18 ({sh['backing']}); accelerator "
                     f"+ shell: {whole['lut']:,} of {dev.lut:,} LUT, {whole['bram18']:,} of "
                     f"{dev.bram18:,} BRAM18")
    if report.fits_device is False:
        lines.append(f"DOES NOT FIT {dev.name}: " + ", ".join(
            f"{k.upper()} {report.totals_with_shell[k]:,} > {report.capacity[k]:,}"
            for k in report.over_capacity) + " (accelerator and shell)")
    for u in report.unsupported:
        lines.append(f"NOT PRICED: layer {u['name']}: {u['reason']} (the estimate is invalid)")
    return "\n".join(lines)


def _s(v: int | None) -> str:
    return "-" if v is None else str(v)

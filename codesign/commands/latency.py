"""``codesign latency build`` and ``codesign latency validate``: measured CPU/GPU latency tables.

``build`` measures every distinct operator configuration of a search space on this machine
(onnxruntime on the QCDQ export of each op on the CPU; PyTorch, or onnxruntime's CUDA provider,
on a GPU), fits the per-network overhead on networks measured end to end, and writes the table
atomically.  ``--update`` measures only the ops an existing table lacks.  ``validate`` measures
fresh random networks end to end and prints predicted vs measured (MAPE, share within +-10 %)
with a scatter plot.  Heavy imports (torch, brevitas, onnxruntime) happen inside the handlers.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from codesign.cli import float_arg, given
from fpga.errors import InputError, check_out_file

#: the largest channel count / image side ``--input-shape`` accepts (a latency table of a larger
#: input would take hours to measure; hw_models.network allows no side beyond 2**16 either)
MAX_SHAPE = 4096


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latency", help="build and validate measured CPU/GPU latency tables",
                       description="Measured latency tables for a search space: build one on "
                                   "this machine, then validate it against end-to-end "
                                   "measurements. Use it in `codesign search --latency-table`.")
    lsub = p.add_subparsers(dest="latency_command", metavar="SUBCOMMAND")
    lsub.required = True

    b = lsub.add_parser("build", help="measure every op configuration of a space",
                        description="Measure every distinct op configuration the space can "
                                    "produce (input quantizer, fused conv+BN+ReLU+quantizer at its "
                                    "bits, max-pool, fully connected), each in isolation (warm-up, "
                                    "round-robin repeats, median and IQR), fit the per-network "
                                    "overhead on random networks measured end to end, and write "
                                    "TABLE.json atomically.")
    _space_args(b)
    b.add_argument("--device", required=True, choices=("cpu", "cuda"), help="device kind")
    b.add_argument("--runtime", default=None, choices=("onnxruntime", "torch"),
                   help="default: onnxruntime on cpu (QCDQ ONNX), torch on cuda")
    b.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    b.add_argument("--threads", type=int, default=1,
                   help="intra-op threads (onnxruntime) / torch threads on the CPU (default 1)")
    b.add_argument("--rounds", type=int, default=None, help="round-robin passes (default 6)")
    b.add_argument("--round-s", type=float_arg, default=None,
                   help="seconds of timed runs per op and pass (default 0.05)")
    b.add_argument("--calibration", type=int, default=None,
                   help="networks measured end to end to fit the correction (default 32; the "
                        "per-kind form needs >= 12)")
    b.add_argument("--statistic", default=None, choices=("p10", "median", "p5", "min"),
                   help="what the table predicts of each item's timed runs (default p10: the "
                        "undisturbed machine; median includes its disturbances)")
    b.add_argument("--update", action="store_true",
                   help="TABLE.json exists: measure only the ops it lacks, keep the rest")
    b.add_argument("--allow-other-machine", action="store_true",
                   help="with --update: accept a table measured on another CPU/GPU model")
    b.add_argument("--out", required=True, metavar="TABLE.json")
    b.add_argument("--json", action="store_true", help="print a JSON summary")
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    b.set_defaults(func=run_build)

    v = lsub.add_parser("validate", help="predicted vs measured end-to-end latency",
                        description="Measure N fresh random candidates of the space end to end "
                                    "with the table's runtime, threads and batch, and print "
                                    "predicted vs measured: MAPE, share within +-10 %, and a "
                                    "scatter plot (PNG).")
    v.add_argument("table", metavar="TABLE.json")
    v.add_argument("--samples", type=int, default=100, help="random candidates (default 100)")
    _space_args(v, default=None)
    v.add_argument("--seed", type=int, default=2, help="sampling seed (default 2)")
    v.add_argument("--device", default=None, choices=("cpu", "cuda"),
                   help="refuse the table unless it was measured on this device kind")
    v.add_argument("--runtime", default=None, choices=("onnxruntime", "torch"),
                   help="refuse the table unless it was measured with this runtime")
    v.add_argument("--threads", type=int, default=None,
                   help="refuse the table unless it was built at this thread count")
    v.add_argument("--batch", type=int, default=None,
                   help="refuse the table unless it was built at this batch size")
    v.add_argument("--plot", default=None, metavar="PNG",
                   help="scatter plot (default: TABLE.validate.png next to the table)")
    v.add_argument("--allow-other-machine", action="store_true",
                   help="validate a table measured on another CPU/GPU model")
    v.add_argument("--json", action="store_true",
                   help="print the figures as JSON (keys mape, share_within_10pct, ...)")
    v.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    v.set_defaults(func=run_validate)


def _space_args(p: argparse.ArgumentParser, default: str | None = "cnv") -> None:
    p.add_argument("--space", default=default,
                   help="search space (default: cnv" + ("" if default else
                                                         ", as recorded in the table") + ")")
    p.add_argument("--input-shape", default=None, metavar="CxHxW",
                   help="the space's input (default 1x28x28, Fashion-MNIST)")
    p.add_argument("--num-classes", type=int, default=None, help="classes (default 10)")


def parse_shape(text: str) -> tuple[int, int, int]:
    parts = text.replace(",", "x").lower().split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or len(parts) != 3 or min(shape) < 1 or max(shape) > MAX_SHAPE:
        raise InputError("input-shape", f"got {text!r}", [f"CxHxW, each in 1..{MAX_SHAPE}, e.g. "
                                                          "1x28x28 or 3x32x32"])
    return shape  # type: ignore[return-value]


def make_space(name: str | None, input_shape: str | None, num_classes: int | None,
               recorded: dict[str, Any] | None = None):
    """The space from the flags; unset flags fall back to the table's recorded space."""
    from codesign.spaces.base import get_space

    recorded = recorded or {}
    if name is None:
        name = recorded.get("name", "cnv")
    if not isinstance(name, str):
        raise InputError("space", f"the table records space {name!r}", ["a space name"])
    config = recorded.get("config") or {}
    if not isinstance(config, dict):
        raise InputError("space", f"the table records space config {config!r}", ["an object"])
    kwargs = dict(config) if name == recorded.get("name") else {}
    if num_classes is not None:
        if num_classes < 1:
            raise InputError("num-classes", f"got {num_classes}", ["an integer >= 1"])
        kwargs["num_classes"] = num_classes
    if input_shape is not None:
        kwargs["input_shape"] = parse_shape(input_shape)
    try:
        if input_shape is None and "input_shape" in kwargs:
            shape = kwargs["input_shape"]
            kwargs["input_shape"] = parse_shape("x".join(str(v) for v in shape)
                                                if isinstance(shape, (list, tuple)) else str(shape))
        for k in ("s0_widths", "s1_widths", "fc_widths", "weight_bits", "act_bits",
                  "edge_weight_bits"):
            if k in kwargs:
                if not isinstance(kwargs[k], (list, tuple)) or not all(
                        isinstance(v, int) and not isinstance(v, bool) for v in kwargs[k]):
                    raise InputError("space", f"the table records {k} = {kwargs[k]!r}",
                                     ["a list of integers"])
                kwargs[k] = tuple(kwargs[k])
        return get_space(name, **kwargs)
    except InputError as exc:
        if exc.field != "input-shape":  # only the recorded shape is parsed in here
            raise
        raise InputError("space", f"the table records a malformed input_shape ({exc})") from None
    except (TypeError, ValueError) as exc:  # config keys/values the space does not take
        raise InputError("space", f"the table records a space config that space {name!r} does "
                         f"not take ({exc})") from None


def _space_flags(args: argparse.Namespace) -> str:
    out = ""
    if getattr(args, "input_shape", None):
        out += f" --input-shape {args.input_shape}"
    if getattr(args, "num_classes", None):
        out += f" --num-classes {args.num_classes}"
    return out


def run_build(args: argparse.Namespace) -> int:
    import time

    from codesign.io import atomic_write_json
    from codesign.latency import (Protocol, build_table, check_runtime, check_same_machine,
                                  degraded_warning)
    from hw_models.latency_table import LatencyTable

    # every flag and file is checked before anything is measured
    check_out_file(args.out, "out")
    for name, v in (("threads", args.threads), ("batch", args.batch)):
        if v < 1:
            raise InputError(name, f"got {v}", ["an integer >= 1"])
    if args.round_s is not None and not (math.isfinite(args.round_s) and args.round_s > 0):
        raise InputError("round-s", f"got {given(args.round_s)}", ["a finite number > 0"])
    existing = None
    if args.update:
        if not Path(args.out).is_file():
            raise InputError("update", f"{args.out} does not exist; drop --update to build a "
                             "new table")
        existing = LatencyTable.load(args.out, field="out")
        existing.check_use(args.device, args.runtime, path=args.out)
        for name, v in (("threads", args.threads), ("batch", args.batch)):
            if v != getattr(existing, name):
                raise InputError(name, f"{args.out} was measured with {name} "
                                 f"{getattr(existing, name)}, not {v}", [getattr(existing, name)])
        check_same_machine(existing, args.allow_other_machine, "out")
        space = make_space(args.space, args.input_shape, args.num_classes, existing.space)
    else:
        space = make_space(args.space, args.input_shape, args.num_classes)
    runtime = args.runtime or ("onnxruntime" if args.device == "cpu" else "torch")
    check_runtime(args.device, runtime)
    proto_kw = {k: getattr(args, k) for k in ("rounds", "round_s", "calibration", "statistic")
                if getattr(args, k) is not None}
    if existing is not None and args.statistic not in (None, existing.statistic):
        raise InputError("statistic", f"{args.out} predicts the {existing.statistic}, not the "
                         f"{args.statistic}; build a new table for that statistic",
                         [existing.statistic])
    # new ops are measured like the old ones unless flags say otherwise
    protocol = (Protocol.of_table(existing, **proto_kw) if existing is not None
                else Protocol(**proto_kw))
    t0 = time.perf_counter()
    table = build_table(space, args.device, runtime, args.threads, args.batch, protocol,
                        progress=not args.no_progress, existing=existing)
    atomic_write_json(args.out, table.to_dict())
    secs = time.perf_counter() - t0
    o = table.overhead
    state = table.build.get("update_state" if existing is not None else "state")
    summary = {"out": args.out, "ops": len(table.ops), "ops_measured": table.build["ops_measured"],
               "seconds": round(secs, 1), "target": table.describe_target(),
               "statistic": table.statistic, "state": state,
               "overhead": {k: o.get(k) for k in ("form", "alpha_ms", "beta", "beta_by_kind",
                                                  "gamma_ms", "mape_fit", "mape_loo", "n")}}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"measured {table.build['ops_measured']} ops ({len(table.ops)} in the table) of "
              f"space '{space.name}' on {table.describe_target()} in {secs:.1f} s")
        kinds = o.get("beta_by_kind")
        scale = (", ".join(f"{k} {v:.3f}" for k, v in kinds.items()) if kinds
                 else f"{o['beta']:.3f}")
        print(f"network-level correction fitted on {o['n']} networks measured end to end: "
              f"{o['form']} (alpha {o['alpha_ms']:.4f} ms, beta {scale}, gamma "
              f"{o['gamma_ms']:.4f} ms; MAPE in-sample {100 * o['mape_fit']:.1f} %, "
              f"leave-one-out {100 * o['mape_loo']:.1f} %); the table predicts the "
              f"{table.statistic} of the timed runs")
        st = state or {}
        if st:
            print(f"machine state: {100 * st['share_degraded_readings']:.0f} % of "
                  f"{st['probe_readings']} probe readings were more than "
                  f"{100 * protocol.state_tolerance:.0f} % slower than the reference "
                  f"{st['probe_ref_ms']:.4f} ms (those rounds were timed again)")
        warn = degraded_warning(st, table.build["ops_measured"] + (
            len(o.get("calibration", [])) if not args.update else 0))
        if warn:
            print(f"warning: {warn}")
        print(f"wrote {args.out}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from codesign.latency import check_covers, check_same_machine, plot_validation, validate_table
    from hw_models.latency_table import LatencyTable

    # every flag and file is checked before anything is measured
    if isinstance(args.samples, bool) or args.samples < 1:
        raise InputError("samples", f"got {args.samples}", ["an integer >= 1"])
    if args.seed < 0:
        raise InputError("seed", f"got {args.seed}", ["an integer >= 0"])
    plot = args.plot or str(Path(args.table).with_suffix("")) + ".validate.png"
    check_out_file(plot, "plot")
    for name in ("threads", "batch"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise InputError(name, f"got {v}", ["an integer >= 1"])
    table = LatencyTable.load(args.table, field="TABLE")
    table.check_use(args.device, args.runtime, path=args.table)
    table.check_setting(args.threads, args.batch, path=args.table,
                        space_flags=_space_flags(args))
    check_same_machine(table, args.allow_other_machine, "TABLE")
    space = make_space(args.space, args.input_shape, args.num_classes, table.space)
    check_covers(table, space, args.table, _space_flags(args))
    res = validate_table(table, space, args.samples, seed=args.seed,
                         progress=not args.no_progress)
    res["rebuild_command"] = table.build_command(args.table, _space_flags(args))
    plot_validation(plot, res)
    res["plot"] = plot
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{'#':>3} {'predicted ms':>13} {'+-':>7} {'measured ms':>12} {'error':>7}")
    for i, r in enumerate(res["rows"]):
        print(f"{i:>3} {r['predicted_ms']:>13.4f} {r['uncertainty_ms']:>7.4f} "
              f"{r['measured_ms']:>12.4f} {100 * r['rel_error']:>6.1f}%")
    print(f"{res['samples']} random networks of space '{space.name}' on {res['target']}: "
          f"MAPE {100 * res['mape']:.2f} %, {100 * res['share_within_10pct']:.1f} % within "
          f"+-10 %, worst {100 * res['max_abs_rel_error']:.1f} % ({table.statistic} of the "
          "timed runs)")
    rep, st = res["repeatability"], res["state"]
    if rep.get("networks"):
        print(f"the measurement itself: the two halves of each network's rounds agree within "
              f"+-10 % for {100 * rep['share_halves_within_10pct']:.0f} % of "
              f"{rep['networks']} networks (median difference "
              f"{100 * rep['median_half_diff']:.1f} %)")
    if st:
        print(f"machine state: {100 * st['share_degraded_readings']:.0f} % of "
              f"{st['probe_readings']} probe readings slower than the table's reference; "
              f"{res['networks_degraded']} networks found no normal round (flagged "
              "'degraded' in --json)")
    if res.get("machine_mismatch"):
        print(f"warning: {res['machine_mismatch']}; rebuild the table on this machine to "
              f"predict it: {res['rebuild_command']}")
    print(f"wrote {plot}")
    sys.stdout.flush()
    return 0

"""``codesign compare RUN_A RUN_B ... --out FILE.png``: overlay the Pareto fronts of several runs."""
from __future__ import annotations

import argparse

from fpga.errors import check_out_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="overlay the Pareto fronts of several runs in one plot",
                       description="Read RUN_DIR/pareto.json of each run and plot accuracy vs "
                                   "one objective, each run's front overlaid (e.g. a CPU-latency "
                                   "search next to a GPU one, or next to an FPGA one).")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--objective", default=None, choices=("latency_ms", "lut", "fps"),
                   help="x axis (default: latency_ms when every run has it, else lut)")
    p.add_argument("--latency-table", default=None, metavar="TABLE.json",
                   help="price latency_ms from this table for designs that lack it (e.g. an "
                        "FPGA run), so that every run can be compared on one latency axis")
    p.add_argument("--reprice", action="store_true",
                   help="with --latency-table: price every design on that table, also those a "
                        "run priced for another target (another thread count, batch or "
                        "device), so that all fronts share the table's latency axis")
    p.add_argument("--reference", default=None, metavar="ACC,VALUE",
                   help="the hypervolume's reference point: an accuracy (fraction) and a value "
                        "of the objective (default: accuracy 0 and the runs' loosest budget; "
                        "for fps the lowest frame-rate floor)")
    p.add_argument("--out", required=True, metavar="FILE.png",
                   help="the overlaid fronts; FILE.html, an interactive page with the "
                        "hypervolume table, is written beside it")
    p.set_defaults(func=run)


def parse_reference(text: str | None) -> tuple[float, float] | None:
    """``--reference 0.8,30000`` -> (0.8, 30000.0); bad input names the flag."""
    import math

    from fpga.errors import InputError

    if text is None:
        return None
    parts = text.split(",")
    try:
        acc, value = (float(p) for p in parts)
    except ValueError:
        raise InputError("reference", f"got {text!r}",
                         ["ACC,VALUE, e.g. 0.8,30000 (an accuracy in [0, 1) and a value >= 0)"]
                         ) from None
    if not (math.isfinite(acc) and 0 <= acc < 1 and math.isfinite(value) and value >= 0):
        raise InputError("reference", f"got {text!r}",
                         ["an accuracy in [0, 1) and a finite value >= 0"])
    return acc, value


def run(args: argparse.Namespace) -> int:
    from codesign.search.compare import (add_latency, default_objective, fronts, load_runs,
                                         plot_fronts)

    from pathlib import Path

    from codesign.search.compare import hypervolume_table, write_compare_page

    check_out_file(args.out, "--out")  # before any work: nothing is written when it cannot be
    page = Path(args.out).with_suffix(".html")
    check_out_file(str(page), "--out")
    given = parse_reference(args.reference)
    if args.reprice and not args.latency_table:
        from fpga.errors import InputError

        raise InputError("reprice", "needs --latency-table TABLE.json (the target every design "
                         "is priced on)")
    runs = load_runs(args.runs)
    if args.latency_table:
        n = add_latency(runs, args.latency_table, reprice=args.reprice)
        print(f"priced latency_ms of {n} designs from {args.latency_table}"
              + (" (every design repriced on it)" if args.reprice else ""))
    objective = args.objective or default_objective(runs)
    per_run = fronts(runs, objective)  # checks every run before anything is written
    table = hypervolume_table(runs, objective, given)
    plot_fronts(args.out, runs, objective)
    write_compare_page(page, runs, objective, table)
    ref = table["reference"]
    print(f"hypervolume of accuracy vs {objective}, reference point: accuracy "
          f"{ref['accuracy']:g}, {objective} {ref[objective]:,.6g} ({ref['why']})")
    width = max(12, *(len(label) for label, _ in per_run))
    print(f"{'run':<{width}} {'on front':>8} {'best acc':>9} {'hypervolume':>12}  {objective} range")
    for (label, front), row in zip(per_run, table["runs"]):
        best = row["best_accuracy"]
        span = (f"{front[0][objective]:g} .. {front[-1][objective]:g}"
                if front else "no feasible design")
        print(f"{label:<{width}} {len(front):>8} "
              f"{(f'{100 * best:.2f} %' if best is not None else '-'):>9} "
              f"{row['hypervolume']:>12.4f}  {span}")
    print(f"wrote {args.out} and {page}")
    return 0

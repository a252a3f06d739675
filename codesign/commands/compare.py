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
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from codesign.search.compare import (add_latency, default_objective, fronts, load_runs,
                                         plot_fronts)

    check_out_file(args.out, "--out")  # before any work: nothing is written when it cannot be
    runs = load_runs(args.runs)
    if args.latency_table:
        n = add_latency(runs, args.latency_table)
        print(f"priced latency_ms of {n} designs from {args.latency_table}")
    objective = args.objective or default_objective(runs)
    per_run = fronts(runs, objective)  # checks every run before anything is written
    plot_fronts(args.out, runs, objective)
    for label, front in per_run:
        best = max((x["accuracy"] for x in front), default=None)
        span = (f"{objective} {front[0][objective]:g} .. {front[-1][objective]:g}"
                if front else "no feasible design")
        print(f"{label}: {len(front)} designs on the front, {span}"
              + (f", best accuracy {100 * best:.2f} %" if best is not None else ""))
    print(f"wrote {args.out}")
    return 0

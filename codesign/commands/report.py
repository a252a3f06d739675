"""``codesign report RUN_DIR``: one HTML page about a finished search (``RUN_DIR/report.html``)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write RUN_DIR/report.html: request, front, plots, exports",
                       description="Write RUN_DIR/report.html, a self-contained page: the "
                                   "search's request, constraints and timing, its Pareto front "
                                   "(a table and an interactive plot with the hypervolume), "
                                   "pareto.png, and every design exported into RUN_DIR with its "
                                   "report.")
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--objective", default=None, choices=("latency_ms", "lut", "fps"),
                   help="x axis of the plot (default: latency_ms for a latency search, else lut)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from codesign.io import atomic_write_text
    from codesign.search.compare import default_objective, hypervolume_table, read_pareto
    from codesign.search.html import exported_bundles, report_page

    run_dir = Path(args.run)
    pareto = read_pareto(run_dir)
    runs = [(run_dir.name or str(run_dir), pareto)]
    objective = args.objective or default_objective(runs)
    table = hypervolume_table(runs, objective)
    out = atomic_write_text(run_dir / "report.html",
                            report_page(run_dir, pareto, objective, table))
    front = sum(bool(x.get("on_front")) for x in pareto["designs"])
    print(f"wrote {out}: {len(pareto['designs'])} designs, {front} on the front, "
          f"{len(exported_bundles(run_dir))} exported; hypervolume (accuracy vs {objective}) "
          f"{table['runs'][0]['hypervolume']:.4f}")
    return 0

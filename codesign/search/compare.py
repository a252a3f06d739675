"""Overlay the Pareto fronts of several runs in one plot (``codesign compare``).  Torch-free.

Each run directory holds a ``pareto.json``; the front of a run is recomputed for accuracy vs
the chosen objective (``latency_ms``, ``lut``: lower is better; ``fps``: higher is better), so
runs searched under different objectives (an FPGA run and a CPU-latency run) can be compared
on any objective all of them priced.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from fpga.errors import InputError

from codesign.io import atomic_write_figure
from codesign.search.pareto import non_dominated

#: objective -> (sense, axis label)
COMPARE_OBJECTIVES: dict[str, tuple[str, str]] = {
    "latency_ms": ("min", "latency (ms, predicted from the latency table)"),
    "lut": ("min", "LUT (estimated)"),
    "fps": ("max", "frames/s (estimated)"),
}


def load_runs(run_dirs: Sequence[str | Path]) -> list[tuple[str, dict[str, Any]]]:
    """``(label, pareto.json content)`` per run; a missing or invalid run is an InputError."""
    from codesign.search.loop import load_pareto

    if len(run_dirs) < 1:
        raise InputError("RUN_DIR", "give at least one run directory")
    out = []
    for r in run_dirs:
        d = load_pareto(r)
        if not isinstance(d.get("designs"), list):
            raise InputError("RUN_DIR", f"{r}/pareto.json has no list of designs")
        out.append((Path(r).name or str(r), d))
    return out


def add_latency(runs: Sequence[tuple[str, dict[str, Any]]], table: str | Path) -> int:
    """Price ``latency_ms`` from ``table`` for every design that lacks it (a run searched without
    a latency table, e.g. an FPGA run), from the design's own ``network``; returns how many were
    priced.  Designs that already carry ``latency_ms`` keep it: a run searched for another
    CPU/GPU stays on its own target's latencies (its ``latency_target`` says which).  Designs
    whose ops the table lacks raise an InputError naming the op."""
    from hw_models.latency_table import LatencyTableModel
    from hw_models.network import NetworkSpec

    model = LatencyTableModel(table)
    n = 0
    for label, d in runs:
        for x in d["designs"]:
            if x.get("latency_ms") is not None or not x.get("network"):
                continue
            rep = model.estimate(NetworkSpec.from_dict(x["network"]))
            if rep.unsupported:
                u = rep.unsupported[0]
                raise InputError("latency-table", f"run {label}, design {x.get('id')}: {u['reason']}"
                                 f"; measure it with `codesign latency build --update --out {table}`")
            x["latency_ms"], x["latency_uncertainty_ms"] = rep.latency_ms, rep.uncertainty_ms
            n += 1
    return n


def default_objective(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """``latency_ms`` when every run priced latency, else ``lut``."""
    if all(any(x.get("latency_ms") is not None for x in d["designs"]) for _, d in runs):
        return "latency_ms"
    return "lut"


def fronts(runs: Sequence[tuple[str, Mapping[str, Any]]],
           objective: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """Per run, its feasible evaluated designs on the accuracy-vs-``objective`` front."""
    if objective not in COMPARE_OBJECTIVES:
        raise InputError("objective", f"got {objective!r}", sorted(COMPARE_OBJECTIVES))
    sense = COMPARE_OBJECTIVES[objective][0]
    out = []
    for label, d in runs:
        pts = [x for x in d["designs"] if x.get("feasible") and x.get("accuracy") is not None]
        if pts and any(x.get(objective) is None for x in pts):
            raise InputError("objective", f"run {label} has no {objective} figures (searched "
                             "without a latency table?)", sorted(COMPARE_OBJECTIVES))
        mask = non_dominated(pts, [("accuracy", "max"), (objective, sense)])
        out.append((label, sorted((x for x, m in zip(pts, mask) if m),
                                  key=lambda x: x[objective])))
    return out


def plot_fronts(path: str | Path, runs: Sequence[tuple[str, Mapping[str, Any]]],
                objective: str, title: str = "") -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for (label, d), (_, front) in zip(runs, fronts(runs, objective)):
        pts = [x for x in d["designs"] if x.get("feasible") and x.get("accuracy") is not None
               and x.get(objective) is not None]
        sc = ax.scatter([x[objective] for x in pts], [100 * x["accuracy"] for x in pts], s=10,
                        alpha=0.35)
        ax.step([x[objective] for x in front], [100 * x["accuracy"] for x in front],
                where="post" if COMPARE_OBJECTIVES[objective][0] == "min" else "pre",
                color=sc.get_facecolor()[0][:3], lw=1.5, marker="o", ms=4,
                label=f"{label} ({len(front)} on front)")
    ax.set_xlabel(COMPARE_OBJECTIVES[objective][1])
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title or f"accuracy vs {objective}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return atomic_write_figure(path, fig)

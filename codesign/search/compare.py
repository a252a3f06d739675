"""Overlay the Pareto fronts of several runs in one plot (``codesign compare``).  Torch-free.

Each run directory holds a ``pareto.json``; the front of a run is recomputed for accuracy vs
the chosen objective (``latency_ms``, ``lut``: lower is better; ``fps``: higher is better), so
runs searched under different objectives (an FPGA run and a CPU-latency run) can be compared
on any objective all of them priced.

``pareto.json`` is read by :func:`read_pareto`, which checks every field compare uses (and only
those: a run's file need not carry what ``codesign export`` needs from it).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from fpga.errors import InputError, read_json_file

from codesign.io import atomic_write_figure
from codesign.search.pareto import non_dominated

PARETO_FILE = "pareto.json"

#: objective -> (sense, axis label)
COMPARE_OBJECTIVES: dict[str, tuple[str, str]] = {
    "latency_ms": ("min", "latency (ms, predicted from the latency table)"),
    "lut": ("min", "LUT (estimated)"),
    "fps": ("max", "frames/s (estimated)"),
}


def load_runs(run_dirs: Sequence[str | Path]) -> list[tuple[str, dict[str, Any]]]:
    """``(label, pareto.json content)`` per run; a missing or invalid run is an InputError."""
    if len(run_dirs) < 1:
        raise InputError("RUN_DIR", "give at least one run directory")
    return [(Path(r).name or str(r), read_pareto(r)) for r in run_dirs]


#: the numeric design fields compare may read (objectives, and what goes with them); each is a
#: finite number >= 0, or null where the run did not price it
_NUMERIC_FIELDS = ("lut", "bram18", "dsp", "fps", "latency_ms", "latency_uncertainty_ms")


def read_pareto(run_dir: str | Path) -> dict[str, Any]:
    """``RUN_DIR/pareto.json`` with every field compare reads checked: an object of schema 1
    whose ``designs`` is a list of objects, each with ``accuracy`` (a fraction or null),
    ``feasible`` (a boolean), numeric objectives (finite, >= 0, or null) and ``network`` (an
    object, if present).  Anything else is an InputError naming the field."""
    folder = Path(run_dir)
    path = folder / PARETO_FILE
    if os.path.lexists(folder) and not folder.is_dir():
        raise InputError("RUN_DIR", f"{run_dir} is not a directory (a finished `codesign search` "
                         "run directory holding pareto.json)")
    if not os.path.lexists(path):
        raise InputError("RUN_DIR", f"{path} not found (is {run_dir} a finished codesign search?)")
    d = read_json_file(path, "RUN_DIR")
    if not isinstance(d, Mapping):
        raise InputError("RUN_DIR", f"{path} is not a JSON object (not a codesign pareto.json)")
    if d.get("schema") != 1:
        raise InputError("pareto.schema", f"{path}: got {d.get('schema')!r}", [1])
    designs = d.get("designs")
    if not isinstance(designs, list):
        raise InputError("pareto.designs", f"{path}: "
                         + ("missing" if designs is None else f"a {type(designs).__name__}, not "
                                                               "a list"), ["a list of designs"])
    for i, x in enumerate(designs):
        where = f"pareto.designs[{i}]"
        if not isinstance(x, Mapping):
            raise InputError(where, f"{path}: a design must be an object, got "
                             f"{type(x).__name__}")
        for key in ("accuracy", "feasible"):
            if key not in x:
                raise InputError(f"{where}.{key}", f"{path}: missing")
        acc = x["accuracy"]
        if acc is not None and not (_number(acc) and 0 <= acc <= 1):
            raise InputError(f"{where}.accuracy", f"{path}: got {acc!r}",
                             ["a fraction in [0, 1]", "null (not evaluated)"])
        if not isinstance(x["feasible"], bool):
            raise InputError(f"{where}.feasible", f"{path}: got {x['feasible']!r}", [True, False])
        for key in _NUMERIC_FIELDS:
            v = x.get(key)
            if v is not None and not (_number(v) and v >= 0):
                raise InputError(f"{where}.{key}", f"{path}: got {v!r}",
                                 ["a finite number >= 0", "null (not priced)"])
        if x.get("network") is not None and not isinstance(x["network"], Mapping):
            raise InputError(f"{where}.network", f"{path}: got {type(x['network']).__name__}",
                             ["a network object (README, 'Network format')"])
    return dict(d)


def _number(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


def add_latency(runs: Sequence[tuple[str, dict[str, Any]]], table: str | Path,
                reprice: bool = False) -> int:
    """Price ``latency_ms`` from ``table`` for every design that lacks it (a run searched without
    a latency table, e.g. an FPGA run), from the design's own ``network``; returns how many were
    priced.  Designs that already carry ``latency_ms`` keep it: a run searched for another
    CPU/GPU stays on its own target's latencies (its ``latency_target`` says which) -- unless
    ``reprice``: then every design is priced on ``table`` (its own figure kept as
    ``latency_ms_own``), so that runs searched for different targets (say 1 thread batch 1 and
    2 threads batch 8) are compared on the one the table measures.  Designs whose ops the table
    lacks raise an InputError naming the op."""
    from hw_models.latency_table import LatencyTableModel
    from hw_models.network import NetworkSpec

    model = LatencyTableModel(table)
    n = 0
    for label, d in runs:
        for i, x in enumerate(d["designs"]):
            if not x.get("network") or (x.get("latency_ms") is not None and not reprice):
                continue
            try:
                spec = NetworkSpec.from_dict(x["network"])
            except InputError as exc:
                raise InputError(f"pareto.designs[{i}].network", f"run {label}: {exc}") from None
            rep = model.estimate(spec)
            if rep.unsupported:
                u = rep.unsupported[0]
                raise InputError("latency-table", f"run {label}, design {x.get('id')}: {u['reason']}"
                                 f"; measure it with `codesign latency build --update --out {table}`")
            if reprice and x.get("latency_ms") is not None:
                x["latency_ms_own"] = x["latency_ms"]
            x["latency_ms"], x["latency_uncertainty_ms"] = rep.latency_ms, rep.uncertainty_ms
            n += 1
        if reprice:
            d["latency_target"] = model.table.describe_target()
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


# ------------------------------------------------------------------ hypervolume
#: the budget fields of a request that bound each objective (the default reference point)
_BUDGET_FIELDS = {"lut": "max_lut", "latency_ms": "max_latency_ms", "fps": "min_fps"}


def reference_point(runs: Sequence[tuple[str, Mapping[str, Any]]], objective: str,
                    given: tuple[float, float] | None = None) -> dict[str, Any]:
    """The reference point the hypervolumes are measured against, and why.

    Accuracy: 0 unless given.  A cost (``lut``, ``latency_ms``, lower is better): the loosest
    budget the runs' requests set for it, else the largest value among their feasible designs.
    ``fps`` (higher is better): the lowest frame-rate floor the requests set, else 0; its scale
    is the highest frame rate any run reached."""
    sense = COMPARE_OBJECTIVES[objective][0]
    values = [x[objective] for _, d in runs for x in d["designs"]
              if x.get("feasible") and x.get("accuracy") is not None
              and x.get(objective) is not None]
    budgets = [d.get("request", {}).get(_BUDGET_FIELDS[objective]) for _, d in runs]
    budgets = [b for b in budgets if _number(b) and b > 0]
    if given is not None:
        acc, x = given
        why = "given with --reference"
    elif sense == "min":
        acc = 0.0
        x = max(budgets) if budgets else (max(values) if values else 1.0)
        why = ("the runs' loosest budget" if budgets else "the largest value among the runs' "
               "feasible designs")
    else:
        acc = 0.0
        x = min(budgets) if budgets else 0.0
        why = "the runs' lowest frame-rate floor" if budgets else "0 frames/s"
    top = max(values + [x]) if sense == "max" else None
    return {"accuracy": float(acc), objective: float(x), "sense": sense, "why": why,
            **({"scale": float(top)} if top is not None else {})}


def front_hypervolume(front: Sequence[Mapping[str, Any]], objective: str,
                      ref: Mapping[str, Any]) -> float:
    """The share of the box between ``ref`` and the ideal point (accuracy 1; cost 0, or the
    highest frame rate seen) that ``front`` dominates: 0 (nothing better than ``ref``) to 1."""
    from codesign.search.hypervolume import hypervolume

    acc_ref, x_ref = ref["accuracy"], ref[objective]
    if acc_ref >= 1:
        return 0.0
    pts = []
    for x in front:
        a = (1 - x["accuracy"]) / (1 - acc_ref)
        if ref["sense"] == "min":
            c = x[objective] / x_ref if x_ref > 0 else float("inf")
        else:
            span = ref["scale"] - x_ref
            c = (ref["scale"] - x[objective]) / span if span > 0 else 0.0
        pts.append((a, c))
    return hypervolume(pts, (1.0, 1.0))


def hypervolume_table(runs: Sequence[tuple[str, Mapping[str, Any]]], objective: str,
                      given: tuple[float, float] | None = None) -> dict[str, Any]:
    """Each run's front, best accuracy and hypervolume against one reference point."""
    ref = reference_point(runs, objective, given)
    rows = []
    for label, front in fronts(runs, objective):
        rows.append({"run": label, "on_front": len(front),
                     "best_accuracy": max((x["accuracy"] for x in front), default=None),
                     "hypervolume": round(front_hypervolume(front, objective, ref), 6),
                     "range": [front[0][objective], front[-1][objective]] if front else None})
    return {"objective": objective, "reference": ref, "runs": rows}


def write_compare_page(path: str | Path, runs: Sequence[tuple[str, Mapping[str, Any]]],
                       objective: str, table: Mapping[str, Any]) -> Path:
    """The interactive page beside the PNG (``FILE.html``): the fronts, hover details, runs
    toggled from the legend, and the hypervolume table."""
    from codesign.search.html import compare_page

    from codesign.io import atomic_write_text

    return atomic_write_text(path, compare_page(runs, objective, table))

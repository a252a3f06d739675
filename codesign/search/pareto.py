"""Pareto fronts: non-dominated filtering, the knee point, ``pareto.json`` and ``pareto.png``.

Objectives are given as ``(name, sense)`` with sense ``"max"`` or ``"min"``; only feasible
designs can be on a front.  Torch-free.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from codesign.io import atomic_write_figure, atomic_write_json

log = logging.getLogger(__name__)

SCHEMA = 1
#: the FPGA search's objectives: accuracy up, LUT down, frame rate up
FPGA_OBJECTIVES: tuple[tuple[str, str], ...] = (("accuracy", "max"), ("lut", "min"), ("fps", "max"))
#: a search with a latency table (CPU/GPU target): accuracy up, predicted latency down
LATENCY_OBJECTIVES: tuple[tuple[str, str], ...] = (("accuracy", "max"), ("latency_ms", "min"))


def objectives_of(request: Any) -> tuple[tuple[str, str], ...]:
    """The objectives of a search request: accuracy (and, with ``--objective robust_accuracy``,
    accuracy under attack) against LUT and frames/s, or against latency with a latency table."""
    base = LATENCY_OBJECTIVES if getattr(request, "latency_table", None) else FPGA_OBJECTIVES
    if getattr(request, "objective", "accuracy") == "robust_accuracy":
        return (base[0], ("robust_accuracy", "max"), *base[1:])
    return base


def _as_min(designs: Sequence[Mapping[str, Any]], objectives: Sequence[tuple[str, str]]) -> np.ndarray:
    """Objective matrix (n x k) with every column turned into a minimisation."""
    cols = []
    for name, sense in objectives:
        if sense not in ("max", "min"):
            raise ValueError(f"objective {name}: sense must be 'max' or 'min', got {sense!r}")
        v = np.array([float(d[name]) for d in designs], dtype=float)
        cols.append(-v if sense == "max" else v)
    return np.stack(cols, axis=1) if cols else np.zeros((len(designs), 0))


def non_dominated(designs: Sequence[Mapping[str, Any]],
                  objectives: Sequence[tuple[str, str]] = FPGA_OBJECTIVES) -> list[bool]:
    """For each design: feasible and not dominated by any other feasible design.

    ``a`` dominates ``b`` when it is no worse in every objective and better in one.  Designs
    with identical objective vectors do not dominate each other (both stay on the front).
    """
    if not designs:
        return []
    ok = [i for i, d in enumerate(designs) if d.get("feasible", True)]
    out = [False] * len(designs)
    if not ok:
        return out
    f = _as_min([designs[i] for i in ok], objectives)
    for row, i in enumerate(ok):
        dominated = np.any(np.all(f <= f[row], axis=1) & np.any(f < f[row], axis=1))
        out[i] = not bool(dominated)
    return out


def knee(designs: Sequence[Mapping[str, Any]],
         objectives: Sequence[tuple[str, str]] = FPGA_OBJECTIVES) -> int | None:
    """Index of the front's knee: the design closest to the ideal point after min-max scaling.

    Each objective is scaled to [0, 1] over the front (0 = best); the knee minimises the
    Euclidean distance to the all-zero ideal point, i.e. the best balanced trade-off.
    """
    idx = [i for i, d in enumerate(designs) if d.get("on_front")]
    if not idx:
        return None
    f = _as_min([designs[i] for i in idx], objectives)
    lo, hi = f.min(axis=0), f.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    dist = np.linalg.norm((f - lo) / span, axis=1)
    return idx[int(np.argmin(dist))]


def best(designs: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the most accurate feasible design (ties: fewer LUTs)."""
    ok = [i for i, d in enumerate(designs) if d.get("feasible")]
    if not ok:
        return None
    return min(ok, key=lambda i: (-designs[i]["accuracy"], designs[i]["lut"]))


def mark_front(designs: list[dict[str, Any]],
               objectives: Sequence[tuple[str, str]] = FPGA_OBJECTIVES) -> list[dict[str, Any]]:
    """Set each design's ``on_front`` flag (in place) and return the list."""
    for d, f in zip(designs, non_dominated(designs, objectives)):
        d["on_front"] = f
    return designs


def write_pareto(path: str | Path, request: Mapping[str, Any],
                 designs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Write ``pareto.json`` (schema 1): the request and every priced design, front marked.

    The front is marked for ``extra["objectives"]`` (``[{"name", "sense"}]``) when given, else
    for the FPGA objectives.  Returns the content written.
    """
    objectives = [(o["name"], o["sense"]) for o in extra.get("objectives") or []] \
        or FPGA_OBJECTIVES
    content = {"schema": SCHEMA, "request": dict(request),
               "designs": mark_front(designs, objectives), **extra}
    atomic_write_json(path, content)
    return content


def plot_pareto(path: str | Path, designs: Sequence[Mapping[str, Any]],
                budgets: Mapping[str, float], title: str = "") -> Path:
    """Accuracy vs LUT (colour: frame rate); front joined, infeasible designs greyed, budget dashed."""

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    bad = [d for d in designs if not d.get("feasible")]
    ok = [d for d in designs if d.get("feasible")]
    if bad:
        # never evaluated (rejected before accuracy is spent): a rug along the bottom, clipped
        # just right of the LUT budget so that one huge design does not squash the axis
        cap = 1.1 * budgets["lut"] if "lut" in budgets else float("inf")
        ax.scatter([min(d["lut"], cap) for d in bad], [0.02] * len(bad), marker="|", c="0.6", s=40,
                   transform=ax.get_xaxis_transform(),
                   label=f"over budget ({len(bad)}, not evaluated)")
    if ok:
        sc = ax.scatter([d["lut"] for d in ok], [100 * d["accuracy"] for d in ok],
                        c=[d["fps"] for d in ok], cmap="viridis", s=22, label=f"feasible ({len(ok)})")
        fig.colorbar(sc, ax=ax, label="frames/s")
        front = sorted((d for d in ok if d.get("on_front")), key=lambda d: d["lut"])
        if front:
            ax.scatter([d["lut"] for d in front], [100 * d["accuracy"] for d in front],
                       facecolors="none", edgecolors="red", s=60, label="Pareto front")
    if "lut" in budgets:
        ax.axvline(budgets["lut"], ls="--", c="red", lw=1, label=f"LUT budget {budgets['lut']:,.0f}")
    if bad and "lut" in budgets:  # make room for the clipped rug right of the budget line
        ax.set_xlim(right=1.13 * budgets["lut"])
    ax.set_xlabel("LUT (estimated)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return atomic_write_figure(path, fig)

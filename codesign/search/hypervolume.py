"""Hypervolume: the volume a set of points dominates up to a reference point (all coordinates
minimised).  The standard single-number quality of a Pareto front (Zitzler & Thiele 1999):
more is better, and it grows with every point that extends the front.  Torch-free.

Exact, by slicing along the last coordinate (HSO, While et al. 2006): fine for the few hundred
points and two or three objectives of a search; for more, use a dedicated library.
"""
from __future__ import annotations

from typing import Iterable, Sequence


def hypervolume(points: Iterable[Sequence[float]], ref: Sequence[float]) -> float:
    """Volume dominated by ``points`` and bounded by ``ref`` (points not strictly better than
    ``ref`` in every coordinate contribute nothing)."""
    d = len(ref)
    pts = [tuple(float(v) for v in p) for p in points
           if len(p) == d and all(v < r for v, r in zip(p, ref))]
    return _hv(pts, tuple(float(r) for r in ref))


def _hv(pts: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    if not pts:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in pts)
    if len(ref) == 2:  # the staircase, left to right
        hv, best_y = 0.0, ref[1]
        for x, y in sorted(pts):
            if y < best_y:
                hv += (ref[0] - x) * (best_y - y)
                best_y = y
        return hv
    pts = sorted(pts, key=lambda p: p[-1])
    hv = 0.0
    for i, p in enumerate(pts):
        top = pts[i + 1][-1] if i + 1 < len(pts) else ref[-1]
        if top > p[-1]:
            hv += (top - p[-1]) * _hv([q[:-1] for q in pts[:i + 1]], ref[:-1])
    return hv


__all__ = ["hypervolume"]

"""Where the weights go when block RAM runs out: the spill to LUTRAM (beyond FINN's estimate).

FINN's estimate counts every weight memory of ``ram_style = "auto"`` as block RAM, however
many the part has; a real build cannot.  Vivado maps the memories that do not fit to
distributed RAM (LUTRAM) instead.  Public evidence: BNN-PYNQ's CNV with 2-bit weights and
activations on a PYNQ-Z1 (``Xilinx/BNN-PYNQ``, ``bnn/src/network/cnvW2A2``, Vivado 2018.2
utilization) uses 100 % of the XC7Z020's 140 RAMB36 tiles and about 7,000 LUTs as memory
(issue 11), where the same network's memories exceed the device's block RAM.

Model (``FinnCostModel`` with ``beyond_finn``): when the design's RAMB18 demand exceeds what the
device has left beside its shell (:mod:`hw_models.shell`), weight memories move to LUTRAM one at a time, the one costing the fewest LUTs per RAMB18
freed first (a ``depth x width`` memory costs ``width * ceil(depth / 64)`` LUTs as LUTRAM,
FINN's own LUTRAM term), until the rest fits.  What cannot move (line buffers, FIFOs,
thresholds) stays; if the design still does not fit, it is reported as not fitting
(``CostReport.fits_device``), never as a silent overflow.  The same function prices one design
or an array of designs (the vectorized pricer calls it on ``(n, layers)`` arrays).  Torch-free.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Spill:
    """Per design: the LUTs added, the RAMB18 freed, and which memories moved (``(n, m)``)."""

    lut: np.ndarray
    bram18: np.ndarray
    moved: np.ndarray | None


def spill_weights(total_bram18: Any, capacity: int, mem_bram18: Any, mem_lut: Any,
                  which: bool = True) -> Spill:
    """Move weight memories to LUTRAM until ``total_bram18 - freed <= capacity``.

    ``total_bram18``: ``(n,)`` the design's RAMB18 demand; ``mem_bram18`` / ``mem_lut``:
    ``(n, m)`` each movable memory's RAMB18 and its LUTs as LUTRAM (0 RAMB18: not movable).
    Memories move in order of LUTs per RAMB18 freed (to 1/1024 LUT; ties: the earlier layer
    first), each while the demand still exceeds the capacity; then those moved that fit the
    slack the last one left move back, the most LUTs per RAMB18 first.
    ``which=False`` skips ``moved`` (the totals alone are cheaper).
    """
    total = np.atleast_1d(np.asarray(total_bram18, dtype=np.int64))
    b = np.atleast_2d(np.asarray(mem_bram18, dtype=np.int64))
    lut = np.atleast_2d(np.asarray(mem_lut, dtype=np.int64))
    n, m = b.shape
    need = total - capacity
    add_lut = np.zeros(n, dtype=np.int64)
    freed = np.zeros(n, dtype=np.int64)
    moved = np.zeros((n, m), dtype=bool) if which else None
    rows = np.flatnonzero(need > 0)  # only the designs over the capacity move anything
    if m == 0 or rows.size == 0:
        return Spill(add_lut, freed, moved)
    b, lut = b[rows], lut[rows]
    # order key: LUTs per RAMB18 in 1/1024 steps, then the memory's index, all distinct, so a
    # plain (unstable, faster) sort gives the stable order; immovable memories (0 RAMB18) last
    per = (lut << 10) // np.maximum(b, 1)
    key = np.where(b > 0, per, np.iinfo(np.int64).max >> 8) * m + np.arange(m)
    order = np.argsort(key, axis=1)
    packed = np.take_along_axis((lut << 24) | b, order, axis=1)  # one gather for both
    b_sorted, lut_sorted = packed & ((1 << 24) - 1), packed >> 24
    freed_before = np.cumsum(b_sorted, axis=1) - b_sorted
    move_sorted = (b_sorted > 0) & (freed_before < need[rows, None])
    # the last one moved may free more than needed: move back those that fit the slack, the
    # most LUTs per RAMB18 first (they save the most LUTs for the block RAM they take)
    slack = (b_sorted * move_sorted).sum(axis=1) - need[rows]
    for j in range(m - 1, -1, -1):
        back = move_sorted[:, j] & (b_sorted[:, j] <= slack)
        move_sorted[:, j] &= ~back
        slack -= np.where(back, b_sorted[:, j], 0)
    add_lut[rows] = (lut_sorted * move_sorted).sum(axis=1)
    freed[rows] = (b_sorted * move_sorted).sum(axis=1)
    if moved is not None:
        sub = np.zeros_like(move_sorted)
        np.put_along_axis(sub, order, move_sorted, axis=1)
        moved[rows] = sub
    return Spill(add_lut, freed, moved)

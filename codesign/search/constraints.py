"""Budgets as a typed list of constraints, built once from the request.

A :class:`Constraint` is one hard limit on one metric a candidate is priced on: ``lut``,
``bram18`` and ``dsp`` (the FPGA cost model's totals), ``fps`` (its frame rate) or
``latency_ms`` (a measured CPU/GPU latency table); and one the supernet scores, ``robust_accuracy``
(accuracy under an adversarial attack, ``--min-robust-accuracy``), checked after the budgets
priced before any accuracy is spent.  Its violation is signed and normalised
(``<= 0``: met; DESIGN.md rule 1), the value constraint-aware samplers rank infeasible trials by:
``value / limit - 1`` below a maximum, ``1 - value / limit`` above a minimum.  The search loop,
the first generation's screening, the reachability check and the plots all read the same list.
Torch-free.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from fpga.devices import get_device
from fpga.errors import InputError

#: the metrics a constraint may bound, with the sense of their limit and the CLI flag
METRICS: Mapping[str, tuple[str, str]] = {
    "lut": ("max", "max-lut"), "bram18": ("max", "max-bram18"), "dsp": ("max", "max-dsp"),
    "fps": ("min", "min-fps"), "latency_ms": ("max", "max-latency-ms"),
    "robust_accuracy": ("min", "min-robust-accuracy")}
#: the metrics the cost models price (before any accuracy is spent); the others are scored
PRICED_METRICS = ("lut", "bram18", "dsp", "fps", "latency_ms")


@dataclass(frozen=True)
class Constraint:
    """``metric <= limit`` (``sense == "max"``) or ``metric >= limit`` (``"min"``)."""

    metric: str
    sense: str
    limit: float

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise InputError("constraint.metric", f"unknown metric {self.metric!r}",
                             sorted(METRICS))
        if self.sense not in ("max", "min"):
            raise InputError("constraint.sense", f"got {self.sense!r}", ["max", "min"])
        if isinstance(self.limit, bool) or not isinstance(self.limit, (int, float)) \
                or not math.isfinite(self.limit) or self.limit <= 0:
            raise InputError(METRICS[self.metric][1], f"got {self.limit!r}", ["a number > 0"])
        if self.metric == "robust_accuracy" and self.limit > 1:
            raise InputError(self.flag, f"got {self.limit!r}", ["a fraction in (0, 1]"])

    @property
    def flag(self) -> str:
        """The command-line flag that sets it (``max-lut``...)."""
        return METRICS[self.metric][1]

    def violation(self, value: float) -> float:
        """Signed, normalised: ``<= 0`` when met."""
        if self.sense == "max":
            return float(value) / self.limit - 1.0
        return 1.0 - float(value) / self.limit

    def describe(self) -> str:
        return f"{self.metric} {'<=' if self.sense == 'max' else '>='} {self.limit:g}"


def constraints_from(request: Any) -> tuple[Constraint, ...]:
    """The request's hard limits: explicit FPGA budgets, else the device's capacity (a search
    with a latency table targets a CPU/GPU: then only the FPGA budgets given explicitly apply),
    the frame-rate floor and the latency budget when given."""
    dev = get_device(request.device)
    out: list[Constraint] = []
    for metric, given, capacity in (("lut", request.max_lut, dev.lut),
                                    ("bram18", request.max_bram18, dev.bram18),
                                    ("dsp", request.max_dsp, dev.dsp)):
        limit = given if (given or request.latency_table) else capacity
        if limit:
            out.append(Constraint(metric, "max", float(limit)))
    if request.min_fps:
        out.append(Constraint("fps", "min", float(request.min_fps)))
    if getattr(request, "max_latency_ms", None) and request.latency_table:
        out.append(Constraint("latency_ms", "max", float(request.max_latency_ms)))
    if getattr(request, "min_robust_accuracy", None):
        out.append(Constraint("robust_accuracy", "min", float(request.min_robust_accuracy)))
    return tuple(out)


def violations(constraints: Iterable[Constraint], metrics: Mapping[str, float]
               ) -> dict[str, float]:
    """``{metric: violation}`` for every constraint whose metric was priced."""
    return {c.metric: c.violation(metrics[c.metric]) for c in constraints if c.metric in metrics}


def as_budgets(constraints: Iterable[Constraint]) -> dict[str, float]:
    """The FPGA limits as the ``{lut, bram18, dsp, fps}`` mapping the batch screen and the
    plots take."""
    return {c.metric: c.limit for c in constraints if c.metric in ("lut", "bram18", "dsp", "fps")}

"""Pricing: describe a candidate as a concrete network, repair its folding, price it, and turn
the request's constraints into signed violations (DESIGN.md rule 1).  Torch-free: the search
loop, the screen, the benchmarks and the supernet-driven strategies all price through here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fpga.devices import get_device
from fpga.errors import InputError
from hw_models.cost import FinnCostModel
from hw_models.folding import fold_for_fps
from hw_models.network import NetworkSpec

from codesign.request import SearchRequest
from codesign.search.constraints import as_budgets, constraints_from, violations
from codesign.spaces.base import Candidate, SearchSpace


@dataclass(frozen=True)
class Priced:
    """A candidate's network after folding repair, its cost and its budget violations."""

    network: NetworkSpec
    cost: dict[str, Any]
    violations: dict[str, float]

    @property
    def feasible(self) -> bool:
        return (all(v <= 0 for v in self.violations.values()) and not self.cost["unsupported"]
                and not self.cost.get("latency", {}).get("unsupported"))


class Pricer:
    """Describe, repair and price candidates of one space for one request (torch-free)."""

    def __init__(self, space: SearchSpace, request: SearchRequest) -> None:
        self.space = space
        self.request = request
        self.model = FinnCostModel(get_device(request.device), clock_mhz=request.clock)
        #: the budgets, as a typed list built once (codesign.search.constraints)
        self.constraints = constraints_from(request)
        self.budgets = as_budgets(self.constraints)
        self.latency = None  # the latency-table cost model when the request targets a CPU/GPU
        if request.latency_table:
            from hw_models.latency_table import LatencyTableModel
            self.latency = LatencyTableModel(request.latency_table)

    def price(self, c: Candidate) -> Priced:
        """Price ``c``, repairing its folding so that budgets are met whenever folding can.

        First pass: layers slower than ``min_fps`` allows get the cheapest legal folding that
        meets it; the others keep the folding the strategy chose (so faster, larger designs
        stay reachable).  The strategy's folding thus sets the frame rate (through its slowest
        stage), and every layer is then trimmed to its LUT-optimal folding for that frame rate.
        If that breaks a budget, second pass: every layer gets its LUT-optimal
        folding for ``min_fps`` -- the cheapest this architecture and these bits can be built.
        Only when that also breaks a budget is the candidate infeasible.
        """
        spec = self.space.describe(c)
        target = self.request.min_fps
        if target:
            spec = fold_for_fps(spec, self.model, target, keep_existing=True)
        p = self._priced(spec)
        # Trim: parallelism beyond what the bottleneck stage allows buys no frames/s, only LUTs.
        # Refolding every layer LUT-optimally for the frame rate this folding reaches gives a
        # design at least as fast with at most as many LUTs (fold_for_fps is per-layer optimal).
        cycles = p.cost["cycles_per_frame"]
        if cycles and not p.cost["unsupported"]:
            trimmed = self._priced(fold_for_fps(spec, self.model,
                                                self.model.clock_mhz * 1e6 / (cycles + 0.5)))
            if (trimmed.cost["totals"]["lut"] <= p.cost["totals"]["lut"]
                    and trimmed.cost["fps"] >= p.cost["fps"]):
                p = trimmed
        if p.feasible:
            return p
        cheapest = fold_for_fps(spec, self.model, target or 1e-9, keep_existing=False)
        q = self._priced(cheapest)
        return q if q.feasible else p

    def cheapest(self) -> Priced:
        """The smallest architecture at the lowest bits, folded as cheaply as ``min_fps`` allows."""
        c = self.space.extreme(largest=False)
        spec = self.space.describe(c)
        spec = fold_for_fps(spec, self.model, self.request.min_fps or 1e-9, keep_existing=False)
        return self._priced(spec)

    def _priced(self, spec: NetworkSpec) -> Priced:
        report = self.model.estimate(spec)
        metrics = {"lut": report.lut, "bram18": report.bram18, "dsp": report.dsp,
                   "fps": report.fps}
        cost = report.to_dict()
        if self.latency is not None:
            lat = self.latency.estimate(spec)
            cost["latency"] = lat.to_dict()
            metrics["latency_ms"] = lat.latency_ms
        return Priced(spec, cost, violations(self.constraints, metrics))


def check_budgets_reachable(pricer: Pricer) -> None:
    """Refuse a request no design in the space can meet, naming the budget and the cheapest cost."""
    p = pricer.cheapest()
    t, req = p.cost["totals"], pricer.request
    by_metric = {c.metric: c for c in pricer.constraints}
    # the frame rate first: if it cannot be met, no LUT budget would help
    for key, v in sorted(p.violations.items(), key=lambda kv: kv[0] != "fps"):
        if v > 0 and key != "latency_ms":  # latency: codesign.latency.check_latency_target
            flag = by_metric[key].flag
            have = p.cost["fps"] if key == "fps" else t[key]
            limit = by_metric[key].limit
            raise InputError(
                flag, f"no design in space '{pricer.space.name}' can meet {flag} {limit:g}: the "
                f"cheapest one (smallest architecture, lowest bits, cheapest folding for "
                f"{req.min_fps or 0:g} frames/s) has {key} = {have:,.0f} "
                f"(LUT {t['lut']:,.0f}, BRAM18 {t['bram18']:,.0f}, DSP {t['dsp']:,.0f}, "
                f"{p.cost['fps']:,.0f} frames/s on {req.device})",
                [f"{'<=' if key == 'fps' else '>='} {have:,.0f}"
                 + (" (the fastest folding of the cheapest design)" if key == "fps" else "")])


__all__ = ["Priced", "Pricer", "check_budgets_reachable"]

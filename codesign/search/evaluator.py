"""The evaluator: one candidate in, one result record out.

``request -> space -> Evaluator -> strategy -> study`` is the search's path
(:mod:`codesign.search.loop`).  The evaluator

1. repairs the candidate and prices it (:class:`~codesign.search.pricing.Pricer`: folding repair,
   the FPGA cost model, a latency table, the budgets as signed violations);
2. if it is within the budgets and a zero-cost prefilter is on, scores it at initialization
   (:mod:`codesign.search.zero_cost`) and may keep it from the supernet (``prefiltered``);
3. otherwise scores it with the supernet (validation accuracy, and accuracy under attack when
   the request measures robustness), cached per architecture + bits (``acc_key``: folding does
   not change accuracy) -- in the study when there is one, so that workers share it;
4. checks the score constraints (``--min-robust-accuracy``) and returns an :class:`Evaluation`,
   which knows its objective values and the attributes the study stores.

Both kinds of strategy go through it: the loop evaluates what ask/tell strategies propose, and
the supernet-driven ones (differentiable, mgda) price their samples with its pricer while they
search and hand their final candidates to the loop, which evaluates them like any other.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from codesign.search.constraints import Constraint, PRICED_METRICS, violations
from codesign.search.pricing import Priced, Pricer
from codesign.spaces.base import Candidate

log = logging.getLogger(__name__)


def accuracy_key(c: Candidate) -> str:
    """What accuracy depends on: the architecture and the bits, not the folding."""
    return Candidate({**c.group("arch."), **c.group("quant.")}).key


@dataclass(frozen=True)
class Evaluation:
    """One candidate's result: its priced network, its scores and its constraint violations."""

    candidate: Candidate
    priced: Priced
    #: ``{"accuracy": .., "robust_accuracy": ..}``; ``None`` when it was not scored (over
    #: budget, or kept from the supernet by the prefilter)
    scores: Mapping[str, float] | None
    evaluated: bool = False  # scored here (not taken from the cache)
    proxy: float | None = None  # the zero-cost score, when the prefilter is on
    prefiltered: bool = False
    violations: Mapping[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def acc_key(self) -> str:
        return accuracy_key(self.candidate)

    @property
    def accuracy(self) -> float | None:
        return None if self.scores is None else self.scores.get("accuracy")

    @property
    def feasible(self) -> bool:
        """Within every budget, priced without unsupported layers, and every score constraint met."""
        return (self.priced.feasible and self.scores is not None
                and all(v <= 0 for v in self.violations.values()))

    def value(self, name: str) -> float:
        """The objective ``name`` (an unscored candidate's accuracies count as 0)."""
        cost = self.priced.cost
        if name in ("accuracy", "robust_accuracy"):
            return float((self.scores or {}).get(name) or 0.0)
        if name == "lut":
            return float(cost["totals"]["lut"])
        if name == "fps":
            return float(cost["fps"])
        if name == "latency_ms":
            return float(cost["latency"]["latency_ms"])
        raise KeyError(name)

    def values(self, objectives: Sequence[tuple[str, str]]) -> list[float]:
        return [self.value(n) for n, _ in objectives]

    def user_attrs(self) -> dict[str, Any]:
        """What the study stores on the trial (``designs_from_study`` reads it back)."""
        p = self.priced
        return {"candidate": dict(self.candidate), "network": p.network.to_dict(),
                "cost": p.cost, "violations": dict(self.violations), "feasible": self.feasible,
                "accuracy": self.accuracy,
                "robust_accuracy": None if self.scores is None
                else self.scores.get("robust_accuracy"),
                "scores": None if self.scores is None else dict(self.scores),
                "acc_key": self.acc_key, "evaluated": self.evaluated, "proxy": self.proxy,
                "prefiltered": self.prefiltered, "seconds": round(self.seconds, 3)}


class SupernetScorer:
    """Scores a subnet of the trained supernet: validation accuracy after BN recalibration,
    and, with an ``attack``, accuracy on its adversarial examples of the first
    ``robust_images`` validation images."""

    def __init__(self, supernet: Any, calib_x: Any, val_x: Any, val_y: Any, device: Any,
                 attack: Any = None, robust_images: int = 1000, seed: int = 0) -> None:
        self.supernet, self.device = supernet, device
        self.calib_x, self.val_x, self.val_y = calib_x, val_x, val_y
        self.attack, self.robust_images, self.seed = attack, robust_images, seed

    def __call__(self, c: Candidate) -> dict[str, float]:
        from codesign.supernet.train import evaluate_subnet

        scores = {"accuracy": evaluate_subnet(self.supernet, c, self.calib_x, self.val_x,
                                              self.val_y, self.device)}
        if self.attack is not None:
            from codesign.search.robust import robust_accuracy

            self.supernet.eval()  # BN statistics were recalibrated for c just above
            try:
                n = self.robust_images
                scores["robust_accuracy"] = robust_accuracy(
                    self.supernet, self.val_x[:n], self.val_y[:n], self.device, self.attack,
                    seed=self.seed)
            finally:
                self.supernet.train()
        return scores


class Prefilter:
    """``--prefilter zero-cost``: a candidate proposed by the strategy whose training-free
    score falls below the ``keep`` quantile of the scores seen so far is not sent to the
    supernet.  The first ``warmup`` scores, and queued candidates (the hand-design seeds and
    the screened first generation), always pass; after ``max_pruned`` rejections every
    candidate passes, so a strategy that keeps proposing low scorers cannot stall the search."""

    def __init__(self, proxy: Callable[..., float], keep: float, warmup: int, max_pruned: int,
                 seed: int = 0, images: Any = None, history: Sequence[float] = (),
                 pruned: int = 0, name: str = "nwot") -> None:
        self.proxy, self.keep, self.warmup, self.max_pruned = proxy, keep, warmup, max_pruned
        self.seed, self.images, self.name = seed, images, name
        self.history = [h for h in history if h is not None and np.isfinite(h)]
        self.pruned = pruned

    def score(self, network: Any) -> float:
        return float(self.proxy(network, seed=self.seed, images=self.images))

    def passes(self, score: float, queued: bool) -> bool:
        ok = (queued or len(self.history) < self.warmup or self.pruned >= self.max_pruned
              or self.keep >= 1.0
              or score >= float(np.quantile(self.history, 1.0 - self.keep)))
        if np.isfinite(score):
            self.history.append(score)
        if not ok:
            self.pruned += 1
        return ok


class Evaluator:
    """Prices, prefilters and scores candidates for one request (see the module docstring).

    ``scorer`` maps a candidate to its scores (a :class:`SupernetScorer`); ``cache`` is how
    scores are shared: ``cache(acc_key, trial, evaluate) -> (scores, evaluated_here)``, the
    study's :meth:`~codesign.search.study.TrialStore.scores_of` in the loop; without one, an
    in-memory dictionary."""

    def __init__(self, pricer: Pricer, scorer: Callable[[Candidate], dict[str, float]] | None,
                 prefilter: Prefilter | None = None, cache: Callable[..., Any] | None = None
                 ) -> None:
        self.pricer, self.scorer, self.prefilter = pricer, scorer, prefilter
        self.space = pricer.space
        self._cache = cache
        self._memo: dict[str, dict[str, float]] = {}
        #: the constraints checked on scores, after the budgets priced before any accuracy
        self.score_constraints: tuple[Constraint, ...] = tuple(
            c for c in pricer.constraints if c.metric not in PRICED_METRICS)

    def price(self, c: Candidate) -> Priced:
        return self.pricer.price(self.space.repair(c))

    def evaluate(self, c: Candidate, trial: Any = None, queued: bool = False) -> Evaluation:
        """The result record of ``c`` (repaired first).  ``queued``: the candidate was queued
        by the loop (a seed or the screened first generation), so the prefilter lets it by."""
        t0 = time.perf_counter()
        c = self.space.repair(c)
        p = self.pricer.price(c)
        proxy, pruned, scores, evaluated = None, False, None, False
        if p.feasible and self.prefilter is not None:
            proxy = self.prefilter.score(p.network)
            pruned = not self.prefilter.passes(proxy, queued)
        if p.feasible and not pruned and self.scorer is not None:
            scores, evaluated = self._scores(c, trial)
        viol = dict(p.violations)
        for con in self.score_constraints:  # unknown until scored: counted as met meanwhile
            viol[con.metric] = (violations((con,), scores)[con.metric]
                                if scores is not None and con.metric in scores else 0.0)
        return Evaluation(c, p, scores, evaluated, proxy, pruned, viol,
                          time.perf_counter() - t0)

    def _scores(self, c: Candidate, trial: Any) -> tuple[dict[str, float], bool]:
        key = accuracy_key(c)
        if self._cache is not None and trial is not None:
            return self._cache(key, trial, lambda: self.scorer(c))
        if key in self._memo:
            return dict(self._memo[key]), False
        self._memo[key] = dict(self.scorer(c))
        return dict(self._memo[key]), True


__all__ = ["Evaluation", "Evaluator", "Prefilter", "SupernetScorer", "accuracy_key"]

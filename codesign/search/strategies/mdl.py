"""Multinomial distribution learning over each slot's choices (MDENAS: Zheng et al., "Multinomial
Distribution Learning for Effective Neural Architecture Search", ICCV 2019).

MDENAS keeps one multinomial distribution per decision and, after each round, applies a pairwise
rule: a choice that was tried *fewer* times but scored *higher* than another gains probability
and the other loses it (the "epoch / accuracy" ranking of the paper).  Here every slot of the
joint space (architecture, bits, folding) is one decision, a "try" is a completed trial that
used the choice, and its score is the trial's reward:

* a feasible trial (every budget met) scores its accuracy (the first objective);
* an infeasible one scores minus its total budget violation (so the budgets steer it too).

The distributions are not kept in memory: every draw replays the paper's cumulative updates over
the study's completed trials (a round of ``population / 2`` trials is one "epoch"), so a
resumed or shared (``--storage``) search continues exactly where it stood.  Choices never tried
count as best (they win every comparison: the paper samples every choice early).  Each round
moves a choice by ``0.2 / (K (K - 1))`` per net win for ``K`` choices, floored at ``0.02 / K``.
The first ``population`` trials are uniform (the loop queues the seeds and the screened
candidates there).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from codesign.search.strategies.base import SearchStrategy, register_strategy


def _reward(t: FrozenTrial) -> float:
    over = [c for c in t.constraints.values() if c > 0]  # Trial.set_constraint's values
    if over:
        return -float(sum(over))
    return float(t.values[0]) if t.values else 0.0


def _pairwise(k: int, count: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``wins - losses`` per choice: ``i`` beats ``j`` when it was tried no more often and
    scored higher on average (a never-tried choice beats every tried one)."""
    wins = ((count[:, None] <= count[None, :]) & (mean[:, None] > mean[None, :])).sum(axis=1)
    losses = ((count[None, :] <= count[:, None]) & (mean[None, :] > mean[:, None])).sum(axis=1)
    return (wins - losses).astype(float)


def mdl_probabilities(choices: list[Any], used: list[Any], rewards: list[float],
                      round_size: int = 1, lr: float | None = None) -> np.ndarray:
    """MDENAS's multinomial of one decision after replaying its updates over the history.

    ``used[t]`` / ``rewards[t]``: the choice and reward of the ``t``-th completed trial, in
    order.  After every ``round_size`` trials (an "epoch" of the paper) each choice moves by
    ``lr * (wins - losses)`` on the statistics so far (:func:`_pairwise`), the probabilities
    are floored at ``0.02 / K`` and renormalised; ``lr`` defaults to ``0.2 / (K (K - 1))``.
    """
    k = len(choices)
    if k == 1:
        return np.ones(1)
    lr = 0.2 / (k * (k - 1)) if lr is None else lr
    index = {repr(c): i for i, c in enumerate(choices)}
    count = np.zeros(k)
    total = np.zeros(k)
    p = np.full(k, 1.0 / k)
    for t, (c, r) in enumerate(zip(used, rewards), start=1):
        i = index.get(repr(c))
        if i is not None:
            count[i] += 1
            total[i] += r
        if t % round_size == 0:
            mean = np.where(count > 0, total / np.maximum(count, 1), np.inf)
            p = np.maximum(p + lr * _pairwise(k, count, mean), 0.02 / k)
            p /= p.sum()
    return p


class MDLSampler(optuna.samplers.BaseSampler):
    """An Optuna sampler drawing every categorical slot from its learned multinomial."""

    def __init__(self, seed: int, warmup: int) -> None:
        self._rng = np.random.RandomState(seed)
        self._fallback = optuna.samplers.RandomSampler(seed=seed)
        self._warmup = warmup

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if not isinstance(param_distribution, CategoricalDistribution):
            return self._fallback.sample_independent(study, trial, param_name,
                                                     param_distribution)
        done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if param_name in t.params]
        choices = list(param_distribution.choices)
        if len(done) < self._warmup:
            return choices[self._rng.randint(len(choices))]
        done.sort(key=lambda t: t.number)
        p = mdl_probabilities(choices, [t.params[param_name] for t in done],
                              [_reward(t) for t in done], round_size=max(1, self._warmup // 2))
        return choices[self._rng.choice(len(choices), p=p)]


@register_strategy("mdl")
class MDL(SearchStrategy):
    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        return MDLSampler(seed=seed, warmup=population)

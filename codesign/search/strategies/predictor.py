"""Evolution guided by a performance predictor fitted on the evaluations so far (the
predictor-based search of NASLib: White et al., "How Powerful are Performance Predictors in
Neural Architecture Search?", NeurIPS 2021; in the spirit of BANANAS/"predictor-guided
evolution").

After the first generation, every new trial is chosen as follows:

1. **Encode** each completed trial as the one-hot of its slot choices (architecture, bits and
   folding: the joint space).
2. **Fit two ridge regressions** on those encodings: accuracy on the feasible trials, and the
   total budget violation on all of them (0 for a feasible trial). Ridge is the simplest
   predictor NASLib evaluates; it is cheap enough to refit for every trial.
3. **Propose** ``n_candidates`` children: each is a mutation (one or more slots changed) of a
   parent drawn by tournament from the best-rewarded trials.
4. **Keep the child that maximises** predicted accuracy minus 10 x predicted violation, i.e.
   the most accurate one the predictor believes fits the budgets. With probability ``0.1`` a
   random child is kept instead (exploration).

Rewards as in :mod:`codesign.search.strategies.mdl`: accuracy if feasible, else minus the total
violation. Everything is recomputed from the study on every draw, so a resumed or shared search
continues where it stood.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from codesign.search.strategies.base import (CategoricalRelativeSampler, SearchStrategy,
                                             register_strategy)
from codesign.search.strategies.mdl import _reward


def _encode(space: dict[str, CategoricalDistribution], params: dict[str, Any]) -> np.ndarray:
    cols = []
    for name, dist in space.items():
        onehot = np.zeros(len(dist.choices))
        onehot[dist.choices.index(params[name])] = 1.0
        cols.append(onehot)
    return np.concatenate(cols)


def ridge(X: np.ndarray, y: np.ndarray, lam: float = 1.0) -> np.ndarray:
    """Ridge regression with an unpenalised intercept: weights for ``[X, 1]``."""
    Xb = np.hstack([X, np.ones((len(X), 1))])
    reg = lam * np.eye(Xb.shape[1])
    reg[-1, -1] = 0.0
    return np.linalg.solve(Xb.T @ Xb + reg, Xb.T @ y)


def _predict(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1))]) @ w


class PredictorSampler(CategoricalRelativeSampler):
    """Proposes the mutation a ridge predictor rates best (categorical slots)."""

    def __init__(self, seed: int, warmup: int, n_candidates: int = 64,
                 explore: float = 0.1) -> None:
        self._rng = np.random.RandomState(seed)
        super().__init__(seed)
        self._warmup = max(2, warmup)
        self._n = n_candidates
        self._explore = explore

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if not search_space:
            return {}
        done = sorted((t for t in study.get_trials(deepcopy=False,
                                                   states=(TrialState.COMPLETE,))
                       if all(k in t.params for k in search_space)), key=lambda t: t.number)
        if len(done) < self._warmup:
            return {}
        names = sorted(search_space)
        space = {k: search_space[k] for k in names}
        X = np.stack([_encode(space, t.params) for t in done])
        reward = np.array([_reward(t) for t in done])
        viol = np.array([sum(c for c in t.constraints.values() if c > 0) for t in done])
        feasible = viol <= 0
        w_viol = ridge(X, viol)
        w_acc = ridge(X[feasible], reward[feasible]) if feasible.sum() >= 2 else None
        # parents: tournaments among the better half
        order = np.argsort(-reward)
        pool = order[:max(2, len(order) // 2)]
        children = []
        for _ in range(self._n):
            a, b = self._rng.choice(pool, 2)
            parent = done[a if reward[a] >= reward[b] else b].params
            child = {k: parent[k] for k in names}
            flips = max(1, self._rng.binomial(len(names), 1.0 / len(names)))
            for k in self._rng.choice(names, flips, replace=False):
                choices = space[k].choices
                if len(choices) > 1:
                    others = [c for c in choices if c != child[k]]
                    child[k] = others[self._rng.randint(len(others))]
            children.append(child)
        if self._rng.rand() < self._explore:
            return children[self._rng.randint(len(children))]
        C = np.stack([_encode(space, c) for c in children])
        score = -10.0 * np.maximum(_predict(w_viol, C), 0.0)
        if w_acc is not None:
            score = score + _predict(w_acc, C)
        return children[int(np.argmax(score))]


@register_strategy("predictor")
class PredictorGuided(SearchStrategy):
    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        return PredictorSampler(seed=seed, warmup=population)

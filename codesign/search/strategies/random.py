"""Uniform random search: the baseline every other strategy must beat."""
from __future__ import annotations

import optuna

from codesign.search.strategies.base import (ConstraintsFn, SearchStrategy,
                                             constraints_from_attrs, register_strategy)


@register_strategy("random")
class RandomSearch(SearchStrategy):
    def sampler(self, seed: int, population: int,
                constraints: ConstraintsFn = constraints_from_attrs) -> optuna.samplers.BaseSampler:
        return optuna.samplers.RandomSampler(seed=seed)

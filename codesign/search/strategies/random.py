"""Uniform random search: the baseline every other strategy must beat."""
from __future__ import annotations

import optuna

from codesign.search.strategies.base import SearchStrategy, register_strategy


@register_strategy("random")
class RandomSearch(SearchStrategy):
    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.RandomSampler(seed=seed)

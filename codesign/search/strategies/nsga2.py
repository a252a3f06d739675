"""NSGA-II (Deb et al. 2002) with constraint domination, via Optuna's NSGAIISampler.

Feasible trials dominate infeasible ones; among infeasible trials the smaller total
violation wins (Deb's constrained tournament), so the population is pulled inside the budgets
before accuracy differences matter.
"""
from __future__ import annotations

import optuna

from codesign.search.strategies.base import SearchStrategy, register_strategy


@register_strategy("nsga2")
class NSGA2(SearchStrategy):
    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        # constraints come from Trial.set_constraint (the search loop sets them per trial)
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)

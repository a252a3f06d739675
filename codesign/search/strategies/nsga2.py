"""NSGA-II (Deb et al. 2002) with constraint domination, via Optuna's NSGAIISampler.

Feasible trials dominate infeasible ones; among infeasible trials the smaller total
violation wins (Deb's constrained tournament), so the population is pulled inside the budgets
before accuracy differences matter.
"""
from __future__ import annotations

import optuna

from codesign.search.strategies.base import (ConstraintsFn, SearchStrategy,
                                             constraints_from_attrs, register_strategy)


@register_strategy("nsga2")
class NSGA2(SearchStrategy):
    def sampler(self, seed: int, population: int,
                constraints: ConstraintsFn = constraints_from_attrs) -> optuna.samplers.BaseSampler:
        return optuna.samplers.NSGAIISampler(population_size=population, seed=seed,
                                             constraints_func=constraints)

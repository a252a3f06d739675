"""The strategy role and its registry."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable

import optuna

from fpga.errors import InputError


class SearchStrategy(ABC):
    """Proposes candidates through an Optuna sampler; the loop asks, prices and tells.

    Budget violations reach the sampler through ``Trial.set_constraint`` (one signed,
    normalised value per budget), so constraint-aware samplers rank infeasible trials by
    how far they are outside the budgets.
    """

    name: str = ""

    @abstractmethod
    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        """The Optuna sampler implementing this strategy (seeded)."""


_STRATEGIES: dict[str, Callable[[], SearchStrategy]] = {}


def register_strategy(name: str) -> Callable[[type[SearchStrategy]], type[SearchStrategy]]:
    def deco(cls: type[SearchStrategy]) -> type[SearchStrategy]:
        if name in _STRATEGIES:
            raise ValueError(f"strategy {name!r} registered twice")
        cls.name = name
        _STRATEGIES[name] = cls
        return cls
    return deco


def list_strategies() -> list[str]:
    _load_builtin()
    return sorted(_STRATEGIES)


def get_strategy(name: str) -> SearchStrategy:
    _load_builtin()
    if name not in _STRATEGIES:
        raise InputError("strategy", f"unknown strategy {name!r}", sorted(_STRATEGIES))
    return _STRATEGIES[name]()


class CategoricalRelativeSampler(optuna.samplers.BaseSampler):
    """Base of the learning samplers that propose a whole candidate at once: the relative
    search space is the categorical slots every completed trial has; anything else (the first
    trials, a non-categorical parameter) is drawn uniformly.  Subclasses implement
    :meth:`sample_relative`."""

    def __init__(self, seed: int) -> None:
        self._fallback = optuna.samplers.RandomSampler(seed=seed)

    def infer_relative_search_space(self, study: optuna.Study, trial: Any
                                    ) -> dict[str, Any]:
        from optuna.distributions import CategoricalDistribution
        from optuna.trial import TrialState

        space = optuna.search_space.intersection_search_space(
            study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        return {k: v for k, v in space.items() if isinstance(v, CategoricalDistribution)}

    def sample_independent(self, study: optuna.Study, trial: Any, param_name: str,
                           param_distribution: Any) -> Any:
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)


def _load_builtin() -> None:
    from codesign.search.strategies import mdl, nsga2, predictor, random, rl  # noqa: F401

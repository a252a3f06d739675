"""The strategy role and its registry."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

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


def _load_builtin() -> None:
    from codesign.search.strategies import mdl, nsga2, predictor, random, rl  # noqa: F401

"""The strategy role and its registry."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
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
    #: False: ask/tell through :meth:`sampler`; True: a :class:`SupernetStrategy`
    supernet_driven: bool = False

    @abstractmethod
    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        """The Optuna sampler implementing this strategy (seeded)."""

    def check(self, space: Any, request: Any) -> None:
        """Refuse (InputError) a space or request this strategy cannot search, before any
        training."""


@dataclass(frozen=True)
class SearchContext:
    """What a supernet-driven strategy gets: the request and space, the trained supernet and
    the device it is on, the training split (uint8 images, labels) to optimize on, the
    evaluator (whose pricer prices samples under the budgets), and whether to show progress."""

    request: Any
    space: Any
    supernet: Any
    device: Any
    train_x: Any
    train_y: Any
    evaluator: Any
    attack: Any = None
    progress: bool = False


class SupernetStrategy(SearchStrategy):
    """A strategy that searches through the supernet itself (gradients of architecture
    parameters) instead of proposing one trial at a time.  The loop calls :meth:`propose` once,
    after the first generation is queued, and queues what it returns; those candidates are then
    priced, scored and recorded like any other.  When they run out (duplicates, a resume asking
    for more trials), :meth:`sampler` (uniform random) fills the study."""

    supernet_driven = True

    def sampler(self, seed: int, population: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.RandomSampler(seed=seed)

    def check(self, space: Any, request: Any) -> None:
        from codesign.search.strategies.relaxed import layer_slots

        layer_slots(space, self.name)

    @abstractmethod
    def propose(self, ctx: SearchContext, n: int) -> list[Any]:
        """Up to ``n`` distinct candidates, best first."""


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
    from codesign.search.strategies import (differentiable, mdl, mgda, nsga2,  # noqa: F401
                                            predictor, random, rl)

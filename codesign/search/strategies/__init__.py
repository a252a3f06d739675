"""Search strategies, registered by name.

A strategy here is what proposes candidates to the search loop.  The loop itself
(:mod:`codesign.search.loop`) owns budgets, cost models, accuracy evaluation and persistence;
a strategy only decides *which* slot values to try next, in one of two ways:

* ask/tell (:class:`SearchStrategy`): an Optuna sampler proposes one trial at a time (nsga2,
  random, rl, rl-monas, mdl, predictor);
* supernet-driven (:class:`SupernetStrategy`): given the trained supernet, the training data
  and the evaluator, it optimizes architecture parameters by gradient and proposes its final
  candidates at once (differentiable, mgda).

Either way every candidate goes through the one evaluator and the one trial store.  Adding a
strategy is one module here, registered with :func:`register_strategy`, and its name in
``_load_builtin``.
"""
from __future__ import annotations

from codesign.search.strategies.base import (SearchContext, SearchStrategy, SupernetStrategy,
                                             get_strategy, list_strategies, register_strategy)

__all__ = ["SearchContext", "SearchStrategy", "SupernetStrategy", "get_strategy",
           "list_strategies", "register_strategy"]

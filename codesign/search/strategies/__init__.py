"""Search strategies, registered by name.

A strategy here is what proposes candidates to the search loop.  The loop itself
(:mod:`codesign.search.loop`) owns budgets, cost models, accuracy evaluation and persistence;
a strategy only decides *which* slot values to try next, through Optuna's sampler interface
(ask/tell on a study), so that every strategy shares one trial store.
"""
from __future__ import annotations

from codesign.search.strategies.base import (SearchStrategy, get_strategy, list_strategies,
                                             register_strategy)

__all__ = ["SearchStrategy", "get_strategy", "list_strategies", "register_strategy"]

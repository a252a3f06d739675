"""Arithmetic that prices one design or an array of designs with the same formula.

Every FINN cost formula in :mod:`hw_models.finn_ops` is written once, with these helpers, so
that its inputs may be plain Python ints (one design: :class:`hw_models.cost.FinnCostModel`,
the folding searches) or numpy integer arrays (many designs at once:
:class:`hw_models.batch_pricing.BatchPricer`).  On Python numbers each helper is the plain
``math`` operation; on arrays the numpy one, element by element, in the same order, so both
paths give the same numbers (``tests/hw_models/test_batch_pricing.py`` checks it).

Rules for a formula written with them: integer ``ceil(a / b)`` is :func:`cdiv` (exact on both),
a value-dependent branch is :func:`where` / :func:`select` (both branches are evaluated on
arrays), ``int(x)`` of a float is :func:`trunc`.  Torch-free.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["cdiv", "ceil", "is_array", "log2", "maximum", "minimum", "select", "trunc", "where"]

I64 = np.int64


def is_array(*xs: Any) -> bool:
    """Whether any argument is a numpy array (then the array path is taken)."""
    return any(isinstance(x, np.ndarray) for x in xs)


def cdiv(a: Any, b: Any) -> Any:
    """``ceil(a / b)`` for integers ``a >= 0``, ``b > 0``, exactly (no float rounding)."""
    return -(-a // b)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``a if cond else b``, element-wise on arrays."""
    if isinstance(cond, np.ndarray):
        return np.where(cond, a, b)
    return a if cond else b


def select(conds: Sequence[Any], values: Sequence[Any], default: Any) -> Any:
    """The value of the first true condition (``default`` when none), element-wise on arrays."""
    if is_array(*conds):
        return np.select([np.asarray(c) for c in conds],
                         [np.asarray(v) for v in values], default)
    for c, v in zip(conds, values):
        if c:
            return v
    return default


def maximum(a: Any, b: Any) -> Any:
    return np.maximum(a, b) if is_array(a, b) else max(a, b)


def minimum(a: Any, b: Any) -> Any:
    return np.minimum(a, b) if is_array(a, b) else min(a, b)


def ceil(x: Any) -> Any:
    """``math.ceil`` (an int) on a number, ``np.ceil`` (floats) on an array."""
    return np.ceil(x) if isinstance(x, np.ndarray) else math.ceil(x)


def log2(x: Any) -> Any:
    return np.log2(x) if isinstance(x, np.ndarray) else math.log2(x)


def trunc(x: Any) -> Any:
    """``int(x)`` (towards zero) on a number, ``astype(int64)`` on an array."""
    return x.astype(I64) if isinstance(x, np.ndarray) else int(x)

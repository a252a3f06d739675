"""Search spaces: named slots of discrete choices, and the candidates drawn from them.

A :class:`SearchSpace` is joint over architecture (``arch.*``), quantization (``quant.*``)
and FPGA folding (``fold.*``).  Every slot is present in every candidate (a fixed-length
encoding: Optuna's NSGA-II only evolves parameters that every trial has), and slots that a
candidate's architecture does not use are simply ignored by :meth:`SearchSpace.describe`.

Spaces are registered by name (:func:`register_space`) and built with :func:`get_space`.
Nothing here imports torch.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from fpga.errors import InputError
from hw_models.network import NetworkSpec


@dataclass(frozen=True)
class Slot:
    """One discrete decision: ``name`` (``arch.*``, ``quant.*`` or ``fold.*``) and its choices."""

    name: str
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError(f"slot {self.name} has no choices")
        if self.name.split(".", 1)[0] not in ("arch", "quant", "fold"):
            raise ValueError(f"slot {self.name}: name must start with arch., quant. or fold.")


class Candidate(Mapping[str, Any]):
    """An immutable slot -> value mapping with a stable key (sorted JSON)."""

    __slots__ = ("_data", "_key")

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._data = MappingProxyType(dict(values))
        self._key = json.dumps(dict(sorted(self._data.items())), sort_keys=True)

    def __getitem__(self, k: str) -> Any:
        return self._data[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Candidate) and other._key == self._key

    def __repr__(self) -> str:
        return f"Candidate({self._key})"

    @property
    def key(self) -> str:
        return self._key

    def __reduce__(self) -> tuple[Any, ...]:  # picklable, hence deep-copyable (immutable)
        return (Candidate, (dict(self._data),))

    def __deepcopy__(self, memo: dict[int, Any]) -> "Candidate":
        return self

    def replace(self, **changes: Any) -> "Candidate":
        d = dict(self._data)
        d.update(changes)
        return Candidate(d)

    def group(self, prefix: str) -> dict[str, Any]:
        """The slots whose name starts with ``prefix`` (e.g. ``"arch."``)."""
        return {k: v for k, v in self._data.items() if k.startswith(prefix)}


class SearchSpace(ABC):
    """Named slots of discrete choices; ``describe`` turns a candidate into a NetworkSpec."""

    name: str = ""

    @property
    @abstractmethod
    def slots(self) -> tuple[Slot, ...]:
        """Every slot, in a fixed order."""

    @abstractmethod
    def describe(self, c: Candidate) -> NetworkSpec:
        """The concrete network (shapes, bits, folding) a valid candidate stands for."""

    def sample(self, rng: np.random.Generator) -> Candidate:
        """A uniformly random candidate, repaired to be legal."""
        return self.repair(Candidate({s.name: s.choices[int(rng.integers(len(s.choices)))]
                                      for s in self.slots}))

    def validate(self, c: Mapping[str, Any]) -> None:
        """Raise InputError naming the first slot that is missing, unknown or out of range."""
        names = {s.name for s in self.slots}
        extra = sorted(set(c) - names)
        if extra:
            raise InputError(extra[0], f"not a slot of space '{self.name}'", sorted(names))
        for s in self.slots:
            if s.name not in c:
                raise InputError(s.name, "missing from candidate", s.choices)
            if c[s.name] not in s.choices:
                raise InputError(s.name, f"got {c[s.name]!r}", s.choices)

    def repair(self, c: Candidate) -> Candidate:
        """Make a candidate legal (the default space has nothing to repair)."""
        return c

    def slot(self, name: str) -> Slot:
        for s in self.slots:
            if s.name == name:
                return s
        raise KeyError(name)

    def size(self) -> int:
        n = 1
        for s in self.slots:
            n *= len(s.choices)
        return n

    def balanced_samples(self, rng: np.random.Generator) -> list[Candidate]:
        """One random candidate per structural group (supernet-balanced sampling, EFS-NAS).

        The default space has a single group, so this is one uniform sample.
        """
        return [self.sample(rng)]

    def seeds(self) -> list[Candidate]:
        """Hand-design-like starting points for a search (none by default).

        A search should never end worse than what a user would build by hand; seeding the
        first generation with such designs guarantees they are priced and scored.
        """
        return []

    # --- the extremes used by the sandwich rule and by budget checks ---
    def extreme(self, largest: bool) -> Candidate:
        """Every ``arch.*``/``quant.*`` slot at its largest (or smallest) choice."""
        pick = max if largest else min
        return Candidate({s.name: pick(s.choices) for s in self.slots})


_SPACES: dict[str, Callable[..., SearchSpace]] = {}


def register_space(name: str) -> Callable[[Callable[..., SearchSpace]], Callable[..., SearchSpace]]:
    def deco(factory: Callable[..., SearchSpace]) -> Callable[..., SearchSpace]:
        if name in _SPACES:
            raise ValueError(f"search space {name!r} registered twice")
        _SPACES[name] = factory
        return factory
    return deco


def list_spaces() -> list[str]:
    _load_builtin()
    return sorted(_SPACES)


def get_space(name: str, **kwargs: Any) -> SearchSpace:
    """Build the registered space ``name`` (e.g. ``get_space("cnv", input_shape=(1, 28, 28))``)."""
    _load_builtin()
    if name not in _SPACES:
        raise InputError("space", f"unknown search space {name!r}", sorted(_SPACES))
    return _SPACES[name](**kwargs)


def _load_builtin() -> None:
    from codesign.spaces import cnv, cnv_l  # noqa: F401  (register themselves)

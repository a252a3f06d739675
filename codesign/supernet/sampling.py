"""Which subnets a supernet trains at each step (the sandwich rule), over the whole space or,
for a few-shot sub-supernet, over the depth combinations of its nonlinearity groups."""
from __future__ import annotations

from typing import Any

import numpy as np

from codesign.spaces.base import Candidate


class SubnetSampler:
    """The largest, the smallest and the random subnets of one training step.

    ``groups``: nonlinearity counts (``space.nonlinearity_count``) to restrict to (few-shot);
    ``None`` is the whole space.  ``balanced``: one random subnet per group per step (EFS-NAS's
    supernet-balanced sampling) instead of ``n_random`` uniform ones.
    """

    def __init__(self, space: Any, groups: tuple[int, ...] | None = None, balanced: bool = False,
                 n_random: int = 1) -> None:
        self.space, self.balanced, self.n_random = space, balanced, n_random
        self.groups = tuple(groups) if groups is not None else None
        self.combos: list[tuple[int, ...]] | None = None
        if self.groups is not None:
            all_groups = space.nonlinearity_groups()
            unknown = [g for g in self.groups if g not in all_groups]
            if unknown:
                raise ValueError(f"nonlinearity groups {unknown} are not in space "
                                 f"{space.name!r} ({sorted(all_groups)})")
            self.combos = [c for g in self.groups for c in all_groups[g]]

    def _at_depth(self, c: Candidate, pick: Any) -> Candidate:
        if self.combos is None:
            return c
        return self.space.with_depths(c, pick(self.combos, key=lambda t: (sum(t), t[::-1])))

    def largest(self) -> Candidate:
        return self._at_depth(self.space.extreme(largest=True), max)

    def smallest(self) -> Candidate:
        return self._at_depth(self.space.extreme(largest=False), min)

    def randoms(self, rng: np.random.Generator) -> list[Candidate]:
        if self.balanced:
            return self.space.balanced_samples(rng, groups=list(self.groups)
                                               if self.groups is not None else None)
        out = []
        for _ in range(self.n_random):
            c = self.space.sample(rng)
            if self.combos is not None:
                c = self.space.with_depths(c, self.combos[int(rng.integers(len(self.combos)))])
            out.append(c)
        return out

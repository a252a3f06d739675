"""Strategy ``differentiable``: UNAS (Vahdat, Mallya, Liu, Kautz, CVPR 2020).

Architecture and bit-width logits are trained through the supernet with a straight-through
Gumbel-softmax relaxation, and the non-differentiable hardware cost (LUTs under the budget, the
frame-rate floor, latency) enters through a REINFORCE term on the same discrete sample
(:mod:`codesign.search.strategies.relaxed`).  Bi-level, first order: each step trains a copy of
the supernet's weights on a subnet sampled from the current distribution (the lower level), then
the logits on another batch (the upper level).  The study keeps being scored by the trained
supernet itself, so every strategy's candidates are scored by the same weights.

UNAS gives one architecture per cost weight; to propose a front, ``HEADS`` sets of logits are
trained side by side, each with its own weight ``lambda`` on the hardware cost.  The proposals
are each head's most likely candidate first, then samples from the heads at a low temperature,
round-robin, until ``n``.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from codesign.search.strategies.base import SearchContext, SupernetStrategy, register_strategy
from codesign.spaces.base import Candidate

if TYPE_CHECKING:
    import torch

    from codesign.search.strategies.relaxed import ArchParams

log = logging.getLogger(__name__)

#: the hardware-cost weights of the heads (small: accuracy first, within the budgets)
HEADS = (0.02, 0.1, 0.3, 1.0)
#: the REINFORCE term's weight on the budget hinge holds even for lambda = 0.02
HINGE_WEIGHT = 1.0


@register_strategy("differentiable")
class Differentiable(SupernetStrategy):
    """Gumbel-softmax architecture/bit-width search through the supernet plus REINFORCE for
    the hardware cost (UNAS), one head per hardware weight."""

    batch_size = 128
    arch_lr = 0.05
    weight_lr_scale = 0.1  # the lower level's learning rate, as a fraction of the request's

    def propose(self, ctx: SearchContext, n: int) -> list[Candidate]:
        import torch

        from codesign.search.strategies.relaxed import ArchParams, BiLevel, distinct, temperature

        bl = BiLevel(ctx, self.name, self.batch_size, self.weight_lr_scale)
        gen = bl.gen
        heads = [ArchParams(ctx.space) for _ in HEADS]
        opt_a = torch.optim.Adam([p for h in heads for p in h.parameters()], lr=self.arch_lr,
                                 betas=(0.5, 0.999))
        baseline = [None] * len(heads)
        steps = ctx.request.arch_steps
        for step in range(steps):
            tau = temperature(step, steps)
            # lower level: the weights, on a subnet of a random head
            x, y = bl.batch()
            h = heads[int(torch.randint(len(heads), (1,), generator=gen))]
            with torch.no_grad():
                c_w, _, _ = h.sample(tau, gen)
            bl.lower_step(c_w, x, y)
            # upper level: every head's logits on a fresh batch
            x, y = bl.batch()
            opt_a.zero_grad(set_to_none=True)
            for k, (lam, head) in enumerate(zip(HEADS, heads)):
                c, st, logp = head.sample(tau, gen)
                ce = bl.loss(c, st, x, y)
                cost = bl.hw(c)
                b = baseline[k] if baseline[k] is not None else cost
                baseline[k] = 0.9 * b + 0.1 * cost
                weight = lam if cost < 1.0 + 1e-9 else max(lam, HINGE_WEIGHT)
                (ce + weight * (cost - b) * logp).backward()
            opt_a.step()
            if ctx.progress and (step + 1) % max(1, steps // 10) == 0:
                log.info("differentiable: step %d/%d, tau %.2f, entropy per slot %s", step + 1,
                         steps, tau, " ".join(f"{h.entropy():.2f}" for h in heads))
        return distinct(self._proposals(heads, gen), ctx.space, n)

    @staticmethod
    def _proposals(heads: list[ArchParams], gen: torch.Generator) -> Any:
        import torch

        for h in heads:
            yield h.argmax()
        with torch.no_grad():
            for _ in range(10_000):
                for h in heads:
                    yield h.draw(gen)

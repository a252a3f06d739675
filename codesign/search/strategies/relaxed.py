"""What the differentiable strategies share: architecture logits over every slot, sampled with a
straight-through Gumbel-softmax, gates that carry the loss's gradient to them through the
single-path supernet, and a REINFORCE estimator for the hardware cost.

**Relaxation** (UNAS, Vahdat et al. 2020; GDAS, Dong & Yang 2019).  Each slot ``s`` has logits
``alpha_s``.  One Gumbel draw gives the relaxed sample ``zeta = softmax((alpha + g) / tau)`` and
the discrete one ``z = onehot(argmax zeta)``; the straight-through value ``z - zeta.detach() +
zeta`` equals ``z`` in the forward and has ``zeta``'s gradient.  The supernet runs the discrete
subnet only (one path), and each layer's output is multiplied by the product of the
straight-through values of the chosen options of the slots that shape it (its bits, its stage's
depth and width: :meth:`~codesign.spaces.cnv.StagedCnvSpace.layer_slots`).  Those products are
1 in value, so the forward is the subnet's own, and the cross-entropy's gradient reaches every
architecture and bit-width logit.

**Hardware cost** (UNAS's REINFORCE term).  LUTs, frames/s and latency come from the analytical
model and the latency table, which are not differentiable (a frame rate is a max over layers),
so their gradient is estimated by REINFORCE on the *same* discrete sample whose log-probability
is differentiated (the UNAS code's ``reinforce`` mode measured a different one): ``(h - b)
grad log p(z)``, with a moving-average baseline ``b``.  The cost ``h`` is the candidate's
resource share (LUT over its budget, or latency over its budget) plus a hinge on every budget
violation.  The folding slots enter only through this term: they do not change accuracy.

Expected cost is not the cost of the discretized architecture: the strategies only *propose*;
the loop re-prices every proposal with the exact model before it counts.
"""
from __future__ import annotations

import copy
from typing import Any, Iterable

import torch
from torch import nn

from fpga.errors import InputError

from codesign.spaces.base import Candidate, SearchSpace

#: weight of the hinge on budget violations, against the resource share (which is <= 1)
HINGE = 5.0


class ArchParams(nn.Module):
    """Logits over every slot of ``space`` (zero: uniform at the start)."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space
        self.slots = list(space.slots)
        self.logits = nn.ParameterList(nn.Parameter(torch.zeros(len(s.choices)))
                                       for s in self.slots)

    def sample(self, tau: float, gen: torch.Generator
               ) -> tuple[Candidate, dict[str, torch.Tensor], torch.Tensor]:
        """A discrete candidate, each slot's straight-through value of its chosen option, and
        the sample's log-probability under ``softmax(alpha)`` (for REINFORCE)."""
        values, st, logp = {}, {}, torch.zeros(())
        for slot, a in zip(self.slots, self.logits):
            u = torch.rand(a.shape, generator=gen).clamp_(1e-9, 1 - 1e-9)
            g = -torch.log(-torch.log(u))
            zeta = torch.softmax((a + g) / tau, dim=0)
            i = int(torch.argmax(zeta))
            values[slot.name] = slot.choices[i]
            st[slot.name] = 1.0 - zeta[i].detach() + zeta[i]
            logp = logp + torch.log_softmax(a, dim=0)[i]
        return Candidate(values), st, logp

    @torch.no_grad()
    def draw(self, gen: torch.Generator) -> Candidate:
        """A discrete sample from ``softmax(alpha)`` (Gumbel-max), without the relaxation: the
        same draw :meth:`sample` makes from the same generator state (the argmax does not depend
        on the temperature), at a fraction of its cost."""
        values = {}
        for slot, a in zip(self.slots, self.logits):
            u = torch.rand(a.shape, generator=gen).clamp_(1e-9, 1 - 1e-9)
            values[slot.name] = slot.choices[int(torch.argmax(a - torch.log(-torch.log(u))))]
        return Candidate(values)

    def argmax(self) -> Candidate:
        return Candidate({s.name: s.choices[int(torch.argmax(a))]
                          for s, a in zip(self.slots, self.logits)})

    def entropy(self) -> float:
        """Mean entropy per slot (nats): how undecided the distribution still is."""
        with torch.no_grad():
            h = [-(torch.softmax(a, 0) * torch.log_softmax(a, 0)).sum() for a in self.logits]
        return float(sum(h) / max(len(h), 1))

    def flat_grad(self) -> torch.Tensor:
        return torch.cat([(a.grad if a.grad is not None else torch.zeros_like(a)).flatten()
                          for a in self.logits])

    def set_flat_grad(self, g: torch.Tensor) -> None:
        i = 0
        for a in self.logits:
            a.grad = g[i:i + a.numel()].view_as(a).clone()
            i += a.numel()


def layer_slots(space: SearchSpace, strategy: str) -> dict[str, tuple[str, ...]]:
    """The space's layer -> shaping slots map, or a clear refusal."""
    fn = getattr(space, "layer_slots", None)
    if fn is None:
        raise InputError("strategy", f"{strategy} needs a space that says which slots shape "
                         f"which layer (layer_slots); space {space.name!r} does not",
                         ["cnv", "cnv-l"])
    return fn()


def gates(layers: dict[str, tuple[str, ...]], st: dict[str, torch.Tensor]
          ) -> dict[str, torch.Tensor]:
    """Each layer's gate: the product of its shaping slots' straight-through values."""
    out = {}
    for layer, slots in layers.items():
        g = torch.ones(())
        for s in slots:
            g = g * st[s]
        out[layer] = g
    return out


class HardwareCost:
    """``h(c)``: the resource share plus a hinge on budget violations, priced by the
    evaluator's pricer (with its folding repair) and cached per candidate."""

    def __init__(self, evaluator: Any) -> None:
        self.evaluator = evaluator
        self._cache: dict[str, float] = {}
        cons = {c.metric: c for c in evaluator.pricer.constraints}
        self.metric = "latency_ms" if evaluator.pricer.latency is not None else "lut"
        self.limit = cons[self.metric].limit if self.metric in cons else None

    def __call__(self, c: Candidate) -> float:
        if c.key not in self._cache:
            p = self.evaluator.price(c)
            value = (p.cost["latency"]["latency_ms"] if self.metric == "latency_ms"
                     else p.cost["totals"]["lut"])
            share = value / self.limit if self.limit else 0.0
            hinge = sum(max(0.0, v) for v in p.violations.values())
            if not p.feasible and hinge == 0.0:  # an unsupported layer: as bad as can be
                hinge = 10.0
            self._cache[c.key] = float(share + HINGE * hinge)
        return self._cache[c.key]


def forward_loss(supernet: Any, c: Candidate, gate: dict[str, torch.Tensor], x: torch.Tensor,
                 y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of subnet ``c`` on the float images ``x``, gated."""
    supernet.activate(c)
    supernet.set_gates(gate)
    try:
        return nn.functional.cross_entropy(supernet(x), y)
    finally:
        supernet.set_gates(None)


def batches(n: int, batch_size: int, gen: torch.Generator) -> Iterable[torch.Tensor]:
    """Endless random mini-batch indices over ``n`` items."""
    while True:
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n - batch_size + 1, batch_size):
            yield perm[i:i + batch_size]


def weight_step(supernet: Any, opt: torch.optim.Optimizer, c: Candidate, x: torch.Tensor,
                y: torch.Tensor) -> float:
    """The lower level: one step of the (copied) supernet's weights on subnet ``c``."""
    supernet.activate(c)
    loss = nn.functional.cross_entropy(supernet(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(supernet.parameters(), 5.0)
    opt.step()
    if hasattr(supernet, "inherit_ranges"):
        supernet.inherit_ranges()
    return float(loss.detach())


class BiLevel:
    """What both differentiable strategies run on: a copy of the supernet whose weights the
    lower level trains (the study's supernet stays as it is), its optimizer, mini-batches of the
    training split, the hardware cost, the layer -> slots map, and one seeded generator for
    every draw (so a fixed seed gives the same proposals)."""

    def __init__(self, ctx: Any, strategy: str, batch_size: int = 128,
                 weight_lr_scale: float = 0.1) -> None:
        self.ctx, self.space = ctx, ctx.space
        self.layers = layer_slots(ctx.space, strategy)
        self.gen = torch.Generator().manual_seed(ctx.request.seed)
        self.supernet = copy.deepcopy(ctx.supernet).to(ctx.device).train()
        self.opt_w = torch.optim.Adam(self.supernet.parameters(),
                                      lr=ctx.request.lr * weight_lr_scale)
        self.hw = HardwareCost(ctx.evaluator)
        n = len(ctx.train_x)
        self._batches = batches(n, min(batch_size, n), self.gen)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training mini-batch, as float images and labels on the device."""
        from codesign.supernet.train import to_float

        idx = next(self._batches)
        return (to_float(self.ctx.train_x[idx], self.ctx.device),
                self.ctx.train_y[idx].to(self.ctx.device))

    def lower_step(self, c: Candidate, x: torch.Tensor, y: torch.Tensor) -> float:
        """One step of the copy's weights on subnet ``c`` (repaired)."""
        return weight_step(self.supernet, self.opt_w, self.space.repair(c), x, y)

    def loss(self, c: Candidate, st: dict[str, torch.Tensor], x: torch.Tensor,
             y: torch.Tensor) -> torch.Tensor:
        """The gated cross-entropy of subnet ``c`` (repaired) on ``x``."""
        return forward_loss(self.supernet, self.space.repair(c), gates(self.layers, st), x, y)


def temperature(step: int, steps: int, start: float = 1.0, end: float = 0.4) -> float:
    """Gumbel-softmax temperature, annealed geometrically from ``start`` to ``end``."""
    return start * (end / start) ** (step / max(1, steps - 1))


def distinct(cands: Iterable[Candidate], space: SearchSpace, n: int) -> list[Candidate]:
    """The first ``n`` distinct repaired candidates of ``cands``."""
    out, seen = [], set()
    for c in cands:
        c = space.repair(c)
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
        if len(out) >= n:
            break
    return out


__all__ = ["ArchParams", "BiLevel", "HardwareCost", "gates", "layer_slots", "forward_loss", "batches",
           "weight_step", "temperature", "distinct"]

"""Strategy ``mgda``: E2RNAS (Yue, Lin, Huang, Zhang 2020): bi-level multi-objective
differentiable search, the objectives' gradients combined with the multiple-gradient descent
algorithm (Desideri 2012; Sener & Koltun 2018).

Objectives, each a loss of the architecture logits ``alpha`` (relaxed as in
:mod:`codesign.search.strategies.relaxed`):

1. accuracy: the cross-entropy of the sampled, gated subnet on clean images;
2. robustness (when the request measures it: ``--objective robust_accuracy`` or
   ``--min-robust-accuracy``): the cross-entropy on the subnet's own adversarial examples
   (the request's attack, FGSM or PGD, at its eps);
3. hardware cost: the REINFORCE surrogate ``(h - b) log p(z)`` of the resource share plus the
   budget hinge (E2RNAS used an *expected* parameter count; the real cost is not additive).

Each step: one lower-level step of a copy of the supernet's weights, then each objective's
gradient ``g_i`` with respect to ``alpha``, normalised to unit length (without it MGDA
collapses onto the objective with the smallest gradient), the min-norm weights
``gamma* = argmin_{gamma in simplex} |sum gamma_i g_i|^2`` (Frank-Wolfe, the Sener-Koltun solver,
with its iteration counter incremented), and an Adam step along ``sum gamma_i g_i``, a common
descent direction of all objectives.

MGDA finds *a* Pareto-stationary point; it does not sweep the trade-off.  The proposals are the
distinct most-likely candidates along the trajectory (the distribution moves from uniform to that
point), then samples from the final distribution.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from codesign.search.strategies.base import SearchContext, SupernetStrategy, register_strategy
from codesign.spaces.base import Candidate

if TYPE_CHECKING:
    import torch

    from codesign.search.strategies.relaxed import ArchParams

log = logging.getLogger(__name__)


def min_norm_weights(grads: np.ndarray, iters: int = 250, tol: float = 1e-8) -> np.ndarray:
    """``argmin_{gamma in simplex} |gamma @ grads|^2`` by Frank-Wolfe (rows of ``grads`` are the
    objectives' gradients).  Exact for two objectives (the closed form of Sener & Koltun)."""
    k = len(grads)
    m = grads @ grads.T
    if k == 1:
        return np.ones(1)
    if k == 2:
        a, b, c = m[0, 0], m[0, 1], m[1, 1]
        if a + c - 2 * b <= 1e-12:
            return np.array([0.5, 0.5])
        g0 = float(np.clip((c - b) / (a + c - 2 * b), 0.0, 1.0))
        return np.array([g0, 1.0 - g0])
    gamma = np.full(k, 1.0 / k)
    for _ in range(iters):
        mg = m @ gamma
        t = int(np.argmin(mg))
        v1, v2, v3 = float(gamma @ mg), float(mg[t]), float(m[t, t])
        denom = v1 + v3 - 2 * v2
        step = 1.0 if denom <= 1e-12 else float(np.clip((v1 - v2) / denom, 0.0, 1.0))
        new = (1 - step) * gamma
        new[t] += step
        if np.abs(new - gamma).sum() < tol:
            gamma = new
            break
        gamma = new
    return gamma


@register_strategy("mgda")
class MGDA(SupernetStrategy):
    """Accuracy, robustness and hardware cost combined by MGDA's min-norm weights in a bi-level
    differentiable search (E2RNAS)."""

    batch_size = 128
    arch_lr = 0.05
    weight_lr_scale = 0.1

    def propose(self, ctx: SearchContext, n: int) -> list[Candidate]:
        import torch

        from codesign.search.strategies.relaxed import ArchParams, BiLevel, distinct, temperature

        bl = BiLevel(ctx, self.name, self.batch_size, self.weight_lr_scale)
        gen = bl.gen
        alpha = ArchParams(ctx.space)
        opt_a = torch.optim.Adam(alpha.parameters(), lr=self.arch_lr, betas=(0.5, 0.999))
        baseline = None
        steps = ctx.request.arch_steps
        trajectory: list[Candidate] = []
        self.gammas_: list[list[float]] = []
        for step in range(steps):
            tau = temperature(step, steps)
            x, y = bl.batch()
            with torch.no_grad():
                c_w, _, _ = alpha.sample(tau, gen)
            bl.lower_step(c_w, x, y)
            x, y = bl.batch()
            c, st, logp = alpha.sample(tau, gen)
            losses = [lambda: bl.loss(c, st, x, y)]
            if ctx.attack is not None:
                losses.append(lambda: self._robust_loss(bl, c, st, x, y, ctx.attack))
            cost = bl.hw(c)
            b = baseline if baseline is not None else cost
            baseline = 0.9 * b + 0.1 * cost
            losses.append(lambda: (cost - b) * logp)
            grads = []
            for i, loss_fn in enumerate(losses):
                opt_a.zero_grad(set_to_none=True)
                loss = loss_fn()
                loss.backward(retain_graph=i < len(losses) - 1)
                g = alpha.flat_grad()
                grads.append(g / g.norm() if float(g.norm()) > 1e-12 else g)
            gmat = torch.stack(grads).detach().cpu().numpy().astype(np.float64)
            gamma = min_norm_weights(gmat)
            self.gammas_.append([round(float(v), 4) for v in gamma])
            alpha.set_flat_grad(sum(float(w) * g for w, g in zip(gamma, grads)))
            opt_a.step()
            if step >= steps // 4:
                trajectory.append(alpha.argmax())
            if ctx.progress and (step + 1) % max(1, steps // 10) == 0:
                log.info("mgda: step %d/%d, tau %.2f, gamma %s, entropy per slot %.2f", step + 1,
                         steps, tau, self.gammas_[-1], alpha.entropy())
        return distinct(self._proposals(alpha, trajectory, gen), ctx.space, n)

    @staticmethod
    def _robust_loss(bl: Any, c: Candidate, st: Any, x: "torch.Tensor", y: "torch.Tensor",
                     attack: Any) -> "torch.Tensor":
        bl.supernet.activate(bl.space.repair(c))
        adv = attack.perturb(bl.supernet, x, y, bl.gen)  # ungated: the attack trains no alpha
        return bl.loss(c, st, adv, y)

    @staticmethod
    def _proposals(alpha: ArchParams, trajectory: list[Candidate], gen: torch.Generator) -> Any:
        import torch

        yield alpha.argmax()
        yield from reversed(trajectory)
        with torch.no_grad():
            for _ in range(10_000):
                yield alpha.draw(gen)

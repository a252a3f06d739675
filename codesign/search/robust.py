"""Adversarial robustness: FGSM and PGD under an L-infinity budget, on pixel values in [0, 1].

``robust_accuracy`` is the top-1 accuracy on adversarial examples made against the model
itself (white box), the measure E2RNAS searches for.  The attacks differentiate through the
quantized network by the straight-through estimator Brevitas uses for rounding; against
quantized activations that gradient is coarse (gradient masking), so FGSM can overstate
robustness: PGD with a random start is the stronger test (search_strategies.md, section 4).

* FGSM (Goodfellow et al. 2015): ``x + eps * sign(grad_x CE)``, one step.
* PGD (Madry et al. 2018): a uniform random start in the eps-ball, then ``steps`` steps of size
  ``2.5 * eps / steps`` projected back onto the ball and onto [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from codesign.request import ATTACKS, check_attack


@dataclass(frozen=True)
class Attack:
    """An L-infinity attack: ``method`` (``fgsm`` or ``pgd``), ``eps`` in pixel units of [0, 1],
    and, for PGD, the number of ``steps``."""

    method: str = "fgsm"
    eps: float = 2 / 255
    steps: int = 10

    def __post_init__(self) -> None:
        check_attack(self.method, self.eps, self.steps)

    def perturb(self, model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Adversarial examples for the float images ``x`` (in [0, 1]) against ``model``."""
        if self.method == "fgsm":
            return _step(model, x, x, y, self.eps, self.eps)
        alpha = 2.5 * self.eps / self.steps
        noise = torch.rand(x.shape, generator=generator, device="cpu").to(x.device)
        adv = (x + (2 * noise - 1) * self.eps).clamp(0, 1)
        for _ in range(self.steps):
            adv = _step(model, x, adv, y, alpha, self.eps)
        return adv

    def describe(self) -> str:
        return (f"{self.method.upper()} eps={self.eps:.4g}"
                + (f", {self.steps} steps" if self.method == "pgd" else ""))


def _step(model: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, x: torch.Tensor,
          y: torch.Tensor, alpha: float, eps: float) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
    adv = x.detach() + alpha * grad.sign()
    return torch.min(torch.max(adv, x0 - eps), x0 + eps).clamp(0, 1).detach()


def robust_accuracy(model: Callable[[torch.Tensor], torch.Tensor], x_u8: torch.Tensor,
                    y: torch.Tensor, device: torch.device, attack: Attack,
                    batch_size: int = 500, seed: int = 0) -> float:
    """Top-1 accuracy (fraction) of ``model`` on ``attack``'s examples of the uint8 images
    ``x_u8``.  The model's own mode (train/eval) is left as it is: call it in eval mode."""
    from codesign.supernet.train import to_float

    gen = torch.Generator().manual_seed(seed)
    correct = 0
    for i in range(0, len(x_u8), batch_size):
        x = to_float(x_u8[i:i + batch_size], device)
        yy = y[i:i + batch_size].to(device)
        adv = attack.perturb(model, x, yy, gen)
        with torch.no_grad():
            correct += int((model(adv).argmax(1) == yy).sum())
    return correct / max(len(x_u8), 1)


__all__ = ["ATTACKS", "Attack", "check_attack", "robust_accuracy"]

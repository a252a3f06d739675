"""Training-free scores at initialization (zero-cost proxies) for ``--prefilter zero-cost``.

A proxy scores a candidate's *static quantized* network, freshly initialized, without training,
so that the search can rank candidates before the supernet spends an evaluation on them.  Two
proxies (search_strategies.md, section 5):

* ``synflow`` (Tanaka et al. 2020; Abdelfattah et al. 2021, "Zero-cost proxies"): with every
  weight replaced by its magnitude, BN off and an all-ones input, ``R = sum(outputs)`` and the
  score is ``sum |theta * dR/dtheta|``.  Here ``theta`` is each layer's **quantized** weight
  (Brevitas' ``quant_weight()``), not the float shadow, so the bit width counts (at 2 bits most
  weights at initialization round to zero).  It is data-free and linear: it cannot see the
  activation bits.  Computed in float64 and reported as ``log(score)``, since raw SynFlow spans
  dozens of orders of magnitude.
* ``nwot`` (Mellor et al. 2021, NASWOT): a batch of real training images; each image gets the
  binary code of every activation unit (``x > 0`` after the quantized ReLU or bipolar sign),
  ``K[i, j]`` counts the units where images ``i`` and ``j`` agree, and the score is
  ``log |det K|``.  It runs the real quantized forward, so activation bits count.

Higher is better for both.  How well either ranks candidates of *this* space is measured, not
assumed: the search reports the rank correlation with the supernet's accuracy.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from fpga.errors import InputError
from hw_models.network import NetworkSpec

from codesign.request import PROXIES


def proxy_function(name: str) -> Callable[..., float]:
    if name not in PROXIES:
        raise InputError("zero-cost-proxy", f"unknown proxy {name!r}", PROXIES)
    return {"synflow": synflow, "nwot": nwot}[name]


def _fresh(spec: NetworkSpec, seed: int) -> Any:
    from codesign.models.qcnn import QuantCNN

    torch.manual_seed(seed)
    return QuantCNN(spec).eval()


def synflow(spec: NetworkSpec, seed: int = 0, images: torch.Tensor | None = None) -> float:
    """``log`` SynFlow of ``spec``'s quantized weights at initialization (see the module)."""
    model = _fresh(spec, seed)
    weights: list[torch.Tensor] = []
    x = torch.ones((1, spec.input.channels, spec.input.height, spec.input.width),
                   dtype=torch.float64)
    for layer in spec.layers:
        block = model.blocks[layer.name]
        if layer.op == "maxpool":
            x = F.max_pool2d(x, layer.kernel, layer.stride)
            continue
        core = block.conv if layer.op in ("conv", "dwconv") else block.linear
        with torch.no_grad():
            wq = core.quant_weight().value.detach().abs().to(torch.float64)
        w = wq.requires_grad_(True)
        weights.append(w)
        if layer.op == "fc":
            x = F.linear(x.flatten(1), w)
        else:
            x = F.conv2d(x, w, None, core.stride, core.padding,
                         groups=core.groups)
    r = x.sum()
    grads = torch.autograd.grad(r, weights)
    score = float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads)))
    return math.log(score) if score > 0 else -math.inf


def nwot(spec: NetworkSpec, seed: int = 0, images: torch.Tensor | None = None) -> float:
    """NASWOT's ``log |det K|`` of ``spec`` at initialization on ``images`` (uint8 NCHW)."""
    if images is None or len(images) < 2:
        raise ValueError("nwot needs a batch of at least two images")
    from codesign.supernet.train import to_float

    model = _fresh(spec, seed)
    codes: list[torch.Tensor] = []

    def hook(_m: Any, _inp: Any, out: Any) -> None:
        v = out.value if hasattr(out, "value") else out
        codes.append((v.detach().flatten(1) > 0).to(torch.float64))

    handles = [blk.act.register_forward_hook(hook) for blk in model.blocks.values()
               if getattr(blk, "has_act", False)]
    try:
        with torch.no_grad():
            model(to_float(images, torch.device("cpu")))
    finally:
        for h in handles:
            h.remove()
    if not codes:
        return 0.0
    c = torch.cat(codes, dim=1)
    k = c @ c.t() + (1 - c) @ (1 - c).t()  # units where two images agree
    sign, logdet = np.linalg.slogdet(k.numpy())
    return float(logdet) if sign > 0 else -math.inf


def rank_correlation(x: list[float], y: list[float]) -> dict[str, Any]:
    """Kendall's tau-b and Spearman's rho of two score lists (signed: a proxy that ranks
    backwards shows as negative), with the number of pairs; ``None`` below three points."""
    from scipy import stats

    pts = [(a, b) for a, b in zip(x, y) if a is not None and b is not None
           and math.isfinite(a) and math.isfinite(b)]
    if len(pts) < 3:
        return {"n": len(pts), "kendall_tau": None, "spearman": None}
    a, b = zip(*pts)
    tau = stats.kendalltau(a, b).statistic
    rho = stats.spearmanr(a, b).statistic
    return {"n": len(pts),
            "kendall_tau": None if not math.isfinite(tau) else round(float(tau), 4),
            "spearman": None if not math.isfinite(rho) else round(float(rho), 4)}


__all__ = ["PROXIES", "proxy_function", "synflow", "nwot", "rank_correlation"]

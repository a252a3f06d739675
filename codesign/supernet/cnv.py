"""Weight-sharing quantized supernet for the ``cnv`` search space.

``activate(c)`` selects a subnet (depth, widths, bits) for the following forwards;
``extract(c)`` returns the static Brevitas :class:`~codesign.models.qcnn.QuantCNN` of that
subnet with the shared weights copied in.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import nn

from codesign.models.qcnn import QuantCNN, make_input_quant
from codesign.spaces.base import Candidate
from codesign.spaces.cnv import COMPUTE_LAYERS, CnvSpace
from codesign.supernet.elastic import ElasticBN, ElasticLayer
from hw_models.network import NetworkSpec


class CnvSupernet(nn.Module):
    """All subnets of a :class:`CnvSpace` in one network at the largest shape."""

    def __init__(self, space: CnvSpace) -> None:
        super().__init__()
        self.space = space
        inp = space.input
        w0, w1, wf = (max(space.widths[k]) for k in ("s0", "s1", "fc0"))
        acts = tuple(sorted(set(space.act_bits)))
        self.feat_hw = (inp.height // 2 // 2) * (inp.width // 2 // 2)
        self.input_quant = make_input_quant(inp.bits)
        self.blocks = nn.ModuleDict({
            "conv0": ElasticLayer("conv", inp.channels, w0, acts),
            "conv1": ElasticLayer("conv", w0, w0, acts),
            "conv2": ElasticLayer("conv", w0, w1, acts),
            "conv3": ElasticLayer("conv", w1, w1, acts),
            "fc0": ElasticLayer("fc", w1 * self.feat_hw, wf, acts),
            "fc1": ElasticLayer("fc", wf, space.num_classes, ()),
        })
        self.pool = nn.MaxPool2d(2)
        self._active: Candidate | None = None

    # ------------------------------------------------------------------ subnet selection
    def activate(self, c: Candidate) -> "CnvSupernet":
        self.space.validate(c)
        self._active = c
        return self

    def _plan(self, c: Candidate) -> list[tuple[str, int, int, int, int | None, bool]]:
        """(layer, c_in, c_out, w_bits, a_bits, pool_after) for every active compute layer."""
        plan = []
        c_in = self.space.input.channels
        for d in self.space.layer_dicts(c, folded=False):
            if d["op"] == "maxpool":
                name, cin, cout, wb, ab, _ = plan[-1]
                plan[-1] = (name, cin, cout, wb, ab, True)
                continue
            cout = d.get("out_channels", d.get("out_features"))
            cin = c_in * self.feat_hw if d["name"] == "fc0" else c_in
            plan.append((d["name"], cin, cout, d["weight_bits"], d["act_bits"], False))
            c_in = cout
        return plan

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._active is None:
            raise RuntimeError("call activate(candidate) before forward")
        x = self.input_quant(x)
        x = x.value if hasattr(x, "value") else x
        for name, cin, cout, wb, ab, pool in self._plan(self._active):
            x = self.blocks[name](x, cin, cout, wb, ab)
            if pool:
                x = self.pool(x)
        return x

    # ------------------------------------------------------------------ BN recalibration
    def bn_layers(self) -> Iterable[ElasticBN]:
        return (m for m in self.modules() if isinstance(m, ElasticBN))

    @torch.no_grad()
    def recalibrate_bn(self, images: torch.Tensor, batch_size: int = 200) -> None:
        """Reset-and-recompute BN statistics of the active subnet on ``images`` (float, [0,1]).

        Exact size-weighted averages (no momentum), quantizers in eval mode so that their
        statistics phase is not advanced (quantized_supernets.md, section 4.6).
        """
        was_training = self.training
        self.eval()
        for bn in self.bn_layers():
            bn.begin_calibration()
        try:
            for i in range(0, len(images), batch_size):
                self(images[i:i + batch_size])
        finally:
            for bn in self.bn_layers():
                bn.end_calibration()
            self.train(was_training)

    # ------------------------------------------------------------------ extraction
    def extract(self, c: Candidate, spec: NetworkSpec | None = None) -> QuantCNN:
        """The static Brevitas model of subnet ``c``, with the shared weights copied in."""
        spec = spec or self.space.describe(c)
        model = QuantCNN(spec)
        state: dict[str, Any] = {}
        for name, cin, cout, _wb, ab, _pool in self._plan(c):
            state.update(self.blocks[name].static_state(cin, cout, ab, f"blocks.{name}"))
        missing, unexpected = model.load_state_dict(state, strict=False)
        real_missing = [k for k in missing if "input_quant" not in k]
        if real_missing or unexpected:
            raise RuntimeError(f"extract: state mismatch, missing={real_missing}, "
                               f"unexpected={unexpected}")
        device = next(self.parameters()).device
        return model.to(device)


def largest(space: CnvSpace) -> Candidate:
    return space.extreme(largest=True)


def smallest(space: CnvSpace) -> Candidate:
    return space.extreme(largest=False)


__all__ = ["CnvSupernet", "COMPUTE_LAYERS", "largest", "smallest"]

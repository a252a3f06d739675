"""Weight-sharing quantized supernet for the staged CNV spaces (``cnv``, ``cnv-l``).

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
from codesign.spaces.cnv import COMPUTE_LAYERS, StagedCnvSpace
from codesign.supernet import register_supernet
from codesign.supernet.elastic import ElasticBN, ElasticLayer
from hw_models.network import NetworkSpec


class CnvSupernet(nn.Module):
    """All subnets of a :class:`StagedCnvSpace` in one network at the largest shape."""

    def __init__(self, space: StagedCnvSpace) -> None:
        super().__init__()
        self.space = space
        inp = space.input
        acts = tuple(sorted(set(space.act_bits)))
        self.feat_hw = (inp.height >> space.n_stages) * (inp.width >> space.n_stages)
        self.input_quant = make_input_quant(inp.bits)
        blocks: dict[str, ElasticLayer] = {}
        c_in = inp.channels
        for k in range(space.n_stages):
            w = max(space.widths[f"s{k}"])
            for name in space.stage_layers(k):
                blocks[name] = ElasticLayer("conv", c_in, w, acts,
                                            weight_bits=space.slot(f"quant.{name}.w").choices)
                c_in = w
        wf = max(space.widths["fc0"])
        blocks["fc0"] = ElasticLayer("fc", c_in * self.feat_hw, wf, acts,
                                     weight_bits=space.slot("quant.fc0.w").choices)
        blocks["fc1"] = ElasticLayer("fc", wf, space.num_classes, (),
                                     weight_bits=space.slot("quant.fc1.w").choices)
        self.blocks = nn.ModuleDict(blocks)
        self.pool = nn.MaxPool2d(2)
        self._active: Candidate | None = None
        #: layer -> a scalar multiplying its output (1.0 in value): how the differentiable
        #: strategies pass the gradient of the loss to their relaxed choices (GDAS/UNAS-style
        #: straight-through Gumbel-softmax on a single-path supernet)
        self._gates: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ subnet selection
    def activate(self, c: Candidate) -> "CnvSupernet":
        self.space.validate(c)
        self._active = c
        return self

    def set_gates(self, gates: dict[str, torch.Tensor] | None) -> "CnvSupernet":
        """Multiply each named layer's output by its gate in the following forwards (``None``
        or ``{}``: no gates)."""
        self._gates = dict(gates or {})
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
            if name in self._gates:
                x = x * self._gates[name]
            if pool:
                x = self.pool(x)
        return x

    @torch.no_grad()
    def inherit_ranges(self) -> None:
        """Switchable precision: narrower activation widths start from the widest one's range
        (:meth:`ElasticLayer.inherit_ranges`); call after every training step."""
        for block in self.blocks.values():
            block.inherit_ranges()

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


@register_supernet("cnv", "cnv-l")
def _build(space: StagedCnvSpace) -> CnvSupernet:
    return CnvSupernet(space)


def largest(space: StagedCnvSpace) -> Candidate:
    return space.extreme(largest=True)


def smallest(space: StagedCnvSpace) -> Candidate:
    return space.extreme(largest=False)


__all__ = ["CnvSupernet", "COMPUTE_LAYERS", "largest", "smallest"]

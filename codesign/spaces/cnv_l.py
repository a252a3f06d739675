"""``cnv-l``: the CIFAR-scale space (BNN-PYNQ's CNV is one of its members, up to padding).

Three stages of one to three 3x3 convs, stage widths {16, 32, 64} / {32, 64, 128} /
{64, 128, 256}, an fc head of {128, 256, 512}; weight bits {1, 2, 3, 4} per layer (8 also
allowed on the first and the last layer; the last layer, without BN after it, takes 2 bits
or more) and activation bits {1 (bipolar), 2, 3, 4}; PE/SIMD per layer.  See
:mod:`codesign.spaces.cnv` for the structure and the slot names.
"""
from __future__ import annotations

from typing import Any

from codesign.spaces.base import Candidate, register_space
from codesign.spaces.cnv import StagedCnvSpace


class CnvLSpace(StagedCnvSpace):
    name = "cnv-l"

    def __init__(self, input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10,
                 input_bits: int = 8,
                 stage_widths: tuple[tuple[int, ...], ...] = ((16, 32, 64), (32, 64, 128),
                                                              (64, 128, 256)),
                 depths: tuple[int, ...] = (1, 2, 3), fc_widths: tuple[int, ...] = (128, 256, 512),
                 weight_bits: tuple[int, ...] = (1, 2, 3, 4), act_bits: tuple[int, ...] = (1, 2, 3, 4),
                 edge_weight_bits: tuple[int, ...] = (2, 3, 4, 8),
                 first_weight_bits: tuple[int, ...] = (1, 2, 3, 4, 8)) -> None:
        super().__init__(input_shape, num_classes, input_bits,
                         tuple(tuple(w) for w in stage_widths), depths, fc_widths, weight_bits,
                         act_bits, edge_weight_bits, first_weight_bits)


    def seeds(self) -> list[Candidate]:
        """BNN-PYNQ's CNV as this space writes it (two convs per stage at 64/128/256, fc 512;
        W1A1 and W2A2 with the last layer at 2 bits, which is as low as it goes here), then the
        uniform designs of :meth:`StagedCnvSpace.seeds`."""
        out = []
        for bits in (1, 2):
            c: dict[str, Any] = {s.name: 1 for s in self.slots if s.name.startswith("fold.")}
            for k in range(self.n_stages):
                c[f"arch.s{k}.depth"] = 2 if 2 in self.depths else max(self.depths)
                c[f"arch.s{k}.width"] = max(self.widths[f"s{k}"])
            c["arch.fc0.width"] = max(self.widths["fc0"])
            for s in self.slots:
                if s.name.startswith("quant."):
                    c[s.name] = bits if bits in s.choices else min(s.choices)
            out.append(Candidate(c))
        return out + [c for c in super().seeds() if c not in out]


@register_space("cnv-l")
def _cnv_l(**kwargs: Any) -> CnvLSpace:
    return CnvLSpace(**kwargs)

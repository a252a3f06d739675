"""The default space: a small FINN-friendly CNN (CNV-style) for 28x28 and 32x32 images.

Structure (layer names are stable, whatever the depth)::

    stage 0: conv0 [conv1]   3x3, padding 1, width arch.s0.width      -> pool0 (2x2)
    stage 1: conv2 [conv3]   3x3, padding 1, width arch.s1.width      -> pool1 (2x2)
    fc0: arch.fc0.width features, fc1: classes (its accumulator is the output)

Slots:

* ``arch.s{0,1}.depth`` in {1, 2} (conv1 / conv3 present when 2), ``arch.s0.width``,
  ``arch.s1.width``, ``arch.fc0.width``;
* ``quant.<layer>.w`` weight bits, ``quant.<layer>.a`` output activation bits (none for fc1);
  the first and last layers may also take 8-bit weights (the usual accuracy-sensitive pair);
* ``fold.<layer>.pe`` / ``fold.<layer>.simd`` as powers of two; :meth:`describe` maps each to
  the largest *legal* value not above it (PE | C_out; SIMD | MW and, for convolutions,
  SIMD | C_in), so every candidate describes a buildable folding.

Convolutions use padding 1 so that depth does not change spatial sizes: the supernet's
classifier then sees the same feature-map size in every subnet.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fpga.errors import InputError
from fpga.folding import divisors
from hw_models.network import InputSpec, NetworkSpec
from codesign.spaces.base import Candidate, SearchSpace, Slot, register_space

CONV_LAYERS = ("conv0", "conv1", "conv2", "conv3")
FC_LAYERS = ("fc0", "fc1")
COMPUTE_LAYERS = CONV_LAYERS + FC_LAYERS
FOLD_CHOICES = (1, 2, 4, 8, 16, 32, 64)


class CnvSpace(SearchSpace):
    """Two conv stages + two fc layers, searched over depth, width, bits and folding."""

    name = "cnv"

    def __init__(self, input_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10,
                 input_bits: int = 8,
                 s0_widths: tuple[int, ...] = (8, 16, 32), s1_widths: tuple[int, ...] = (16, 32, 64),
                 fc_widths: tuple[int, ...] = (32, 64, 128),
                 weight_bits: tuple[int, ...] = (2, 3, 4), act_bits: tuple[int, ...] = (2, 3, 4),
                 edge_weight_bits: tuple[int, ...] = (2, 3, 4, 8)) -> None:
        c, h, w = (int(v) for v in input_shape)
        if h < 4 or w < 4:
            raise InputError("input_shape", f"{input_shape} is too small for two 2x2 pools",
                             ["C x H x W with H, W >= 4"])
        # the exported model quantizes its float input on the FPGA (FINN's input Thresholding)
        self.input = InputSpec(c, h, w, input_bits, thresholding=True)
        self.num_classes = int(num_classes)
        self.widths = {"s0": tuple(s0_widths), "s1": tuple(s1_widths), "fc0": tuple(fc_widths)}
        self.weight_bits, self.act_bits = tuple(weight_bits), tuple(act_bits)
        self.edge_weight_bits = tuple(edge_weight_bits)
        self._slots = self._make_slots()

    def _make_slots(self) -> tuple[Slot, ...]:
        s = [Slot("arch.s0.depth", (1, 2)), Slot("arch.s0.width", self.widths["s0"]),
             Slot("arch.s1.depth", (1, 2)), Slot("arch.s1.width", self.widths["s1"]),
             Slot("arch.fc0.width", self.widths["fc0"])]
        for layer in COMPUTE_LAYERS:
            edge = layer in ("conv0", "fc1")
            s.append(Slot(f"quant.{layer}.w", self.edge_weight_bits if edge else self.weight_bits))
            if layer != "fc1":
                s.append(Slot(f"quant.{layer}.a", self.act_bits))
        for layer in COMPUTE_LAYERS:
            s.append(Slot(f"fold.{layer}.pe", FOLD_CHOICES))
            s.append(Slot(f"fold.{layer}.simd", FOLD_CHOICES))
        return tuple(s)

    @property
    def slots(self) -> tuple[Slot, ...]:
        return self._slots

    def config(self) -> dict[str, Any]:
        """Constructor arguments, so a run directory can rebuild the same space."""
        return {"input_shape": [self.input.channels, self.input.height, self.input.width],
                "num_classes": self.num_classes, "input_bits": self.input.bits,
                "s0_widths": list(self.widths["s0"]), "s1_widths": list(self.widths["s1"]),
                "fc_widths": list(self.widths["fc0"]), "weight_bits": list(self.weight_bits),
                "act_bits": list(self.act_bits), "edge_weight_bits": list(self.edge_weight_bits)}

    # ------------------------------------------------------------------ structure
    def active_layers(self, c: Candidate) -> list[str]:
        """Names of the compute layers present in candidate ``c``, in order."""
        names = ["conv0"] + (["conv1"] if c["arch.s0.depth"] == 2 else [])
        names += ["conv2"] + (["conv3"] if c["arch.s1.depth"] == 2 else [])
        return names + ["fc0", "fc1"]

    def layer_dicts(self, c: Candidate, folded: bool = True) -> list[dict[str, Any]]:
        """The network-JSON layer list for ``c`` (folding as chosen, not yet legalized)."""
        out: list[dict[str, Any]] = []
        for name in self.active_layers(c):
            d: dict[str, Any] = {"name": name, "weight_bits": c[f"quant.{name}.w"],
                                 "act_bits": c.get(f"quant.{name}.a")}
            if name.startswith("conv"):
                stage = "s0" if name in ("conv0", "conv1") else "s1"
                d.update(op="conv", out_channels=c[f"arch.{stage}.width"], kernel=3, stride=1,
                         padding=1)
            else:
                d.update(op="fc", out_features=(c["arch.fc0.width"] if name == "fc0"
                                                else self.num_classes))
            if folded:
                d.update(pe=c[f"fold.{name}.pe"], simd=c[f"fold.{name}.simd"])
            out.append(d)
            if name in ("conv1", "conv3") or (name == "conv0" and c["arch.s0.depth"] == 1) or \
                    (name == "conv2" and c["arch.s1.depth"] == 1):
                out.append({"name": "pool0" if name in ("conv0", "conv1") else "pool1",
                            "op": "maxpool", "kernel": 2})
        return out

    def describe(self, c: Candidate) -> NetworkSpec:
        """The network for ``c`` with each PE/SIMD lowered to the nearest legal value."""
        self.validate(c)
        spec = NetworkSpec.build(self.name, self.input, self.layer_dicts(c, folded=False))
        folding = {}
        for layer in spec.compute_layers:
            pe = _largest_legal(c[f"fold.{layer.name}.pe"], divisors(layer.mh))
            simd_ok = set(divisors(layer.mw))
            if layer.op == "conv":
                simd_ok &= set(divisors(layer.in_channels))
            folding[layer.name] = (pe, _largest_legal(c[f"fold.{layer.name}.simd"], sorted(simd_ok)))
        return spec.with_folding(folding)

    def nonlinearity_groups(self) -> dict[int, list[tuple[int, int]]]:
        """Stage depths grouped by the number of nonlinear functions on the path (EFS-NAS):
        ``n = depth0 + depth1 + 1`` ReLUs (the fc0 one included) -> {3: [(1,1)], 4: [(1,2), (2,1)],
        5: [(2,2)]}."""
        groups: dict[int, list[tuple[int, int]]] = {}
        for d0 in self.slot("arch.s0.depth").choices:
            for d1 in self.slot("arch.s1.depth").choices:
                groups.setdefault(d0 + d1 + 1, []).append((d0, d1))
        return dict(sorted(groups.items()))

    def balanced_samples(self, rng: np.random.Generator) -> list[Candidate]:
        """One uniformly drawn candidate from each nonlinearity group, so every depth class is
        trained at every step (EFS-NAS's supernet-balanced sampling, quantized_supernets.md §1)."""
        out = []
        for combos in self.nonlinearity_groups().values():
            d0, d1 = combos[int(rng.integers(len(combos)))]
            out.append(self.sample(rng).replace(**{"arch.s0.depth": d0, "arch.s1.depth": d1}))
        return out

    def seeds(self) -> list[Candidate]:
        """Uniform-precision CNNs as a user would write them by hand: every layer at one bit
        width (4, else the widest choice below it), each width level, one and two convs per stage.

        Folding slots start fully folded (1); the search loop repairs them for the frame-rate floor.
        """
        common = sorted(set(self.weight_bits) & set(self.act_bits) & set(self.edge_weight_bits))
        bits = max([b for b in common if b <= 4] or common or [max(self.weight_bits)])
        out = []
        n_levels = max(len(v) for v in self.widths.values())
        for depth in (1, 2):
            for level in range(n_levels):
                c = {s.name: 1 for s in self.slots if s.name.startswith("fold.")}
                for key in ("s0", "s1", "fc0"):
                    ws = self.widths[key]
                    c[f"arch.{key}.width"] = ws[min(level, len(ws) - 1)]
                c["arch.s0.depth"] = c["arch.s1.depth"] = depth
                for s in self.slots:
                    if s.name.startswith("quant."):
                        c[s.name] = bits if bits in s.choices else max(s.choices)
                out.append(Candidate(c))
        return out

    def with_folding(self, c: Candidate, spec: NetworkSpec) -> Candidate:
        """``c`` with its fold slots set to the (power-of-two) folding of ``spec`` where possible."""
        changes = {}
        for layer in spec.compute_layers:
            for key, v in (("pe", layer.pe), ("simd", layer.simd)):
                if v in FOLD_CHOICES:
                    changes[f"fold.{layer.name}.{key}"] = v
        return c.replace(**changes)


def _largest_legal(value: int, legal: list[int]) -> int:
    ok = [d for d in legal if d <= value]
    return max(ok) if ok else min(legal)


@register_space("cnv")
def _cnv(**kwargs: Any) -> CnvSpace:
    return CnvSpace(**kwargs)

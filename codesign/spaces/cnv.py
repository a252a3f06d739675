"""CNV-style FINN-friendly CNNs: stages of 3x3 convolutions, each ending in a 2x2 max-pool,
then two fully connected layers.

Two registered spaces share this code:

* ``cnv`` (the README default): two stages of one or two convs, for 28x28 and 32x32 images,
  widths up to 32/64, fc head up to 128, 2-4 bits;
* ``cnv-l`` (:mod:`codesign.spaces.cnv_l`): the CIFAR-scale space, three stages of one to three
  convs, widths up to 64/128/256, fc head up to 512, 1-bit (binary weights, bipolar
  activations, as FINN's BNN-PYNQ networks) to 4-bit, 8-bit at the edges.

Structure (layer names are stable, whatever the depth; ``D`` = the largest stage depth)::

    stage s: conv{s*D} .. conv{s*D + depth_s - 1}   3x3, padding 1, width arch.s{s}.width
             -> pool{s} (2x2)
    fc0: arch.fc0.width features, fc1: classes (its accumulator is the output)

so ``cnv`` has conv0 [conv1] pool0 conv2 [conv3] pool1 fc0 fc1.

Slots:

* ``arch.s{k}.depth``, ``arch.s{k}.width`` per stage, ``arch.fc0.width``;
* ``quant.<layer>.w`` weight bits, ``quant.<layer>.a`` output activation bits (none for fc1);
  the first and last layers may also take 8-bit weights (the usual accuracy-sensitive pair);
  1-bit weights are binary {-s, +s}, 1-bit activations bipolar {-1, +1} (FINN's BNN
  convention, priced as such by the cost model); the last layer has no BN after it, so it never
  takes 1-bit weights;
* ``fold.<layer>.pe`` / ``fold.<layer>.simd`` as powers of two; :meth:`describe` maps each to
  the largest *legal* value not above it (PE | C_out; SIMD | MW and, for convolutions,
  SIMD | C_in), so every candidate describes a buildable folding.

Convolutions use padding 1 so that depth does not change spatial sizes: the supernet's
classifier then sees the same feature-map size in every subnet.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from fpga.errors import InputError
from fpga.folding import divisors
from hw_models.network import InputSpec, NetworkSpec
from codesign.spaces.base import Candidate, SearchSpace, Slot, register_space

FOLD_CHOICES = (1, 2, 4, 8, 16, 32, 64)
#: the compute layers of the default ``cnv`` space (two stages of at most two convs)
CONV_LAYERS = ("conv0", "conv1", "conv2", "conv3")
FC_LAYERS = ("fc0", "fc1")
COMPUTE_LAYERS = CONV_LAYERS + FC_LAYERS


class StagedCnvSpace(SearchSpace):
    """Conv stages + two fc layers, searched over depth, width, bits and folding."""

    name = "cnv"

    def __init__(self, input_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10,
                 input_bits: int = 8, stage_widths: tuple[tuple[int, ...], ...] = ((8, 16, 32),
                                                                                (16, 32, 64)),
                 depths: tuple[int, ...] = (1, 2), fc_widths: tuple[int, ...] = (32, 64, 128),
                 weight_bits: tuple[int, ...] = (2, 3, 4), act_bits: tuple[int, ...] = (2, 3, 4),
                 edge_weight_bits: tuple[int, ...] = (2, 3, 4, 8),
                 first_weight_bits: tuple[int, ...] | None = None) -> None:
        c, h, w = (int(v) for v in input_shape)
        self.n_stages = len(stage_widths)
        side = 2 ** self.n_stages
        if h < side or w < side:
            raise InputError("input_shape", f"{input_shape} is too small for {self.n_stages} "
                             f"2x2 pools", [f"C x H x W with H, W >= {side}"])
        # the exported model quantizes its float input on the FPGA (FINN's input Thresholding)
        self.input = InputSpec(c, h, w, input_bits, thresholding=True)
        self.num_classes = int(num_classes)
        self.depths = tuple(sorted(depths))
        self.widths = {f"s{k}": tuple(ws) for k, ws in enumerate(stage_widths)}
        self.widths["fc0"] = tuple(fc_widths)
        self.weight_bits, self.act_bits = tuple(weight_bits), tuple(act_bits)
        self.edge_weight_bits = tuple(edge_weight_bits)
        # the first layer has BN after it, so it may take what the middle layers take, too
        self.first_weight_bits = tuple(first_weight_bits or edge_weight_bits)
        self.max_depth = max(self.depths)
        self._slots = self._make_slots()

    # ------------------------------------------------------------------ slots
    def stage_layers(self, k: int) -> tuple[str, ...]:
        """The conv names stage ``k`` can hold, in order (its depth decides how many are used)."""
        return tuple(f"conv{k * self.max_depth + i}" for i in range(self.max_depth))

    @property
    def compute_layers(self) -> tuple[str, ...]:
        convs = tuple(n for k in range(self.n_stages) for n in self.stage_layers(k))
        return convs + FC_LAYERS

    def layer_slots(self) -> dict[str, tuple[str, ...]]:
        """For each compute layer, the slots that shape it as a network (not its folding): its
        bits, its stage's depth and width (a conv), the fc head's width (fc0, and fc1, which
        reads it).  The differentiable strategies gate each layer's output by these slots'
        relaxed choices."""
        out: dict[str, tuple[str, ...]] = {}
        for k in range(self.n_stages):
            for name in self.stage_layers(k):
                out[name] = (f"arch.s{k}.depth", f"arch.s{k}.width")
        out["fc0"] = ("arch.fc0.width",)
        out["fc1"] = ("arch.fc0.width",)
        names = {sl.name for sl in self.slots}
        return {layer: tuple(s for s in (*shape, f"quant.{layer}.w", f"quant.{layer}.a")
                             if s in names) for layer, shape in out.items()}

    @property
    def depth_slots(self) -> tuple[str, ...]:
        return tuple(f"arch.s{k}.depth" for k in range(self.n_stages))

    def _make_slots(self) -> tuple[Slot, ...]:
        s = []
        for k in range(self.n_stages):
            s += [Slot(f"arch.s{k}.depth", self.depths), Slot(f"arch.s{k}.width",
                                                              self.widths[f"s{k}"])]
        s.append(Slot("arch.fc0.width", self.widths["fc0"]))
        for layer in self.compute_layers:
            bits = (self.first_weight_bits if layer == "conv0" else
                    self.edge_weight_bits if layer == "fc1" else self.weight_bits)
            s.append(Slot(f"quant.{layer}.w", bits))
            if layer != "fc1":
                s.append(Slot(f"quant.{layer}.a", self.act_bits))
        for layer in self.compute_layers:
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
                "stage_widths": [list(self.widths[f"s{k}"]) for k in range(self.n_stages)],
                "depths": list(self.depths), "fc_widths": list(self.widths["fc0"]),
                "weight_bits": list(self.weight_bits), "act_bits": list(self.act_bits),
                "edge_weight_bits": list(self.edge_weight_bits),
                "first_weight_bits": list(self.first_weight_bits)}

    # ------------------------------------------------------------------ structure
    def active_layers(self, c: Candidate) -> list[str]:
        """Names of the compute layers present in candidate ``c``, in order."""
        names: list[str] = []
        for k in range(self.n_stages):
            names += list(self.stage_layers(k)[:c[f"arch.s{k}.depth"]])
        return names + ["fc0", "fc1"]

    def layer_dicts(self, c: Candidate, folded: bool = True) -> list[dict[str, Any]]:
        """The network-JSON layer list for ``c`` (folding as chosen, not yet legalized)."""
        out: list[dict[str, Any]] = []
        for k in range(self.n_stages):
            for name in self.stage_layers(k)[:c[f"arch.s{k}.depth"]]:
                out.append(self._layer(c, name, folded, op="conv",
                                       out_channels=c[f"arch.s{k}.width"], kernel=3, stride=1,
                                       padding=1))
            out.append({"name": f"pool{k}", "op": "maxpool", "kernel": 2})
        out.append(self._layer(c, "fc0", folded, op="fc", out_features=c["arch.fc0.width"]))
        out.append(self._layer(c, "fc1", folded, op="fc", out_features=self.num_classes))
        return out

    @staticmethod
    def _layer(c: Candidate, name: str, folded: bool, **shape: Any) -> dict[str, Any]:
        d: dict[str, Any] = {"name": name, "weight_bits": c[f"quant.{name}.w"],
                             "act_bits": c.get(f"quant.{name}.a"), **shape}
        if folded:
            d.update(pe=c[f"fold.{name}.pe"], simd=c[f"fold.{name}.simd"])
        return d

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

    # ------------------------------------------------------------------ few-shot structure
    def nonlinearity_count(self, c: Candidate) -> int:
        """Activation layers on the path: one per conv, plus fc0's."""
        return sum(int(c[s]) for s in self.depth_slots) + 1

    def nonlinearity_groups(self) -> dict[int, list[tuple[int, ...]]]:
        """Stage depths grouped by the number of nonlinear functions on the path (EFS-NAS):
        for ``cnv``, ``n = depth0 + depth1 + 1`` ReLUs (the fc0 one included) ->
        {3: [(1,1)], 4: [(1,2), (2,1)], 5: [(2,2)]}."""
        groups: dict[int, list[tuple[int, ...]]] = {}
        for combo in itertools.product(*(self.slot(s).choices for s in self.depth_slots)):
            groups.setdefault(sum(combo) + 1, []).append(tuple(combo))
        return dict(sorted(groups.items()))

    def with_depths(self, c: Candidate, combo: tuple[int, ...]) -> Candidate:
        return c.replace(**dict(zip(self.depth_slots, combo)))

    def balanced_samples(self, rng: np.random.Generator,
                         groups: list[int] | None = None) -> list[Candidate]:
        """One uniformly drawn candidate from each nonlinearity group (of ``groups``, default
        all), so every depth class is trained at every step (EFS-NAS's supernet-balanced
        sampling, quantized_supernets.md §1)."""
        out = []
        for n, combos in self.nonlinearity_groups().items():
            if groups is not None and n not in groups:
                continue
            combo = combos[int(rng.integers(len(combos)))]
            out.append(self.with_depths(self.sample(rng), combo))
        return out

    # ------------------------------------------------------------------ seeds
    def seeds(self) -> list[Candidate]:
        """Uniform-precision CNNs as a user would write them by hand: every layer at one bit
        width (4, else the widest choice below it), each width level, at the smallest and
        the largest depth per stage.

        Folding slots start fully folded (1); the search loop repairs them for the frame-rate floor.
        """
        common = sorted(set(self.weight_bits) & set(self.act_bits) & set(self.edge_weight_bits))
        bits = max([b for b in common if b <= 4] or common or [max(self.weight_bits)])
        out = []
        n_levels = max(len(v) for v in self.widths.values())
        for depth in sorted({min(self.depths), max(self.depths)}):
            for level in range(n_levels):
                c = {s.name: 1 for s in self.slots if s.name.startswith("fold.")}
                for key, ws in self.widths.items():
                    c[f"arch.{key}.width"] = ws[min(level, len(ws) - 1)]
                for s in self.depth_slots:
                    c[s] = depth
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


class CnvSpace(StagedCnvSpace):
    """The default space: two stages of one or two convs (``cnv``)."""

    name = "cnv"

    def __init__(self, input_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10,
                 input_bits: int = 8,
                 s0_widths: tuple[int, ...] = (8, 16, 32), s1_widths: tuple[int, ...] = (16, 32, 64),
                 fc_widths: tuple[int, ...] = (32, 64, 128),
                 weight_bits: tuple[int, ...] = (2, 3, 4), act_bits: tuple[int, ...] = (2, 3, 4),
                 edge_weight_bits: tuple[int, ...] = (2, 3, 4, 8)) -> None:
        super().__init__(input_shape, num_classes, input_bits, (tuple(s0_widths), tuple(s1_widths)),
                         (1, 2), fc_widths, weight_bits, act_bits, edge_weight_bits)

    def config(self) -> dict[str, Any]:
        return {"input_shape": [self.input.channels, self.input.height, self.input.width],
                "num_classes": self.num_classes, "input_bits": self.input.bits,
                "s0_widths": list(self.widths["s0"]), "s1_widths": list(self.widths["s1"]),
                "fc_widths": list(self.widths["fc0"]), "weight_bits": list(self.weight_bits),
                "act_bits": list(self.act_bits), "edge_weight_bits": list(self.edge_weight_bits)}


def _largest_legal(value: int, legal: list[int]) -> int:
    ok = [d for d in legal if d <= value]
    return max(ok) if ok else min(legal)


@register_space("cnv")
def _cnv(**kwargs: Any) -> CnvSpace:
    return CnvSpace(**kwargs)

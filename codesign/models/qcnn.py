"""Static Brevitas model for one concrete :class:`~hw_models.network.NetworkSpec`.

This is what a supernet subnet is extracted into, what export fine-tunes, and what goes to
QONNX (FINN) and QCDQ (onnxruntime).  The structure is FINN-friendly: bias-free
convolutions and fully connected layers, each followed by BatchNorm and a quantized ReLU
(FINN's streamlining folds BN and the scales into thresholds), max-pooling on quantized
activations, and a final fully connected layer whose accumulator is the output.

1-bit layers follow FINN's binarized networks (BNN-PYNQ): 1-bit weights are binary
``{-s, +s}`` (Brevitas's :class:`~brevitas.quant.binary.SignedBinaryWeightPerTensorConst`,
exported as QONNX ``BipolarQuant``), 1-bit activations are bipolar ``{-1, +1}`` (a sign after
BN, :class:`~brevitas.quant.binary.SignedBinaryActPerTensorConst`), which FINN turns into a
single threshold per channel.  A narrow-range signed integer quantizer cannot do 1 bit: it has
no non-zero level, and its max-abs scale divides by zero (NaN).

Module names (``blocks.<layer>.conv|linear|bn|act``) are shared with the supernet so that
``Supernet.extract`` can fill this model with a plain ``load_state_dict``.
"""
from __future__ import annotations

import torch
from brevitas.core.scaling import ScalingImplType
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from brevitas.core.function_wrapper import TensorClamp
from brevitas.quant import Int8WeightPerTensorFloat, Uint8ActPerTensorFloat
from brevitas.quant.binary import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from torch import nn

from hw_models.network import LayerSpec, NetworkSpec


class PixelQuant(Uint8ActPerTensorFloat):
    """Input quantizer for pixels scaled to [0, 1]: unsigned, constant scale 1/(2^bits - 1).

    With 8 bits, ``pixel / 255`` is represented exactly, so the hardware input is the raw
    uint8 image.
    """

    scaling_impl_type = ScalingImplType.CONST
    max_val = 1.0


class WeightQuant(Int8WeightPerTensorFloat):
    """Signed, narrow-range, per-tensor max-abs scaled weights (FINN-friendly); bits set per layer."""


class BinaryWeightQuant(SignedBinaryWeightPerTensorConst):
    """1-bit weights ``sign(w) * 0.1`` (the weight is clipped to the scale on the way, not in
    place: a supernet's weight is shared with its wider bit widths).  The scale is irrelevant
    to accuracy, since BN follows every layer that may take 1-bit weights."""

    tensor_clamp_impl = TensorClamp


class ActQuant(Uint8ActPerTensorFloat):
    """Unsigned activation after ReLU with a learned per-tensor range; bits set per layer."""


class BipolarActQuant(SignedBinaryActPerTensorConst):
    """1-bit activation: ``+1`` where BN's output is >= 0, else ``-1`` (FINN's bipolar)."""


def weight_quant_for(bits: int) -> type:
    return BinaryWeightQuant if bits == 1 else WeightQuant


def make_conv(cin: int, cout: int, layer: LayerSpec, weight_bit_width: int, **kw) -> QuantConv2d:
    """A quantized conv; ``groups=cin`` (pass it in ``kw``) makes it depthwise."""
    if weight_bit_width == 1:
        return QuantConv2d(cin, cout, layer.kernel, stride=layer.stride, padding=layer.padding,
                           bias=False, weight_quant=BinaryWeightQuant, **kw)
    return QuantConv2d(cin, cout, layer.kernel, stride=layer.stride, padding=layer.padding,
                       bias=False, weight_quant=WeightQuant, weight_bit_width=weight_bit_width,
                       **kw)


def make_linear(fin: int, fout: int, weight_bit_width: int) -> QuantLinear:
    if weight_bit_width == 1:
        return QuantLinear(fin, fout, bias=False, weight_quant=BinaryWeightQuant)
    return QuantLinear(fin, fout, bias=False, weight_quant=WeightQuant,
                       weight_bit_width=weight_bit_width)


def make_act(bits: int, return_quant_tensor: bool = True) -> nn.Module:
    """The activation after BN: a bipolar sign at 1 bit, else an unsigned quantized ReLU."""
    if bits == 1:
        return QuantIdentity(act_quant=BipolarActQuant, return_quant_tensor=return_quant_tensor)
    return QuantReLU(act_quant=ActQuant, bit_width=bits, return_quant_tensor=return_quant_tensor)


def make_input_quant(bits: int) -> QuantIdentity:
    return QuantIdentity(act_quant=PixelQuant, bit_width=bits, return_quant_tensor=True)


class QuantBlock(nn.Module):
    """conv/dwconv/linear -> BN -> QuantReLU (the last two only when the layer has
    ``act_bits``).  A ``dwconv`` is a depthwise ``QuantConv2d`` (``groups = channels``), which
    FINN lowers to a VVAU."""

    def __init__(self, layer: LayerSpec) -> None:
        super().__init__()
        self.op = layer.op
        if layer.op in ("conv", "dwconv"):
            groups = layer.in_channels if layer.op == "dwconv" else 1
            self.conv = make_conv(layer.in_channels, layer.out_channels, layer,
                                  weight_bit_width=layer.weight_bits, groups=groups)
            bn: nn.Module = nn.BatchNorm2d(layer.out_channels)
        else:
            self.linear = make_linear(layer.in_channels, layer.out_channels,
                                      weight_bit_width=layer.weight_bits)
            bn = nn.BatchNorm1d(layer.out_channels)
        self.has_act = layer.act_bits is not None
        if self.has_act:
            self.bn = bn
            self.act = make_act(layer.act_bits)

    def forward(self, x):
        if self.op == "fc":
            if x.dim() > 2:
                x = x.flatten(1)
            x = self.linear(x)
        else:
            x = self.conv(x)
        if self.has_act:
            x = self.act(self.bn(x))
        return x


class QuantCNN(nn.Module):
    """The static quantized network described by a NetworkSpec (input: pixels / 255, NCHW)."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__()
        self.spec = spec
        self.input_quant = make_input_quant(spec.input.bits)
        self.blocks = nn.ModuleDict()
        for layer in spec.layers:
            if layer.op == "maxpool":
                self.blocks[layer.name] = nn.MaxPool2d(layer.kernel, layer.stride)
            else:
                self.blocks[layer.name] = QuantBlock(layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_quant(x)
        for block in self.blocks.values():
            x = block(x)
        return x.value if hasattr(x, "value") else x


def build_qmodel(spec: NetworkSpec) -> QuantCNN:
    return QuantCNN(spec)

"""Elastic quantized layers: one full Brevitas weight, sliced per subnet, bits switched per forward.

The recipe follows ``shared/reference/quantized_supernets.md`` (section 3.6 and 6):

* **Weights**: one ``QuantConv2d``/``QuantLinear`` at the largest shape.  The active slice is
  quantized by the layer's own Brevitas weight quantizer, whose bit width comes from a
  :class:`BitWidthHolder` (no quantizer re-initialisation).  The per-tensor max-abs scale is
  computed on the *active slice*, exactly as the extracted static layer will compute it, so a
  subnet evaluated in the supernet and the same subnet extracted give the same output.
* **1-bit weights** use Brevitas's binary quantizer (``sign(w) * s``,
  :class:`~codesign.models.qcnn.BinaryWeightQuant`) on the same slice: a narrow-range integer
  quantizer has no level at 1 bit.
* **Activations**: one quantizer per bit width (switchable precision): a ``QuantReLU`` with its
  own learned range per width (a shared range gets gradients ~2000x larger at 2 bits than at
  8 bits), a bipolar sign at 1 bit.  *Inheritance*: the widest width collects the range
  statistics (the largest subnet runs at the widest bits every step); when it has its range,
  every narrower width that has not learned one yet starts from it
  (:meth:`ElasticLayer.inherit_ranges`), instead of each width collecting statistics from
  the few steps it happens to be sampled in.
* **BatchNorm**: one BN at the largest width, sliced; statistics are recalibrated per subnet
  before it is evaluated (:meth:`ElasticBN.begin_calibration`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from codesign.models.qcnn import BinaryWeightQuant, WeightQuant, make_act
from brevitas.nn import QuantConv2d, QuantLinear


class BitWidthHolder(nn.Module):
    """Returns the currently selected bit width; plugged in as a quantizer's ``bit_width_impl``."""

    def __init__(self, bit_width: int = 8) -> None:
        super().__init__()
        self.register_buffer("bits", torch.tensor(float(bit_width)), persistent=False)

    def set(self, bits: int) -> None:
        self.bits.fill_(float(bits))

    def forward(self) -> torch.Tensor:
        return self.bits


class ElasticBN(nn.Module):
    """BatchNorm over the first ``c`` channels of a max-width BN, with exact recalibration."""

    def __init__(self, max_channels: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(max_channels, momentum=momentum, eps=eps)
        self._calib: list[torch.Tensor] | None = None  # [sum of means, sum of vars, count]
        #: data-parallel training: batch statistics over every rank's share of the batch
        #: (torch.distributed, autograd-aware), so N processes compute what one does
        self.sync = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        bn = self.bn
        if self._calib is not None:
            dims = [0] + list(range(2, x.dim()))
            mean = x.mean(dims)
            var = x.var(dims, unbiased=False)
            n = x.shape[0]
            self._calib[0][:c] += mean.detach() * n
            self._calib[1][:c] += var.detach() * n
            self._calib[2] += n
            shape = [1, c] + [1] * (x.dim() - 2)
            return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + bn.eps) * \
                bn.weight[:c].view(shape) + bn.bias[:c].view(shape)
        if self.sync and self.training:
            return self._synced(x, c)
        return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                            self.training, bn.momentum, bn.eps)

    def _synced(self, x: torch.Tensor, c: int) -> torch.Tensor:
        from torch.distributed.nn.functional import all_reduce

        bn = self.bn
        dims = [0] + list(range(2, x.dim()))
        n_local = x.numel() // c
        xf = x.float()
        packed = torch.cat([xf.sum(dims), (xf * xf).sum(dims),
                            torch.full((1,), float(n_local), device=x.device)])
        packed = all_reduce(packed)
        n = packed[-1]
        mean = packed[:c] / n
        var = (packed[c:2 * c] / n - mean * mean).clamp_min(0)
        with torch.no_grad():
            m = bn.momentum
            bn.running_mean[:c] = (1 - m) * bn.running_mean[:c] + m * mean.detach()
            bn.running_var[:c] = (1 - m) * bn.running_var[:c] + m * (var.detach() * n / (n - 1))
            bn.num_batches_tracked += 1
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (xf - mean.view(shape)) / torch.sqrt(var.view(shape) + bn.eps)
        return (y * bn.weight[:c].view(shape) + bn.bias[:c].view(shape)).to(x.dtype)

    def begin_calibration(self) -> None:
        z = torch.zeros_like(self.bn.running_mean)
        self._calib = [z.clone(), z.clone(), torch.zeros((), device=z.device)]

    def end_calibration(self) -> None:
        """Write the exact (size-weighted) averages into the running buffers of the touched slice."""
        if self._calib is None:
            return
        s_mean, s_var, n = self._calib
        if float(n) > 0:
            touched = s_var > 0
            self.bn.running_mean[touched] = (s_mean / n)[touched]
            self.bn.running_var[touched] = (s_var / n)[touched]
        self._calib = None


class ElasticLayer(nn.Module):
    """conv or fc at max shape -> sliced BN -> per-bit QuantReLU (act optional)."""

    def __init__(self, op: str, max_in: int, max_out: int, act_bits: tuple[int, ...],
                 kernel: int = 3, stride: int = 1, padding: int = 1,
                 weight_bits: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.op = op
        self.weight_bits = BitWidthHolder(8)
        if op == "conv":
            self.conv = QuantConv2d(max_in, max_out, kernel, stride=stride, padding=padding,
                                    bias=False, weight_quant=WeightQuant,
                                    weight_bit_width_impl=self.weight_bits)
        else:
            self.linear = QuantLinear(max_in, max_out, bias=False, weight_quant=WeightQuant,
                                      weight_bit_width_impl=self.weight_bits)
        if 1 in weight_bits:  # the binary quantizer of the static 1-bit layer, on the same weight
            self.binary_quant = BinaryWeightQuant.let(
                tracked_parameter_list=[self.core.weight]).tensor_quant
        self.has_act = bool(act_bits)
        if self.has_act:
            self.bn = ElasticBN(max_out)
            self.acts = nn.ModuleDict({str(b): make_act(b, return_quant_tensor=False)
                                       for b in act_bits})

    @property
    def core(self) -> nn.Module:
        return self.conv if self.op == "conv" else self.linear

    def forward(self, x: torch.Tensor, c_in: int, c_out: int, w_bits: int,
                a_bits: int | None) -> torch.Tensor:
        core = self.core
        if w_bits == 1:
            w = self.binary_quant(core.weight[:c_out, :c_in])[0]
        else:
            self.weight_bits.set(w_bits)
            w = core.weight_quant(core.weight[:c_out, :c_in]).value
        if self.op == "conv":
            y = F.conv2d(x, w, None, core.stride, core.padding)
        else:
            y = F.linear(x.flatten(1), w)
        if self.has_act and a_bits is not None:
            y = self.acts[str(a_bits)](self.bn(y))
        return y

    @torch.no_grad()
    def inherit_ranges(self) -> None:
        """Narrower activation widths start from the widest one's learned range (see the module
        docstring); a width that already learned its own range keeps it."""
        if not self.has_act:
            return
        scalers = {int(b): _range_scaler(a) for b, a in self.acts.items()}
        scalers = {b: s for b, s in scalers.items() if s is not None}
        if not scalers:
            return
        top = scalers[max(scalers)]
        if top.counter <= top.collect_stats_steps:
            return  # the widest width is still collecting its statistics
        for b, s in scalers.items():
            if s is not top and s.counter <= s.collect_stats_steps:
                s.value.copy_(top.value)
                s.counter = s.collect_stats_steps + 1

    def static_state(self, c_in: int, c_out: int, a_bits: int | None, prefix: str) -> dict:
        """State-dict entries of the matching static ``QuantBlock`` (see codesign.models.qcnn)."""
        core_name = "conv" if self.op == "conv" else "linear"
        sd = {f"{prefix}.{core_name}.weight": self.core.weight[:c_out, :c_in].detach().clone()}
        if self.has_act and a_bits is not None:
            bn = self.bn.bn
            for key in ("weight", "bias", "running_mean", "running_var"):
                sd[f"{prefix}.bn.{key}"] = getattr(bn, key)[:c_out].detach().clone()
            sd[f"{prefix}.bn.num_batches_tracked"] = bn.num_batches_tracked.detach().clone()
            for k, v in self.acts[str(a_bits)].state_dict().items():
                sd[f"{prefix}.act.{k}"] = v.detach().clone()
        return sd


def _range_scaler(act: nn.Module):
    """The learned-range module of a Brevitas activation quantizer, if it has one (a bipolar
    sign has a constant scale)."""
    from brevitas.core.scaling.standalone import ParameterFromRuntimeStatsScaling

    return next((m for m in act.modules() if isinstance(m, ParameterFromRuntimeStatsScaling)),
                None)

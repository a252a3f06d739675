"""Vectorized FINN pricing of many design points that share one layer structure.

A search proposes thousands of (quantization, folding) candidates of the same network: same op
sequence, same shapes, different per-layer weight/activation bits and PE/SIMD.  Pricing each
with :meth:`hw_models.cost.FinnCostModel.estimate` costs a Python loop over layers and stages
per candidate; :class:`BatchPricer` prices all of them at once with numpy, one column of
candidates per layer, and returns the **same numbers** (bit-for-bit: every integer ceil/floor
and every float operation of :mod:`hw_models.finn_ops` is reproduced in the same order, and the
MVAU accumulator widths are taken from :meth:`MVAU.acc_bits` itself, tabulated per layer).
``tests/hw_models/test_batch_pricing.py`` checks the equality against the scalar model;
``bench/pricing_throughput.py`` measures the speed (``bench/PRICING.md``).

Usage::

    pricer = BatchPricer(FinnCostModel("pynq-z1"), NetworkSpec.load("examples/cnv_w1a1.json"))
    out = pricer.price(weight_bits=W, act_bits=A, pe=P, simd=S)   # each (n, n_compute)
    out["lut"], out["bram18"], out["fps"], out["bottleneck"]      # each (n,)

Columns are the template's compute layers (conv / fc) in order (:attr:`BatchPricer.compute_names`).
An argument left ``None`` takes the template's value (``pe``/``simd`` unset there: 1);
``act_bits`` 0 means "no activation" and is accepted only on a compute layer that ends the
network.  Max-pools are priced as in :meth:`FinnCostModel.estimate` (depthwise generator + Pool
at :func:`fpga.export.folding_config.pool_parallelism`, computed per candidate).

The stages between layers are priced as the scalar model does: the input thresholding (when
``template.input.thresholding``), data-width converters where stream widths differ, the FIFO
allowance, and the I/O cap on fps.

Supported settings: ``lut_variant`` ``finn2026`` / ``finn2022``, ``weight_mem`` ``block``,
``swg_impl`` ``rtl``, ``res_type`` ``lut`` / ``dsp``, any ``fifo_depth``, ``interconnect`` and
``io_profile``; ops conv, fc and maxpool (a depthwise conv raises NotImplementedError).  Any other setting, and templates the
scalar model would report partly unsupported (a max-pool with stride > kernel), raise
:class:`NotImplementedError` naming the setting - never a silently different number.
Illegal candidates raise :class:`~fpga.errors.InputError` (a ``ValueError``) naming the layer,
the first bad row and the rule.  Torch-free.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from fpga.errors import InputError
from fpga.export.folding_config import conv_needs_swg
from hw_models.cost import FinnCostModel, _unsupported_reason
from hw_models.finn_ops import MVAU, StreamingFIFO, Thresholding
from hw_models.io_cap import frame_bytes
from hw_models.network import MAX_BITS, NetworkSpec

__all__ = ["BatchPricer", "SUPPORTED_SETTINGS"]

#: the model settings the vectorized formulas reproduce
SUPPORTED_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "lut_variant": ("finn2026", "finn2022"),
    "weight_mem": ("block",),
    "swg_impl": ("rtl",),
    "res_type": ("lut", "dsp"),
}

_I = np.int64
_F = np.float64


# ------------------------------------------------------------------ integer helpers (exact)
def _cdiv(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """``ceil(a / b)`` for positive integers, exactly (``math.ceil(a / b)`` for the sizes here)."""
    return -(-np.asarray(a, dtype=_I) // b)


def _ram_width_for_depth(depth: np.ndarray) -> np.ndarray:
    """Vector :func:`hw_models.finn_ops._ram_width_for_depth` (36/18/9/4/2/1)."""
    return np.select([depth <= 512, depth <= 1024, depth <= 2048, depth <= 4096, depth <= 8192],
                     [36, 18, 9, 4, 2], 1).astype(_I)


def _bram18_finn_r(depth: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Vector :func:`hw_models.finn_ops.bram18_finn_r` (depth, width >= 1)."""
    return np.select(
        [width == 1, width == 2, width <= 4, width <= 9, (width <= 18) | (depth > 512)],
        [_cdiv(depth, 16384), _cdiv(depth, 8192), _cdiv(depth, 4096) * _cdiv(width, 4),
         _cdiv(depth, 2048) * _cdiv(width, 9), _cdiv(depth, 1024) * _cdiv(width, 18)],
        _cdiv(depth, 512) * _cdiv(width, 36)).astype(_I)


def _swg_bram18_rtl(depth: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Vector ``ConvolutionInputGenerator.bram18`` for the RTL implementation."""
    cascade_w = _cdiv(width, _ram_width_for_depth(depth))
    savings = np.where(depth > 16384,
                       cascade_w - _cdiv(width, _ram_width_for_depth(depth % 16384)), 0)
    return _cdiv(depth, 16384) * cascade_w - savings


def _largest_divisor_table(n: int, size: int) -> np.ndarray:
    """``t[x]`` = the largest divisor of ``n`` not above ``max(1, x)``, for ``x < size``."""
    t = np.ones(size, dtype=_I)
    best = 1
    for x in range(1, size):
        if x <= n and n % x == 0:
            best = x
        t[x] = best
    return t


# ------------------------------------------------------------------ the compiled template
@dataclass(frozen=True)
class _Layer:
    """What stays fixed for one template layer across candidates."""

    index: int          # position in template.layers
    name: str
    op: str
    col: int            # compute column (-1 for a max-pool)
    in_col: int         # compute column whose act_bits feed this layer (-1: network input)
    c_in: int
    h: int              # input height/width, padded for a conv's generator
    w: int
    out_h: int
    out_w: int
    kernel: int
    stride: int
    padding: int
    mw: int = 0
    mh: int = 0
    n_vec: int = 1
    swg: bool = False
    is_1d: bool = False


class BatchPricer:
    """Prices many (bits, folding) design points of one template network at once.

    ``model``: the :class:`FinnCostModel` whose numbers are reproduced (its device clock is
    used for fps); ``template``: the layer structure (ops and shapes) every candidate shares.
    """

    def __init__(self, model: FinnCostModel, template: NetworkSpec) -> None:
        if not isinstance(model, FinnCostModel):
            raise NotImplementedError(f"BatchPricer reproduces FinnCostModel only, got "
                                      f"{type(model).__name__}")
        for key, accepted in SUPPORTED_SETTINGS.items():
            value = getattr(model, key)
            if value not in accepted:
                raise NotImplementedError(
                    f"BatchPricer: {key}={value!r} is not vectorized (supported: "
                    f"{', '.join(accepted)}); price these candidates with "
                    "FinnCostModel.estimate")
        for layer in template.layers:
            if layer.op not in ("conv", "fc", "maxpool"):
                raise NotImplementedError(f"BatchPricer: layer '{layer.name}' op {layer.op!r} "
                                          "is not vectorized; price it with FinnCostModel")
            if layer.op == "maxpool":
                reason = _unsupported_reason(layer)
                if reason:
                    raise NotImplementedError(f"BatchPricer: layer '{layer.name}': {reason} "
                                              "(the scalar model reports it unsupported)")
        self.model = model
        self.template = template
        self.clock_mhz = model.clock_mhz
        self._fclk = model.clock_mhz * 1e6  # the same float FinnCostModel divides
        layers: list[_Layer] = []
        col, last_col = 0, -1
        for i, l in enumerate(template.layers):
            if l.op == "maxpool":
                layers.append(_Layer(i, l.name, l.op, -1, last_col, l.in_channels, l.in_h,
                                     l.in_w, l.out_h, l.out_w, l.kernel, l.stride, 0,
                                     is_1d=l.in_h == 1 or l.in_w == 1))
                continue
            p = l.padding
            h, w = l.in_h + 2 * p, l.in_w + 2 * p
            swg = l.op == "conv" and conv_needs_swg(l)
            layers.append(_Layer(i, l.name, l.op, col, last_col, l.in_channels, h, w,
                                 l.out_h, l.out_w, l.kernel, l.stride, p, l.mw, l.mh,
                                 l.n_vectors, swg, h == 1 or w == 1))
            last_col = col
            col += 1
        if col == 0:
            raise NotImplementedError("BatchPricer: the template has no conv/fc layer")
        self._layers = tuple(layers)
        self._compute = tuple(l for l in layers if l.col >= 0)
        self.compute_names: tuple[str, ...] = tuple(l.name for l in self._compute)
        self.layer_names: tuple[str, ...] = tuple(l.name for l in template.layers)
        # act_bits 0 ("no activation") only where the compute layer ends the network
        self._may_omit_act = np.array([l.index == len(template.layers) - 1
                                       for l in self._compute])
        # MVAU accumulator widths from the scalar method itself: acc[j][w, a]
        self._acc = tuple(self._acc_table(l.mw, l.mh) for l in self._compute)
        # pool parallelism: largest divisor of C not above the incoming stream width
        bound = max([template.layers[0].in_channels] + [l.mh for l in self._compute]
                    + [l.c_in for l in layers]) + 1
        self._div = {l.index: _largest_divisor_table(l.c_in, bound)
                     for l in layers if l.op == "maxpool"}
        self._first_is_fc = template.layers[0].op == "fc"
        self._first_c = template.layers[0].in_channels
        inp = template.input
        self._in_bytes = frame_bytes(inp.channels * inp.height * inp.width, inp.bits)
        # thresholding LUT/BRAM per input PE (a divisor of the input channels)
        self._th = None
        if inp.thresholding:
            th = np.zeros((3, inp.channels + 1), dtype=_I)
            for d in range(1, inp.channels + 1):
                if inp.channels % d == 0:
                    t = Thresholding(inp.channels, inp.height, inp.width, d, inp.bits)
                    th[:, d] = (t.lut(), t.bram18(), t.cycles())
            self._th = th
        self._fifo: dict[int, tuple[int, int]] = {}

    def _fifo_cost(self, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """LUT and RAMB18 of the FIFO allowance at each stream width (scalar model, tabulated)."""
        u, inv = np.unique(width, return_inverse=True)
        for x in u.tolist():
            if x not in self._fifo:
                f = StreamingFIFO(self.model.fifo_depth, int(x))
                self._fifo[x] = (f.lut(), f.bram18())
        lut = np.array([self._fifo[x][0] for x in u.tolist()], dtype=_I)[inv]
        br = np.array([self._fifo[x][1] for x in u.tolist()], dtype=_I)[inv]
        return lut.reshape(width.shape), br.reshape(width.shape)

    @staticmethod
    def _dwc(inw: np.ndarray, outw: np.ndarray, frame_bits: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Data-width converters where ``inw != outw``: (present, LUT, cycles), as finn_ops."""
        present = inw != outw
        intw = np.lcm(inw, outw)
        lut = (np.where(inw != intw, np.abs(np.ceil(np.log2(inw / intw))) + intw, 0)
               + np.where(intw != outw, np.abs(np.ceil(np.log2(intw / outw))) + outw, 0))
        cyc = np.maximum(_cdiv(frame_bits, inw), _cdiv(frame_bits, outw))
        return present, np.where(present, lut, 0).astype(_I), np.where(present, cyc, 0)

    # -------------------------------------------------------------- setup helpers
    def _acc_table(self, mw: int, mh: int) -> np.ndarray:
        t = np.zeros((MAX_BITS + 1, MAX_BITS + 1), dtype=_F)
        for wb in range(1, MAX_BITS + 1):
            for ab in range(1, MAX_BITS + 1):
                t[wb, ab] = MVAU(mw, mh, 1, 1, wb, ab, None, in_signed=ab == 1,
                                 lut_variant=self.model.lut_variant).acc_bits()
        return t

    @property
    def n_compute(self) -> int:
        return len(self._compute)

    def template_arrays(self) -> dict[str, np.ndarray]:
        """The template's own (weight_bits, act_bits, pe, simd) as ``(n_compute,)`` arrays."""
        ls = [self.template.layers[l.index] for l in self._compute]
        return {"weight_bits": np.array([l.weight_bits or 0 for l in ls], dtype=_I),
                "act_bits": np.array([l.act_bits or 0 for l in ls], dtype=_I),
                "pe": np.array([l.pe or 1 for l in ls], dtype=_I),
                "simd": np.array([l.simd or 1 for l in ls], dtype=_I)}

    def _inputs(self, **given: Any) -> tuple[int, dict[str, np.ndarray]]:
        base = self.template_arrays()
        n = 1
        arrays: dict[str, np.ndarray] = {}
        for key, value in given.items():
            a = base[key] if value is None else np.asarray(value)
            if a.dtype.kind not in "iub":
                if a.dtype.kind == "f" and np.all(a == np.round(a)):
                    a = a.astype(_I)
                else:
                    raise InputError(key, f"must hold integers, got dtype {a.dtype}")
            if a.ndim == 1:
                a = a[None, :]
            if a.ndim != 2 or a.shape[1] != self.n_compute:
                raise InputError(key, f"shape {np.shape(value)} does not fit "
                                 f"{self.n_compute} compute layers {list(self.compute_names)}",
                                 ["(n_candidates, n_compute)", "(n_compute,)"])
            arrays[key] = a.astype(_I, copy=False)
            if a.shape[0] != 1:
                if n not in (1, a.shape[0]):
                    raise InputError(key, f"{a.shape[0]} rows, other arguments have {n}")
                n = a.shape[0]
        # one contiguous column per compute layer
        cols = {k: np.ascontiguousarray(np.broadcast_to(a, (n, self.n_compute)).T)
                for k, a in arrays.items()}
        return n, cols

    def _validate(self, c: dict[str, np.ndarray]) -> None:
        def fail(key: str, j: int, bad: np.ndarray, rule: str, accepted: Any = None) -> None:
            row = int(np.flatnonzero(bad)[0])
            v = int(c[key][j][row])
            raise InputError(f"{key}[{row}, {j}]", f"layer '{self.compute_names[j]}', first bad "
                             f"row {row}: {key} {v} - {rule}", accepted)

        for j, l in enumerate(self._compute):
            wb, ab, pe, simd = c["weight_bits"][j], c["act_bits"][j], c["pe"][j], c["simd"][j]
            bad = (wb < 1) | (wb > MAX_BITS)
            if bad.any():
                fail("weight_bits", j, bad, f"must be in 1..{MAX_BITS}")
            lo = 0 if self._may_omit_act[j] else 1
            bad = (ab < lo) | (ab > MAX_BITS)
            if bad.any():
                fail("act_bits", j, bad, f"must be in {lo}..{MAX_BITS} (0 = no activation, only "
                     "on a compute layer that ends the network)")
            bad = (pe < 1) | (l.mh % np.maximum(pe, 1) != 0)
            if bad.any():
                fail("pe", j, bad, f"PE must divide the {l.mh} output channels (MH)",
                     [d for d in range(1, l.mh + 1) if l.mh % d == 0])
            lim = math.gcd(l.mw, l.c_in) if l.op == "conv" else l.mw
            bad = (simd < 1) | (lim % np.maximum(simd, 1) != 0)
            if bad.any():
                dims = (f"MW = {l.mw} (K*K*C_in) and the {l.c_in} input channels"
                        if l.op == "conv" else f"MW = {l.mw} (input features)")
                fail("simd", j, bad, f"SIMD must divide {dims}",
                     [d for d in range(1, lim + 1) if lim % d == 0])

    # -------------------------------------------------------------- pricing
    def price(self, weight_bits: Any = None, act_bits: Any = None, pe: Any = None,
              simd: Any = None, *, per_layer: bool = False,
              validate: bool = True) -> dict[str, np.ndarray]:
        """Price ``n`` candidates; each argument is ``(n, n_compute)`` or ``(n_compute,)``
        (broadcast) or ``None`` (the template's values).

        Returns ``(n,)`` arrays: ``lut``, ``bram18``, ``dsp``, ``uram``, ``cycles_per_frame``,
        ``critical_path_cycles`` (int64), ``fps`` (float64, ``clock_hz / cycles_per_frame``)
        and ``bottleneck`` (index into ``template.layers`` of the first slowest layer, as
        ``CostReport.bottleneck`` names it; :attr:`layer_names` maps it).  With ``per_layer``:
        also ``layer_cycles``, ``layer_lut``, ``layer_bram18``, ``layer_dsp`` of shape
        ``(n, n_layers)`` (every template layer, max-pools included) and ``pool_pe``
        ``(n, n_pools)``.  ``validate=False`` skips the legality checks (only for candidates
        known to be legal: illegal ones then give meaningless numbers).
        """
        n, c = self._inputs(weight_bits=weight_bits, act_bits=act_bits, pe=pe, simd=simd)
        if validate:
            self._validate(c)
        L = len(self._layers)
        lut = np.zeros(n, dtype=_I)
        bram = np.zeros(n, dtype=_I)
        dsp = np.zeros(n, dtype=_I)
        crit = np.zeros(n, dtype=_I)
        cyc_all = np.empty((L, n), dtype=_I)
        if per_layer:
            per = {k: np.zeros((L, n), dtype=_I) for k in ("lut", "bram18", "dsp")}
            pool_pes = []
        in_bits0 = np.full(n, self.template.input.bits, dtype=_I)
        # the stream entering the network (input quantizer's PE), see pool_parallelism
        stream = (np.ones(n, dtype=_I) if self._first_is_fc
                  else np.gcd(self._first_c, c["simd"][0]))
        variant = self.model.lut_variant
        dsp_mult = self.model.res_type == "dsp"
        link = self.model.interconnect
        fifo = link and self.model.fifo_depth > 0
        # the stream entering each layer: width in bits and bits per frame (None: the input,
        # fed at the first layer's width, needs no converter)
        prev_w: np.ndarray | None = None
        prev_fb: np.ndarray | None = None
        th_lut = th_br = th_cyc = None
        if self._th is not None:
            th_lut, th_br, th_cyc = (self._th[0][stream], self._th[1][stream],
                                     self._th[2][stream])
            inp = self.template.input
            prev_w = stream * inp.bits
            prev_fb = np.full(n, inp.channels * inp.height * inp.width * inp.bits, dtype=_I)
        for k, l in enumerate(self._layers):
            a = in_bits0 if l.in_col < 0 else c["act_bits"][l.in_col]
            # --- the stages in front of the layer (input thresholding, DWC, FIFO)
            x_lut = np.zeros(n, dtype=_I)
            x_br = np.zeros(n, dtype=_I)
            x_cyc = np.zeros(n, dtype=_I)
            if k == 0 and th_lut is not None:
                x_lut, x_br, x_cyc = x_lut + th_lut, x_br + th_br, th_cyc.copy()
                crit += th_cyc
            in_par = self._div[l.index][stream] if l.op == "maxpool" else c["simd"][l.col]
            width = in_par * a
            if link and prev_w is not None:
                _, d_lut, d_cyc = self._dwc(prev_w, width, prev_fb)
                x_lut += d_lut
                x_cyc = np.maximum(x_cyc, d_cyc)
                crit += d_cyc
            if fifo and k > 0:
                f_lut, f_br = self._fifo_cost(width)
                x_lut += f_lut
                x_br += f_br
            if l.op == "maxpool":
                par = self._div[l.index][stream]
                stream = par
                (swg_cyc, pool_cyc), lu, br = self._maxpool(l, par, a)
                lu, br = lu + x_lut, br + x_br
                cyc_all[k] = np.maximum(np.maximum(swg_cyc, pool_cyc), x_cyc)
                crit += swg_cyc + pool_cyc
                prev_w = par * a
                prev_fb = l.c_in * l.out_h * l.out_w * a
                if fifo and k == L - 1:
                    f_lut, f_br = self._fifo_cost(prev_w)
                    lu, br = lu + f_lut, br + f_br
                lut += lu
                bram += br
                if per_layer:
                    per["lut"][k], per["bram18"][k] = lu, br
                    pool_pes.append(par)
                continue
            j = l.col
            p, q, wb, ob = c["pe"][j], c["simd"][j], c["weight_bits"][j], c["act_bits"][j]
            stream = p
            # --- MVAU (finn_ops.MVAU)
            cycles = (l.mh // p) * (l.mw // q) * l.n_vec
            wa = wb + a
            add = wa * (2 * q - 1)
            mult = 0 if dsp_mult else q * (2 * _cdiv(wa, 6) - 1) * wa
            s = (mult + add).astype(_F) + self._acc[j][wb, a]
            if variant == "finn2022":
                acc = self._acc[j][wb, a]
                n_thr = (np.left_shift(1, ob) - 1).astype(_F)
                has_act = ob > 0
                thr = np.where(has_act, n_thr * acc * _cdiv(l.mh // p, 64), 0.0)
                cmp = np.where(has_act, n_thr * acc, 0.0)
                s = s + thr + cmp
            lu = (300 + 1.1 * (p * s)).astype(_I)
            depth = (l.mw * l.mh) // (p * q)
            br = _bram18_finn_r(depth, p * q * wb)
            ds = p * q * _cdiv(wa, 48) if dsp_mult else None
            crit += cycles
            layer_cyc = cycles
            # --- FMPadding and the sliding-window generator in front of a conv
            if l.op == "conv":
                cf = l.c_in // q
                if l.padding > 0:
                    pad_cyc = cf * (l.h * l.w)
                    crit += pad_cyc
                    layer_cyc = np.maximum(layer_cyc, pad_cyc)
                if l.swg:
                    swg_cyc, swg_br = self._swg(l, cf, q, a, depthwise=False)
                    crit += swg_cyc
                    layer_cyc = np.maximum(layer_cyc, swg_cyc)
                    lu = lu + 300
                    br = br + swg_br
            ob_eff = np.where(ob > 0, ob, self._acc[j][wb, a].astype(_I))
            prev_w = p * ob_eff
            prev_fb = l.mh * (l.out_h * l.out_w if l.op == "conv" else 1) * ob_eff
            lu, br = lu + x_lut, br + x_br
            if fifo and k == L - 1:
                f_lut, f_br = self._fifo_cost(prev_w)
                lu, br = lu + f_lut, br + f_br
            layer_cyc = np.maximum(layer_cyc, x_cyc)
            cyc_all[k] = layer_cyc
            lut += lu
            bram += br
            if ds is not None:
                dsp += ds
            if per_layer:
                per["lut"][k], per["bram18"][k] = lu, br
                if ds is not None:
                    per["dsp"][k] = ds
        cycles = cyc_all.max(axis=0)
        bottleneck = np.argmax(cyc_all == cycles, axis=0).astype(_I)  # first slowest layer
        with np.errstate(divide="ignore"):
            fps_compute = np.where(cycles > 0, self._fclk / cycles, 0.0)
        fps = fps_compute
        if self.model.io.t_host_us is not None:
            last = self._layers[-1]
            elems = (last.c_in * last.out_h * last.out_w if last.op == "maxpool"
                     else last.mh * (last.out_h * last.out_w if last.op == "conv" else 1))
            out_bits = prev_fb // elems  # bits per output value of each candidate
            u, inv = np.unique(out_bits, return_inverse=True)
            caps = np.array([self.model.io.fps_cap(self._in_bytes, frame_bytes(elems, int(b)),
                                                   self.clock_mhz) for b in u.tolist()])
            fps = np.minimum(fps_compute, caps[inv].reshape(out_bits.shape))
        out = {"lut": lut, "bram18": bram, "dsp": dsp, "uram": np.zeros(n, dtype=_I),
               "cycles_per_frame": cycles, "fps": fps, "bottleneck": bottleneck,
               "critical_path_cycles": crit, "fps_compute": fps_compute}
        if per_layer:
            out["layer_cycles"] = cyc_all.T.copy()
            out.update({f"layer_{k}": v.T.copy() for k, v in per.items()})
            out["pool_pe"] = (np.stack(pool_pes, axis=1) if pool_pes
                              else np.zeros((n, 0), dtype=_I))
        return out

    # -------------------------------------------------------------- stage formulas
    @staticmethod
    def _swg(l: _Layer, cf: np.ndarray, simd: np.ndarray, in_bits: np.ndarray,
             depthwise: bool) -> tuple[np.ndarray, np.ndarray]:
        """RTL ``ConvolutionInputGenerator`` cycles and RAMB18 (finn_ops)."""
        k, s, w = l.kernel, l.stride, l.w
        if l.is_1d:
            ofm = l.out_h * l.out_w
            if depthwise:
                ifm = l.h * l.w
                cyc = np.maximum(ofm * k * cf + (cf - 1) * k,
                                 ifm * cf + cf * (k - 1) * (s - 1)) + 2
            else:
                cyc = ofm * k * cf + 2
        else:
            write = l.out_w * k * k * cf
            read = s * w * cf
            buffer_min = ((k - 1) * w + (k - 1) + 1) * cf
            per_row = np.maximum(write, read)
            if depthwise:
                per_row = per_row + l.out_w * (s - 1) * (cf - 1)
            cyc = buffer_min + l.out_h * per_row
            if depthwise:
                cyc = cyc + (s - 1) * w * cf
        buffer_min = ((k - 1) * w + (k - 1) + 1) * cf
        depth = (buffer_min + np.maximum(0, ((s - 1) - k * k) * cf)
                 + np.maximum(0, ((s - 1) * w - k * k) * cf))
        return cyc, _swg_bram18_rtl(depth, simd * in_bits)

    def _maxpool(self, l: _Layer, par: np.ndarray, in_bits: np.ndarray
                 ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
        cf = l.c_in // par
        swg_cyc, swg_br = self._swg(l, cf, par, in_bits, depthwise=True)
        pool_cyc = (l.c_in * l.kernel * l.kernel // par) * l.out_h * l.out_w
        return (swg_cyc, pool_cyc), np.full_like(par, 300), swg_br

    # -------------------------------------------------------------- conveniences
    def random_candidates(self, rng: np.random.Generator, n: int,
                          bits: Any = (1, 2, 3, 4, 5, 6, 7, 8)) -> dict[str, np.ndarray]:
        """``n`` random legal candidates: bits drawn from ``bits``, PE/SIMD uniformly from the
        legal divisors of each layer; ``act_bits`` stays 0 where the template has none."""
        bits = np.asarray(bits, dtype=_I)
        out = {k: np.empty((n, self.n_compute), dtype=_I)
               for k in ("weight_bits", "act_bits", "pe", "simd")}
        base = self.template_arrays()
        for j, l in enumerate(self._compute):
            lim = math.gcd(l.mw, l.c_in) if l.op == "conv" else l.mw
            pes = np.array([d for d in range(1, l.mh + 1) if l.mh % d == 0], dtype=_I)
            simds = np.array([d for d in range(1, lim + 1) if lim % d == 0], dtype=_I)
            out["pe"][:, j] = rng.choice(pes, n)
            out["simd"][:, j] = rng.choice(simds, n)
            out["weight_bits"][:, j] = rng.choice(bits, n)
            out["act_bits"][:, j] = rng.choice(bits, n) if base["act_bits"][j] else 0
        return out

    def price_specs(self, specs: list[NetworkSpec], **kw: Any) -> dict[str, np.ndarray]:
        """Price concrete specs with this template's structure (checked per spec)."""
        rows = {k: [] for k in ("weight_bits", "act_bits", "pe", "simd")}
        for spec in specs:
            comp = [l for l in spec.layers if l.is_compute]
            shape = [(l.op, l.in_channels, l.in_h, l.in_w, l.out_channels, l.kernel, l.stride,
                      l.padding) for l in spec.layers]
            ref = [(l.op, l.in_channels, l.in_h, l.in_w, l.out_channels, l.kernel, l.stride,
                    l.padding) for l in self.template.layers]
            if shape != ref or spec.input.bits != self.template.input.bits:
                raise InputError("spec", f"network {spec.name!r} does not share the template's "
                                 "layer structure")
            rows["weight_bits"].append([l.weight_bits or 0 for l in comp])
            rows["act_bits"].append([l.act_bits or 0 for l in comp])
            rows["pe"].append([l.pe or 1 for l in comp])
            rows["simd"].append([l.simd or 1 for l in comp])
        return self.price(**{k: np.array(v, dtype=_I) for k, v in rows.items()}, **kw)

    def spec_of(self, weight_bits: Any, act_bits: Any, pe: Any, simd: Any) -> NetworkSpec:
        """The concrete :class:`NetworkSpec` of one candidate (rows of length n_compute)."""
        d = self.template.to_dict()
        cols = iter(range(self.n_compute))
        for raw in d["layers"]:
            if raw["op"] == "maxpool":
                continue
            j = next(cols)
            raw.update(weight_bits=int(weight_bits[j]),
                       act_bits=int(act_bits[j]) or None, pe=int(pe[j]), simd=int(simd[j]))
        return NetworkSpec.from_dict(d)

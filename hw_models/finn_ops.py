"""FINN-style cost formulas, one class per dataflow operator kind (torch-free, plain ints).

Every formula here is written down once, in the class of the operator it prices, so that a later
calibration can refit it in one place.  The section numbers cite
``shared/reference/fpga_cost_models.md`` (the "reference"), which in turn cites the FINN source
files the formulas come from.

Operators (FINN names):

* :class:`MVAU` - MatrixVectorActivation, the matrix engine of conv and fc layers (reference 3);
* :class:`ConvolutionInputGenerator` - the sliding-window generator (SWG) in front of a conv's
  MVAU (none for a 1x1, stride-1, unpadded conv) and, depthwise, in front of every max-pool;
  RTL (FINN's default today) or HLS implementation (5.1, 5.2);
* :class:`FMPadding` - zero padding before the SWG when ``padding > 0`` (5.4);
* :class:`Pool` - ``Pool_hls`` max-pool over the depthwise SWG's windows (5.4): what
  finn-plus 1.6.1 builds for *every* max-pool (checked in ``bench/FINN_CHECK.md``);
* :class:`StreamingMaxPool` - the older ``stride == kernel`` max-pool (5.4); kept for reference,
  the cost model no longer uses it because current FINN does not build it;
* :class:`VVAU` - VectorVectorActivation, the depthwise convolution engine (4);
* :class:`Thresholding` - standalone RTL thresholds, e.g. the input quantizer (5.3);
* :class:`DataWidthConverter`, :class:`StreamingFIFO` - the interconnect FINN inserts after
  its estimate (5.5, 5.6); the cost model adds them at layer boundaries.

FINN has no resource model for FMPadding, StreamingMaxPool and Pool (reference 5.4, 5.7): their
LUT/BRAM are reported as 0 with ``resources_modelled = False`` so a report shows it, never as a
silent zero.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from fpga.errors import InputError
from hw_models.arrays import cdiv, ceil, is_array, log2, maximum, minimum, select, trunc, where

#: MVAU LUT formula variants (reference 3.3, 3.4, 10.3):
#: ``finn2022`` - FINN v0.5b .. mid-2022: ``acc = W + A + ceil(log2 MW)`` and the threshold
#: LUTs always counted for activation layers; reproduces the cybsec notebook estimates
#: (8184 / 1217 / 1217 / 341).  ``finn2026`` - current FINN (HLS MVAU at commit 39f0c9a6,
#: 2026-04-14): accumulator capped by the data-type bound of arXiv 2301.13376, threshold LUTs
#: only for distributed threshold memories (not the default); reproduces the folding tutorial
#: (319 / 320 / 418) and finn-plus 1.6.1's estimates within 1 % (``bench/FINN_CHECK.md``; the
#: rest is FINN narrowing the accumulator from trained weights), hence the default.
LUT_VARIANTS = ("finn2022", "finn2026")
DEFAULT_LUT_VARIANT = "finn2026"
#: where MVAU weights live (reference 3.6): ``block`` - one wide BRAM memory per layer, FINN-R's
#: aspect-ratio table (FINN's ``internal_decoupled`` streamer, the default); ``per_pe`` - one
#: memory per PE as BNN-PYNQ's HLS partitions them (LUTRAM when WMEM <= 128, as FINN's
#: ``internal_embedded``); ``distributed`` - LUTRAM; ``ultra`` - UltraRAM.
WEIGHT_MEMORIES = ("block", "per_pe", "distributed", "ultra")
#: sliding-window generator implementation (reference 5.1 HLS, 5.2 RTL = FINN's default)
SWG_IMPLS = ("rtl", "hls")
#: where MVAU multipliers go (reference 3.3, 3.5)
RES_TYPES = ("lut", "dsp")

#: RAMB18 simple-dual-port aspect ratios (depth, width), reference 3.6
_BRAM18_MODES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


@dataclass(frozen=True)
class StageCost:
    """The cost of one dataflow stage (one FINN node) per frame."""

    op: str
    cycles: int
    lut: int
    bram18: int
    dsp: int
    uram: int
    pe: int | None = None
    simd: int | None = None
    resources_modelled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FinnOp(ABC):
    """One FINN dataflow operator: cycles per frame and resources, from its shape and folding."""

    op_type: ClassVar[str]
    #: False where FINN has no resource estimate for the op (reference 5.4, 5.7)
    resources_modelled: ClassVar[bool] = True

    @abstractmethod
    def cycles(self) -> int:
        """Cycles the stage needs per frame (its initiation interval in frames, reference 2)."""

    def lut(self) -> int:
        return 0

    def bram18(self) -> int:
        return 0

    def dsp(self) -> int:
        return 0

    def uram(self) -> int:
        return 0

    def folding(self) -> tuple[int | None, int | None]:
        """``(pe, simd)`` of the stage (``None`` where the op has no such factor)."""
        return getattr(self, "pe", None), getattr(self, "simd", None)

    def cost(self) -> StageCost:
        pe, simd = self.folding()
        return StageCost(self.op_type, self.cycles(), self.lut(), self.bram18(), self.dsp(),
                         self.uram(), pe, simd, self.resources_modelled)


# ------------------------------------------------------------------------ memory primitives
def bram18_finn_r(depth: Any, width: Any, divisors: tuple[int, int, int, int] = (4, 9, 18, 36)
                  ) -> Any:
    """RAMB18 count of one ``depth x width`` memory, FINN-R's aspect-ratio table (reference 3.6).

    ``divisors``: the widths of the 4K/2K/1K/512-deep modes; the MVAU uses the RAMB18 widths
    (4, 9, 18, 36), FINN's VVAU the rounded (4, 8, 16, 32) (reference 4)."""
    d4, d9, d18, d36 = divisors
    count = select(
        [width == 1, width == 2, width <= 4, width <= 9, (width <= 18) | (depth > 512)],
        [cdiv(depth, 16384), cdiv(depth, 8192), cdiv(depth, 4096) * cdiv(width, d4),
         cdiv(depth, 2048) * cdiv(width, d9), cdiv(depth, 1024) * cdiv(width, d18)],
        cdiv(depth, 512) * cdiv(width, d36))
    return where((depth <= 0) | (width <= 0), 0, count)


def bram18_best_mode(depth: Any, width: Any) -> Any:
    """RAMB18 count of one memory built in its cheapest aspect ratio (reference 3.6, per-PE)."""
    best = None
    for d, x in _BRAM18_MODES:
        n = cdiv(depth, d) * cdiv(width, x)
        best = n if best is None else minimum(best, n)
    return where((depth <= 0) | (width <= 0), 0, best)


def uram_count(depth: Any, width: Any) -> Any:
    """UltraRAM blocks (4096 x 72) of one memory (reference 3.6)."""
    return where((depth <= 0) | (width <= 0), 0, cdiv(width, 72) * cdiv(depth, 4096))


def lutram_luts(depth: Any, width: Any) -> Any:
    """LUTs of a ``depth x width`` LUTRAM, 64 entries per LUT (reference 3.3 ``L_wmem``)."""
    return where(depth > 0, width * cdiv(depth, 64), 0)


def _ram_width_for_depth(depth: Any) -> Any:
    """RAMB18 width usable at ``depth`` (36/18/9/4/2/1, reference 5.1/5.2)."""
    return select([depth <= 512, depth <= 1024, depth <= 2048, depth <= 4096, depth <= 8192],
                  [36, 18, 9, 4, 2], 1)


def _swg_line_buffer_bram18(depth: Any, width: Any) -> Any:
    """RAMB18 of one RTL SWG line buffer (FINN's cascade rule, reference 5.2)."""
    cascade_w = cdiv(width, _ram_width_for_depth(depth))
    savings = where(depth > 16384,
                    cascade_w - cdiv(width, _ram_width_for_depth(depth % 16384)), 0)
    return cdiv(depth, 16384) * cascade_w - savings


def _check_choice(name: str, value: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise InputError(name, f"unknown value {value!r}", accepted)


def _divides(part: Any, whole: Any) -> bool:
    """Scalar folding check in an op's constructor (arrays are checked once, up front, by the
    legality table :mod:`fpga.folding`, so the vectorized path skips it)."""
    return is_array(part, whole) or whole % part == 0


def _bits_or_zero(bits: Any) -> Any:
    """Output bits with ``None`` (no activation) as 0, the convention arrays use."""
    return 0 if bits is None else bits


# ------------------------------------------------------------------------ MVAU
def _acc_bits(mw: int, w: Any, a: Any, in_signed: Any, variant: str) -> Any:
    """Accumulator width of a ``mw``-long dot product (reference 3.3 "Accumulator width").

    ``finn2022``: ``W + A + ceil(log2 MW)``.  ``finn2026``: the data-type bound
    ``ceil(alpha + log2(1 + 2^-alpha) + 1)``, ``alpha = log2 MW + W + A - 1 - [A signed]``
    (FINN takes the min with the trained accumulator type, unknown before training).
    A float, as in FINN, so that the LUT sum rounds exactly like FINN's.
    """
    if variant == "finn2022":
        return (w + a + math.ceil(math.log2(mw))) * 1.0
    alpha = math.log2(mw) + w + a - 1 - in_signed * 1
    acc = ceil(alpha + log2(1 + 2.0 ** -alpha) + 1)
    return acc if is_array(acc) else float(acc)


def _mac_luts(pe: Any, simd: Any, w: Any, a: Any, acc: Any, out_bits: Any, tmem: Any,
              variant: str, res_type: str, thr_ceil: bool, thresholds: bool) -> Any:
    """FINN-R's MAC-array LUT term ``1.1 * PE * (L_mult + L_add + L_acc + L_thr + L_cmp)``
    (reference 3.3), shared by the MVAU and the VVAU.  ``thresholds``: count the threshold
    terms (always for the VVAU; only ``finn2022`` for the MVAU); ``thr_ceil``: the MVAU's
    ``ceil(TMEM/64)`` (the VVAU divides without rounding)."""
    mult = 0 if res_type == "dsp" else simd * (2 * cdiv(w + a, 6) - 1) * (w + a)
    add = (w + a) * (2 * simd - 1)
    thr = cmp = 0.0
    if thresholds:  # 2^0 - 1 = 0 thresholds without an activation
        n_thr = 2 ** out_bits - 1
        thr = n_thr * acc * (cdiv(tmem, 64) if thr_ceil else tmem / 64)
        cmp = n_thr * acc
    return 1.1 * (pe * (mult + add + acc + thr + cmp))


@dataclass(frozen=True)
class MVAU(FinnOp):
    """MatrixVectorActivation: ``MH x MW`` weights, ``pe`` rows x ``simd`` columns per cycle.

    ``in_bits`` is A (input activation bits), ``out_bits`` B (``None`` or 0: no fused
    activation, ``noActivation = 1``), ``in_signed`` whether the input is signed (FINN's
    bipolar 1-bit activations are; only the ``finn2026`` accumulator bound uses it).
    ``pe``, ``simd`` and the bits may be numpy arrays (many designs, one formula).
    """

    op_type: ClassVar[str] = "MVAU"

    mw: int
    mh: int
    pe: Any
    simd: Any
    weight_bits: Any
    in_bits: Any
    out_bits: Any
    n_vectors: int = 1
    in_signed: Any = False
    lut_variant: str = DEFAULT_LUT_VARIANT
    weight_mem: str = "block"
    res_type: str = "lut"
    #: the accumulator width when known (FINN narrows it from the trained weights before its
    #: estimate, ``step_minimize_bit_width``); ``None``: the data-type bound
    acc_width: float | None = None

    def __post_init__(self) -> None:
        if not (_divides(self.simd, self.mw) and _divides(self.pe, self.mh)):
            raise ValueError(f"MVAU {self.mh}x{self.mw}: PE {self.pe} must divide MH and "
                             f"SIMD {self.simd} must divide MW (reference 3.1)")
        _check_choice("lut_variant", self.lut_variant, LUT_VARIANTS)
        _check_choice("weight_mem", self.weight_mem, WEIGHT_MEMORIES)
        _check_choice("res_type", self.res_type, RES_TYPES)

    # --- folds (reference 1)
    @property
    def wmem(self) -> Any:
        """Weight-memory depth per PE: ``MW*MH/(PE*SIMD)``."""
        return self.mw * self.mh // (self.pe * self.simd)

    @property
    def tmem(self) -> Any:
        """Threshold-memory depth per PE: ``MH/PE`` (0 without activation)."""
        return where(_bits_or_zero(self.out_bits) > 0, self.mh // self.pe, 0)

    @property
    def weight_width(self) -> Any:
        """Bits of one weight-memory word: ``PE * SIMD * W``."""
        return self.pe * self.simd * self.weight_bits

    def cycles(self) -> Any:
        """``(MH/PE) * (MW/SIMD) * N_vec`` (reference 3.2)."""
        return (self.mh // self.pe) * (self.mw // self.simd) * self.n_vectors

    def acc_bits(self) -> Any:
        """Accumulator width the LUT model uses (:func:`_acc_bits`, or the known one)."""
        bound = _acc_bits(self.mw, self.weight_bits, self.in_bits, self.in_signed,
                          self.lut_variant)
        return bound if self.acc_width is None else minimum(float(self.acc_width), bound)

    def _weights_in_lutram(self) -> Any:
        if self.weight_mem == "distributed":
            return True
        return (self.weight_mem == "per_pe") & (self.wmem <= 128)

    def lut(self) -> Any:
        """FINN-R LUT model (reference 3.3; variants 3.4)::

            300 + 1.1 * PE * (L_mult + L_add + L_acc + L_thr + L_cmp) + L_wmem

        ``finn2022`` counts thresholds for every activation layer; ``finn2026`` only when
        ``ram_style_thresholds == "distributed"``, which is not FINN's default (``auto``).
        """
        mac = _mac_luts(self.pe, self.simd, self.weight_bits, self.in_bits, self.acc_bits(),
                        _bits_or_zero(self.out_bits), self.tmem, self.lut_variant,
                        self.res_type, thr_ceil=True,
                        thresholds=self.lut_variant == "finn2022")
        wmem_luts = where(self._weights_in_lutram(),
                          lutram_luts(self.wmem, self.weight_width), 0)
        return trunc(300 + mac + wmem_luts)

    def bram18(self) -> Any:
        """Weight memory in RAMB18 (reference 3.6); thresholds are LUTRAM (3.7)."""
        if self.weight_mem == "block":
            return bram18_finn_r(self.wmem, self.weight_width)
        if self.weight_mem == "per_pe":
            return where(self._weights_in_lutram(), 0,
                         self.pe * bram18_best_mode(self.wmem, self.simd * self.weight_bits))
        return 0

    def uram(self) -> Any:
        """``ceil(w/72) * ceil(WMEM/4096)`` when weights are in UltraRAM (reference 3.6)."""
        if self.weight_mem != "ultra":
            return 0
        return uram_count(self.wmem, self.weight_width)

    def dsp(self) -> Any:
        """``PE * SIMD * ceil((W+A)/48)`` with ``resType = dsp``, else 0 (reference 3.5)."""
        if self.res_type != "dsp":
            return 0
        return self.pe * self.simd * cdiv(self.weight_bits + self.in_bits, 48)


# ------------------------------------------------------------------------ sliding window
@dataclass(frozen=True)
class ConvolutionInputGenerator(FinnOp):
    """Sliding-window generator: streams ``K x K`` windows of a ``C x H x W`` (padded) input.

    ``simd`` must divide ``channels``.  ``depthwise`` is the variant that feeds a Pool/VVAU.
    ``parallel_window`` (RTL only): FINN's parallel implementation style, a whole ``K x K``
    window of ``simd`` channels per cycle (``mmv_out = K*K``); for a standard conv it needs
    ``simd = channels`` (``select_impl_style``).  It may be a boolean array (per design).
    Square kernels and strides, no dilation (what the network format describes).
    """

    op_type: ClassVar[str] = "ConvolutionInputGenerator"

    channels: int
    in_h: int
    in_w: int
    out_h: int
    out_w: int
    kernel: int
    stride: int
    simd: Any
    in_bits: Any
    impl: str = "rtl"
    depthwise: bool = False
    parallel_window: Any = False

    def __post_init__(self) -> None:
        if not is_array(self.parallel_window, self.simd) and self.parallel_window \
                and not self.depthwise and self.simd != self.channels:
            raise ValueError("SWG: the parallel-window mode needs SIMD = channels (reference 5.2)")
        if not _divides(self.simd, self.channels):
            raise ValueError(f"SWG: SIMD {self.simd} must divide the {self.channels} input "
                             "channels (reference 5.1)")
        _check_choice("swg_impl", self.impl, SWG_IMPLS)
        if self.impl == "hls" and np.any(self.parallel_window):
            raise ValueError("SWG: the parallel-window mode exists only in the RTL generator "
                             "(swg_impl 'rtl')")

    @property
    def cf(self) -> Any:
        """Channel fold ``C/SIMD``."""
        return self.channels // self.simd

    @property
    def is_1d(self) -> bool:
        return self.in_h == 1 or self.in_w == 1

    @property
    def out_elements(self) -> Any:
        """Elements per output word: ``SIMD``, or ``K*K*SIMD`` in the parallel-window mode."""
        return where(self.parallel_window, self.kernel * self.kernel * self.simd, self.simd)

    def _buffer_depth(self) -> Any:
        """RTL buffer depth, default style (``get_buffer_depth``, reference 5.2)."""
        k, s, w, cf = self.kernel, self.stride, self.in_w, self.cf
        buffer_min = ((k - 1) * w + (k - 1) + 1) * cf
        return (buffer_min + maximum(0, ((s - 1) - k * k) * cf)
                + maximum(0, ((s - 1) * w - k * k) * cf))

    def _default_cycles(self) -> Any:
        k, s, cf = self.kernel, self.stride, self.cf
        if self.is_1d:
            ofm = self.out_h * self.out_w
            if self.impl == "hls":
                return 1 + ofm * k * cf
            if self.depthwise:
                ifm = self.in_h * self.in_w
                return maximum(ofm * k * cf + (cf - 1) * k,
                               ifm * cf + cf * (k - 1) * (s - 1)) + 2
            return ofm * k * cf + 2
        write = self.out_w * k * k * cf
        read = s * self.in_w * cf
        if self.impl == "hls":
            return self.in_w * k * cf + self.out_h * maximum(write, read)
        buffer_min = ((k - 1) * self.in_w + (k - 1) + 1) * cf
        per_row = maximum(write, read)
        if self.depthwise:
            per_row = per_row + self.out_w * (s - 1) * (cf - 1)
        cycles = buffer_min + self.out_h * per_row
        if self.depthwise:
            cycles = cycles + (s - 1) * self.in_w * cf
        return cycles

    def cycles(self) -> Any:
        """Reference 5.2 (RTL) / 5.1 (HLS)::

            RTL: buffer_min + OFM_h * max(OFM_w*K*K*cf, stride*IFM_w*cf)
            HLS: IFM_w*K*cf + OFM_h * max(OFM_w*K*K*cf, stride*IFM_w*cf)
            parallel window: IFM_h*IFM_w*cf + 2 (the input words, ``get_exp_cycles``)

        1D inputs (``H == 1`` or ``W == 1``): ``OFM*K*cf + 2`` (RTL), ``1 + OFM*K*cf`` (HLS);
        depthwise RTL as finn-plus 1.6.1 (windows replayed once per channel fold)::

            max(OFM*K*cf + (cf-1)*K, IFM*cf + cf*(K-1)*(s-1)) + 2
        """
        return where(self.parallel_window, self.in_h * self.in_w * self.cf + 2,
                     self._default_cycles())

    def lut(self) -> Any:
        """300 with block/auto line buffers (reference 5.1, 5.2)."""
        return 300

    def bram18(self) -> Any:
        """Line buffers in RAMB18 (reference 5.2 RTL with cascades; 5.1 HLS ``(K+s)`` buffers;
        parallel window: ``K-1`` buffers of ``IFM_w - K`` words, none for a 1D input)."""
        width = self.simd * self.in_bits
        if self.impl == "hls":
            if self.is_1d:
                depth = (self.kernel - 1) * self.cf
                return cdiv(width, _ram_width_for_depth(depth)) * cdiv(depth, 18432)
            depth = self.in_h * self.cf
            return (self.kernel + self.stride) * cdiv(width, _ram_width_for_depth(depth))
        default = _swg_line_buffer_bram18(self._buffer_depth(), width)
        if self.is_1d:
            parallel = 0
        else:
            parallel = (self.kernel - 1) * _swg_line_buffer_bram18(self.in_w - self.kernel, width)
        return where(self.parallel_window, parallel, default)


# ------------------------------------------------------------------------ padding and pooling
@dataclass(frozen=True)
class FMPadding(FinnOp):
    """Zero padding of a ``C x H x W`` map by ``padding`` on each side; SIMD divides C."""

    op_type: ClassVar[str] = "FMPadding"
    resources_modelled: ClassVar[bool] = False

    channels: int
    in_h: int
    in_w: int
    padding: int
    simd: Any

    def __post_init__(self) -> None:
        if not _divides(self.simd, self.channels):
            raise ValueError(f"FMPadding: SIMD {self.simd} must divide {self.channels} channels")

    def cycles(self) -> Any:
        """``(C/SIMD) * OFM_h,padded * OFM_w,padded`` (reference 5.4)."""
        return ((self.channels // self.simd) * (self.in_h + 2 * self.padding)
                * (self.in_w + 2 * self.padding))


@dataclass(frozen=True)
class StreamingMaxPool(FinnOp):
    """Max-pool with ``stride == kernel``; all channels in parallel (2D has no folding).

    Not used by the lowering: finn-plus 1.6.1 builds every max-pool as a depthwise
    :class:`ConvolutionInputGenerator` + :class:`Pool` instead.
    """

    op_type: ClassVar[str] = "StreamingMaxPool"
    resources_modelled: ClassVar[bool] = False

    channels: int
    in_h: int
    in_w: int
    kernel: int

    def cycles(self) -> int:
        """``IFM_h * IFM_w * (1 + 1/K^2)`` (reference 5.4; FINN flags it as approximate)."""
        return int(self.in_h * self.in_w * (1 + 1 / (self.kernel * self.kernel)))

    def folding(self) -> tuple[int | None, int | None]:
        return None, None


@dataclass(frozen=True)
class Pool(FinnOp):
    """``Pool_hls`` (``Pool_Batch``) max-pool over windows from a depthwise SWG; PE divides C.

    FINN builds one for every max-pool; its PE equals the generator's SIMD.
    """

    op_type: ClassVar[str] = "Pool"
    resources_modelled: ClassVar[bool] = False

    channels: int
    out_h: int
    out_w: int
    kernel: int
    pe: Any

    def __post_init__(self) -> None:
        if not _divides(self.pe, self.channels):
            raise ValueError(f"Pool: PE {self.pe} must divide {self.channels} channels")

    def cycles(self) -> Any:
        """``(C * K^2 / PE) * OFM_h * OFM_w`` (reference 5.4)."""
        return (self.channels * self.kernel * self.kernel // self.pe) * self.out_h * self.out_w


# ------------------------------------------------------------------------ depthwise convolution
@dataclass(frozen=True)
class VVAU(FinnOp):
    """VectorVectorActivation: a depthwise ``K x K`` convolution over ``channels`` (reference 4).

    ``pe`` channels and ``simd`` kernel taps per cycle; PE divides C, SIMD divides ``K*K``.  The
    LUT model is the MVAU's with ``MW = K*K`` and the threshold terms always counted for an
    activation layer (``hls/vectorvectoractivation_hls.py``); the accumulator is the data-type
    bound (``finn2026``) or ``W + A + ceil(log2 K^2)`` (``finn2022``).  Weights: FINN's divisors
    4/8/16/32 aspect table, 0 RAMB18 when ``WMEM <= 128``: they go to LUTRAM, whose LUTs FINN's
    estimate leaves out (it counts them only for ``ram_style = distributed``);
    ``lutram_weights`` counts them (``PE*SIMD*W * ceil(WMEM/64)``, FINN's own LUTRAM term).
    """

    op_type: ClassVar[str] = "VVAU"

    channels: int
    kernel: int
    out_h: int
    out_w: int
    pe: Any
    simd: Any
    weight_bits: Any
    in_bits: Any
    out_bits: Any
    in_signed: Any = False
    lut_variant: str = DEFAULT_LUT_VARIANT
    res_type: str = "lut"
    acc_width: float | None = None  # as the MVAU's
    lutram_weights: bool = False

    def __post_init__(self) -> None:
        k2 = self.kernel * self.kernel
        if not (_divides(self.pe, self.channels) and _divides(self.simd, k2)):
            raise ValueError(f"VVAU: PE {self.pe} must divide C = {self.channels} and SIMD "
                             f"{self.simd} must divide K*K = {k2} (reference 4)")
        _check_choice("lut_variant", self.lut_variant, LUT_VARIANTS)
        _check_choice("res_type", self.res_type, RES_TYPES)

    @property
    def wmem(self) -> Any:
        return self.kernel * self.kernel * self.channels // (self.pe * self.simd)

    @property
    def tmem(self) -> Any:
        return where(_bits_or_zero(self.out_bits) > 0, self.channels // self.pe, 0)

    @property
    def weight_width(self) -> Any:
        return self.pe * self.simd * self.weight_bits

    def cycles(self) -> Any:
        """``(C * K^2 / (PE * SIMD)) * OFM_h * OFM_w`` (``get_exp_cycles``)."""
        return self.wmem * self.out_h * self.out_w

    def acc_bits(self) -> Any:
        bound = _acc_bits(self.kernel * self.kernel, self.weight_bits, self.in_bits,
                          self.in_signed, self.lut_variant)
        return bound if self.acc_width is None else minimum(float(self.acc_width), bound)

    def lut(self) -> Any:
        mac = _mac_luts(self.pe, self.simd, self.weight_bits, self.in_bits, self.acc_bits(),
                        _bits_or_zero(self.out_bits), self.tmem, self.lut_variant,
                        self.res_type, thr_ceil=False, thresholds=True)
        wmem_luts = 0
        if self.lutram_weights:
            wmem_luts = where(self.wmem <= 128, self.weight_width * cdiv(self.wmem, 64), 0)
        return trunc(300 + mac + wmem_luts)

    def bram18(self) -> Any:
        # WMEM <= 128: LUTRAM (FINN's ram_style "auto")
        return where(self.wmem <= 128, 0,
                     bram18_finn_r(self.wmem, self.weight_width, (4, 8, 16, 32)))

    def dsp(self) -> Any:
        if self.res_type != "dsp":
            return 0
        return self.pe * cdiv(self.weight_bits + self.in_bits, 48)


# ------------------------------------------------------------------------ standalone thresholds
#: FINN's memory primitives for RTL thresholds, (width, depth) in its preference order on ties
#: (``finn/util/memutil.py::mem_primitives_versal``, used for every part)
_THRESHOLD_MEMORIES = (("URAM", 72, 4096), ("URAM", 36, 8192), ("URAM", 18, 16384),
                       ("URAM", 9, 32768), ("BRAM", 36, 512), ("BRAM", 18, 1024),
                       ("BRAM", 9, 2048), ("LUTRAM", 1, 64))


def _threshold_primitive(width: int, depth: Any) -> tuple[Any, Any]:
    """``(index into _THRESHOLD_MEMORIES, count)`` of FINN's least-waste primitive for one
    ``depth x width`` memory (``get_memutil_alternatives``; ties keep the table order)."""
    best_key = best_idx = best_count = None
    for order, (_, pw, pd) in enumerate(_THRESHOLD_MEMORIES):
        count = cdiv(width, pw) * cdiv(depth, pd)
        key = (count * pw * pd - width * depth) * len(_THRESHOLD_MEMORIES) + order
        if best_key is None:
            best_key, best_idx, best_count = key, order, count
            continue
        better = key < best_key
        best_key = where(better, key, best_key)
        best_idx = where(better, order, best_idx)
        best_count = where(better, count, best_count)
    return best_idx, best_count


def threshold_memory(width: int, depth: int) -> tuple[str, int]:
    """``(primitive kind, count)`` of one ``depth x width`` threshold memory: FINN's
    least-waste primitive (``get_memutil_alternatives``; ties keep the table order)."""
    idx, count = _threshold_primitive(width, depth)
    return _THRESHOLD_MEMORIES[idx][0], count


@dataclass(frozen=True)
class Thresholding(FinnOp):
    """``Thresholding_rtl``: a standalone multi-threshold activation (reference 5.3), e.g. the
    input quantizer FINN builds in front of the first layer (``bench/FINN_CHECK.md``).

    Per PE one memory per output bit ``x``, ``threshold_bits`` wide and ``(C/PE) * 2^x`` deep,
    each on its least-waste primitive; the LUT estimate is the LUTRAM part, as FINN's
    (``rtl/thresholding_rtl.py``).  ``threshold_bits`` is 32 for a float network input (what
    finn-plus 1.6.1 keeps for it: 288 LUT per PE at 8 output bits, reproduced exactly).
    """

    op_type: ClassVar[str] = "Thresholding"

    channels: int
    height: int
    width: int
    pe: Any
    out_bits: int
    threshold_bits: int = 32

    def __post_init__(self) -> None:
        if not _divides(self.pe, self.channels):
            raise ValueError(f"Thresholding: PE {self.pe} must divide {self.channels} channels")

    def cycles(self) -> Any:
        """``(C/PE) * H * W`` (reference 5.3)."""
        return (self.channels // self.pe) * self.height * self.width

    def _memory(self, kind: str) -> Any:
        kinds = [i for i, m in enumerate(_THRESHOLD_MEMORIES) if m[0] == kind]
        total = 0
        cf = self.channels // self.pe
        for x in range(self.out_bits):
            idx, count = _threshold_primitive(self.threshold_bits, cf * 2 ** x)
            is_kind = np.isin(idx, kinds) if is_array(idx) else idx in kinds
            total = total + where(is_kind, self.pe * count, 0)
        return total

    def lut(self) -> Any:
        return self._memory("LUTRAM")

    def bram18(self) -> Any:
        return self._memory("BRAM")

    def uram(self) -> Any:
        return self._memory("URAM")


# ------------------------------------------------------------------------ interconnect
@dataclass(frozen=True)
class DataWidthConverter(FinnOp):
    """``StreamingDataWidthConverter`` between stages whose stream widths differ (reference
    5.6): ``frame_bits`` bits per frame go from ``in_width`` to ``out_width`` bit words.  LUT:
    FINN's shift-based model (``streamingdatawidthconverter.py``), counters plus control sets
    via the least common multiple width.  Equal widths need no converter: 0 cycles, 0 LUT.
    FINN inserts these only after its estimate reports (``InsertDWC`` in
    ``step_set_fifo_depths``)."""

    op_type: ClassVar[str] = "DataWidthConverter"

    in_width: Any
    out_width: Any
    frame_bits: Any

    def cycles(self) -> Any:
        """One word per cycle on the busier side."""
        busy = maximum(cdiv(self.frame_bits, self.in_width),
                       cdiv(self.frame_bits, self.out_width))
        return where(self.in_width != self.out_width, busy, 0)

    def lut(self) -> Any:
        inw, outw = self.in_width, self.out_width
        intw = np.lcm(inw, outw) if is_array(inw, outw) else math.lcm(inw, outw)
        up = where(inw != intw, abs(ceil(log2(inw / intw))) + intw, 0)
        down = where(intw != outw, abs(ceil(log2(intw / outw))) + outw, 0)
        return trunc(up + down)

    def folding(self) -> tuple[int | None, int | None]:
        return None, None


def _clog2(x: int) -> int:
    """SystemVerilog ``$clog2`` (0 for x <= 1)."""
    return max(x - 1, 0).bit_length()


@dataclass(frozen=True)
class StreamingFIFO(FinnOp):
    """A ``depth x width`` stream FIFO (reference 5.5).  FIFO depths are only known after FINN's
    FIFO sizing, so the cost model places one FIFO of a chosen depth at every layer boundary
    (an allowance, ``fifo_depth``); the cost is finn-plus 1.6.1's fitted ``fifo.sv`` model
    (``finn/util/resource_models.py``) for its automatic style: shift register up to depth 33
    (and to 64 for words under 12 bits), LUTRAM to 257 (or any depth under 5 bits), BRAM
    beyond (the URAM style of very deep FIFOs is priced as BRAM on every part).  ``width``
    may be an array (one depth, many designs).
    """

    op_type: ClassVar[str] = "StreamingFIFO"

    depth: int
    width: Any

    def _styles(self) -> tuple[Any, Any]:
        """``(srl, distributed)`` masks; the rest is ``block``."""
        d, w = self.depth, self.width
        srl = (d <= 33) | ((d <= 64) & (w < 12))
        dist = ~srl & ((d <= 257) | (w < 5)) if is_array(srl) else \
            (not srl) and (d <= 257 or w < 5)
        return srl, dist

    def style(self) -> str:
        srl, dist = self._styles()
        return "srl" if srl else "distributed" if dist else "block"

    def cycles(self) -> int:
        return 0

    def lut(self) -> Any:
        d, w = self.depth, self.width
        if d < 2:
            return 0
        cw = _clog2(d + 1) + 1
        srl, dist = self._styles()
        stages = math.ceil((d - 1 if d > 4 else 4) / 32)
        rows = 2 ** _clog2(d - 1)
        return select(
            [srl, dist],
            [stages * w + 5 * cw - 7,
             math.ceil(rows / 32) * cdiv(w, 2) * 5 // 4 + rows // 128 * (w // 2) + 8 * cw - 15],
            54 + 3 * math.ceil(d / 512) + 2 * self._block_bram18() // 5)

    def _block_bram18(self) -> Any:
        return bram18_best_mode(self.depth, self.width)

    def bram18(self) -> Any:
        if self.depth < 2:
            return 0
        srl, dist = self._styles()
        return where(srl | dist, 0, self._block_bram18())

    def folding(self) -> tuple[int | None, int | None]:
        return None, None


# ------------------------------------------------------------------------ output scale
@dataclass(frozen=True)
class ElementwiseMul(FinnOp):
    """``ElementwiseMul_hls``: the float output scale FINN keeps after the last MVAU.  FINN
    estimates its cycles (``elements / PE``, ``get_exp_cycles``) and 0 LUT/BRAM; its real
    resources are not modelled (a few LUTs and one float multiplier per PE)."""

    op_type: ClassVar[str] = "ElementwiseMul"
    resources_modelled: ClassVar[bool] = False

    elements: int
    pe: Any

    def cycles(self) -> Any:
        return self.elements // self.pe

    def folding(self) -> tuple[int | None, int | None]:
        return self.pe, None

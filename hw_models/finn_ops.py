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

from fpga.errors import InputError

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
def bram18_finn_r(depth: int, width: int, divisors: tuple[int, int, int, int] = (4, 9, 18, 36)
                  ) -> int:
    """RAMB18 count of one ``depth x width`` memory, FINN-R's aspect-ratio table (reference 3.6).

    ``divisors``: the widths of the 4K/2K/1K/512-deep modes; the MVAU uses the RAMB18 widths
    (4, 9, 18, 36), FINN's VVAU the rounded (4, 8, 16, 32) (reference 4)."""
    if depth <= 0 or width <= 0:
        return 0
    d4, d9, d18, d36 = divisors
    if width == 1:
        return math.ceil(depth / 16384)
    if width == 2:
        return math.ceil(depth / 8192)
    if width <= 4:
        return math.ceil(depth / 4096) * math.ceil(width / d4)
    if width <= 9:
        return math.ceil(depth / 2048) * math.ceil(width / d9)
    if width <= 18 or depth > 512:
        return math.ceil(depth / 1024) * math.ceil(width / d18)
    return math.ceil(depth / 512) * math.ceil(width / d36)


def bram18_best_mode(depth: int, width: int) -> int:
    """RAMB18 count of one memory built in its cheapest aspect ratio (reference 3.6, per-PE)."""
    if depth <= 0 or width <= 0:
        return 0
    return min(math.ceil(depth / d) * math.ceil(width / x) for d, x in _BRAM18_MODES)


def uram_count(depth: int, width: int) -> int:
    """UltraRAM blocks (4096 x 72) of one memory (reference 3.6)."""
    if depth <= 0 or width <= 0:
        return 0
    return math.ceil(width / 72) * math.ceil(depth / 4096)


def lutram_luts(depth: int, width: int) -> int:
    """LUTs of a ``depth x width`` LUTRAM, 64 entries per LUT (reference 3.3 ``L_wmem``)."""
    return width * math.ceil(depth / 64) if depth > 0 else 0


def _ram_width_for_depth(depth: float) -> int:
    """RAMB18 width usable at ``depth`` (36/18/9/4/2/1, reference 5.1/5.2)."""
    for limit, width in ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2)):
        if depth <= limit:
            return width
    return 1


def _check_choice(name: str, value: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise InputError(name, f"unknown value {value!r}", accepted)


# ------------------------------------------------------------------------ MVAU
@dataclass(frozen=True)
class MVAU(FinnOp):
    """MatrixVectorActivation: ``MH x MW`` weights, ``pe`` rows x ``simd`` columns per cycle.

    ``in_bits`` is A (input activation bits), ``out_bits`` B (``None``: no fused activation,
    ``noActivation = 1``), ``in_signed`` whether the input is signed (FINN's bipolar 1-bit
    activations are; only the ``finn2026`` accumulator bound uses it).
    """

    op_type: ClassVar[str] = "MVAU"

    mw: int
    mh: int
    pe: int
    simd: int
    weight_bits: int
    in_bits: int
    out_bits: int | None
    n_vectors: int = 1
    in_signed: bool = False
    lut_variant: str = DEFAULT_LUT_VARIANT
    weight_mem: str = "block"
    res_type: str = "lut"

    def __post_init__(self) -> None:
        if self.mw % self.simd or self.mh % self.pe:
            raise ValueError(f"MVAU {self.mh}x{self.mw}: PE {self.pe} must divide MH and "
                             f"SIMD {self.simd} must divide MW (reference 3.1)")
        _check_choice("lut_variant", self.lut_variant, LUT_VARIANTS)
        _check_choice("weight_mem", self.weight_mem, WEIGHT_MEMORIES)
        _check_choice("res_type", self.res_type, RES_TYPES)

    # --- folds (reference 1)
    @property
    def wmem(self) -> int:
        """Weight-memory depth per PE: ``MW*MH/(PE*SIMD)``."""
        return self.mw * self.mh // (self.pe * self.simd)

    @property
    def tmem(self) -> int:
        """Threshold-memory depth per PE: ``MH/PE`` (0 without activation)."""
        return 0 if self.out_bits is None else self.mh // self.pe

    def cycles(self) -> int:
        """``(MH/PE) * (MW/SIMD) * N_vec`` (reference 3.2)."""
        return (self.mh // self.pe) * (self.mw // self.simd) * self.n_vectors

    def acc_bits(self) -> float:
        """Accumulator width the LUT model uses (reference 3.3 "Accumulator width").

        ``finn2022``: ``W + A + ceil(log2 MW)``.  ``finn2026``: the data-type bound
        ``ceil(alpha + log2(1 + 2^-alpha) + 1)``, ``alpha = log2 MW + W + A - 1 - [A signed]``
        (FINN takes the min with the trained accumulator type, unknown before training).
        A float, as in FINN, so that the LUT sum rounds exactly like FINN's.
        """
        w, a = self.weight_bits, self.in_bits
        if self.lut_variant == "finn2022":
            return float(w + a + math.ceil(math.log2(self.mw)))
        alpha = math.log2(self.mw) + w + a - 1 - int(self.in_signed)
        return float(math.ceil(alpha + math.log2(1 + 2.0 ** -alpha) + 1))

    def _weights_in_lutram(self) -> bool:
        return (self.weight_mem == "distributed"
                or (self.weight_mem == "per_pe" and self.wmem <= 128))

    def lut(self) -> int:
        """FINN-R LUT model (reference 3.3; variants 3.4)::

            300 + 1.1 * PE * (L_mult + L_add + L_acc + L_thr + L_cmp) + L_wmem
        """
        p, q, w, a = self.pe, self.simd, self.weight_bits, self.in_bits
        c0, c1 = 300, 1.1
        mult = 0 if self.res_type == "dsp" else q * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
        add = (w + a) * (2 * q - 1)
        acc = self.acc_bits()
        thr = cmp = 0.0
        # finn2022 counts thresholds for every activation layer; finn2026 only when
        # ram_style_thresholds == "distributed", which is not FINN's default ("auto")
        if self.out_bits is not None and self.lut_variant == "finn2022":
            n_thr = 2 ** self.out_bits - 1
            thr = n_thr * acc * math.ceil(self.tmem / 64)
            cmp = n_thr * acc
        wmem_luts = lutram_luts(self.wmem, p * q * w) if self._weights_in_lutram() else 0
        return int(c0 + c1 * (p * (mult + add + acc + thr + cmp)) + wmem_luts)

    def bram18(self) -> int:
        """Weight memory in RAMB18 (reference 3.6); thresholds are LUTRAM (3.7)."""
        if self.weight_mem == "block":
            return bram18_finn_r(self.wmem, self.pe * self.simd * self.weight_bits)
        if self.weight_mem == "per_pe" and not self._weights_in_lutram():
            return self.pe * bram18_best_mode(self.wmem, self.simd * self.weight_bits)
        return 0

    def uram(self) -> int:
        """``ceil(w/72) * ceil(WMEM/4096)`` when weights are in UltraRAM (reference 3.6)."""
        if self.weight_mem != "ultra":
            return 0
        return uram_count(self.wmem, self.pe * self.simd * self.weight_bits)

    def dsp(self) -> int:
        """``PE * SIMD * ceil((W+A)/48)`` with ``resType = dsp``, else 0 (reference 3.5)."""
        if self.res_type != "dsp":
            return 0
        return self.pe * self.simd * math.ceil((self.weight_bits + self.in_bits) / 48)


# ------------------------------------------------------------------------ sliding window
@dataclass(frozen=True)
class ConvolutionInputGenerator(FinnOp):
    """Sliding-window generator: streams ``K x K`` windows of a ``C x H x W`` (padded) input.

    ``simd`` must divide ``channels``.  ``depthwise`` is the variant that feeds a Pool/VVAU.
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
    simd: int
    in_bits: int
    impl: str = "rtl"
    depthwise: bool = False
    parallel_window: bool = False

    def __post_init__(self) -> None:
        if self.parallel_window and self.simd != self.channels:
            raise ValueError("SWG: the parallel-window mode needs SIMD = channels (reference 5.2)")
        if self.channels % self.simd:
            raise ValueError(f"SWG: SIMD {self.simd} must divide the {self.channels} input "
                             "channels (reference 5.1)")
        _check_choice("swg_impl", self.impl, SWG_IMPLS)

    @property
    def cf(self) -> int:
        """Channel fold ``C/SIMD``."""
        return self.channels // self.simd

    @property
    def is_1d(self) -> bool:
        return self.in_h == 1 or self.in_w == 1

    def _buffer_depth(self) -> int:
        """RTL buffer depth, default style (``get_buffer_depth``, reference 5.2)."""
        k, s, w, cf = self.kernel, self.stride, self.in_w, self.cf
        buffer_min = ((k - 1) * w + (k - 1) + 1) * cf
        return buffer_min + max(0, ((s - 1) - k * k) * cf) + max(0, ((s - 1) * w - k * k) * cf)

    def cycles(self) -> int:
        """Reference 5.2 (RTL) / 5.1 (HLS)::

            RTL: buffer_min + OFM_h * max(OFM_w*K*K*cf, stride*IFM_w*cf)
            HLS: IFM_w*K*cf + OFM_h * max(OFM_w*K*K*cf, stride*IFM_w*cf)

        1D inputs (``H == 1`` or ``W == 1``): ``OFM*K*cf + 2`` (RTL), ``1 + OFM*K*cf`` (HLS);
        depthwise RTL as finn-plus 1.6.1 (windows replayed once per channel fold)::

            max(OFM*K*cf + (cf-1)*K, IFM*cf + cf*(K-1)*(s-1)) + 2
        """
        k, s, cf = self.kernel, self.stride, self.cf
        if self.parallel_window:  # a whole window per cycle: the input words + 2 (5.2)
            return self.in_h * self.in_w * cf + 2
        if self.is_1d:
            ofm = self.out_h * self.out_w
            if self.impl == "hls":
                return int(1 + ofm * k * cf)
            if self.depthwise:
                ifm = self.in_h * self.in_w
                return int(max(ofm * k * cf + (cf - 1) * k, ifm * cf + cf * (k - 1) * (s - 1))
                           + 2)
            return int(ofm * k * cf + 2)
        write = self.out_w * k * k * cf
        read = s * self.in_w * cf
        if self.impl == "hls":
            return int(self.in_w * k * cf + self.out_h * max(write, read))
        buffer_min = ((k - 1) * self.in_w + (k - 1) + 1) * cf
        per_row = max(write, read)
        if self.depthwise:
            per_row += self.out_w * (s - 1) * (cf - 1)
        cycles = buffer_min + self.out_h * per_row
        if self.depthwise:
            cycles += (s - 1) * self.in_w * cf
        return int(cycles)

    def lut(self) -> int:
        """300 with block/auto line buffers (reference 5.1, 5.2)."""
        return 300

    def bram18(self) -> int:
        """Line buffers in RAMB18 (reference 5.2 RTL with cascades; 5.1 HLS ``(K+s)`` buffers)."""
        width = self.simd * self.in_bits
        if self.impl == "hls":
            if self.is_1d:
                depth = (self.kernel - 1) * self.cf
                return math.ceil(width / _ram_width_for_depth(depth)) * math.ceil(depth / 18432)
            depth = self.in_h * self.cf
            return (self.kernel + self.stride) * math.ceil(width / _ram_width_for_depth(depth))
        depth = self._buffer_depth()
        cascade_w = math.ceil(width / _ram_width_for_depth(depth))
        savings = 0
        if depth > 16384:
            savings = cascade_w - math.ceil(width / _ram_width_for_depth(depth % 16384))
        return int(math.ceil(depth / 16384) * cascade_w - savings)


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
    simd: int

    def __post_init__(self) -> None:
        if self.channels % self.simd:
            raise ValueError(f"FMPadding: SIMD {self.simd} must divide {self.channels} channels")

    def cycles(self) -> int:
        """``(C/SIMD) * OFM_h,padded * OFM_w,padded`` (reference 5.4)."""
        return ((self.channels // self.simd) * (self.in_h + 2 * self.padding)
                * (self.in_w + 2 * self.padding))


@dataclass(frozen=True)
class StreamingMaxPool(FinnOp):
    """Max-pool with ``stride == kernel``; all channels in parallel (2D has no folding).

    Not used by :class:`hw_models.cost.FinnCostModel`: finn-plus 1.6.1 builds every max-pool as a
    depthwise :class:`ConvolutionInputGenerator` + :class:`Pool` instead.
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
    pe: int

    def __post_init__(self) -> None:
        if self.channels % self.pe:
            raise ValueError(f"Pool: PE {self.pe} must divide {self.channels} channels")

    def cycles(self) -> int:
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
    4/8/16/32 aspect table, 0 RAMB18 when ``WMEM <= 128`` (they go to LUTRAM).
    """

    op_type: ClassVar[str] = "VVAU"

    channels: int
    kernel: int
    out_h: int
    out_w: int
    pe: int
    simd: int
    weight_bits: int
    in_bits: int
    out_bits: int | None
    in_signed: bool = False
    lut_variant: str = DEFAULT_LUT_VARIANT
    res_type: str = "lut"

    def __post_init__(self) -> None:
        k2 = self.kernel * self.kernel
        if self.channels % self.pe or k2 % self.simd:
            raise ValueError(f"VVAU: PE {self.pe} must divide C = {self.channels} and SIMD "
                             f"{self.simd} must divide K*K = {k2} (reference 4)")
        _check_choice("lut_variant", self.lut_variant, LUT_VARIANTS)
        _check_choice("res_type", self.res_type, RES_TYPES)

    @property
    def wmem(self) -> int:
        return self.kernel * self.kernel * self.channels // (self.pe * self.simd)

    @property
    def tmem(self) -> int:
        return 0 if self.out_bits is None else self.channels // self.pe

    def cycles(self) -> int:
        """``(C * K^2 / (PE * SIMD)) * OFM_h * OFM_w`` (``get_exp_cycles``)."""
        return self.wmem * self.out_h * self.out_w

    def acc_bits(self) -> float:
        return MVAU(self.kernel * self.kernel, 1, 1, 1, self.weight_bits, self.in_bits, None,
                    in_signed=self.in_signed, lut_variant=self.lut_variant).acc_bits()

    def lut(self) -> int:
        p, q, w, a = self.pe, self.simd, self.weight_bits, self.in_bits
        mult = 0 if self.res_type == "dsp" else q * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
        add = (w + a) * (2 * q - 1)
        acc = self.acc_bits()
        thr = cmp = 0.0
        if self.out_bits is not None:
            n_thr = 2 ** self.out_bits - 1
            thr = n_thr * acc * self.tmem / 64
            cmp = n_thr * acc
        wmem_luts = p * q * w * math.ceil(self.wmem / 64) if self.wmem <= 128 else 0
        return int(300 + 1.1 * (p * (mult + add + acc + thr + cmp)) + wmem_luts)

    def bram18(self) -> int:
        if self.wmem <= 128:  # LUTRAM (FINN's ram_style "auto")
            return 0
        return bram18_finn_r(self.wmem, self.pe * self.simd * self.weight_bits, (4, 8, 16, 32))

    def dsp(self) -> int:
        if self.res_type != "dsp":
            return 0
        return self.pe * math.ceil((self.weight_bits + self.in_bits) / 48)


# ------------------------------------------------------------------------ standalone thresholds
#: FINN's memory primitives for RTL thresholds, (width, depth) in its preference order on ties
#: (``finn/util/memutil.py::mem_primitives_versal``, used for every part)
_THRESHOLD_MEMORIES = (("URAM", 72, 4096), ("URAM", 36, 8192), ("URAM", 18, 16384),
                       ("URAM", 9, 32768), ("BRAM", 36, 512), ("BRAM", 18, 1024),
                       ("BRAM", 9, 2048), ("LUTRAM", 1, 64))


def threshold_memory(width: int, depth: int) -> tuple[str, int]:
    """``(primitive kind, count)`` of one ``depth x width`` threshold memory: FINN's
    least-waste primitive (``get_memutil_alternatives``; ties keep the table order)."""
    best: tuple[int, int, str, int] | None = None
    for order, (kind, pw, pd) in enumerate(_THRESHOLD_MEMORIES):
        count = math.ceil(width / pw) * math.ceil(depth / pd)
        waste = count * pw * pd - width * depth
        if best is None or (waste, order) < best[:2]:
            best = (waste, order, kind, count)
    assert best is not None
    return best[2], best[3]


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
    pe: int
    out_bits: int
    threshold_bits: int = 32

    def __post_init__(self) -> None:
        if self.channels % self.pe:
            raise ValueError(f"Thresholding: PE {self.pe} must divide {self.channels} channels")

    def cycles(self) -> int:
        """``(C/PE) * H * W`` (reference 5.3)."""
        return (self.channels // self.pe) * self.height * self.width

    def _memories(self) -> dict[str, int]:
        out: dict[str, int] = {}
        cf = self.channels // self.pe
        for x in range(self.out_bits):
            kind, count = threshold_memory(self.threshold_bits, cf * 2 ** x)
            out[kind] = out.get(kind, 0) + self.pe * count
        return out

    def lut(self) -> int:
        return self._memories().get("LUTRAM", 0)

    def bram18(self) -> int:
        return self._memories().get("BRAM", 0)

    def uram(self) -> int:
        return self._memories().get("URAM", 0)


# ------------------------------------------------------------------------ interconnect
@dataclass(frozen=True)
class DataWidthConverter(FinnOp):
    """``StreamingDataWidthConverter`` between stages whose stream widths differ (reference
    5.6): ``elements`` values of ``bits`` each per frame go from ``in_width`` to ``out_width``
    bit words.  LUT: FINN's shift-based model (``streamingdatawidthconverter.py``), counters
    plus control sets via the least common multiple width.  FINN inserts these only after its
    estimate reports (``InsertDWC`` in ``step_set_fifo_depths``)."""

    op_type: ClassVar[str] = "DataWidthConverter"

    in_width: int
    out_width: int
    frame_bits: int

    def cycles(self) -> int:
        """One word per cycle on the busier side."""
        return max(math.ceil(self.frame_bits / self.in_width),
                   math.ceil(self.frame_bits / self.out_width))

    def lut(self) -> int:
        inw, outw = self.in_width, self.out_width
        intw = inw * outw // math.gcd(inw, outw)
        luts = 0
        if inw != intw:
            luts += abs(math.ceil(math.log2(inw / intw))) + intw
        if intw != outw:
            luts += abs(math.ceil(math.log2(intw / outw))) + outw
        return int(luts)

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
    beyond (the URAM style of very deep FIFOs is priced as BRAM on every part).
    """

    op_type: ClassVar[str] = "StreamingFIFO"

    depth: int
    width: int

    def style(self) -> str:
        d, w = self.depth, self.width
        if d <= 33 or (d <= 64 and w < 12):
            return "srl"
        if d <= 257 or w < 5:
            return "distributed"
        return "block"

    def cycles(self) -> int:
        return 0

    def lut(self) -> int:
        d, w = self.depth, self.width
        if d < 2:
            return 0
        cw = _clog2(d + 1) + 1
        style = self.style()
        if style == "srl":
            stages = math.ceil((d - 1 if d > 4 else 4) / 32)
            return stages * w + 5 * cw - 7
        if style == "distributed":
            rows = 2 ** _clog2(d - 1)
            return (math.ceil(rows / 32) * math.ceil(w / 2) * 5 // 4 + rows // 128 * (w // 2)
                    + 8 * cw - 15)
        tiles = self.bram18()
        return 54 + 3 * math.ceil(d / 512) + 2 * tiles // 5

    def bram18(self) -> int:
        if self.depth < 2 or self.style() != "block":
            return 0
        return bram18_best_mode(self.depth, self.width)

    def folding(self) -> tuple[int | None, int | None]:
        return None, None

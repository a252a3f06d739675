"""Folding legality for FINN-style dataflow operators, on plain integers.

FINN folds each operator in time by its parallelism factors: PE (output channels/neurons
computed in parallel) and SIMD (input elements consumed per cycle).  A factor is legal only if
it divides the dimension it folds (FINN asserts this when it computes memory depths and stream
shapes; see ``docs/finn/internals.rst``, "Constraints to folding factors per layer", and
``fpga_cost_models.md`` sections 3.1, 5 and 10.2):

* MVAU (``matrixvectoractivation.py::calc_wmem``): ``SIMD | MW`` and ``PE | MH``.  In a
  convolution the MVAU is fed by a sliding-window generator whose SIMD equals the MVAU's
  (FINN's configurations and BNN-PYNQ's ``ConvLayer_Batch``), and the generator requires
  ``SIMD | C_in`` ("SIMD must divide IFMChannels"), so a conv's SIMD must divide ``C_in`` too.
* Sliding-window generator (SWG) and FMPadding: ``SIMD | C``.
* Pool (``pool.py``): ``PE | C``.
* Parallel-window generator (``convolutioninputgenerator_rtl.py::select_impl_style``): a
  whole ``K x K`` window per cycle needs the generator's ``SIMD = C``; the MVAU behind it may
  then take any ``SIMD`` with ``C | SIMD | MW`` (FINN converts the ``K*K*C``-wide window
  stream to the MVAU's width), so a conv's SIMD can exceed its input channels.
* VVAU (``vectorvectoractivation.py``): ``PE | C``, ``SIMD | K*K``; ``SIMD > 1`` reads
  windows from the parallel-window generator, which this toolkit builds with ``PE = C``.

:data:`RULES` holds one :class:`FoldingRule` per op kind (``conv``, ``dwconv``, ``fc``,
``maxpool``): every consumer (the lowering, the folding searches, the vectorized pricer, the
folding-config writer, the search spaces) asks it, so the rule is written once.  Layers are
duck-typed (``.op .in_channels .out_channels .kernel``, optional ``.padding .stride``).
The checks work on ints and, for the vectorized pricer, on numpy arrays of PE/SIMD.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable


@lru_cache(maxsize=4096)
def _divisors(n: int) -> tuple[int, ...]:
    small, large = [], []
    i = 1
    while i * i <= n:
        if n % i == 0:
            small.append(i)
            if i != n // i:
                large.append(n // i)
        i += 1
    return tuple(small + large[::-1])


def divisors(n: int) -> tuple[int, ...]:
    """All positive divisors of ``n`` in ascending order (the legal folding factors of ``n``)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"divisors() needs a positive integer, got {n!r}")
    return _divisors(n)


# ---------------------------------------------------------------- the rules, one per op kind
def _mw(layer: Any) -> int:
    if layer.op == "conv":
        return layer.kernel * layer.kernel * layer.in_channels
    if layer.op == "dwconv":
        return layer.kernel * layer.kernel
    return layer.in_channels


def conv_needs_swg(layer: Any) -> bool:
    """Whether FINN puts a sliding-window generator in front of a conv's MVAU: always, except
    for a 1x1 kernel with stride 1 and no padding (no im2col needed)."""
    return (layer.kernel != 1 or getattr(layer, "padding", 0) != 0
            or getattr(layer, "stride", 1) != 1)


def uses_parallel_window(layer: Any, pe: Any, simd: Any) -> Any:
    """Whether the layer's generator runs in FINN's parallel-window mode at this folding: a
    conv whose SIMD exceeds its input channels, a depthwise conv with SIMD > 1.  Works on
    arrays of PE/SIMD."""
    if layer.op == "conv":
        return simd > layer.in_channels
    if layer.op == "dwconv":
        return simd > 1
    return False


@dataclass(frozen=True)
class FoldingRule:
    """The legal folding of one op kind.

    ``pe_dim``/``simd_dims``: what PE/SIMD must divide, in words for messages; ``pe_of``:
    the dimension PE divides; ``simd_options``: the legal SIMD values; ``pair_error``: a
    coupling rule between PE and SIMD (``None``: independent).
    """

    op: str
    pe_dim: Callable[[Any], str]
    pe_of: Callable[[Any], int]
    simd_dims: Callable[[Any], str]
    simd_options: Callable[[Any, bool], tuple[int, ...]]
    pair_error: Callable[[Any, Any, Any], Any] | None = None
    has_simd: bool = True

    def pe_options(self, layer: Any) -> tuple[int, ...]:
        return divisors(self.pe_of(layer))

    def pairs(self, layer: Any, parallel_window: bool = True) -> tuple[tuple[int, int], ...]:
        """Every legal ``(pe, simd)``, PE-major ascending."""
        simds = self.simd_options(layer, parallel_window) if self.has_simd else (1,)
        return tuple((p, q) for p in self.pe_options(layer) for q in simds
                     if self.pair_error is None or not self.pair_error(layer, p, q))

    # --- checks that work on ints and arrays (the vectorized pricer validates with them)
    def bad_pe(self, layer: Any, pe: Any) -> Any:
        return (pe < 1) | (self.pe_of(layer) % _at_least_1(pe) != 0)

    def bad_simd(self, layer: Any, simd: Any, parallel_window: bool = True) -> Any:
        ok = self.simd_options(layer, parallel_window)
        if not isinstance(simd, int):
            import numpy as np  # only the vectorized path passes arrays

            return ~np.isin(simd, ok)
        return simd not in ok

    def bad_pair(self, layer: Any, pe: Any, simd: Any) -> Any:
        return False if self.pair_error is None else self.pair_error(layer, pe, simd)


def _at_least_1(x: Any) -> Any:
    if isinstance(x, int):
        return max(x, 1)
    import numpy as np

    return np.maximum(x, 1)


def _conv_simd(layer: Any, parallel_window: bool = True) -> tuple[int, ...]:
    """Divisors of ``C_in`` (the generator shares the MVAU's SIMD) and, with the parallel-window
    generator, the multiples of ``C_in`` that divide ``MW = K*K*C_in``."""
    c, mw = layer.in_channels, _mw(layer)
    own = divisors(c)
    if not parallel_window or not conv_needs_swg(layer):
        return own
    return own + tuple(c * m for m in divisors(mw // c) if m > 1)


def _dw_pair_error(layer: Any, pe: Any, simd: Any) -> Any:
    return (simd > 1) & (pe != layer.in_channels)


RULES: dict[str, FoldingRule] = {
    "fc": FoldingRule(
        "fc", lambda l: f"the {l.out_channels} output features (MH)", lambda l: l.out_channels,
        lambda l: f"the dot-product length MW = {l.in_channels} (input features)",
        lambda l, pw=True: divisors(l.in_channels)),
    "conv": FoldingRule(
        "conv", lambda l: f"the {l.out_channels} output channels (MH)",
        lambda l: l.out_channels,
        lambda l: (f"the {l.in_channels} input channels, or be a multiple of them dividing "
                   f"MW = {_mw(l)} (K*K*C_in, the parallel-window generator)"
                   if conv_needs_swg(l) else f"the {l.in_channels} input channels"),
        _conv_simd),
    "dwconv": FoldingRule(
        "dwconv", lambda l: f"the {l.in_channels} channels", lambda l: l.in_channels,
        lambda l: f"the kernel size K*K = {_mw(l)}",
        lambda l, pw=True: divisors(_mw(l)) if pw else (1,), _dw_pair_error),
    "maxpool": FoldingRule(
        "maxpool", lambda l: f"its {l.in_channels} channels", lambda l: l.in_channels,
        lambda l: "", lambda l, pw=True: (1,), has_simd=False),
}


def rule_for(layer: Any) -> FoldingRule:
    """The folding rule of ``layer``'s op kind (KeyError for an op without one)."""
    return RULES[layer.op]


def folding_error(layer: Any, pe: int | None, simd: int | None,
                  parallel_window: bool = True) -> tuple[str, str, tuple[Any, ...]] | None:
    """``(attribute, message, accepted values)`` for an illegal ``pe``/``simd`` of a compute
    layer (``None`` values are not checked), or ``None`` when legal."""
    rule = rule_for(layer)
    if pe is not None and rule.bad_pe(layer, pe):
        return ("pe", f"PE {pe} must divide {rule.pe_dim(layer)}", rule.pe_options(layer))
    if simd is not None and rule.has_simd and rule.bad_simd(layer, simd, parallel_window):
        return ("simd", f"SIMD {simd} must divide {rule.simd_dims(layer)}",
                rule.simd_options(layer, parallel_window))
    if pe is not None and simd is not None and rule.bad_pair(layer, pe, simd):
        return ("simd", f"a depthwise conv with SIMD {simd} > 1 needs the parallel-window "
                f"generator, i.e. PE = {layer.in_channels} (all channels); got PE {pe}",
                (1, f"any divisor of {_mw(layer)} with PE = {layer.in_channels}"))
    return None

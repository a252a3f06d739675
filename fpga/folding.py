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

Everything here works on ints so that search code can call it in tight loops.
"""
from __future__ import annotations

from functools import lru_cache
from math import gcd


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


# ---------------------------------------------------------------- MVAU
def mvau_simd_options(mw: int, c_in: int | None = None) -> tuple[int, ...]:
    """Legal MVAU SIMD values: divisors of ``MW``, and of ``C_in`` for a conv (SWG feeds it).

    Since ``C_in | MW = K*K*C_in`` the conv rule reduces to ``SIMD | C_in``; the gcd keeps the
    function correct for any pair.
    """
    return divisors(mw if c_in is None else gcd(mw, c_in))


def mvau_pe_options(mh: int) -> tuple[int, ...]:
    """Legal MVAU PE values: divisors of ``MH`` (output channels / neurons)."""
    return divisors(mh)


def mvau_folding_options(mw: int, mh: int, c_in: int | None = None) -> tuple[tuple[int, int], ...]:
    """All legal ``(pe, simd)`` pairs of one MVAU, PE-major ascending."""
    simds = mvau_simd_options(mw, c_in)
    return tuple((pe, simd) for pe in mvau_pe_options(mh) for simd in simds)


def is_legal_mvau(pe: int, simd: int, mw: int, mh: int, c_in: int | None = None) -> bool:
    """Whether ``(pe, simd)`` is a legal folding of an MVAU of size ``MH x MW``."""
    if pe < 1 or simd < 1 or mh % pe or mw % simd:
        return False
    return c_in is None or c_in % simd == 0


# ---------------------------------------------------------------- streaming ops
def swg_simd_options(channels: int) -> tuple[int, ...]:
    """Legal sliding-window-generator SIMD values: divisors of the input channels."""
    return divisors(channels)


def fmpadding_simd_options(channels: int) -> tuple[int, ...]:
    """Legal FMPadding SIMD values: divisors of the channels."""
    return divisors(channels)


def pool_pe_options(channels: int) -> tuple[int, ...]:
    """Legal Pool PE values: divisors of the channels (its SWG gets SIMD = PE)."""
    return divisors(channels)


def is_legal_channel_fold(factor: int, channels: int) -> bool:
    """Whether a SIMD-only (SWG, FMPadding) or PE-only (Pool) factor divides ``channels``."""
    return factor >= 1 and channels % factor == 0

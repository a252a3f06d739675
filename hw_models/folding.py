"""Folding of a :class:`NetworkSpec`: legality checks and the choice of PE/SIMD per layer.

Legal factors (reference ``fpga_cost_models.md`` 3.1, 10.2; :mod:`fpga.folding`): PE divides the
output channels ``MH``; SIMD divides the dot-product length ``MW`` and, for a convolution, the
input channels (the sliding-window generator shares the MVAU's SIMD).

* :func:`check_folding` - raise :class:`~fpga.errors.InputError` naming ``layers[i].pe`` /
  ``layers[i].simd`` and listing the legal values;
* :func:`fold_for_fps` - the LUT-cheapest legal folding that meets a frame rate (the search's
  folding "repair");
* :func:`fastest_folding` - maximal parallelism;
* :func:`finn_set_folding` - FINN's own SetFolding heuristic (reference section 6), the
  published baseline.

Torch-free; the cost model is passed in (only its ``layer_cost`` and ``clock_mhz`` are used).
"""
from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from fpga.errors import InputError
from fpga.folding import divisors, mvau_pe_options, mvau_simd_options
from hw_models.network import LayerSpec, NetworkSpec

if TYPE_CHECKING:  # pragma: no cover
    from hw_models.cost import FinnCostModel, LayerCost


# ------------------------------------------------------------------------------ legality
def legal_pe(layer: LayerSpec) -> tuple[int, ...]:
    """Legal PE values of a compute layer: divisors of its output channels."""
    return mvau_pe_options(layer.mh)


def legal_simd(layer: LayerSpec) -> tuple[int, ...]:
    """Legal SIMD values: divisors of MW and, for a conv, of the input channels."""
    return mvau_simd_options(layer.mw, layer.in_channels if layer.op == "conv" else None)


def check_layer_folding(layer: LayerSpec, index: int | None = None) -> None:
    """Raise InputError if ``layer``'s PE or SIMD (where set) is not legal.

    The field is ``layers[index].pe`` (or ``layer 'name'.pe`` without an index); the message
    names the layer and the dimension, and the accepted values are listed.
    """
    if not layer.is_compute:
        return
    where = f"layers[{index}]" if index is not None else f"layer '{layer.name}'"
    if layer.pe is not None and layer.pe not in legal_pe(layer):
        raise InputError(f"{where}.pe", f"layer '{layer.name}': PE {layer.pe} must divide the "
                         f"{layer.mh} output channels", legal_pe(layer))
    if layer.simd is not None and layer.simd not in legal_simd(layer):
        if layer.op == "conv":
            dims = (f"the dot-product length MW = {layer.mw} (K*K*C_in) and the "
                    f"{layer.in_channels} input channels")
        else:
            dims = f"the dot-product length MW = {layer.mw} (input features)"
        raise InputError(f"{where}.simd", f"layer '{layer.name}': SIMD {layer.simd} must divide "
                         f"{dims}", legal_simd(layer))


def check_folding(spec: NetworkSpec) -> None:
    """Raise InputError for the first compute layer whose PE/SIMD is illegal."""
    for i, layer in enumerate(spec.layers):
        check_layer_folding(layer, i)


def cycle_budget(clock_mhz: float, target_fps: float) -> int:
    """``T = floor(f_clk / target_fps)`` cycles per frame (reference section 2)."""
    if isinstance(target_fps, bool) or not isinstance(target_fps, (int, float)) \
            or not math.isfinite(target_fps) or target_fps <= 0:
        raise InputError("target_fps", f"got {target_fps!r}", ["a number > 0"])
    return int(math.floor(clock_mhz * 1e6 / target_fps))


# ------------------------------------------------------------------------------ searches
def fold_for_fps(spec: NetworkSpec, model: "FinnCostModel", target_fps: float,
                 keep_existing: bool = False, missing_only: bool = False) -> NetworkSpec:
    """The legal folding with the fewest LUTs whose every layer meets ``target_fps``.

    For each compute layer, among the legal ``(pe, simd)`` whose layer cycles (the slowest of
    its stages, SWG included) are ``<= T = floor(f_clk / target_fps)``, pick the one with the
    fewest LUTs (ties: fewer BRAM18, then DSP, then smaller ``pe*simd``).  The max-pools that
    directly follow a compute layer run at a parallelism set by its PE (the folding config's
    rule, :func:`fpga.export.folding_config.pool_parallelism`), so they are priced with it:
    their cycles must meet ``T`` too and their resources count.  In a dataflow pipeline the
    frame rate is set by the slowest stage alone and the total LUT is the sum of the layers'
    LUTs, so the problem separates by compute layer (with its pools) and this choice is
    LUT-optimal for the whole network (FIFOs and width converters are not modelled; max-pools
    before the first compute layer follow the input quantizer and are not folded here).

    * ``keep_existing``: layers whose current folding already meets ``T`` keep it (the
      search's repair); the others are re-folded.
    * ``missing_only``: only layers without ``pe``/``simd`` are folded; a factor that is set is
      kept fixed (``codesign estimate --target-fps``).
    * A layer that cannot meet ``T`` even at full parallelism gets its fastest folding; the
      report then shows an fps below the target.  Layers without folding (max-pool) are
      untouched.

    Results are cached per (model, layer shape and bits, budget).
    """
    check_folding(spec)
    budget = cycle_budget(model.clock_mhz, target_fps)
    folding: dict[str, tuple[int, int]] = {}
    pools = _pools_after(spec)
    for layer in spec.compute_layers:
        has_both = layer.pe is not None and layer.simd is not None
        if missing_only and has_both:
            continue
        after = pools.get(layer.name, ())
        if keep_existing and has_both and \
                _group_cost(model, layer, after, layer.pe, layer.simd)[0] <= budget:
            continue
        pe_fixed = layer.pe if missing_only else None
        simd_fixed = layer.simd if missing_only else None
        folding[layer.name] = _best_folding(model, _signature(layer), after, budget, pe_fixed,
                                            simd_fixed)
    return spec.with_folding(folding) if folding else spec


def fastest_folding(spec: NetworkSpec) -> NetworkSpec:
    """Every compute layer at maximal parallelism: PE = MH, SIMD = largest legal value."""
    return spec.with_folding({l.name: (max(legal_pe(l)), max(legal_simd(l)))
                              for l in spec.compute_layers})


def finn_set_folding(spec: NetworkSpec, model: "FinnCostModel", target_fps: float,
                     mvau_wwidth_max: int = 36, two_pass_relaxation: bool = True) -> NetworkSpec:
    """FINN's SetFolding for the MVAUs (reference section 6), as a published baseline.

    Per layer, from PE = SIMD = 1: step SIMD up through its legal values until the MVAU's
    cycles are ``< T``, undoing the last step and stopping once ``W * SIMD`` exceeds
    ``mvau_wwidth_max``; then step PE up until ``< T``.  With ``two_pass_relaxation``, if the
    slowest stage still misses ``T``, run once more with ``T`` = that stage's cycles.  It never
    looks at resources.  Unlike FINN (whose SWG picks its own SIMD behind a width converter), a
    conv's SIMD steps only through divisors of its input channels, because our SWG shares it.
    """
    check_folding(spec)
    folded = _set_folding_pass(spec, cycle_budget(model.clock_mhz, target_fps), mvau_wwidth_max)
    if two_pass_relaxation:
        worst = model.estimate(folded).cycles_per_frame
        if worst > cycle_budget(model.clock_mhz, target_fps):
            folded = _set_folding_pass(spec, worst, mvau_wwidth_max)
    return folded


def _set_folding_pass(spec: NetworkSpec, budget: int, wwidth_max: int) -> NetworkSpec:
    folding: dict[str, tuple[int, int]] = {}
    for l in spec.compute_layers:
        def cycles(pe: int, simd: int) -> int:
            return (l.mh // pe) * (l.mw // simd) * l.n_vectors

        simd = 1
        for value in legal_simd(l):
            prev, simd = simd, value
            if cycles(1, simd) < budget:
                break
            if (l.weight_bits or 0) * simd > wwidth_max:
                simd = prev
                break
        pe = 1
        for pe in legal_pe(l):
            if cycles(pe, simd) < budget:
                break
        folding[l.name] = (pe, simd)
    return spec.with_folding(folding)


# ------------------------------------------------------------------------------ per-layer choice
def _signature(layer: LayerSpec) -> LayerSpec:
    """The layer without its name and folding: what the choice depends on (cache key)."""
    return dataclasses.replace(layer, name="", pe=None, simd=None)


def _pools_after(spec: NetworkSpec) -> dict[str, tuple[LayerSpec, ...]]:
    """``{compute layer name: the max-pools that directly follow it}`` (as signatures, FINN-
    mappable ones only: stride <= kernel)."""
    out: dict[str, tuple[LayerSpec, ...]] = {}
    owner: str | None = None
    for layer in spec.layers:
        if layer.is_compute:
            owner = layer.name
        elif layer.op == "maxpool" and owner is not None and layer.stride <= layer.kernel:
            out[owner] = out.get(owner, ()) + (_signature(layer),)
        else:
            owner = None
    return out


def _group_cost(model: Any, layer: LayerSpec, pools: tuple[LayerSpec, ...], pe: int,
                simd: int) -> tuple[int, int, int, int, int]:
    """``(cycles, lut, bram18, dsp, uram)`` of a compute layer at ``(pe, simd)`` plus the
    max-pools it feeds, each at the parallelism the folding config gives it (the largest
    divisor of its channels not above the incoming stream's PE)."""
    c: LayerCost = model.layer_cost(layer.with_folding(pe, simd))
    cycles, lut, bram, dsp, uram = c.cycles, c.lut, c.bram18, c.dsp, c.uram
    stream = pe
    for pool in pools:
        stream = max(d for d in divisors(pool.in_channels) if d <= stream)
        p: LayerCost = model.layer_cost(dataclasses.replace(pool, pe=stream))
        cycles = max(cycles, p.cycles)
        lut, bram, dsp, uram = lut + p.lut, bram + p.bram18, dsp + p.dsp, uram + p.uram
    return cycles, lut, bram, dsp, uram


def _best_folding(model: Any, sig: LayerSpec, pools: tuple[LayerSpec, ...], budget: int,
                  pe_fixed: int | None, simd_fixed: int | None) -> tuple[int, int]:
    try:
        return _best_folding_cached(model, sig, pools, budget, pe_fixed, simd_fixed)
    except TypeError:  # an unhashable model: no caching
        return _choose(model, sig, pools, budget, pe_fixed, simd_fixed)


@lru_cache(maxsize=32768)
def _best_folding_cached(model: Any, sig: LayerSpec, pools: tuple[LayerSpec, ...], budget: int,
                         pe_fixed: int | None, simd_fixed: int | None) -> tuple[int, int]:
    return _choose(model, sig, pools, budget, pe_fixed, simd_fixed)


def _choose(model: Any, sig: LayerSpec, pools: tuple[LayerSpec, ...], budget: int,
            pe_fixed: int | None, simd_fixed: int | None) -> tuple[int, int]:
    pes = (pe_fixed,) if pe_fixed is not None else legal_pe(sig)
    simds = (simd_fixed,) if simd_fixed is not None else legal_simd(sig)
    best_ok: tuple[tuple[int, ...], tuple[int, int]] | None = None
    fastest: tuple[tuple[int, ...], tuple[int, int]] | None = None
    for pe in pes:
        for simd in simds:
            cycles, lut, bram, dsp, uram = _group_cost(model, sig, pools, pe, simd)
            res = (lut, bram, dsp, uram, pe * simd, pe)
            if cycles <= budget and (best_ok is None or res < best_ok[0]):
                best_ok = (res, (pe, simd))
            speed = (cycles,) + res
            if fastest is None or speed < fastest[0]:
                fastest = (speed, (pe, simd))
    assert fastest is not None
    return best_ok[1] if best_ok is not None else fastest[1]

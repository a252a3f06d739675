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
from fpga.folding import folding_error, rule_for
from hw_models.lowering import Stream, largest_divisor_at_most
from hw_models.network import LayerSpec, NetworkSpec

if TYPE_CHECKING:  # pragma: no cover
    from hw_models.cost import FinnCostModel, LayerCost


# ------------------------------------------------------------------------------ legality
def legal_pe(layer: LayerSpec) -> tuple[int, ...]:
    """Legal PE values of a compute layer (the op's row of :data:`fpga.folding.RULES`)."""
    return rule_for(layer).pe_options(layer)


def legal_simd(layer: LayerSpec, parallel_window: bool = True) -> tuple[int, ...]:
    """Legal SIMD values: divisors of MW and of the input channels for a conv (plus, with the
    parallel-window generator, the multiples of ``C_in`` dividing MW); for a depthwise conv
    (VVAU) divisors of ``K*K`` (see :func:`legal_pairs` for the PE coupling)."""
    return rule_for(layer).simd_options(layer, parallel_window)


def legal_pairs(layer: LayerSpec, parallel_window: bool = True) -> tuple[tuple[int, int], ...]:
    """Every legal ``(pe, simd)`` of a compute layer.  Independent choices for an MVAU; for a
    VVAU, SIMD > 1 (several kernel taps per cycle) needs FINN's parallel-window generator,
    which this toolkit builds with PE = C (reference 4, 5.2)."""
    return rule_for(layer).pairs(layer, parallel_window)


def _parallel_window(model: Any) -> bool:
    settings = getattr(model, "lowering_settings", None)
    return settings.parallel_window if settings is not None else True


def check_layer_folding(layer: LayerSpec, index: int | None = None,
                        parallel_window: bool = True) -> None:
    """Raise InputError if ``layer``'s PE or SIMD (where set) is not legal.

    The field is ``layers[index].pe`` (or ``layer 'name'.pe`` without an index); the message
    names the layer and the dimension, and the accepted values are listed.
    """
    if not layer.is_compute:
        return
    where = f"layers[{index}]" if index is not None else f"layer '{layer.name}'"
    err = folding_error(layer, layer.pe, layer.simd, parallel_window)
    if err:
        attr, msg, accepted = err
        raise InputError(f"{where}.{attr}", f"layer '{layer.name}': {msg}", accepted)


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
    rule, :func:`hw_models.lowering.pool_parallelism`), so they are priced with it:
    their cycles must meet ``T`` too and their resources count.  In a dataflow pipeline the
    frame rate is set by the slowest stage alone and the total LUT is the sum of the layers'
    LUTs, so the problem separates by compute layer (with its pools) and this choice is
    LUT-optimal for the whole network's dataflow nodes (max-pools before the first compute
    layer follow the input quantizer and are not folded here).  When the model also prices
    the stages between layers (FIFO allowance, width converters, input thresholding), layers are
    coupled through their stream widths; without ``keep_existing``/``missing_only`` the choice is
    then made by the chain dynamic program of :func:`_chain_optimal`, exact for the whole
    priced design.  The per-layer rule (used by the two modes) can then miss the optimum by the
    converters between layers (at most the two widths' least common multiple plus the output
    width in LUTs each).
    A target above the model's I/O cap (:meth:`FinnCostModel.io_cap`) is lowered to the cap:
    compute parallelism beyond what the host path delivers buys nothing.

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
    cap = _io_cap(model, spec)
    if cap is not None and target_fps > cap:
        target_fps = cap
    budget = cycle_budget(model.clock_mhz, target_fps)
    if not keep_existing and not missing_only and _linked(model, spec):
        linked = _chain_optimal(spec, model, budget, LUT_WEIGHTS)
        if linked is None:  # out of reach: the fastest design (cheapest among the fastest)
            fastest = _linked_min_cycles(spec, model)
            if fastest is not None:
                linked = _chain_optimal(spec, model, fastest, LUT_WEIGHTS)
        if linked is not None:  # exact for the whole design, links included
            return spec.with_folding(linked)
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

        simds = legal_simd(l, parallel_window=False)
        if l.op == "dwconv":  # SetFolding's VVAU rule: PE first, SIMD only once PE = C
            pe = next((p for p in legal_pe(l) if cycles(p, 1) < budget), l.mh)
            simd = 1
            if pe == l.mh:
                simd = next((q for q in simds if cycles(pe, q) < budget), max(simds))
            folding[l.name] = (pe, simd)
            continue
        simd = 1
        for value in simds:
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
        stream = largest_divisor_at_most(pool.in_channels, stream)
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
    pairs = [(p, q) for p, q in legal_pairs(sig, _parallel_window(model))
             if (pe_fixed is None or p == pe_fixed) and (simd_fixed is None or q == simd_fixed)]
    if not pairs:  # a fixed factor outside the legal pairs: keep what the caller fixed
        pairs = [(pe_fixed or 1, simd_fixed or 1)]
    best_ok: tuple[tuple[int, ...], tuple[int, int]] | None = None
    fastest: tuple[tuple[int, ...], tuple[int, int]] | None = None
    for pe, simd in pairs:
        cycles, lut, bram, dsp, uram = _group_cost(model, sig, pools, pe, simd)
        res = (lut, bram, dsp, uram, pe * simd, pe)
        if cycles <= budget and (best_ok is None or res < best_ok[0]):
            best_ok = (res, (pe, simd))
        speed = (cycles,) + res
        if fastest is None or speed < fastest[0]:
            fastest = (speed, (pe, simd))
    assert fastest is not None
    return best_ok[1] if best_ok is not None else fastest[1]


# ------------------------------------------------------------------------------ exact optimum
#: default objective weights ``(LUT, BRAM18, DSP)``: minimise LUTs
LUT_WEIGHTS: tuple[float, float, float] = (1.0, 0.0, 0.0)

#: resources a folding is checked against the device for (``CostReport`` / ``Device`` fields)
FIT_RESOURCES: tuple[str, ...] = ("lut", "bram18", "dsp", "uram")


@dataclasses.dataclass(frozen=True)
class FoldOption:
    """One legal ``(pe, simd)`` of a compute layer, priced with the max-pools it feeds."""

    pe: int
    simd: int
    cycles: int
    lut: int
    bram18: int
    dsp: int
    uram: int

    def score(self, weights: tuple[float, float, float]) -> float:
        return weights[0] * self.lut + weights[1] * self.bram18 + weights[2] * self.dsp

    def key(self, weights: tuple[float, float, float]) -> tuple[float, ...]:
        """Objective first, then ``fold_for_fps``'s tie-breaks (fewer LUT, BRAM18, DSP, URAM,
        smaller ``pe*simd``, smaller ``pe``): with :data:`LUT_WEIGHTS` the same choice."""
        return (self.score(weights), self.lut, self.bram18, self.dsp, self.uram,
                self.pe * self.simd, self.pe)


def check_weights(weights: Any) -> tuple[float, float, float]:
    """``(w_lut, w_bram18, w_dsp)``: three finite numbers >= 0, not all 0."""
    try:
        w = tuple(float(x) for x in weights)
    except (TypeError, ValueError):
        raise InputError("weights", f"got {weights!r}", ["three numbers LUT,BRAM18,DSP"]) from None
    if len(w) != 3 or not all(math.isfinite(x) and x >= 0 for x in w) or not any(w):
        raise InputError("weights", f"got {weights!r}",
                         ["three finite numbers >= 0 (LUT,BRAM18,DSP), not all 0"])
    return w  # type: ignore[return-value]


def layer_options(spec: NetworkSpec, model: "FinnCostModel") -> dict[str, tuple[FoldOption, ...]]:
    """``{compute layer: every legal (pe, simd) with its cycles and resources}``, the pools a
    layer feeds priced with it (as :func:`fold_for_fps` does); sorted by cycles."""
    pools = _pools_after(spec)
    return {l.name: _options(model, _signature(l), pools.get(l.name, ()))
            for l in spec.compute_layers}


@lru_cache(maxsize=4096)
def _options_cached(model: Any, sig: LayerSpec, pools: tuple[LayerSpec, ...]
                    ) -> tuple[FoldOption, ...]:
    return _options_uncached(model, sig, pools)


def _options(model: Any, sig: LayerSpec, pools: tuple[LayerSpec, ...]) -> tuple[FoldOption, ...]:
    try:
        return _options_cached(model, sig, pools)
    except TypeError:  # unhashable model
        return _options_uncached(model, sig, pools)


def _options_uncached(model: Any, sig: LayerSpec, pools: tuple[LayerSpec, ...]
                      ) -> tuple[FoldOption, ...]:
    opts = [FoldOption(pe, simd, *_group_cost(model, sig, pools, pe, simd))
            for pe, simd in legal_pairs(sig, _parallel_window(model))]
    return tuple(sorted(opts, key=lambda o: (o.cycles, o.pe * o.simd, o.pe)))


def fixed_cycles(spec: NetworkSpec, model: "FinnCostModel") -> int:
    """Cycles of the stages no folding choice changes (max-pools before the first compute
    layer, priced as :meth:`FinnCostModel.estimate` prices them); 0 when there are none."""
    grouped = {l.name for l in spec.compute_layers}
    owner = None
    for l in spec.layers:  # the pools _pools_after attaches to a compute layer
        if l.is_compute:
            owner = l.name
        elif l.op == "maxpool" and owner is not None and l.stride <= l.kernel:
            grouped.add(l.name)
        else:
            owner = None
    report = model.estimate(spec)
    return max((c.cycles for c in report.layers if c.name not in grouped), default=0)


def min_cycles(spec: NetworkSpec, model: "FinnCostModel") -> int:
    """The fewest cycles per frame any legal folding reaches (its frame rate is the highest),
    the stages between layers included when the model prices them."""
    if _linked(model, spec):
        linked = _linked_min_cycles(spec, model)
        if linked is not None:
            return linked
    opts = layer_options(spec, model)
    return max([fixed_cycles(spec, model)] + [min(o.cycles for o in v) for v in opts.values()])


def _choose_optimal(opts: dict[str, tuple[FoldOption, ...]], budget: int,
                    weights: tuple[float, float, float]) -> dict[str, FoldOption] | None:
    out: dict[str, FoldOption] = {}
    for name, options in opts.items():
        ok = [o for o in options if o.cycles <= budget]
        if not ok:
            return None
        out[name] = min(ok, key=lambda o: o.key(weights))
    return out


def optimal_folding_for_budget(spec: NetworkSpec, model: "FinnCostModel", budget: int,
                               weights: Any = LUT_WEIGHTS) -> NetworkSpec:
    """:func:`optimal_folding` for a cycle budget ``T`` (cycles per frame) instead of a rate."""
    w = check_weights(weights)
    check_folding(spec)
    chosen: dict[str, FoldOption] | None = None
    if _linked(model, spec) and _chain_groups(spec) is not None:
        linked = _chain_optimal(spec, model, budget, w)  # None: out of reach
        if linked is not None:
            return spec.with_folding(linked)
        fastest = min_cycles(spec, model)
    else:
        fastest = min_cycles(spec, model)
        opts = layer_options(spec, model)
        chosen = _choose_optimal(opts, budget, w) if budget >= fastest else None
    if chosen is None:
        best = model.clock_mhz * 1e6 / fastest
        raise InputError("target_fps", f"{model.clock_mhz * 1e6 / max(budget, 1):,.1f} frames/s "
                         f"(a budget of {budget:,} cycles at {model.clock_mhz:g} MHz) is out of "
                         f"reach: the fastest legal folding of '{spec.name}' needs {fastest:,} "
                         f"cycles per frame", [f"<= {best:,.1f}"])
    return spec.with_folding({n: (o.pe, o.simd) for n, o in chosen.items()})


def optimal_folding(spec: NetworkSpec, model: "FinnCostModel", target_fps: float,
                    weights: Any = LUT_WEIGHTS) -> NetworkSpec:
    """The exactly cheapest legal folding meeting ``target_fps`` (existing PE/SIMD ignored).

    Cost is ``w_lut * LUT + w_bram * BRAM18 + w_dsp * DSP`` (``weights``; default LUT alone).

    Why per-layer minimisation is globally optimal:

    1. a FINN dataflow pipeline's frame rate is set by its slowest stage,
       ``fps = f_clk / max_i cycles_i``, so ``fps >= F`` holds exactly when every stage meets
       ``cycles_i <= T = floor(f_clk / F)`` - a constraint on each layer *separately*;
    2. resources (hence the weighted cost) are additive over layers: a layer's LUT/BRAM18/DSP
       depend only on its own shape, bits and ``(pe, simd)`` (a max-pool's parallelism follows
       the PE of the compute layer that feeds it, so it is priced with that layer, a "group");
    3. hence the feasible set is the product of per-group feasible sets and the objective is a
       sum of per-group terms: ``min sum_i c_i(x_i) s.t. x_i in X_i(T)`` equals
       ``sum_i min_{x_i in X_i(T)} c_i(x_i)``.  Each per-group minimum is found *exhaustively*
       over all legal divisor pairs (PE | MH, SIMD | MW and C_in), so the result is exact, not
       a heuristic, for the dataflow nodes.  (Stages no folding changes - pools before the
       first compute layer - are constants.)
    4. with the stages between layers priced (FIFO allowance, width converters, input
       thresholding), a term depends on one group or on two *consecutive* groups; the chain
       dynamic program :func:`_chain_optimal` solves that exactly (brute force confirms it in
       ``tests/hw_models/test_fold_optimal.py``).

    With the default weights the choice equals ``fold_for_fps(spec, model, target_fps)`` when
    every layer can meet the target; unlike it, an unreachable target raises
    :class:`~fpga.errors.InputError` (field ``target_fps``, accepted: the highest rate).
    Device capacity is not a constraint here: see :func:`check_fits`.
    """
    cap = _io_cap(model, spec)
    if cap is not None and target_fps > cap:
        raise InputError("target_fps", f"{target_fps:,.0f} frames/s is above the I/O cap of "
                         f"{cap:,.0f} frames/s (I/O profile {model.io.name})",
                         [f"<= {cap:,.0f}", "or io_profile 'none'"])
    return optimal_folding_for_budget(spec, model, cycle_budget(model.clock_mhz, target_fps),
                                      weights)


def _io_cap(model: Any, spec: NetworkSpec) -> float | None:
    cap = getattr(model, "io_cap", None)
    return cap(spec) if callable(cap) else None


def min_resources(spec: NetworkSpec, model: "FinnCostModel", budget: int) -> dict[str, int]:
    """Per resource, the least any legal folding meeting ``budget`` uses (each minimised on its
    own, so the resources need not be reachable together); fixed stages included."""
    opts = layer_options(spec, model)
    grouped_names = set(opts)
    fixed = {r: 0 for r in FIT_RESOURCES}
    report = model.estimate(spec.with_folding({n: (1, 1) for n in opts}))
    pools = {p for l in spec.compute_layers for p in _pool_names_after(spec, l.name)}
    for c in report.layers:
        if c.name not in grouped_names and c.name not in pools:
            for r in FIT_RESOURCES:
                fixed[r] += getattr(c, r)
    out = dict(fixed)
    for options in opts.values():
        ok = [o for o in options if o.cycles <= budget] or list(options)
        for r in FIT_RESOURCES:
            out[r] += min(getattr(o, r) for o in ok)
    return out


def _pool_names_after(spec: NetworkSpec, name: str) -> list[str]:
    out, on = [], False
    for l in spec.layers:
        if l.is_compute:
            on = l.name == name
        elif on and l.op == "maxpool" and l.stride <= l.kernel:
            out.append(l.name)
        else:
            on = False
    return out


def check_fits(spec: NetworkSpec, model: "FinnCostModel", folded: NetworkSpec,
               budget: int) -> None:
    """Raise InputError (field ``device``) if ``folded`` exceeds the device in some resource.

    The message names the resource, what the folding uses, the device's capacity and the
    cheapest any folding meeting the budget can use of it (:func:`min_resources`): when even
    that exceeds the capacity no folding fits; otherwise another objective weighting may.
    """
    report = model.estimate(folded)
    dev = model.device
    over = [r for r in FIT_RESOURCES if getattr(report, r) > getattr(dev, r)]
    if not over:
        return
    least = min_resources(spec, model, budget)
    r = over[0]
    used, cap, cheapest = getattr(report, r), getattr(dev, r), least[r]
    demand = getattr(report, "bram18_demand", None)
    if getattr(report, "spilled", ()) and demand is not None:
        moved = sum(x["lut"] for x in report.spilled)
        why = (f"the optimum needs {demand:,} BRAM18 (capacity {dev.bram18:,}); "
               f"{len(report.spilled)} weight memories spill to LUTRAM for {moved:,} LUT, "
               f"which puts it at {report.lut:,} LUT (capacity {dev.lut:,}): lower the target "
               "or the bits, or use a larger device")
    elif cheapest > cap:
        why = (f"no folding meeting the target fits: the cheapest uses {cheapest:,} {r.upper()} "
               f"(capacity {cap:,})")
    else:
        why = (f"the optimum uses {used:,} {r.upper()} (capacity {cap:,}); the cheapest folding "
               f"in {r.upper()} alone uses {cheapest:,}: weight it (--objective weighted "
               "--weights) or lower the target")
    raise InputError("device", f"'{spec.name}' does not fit {dev.name}: {why}",
                     [f"{x}: {getattr(report, x):,} used / {getattr(dev, x):,}"
                      for x in FIT_RESOURCES])


def pareto_foldings(spec: NetworkSpec, model: "FinnCostModel", weights: Any = LUT_WEIGHTS,
                    max_points: int = 200) -> list[tuple[int, NetworkSpec]]:
    """Every achievable frame rate with its cheapest folding: ``[(cycles, folded spec)]``,
    fastest first, cost strictly falling.

    The optimum at budget ``T`` changes only where ``T`` crosses a layer's option cycles, so
    the budgets tried are the distinct option cycles ``>= min_cycles``; the achieved cycles of
    each optimum (the slowest chosen stage) give its frame rate, and a point no cheaper than a
    faster one is dropped (dominated).  More than ``max_points`` points are thinned to
    ``max_points`` evenly spaced along the front (by rank), the fastest and the cheapest kept.
    """
    w = check_weights(weights)
    if max_points < 2:
        raise InputError("max_points", f"got {max_points!r}", ["an integer >= 2"])
    check_folding(spec)
    opts = layer_options(spec, model)
    fixed = fixed_cycles(spec, model)
    lo = max([fixed] + [min(o.cycles for o in v) for v in opts.values()])
    budgets = sorted({o.cycles for v in opts.values() for o in v if o.cycles >= lo} | {lo})
    if _linked(model, spec) and _chain_groups(spec) is not None:
        return _pareto_linked(spec, model, w, max_points)
    points: list[tuple[int, float, dict[str, FoldOption]]] = []
    for t in budgets:
        chosen = _choose_optimal(opts, t, w)
        assert chosen is not None
        cost = sum(o.score(w) for o in chosen.values())
        if points and cost >= points[-1][1]:
            continue
        cycles = max([fixed] + [o.cycles for o in chosen.values()])
        points.append((cycles, cost, chosen))
    return [(c, spec.with_folding({n: (o.pe, o.simd) for n, o in ch.items()}))
            for c, _, ch in _thin(points, max_points)]


def _thin(points: list, max_points: int) -> list:
    if len(points) <= max_points:
        return points
    n = len(points)
    keep = sorted({round(k * (n - 1) / (max_points - 1)) for k in range(max_points)})
    return [points[i] for i in keep]


def _pareto_linked(spec: NetworkSpec, model: Any, w: tuple[float, float, float],
                   max_points: int) -> list[tuple[int, NetworkSpec]]:
    """:func:`pareto_foldings` when the links between layers are priced (their stages can set
    the frame rate too, so the budgets are not known in advance).  Walks the front from the
    cheapest design down: each step is the exact optimum (chain dynamic program) of a budget one
    cycle below the previous design's cycles, so every front point is found, and a step no
    dearer than the one before replaces it (same cost, faster)."""
    points: list[tuple[int, float, NetworkSpec]] = []
    budget = 2 ** 62
    while True:
        linked = _chain_optimal(spec, model, budget, w)
        if linked is None:
            break
        folded = spec.with_folding(linked)
        r = model.estimate(folded)
        cost = w[0] * r.lut + w[1] * r.bram18 + w[2] * r.dsp
        if points and cost <= points[-1][1]:
            points.pop()
        points.append((r.cycles_per_frame, cost, folded))
        budget = r.cycles_per_frame - 1
    points.reverse()  # fastest first, cost falling
    return [(c, f) for c, _, f in _thin(points, max_points)]


# ------------------------------------------------------------------------------ exact, with links
def _chain_groups(spec: NetworkSpec) -> list[tuple[LayerSpec, tuple[LayerSpec, ...]]] | None:
    """``[(compute layer, the max-pools it feeds)]`` covering every layer, or ``None`` when some
    layer belongs to no group (a max-pool first, or one FINN cannot map)."""
    groups: list[tuple[LayerSpec, list[LayerSpec]]] = []
    for l in spec.layers:
        if l.is_compute:
            groups.append((l, []))
        elif l.op == "maxpool" and groups and l.stride <= l.kernel:
            groups[-1][1].append(l)
        else:
            return None
    return [(c, tuple(p)) for c, p in groups] if groups else None


@dataclasses.dataclass(frozen=True)
class _LinkedOption:
    pe: int
    simd: int
    cost: tuple[float, int, int, int, int]  # (score, lut, bram18, dsp, uram), group + its links
    in_width: int
    out_width: int
    out_frame_bits: int
    cycles: int  # the slowest stage of the group and its links (edge converters excluded)


def _add(a: tuple, b: tuple) -> tuple:
    return tuple(x + y for x, y in zip(a, b))


def _stage_vec(s: Any, w: tuple[float, float, float]) -> tuple[float, int, int, int, int]:
    return (w[0] * s.lut + w[1] * s.bram18 + w[2] * s.dsp, s.lut, s.bram18, s.dsp, s.uram)


def _linked_options(spec: NetworkSpec, model: Any, groups: list, gi: int, budget: int,
                    w: tuple[float, float, float]) -> list[_LinkedOption]:
    """Every legal folding of group ``gi`` meeting ``budget``, priced with the nodes that
    depend on it alone (the lowering's, :mod:`hw_models.lowering`): the input thresholding
    (first group), the FIFO allowance in front of each of its layers, the width converters
    inside it and the output FIFO and scale (last group)."""
    from hw_models.lowering import (choice_of, input_parallelism, lower_layer, lower_links,
                                    output_node, threshold_node)

    layer, pools = groups[gi]
    inp = spec.input
    s = model.lowering_settings
    out: list[_LinkedOption] = []
    for pe, simd in legal_pairs(layer, s.parallel_window):
        lay = layer.with_folding(pe, simd)
        low = lower_layer(lay, choice_of(lay), Stream(1, lay.in_bits, 0), s)
        nodes = list(low.nodes)
        prev = None
        if gi == 0 and inp.thresholding:
            th_pe = 1 if lay.op == "fc" else math.gcd(inp.channels,
                                                      input_parallelism(lay, choice_of(lay)))
            nodes.append(threshold_node(inp, th_pe, lay.name))
            prev = Stream(th_pe, inp.bits, inp.channels * inp.height * inp.width)
        # the converter from the previous group is an edge of the chain (see _chain_optimal)
        nodes += lower_links(prev, low.in_width, s, fifo=gi > 0, owner=lay.name)
        stream = low.out
        for p in pools:
            pl = lower_layer(p, choice_of(p), stream, s)
            nodes += pl.nodes
            nodes += lower_links(stream, pl.in_width, s, fifo=True, owner=p.name)
            stream = pl.out
        if gi == len(groups) - 1:
            nodes += lower_links(None, stream.width, s, fifo=True, owner=lay.name)
            nodes.append(output_node(lay, pe, stream.elems, lay.name, inp.thresholding))
        stages = [model.node_cost(n) for n in nodes if n.priced]
        cycles = max(st.cycles for st in stages)
        if cycles <= budget:
            vec = (0.0, 0, 0, 0, 0)
            for st in stages:
                vec = _add(vec, _stage_vec(st, w))
            out.append(_LinkedOption(pe, simd, vec, low.in_width, stream.width,
                                     stream.frame_bits, cycles))
    return out


def _chain_optimal(spec: NetworkSpec, model: Any, budget: int,
                   weights: tuple[float, float, float]) -> dict[str, tuple[int, int]] | None:
    """The exact optimum of the *whole* priced design - dataflow nodes, input thresholding,
    FIFO allowance and width converters - by dynamic programming over the chain of layer
    groups.

    Why it is exact: the frame-rate constraint is still per stage (every stage, converters
    included, must meet ``T``), and the cost is a sum of terms that each depend on one group's
    folding (its nodes, its FIFOs, the thresholding its first layer sets) or on two
    *consecutive* groups' foldings (the converter between them, set by the producer's output
    width and the consumer's input width).  A chain with pairwise terms is solved exactly by
    the Viterbi recursion ``best_g(j) = node_g(j) + min_i [best_{g-1}(i) + edge(i, j)]``, with
    costs compared lexicographically as ``(weighted score, LUT, BRAM18, DSP, URAM)``.
    ``None`` when the network is not a chain of groups or ``T`` is out of reach.
    """
    groups = _chain_groups(spec)
    if groups is None:
        return None
    prev: list[tuple[tuple, _LinkedOption, tuple]] = []  # (total cost, option, back-pointers)
    for gi in range(len(groups)):
        opts = _linked_options(spec, model, groups, gi, budget, weights)
        if not opts:
            return None
        cur = []
        for o in opts:
            if gi == 0:
                cur.append((o.cost, o, ((groups[0][0].name, o),)))
                continue
            best = None
            for total, po, path in prev:
                edge = _edge(model, po, o)
                if edge and edge.cycles > budget:
                    continue
                cand = _add(total, _stage_vec(edge, weights)) if edge else total
                if best is None or cand < best[0]:
                    best = (cand, path)
            if best is not None:
                cur.append((_add(best[0], o.cost), o, best[1] + ((groups[gi][0].name, o),)))
        if not cur:
            return None
        prev = cur
    _, _, path = min(prev, key=lambda t: t[0])
    return {name: (o.pe, o.simd) for name, o in path}


def _edge(model: Any, po: _LinkedOption, o: _LinkedOption) -> Any:
    """The width converter between two consecutive groups' options, or ``None``."""
    prev = Stream(po.out_width, 1, po.out_frame_bits)  # width and frame bits are what count
    stages = model.link_stages(prev, o.in_width, fifo=False)
    return stages[0] if stages else None


def _linked_min_cycles(spec: NetworkSpec, model: Any) -> int | None:
    """The fewest cycles per frame any legal folding reaches with the links priced (the input
    thresholding and the converters can be the slowest stage): a min-max dynamic program over
    the chain of groups, ``best_g(j) = max(cyc_g(j), min_i max(best_{g-1}(i), dwc(i, j)))``.
    ``None`` when the network is not a chain of groups."""
    groups = _chain_groups(spec)
    if groups is None:
        return None
    prev: list[tuple[int, _LinkedOption]] = []
    for gi in range(len(groups)):
        cur = []
        for o in _linked_options(spec, model, groups, gi, 2 ** 62, LUT_WEIGHTS):
            if gi == 0:
                cur.append((o.cycles, o))
                continue
            best = min(max(c, e.cycles) if (e := _edge(model, po, o)) else c
                       for c, po in prev)
            cur.append((max(best, o.cycles), o))
        prev = cur
    return min(c for c, _ in prev)


def _linked(model: Any, spec: NetworkSpec) -> bool:
    """Whether stages beyond the per-layer groups are priced (then the chain DP is needed)."""
    return bool(getattr(model, "interconnect", False) or spec.input.thresholding) and \
        hasattr(model, "fifo_depth")

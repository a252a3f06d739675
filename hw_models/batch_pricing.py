"""Vectorized FINN pricing of many design points that share one layer structure.

A search proposes thousands of (quantization, folding) candidates of the same network: same op
sequence, same shapes, different per-layer weight/activation bits and PE/SIMD.
:class:`BatchPricer` prices all of them at once and returns the **same numbers** as
:meth:`hw_models.cost.FinnCostModel.estimate`, because it runs the same code: the one lowering
(:func:`hw_models.lowering.lower_layer`, :func:`~hw_models.lowering.lower_links`) with numpy
arrays in place of ints, whose nodes are priced by the same op formulas
(:mod:`hw_models.finn_ops`, written once for ints and arrays).

How it is fast: a layer's nodes depend only on that layer's own choice (PE, SIMD, weight bits,
input bits, output bits; a max-pool on the incoming parallelism and bits), and the links between
layers on the two streams they join.  Each layer therefore keeps a table over its possible
choices; a call fills only the entries its candidates use (the formulas run once per distinct
choice, on arrays) and every candidate then reads its layer costs from the tables (gathers).
``tests/hw_models/test_batch_pricing.py`` checks the equality against the scalar model;
``bench/pricing_throughput.py`` measures the speed (``bench/PRICING.md``).

Usage::

    pricer = BatchPricer(FinnCostModel("pynq-z1"), NetworkSpec.load("examples/cnv_w1a1.json"))
    out = pricer.price(weight_bits=W, act_bits=A, pe=P, simd=S)   # each (n, n_compute)
    out["lut"], out["bram18"], out["fps"], out["bottleneck"]      # each (n,)

Columns are the template's compute layers (conv / dwconv / fc) in order
(:attr:`BatchPricer.compute_names`).  An argument left ``None`` takes the template's value
(``pe``/``simd`` unset there: 1); ``act_bits`` 0 means "no activation" and is accepted only on
a compute layer that ends the network.  Every model setting and every op the lowering has a
rule for is supported; a template the scalar model would report partly unsupported (a max-pool
with stride > kernel) raises :class:`NotImplementedError` naming the layer.  Illegal candidates
raise :class:`~fpga.errors.InputError` (a ``ValueError``) naming the layer, the first bad row
and the rule.  Torch-free.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from fpga.errors import InputError
from fpga.folding import divisors, rule_for
from hw_models.cost import FinnCostModel, weight_lutram_luts
from hw_models.finn_ops import LUT_VARIANTS, RES_TYPES, SWG_IMPLS, WEIGHT_MEMORIES
from hw_models.io_cap import frame_bytes
from hw_models.memory import spill_weights
from hw_models.shell import shell_for
from hw_models.lowering import (LOWERED_OPS, Choice, Node, Stream, lower_layer, lower_links,
                                threshold_node, unsupported_reason)
from hw_models.network import MAX_BITS, LayerSpec, NetworkSpec

__all__ = ["BatchPricer", "SUPPORTED_SETTINGS"]

#: the model settings the vectorized path reproduces: all of them (the formulas are shared)
SUPPORTED_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "lut_variant": LUT_VARIANTS, "weight_mem": WEIGHT_MEMORIES, "swg_impl": SWG_IMPLS,
    "res_type": RES_TYPES,
}

_I = np.int64
#: what a layer table holds per choice, in this order
_FIELDS = ("lut", "bram18", "dsp", "uram", "cycles", "crit", "in_par", "out_par", "out_bits",
           "mem_bram18", "mem_lut")
_LINK_FIELDS = ("lut", "bram18", "dsp", "uram", "cycles", "crit")
#: fields kept in int64 in the tables (the others fit int32)
_WIDE = ("cycles", "crit")


# ------------------------------------------------------------------ lookup structures
class _Axis:
    """A small set of integer values and the index of each (a dense lookup by value)."""

    def __init__(self, values: Sequence[int]) -> None:
        self.values = np.array(sorted(set(int(v) for v in values)), dtype=_I)
        self.index_of = np.full(int(self.values[-1]) + 1, -1, dtype=_I)
        self.index_of[self.values] = np.arange(len(self.values), dtype=_I)

    def __len__(self) -> int:
        return len(self.values)

    def index(self, v: np.ndarray) -> np.ndarray:
        return self.index_of.take(v)

    def outside(self, v: np.ndarray) -> np.ndarray:
        """Where ``v`` is not one of the values."""
        top = len(self.index_of) - 1
        return (v < 0) | (v > top) | (self.index_of.take(np.clip(v, 0, top)) < 0)


class _Table:
    """Costs over the cartesian product of some axes, filled on demand.

    ``fill(*values)`` gets one array per axis (the choices still missing) and returns one
    array per field; :meth:`lookup` gives each field for every candidate.  Fields are stored
    as int32 (half the memory to gather), cycles as int64 (a slow layer can exceed 2^31)."""

    def __init__(self, axes: Sequence[_Axis], fill: Callable[..., Sequence[Any]],
                 fields: Sequence[str]) -> None:
        self.axes = tuple(axes)
        self.shape = tuple(len(a) for a in axes)
        self.size = int(np.prod(self.shape))
        self.fill = fill
        self.values = [np.zeros(self.size, dtype=_I if f in _WIDE else np.int32)
                       for f in fields]
        self.filled = np.zeros(self.size, dtype=bool)
        self.nonzero = [False] * len(fields)  # fields that are not all zero

    def key(self, *vals: np.ndarray) -> np.ndarray:
        k = self.axes[0].index(vals[0])
        for axis, v in zip(self.axes[1:], vals[1:]):
            k = k * len(axis) + axis.index(v)
        return k

    def lookup(self, key: np.ndarray) -> np.ndarray:
        if not self.filled.take(key).all():
            need = np.zeros(self.size, dtype=bool)
            need[key] = True
            need &= ~self.filled
            todo = np.flatnonzero(need)
            idx = np.unravel_index(todo, self.shape)
            got = self.fill(*(a.values[i] for a, i in zip(self.axes, idx)))
            for f, v in enumerate(got):
                v = np.broadcast_to(np.asarray(v, dtype=_I), todo.shape)
                if self.values[f].dtype != _I and v.size and int(v.max()) >= 2 ** 31:
                    self.values[f] = self.values[f].astype(_I)  # never silently wrap
                self.values[f][todo] = v
            self.filled[todo] = True
            self.nonzero = [bool(row.any()) for row in self.values]
        # a field that is zero everywhere (e.g. DSP with LUT multipliers) is not gathered
        return [row.take(key) if nz else 0 for row, nz in zip(self.values, self.nonzero)]


def _price_nodes(nodes: Sequence[Node], n: int) -> list[np.ndarray]:
    """``lut, bram18, dsp, uram, max cycles, summed cycles`` of priced nodes (arrays)."""
    out = [np.zeros(n, dtype=_I) for _ in range(6)]
    for node in nodes:
        if not node.priced:
            continue
        op = node.op
        for f, v in enumerate((op.lut(), op.bram18(), op.dsp(), op.uram())):
            out[f] = out[f] + np.asarray(v, dtype=_I)
        c = np.asarray(op.cycles(), dtype=_I)
        out[4] = np.maximum(out[4], c)
        out[5] = out[5] + c
    return [np.broadcast_to(v, (n,)) for v in out]


@dataclass(frozen=True)
class _Layer:
    index: int
    spec: LayerSpec
    col: int            # compute column (-1: a max-pool)
    in_elems: int       # elements per frame of the stream that enters


# ------------------------------------------------------------------ the pricer
class BatchPricer:
    """Prices many (bits, folding) design points of one template network at once.

    ``model``: the :class:`FinnCostModel` whose numbers are reproduced (its device clock is
    used for fps); ``template``: the layer structure (ops and shapes) every candidate shares.
    """

    def __init__(self, model: FinnCostModel, template: NetworkSpec) -> None:
        if not isinstance(model, FinnCostModel):
            raise NotImplementedError(f"BatchPricer reproduces FinnCostModel only, got "
                                      f"{type(model).__name__}")
        for layer in template.layers:
            reason = (unsupported_reason(layer)
                      if layer.op not in LOWERED_OPS or layer.op == "maxpool" else None)
            if reason:
                raise NotImplementedError(f"BatchPricer: layer '{layer.name}': {reason} "
                                          "(the scalar model reports it unsupported)")
        self.model = model
        self.template = template
        self.clock_mhz = model.clock_mhz
        self._fclk = model.clock_mhz * 1e6  # the same float FinnCostModel divides
        self._s = model.lowering_settings
        inp = template.input
        layers: list[_Layer] = []
        col, elems = 0, inp.channels * inp.height * inp.width
        for i, l in enumerate(template.layers):
            layers.append(_Layer(i, l, col if l.is_compute else -1, elems))
            col += l.is_compute
            elems = l.out_channels * l.out_h * l.out_w
        if col == 0:
            raise NotImplementedError("BatchPricer: the template has no conv/dwconv/fc layer")
        self._layers = tuple(layers)
        self._compute = tuple(l for l in layers if l.col >= 0)
        self.compute_names: tuple[str, ...] = tuple(l.spec.name for l in self._compute)
        self.layer_names: tuple[str, ...] = tuple(l.name for l in template.layers)
        self._may_omit_act = np.array([l.index == len(template.layers) - 1
                                       for l in self._compute])
        pw = self._s.parallel_window
        self._pe_axis = [_Axis(rule_for(l.spec).pe_options(l.spec)) for l in self._compute]
        self._simd_axis = [_Axis(rule_for(l.spec).simd_options(l.spec, pw))
                           for l in self._compute]
        self._tables: dict[tuple, _Table] = {}
        self._in_bytes = frame_bytes(inp.channels * inp.height * inp.width, inp.bits)
        self._io_caps: dict[int, float] = {}

    # -------------------------------------------------------------- setup helpers
    @property
    def n_compute(self) -> int:
        return len(self._compute)

    def template_arrays(self) -> dict[str, np.ndarray]:
        """The template's own (weight_bits, act_bits, pe, simd) as ``(n_compute,)`` arrays."""
        ls = [l.spec for l in self._compute]
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
        cols = {k: np.ascontiguousarray(np.broadcast_to(a, (n, self.n_compute)).T)
                for k, a in arrays.items()}
        return n, cols

    def _validate(self, c: dict[str, np.ndarray]) -> None:
        def fail(key: str, j: int, bad: np.ndarray, rule: str, accepted: Any = None) -> None:
            row = int(np.flatnonzero(bad)[0])
            v = int(c[key][j][row])
            raise InputError(f"{key}[{row}, {j}]", f"layer '{self.compute_names[j]}', first bad "
                             f"row {row}: {key} {v} - {rule}", accepted)

        pw = self._s.parallel_window
        for j, l in enumerate(self._compute):
            spec, rule = l.spec, rule_for(l.spec)
            wb, ab, pe, simd = c["weight_bits"][j], c["act_bits"][j], c["pe"][j], c["simd"][j]
            bad = (wb < 1) | (wb > MAX_BITS)
            if bad.any():
                fail("weight_bits", j, bad, f"must be in 1..{MAX_BITS}")
            lo = 0 if self._may_omit_act[j] else 1
            bad = (ab < lo) | (ab > MAX_BITS)
            if bad.any():
                fail("act_bits", j, bad, f"must be in {lo}..{MAX_BITS} (0 = no activation, only "
                     "on a compute layer that ends the network)")
            # the legal values are the rule's own (the axes are built from fpga.folding.RULES);
            # a lookup is cheaper than the rule's division on every candidate
            bad = self._pe_axis[j].outside(pe)
            if bad.any():
                fail("pe", j, bad, f"PE must divide {rule.pe_dim(spec)}", rule.pe_options(spec))
            bad = self._simd_axis[j].outside(simd)
            if bad.any():
                fail("simd", j, bad, f"SIMD must divide {rule.simd_dims(spec)}",
                     rule.simd_options(spec, pw))
            bad = np.asarray(rule.bad_pair(spec, pe, simd))
            if bad.any():
                fail("simd", j, bad, f"SIMD > 1 needs PE = {spec.in_channels} (the "
                     "parallel-window generator streams all channels)")

    # -------------------------------------------------------------- tables
    def _table(self, key: tuple, make: Callable[[], _Table]) -> _Table:
        t = self._tables.get(key)
        if t is None:
            t = self._tables[key] = make()
        return t

    def _compute_table(self, j: int, bits: _Axis) -> _Table:
        l = self._compute[j]
        s = self._s

        def fill(pe: np.ndarray, simd: np.ndarray, wb: np.ndarray, a: np.ndarray,
                 ob: np.ndarray) -> list[np.ndarray]:
            low = lower_layer(l.spec, Choice(pe, simd, wb, ob), Stream(1, a, l.in_elems), s)
            n = pe.shape[0]
            engine = next(nd.op for nd in low.nodes if nd.finn_op in ("MVAU", "VVAU"))
            return _price_nodes(low.nodes, n) + [np.broadcast_to(v, (n,)) for v in (
                low.in_par, low.out.par, low.out.bits, engine.bram18(),
                weight_lutram_luts(engine))]

        return self._table(("c", j, tuple(bits.values)), lambda: _Table(
            (self._pe_axis[j], self._simd_axis[j], bits, bits, bits), fill, _FIELDS))

    def _pool_table(self, k: int, par: _Axis, bits: _Axis) -> _Table:
        l = self._layers[k]
        s = self._s

        def fill(stream_par: np.ndarray, a: np.ndarray) -> list[np.ndarray]:
            low = lower_layer(l.spec, Choice(), Stream(stream_par, a, l.in_elems), s)
            n = a.shape[0]
            zero = np.zeros(n, dtype=_I)
            return _price_nodes(low.nodes, n) + [low.in_par, low.out.par,
                                                 np.broadcast_to(low.out.bits, (n,)), zero, zero]

        return self._table(("p", k, tuple(par.values), tuple(bits.values)),
                           lambda: _Table((par, bits), fill, _FIELDS))

    def _link_table(self, k: int, prev: _Axis | None, bits: _Axis, in_par: _Axis,
                    prev_elems: int) -> _Table:
        s = self._s
        fifo = k > 0
        owner = self._layers[k].spec.name

        def fill(*v: np.ndarray) -> list[np.ndarray]:
            if prev is None:
                a, ip = v
                nodes = lower_links(None, ip * a, s, fifo, owner)
            else:
                pp, a, ip = v
                nodes = lower_links(Stream(pp, a, prev_elems), ip * a, s, fifo, owner)
            return _price_nodes(nodes, v[0].shape[0])

        axes = (bits, in_par) if prev is None else (prev, bits, in_par)
        return self._table(("l", k, tuple(tuple(a.values) for a in axes)),
                           lambda: _Table(axes, fill, _LINK_FIELDS))

    # -------------------------------------------------------------- pricing
    def price(self, weight_bits: Any = None, act_bits: Any = None, pe: Any = None,
              simd: Any = None, *, per_layer: bool = False,
              validate: bool = True) -> dict[str, np.ndarray]:
        """Price ``n`` candidates; each argument is ``(n, n_compute)`` or ``(n_compute,)``
        (broadcast) or ``None`` (the template's values).

        Returns ``(n,)`` arrays: ``lut``, ``bram18``, ``dsp``, ``uram`` (after weights spill to
        LUTRAM when block RAM runs out, :mod:`hw_models.memory`), ``bram18_demand`` (before),
        ``fits_device`` (bool), ``cycles_per_frame``,
        ``critical_path_cycles`` (int64), ``fps`` (float64, ``clock_hz / cycles_per_frame``,
        capped by the I/O profile), ``fps_compute`` and ``bottleneck`` (index into
        ``template.layers`` of the first slowest layer, as ``CostReport.bottleneck`` names it;
        :attr:`layer_names` maps it).  With ``per_layer``: also ``layer_cycles``,
        ``layer_lut``, ``layer_bram18``, ``layer_dsp`` of shape ``(n, n_layers)`` (every
        template layer, max-pools included) and ``pool_pe`` ``(n, n_pools)``.
        ``validate=False`` skips the legality checks (only for candidates known to be legal:
        illegal ones then give meaningless numbers).
        """
        n, c = self._inputs(weight_bits=weight_bits, act_bits=act_bits, pe=pe, simd=simd)
        if validate:
            self._validate(c)
        inp = self.template.input
        s = self._s
        seen = np.zeros(max(MAX_BITS, inp.bits) + 1, dtype=bool)
        seen[[0, inp.bits]] = True
        seen[c["weight_bits"].ravel()] = True
        seen[c["act_bits"].ravel()] = True
        bits = _Axis(np.flatnonzero(seen))
        L = len(self._layers)
        totals = [np.zeros(n, dtype=_I) for _ in range(4)]  # lut, bram18, dsp, uram
        crit = np.zeros(n, dtype=_I)
        cyc_all = np.empty((L, n), dtype=_I)
        per = {f: np.zeros((L, n), dtype=_I) for f in ("lut", "bram18", "dsp")} \
            if per_layer else None
        pool_pes: list[np.ndarray] = []
        mem_b = np.zeros((n, self.n_compute), dtype=_I)
        mem_l = np.zeros((n, self.n_compute), dtype=_I)

        # the input quantizer: PE = gcd(C, the first compute layer's input parallelism)
        first = self._compute[0]
        if self._layers[0].spec.op == "fc":
            th_pe = np.ones(n, dtype=_I)
        else:
            j0 = 0
            fs = first.spec
            par = (np.gcd(fs.in_channels, c["simd"][j0]) if fs.op == "conv"
                   else c["pe"][j0] if fs.op == "dwconv" else c["simd"][j0])
            th_pe = np.gcd(inp.channels, par)
        th_axis = _Axis(divisors(inp.channels))
        stream_par, stream_bits = th_pe, np.full(n, inp.bits, dtype=_I)
        par_axis = th_axis
        head = None
        if inp.thresholding:
            def fill_th(pe_: np.ndarray) -> list[np.ndarray]:
                return _price_nodes([threshold_node(inp, pe_, "")], pe_.shape[0])
            t = self._table(("t",), lambda: _Table((th_axis,), fill_th, _LINK_FIELDS))
            head = t.lookup(t.key(th_pe))
        prev_axis: _Axis | None = th_axis if inp.thresholding else None
        prev_elems = inp.channels * inp.height * inp.width
        for k, l in enumerate(self._layers):
            spec = l.spec
            if l.col >= 0:
                j = l.col
                t = self._compute_table(j, bits)
                v = t.lookup(t.key(c["pe"][j], c["simd"][j], c["weight_bits"][j], stream_bits,
                                   c["act_bits"][j]))
                in_axis = _Axis(_in_par_values(spec, self._simd_axis[j], self._pe_axis[j]))
                out_axis = self._pe_axis[j]
                mem_b[:, j], mem_l[:, j] = v[9], v[10]
            else:
                t = self._pool_table(k, par_axis, bits)
                v = t.lookup(t.key(stream_par, stream_bits))
                in_axis = out_axis = _Axis(divisors(spec.in_channels))
                pool_pes.append(v[7])
            lu, br, ds, ur, cyc, cr = v[0], v[1], v[2], v[3], v[4], v[5]
            if k == 0 and head is not None:
                lu, br, ds, ur = lu + head[0], br + head[1], ds + head[2], ur + head[3]
                cyc, cr = np.maximum(cyc, head[4]), cr + head[5]
            if s.interconnect and (prev_axis is not None or k > 0):
                lt = self._link_table(k, prev_axis, bits, in_axis, prev_elems)
                key = (lt.key(stream_bits, v[6]) if prev_axis is None
                       else lt.key(stream_par, stream_bits, v[6]))
                w = lt.lookup(key)
                lu, br, ds, ur = lu + w[0], br + w[1], ds + w[2], ur + w[3]
                cyc, cr = np.maximum(cyc, w[4]), cr + w[5]
            stream_par, stream_bits = v[7], v[8]
            prev_axis = par_axis = out_axis
            prev_elems = spec.out_channels * spec.out_h * spec.out_w
            if k == L - 1:  # the output FIFO and the output scale
                tail_lut, tail_br, tail_cyc, tail_cr = self._tail(c, stream_par, stream_bits,
                                                                  prev_elems)
                lu, br = lu + tail_lut, br + tail_br
                cyc, cr = np.maximum(cyc, tail_cyc), cr + tail_cr
            for f, x in enumerate((lu, br, ds, ur)):
                totals[f] += x
            crit += cr
            cyc_all[k] = cyc
            if per is not None:
                per["lut"][k], per["bram18"][k], per["dsp"][k] = lu, br, ds
        demand = totals[1].copy()
        shell = shell_for(self.model.device) if s.beyond_finn else None
        room = self.model.device.bram18 - (shell.bram18 if shell is not None else 0)
        if s.beyond_finn and (demand > room).any():
            sp = spill_weights(demand, room, mem_b, mem_l, which=per is not None)
            totals[0] += sp.lut
            totals[1] -= sp.bram18
            if per is not None:
                for l in self._compute:
                    go = sp.moved[:, l.col]
                    per["lut"][l.index] += np.where(go, mem_l[:, l.col], 0)
                    per["bram18"][l.index] -= np.where(go, mem_b[:, l.col], 0)
        cycles = cyc_all.max(axis=0)
        bottleneck = np.argmax(cyc_all == cycles, axis=0).astype(_I)  # first slowest layer
        with np.errstate(divide="ignore"):
            fps_compute = np.where(cycles > 0, self._fclk / cycles, 0.0)
        fps = fps_compute
        if self.model.io.t_host_us is not None:
            fps = np.minimum(fps_compute, self._caps(stream_bits, prev_elems))
        dev = self.model.device
        sh = (0, 0, 0) if shell is None else (shell.lut, shell.bram18, shell.dsp)
        fits = ((totals[0] + sh[0] <= dev.lut) & (totals[1] + sh[1] <= dev.bram18)
                & (totals[2] + sh[2] <= dev.dsp) & (totals[3] <= dev.uram))
        out = {"lut": totals[0], "bram18": totals[1], "dsp": totals[2], "uram": totals[3],
               "cycles_per_frame": cycles, "fps": fps, "bottleneck": bottleneck,
               "critical_path_cycles": crit, "fps_compute": fps_compute,
               "bram18_demand": demand, "fits_device": fits}
        if per is not None:
            out["layer_cycles"] = cyc_all.T.copy()
            out.update({f"layer_{k}": v.T.copy() for k, v in per.items()})
            out["pool_pe"] = (np.stack(pool_pes, axis=1) if pool_pes
                              else np.zeros((n, 0), dtype=_I))
        return out

    def _tail(self, c: dict[str, np.ndarray], par: np.ndarray, bits: np.ndarray, elems: int
              ) -> tuple[Any, Any, Any, Any]:
        """The output FIFO (at the last stream's width) and the output scale (priced for the
        exporter's networks, ``input.thresholding``)."""
        s = self._s
        lut = br = cyc = cr = 0
        if s.interconnect and s.fifo_depth:
            width = par * bits
            axis = _Axis(np.unique(width))  # a handful of distinct widths
            t = _Table((axis,), lambda w: _price_nodes(lower_links(None, w, s, True, ""),
                                                       w.shape[0]), _LINK_FIELDS)
            v = t.lookup(t.key(width))
            lut, br = v[0], v[1]
        if self.template.input.thresholding:
            last = self._compute[-1].spec
            mul = elems // np.gcd(last.out_channels, c["pe"][-1])
            cyc, cr = mul, mul
        return lut, br, cyc, cr

    def _caps(self, out_bits: np.ndarray, elems: int) -> np.ndarray:
        top = int(out_bits.max()) + 1
        table = np.zeros(top, dtype=np.float64)
        for b in np.flatnonzero(np.bincount(out_bits, minlength=top)).tolist():
            if b not in self._io_caps:
                self._io_caps[b] = self.model.io.fps_cap(self._in_bytes,
                                                         frame_bytes(elems, int(b)),
                                                         self.clock_mhz)
            table[b] = self._io_caps[b]
        return table[out_bits]

    # -------------------------------------------------------------- conveniences
    def random_candidates(self, rng: np.random.Generator, n: int,
                          bits: Any = (1, 2, 3, 4, 5, 6, 7, 8)) -> dict[str, np.ndarray]:
        """``n`` random legal candidates: bits drawn from ``bits``, PE/SIMD uniformly from the
        legal values of each layer (a depthwise conv's SIMD > 1 only with PE = C);
        ``act_bits`` stays 0 where the template has none."""
        bits = np.asarray(bits, dtype=_I)
        out = {k: np.empty((n, self.n_compute), dtype=_I)
               for k in ("weight_bits", "act_bits", "pe", "simd")}
        base = self.template_arrays()
        for j, l in enumerate(self._compute):
            pairs = np.array(rule_for(l.spec).pairs(l.spec, self._s.parallel_window), dtype=_I)
            pick = pairs[rng.integers(0, len(pairs), n)]
            out["pe"][:, j], out["simd"][:, j] = pick[:, 0], pick[:, 1]
            out["weight_bits"][:, j] = rng.choice(bits, n)
            out["act_bits"][:, j] = rng.choice(bits, n) if base["act_bits"][j] else 0
        return out

    def price_specs(self, specs: list[NetworkSpec], **kw: Any) -> dict[str, np.ndarray]:
        """Price concrete specs with this template's structure (checked per spec)."""
        rows = {k: [] for k in ("weight_bits", "act_bits", "pe", "simd")}
        ref = [_shape(l) for l in self.template.layers]
        for spec in specs:
            comp = [l for l in spec.layers if l.is_compute]
            if [_shape(l) for l in spec.layers] != ref \
                    or spec.input != self.template.input:
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


def _shape(l: LayerSpec) -> tuple:
    return (l.op, l.in_channels, l.in_h, l.in_w, l.out_channels, l.kernel, l.stride, l.padding)


def _in_par_values(spec: LayerSpec, simd: _Axis, pe: _Axis) -> list[int]:
    """Every input parallelism a compute layer can read at (the lowering's rule)."""
    if spec.op == "conv":
        return sorted({math.gcd(spec.in_channels, int(q)) for q in simd.values})
    if spec.op == "dwconv":
        return [int(p) for p in pe.values]
    return [int(q) for q in simd.values]


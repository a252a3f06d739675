"""The one FINN lowering: a :class:`NetworkSpec` becomes the list of nodes FINN builds.

Everything that turns a network into FPGA hardware reads this module and nothing else re-derives
it: the cost model (:class:`hw_models.cost.FinnCostModel` prices the nodes' ops), the exact
folding searches (:mod:`hw_models.folding` price one layer's nodes per candidate folding), the
vectorized pricer (:class:`hw_models.batch_pricing.BatchPricer` evaluates the same rules on
numpy arrays of foldings and bits) and FINN's build files (:mod:`hw_models.finn_build` writes
the nodes' names and folding attributes to ``folding_config.json``).

What FINN builds (finn-plus 1.6.1, checked node by node in ``bench/FINN_CHECK.md``), in graph
order, with the parallelism each node gets:

========================  =====================================================================
layer                     nodes
========================  =====================================================================
network input             ``Thresholding`` (the input quantizer), ``PE = gcd(C, the first
                          compute layer's input parallelism)``, 1 when the network starts with
                          an fc
conv                      ``FMPadding`` when ``padding > 0``; ``ConvolutionInputGenerator``
                          (none for a 1x1, stride-1, unpadded conv); ``MVAU``.  The generator
                          and the padding get the MVAU's SIMD; a SIMD above ``C_in`` (a multiple
                          of it dividing ``K*K*C_in``) uses the parallel-window generator at
                          ``SIMD = C_in`` and a width converter down to the MVAU's SIMD when it
                          is below ``K*K*C_in``
dwconv                    ``FMPadding``; a depthwise generator at the VVAU's PE (parallel-window
                          when the VVAU's SIMD > 1); ``VVAU``
maxpool                   a depthwise generator and ``Pool``, both at the largest divisor of
                          ``C`` not above the incoming stream's parallelism (the pool keeps
                          pace with its producer without widening the stream)
fc                        ``MVAU``
network output            ``ElementwiseMul`` (the output scale), ``PE = gcd(outputs, the last
                          compute layer's PE)``
========================  =====================================================================

Between layers FINN inserts, after its estimate, a ``StreamingDataWidthConverter`` where the
producer's and consumer's stream widths differ and a ``StreamingFIFO`` at every boundary; the
lowering places them too (``interconnect`` nodes, priced unless the settings leave them out,
never written to the folding config).  Layers are lowered one at a time by :func:`lower_layer`
from a :class:`Choice` (folding and bits) and the incoming :class:`Stream`; every field may be
a numpy array, which is how the vectorized pricer prices many designs with these same rules.
Torch-free.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from fpga.errors import InputError
from fpga.folding import conv_needs_swg, divisors, folding_error, uses_parallel_window
from hw_models.arrays import is_array, trunc, where
from hw_models.finn_ops import (DEFAULT_LUT_VARIANT, LUT_VARIANTS, RES_TYPES, SWG_IMPLS,
                                VVAU, WEIGHT_MEMORIES, MVAU, ConvolutionInputGenerator,
                                DataWidthConverter, ElementwiseMul, FinnOp, FMPadding, Pool,
                                StreamingFIFO, Thresholding)
from hw_models.network import InputSpec, LayerSpec, NetworkSpec

__all__ = ["Choice", "DEFAULT_FIFO_DEPTH", "LayerLowering", "Lowering", "Node", "Settings",
           "Stream", "choice_of", "input_parallelism", "largest_divisor_at_most", "lower",
           "lower_layer", "lower_links", "output_node", "pool_parallelism", "threshold_node",
           "unsupported_reason"]

#: depth of the FIFO placed at every layer boundary (an allowance: FINN sizes FIFOs by
#: simulation after its estimate, see :class:`~hw_models.finn_ops.StreamingFIFO`)
DEFAULT_FIFO_DEPTH = 32
#: memory styles written to the folding config: FINN's defaults for the MVAU; ``"auto"`` for
#: the generator (FINN's default is ``"distributed"``) because its buffer is priced as BRAM,
#: which is what FINN estimates for ``"auto"``/``"block"``: the exported design is the priced one
DEFAULT_RAM_STYLE = "auto"
DEFAULT_SWG_RAM_STYLE = "auto"
DEFAULT_RES_TYPE = "lut"
DEFAULT_MEM_MODE = "internal_decoupled"
#: ops the lowering has rules for
LOWERED_OPS = ("conv", "dwconv", "maxpool", "fc")
#: the tool flows whose engines the lowering knows (:func:`finn_types`)
TOOLFLOWS = ("finn", "bnn-pynq")


@dataclass(frozen=True)
class Settings:
    """Implementation choices the nodes depend on (``FinnCostModel``'s formula settings)."""

    lut_variant: str = DEFAULT_LUT_VARIANT
    weight_mem: str = "block"
    swg_impl: str = "rtl"
    res_type: str = "lut"
    fifo_depth: int = DEFAULT_FIFO_DEPTH
    interconnect: bool = True
    #: price what FINN's estimate leaves out and real builds contain (LUTRAM weights);
    #: ``False``: FINN's own estimate, node by node
    beyond_finn: bool = True
    #: whose engines: ``finn`` (finn-plus, what this toolkit exports to) or ``bnn-pynq``
    #: (BNN-PYNQ's hand-written HLS builds, for pricing its published designs)
    toolflow: str = "finn"

    def __post_init__(self) -> None:
        for key, accepted in (("lut_variant", LUT_VARIANTS), ("weight_mem", WEIGHT_MEMORIES),
                              ("swg_impl", SWG_IMPLS), ("res_type", RES_TYPES),
                              ("toolflow", TOOLFLOWS)):
            if getattr(self, key) not in accepted:
                raise InputError(key, f"unknown value {getattr(self, key)!r}", accepted)

    @property
    def parallel_window(self) -> bool:
        """Whether the parallel-window generator exists (RTL generator only)."""
        return self.swg_impl == "rtl"


@dataclass(frozen=True)
class Stream:
    """The stream between two nodes: ``par`` elements of ``bits`` per cycle, ``elems`` per
    frame.  ``par`` and ``bits`` may be arrays."""

    par: Any
    bits: Any
    elems: int

    @property
    def width(self) -> Any:
        return self.par * self.bits

    @property
    def frame_bits(self) -> Any:
        return self.elems * self.bits


@dataclass(frozen=True)
class Choice:
    """A compute layer's folding and bits (``act_bits`` 0: no activation); any field may be a
    numpy array (one value per design)."""

    pe: Any = 1
    simd: Any = 1
    weight_bits: Any = 0
    act_bits: Any = 0


def choice_of(layer: LayerSpec) -> Choice:
    """The choice a :class:`LayerSpec` carries (missing folding = 1, fully folded)."""
    return Choice(layer.pe or 1, layer.simd or 1, layer.weight_bits or 0, layer.act_bits or 0)


@dataclass(frozen=True)
class Node:
    """One node of the accelerator.

    ``op``: the priced operator; ``owner``: the layer whose cost it counts in (links and the
    input quantizer count in the layer they feed, the output FIFO and scale in the last one);
    ``layer``: the folding config's label (``"<input>"``/``"<output>"`` for the quantizer and
    the output scale); ``finn_op``/``impl_style``: FINN's op type before specialization and the
    pinned style (``None`` for interconnect FINN inserts itself); ``attrs``: the folding-config
    attributes; ``name``/``base_name``: FINN's names after/before specialization;
    ``priced``: whether the cost model counts it (the input quantizer of a network whose input
    arrives quantized is not).
    """

    op: FinnOp
    owner: str
    layer: str
    finn_op: str | None = None
    impl_style: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    base_name: str = ""
    priced: bool = True

    @property
    def interconnect(self) -> bool:
        """A width converter or FIFO: FINN inserts it after its estimate."""
        return self.finn_op is None

    @property
    def op_type(self) -> str:
        """FINN's op type after specialization, e.g. ``MVAU_hls``."""
        return self.name.rsplit("_", 1)[0]

    @property
    def base_op(self) -> str:
        return self.base_name.rsplit("_", 1)[0]


@dataclass(frozen=True)
class LayerLowering:
    """The nodes of one layer, the stream it reads (``in_par`` elements of ``in_bits`` per
    cycle) and the stream it writes."""

    nodes: tuple[Node, ...]
    in_par: Any
    in_bits: Any
    out: Stream

    @property
    def in_width(self) -> Any:
        return self.in_par * self.in_bits


@dataclass(frozen=True)
class Lowering:
    """A whole network: its nodes in graph order and the layers the model cannot lower."""

    nodes: tuple[Node, ...]
    unsupported: tuple[Mapping[str, str], ...] = ()

    def dataflow(self) -> list[Node]:
        """The nodes of FINN's dataflow partition (the folding config's entries)."""
        return [n for n in self.nodes if not n.interconnect]


# ------------------------------------------------------------------ helpers (ints or arrays)
_DIVISOR_TABLES: dict[tuple[int, int], np.ndarray] = {}


def largest_divisor_at_most(n: int, limit: Any) -> Any:
    """The largest divisor of ``n`` not above ``max(1, limit)`` (element-wise on arrays)."""
    if not is_array(limit):
        return max(d for d in divisors(n) if d <= max(1, limit))
    size = int(np.max(limit)) + 1 if limit.size else 1
    key = (n, max(size, n + 1))
    table = _DIVISOR_TABLES.get(key)
    if table is None:
        table = np.ones(key[1], dtype=np.int64)
        best = 1
        for x in range(1, key[1]):
            if x <= n and n % x == 0:
                best = x
            table[x] = best
        _DIVISOR_TABLES[key] = table
    return table[np.clip(limit, 0, key[1] - 1)]


def _gcd(a: int, b: Any) -> Any:
    return np.gcd(a, b) if is_array(b) else math.gcd(a, b)


def _acc_out_bits(engine: Any, act_bits: Any) -> Any:
    """Bits per output value: the activation's, or the accumulator's without one."""
    if not is_array(act_bits) and act_bits:
        return act_bits
    return where(act_bits > 0, act_bits, trunc(engine.acc_bits()))


def unsupported_reason(layer: LayerSpec) -> str | None:
    """Why the lowering cannot turn ``layer`` into FINN nodes (``None``: it can)."""
    if layer.op not in LOWERED_OPS:
        return f"no FINN lowering for op {layer.op!r} (lowered ops: {list(LOWERED_OPS)})"
    if layer.is_compute and layer.weight_bits is None:
        return "weight_bits missing"
    if layer.op == "maxpool" and layer.stride > layer.kernel:
        return (f"max-pool stride {layer.stride} exceeds its kernel {layer.kernel}: FINN cannot "
                "map it to hardware (InferPool skips it)")
    return None


# ------------------------------------------------------------------ one layer
def input_parallelism(layer: LayerSpec, x: Choice) -> Any:
    """Elements per cycle a compute layer reads: the generator's SIMD for a conv (its SIMD, or
    ``C_in`` in the parallel-window mode), the PE for a depthwise conv, the SIMD for an fc."""
    if layer.op == "conv":
        return _gcd(layer.in_channels, x.simd)
    if layer.op == "dwconv":
        return x.pe
    return x.simd


def finn_types(weight_bits: Any, in_bits: Any, toolflow: str = "finn") -> tuple[Any, Any]:
    """``(weight bits, input signed)`` of the matrix engine the tool flow builds
    (``bench/finn_parity.json``: finn-plus 1.6.1's data types after streamlining):

    * 1-bit weights on 1-bit (bipolar) inputs: XNOR-popcount (``binaryXnorMode``), the inputs
      recast to unsigned ``BINARY``;
    * 1-bit (bipolar) weights on wider inputs: finn-plus stores them as ``INT2`` - twice the
      weight memory and MAC width; BNN-PYNQ's hand-written HLS (``toolflow = "bnn-pynq"``)
      keeps them at 1 bit (finn-hlslib's ``Recast<Binary>`` weights);
    * otherwise the bits as given; 1-bit inputs are bipolar, hence signed.
    """
    xnor = (weight_bits == 1) & (in_bits == 1)
    w = weight_bits
    if toolflow == "finn":
        w = where((weight_bits == 1) & (in_bits > 1), 2, weight_bits)
    return w, (in_bits == 1) & ~xnor if is_array(xnor) else (in_bits == 1 and not xnor)


def _mvau(layer: LayerSpec, x: Choice, a: Any, s: Settings) -> MVAU:
    w, signed = finn_types(x.weight_bits, a, s.toolflow)
    return MVAU(layer.mw, layer.mh, x.pe, x.simd, w, a, x.act_bits,
                n_vectors=layer.n_vectors, in_signed=signed, lut_variant=s.lut_variant,
                weight_mem=s.weight_mem, res_type=s.res_type)


def _swg_attrs(simd: Any, parallel: Any) -> dict[str, Any]:
    return {"SIMD": simd, "parallel_window": parallel * 1, "ram_style": DEFAULT_SWG_RAM_STYLE}


def _lower_conv(l: LayerSpec, x: Choice, stream: Stream, s: Settings) -> LayerLowering:
    a, n = stream.bits, l.name
    par = uses_parallel_window(l, x.pe, x.simd)
    gen_simd = input_parallelism(l, x)
    p = l.padding
    nodes: list[Node] = []
    if p > 0:
        nodes.append(Node(FMPadding(l.in_channels, l.in_h, l.in_w, p, gen_simd), n, n,
                          "FMPadding", "rtl", {"SIMD": gen_simd}))
    if conv_needs_swg(l):
        swg = ConvolutionInputGenerator(l.in_channels, l.in_h + 2 * p, l.in_w + 2 * p,
                                        l.out_h, l.out_w, l.kernel, l.stride, gen_simd, a,
                                        s.swg_impl, parallel_window=par)
        nodes.append(Node(swg, n, n, "ConvolutionInputGenerator", "rtl",
                          _swg_attrs(gen_simd, par)))
        if s.interconnect and (is_array(par) or par):
            # the parallel window emits K*K*C_in elements per cycle; FINN converts them to the
            # MVAU's SIMD (no converter where the widths agree)
            window = swg.out_elements * a
            nodes.append(Node(DataWidthConverter(window, x.simd * a,
                                                 l.out_h * l.out_w * l.mw * a), n, n))
    mvau = _mvau(l, x, a, s)
    nodes.append(Node(mvau, n, n, "MVAU", "hls",
                      {"PE": x.pe, "SIMD": x.simd, "ram_style": DEFAULT_RAM_STYLE,
                       "resType": s.res_type, "mem_mode": DEFAULT_MEM_MODE}))
    out = Stream(x.pe, _acc_out_bits(mvau, x.act_bits), l.mh * l.out_h * l.out_w)
    return LayerLowering(tuple(nodes), gen_simd, a, out)


def _lower_fc(l: LayerSpec, x: Choice, stream: Stream, s: Settings) -> LayerLowering:
    a = stream.bits
    mvau = _mvau(l, x, a, s)
    node = Node(mvau, l.name, l.name, "MVAU", "hls",
                {"PE": x.pe, "SIMD": x.simd, "ram_style": DEFAULT_RAM_STYLE,
                 "resType": s.res_type, "mem_mode": DEFAULT_MEM_MODE})
    return LayerLowering((node,), x.simd, a, Stream(x.pe, _acc_out_bits(mvau, x.act_bits), l.mh))


def _lower_dwconv(l: LayerSpec, x: Choice, stream: Stream, s: Settings) -> LayerLowering:
    a, n, p = stream.bits, l.name, l.padding
    nodes: list[Node] = []
    if p > 0:
        nodes.append(Node(FMPadding(l.in_channels, l.in_h, l.in_w, p, x.pe), n, n,
                          "FMPadding", "rtl", {"SIMD": x.pe}))
    par = uses_parallel_window(l, x.pe, x.simd)
    nodes.append(Node(ConvolutionInputGenerator(l.in_channels, l.in_h + 2 * p, l.in_w + 2 * p,
                                                l.out_h, l.out_w, l.kernel, l.stride, x.pe, a,
                                                s.swg_impl, depthwise=True,
                                                parallel_window=par),
                      n, n, "ConvolutionInputGenerator", "rtl", _swg_attrs(x.pe, par)))
    w, signed = finn_types(x.weight_bits, a, s.toolflow)
    vvau = VVAU(l.in_channels, l.kernel, l.out_h, l.out_w, x.pe, x.simd, w, a,
                x.act_bits, in_signed=signed, lut_variant=s.lut_variant, res_type=s.res_type,
                lutram_weights=s.beyond_finn)
    nodes.append(Node(vvau, n, n, "VVAU", "hls",
                      {"PE": x.pe, "SIMD": x.simd, "resType": s.res_type}))
    out = Stream(x.pe, _acc_out_bits(vvau, x.act_bits), l.in_channels * l.out_h * l.out_w)
    return LayerLowering(tuple(nodes), x.pe, a, out)


def _lower_maxpool(l: LayerSpec, x: Choice, stream: Stream, s: Settings) -> LayerLowering:
    a, n, c = stream.bits, l.name, l.in_channels
    par = largest_divisor_at_most(c, stream.par)
    swg = ConvolutionInputGenerator(c, l.in_h, l.in_w, l.out_h, l.out_w, l.kernel, l.stride,
                                    par, a, s.swg_impl, depthwise=True)
    nodes = (Node(swg, n, n, "ConvolutionInputGenerator", "rtl", _swg_attrs(par, 0)),
             Node(Pool(c, l.out_h, l.out_w, l.kernel, par), n, n, "Pool", "hls", {"PE": par}))
    return LayerLowering(nodes, par, a, Stream(par, a, c * l.out_h * l.out_w))


#: one lowering rule per op kind
RULES: dict[str, Callable[[LayerSpec, Choice, Stream, Settings], LayerLowering]] = {
    "conv": _lower_conv, "dwconv": _lower_dwconv, "maxpool": _lower_maxpool, "fc": _lower_fc}


def lower_layer(layer: LayerSpec, x: Choice, stream: Stream, s: Settings) -> LayerLowering:
    """The nodes of one layer at choice ``x``, reading ``stream`` (its ``bits`` are the layer's
    input bits; a max-pool takes its parallelism from the stream's).  No legality checks:
    :func:`check_choice` (or the vectorized pricer's validation) does them."""
    return RULES[layer.op](layer, x, stream, s)


def lower_links(prev: Stream | None, in_width: Any, s: Settings, fifo: bool, owner: str
                ) -> tuple[Node, ...]:
    """The interconnect in front of a node reading ``in_width``-bit words: a width converter
    from ``prev`` (``None``: nothing streams into it, e.g. the host) and, with ``fifo``, the
    FIFO allowance.  None without ``s.interconnect``."""
    if not s.interconnect:
        return ()
    out: list[Node] = []
    if prev is not None and (is_array(prev.width, in_width) or prev.width != in_width):
        out.append(Node(DataWidthConverter(prev.width, in_width, prev.frame_bits), owner,
                        owner))
    if fifo and s.fifo_depth:
        out.append(Node(StreamingFIFO(s.fifo_depth, in_width), owner, owner))
    return tuple(out)


def threshold_node(inp: InputSpec, pe: Any, owner: str, priced: bool = True) -> Node:
    """The input quantizer (``Thresholding_rtl``) at ``pe``."""
    return Node(Thresholding(inp.channels, inp.height, inp.width, pe, inp.bits), owner,
                "<input>", "Thresholding", "rtl", {"PE": pe}, priced=priced)


def output_node(last_compute: LayerSpec, pe: Any, elements: int, owner: str,
                priced: bool = True) -> Node:
    """The output scale (``ElementwiseMul_hls``) at ``gcd(outputs, PE of the last compute
    layer)``."""
    par = _gcd(last_compute.out_channels, pe)
    return Node(ElementwiseMul(elements, par), owner, "<output>", "ElementwiseMul", "hls",
                {"PE": par}, priced=priced)


def check_choice(layer: LayerSpec, x: Choice, where_: str, parallel_window: bool = True
                 ) -> None:
    """Raise :class:`InputError` naming ``<where_>.pe`` / ``.simd`` for an illegal folding."""
    if not layer.is_compute:
        return
    err = folding_error(layer, x.pe, x.simd, parallel_window)
    if err:
        attr, msg, accepted = err
        raise InputError(f"{where_}.{attr}", f"layer '{layer.name}': {msg}", accepted)


# ------------------------------------------------------------------ the whole network
def _name(nodes: list[Node]) -> list[Node]:
    """FINN's names: ``<op>_<k>`` counted per op type in graph order, before specialization
    (``MVAU_3``) and after it (``MVAU_hls_3``: HLS and RTL nodes counted apart)."""
    counters: dict[str, int] = {}
    out = []
    for node in nodes:
        if node.interconnect:
            out.append(node)
            continue
        before, after = node.finn_op, f"{node.finn_op}_{node.impl_style}"
        kb, ka = counters.get(before, 0), counters.get(after, 0)
        counters[before], counters[after] = kb + 1, ka + 1
        out.append(dataclasses.replace(node, name=f"{after}_{ka}", base_name=f"{before}_{kb}"))
    return out


def lower(spec: NetworkSpec, s: Settings = Settings(), *, strict: bool = False,
          input_quantizer: bool | None = None, where: Callable[[int], str] | None = None
          ) -> Lowering:
    """The nodes FINN builds for ``spec`` (missing folding = 1), in graph order, named.

    ``strict``: a layer the lowering cannot map raises :class:`InputError` (the exporter);
    otherwise it is left out and listed in ``unsupported`` (the cost model reports it).
    ``input_quantizer``: price the nodes this toolkit's exports add around the network, the
    input quantizer and the output scale (default ``spec.input.thresholding``, which marks such
    a network; a published network read from JSON has neither).  Both nodes are always in the
    list: the folding config always configures them.  Illegal folding
    raises :class:`InputError` naming ``where(i).pe`` / ``.simd`` (default ``layers[i]``).
    """
    where = where or (lambda i: f"layers[{i}]")
    unsupported: list[dict[str, str]] = []
    usable: list[tuple[int, LayerSpec]] = []
    for i, layer in enumerate(spec.layers):
        if layer.is_compute and layer.op in LOWERED_OPS:
            check_choice(layer, choice_of(layer), where(i))
        reason = unsupported_reason(layer)
        if reason:
            if strict:
                if layer.op not in LOWERED_OPS:
                    raise InputError(f"layer '{layer.name}'.op", reason, list(LOWERED_OPS))
                if layer.op == "maxpool":
                    raise InputError(f"layer '{layer.name}'.stride", reason,
                                     [f"1..{layer.kernel}"])
                raise InputError(f"layer '{layer.name}'.weight_bits", reason, ["1..32"])
            unsupported.append({"name": layer.name, "reason": reason})
            continue
        usable.append((i, layer))
    compute = [l for _, l in usable if l.is_compute]
    if not compute:
        if strict:
            raise InputError("layers", "no conv, dwconv or fc layer; FINN needs at least one "
                             "MVAU or VVAU")
        return Lowering((), tuple(unsupported))
    inp = spec.input
    priced_th = inp.thresholding if input_quantizer is None else input_quantizer
    first = usable[0][1]
    th_pe = 1 if first.op == "fc" else _gcd(inp.channels,
                                            input_parallelism(compute[0], choice_of(compute[0])))
    nodes: list[Node] = [threshold_node(inp, th_pe, first.name, priced_th)]
    stream = Stream(th_pe, inp.bits, inp.channels * inp.height * inp.width)
    prev: Stream | None = stream if priced_th else None
    for k, (_, layer) in enumerate(usable):
        low = lower_layer(layer, choice_of(layer), stream, s)
        nodes += lower_links(prev, low.in_par * stream.bits, s, fifo=k > 0, owner=layer.name)
        nodes += low.nodes
        stream = prev = low.out
    last = usable[-1][1]
    nodes += lower_links(None, stream.width, s, fifo=True, owner=last.name)
    nodes.append(output_node(compute[-1], compute[-1].pe or 1, stream.elems, last.name,
                             priced_th))
    return Lowering(tuple(_name(nodes)), tuple(unsupported))


def spec_of_layers(layers: Sequence[LayerSpec]) -> NetworkSpec:
    """A :class:`NetworkSpec` around bare layers (the exporter's view: the input quantizer is
    always built, from the first layer's input)."""
    if not layers:
        raise InputError("layers", "empty; a network needs at least one layer")
    first = layers[0]
    inp = InputSpec(first.in_channels, first.in_h, first.in_w, first.in_bits, True)
    return NetworkSpec("layers", inp, tuple(layers))


def pool_parallelism(spec: NetworkSpec | Sequence[LayerSpec]) -> dict[str, int]:
    """``{max-pool name: PE}``: the parallelism the lowering gives each max-pool (its Pool's PE
    and its generator's SIMD)."""
    if not isinstance(spec, NetworkSpec):
        spec = spec_of_layers(list(spec))
    return {n.layer: n.attrs["PE"] for n in lower(spec).nodes if n.finn_op == "Pool"}

"""FINN's ``folding_config.json`` for a network exported by :func:`fpga.export.export_qonnx`.

FINN applies a folding config by *node name* and silently skips names it does not find (it
only logs "Unused HW configurations"), so the names here must be the ones FINN gives our
QONNX after its build steps up to ``step_specialize_layers``.  They were checked against
finn-plus 1.6.1's estimate-only build (``bench/finn_check.py``, findings in
``bench/FINN_CHECK.md``).  FINN numbers nodes per specialized op type in graph order:

==============================  =============================================================
``Thresholding_rtl_0``          the input quantizer (pixels / 255 -> uint8), ``PE | C_in``
``FMPadding_rtl_<f>``           one per conv with ``padding > 0``, before its generator
``ConvolutionInputGenerator``   ``_rtl_<s>``: one per conv *and* one per max-pool, in graph
                                order (a max-pool is a depthwise generator plus a pool node);
                                none for a 1x1, stride-1, unpadded conv (no im2col needed)
``MVAU_hls_<m>``                every conv / fc layer with an activation (thresholds embedded)
``Pool_hls_<p>``                every max-pool (finn-plus 1.6.1 has no StreamingMaxPool)
``ElementwiseMul_hls_0``        the output scale after the last layer
==============================  =============================================================

Two nodes have an implementation FINN picks from data types and the part, so the config
carries both possible names with the same values (FINN applies the one that exists and logs
the other as unused):

* the last compute layer *without* an activation (its accumulator is the output) becomes
  ``MVAU_rtl_0`` (DSP-based) when its input and weight types are >= 4 bits, the weights are
  narrow-range on DSP48E1 parts and the widths fit the DSP - after FINN has minimized the
  weight width from the *trained* values - and ``MVAU_hls_<m>`` otherwise.  Only that layer
  can become RTL (an MVAU with embedded thresholds is always HLS), so ``MVAU_rtl_0`` is
  unambiguous.  ``resType`` is set only on the HLS name (``"lut"`` is an error for the RTL MVU).
* the output scale is ``ElementwiseMul_rtl_0`` on Versal parts (int x float), else ``_hls_0``.

Parallelism choices (every value is legal by :mod:`fpga.folding`):

* conv: the MVAU gets the layer's PE/SIMD; its generator and padding get ``SIMD`` = the MVAU's
  SIMD (FINN's convention, no width converter between them); ``SIMD | C_in`` is required.
* max-pool: FINN's pool node reads the depthwise generator's output, so the pool's ``PE`` must
  equal the generator's ``SIMD``.  Both get the largest divisor of ``C`` not above the width of
  the stream that feeds the pool (the previous conv's PE, the previous pool's PE, or the input
  quantizer's PE): the pool then keeps pace with its producer without widening the stream.
  :func:`pool_parallelism` gives the same numbers to a cost model.
* input quantizer: ``PE`` = ``gcd(C_in, SIMD of the first compute layer)`` when the network
  starts with a conv or max-pool (1 when it starts with an fc: its channel count is unknown
  to a flattened layer).
* output scale: ``PE`` = ``gcd(outputs, PE of the last compute layer)``.

This module is pure Python (no torch, onnx or FINN); ``layers`` are duck-typed
:class:`hw_models.network.LayerSpec` objects (``.name .op .pe .simd .in_channels
.out_channels .kernel .padding`` and, for the no-activation rule, ``.act_bits``).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path
from typing import Any, Mapping, Sequence

from fpga.folding import divisors, is_legal_mvau

__all__ = ["FinnNode", "conv_needs_swg", "finn_nodes", "finn_node_names",
           "finn_folding_config", "pool_parallelism", "write_folding_config"]

#: The input ``Transpose`` (NCHW -> NHWC) is the one node FINN leaves to the host.
HOST_NODES = ("Transpose",)
#: Memory styles: FINN's defaults for the MVAU; for the sliding-window generator ``"auto"``
#: (FINN's default is ``"distributed"``) because ``hw_models`` prices its buffer as BRAM, which
#: is what FINN estimates for ``"auto"``/``"block"`` - the exported design is the priced one.
DEFAULT_RAM_STYLE = "auto"
DEFAULT_SWG_RAM_STYLE = "auto"
DEFAULT_RES_TYPE = "lut"
DEFAULT_MEM_MODE = "internal_decoupled"


@dataclass(frozen=True)
class FinnNode:
    """One node FINN creates for our network: its name, our layer, and its folding attributes.

    ``alternates`` are other names FINN may give the same node (see the module docstring).
    """

    name: str
    layer: str
    attrs: Mapping[str, Any]
    alternates: tuple[str, ...] = ()
    alternate_attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def op_type(self) -> str:
        return self.name.rsplit("_", 1)[0]


def conv_needs_swg(layer: Any) -> bool:
    """Whether FINN puts a sliding-window generator in front of a conv's MVAU: always, except
    for a 1x1 kernel with stride 1 and no padding (no im2col needed).  Shared with
    ``hw_models.cost`` so that the priced design is the exported one."""
    return (layer.kernel != 1 or getattr(layer, "padding", 0) != 0
            or getattr(layer, "stride", 1) != 1)


def _largest_divisor_at_most(n: int, limit: int) -> int:
    return max(d for d in divisors(n) if d <= max(1, limit))


def _int(layer: Any, attr: str, where: str) -> int:
    v = getattr(layer, attr, None)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{where}.{attr}: got {v!r}; the FINN folding config needs a positive "
                         "integer (choose the folding before exporting)")
    return v


def finn_nodes(layers: Sequence[Any], *, ram_style: str = DEFAULT_RAM_STYLE,
               res_type: str = DEFAULT_RES_TYPE, mem_mode: str = DEFAULT_MEM_MODE,
               swg_ram_style: str = DEFAULT_SWG_RAM_STYLE) -> list[FinnNode]:
    """The nodes of FINN's dataflow partition for ``layers``, in graph order, with folding.

    Raises ``ValueError`` naming the layer when a compute layer has no PE/SIMD or an illegal
    one, when a max-pool's stride exceeds its kernel (FINN's ``InferPool`` skips it and the
    build stops at the dataflow partition), or when an op is not conv / maxpool / fc.
    """
    layers = list(layers)
    if not layers:
        raise ValueError("layers: empty; a network needs at least one layer")
    counters: dict[str, int] = {}

    def name(op_type: str) -> str:
        k = counters.get(op_type, 0)
        counters[op_type] = k + 1
        return f"{op_type}_{k}"

    compute = [l for l in layers if getattr(l, "op", None) in ("conv", "dwconv", "fc")]
    if not compute:
        raise ValueError("layers: no conv or fc layer; FINN needs at least one MVAU")
    for layer in compute:
        where = f"layer '{layer.name}'"
        pe, simd = _int(layer, "pe", where), _int(layer, "simd", where)
        if layer.op == "dwconv":
            k2, ch = layer.kernel * layer.kernel, layer.in_channels
            if ch % pe or k2 % simd or (simd > 1 and pe != ch):
                raise ValueError(f"{where}: PE={pe}, SIMD={simd} is not a legal VVAU folding "
                                 f"(PE must divide {ch} channels, SIMD must divide K*K={k2}, "
                                 "SIMD > 1 needs PE = channels)")
            continue
        mw = layer.kernel * layer.kernel * layer.in_channels if layer.op == "conv" else layer.in_channels
        c_in = layer.in_channels if layer.op == "conv" else None
        if not is_legal_mvau(pe, simd, mw, layer.out_channels, c_in):
            raise ValueError(f"{where}: PE={pe}, SIMD={simd} is not a legal folding (PE must "
                             f"divide {layer.out_channels} output channels, SIMD must divide "
                             f"MW={mw}" + (f" and C_in={c_in}" if c_in else "") + ")")

    nodes: list[FinnNode] = []
    first = layers[0]
    if first.op == "fc":
        th_pe = 1
    else:
        th_pe = gcd(first.in_channels,
                    compute[0].pe if compute[0].op == "dwconv" else compute[0].simd)
    nodes.append(FinnNode(name("Thresholding_rtl"), "<input>", {"PE": th_pe}))
    stream = th_pe  # elements per cycle of the stream entering the next layer

    last_compute = compute[-1]
    for layer in layers:
        op = layer.op
        if op == "dwconv":  # depthwise: SWG at the VVAU's channel parallelism, then VVAU
            if getattr(layer, "padding", 0):
                nodes.append(FinnNode(name("FMPadding_rtl"), layer.name, {"SIMD": layer.pe}))
            nodes.append(FinnNode(name("ConvolutionInputGenerator_rtl"), layer.name,
                                  {"SIMD": layer.pe, "parallel_window": int(layer.simd > 1),
                                   "ram_style": swg_ram_style}))
            nodes.append(FinnNode(name("VVAU_hls"), layer.name,
                                  {"PE": layer.pe, "SIMD": layer.simd, "resType": res_type}))
            stream = layer.pe
            continue
        if op == "conv":
            simd = layer.simd
            if getattr(layer, "padding", 0):
                nodes.append(FinnNode(name("FMPadding_rtl"), layer.name, {"SIMD": simd}))
            if conv_needs_swg(layer):
                nodes.append(FinnNode(name("ConvolutionInputGenerator_rtl"), layer.name,
                                      {"SIMD": simd, "parallel_window": 0,
                                       "ram_style": swg_ram_style}))
        elif op == "maxpool":
            if getattr(layer, "stride", layer.kernel) > layer.kernel:
                raise ValueError(f"layer '{layer.name}': FINN cannot map a max-pool whose stride "
                                 f"({layer.stride}) exceeds its kernel ({layer.kernel}); it "
                                 "stays outside the dataflow partition")
            par = _largest_divisor_at_most(layer.in_channels, stream)
            nodes.append(FinnNode(name("ConvolutionInputGenerator_rtl"), layer.name,
                                  {"SIMD": par, "parallel_window": 0, "ram_style": swg_ram_style}))
            nodes.append(FinnNode(name("Pool_hls"), layer.name, {"PE": par}))
            stream = par
            continue
        elif op != "fc":
            raise ValueError(f"layer '{layer.name}'.op: unknown op {op!r} (accepted: conv, "
                             "dwconv, maxpool, fc)")
        mvau = {"PE": layer.pe, "SIMD": layer.simd, "ram_style": ram_style, "mem_mode": mem_mode}
        hls = {"PE": layer.pe, "SIMD": layer.simd, "ram_style": ram_style, "resType": res_type,
               "mem_mode": mem_mode}
        if layer is last_compute and getattr(layer, "act_bits", None) is None:
            nodes.append(FinnNode(name("MVAU_hls"), layer.name, hls,
                                  alternates=("MVAU_rtl_0",), alternate_attrs=mvau))
        else:
            nodes.append(FinnNode(name("MVAU_hls"), layer.name, hls))
        stream = layer.pe

    out_pe = gcd(last_compute.out_channels, last_compute.pe)
    nodes.append(FinnNode(name("ElementwiseMul_hls"), "<output>", {"PE": out_pe},
                          alternates=("ElementwiseMul_rtl_0",)))
    return nodes


def pool_parallelism(layers: Sequence[Any]) -> dict[str, int]:
    """``{max-pool layer name: PE}``: the parallelism the folding config gives each max-pool
    (its Pool node's PE and its generator's SIMD), so that a cost model prices the same design.
    """
    return {node.layer: node.attrs["PE"] for node in finn_nodes(layers)
            if node.op_type == "Pool_hls"}


def finn_node_names(layers: Sequence[Any], *, alternates: bool = False) -> list[str]:
    """FINN's node names for ``layers`` in graph order (``alternates``: add the other names)."""
    out: list[str] = []
    for node in finn_nodes(layers):
        out.append(node.name)
        if alternates:
            out.extend(node.alternates)
    return out


def finn_folding_config(layers: Sequence[Any], **kw: Any) -> dict[str, Any]:
    """FINN's folding config (``{"Defaults": {}, "<node>": {"PE": .., "SIMD": .., ...}}``).

    Keyword arguments (``ram_style``, ``res_type``, ``mem_mode``, ``swg_ram_style``) are
    passed to :func:`finn_nodes`; their defaults are FINN's own.
    """
    config: dict[str, Any] = {"Defaults": {}}
    for node in finn_nodes(layers, **kw):
        config[node.name] = dict(node.attrs)
        for alt in node.alternates:
            config[alt] = dict(node.alternate_attrs or node.attrs)
    return config


def write_folding_config(layers: Sequence[Any], path: str | os.PathLike, **kw: Any) -> Path:
    """Write :func:`finn_folding_config` as JSON, atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(finn_folding_config(layers, **kw), indent=2) + "\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path

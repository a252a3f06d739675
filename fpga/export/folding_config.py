"""FINN's build files for a network exported by :func:`fpga.export.export_qonnx`.

Three JSON files go next to ``model.qonnx.onnx`` (:func:`write_finn_build_files`):

``specialize_layers.json``
    FINN's ``specialize_layers_config_file``: ``{"<node before specialization>":
    {"preferred_impl_style": "hls" | "rtl"}}`` for every node of the dataflow partition.  It pins
    the implementation our cost model (``hw_models``) prices.  Without it FINN chooses a style
    from the data types and the part (e.g. the DSP-based ``MVAU_rtl`` for a last layer without an
    activation and >= 4-bit inputs and weights, after it has narrowed the weights from the trained
    values), so the names the folding config must use would not be known before the build.
``folding_config.json``
    FINN's ``folding_config_file``: ``{"Defaults": {}, "<node after specialization>": {"PE": ..,
    "SIMD": .., ...}}``, exactly one entry per node, keyed by the name FINN gives the node once
    its style is pinned.  FINN applies a folding config by node name and *skips unknown names
    silently* (it only logs "Unused HW configurations"), so a wrong name is a folding that is not
    applied; ``bench/finn_check.py check`` fails on one.
``finn_build.json``
    A ``DataflowBuildConfig`` (finn-plus 1.6.1 loads it with
    ``DataflowBuildConfig.construct_from(Path("finn_build.json"))``, or ``finn build
    finn_build.json model.qonnx.onnx``): the part, the clock, the two files above (paths relative
    to the JSON file) and FINN's estimate-only steps without ``step_target_fps_parallelization``
    (our folding is applied instead of FINN's own search).

FINN names nodes ``<op_type>_<k>``, counted per op type in graph order, both before
specialization (``MVAU_3``: after ``step_convert_to_hw``; ``step_specialize_layers`` renames the
dataflow partition with ``GiveUniqueNodeNamesRecursive`` before applying the specialize config,
the names are the same) and after it (``MVAU_hls_3``: the style joins the op type, so HLS and
RTL nodes are counted apart).  Verified against finn-plus 1.6.1's estimate-only build
(``bench/finn_check.py``, ``bench/FINN_CHECK.md``):

===============================  ======================  =====  ================================
FINN node before / after         what                    pin    what ``hw_models`` prices
===============================  ======================  =====  ================================
``Thresholding_<t>``             the input quantizer     rtl    ``Thresholding`` (RTL memory
/ ``Thresholding_rtl_<t>``       (pixels -> uint8)              model)
``FMPadding_<f>``                each conv / dwconv      rtl    ``FMPadding`` (finn-plus 1.6.1
/ ``FMPadding_rtl_<f>``          with ``padding > 0``           has only the RTL padding)
``ConvolutionInputGenerator_s``  one per conv (none for  rtl    ``ConvolutionInputGenerator``
/ ``..._rtl_<s>``                1x1 / stride 1 / no            (RTL, the only style in
                                 padding), per dwconv           finn-plus 1.6.1)
                                 and per max-pool
``MVAU_<m>``                     each conv / fc          hls    ``MVAU`` (HLS, LUT arithmetic),
/ ``MVAU_hls_<m>``                                              also for a last layer without
                                                                an activation, which FINN would
                                                                otherwise make ``MVAU_rtl``
``VVAU_<v> / VVAU_hls_<v>``      each dwconv             hls    ``VVAU`` (HLS)
``Pool_<p> / Pool_hls_<p>``      each max-pool           hls    ``Pool`` (the only style)
``ElementwiseMul_0``             the output scale        hls    not priced (0 LUT, a few cycles
/ ``ElementwiseMul_hls_0``                                      in FINN); FINN's own choice is
                                                                RTL on Versal
===============================  ======================  =====  ================================

Every pinned style exists for its op type on every part, and FINN keeps a pinned ``"hls"``
whenever an HLS variant exists (it never second-guesses it; ``"rtl"`` is checked for the
MVAU/VVAU/Elementwise ops only, which we pin to ``"hls"``), so the names do not depend on the
part: the same two files serve a Zynq and a Versal build.

Parallelism choices (every value is legal by :mod:`fpga.folding`):

* conv: the MVAU gets the layer's PE/SIMD; its generator and padding get ``SIMD`` = the MVAU's
  SIMD (FINN's convention, no width converter between them); ``SIMD | C_in`` is required.
* dwconv: the generator (and padding) get ``SIMD`` = the VVAU's PE; a VVAU SIMD > 1 uses the
  parallel-window generator.
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
.out_channels .kernel .padding .stride``).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any, Mapping, Sequence

from fpga.errors import InputError
from fpga.folding import divisors, is_legal_mvau

__all__ = ["FINN_ESTIMATE_STEPS", "FILES", "FinnNode", "conv_needs_swg", "finn_build_config",
           "finn_folding_config", "finn_node_names", "finn_nodes",
           "finn_specialize_layers_config", "pool_parallelism", "write_finn_build_files",
           "write_folding_config"]

#: The input ``Transpose`` (NCHW -> NHWC) is the one node FINN leaves to the host.
HOST_NODES = ("Transpose",)
#: Memory styles: FINN's defaults for the MVAU; for the sliding-window generator ``"auto"``
#: (FINN's default is ``"distributed"``) because ``hw_models`` prices its buffer as BRAM, which
#: is what FINN estimates for ``"auto"``/``"block"`` - the exported design is the priced one.
DEFAULT_RAM_STYLE = "auto"
DEFAULT_SWG_RAM_STYLE = "auto"
DEFAULT_RES_TYPE = "lut"
DEFAULT_MEM_MODE = "internal_decoupled"
IMPL_STYLES = ("hls", "rtl")

#: finn-plus 1.6.1's ``estimate_only_dataflow_steps`` less ``step_target_fps_parallelization``
#: (``bench/finn_check.py check`` fails if FINN's list moves away from this one).
FINN_ESTIMATE_STEPS = (
    "step_qonnx_to_finn",
    "step_tidy_up",
    "step_streamline",
    "step_convert_to_hw",
    "step_minimize_bit_width_initial",
    "step_create_dataflow_partition",
    "step_specialize_layers",
    "step_apply_folding_config",
    "step_minimize_bit_width",
    "step_generate_estimate_reports",
)

#: The files :func:`write_finn_build_files` writes, by role.
FILES = {"folding_config": "folding_config.json",
         "specialize_layers": "specialize_layers.json",
         "finn_build": "finn_build.json"}

_PART_RE = re.compile(r"^x[a-z][a-z0-9]+(-[A-Za-z0-9]+)*$")


@dataclass(frozen=True)
class FinnNode:
    """One node FINN builds for our network, with its folding attributes.

    ``name``: FINN's name after ``step_specialize_layers`` (the folding config's key, e.g.
    ``MVAU_hls_3``); ``base_name``: its name before (the specialize config's key, ``MVAU_3``);
    ``impl_style``: the pinned style (``"hls"`` / ``"rtl"``); ``layer``: our layer
    (``"<input>"`` / ``"<output>"`` for the input quantizer and the output scale).
    """

    name: str
    layer: str
    attrs: Mapping[str, Any]
    base_name: str
    impl_style: str

    @property
    def op_type(self) -> str:
        """FINN's op type after specialization, e.g. ``MVAU_hls``."""
        return self.name.rsplit("_", 1)[0]

    @property
    def base_op(self) -> str:
        """FINN's op type before specialization, e.g. ``MVAU``."""
        return self.base_name.rsplit("_", 1)[0]


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
        raise InputError(f"{where}.{attr}", f"got {v!r}; the FINN folding config needs a "
                         "positive integer (choose the folding before exporting)",
                         ["an integer >= 1"])
    return v


def _check_folding(compute: Sequence[Any]) -> None:
    for layer in compute:
        where = f"layer '{layer.name}'"
        pe, simd = _int(layer, "pe", where), _int(layer, "simd", where)
        if layer.op == "dwconv":
            k2, ch = layer.kernel * layer.kernel, layer.in_channels
            if ch % pe or k2 % simd or (simd > 1 and pe != ch):
                raise InputError(f"{where}.pe/simd", f"PE={pe}, SIMD={simd} is not a legal "
                                 f"VVAU folding (PE must divide {ch} channels, SIMD must divide "
                                 f"K*K={k2}, SIMD > 1 needs PE = channels)")
            continue
        mw = (layer.kernel * layer.kernel * layer.in_channels if layer.op == "conv"
              else layer.in_channels)
        c_in = layer.in_channels if layer.op == "conv" else None
        if not is_legal_mvau(pe, simd, mw, layer.out_channels, c_in):
            raise InputError(f"{where}.pe/simd", f"PE={pe}, SIMD={simd} is not a legal folding "
                             f"(PE must divide {layer.out_channels} output channels, SIMD must "
                             f"divide MW={mw}" + (f" and C_in={c_in}" if c_in else "") + ")")


def finn_nodes(layers: Sequence[Any], *, ram_style: str = DEFAULT_RAM_STYLE,
               res_type: str = DEFAULT_RES_TYPE, mem_mode: str = DEFAULT_MEM_MODE,
               swg_ram_style: str = DEFAULT_SWG_RAM_STYLE) -> list[FinnNode]:
    """The nodes of FINN's dataflow partition for ``layers``, in graph order, with their names
    before and after specialization, the pinned style and the folding attributes.

    Raises :class:`~fpga.errors.InputError` (a ``ValueError``) naming the layer when a compute
    layer has no PE/SIMD or an illegal one, when a max-pool's stride exceeds its kernel (FINN's
    ``InferPool`` skips it and the build stops at the dataflow partition), or when an op is not
    conv / dwconv / maxpool / fc.
    """
    layers = list(layers)
    if not layers:
        raise InputError("layers", "empty; a network needs at least one layer")
    counters: dict[str, int] = {}
    nodes: list[FinnNode] = []

    def add(op: str, style: str, layer: str, attrs: Mapping[str, Any]) -> None:
        # FINN counts per op type, before (MVAU_k) and after (MVAU_hls_k) specialization
        before, after = op, f"{op}_{style}"
        kb, ka = counters.get(before, 0), counters.get(after, 0)
        counters[before], counters[after] = kb + 1, ka + 1
        nodes.append(FinnNode(f"{after}_{ka}", layer, dict(attrs), f"{before}_{kb}", style))

    for layer in layers:
        if getattr(layer, "op", None) not in ("conv", "dwconv", "maxpool", "fc"):
            raise InputError(f"layer '{getattr(layer, 'name', '?')}'.op",
                             f"unknown op {getattr(layer, 'op', None)!r}",
                             ["conv", "dwconv", "maxpool", "fc"])
    compute = [l for l in layers if l.op in ("conv", "dwconv", "fc")]
    if not compute:
        raise InputError("layers", "no conv, dwconv or fc layer; FINN needs at least one MVAU "
                         "or VVAU")
    _check_folding(compute)

    first = layers[0]
    if first.op == "fc":
        th_pe = 1
    else:
        th_pe = gcd(first.in_channels,
                    compute[0].pe if compute[0].op == "dwconv" else compute[0].simd)
    add("Thresholding", "rtl", "<input>", {"PE": th_pe})
    stream = th_pe  # elements per cycle of the stream entering the next layer

    swg = {"parallel_window": 0, "ram_style": swg_ram_style}
    for layer in layers:
        op = layer.op
        if op == "dwconv":  # depthwise: SWG at the VVAU's channel parallelism, then VVAU
            if getattr(layer, "padding", 0):
                add("FMPadding", "rtl", layer.name, {"SIMD": layer.pe})
            add("ConvolutionInputGenerator", "rtl", layer.name,
                {**swg, "SIMD": layer.pe, "parallel_window": int(layer.simd > 1)})
            add("VVAU", "hls", layer.name,
                {"PE": layer.pe, "SIMD": layer.simd, "resType": res_type})
            stream = layer.pe
        elif op == "maxpool":
            if getattr(layer, "stride", layer.kernel) > layer.kernel:
                raise InputError(f"layer '{layer.name}'.stride",
                                 f"FINN cannot map a max-pool whose stride ({layer.stride}) "
                                 f"exceeds its kernel ({layer.kernel}); it stays outside the "
                                 "dataflow partition", [f"1..{layer.kernel}"])
            par = _largest_divisor_at_most(layer.in_channels, stream)
            add("ConvolutionInputGenerator", "rtl", layer.name, {"SIMD": par, **swg})
            add("Pool", "hls", layer.name, {"PE": par})
            stream = par
        else:  # conv, fc: an MVAU, pinned to HLS (what hw_models prices) whatever its types
            if op == "conv":
                if getattr(layer, "padding", 0):
                    add("FMPadding", "rtl", layer.name, {"SIMD": layer.simd})
                if conv_needs_swg(layer):
                    add("ConvolutionInputGenerator", "rtl", layer.name,
                        {"SIMD": layer.simd, **swg})
            add("MVAU", "hls", layer.name,
                {"PE": layer.pe, "SIMD": layer.simd, "ram_style": ram_style,
                 "resType": res_type, "mem_mode": mem_mode})
            stream = layer.pe

    last = compute[-1]
    add("ElementwiseMul", "hls", "<output>", {"PE": gcd(last.out_channels, last.pe)})
    return nodes


def pool_parallelism(layers: Sequence[Any]) -> dict[str, int]:
    """``{max-pool layer name: PE}``: the parallelism the folding config gives each max-pool
    (its Pool node's PE and its generator's SIMD), so that a cost model prices the same design.
    """
    return {node.layer: node.attrs["PE"] for node in finn_nodes(layers)
            if node.op_type == "Pool_hls"}


def finn_node_names(layers: Sequence[Any], *, before_specialization: bool = False) -> list[str]:
    """FINN's node names for ``layers`` in graph order: after ``step_specialize_layers`` (the
    folding config's keys) or, with ``before_specialization``, before it (the specialize
    config's keys)."""
    return [n.base_name if before_specialization else n.name for n in finn_nodes(layers)]


def finn_folding_config(layers: Sequence[Any], **kw: Any) -> dict[str, Any]:
    """FINN's folding config (``{"Defaults": {}, "<node>": {"PE": .., "SIMD": .., ...}}``), one
    entry per node, keyed by FINN's name after specialization with the styles of
    :func:`finn_specialize_layers_config`.

    Keyword arguments (``ram_style``, ``res_type``, ``mem_mode``, ``swg_ram_style``) are
    passed to :func:`finn_nodes`.
    """
    config: dict[str, Any] = {"Defaults": {}}
    for node in finn_nodes(layers, **kw):
        config[node.name] = dict(node.attrs)
    return config


def finn_specialize_layers_config(layers: Sequence[Any]) -> dict[str, Any]:
    """FINN's ``specialize_layers_config_file`` content: ``{"Defaults": {}, "<node before
    specialization>": {"preferred_impl_style": "hls" | "rtl"}}`` for every node of the
    dataflow partition, pinning the style ``hw_models`` prices (table in the module docstring).
    The same for every part (every pinned style exists everywhere and FINN keeps it)."""
    config: dict[str, Any] = {"Defaults": {}}
    for node in finn_nodes(layers):
        config[node.base_name] = {"preferred_impl_style": node.impl_style}
    return config


def _resolve_target(device: Any, fpga_part: Any, clock_mhz: Any) -> tuple[str, float]:
    from fpga.devices import get_device

    dev = get_device(device) if (fpga_part is None or clock_mhz is None) else None
    part = dev.part if fpga_part is None else fpga_part
    if not isinstance(part, str) or not _PART_RE.match(part):
        raise InputError("fpga_part", f"got {part!r}", ["a Xilinx/AMD part name such as "
                         "xc7z020clg400-1, xczu3eg-sbva484-1-i, xcvc1902-vsva2197-2MP-e-S"])
    clk = dev.clock_mhz if clock_mhz is None else clock_mhz
    if isinstance(clk, bool) or not isinstance(clk, (int, float)) or not 0 < clk < 2000:
        raise InputError("clock_mhz", f"got {clk!r}", ["a number of MHz > 0 and < 2000"])
    return part, float(clk)


def finn_build_config(*, fpga_part: str | None = None, clock_mhz: float | None = None,
                      device: Any = "pynq-z1", output_dir: str = "finn_build") -> dict[str, Any]:
    """A finn-plus 1.6.1 ``DataflowBuildConfig`` as JSON (``finn_build.json``): our folding and
    pinned styles, FINN's estimate-only steps without ``step_target_fps_parallelization``.

    ``fpga_part`` / ``clock_mhz`` default to ``device``'s (:mod:`fpga.devices`).  File paths are
    relative to the JSON file (``DataflowBuildConfig.construct_from`` resolves them there);
    ``output_dir`` is resolved there by ``finn build`` but against the working directory by
    ``construct_from``.  Raises :class:`~fpga.errors.InputError` naming ``fpga_part`` /
    ``clock_mhz`` / ``device`` for a bad value.
    """
    part, clk = _resolve_target(device, fpga_part, clock_mhz)
    if not isinstance(output_dir, str) or not output_dir:
        raise InputError("output_dir", f"got {output_dir!r}", ["a non-empty path"])
    return {
        "output_dir": output_dir,
        "fpga_part": part,
        "synth_clk_period_ns": round(1000.0 / clk, 6),
        "folding_config_file": FILES["folding_config"],
        "specialize_layers_config_file": FILES["specialize_layers"],
        "steps": list(FINN_ESTIMATE_STEPS),
        "generate_outputs": ["estimate_reports"],
        "save_intermediate_models": True,
    }


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2) + "\n"


def _write_all(files: Mapping[Path, str]) -> None:
    """Write every file through a temp file in its folder, then ``os.replace`` them all: a
    failure before the first replace leaves nothing behind (no temp files either)."""
    tmps: dict[Path, Path] = {}
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmps[path] = tmp
            tmp.write_text(text)
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    finally:
        for tmp in tmps.values():
            if tmp.exists():
                tmp.unlink()


def write_folding_config(layers: Sequence[Any], path: str | os.PathLike, **kw: Any) -> Path:
    """Write :func:`finn_folding_config` as JSON, atomically; returns the path."""
    path = Path(path)
    _write_all({path: _dump(finn_folding_config(layers, **kw))})
    return path


def write_finn_build_files(layers: Sequence[Any], out_dir: str | os.PathLike, *,
                           fpga_part: str | None = None, clock_mhz: float | None = None,
                           device: Any = "pynq-z1", **fold_kw: Any) -> dict[str, Path]:
    """Write ``folding_config.json``, ``specialize_layers.json`` and ``finn_build.json`` into
    ``out_dir`` (created if needed); returns ``{"folding_config": path, "specialize_layers":
    path, "finn_build": path}``.

    Every file is computed before any is written (a bad layer, part or clock raises
    :class:`~fpga.errors.InputError` and writes nothing) and each is written through a temp file
    and ``os.replace``.  ``fpga_part`` / ``clock_mhz`` default to ``device``'s;  ``fold_kw``
    (``ram_style``, ``res_type``, ``mem_mode``, ``swg_ram_style``) go to
    :func:`finn_folding_config`.
    """
    out = Path(out_dir)
    contents = {
        "folding_config": finn_folding_config(layers, **fold_kw),
        "specialize_layers": finn_specialize_layers_config(layers),
        "finn_build": finn_build_config(fpga_part=fpga_part, clock_mhz=clock_mhz,
                                        device=device),
    }
    paths = {role: out / FILES[role] for role in FILES}
    _write_all({paths[role]: _dump(contents[role]) for role in FILES})
    return paths

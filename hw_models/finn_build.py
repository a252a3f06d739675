"""FINN's build files for a network exported by :func:`fpga.export.export_qonnx`.

The nodes, their names and their folding come from the one lowering
(:func:`hw_models.lowering.lower`), which the cost model prices: this module only writes them.

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

The parallelism each node gets is the lowering's (table in :mod:`hw_models.lowering`).

Pure Python (no torch, onnx or FINN).  ``layers`` is a :class:`~hw_models.network.NetworkSpec`
or a sequence of :class:`~hw_models.network.LayerSpec` (the input quantizer is then built from
the first layer's input).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from fpga.errors import InputError
from hw_models.lowering import (DEFAULT_MEM_MODE, DEFAULT_RAM_STYLE, DEFAULT_RES_TYPE,
                                DEFAULT_SWG_RAM_STYLE, Node, Settings, lower, pool_parallelism,
                                spec_of_layers)
from hw_models.network import NetworkSpec

__all__ = ["FINN_ESTIMATE_STEPS", "FILES", "FinnNode", "finn_build_config",
           "finn_folding_config", "finn_node_names", "finn_nodes",
           "finn_specialize_layers_config", "pool_parallelism", "write_finn_build_files",
           "write_folding_config"]

#: The input ``Transpose`` (NCHW -> NHWC) is the one node FINN leaves to the host.
HOST_NODES = ("Transpose",)
IMPL_STYLES = ("hls", "rtl")
#: a node of FINN's dataflow partition (the lowering's node type)
FinnNode = Node

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


def _spec(layers: NetworkSpec | Sequence[Any]) -> NetworkSpec:
    if isinstance(layers, NetworkSpec):
        return layers
    return spec_of_layers(list(layers))


def _require_folding(spec: NetworkSpec) -> None:
    for layer in spec.layers:
        if not layer.is_compute:
            continue
        for attr in ("pe", "simd"):
            v = getattr(layer, attr)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"layer '{layer.name}'.{attr}", f"got {v!r}; the FINN folding "
                                 "config needs a positive integer (choose the folding before "
                                 "exporting)", ["an integer >= 1"])


def finn_nodes(layers: NetworkSpec | Sequence[Any], *, ram_style: str = DEFAULT_RAM_STYLE,
               res_type: str = DEFAULT_RES_TYPE, mem_mode: str = DEFAULT_MEM_MODE,
               swg_ram_style: str = DEFAULT_SWG_RAM_STYLE) -> list[Node]:
    """The nodes of FINN's dataflow partition for ``layers``, in graph order, with their names
    before and after specialization, the pinned style and the folding attributes: the
    lowering's dataflow nodes (:func:`hw_models.lowering.lower`).

    Raises :class:`~fpga.errors.InputError` (a ``ValueError``) naming the layer when a compute
    layer has no PE/SIMD or an illegal one, when a max-pool's stride exceeds its kernel (FINN's
    ``InferPool`` skips it and the build stops at the dataflow partition), or when an op is not
    conv / dwconv / maxpool / fc.
    """
    spec = _spec(layers)
    _require_folding(spec)
    low = lower(spec, Settings(res_type=res_type), strict=True,
                where=lambda i: f"layer '{spec.layers[i].name}'")
    overrides = {"MVAU": {"ram_style": ram_style, "mem_mode": mem_mode},
                 "ConvolutionInputGenerator": {"ram_style": swg_ram_style}}
    out = []
    for node in low.dataflow():
        attrs = {k: (int(v) if not isinstance(v, str) else v) for k, v in node.attrs.items()}
        attrs.update({k: v for k, v in overrides.get(node.finn_op, {}).items() if k in attrs})
        out.append(Node(node.op, node.owner, node.layer, node.finn_op, node.impl_style, attrs,
                        node.name, node.base_name))
    return out


def finn_node_names(layers: NetworkSpec | Sequence[Any], *,
                    before_specialization: bool = False) -> list[str]:
    """FINN's node names for ``layers`` in graph order: after ``step_specialize_layers`` (the
    folding config's keys) or, with ``before_specialization``, before it (the specialize
    config's keys)."""
    return [n.base_name if before_specialization else n.name for n in finn_nodes(layers)]


def finn_folding_config(layers: NetworkSpec | Sequence[Any], **kw: Any) -> dict[str, Any]:
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


def finn_specialize_layers_config(layers: NetworkSpec | Sequence[Any]) -> dict[str, Any]:
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

"""Cost models and cost reports: what a network costs on a target, before any training.

``CostModel.estimate(spec) -> CostReport`` is the one role every cost model plays (the FINN-style
analytical FPGA model here; measured latency tables elsewhere).  Models are registered by name
(:func:`register_cost_model` / :func:`get_cost_model`).  A report carries totals, per-layer
figures and the layers the model could not price: those are listed in ``unsupported`` and make
the report invalid - never a silent zero.

:class:`FinnCostModel` prices a FINN dataflow pipeline (reference: ``fpga_cost_models.md``):
the nodes of the one lowering (:func:`hw_models.lowering.lower`, the nodes finn-plus 1.6.1
builds, ``bench/FINN_CHECK.md``), each priced by its op's formula (:mod:`hw_models.finn_ops`).
A layer's resources are the sum of its nodes', its cycles the max of its nodes'; a frame leaves
the pipeline every ``max_i c_i`` cycles, so ``fps = f_clk / cycles_per_frame`` (reference
section 2).  Torch-free.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np
from fpga.devices import Device, get_device
from fpga.errors import InputError
from hw_models.finn_ops import (DEFAULT_LUT_VARIANT, LUT_VARIANTS, RES_TYPES, SWG_IMPLS,
                                WEIGHT_MEMORIES, FinnOp, StageCost, lutram_luts)
from hw_models.io_cap import IOProfile, frame_bytes, get_profile
from hw_models.memory import spill_weights
from hw_models.shell import shell_for
from hw_models.lowering import (DEFAULT_FIFO_DEPTH, TOOLFLOWS, Lowering, Node, Settings, Stream,
                                check_choice, choice_of, lower, lower_layer, lower_links)
from hw_models.network import LayerSpec, NetworkSpec

log = logging.getLogger(__name__)

_TOTAL_KEYS = ("lut", "bram18", "dsp", "uram")


# ------------------------------------------------------------------------------ values
@dataclass(frozen=True)
class LayerCost:
    """One layer's cost per frame: its stages summed (resources), the slowest stage (cycles)."""

    name: str
    op: str
    cycles: int
    lut: int
    bram18: int
    dsp: int
    uram: int = 0
    pe: int | None = None
    simd: int | None = None
    stages: tuple[StageCost, ...] = ()

    @classmethod
    def from_stages(cls, name: str, op: str, stages: tuple[StageCost, ...],
                    pe: int | None = None, simd: int | None = None) -> "LayerCost":
        return cls(name, op, max(s.cycles for s in stages), sum(s.lut for s in stages),
                   sum(s.bram18 for s in stages), sum(s.dsp for s in stages),
                   sum(s.uram for s in stages), pe, simd, stages)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "cycles": self.cycles, "lut": self.lut,
                "bram18": self.bram18, "dsp": self.dsp, "pe": self.pe, "simd": self.simd,
                "uram": self.uram, "stages": [s.to_dict() for s in self.stages]}


@dataclass(frozen=True)
class CostReport:
    """What a network costs on one device at one clock.

    ``cycles_per_frame`` is the slowest stage's cycles and ``fps = clock_hz / cycles_per_frame``
    (reference section 2); ``critical_path_cycles`` adds up every stage (FINN's pessimistic
    latency).  ``unsupported`` lists ``{"name", "reason"}`` for layers the model could not
    price; such a report is not :attr:`valid`.
    """

    device: str
    clock_mhz: float
    lut: int
    bram18: int
    dsp: int
    uram: int
    cycles_per_frame: int
    fps: float
    bottleneck: str | None
    layers: tuple[LayerCost, ...]
    unsupported: tuple[Mapping[str, str], ...] = ()
    critical_path_cycles: int = 0
    model: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    fps_compute: float = 0.0
    fps_io_cap: float | None = None
    #: the device's resources (``lut``, ``bram18``, ``dsp``, ``uram``); empty: not checked
    capacity: Mapping[str, int] = field(default_factory=dict)
    #: RAMB18 the design asks for before weights spill to LUTRAM (:mod:`hw_models.memory`)
    bram18_demand: int | None = None
    #: the weight memories moved to LUTRAM: ``{"layer", "bram18", "lut"}``
    spilled: tuple[Mapping[str, Any], ...] = ()
    #: the board's shell (DMA, AXI interconnect; :mod:`hw_models.shell`), not in the totals
    shell: Mapping[str, Any] | None = None
    #: the I/O profile that capped fps: name, board family, host time, what backs it
    io_profile: Mapping[str, Any] | None = None

    @property
    def totals_with_shell(self) -> dict[str, int]:
        """What the whole design takes on the device: the accelerator plus the shell."""
        sh = self.shell or {}
        return {k: getattr(self, k) + int(sh.get(k, 0)) for k in _TOTAL_KEYS}

    @property
    def over_capacity(self) -> list[str]:
        """The resources the design (accelerator and shell) uses beyond the device (``[]``:
        it fits)."""
        used = self.totals_with_shell
        return [k for k in _TOTAL_KEYS if k in self.capacity and used[k] > self.capacity[k]]

    @property
    def fits_device(self) -> bool | None:
        """Whether every resource is within the device (``None``: capacity not known)."""
        return None if not self.capacity else not self.over_capacity

    @property
    def io_bound(self) -> bool:
        """True when the host/DMA path, not the slowest stage, sets the frame rate."""
        return self.fps_io_cap is not None and self.fps_io_cap < self.fps_compute

    @property
    def valid(self) -> bool:
        """False when some layer could not be priced (the totals then leave it out)."""
        return not self.unsupported

    @property
    def totals(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in _TOTAL_KEYS}

    def layer(self, name: str) -> LayerCost:
        for l in self.layers:
            if l.name == name:
                return l
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (``codesign estimate --json``); keys beyond the schema are
        ``critical_path_cycles``, ``valid``, ``model``, ``settings``, ``fps_compute`` (the
        pipeline's rate), ``fps_io_cap`` (the host path's, ``None`` without a cap), ``io_bound``,
        ``fits_device`` / ``over_capacity`` / ``capacity`` (the device check), ``memory``
        (RAMB18 demand and the weight memories spilled to LUTRAM) and per layer ``uram`` and
        ``stages``."""
        return {"device": self.device, "clock_mhz": self.clock_mhz, "totals": self.totals,
                "cycles_per_frame": self.cycles_per_frame, "fps": self.fps,
                "bottleneck": self.bottleneck, "layers": [l.to_dict() for l in self.layers],
                "unsupported": [dict(u) for u in self.unsupported],
                "critical_path_cycles": self.critical_path_cycles, "valid": self.valid,
                "model": self.model, "settings": dict(self.settings),
                "fps_compute": self.fps_compute, "fps_io_cap": self.fps_io_cap,
                "io_bound": self.io_bound, "fits_device": self.fits_device,
                "over_capacity": self.over_capacity, "capacity": dict(self.capacity),
                "memory": {"bram18_demand": (self.bram18 if self.bram18_demand is None
                                             else self.bram18_demand),
                           "spilled_to_lutram": [dict(x) for x in self.spilled]},
                "shell": None if self.shell is None else dict(self.shell),
                "io_profile": None if self.io_profile is None else dict(self.io_profile),
                "totals_with_shell": self.totals_with_shell}

    def violations(self, max_lut: float | None = None, max_bram18: float | None = None,
                   max_dsp: float | None = None, min_fps: float | None = None,
                   max_uram: float | None = None) -> dict[str, float]:
        """Signed, normalised constraint violations; ``<= 0`` means the constraint is met.

        ``value / limit - 1`` for maxima, ``1 - fps / min_fps`` for the frame-rate floor.  Only
        the constraints given appear (keys ``lut``, ``bram18``, ``dsp``, ``uram``, ``fps``).
        Unsupported layers are not a key here: check :attr:`valid`.
        """
        out: dict[str, float] = {}
        for key, limit in (("lut", max_lut), ("bram18", max_bram18), ("dsp", max_dsp),
                           ("uram", max_uram)):
            if limit is not None:
                _check_positive(f"max_{key}", limit)
                out[key] = getattr(self, key) / limit - 1.0
        if min_fps is not None:
            _check_positive("min_fps", min_fps)
            out["fps"] = 1.0 - self.fps / min_fps
        return out


def _check_positive(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise InputError(name, f"got {v!r}", ["a number > 0"])
    return float(v)


def build_report(device: str, clock_mhz: float, layers: list[LayerCost],
                 unsupported: list[dict[str, str]], model: str = "",
                 settings: Mapping[str, Any] | None = None,
                 fps_io_cap: float | None = None, **extra: Any) -> CostReport:
    """Totals, slowest stage, fps and critical path from per-layer costs (reference section 2);
    ``fps = min(f_clk / max_i c_i, fps_io_cap)`` (section 10.1)."""
    cycles = max((l.cycles for l in layers), default=0)
    bottleneck = next((l.name for l in layers if l.cycles == cycles), None) if layers else None
    fps_compute = clock_mhz * 1e6 / cycles if cycles > 0 else 0.0
    fps = fps_compute if fps_io_cap is None else min(fps_compute, fps_io_cap)
    crit = sum(s.cycles for l in layers for s in l.stages) or sum(l.cycles for l in layers)
    return CostReport(device=device, clock_mhz=float(clock_mhz),
                      lut=sum(l.lut for l in layers), bram18=sum(l.bram18 for l in layers),
                      dsp=sum(l.dsp for l in layers), uram=sum(l.uram for l in layers),
                      cycles_per_frame=cycles, fps=fps, bottleneck=bottleneck,
                      layers=tuple(layers), unsupported=tuple(unsupported),
                      critical_path_cycles=crit, model=model, settings=dict(settings or {}),
                      fps_compute=fps_compute, fps_io_cap=fps_io_cap, **extra)


# ------------------------------------------------------------------------------ role + registry
class CostModel(ABC):
    """Prices a :class:`NetworkSpec` on one target."""

    name: str = ""

    @abstractmethod
    def estimate(self, spec: NetworkSpec) -> CostReport:
        """Cost of ``spec``; layers it cannot price go to ``CostReport.unsupported``."""


_MODELS: dict[str, Callable[..., CostModel]] = {}


def register_cost_model(name: str, factory: Callable[..., CostModel], *,
                        replace: bool = False) -> Callable[..., CostModel]:
    """Register ``factory(**kwargs) -> CostModel`` under ``name``; refuses silent overwrites."""
    if not isinstance(name, str) or not name:
        raise InputError("cost_model", f"got {name!r}", ["a non-empty string"])
    if name in _MODELS and not replace:
        raise InputError("cost_model", f"{name!r} is already registered (pass replace=True)")
    _MODELS[name] = factory
    return factory


def get_cost_model(name: str, **kwargs: Any) -> CostModel:
    """A new instance of the cost model registered as ``name``."""
    if name not in _MODELS:
        raise InputError("cost_model", f"unknown cost model {name!r}", sorted(_MODELS))
    return _MODELS[name](**kwargs)


def list_cost_models() -> list[str]:
    return sorted(_MODELS)


# ------------------------------------------------------------------------------ FINN model
class FinnCostModel(CostModel):
    """FINN-style analytical model of a dataflow accelerator (reference sections 2, 3, 5, 10).

    ``device``: a :class:`~fpga.devices.Device` or a registered board name; ``clock_mhz``:
    fabric clock (default: the device's); ``lut_variant``: the MVAU LUT formula, ``finn2026``
    (default; current FINN: reproduces the folding tutorial and finn-plus 1.6.1 within 1 %) or
    ``finn2022`` (reproduces FINN's published 2020-2022 cybsec estimates), see
    :data:`hw_models.finn_ops.LUT_VARIANTS`;
    ``weight_mem``, ``swg_impl``, ``res_type``: implementation choices of the MVAU weights, the
    sliding-window generator and the multipliers (FINN's defaults: ``block``, ``rtl``, ``lut``).

    Compute layers without ``pe``/``simd`` are priced at PE = SIMD = 1 (fully folded); use
    :func:`hw_models.folding.fold_for_fps` to choose a folding first.  A max-pool's parallelism
    (its Pool's PE = its generator's SIMD) is not a free choice: :meth:`estimate` takes it from
    :func:`~hw_models.lowering.pool_parallelism` (the width of the incoming stream), as
    the exported folding config does; :meth:`layer_cost` on a lone max-pool uses its ``pe``
    (1 when unset).  A max-pool whose stride exceeds its kernel is reported unsupported (FINN
    cannot map it).  Illegal folding raises
    :class:`~fpga.errors.InputError` naming ``layers[i].pe`` / ``layers[i].simd``.
    """

    name = "finn"

    def __init__(self, device: Device | str = "pynq-z1", clock_mhz: float | None = None,
                 lut_variant: str = DEFAULT_LUT_VARIANT, weight_mem: str = "block", swg_impl: str = "rtl",
                 res_type: str = "lut", fifo_depth: int = DEFAULT_FIFO_DEPTH,
                 io_profile: str | None = None, interconnect: bool = True,
                 beyond_finn: bool = True, toolflow: str = "finn") -> None:
        self.device = get_device(device)
        clk = self.device.clock_mhz if clock_mhz is None else clock_mhz
        self.clock_mhz = _check_positive("clock_mhz", clk)
        for key, value, accepted in (("lut_variant", lut_variant, LUT_VARIANTS),
                                     ("weight_mem", weight_mem, WEIGHT_MEMORIES),
                                     ("swg_impl", swg_impl, SWG_IMPLS),
                                     ("res_type", res_type, RES_TYPES)):
            if value not in accepted:
                raise InputError(key, f"unknown value {value!r}", accepted)
        if weight_mem == "ultra" and self.device.uram == 0:
            raise InputError("weight_mem", f"'ultra' (UltraRAM) asked for, but {self.device.name} "
                             f"({self.device.part}) has no URAM",
                             [m for m in WEIGHT_MEMORIES if m != "ultra"])
        if res_type == "dsp" and self.device.dsp == 0:
            raise InputError("res_type", f"'dsp' asked for, but {self.device.name} has no DSP",
                             ["lut"])
        self.lut_variant, self.weight_mem = lut_variant, weight_mem
        self.swg_impl, self.res_type = swg_impl, res_type
        if isinstance(fifo_depth, bool) or not isinstance(fifo_depth, int) or fifo_depth < 0:
            raise InputError("fifo_depth", f"got {fifo_depth!r}",
                             ["an integer >= 0 (0: no FIFO allowance)"])
        self.fifo_depth = fifo_depth
        for key, value in (("interconnect", interconnect), ("beyond_finn", beyond_finn)):
            if not isinstance(value, bool):
                raise InputError(key, f"got {value!r}", [True, False])
        self.interconnect = interconnect
        self.beyond_finn = beyond_finn
        if toolflow not in TOOLFLOWS:
            raise InputError("toolflow", f"unknown value {toolflow!r}", TOOLFLOWS)
        self.toolflow = toolflow
        self.io: IOProfile = get_profile(io_profile, self.device)

    @classmethod
    def finn_view(cls, *args: Any, **kw: Any) -> "FinnCostModel":
        """The model as FINN's own estimate reports a design: dataflow nodes only (no FIFOs or
        width converters, which FINN inserts later) and no I/O cap.  For comparisons with FINN
        and with published FINN estimates."""
        kw.setdefault("interconnect", False)
        kw.setdefault("beyond_finn", False)
        kw.setdefault("io_profile", "none")
        return cls(*args, **kw)

    # --- identity (models are cache keys for folding searches)
    @property
    def settings(self) -> dict[str, str]:
        return {"lut_variant": self.lut_variant, "weight_mem": self.weight_mem,
                "swg_impl": self.swg_impl, "res_type": self.res_type,
                "interconnect": self.interconnect, "fifo_depth": self.fifo_depth,
                "beyond_finn": self.beyond_finn, "toolflow": self.toolflow,
                "io_profile": self.io.name}

    @property
    def lowering_settings(self) -> Settings:
        """What the lowering's nodes depend on."""
        return Settings(self.lut_variant, self.weight_mem, self.swg_impl, self.res_type,
                        self.fifo_depth, self.interconnect, self.beyond_finn, self.toolflow)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FinnCostModel) and self.device == other.device
                and self.clock_mhz == other.clock_mhz
                and self.lowering_settings == other.lowering_settings and self.io == other.io)

    def __hash__(self) -> int:
        return hash((self.device.name, self.clock_mhz, self.lowering_settings, self.io.name))

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"FinnCostModel({self.device.name!r}, clock_mhz={self.clock_mhz:g}, {extra})"

    # --- pricing
    def lower(self, spec: NetworkSpec) -> Lowering:
        """The nodes this model prices for ``spec`` (:func:`hw_models.lowering.lower`)."""
        return lower(spec, self.lowering_settings)

    def stages(self, layer: LayerSpec) -> tuple[FinnOp, ...]:
        """The FINN operators ``layer`` becomes on its own (missing folding = 1; a max-pool at
        its ``pe``), in dataflow order, interconnect inside the layer included."""
        return tuple(n.op for n in self._layer_nodes(layer))

    def _layer_nodes(self, layer: LayerSpec) -> tuple[Node, ...]:
        par = layer.pe or 1  # what a lone max-pool reads
        return lower_layer(layer, choice_of(layer), Stream(par, layer.in_bits, 0),
                           self.lowering_settings).nodes

    def layer_cost(self, layer: LayerSpec) -> LayerCost:
        """Cost of one layer's own nodes; raises InputError for illegal folding, KeyError for
        unknown ops.

        A max-pool is priced at its ``pe`` (1 when unset; :meth:`estimate` takes it from the
        stream that feeds it), which must divide its channels.
        """
        if layer.op == "maxpool":
            pe = layer.pe or 1
            if layer.in_channels % pe:
                raise InputError(f"layer '{layer.name}'.pe", f"max-pool PE {pe} must divide "
                                 f"its {layer.in_channels} channels",
                                 [d for d in range(1, layer.in_channels + 1)
                                  if layer.in_channels % d == 0])
            sig = dataclasses.replace(layer, name="", pe=pe, simd=None)
        else:
            check_choice(layer, choice_of(layer), f"layer '{layer.name}'",
                         self.lowering_settings.parallel_window)
            sig = dataclasses.replace(
                layer, name="", pe=layer.pe or (1 if layer.is_compute else None),
                simd=layer.simd or (1 if layer.is_compute else None))
        cost = _price(self, sig)
        return dataclasses.replace(cost, name=layer.name)

    def node_cost(self, node: Node) -> StageCost:
        """One node's cost (cached per op: searches price the same nodes again)."""
        return op_cost(node.op)

    def estimate(self, spec: NetworkSpec) -> CostReport:
        """Every node of the lowering: the layers' FINN nodes, the input thresholding (when
        ``spec.input.thresholding``), a FIFO allowance at every layer boundary and the output,
        data-width converters where stream widths differ, and the I/O cap on fps."""
        if not self.lowering_settings.parallel_window:
            for i, layer in enumerate(spec.layers):
                if layer.is_compute:
                    check_choice(layer, choice_of(layer), f"layers[{i}]", False)
        low = self.lower(spec)
        for u in low.unsupported:
            log.warning("layer %s not priced: %s", u["name"], u["reason"])
        costs = [self.node_cost(n) for n in low.nodes]
        demand = sum(c.bram18 for c, n in zip(costs, low.nodes) if n.priced)
        spilled: list[dict[str, Any]] = []
        room = self.device.bram18 - (self._shell_bram18() if self.beyond_finn else 0)
        if self.beyond_finn and demand > room:
            costs, spilled = self._spill(low, costs, demand, room)
        layers = self.layer_costs(spec, low, costs)
        cap = self.io_cap(spec) if layers else None
        dev = self.device
        shell = shell_for(dev) if self.beyond_finn else None
        return build_report(self.device.name, self.clock_mhz, layers,
                            [dict(u) for u in low.unsupported], model=self.name,
                            settings=self.settings, fps_io_cap=cap,
                            capacity={"lut": dev.lut, "bram18": dev.bram18, "dsp": dev.dsp,
                                      "uram": dev.uram},
                            bram18_demand=demand, spilled=tuple(spilled),
                            shell=None if shell is None else shell.to_dict(),
                            io_profile={"name": self.io.name, "family": self.io.family,
                                        "t_host_us": self.io.t_host_us,
                                        "backing": self.io.backing})

    def _shell_bram18(self) -> int:
        shell = shell_for(self.device)
        return 0 if shell is None else shell.bram18

    def _spill(self, low: Lowering, costs: list[StageCost], demand: int, room: int
               ) -> tuple[list[StageCost], list[dict[str, Any]]]:
        """Weight memories to LUTRAM until the block RAM fits
        (:func:`hw_models.memory.spill_weights`)."""
        movable = [i for i, (n, c) in enumerate(zip(low.nodes, costs))
                   if n.priced and n.finn_op in ("MVAU", "VVAU") and c.bram18 > 0]
        b = np.array([[costs[i].bram18 for i in movable]], dtype=np.int64)
        lut = np.array([[weight_lutram_luts(low.nodes[i].op) for i in movable]],
                       dtype=np.int64)
        moved = spill_weights(demand, room, b, lut).moved[0]
        out, spilled = list(costs), []
        for i, go, bb, ll in zip(movable, moved, b[0], lut[0]):
            if go:
                out[i] = dataclasses.replace(costs[i], lut=costs[i].lut + int(ll), bram18=0)
                spilled.append({"layer": low.nodes[i].owner, "node": low.nodes[i].name,
                                "bram18": int(bb), "lut": int(ll)})
        return out, spilled

    def layer_costs(self, spec: NetworkSpec, low: Lowering,
                    costs: list[StageCost] | None = None) -> list[LayerCost]:
        """The priced nodes of ``low`` (costs: ``costs``, one per node, or each node's own)
        grouped by the layer they count in, in spec order."""
        if costs is None:
            costs = [self.node_cost(n) for n in low.nodes]
        by_owner: dict[str, list[StageCost]] = {}
        for node, cost in zip(low.nodes, costs):
            if node.priced:
                by_owner.setdefault(node.owner, []).append(cost)
        pool_pe = {n.layer: n.attrs["PE"] for n in low.nodes if n.finn_op == "Pool"}
        out = []
        for layer in spec.layers:
            stages = by_owner.get(layer.name)
            if not stages:
                continue
            if layer.op == "maxpool":
                pe, simd = pool_pe[layer.name], None
            else:
                pe, simd = layer.pe or 1, layer.simd or 1
            out.append(LayerCost.from_stages(layer.name, layer.op, tuple(stages), pe, simd))
        return out

    def io_cap(self, spec: NetworkSpec) -> float | None:
        """Frames/s the host path allows for ``spec`` (``None``: no cap); folding-independent:
        it depends on the input frame and the last layer's output only."""
        if self.io.t_host_us is None:
            return None
        last = spec.layers[-1]
        return self.io.fps_cap(
            frame_bytes(input_frame_bits(spec), 1),
            frame_bytes(last.out_channels * last.out_h * last.out_w, self._out_bits(last)),
            self.clock_mhz)

    def _out_bits(self, l: LayerSpec) -> int:
        """Bits per output value: the activation, or the accumulator of a layer without one."""
        if not l.is_compute:
            return l.in_bits
        return int(lower_layer(l, choice_of(l), Stream(1, l.in_bits, 0),
                               self.lowering_settings).out.bits)

    def link_stages(self, prev: Stream | None, width: int, fifo: bool) -> list[StageCost]:
        """The interconnect in front of a node reading ``width``-bit words
        (:func:`hw_models.lowering.lower_links`), priced."""
        return [op_cost(n.op) for n in lower_links(prev, width, self.lowering_settings, fifo,
                                                   "")]


def input_frame_bits(spec: NetworkSpec) -> int:
    """Bits of one input frame, as the input quantizer streams it."""
    inp = spec.input
    return inp.channels * inp.height * inp.width * inp.bits


def weight_lutram_luts(op: Any) -> Any:
    """LUTs an MVAU's or VVAU's weight memory takes as LUTRAM (FINN's LUTRAM term,
    ``width * ceil(depth / 64)``), the cost of spilling it out of block RAM."""
    return lutram_luts(op.wmem, op.weight_width)


@lru_cache(maxsize=1 << 17)
def op_cost(op: FinnOp) -> StageCost:
    """The cost of one operator (ops are frozen value objects: cached by value)."""
    return op.cost()


@lru_cache(maxsize=65536)
def _price(model: FinnCostModel, sig: LayerSpec) -> LayerCost:
    """Cost of an unnamed layer signature (cached: searches price the same layers again)."""
    stages = tuple(op_cost(n.op) for n in model._layer_nodes(sig))
    return LayerCost.from_stages(sig.name, sig.op, stages, sig.pe, sig.simd)


register_cost_model("finn", FinnCostModel)

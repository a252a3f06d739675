"""Torch-free description of one concrete quantized network: the contract between search and hardware.

A :class:`NetworkSpec` is what a search space's ``describe(candidate)`` returns, what the cost
models price, what export builds, and what ``codesign estimate NETWORK.json`` reads.  The JSON
form is documented in the README ("Network format")::

    {"name": "example",
     "input": {"channels": 3, "height": 32, "width": 32, "bits": 8},
     "layers": [
       {"name": "conv0", "op": "conv", "out_channels": 64, "kernel": 3, "stride": 1,
        "padding": 0, "weight_bits": 2, "act_bits": 2, "pe": 16, "simd": 3},
       {"name": "pool0", "op": "maxpool", "kernel": 2},
       {"name": "fc0", "op": "fc", "out_features": 10, "weight_bits": 2, "act_bits": null}]}

Input channels and spatial sizes are inferred layer by layer; a flatten is implied before the
first ``fc``.  ``act_bits`` is the layer's output activation width (``null``: no activation, the
accumulator is the output).  ``pe``/``simd`` are optional (``None`` = not chosen yet).
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from fpga.errors import InputError, read_json_file

OPS = ("conv", "dwconv", "maxpool", "fc")
_COMPUTE_OPS = ("conv", "dwconv", "fc")
#: ops whose input arrives through a sliding-window generator
WINDOW_OPS = ("conv", "dwconv")
MAX_BITS = 32
#: the largest channel count, feature count, image side, kernel, stride, padding, PE or SIMD a
#: network may have (2**16; an FPGA dataflow design is orders of magnitude smaller), and the
#: largest dot product (an fc's flattened input, a conv's K*K*C_in).  Beyond them a file is
#: refused, naming the field, rather than priced for minutes or hours.
MAX_SIZE = 1 << 16
MAX_DOT = 1 << 24
#: the most layers a network may have (each is a hardware stage of the dataflow pipeline)
MAX_LAYERS = 1024

_LAYER_KEYS = {
    "conv": {"name", "op", "out_channels", "kernel", "stride", "padding", "weight_bits", "act_bits",
             "pe", "simd"},
    "dwconv": {"name", "op", "kernel", "stride", "padding", "weight_bits", "act_bits", "pe",
               "simd"},
    "maxpool": {"name", "op", "kernel", "stride"},
    "fc": {"name", "op", "out_features", "weight_bits", "act_bits", "pe", "simd"},
}


@dataclass(frozen=True)
class InputSpec:
    """The network input: a ``channels x height x width`` image quantized to ``bits``.

    ``thresholding``: the accelerator quantizes a float input itself, with a standalone
    thresholding stage in front of the first layer (what this toolkit's exports make FINN
    build); ``False`` (default): the input arrives already quantized to ``bits``.
    """

    channels: int
    height: int
    width: int
    bits: int = 8
    thresholding: bool = False

    def __post_init__(self) -> None:
        for key in ("channels", "height", "width"):
            _check_int(f"input.{key}", getattr(self, key), 1, MAX_SIZE)
        _check_int("input.bits", self.bits, 1, MAX_BITS)
        if not isinstance(self.thresholding, bool):
            raise InputError("input.thresholding", f"got {self.thresholding!r}", [True, False])

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dataclasses.asdict(self)
        if not self.thresholding:
            del d["thresholding"]
        return d


@dataclass(frozen=True)
class LayerSpec:
    """One layer with its inferred shapes.

    For ``conv``: ``in_channels x in_h x in_w -> out_channels x out_h x out_w``.
    For ``dwconv`` (depthwise): ``out_channels == in_channels``, one ``K x K`` filter each.
    For ``fc``: ``in_channels`` is the flattened input length (``in_h = in_w = 1``), and
    ``out_channels`` the number of output features.  ``in_bits`` is the width of the
    activations the layer consumes (the previous layer's ``act_bits``, or the input bits).
    """

    name: str
    op: str
    in_channels: int
    in_h: int
    in_w: int
    out_channels: int
    out_h: int
    out_w: int
    in_bits: int
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    weight_bits: int | None = None
    act_bits: int | None = None
    pe: int | None = None
    simd: int | None = None

    # --- derived quantities used by the cost models (FINN notation) ---
    @property
    def is_compute(self) -> bool:
        return self.op in _COMPUTE_OPS

    @property
    def mw(self) -> int:
        """Dot-product length (matrix width): K*K*C_in for a conv, K*K for a depthwise conv
        (per channel), in_features for an fc."""
        if self.op == "dwconv":
            return self.kernel * self.kernel
        if self.op == "conv":
            return self.kernel * self.kernel * self.in_channels
        return self.in_channels

    @property
    def mh(self) -> int:
        """Number of output channels / neurons (matrix height)."""
        return self.out_channels

    @property
    def n_vectors(self) -> int:
        """Input vectors per frame: output pixels for a conv, 1 for an fc."""
        return self.out_h * self.out_w if self.op in WINDOW_OPS else 1

    @property
    def macs(self) -> int:
        return self.mw * self.mh * self.n_vectors if self.is_compute else 0

    @property
    def params(self) -> int:
        return self.mw * self.mh if self.is_compute else 0

    def with_folding(self, pe: int | None, simd: int | None) -> "LayerSpec":
        return dataclasses.replace(self, pe=pe, simd=simd)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (shapes are not written: they are inferred on load)."""
        d: dict[str, Any] = {"name": self.name, "op": self.op}
        if self.op == "conv":
            d.update(out_channels=self.out_channels, kernel=self.kernel, stride=self.stride,
                     padding=self.padding)
        elif self.op == "dwconv":
            d.update(kernel=self.kernel, stride=self.stride, padding=self.padding)
        elif self.op == "fc":
            d["out_features"] = self.out_channels
        else:
            d["kernel"] = self.kernel
            if self.stride != self.kernel:
                d["stride"] = self.stride
        if self.is_compute:
            d.update(weight_bits=self.weight_bits, act_bits=self.act_bits)
            if self.pe is not None:
                d["pe"] = self.pe
            if self.simd is not None:
                d["simd"] = self.simd
        return d


@dataclass(frozen=True)
class NetworkSpec:
    """A concrete network: an input and a chain of layers with shapes inferred and checked."""

    name: str
    input: InputSpec
    layers: tuple[LayerSpec, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.layers:
            raise InputError("layers", "a network needs at least one layer")
        counts = Counter(l.name for l in self.layers)
        dup = sorted(n for n, k in counts.items() if k > 1)
        if dup:
            raise InputError("layers", f"duplicate layer names {dup}; names must be unique")

    # ---------- construction ----------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NetworkSpec":
        """Parse and validate the documented JSON form, inferring every shape."""
        if not isinstance(data, Mapping):
            raise InputError("network", f"must be a JSON object with keys 'input' and 'layers', "
                             f"got {_kind(data)}")
        unknown = set(data) - {"name", "input", "layers"}
        if unknown:
            raise InputError("network", f"unknown keys {sorted(unknown)}", ["name", "input", "layers"])
        inp = data.get("input")
        if not isinstance(inp, Mapping):
            raise InputError("input", "missing or not an object",
                             ["{channels, height, width, bits}"])
        bad = set(inp) - {"channels", "height", "width", "bits", "thresholding"}
        if bad:
            raise InputError("input", f"unknown keys {sorted(bad)}",
                             ["channels", "height", "width", "bits", "thresholding"])
        for key in ("channels", "height", "width"):
            if key not in inp:
                raise InputError(f"input.{key}", "missing", ["a positive integer"])
        input_spec = InputSpec(channels=inp["channels"], height=inp["height"], width=inp["width"],
                               bits=inp.get("bits", 8),
                               thresholding=inp.get("thresholding", False))
        layers = data.get("layers")
        if not isinstance(layers, list) or not layers:
            raise InputError("layers", "missing, empty or not a list of layer objects"
                             + ("" if layers is None else f" (got {_kind(layers)})"))
        if len(layers) > MAX_LAYERS:
            raise InputError("layers", f"{len(layers):,} layers", [f"at most {MAX_LAYERS}"])
        name = data.get("name", "network")
        if not isinstance(name, str) or not name:
            raise InputError("name", f"got {name!r}", ["a non-empty string"])
        return cls.build(name, input_spec, layers)

    @classmethod
    def build(cls, name: str, input_spec: InputSpec,
              layers: Iterable[Mapping[str, Any]]) -> "NetworkSpec":
        """Infer shapes for a list of layer dicts (the JSON form) and return the spec."""
        c, h, w, bits = input_spec.channels, input_spec.height, input_spec.width, input_spec.bits
        flat = False
        out: list[LayerSpec] = []
        for i, raw in enumerate(layers):
            where = f"layers[{i}]"
            if not isinstance(raw, Mapping):
                raise InputError(where, f"must be an object, got {_kind(raw)}")
            op = raw.get("op")
            if op not in OPS:
                raise InputError(f"{where}.op", f"unknown op {op!r}", OPS)
            lname = raw.get("name", f"{op}{i}")
            if not isinstance(lname, str) or not lname:
                raise InputError(f"{where}.name", f"must be a non-empty string, got {lname!r}")
            where = f"layer '{lname}'"
            unknown = set(raw) - _LAYER_KEYS[op]
            if unknown:
                raise InputError(where, f"unknown keys {sorted(unknown)} for op '{op}'",
                                 sorted(_LAYER_KEYS[op]))
            if bits is None:
                raise InputError(where, "follows a layer without activation (act_bits null); "
                                 "only the last compute layer may omit its activation")
            if op in WINDOW_OPS:
                if flat:
                    raise InputError(where, f"a {op} cannot follow an fc layer")
                cout = _req_int(raw, "out_channels", where, 1) if op == "conv" else c
                k = _req_int(raw, "kernel", where, 1)
                s = _opt_int(raw, "stride", where, 1, 1)
                p = _opt_int(raw, "padding", where, 0, 0)
                oh = (h + 2 * p - k) // s + 1
                ow = (w + 2 * p - k) // s + 1
                if oh < 1 or ow < 1:
                    raise InputError(f"{where}.kernel", f"kernel {k} with padding {p} does not fit "
                                     f"the {h}x{w} input")
                if max(oh, ow) > MAX_SIZE:
                    raise InputError(f"{where}.padding", f"padding {p} makes a {oh}x{ow} output",
                                     [f"an output side <= {MAX_SIZE}"])
                if op == "conv" and k * k * c > MAX_DOT:
                    raise InputError(f"{where}.kernel", f"a {k}x{k} kernel on {c} channels is a "
                                     f"dot product of {k * k * c:,}", [f"K*K*C_in <= {MAX_DOT:,}"])
                wb, ab = _bits(raw, where)
                layer = LayerSpec(lname, op, c, h, w, cout, oh, ow, bits, k, s, p, wb, ab,
                                  _fold(raw, "pe", where), _fold(raw, "simd", where))
                c, h, w, bits = cout, oh, ow, ab
            elif op == "maxpool":
                if flat:
                    raise InputError(where, "a maxpool cannot follow an fc layer")
                k = _req_int(raw, "kernel", where, 1)
                s = _opt_int(raw, "stride", where, k, 1)
                if k > h or k > w:
                    raise InputError(f"{where}.kernel", f"pool window {k} is larger than the {h}x{w} input")
                oh, ow = (h - k) // s + 1, (w - k) // s + 1
                layer = LayerSpec(lname, op, c, h, w, c, oh, ow, bits, k, s, 0)
                h, w = oh, ow
            else:  # fc
                fin = c * h * w
                fout = _req_int(raw, "out_features", where, 1)
                if fin > MAX_DOT:
                    raise InputError(where, f"its flattened input has {c}x{h}x{w} = {fin:,} "
                                     "features", [f"<= {MAX_DOT:,} (pool or stride the feature "
                                                  "map first)"])
                wb, ab = _bits(raw, where)
                layer = LayerSpec(lname, op, fin, 1, 1, fout, 1, 1, bits, 1, 1, 0, wb, ab,
                                  _fold(raw, "pe", where), _fold(raw, "simd", where))
                flat = True
                c, h, w, bits = fout, 1, 1, ab
            out.append(layer)
        return cls(name=name, input=input_spec, layers=tuple(out))

    @classmethod
    def load(cls, path: str | Path) -> "NetworkSpec":
        return cls.from_dict(read_json_file(path, "network"))

    # ---------- views ----------
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "input": self.input.to_dict(),
                "layers": [l.to_dict() for l in self.layers]}

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)

    @property
    def compute_layers(self) -> tuple[LayerSpec, ...]:
        return tuple(l for l in self.layers if l.is_compute)

    def layer(self, name: str) -> LayerSpec:
        for l in self.layers:
            if l.name == name:
                return l
        raise KeyError(name)

    def with_folding(self, folding: Mapping[str, tuple[int | None, int | None]]) -> "NetworkSpec":
        """A copy with ``{layer_name: (pe, simd)}`` applied to the named compute layers."""
        layers = tuple(l.with_folding(*folding[l.name]) if l.name in folding else l
                       for l in self.layers)
        return dataclasses.replace(self, layers=layers)

    @property
    def macs(self) -> int:
        return sum(l.macs for l in self.layers)

    @property
    def weight_bits_total(self) -> int:
        return sum(l.params * (l.weight_bits or 0) for l in self.layers)

    @property
    def num_classes(self) -> int:
        return self.layers[-1].out_channels


def _kind(v: Any) -> str:
    """A JSON value's kind, for messages: ``a list``, ``a string``, ``null``..."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, Mapping):
        return "an object"
    return {str: "a string", int: "an integer", float: "a number", list: "a list",
            tuple: "a list"}.get(type(v), type(v).__name__)


def _check_int(name: str, v: Any, lo: int, hi: int | None = MAX_SIZE) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        rng = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
        shown = f"{v!r}" if not isinstance(v, int) or abs(v) < 10 ** 30 else f"{v:.3e}"
        raise InputError(name, f"got {shown}", [rng])


def _req_int(raw: Mapping[str, Any], key: str, where: str, lo: int) -> int:
    if key not in raw:
        raise InputError(f"{where}.{key}", "missing", [f"an integer in [{lo}, {MAX_SIZE}]"])
    _check_int(f"{where}.{key}", raw[key], lo)
    return int(raw[key])


def _opt_int(raw: Mapping[str, Any], key: str, where: str, default: int, lo: int) -> int:
    v = raw.get(key, default)
    _check_int(f"{where}.{key}", v, lo)
    return int(v)


def _bits(raw: Mapping[str, Any], where: str) -> tuple[int, int | None]:
    wb = _req_int(raw, "weight_bits", where, 1)
    if wb > MAX_BITS:
        raise InputError(f"{where}.weight_bits", f"got {wb}", [f"1..{MAX_BITS}"])
    ab = raw.get("act_bits")
    if ab is not None:
        _check_int(f"{where}.act_bits", ab, 1, MAX_BITS)
    return wb, ab


def _fold(raw: Mapping[str, Any], key: str, where: str) -> int | None:
    v = raw.get(key)
    if v is None:
        return None
    _check_int(f"{where}.{key}", v, 1)
    return int(v)


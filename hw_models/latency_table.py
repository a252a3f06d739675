"""Measured latency tables and the latency-table cost model (torch-free).

A *latency table* (``codesign latency build``) holds, for one machine, one runtime, one thread
count and one batch size, the measured latency of every distinct operator configuration a search
space can produce, plus a per-network overhead fitted on whole networks measured end to end.
This module reads, checks and writes the table and predicts a network's latency from it; the
measuring itself (Brevitas -> QCDQ ONNX -> onnxruntime, or PyTorch) lives in
:mod:`codesign.latency` because it builds torch models.

**Operators** are the pieces a QCDQ export of :class:`~codesign.models.qcnn.QuantCNN` is made of,
each keyed by everything that changes its exported graph or its tensor shapes
(:class:`OpConfig`, :func:`network_ops`):

* ``input``: the input quantizer (QuantizeLinear/DequantizeLinear) on ``C x H x W`` at ``bits``;
* ``conv``: weight dequantization, convolution, BatchNorm, ReLU and the output activation's
  QuantizeLinear/Clip/DequantizeLinear at ``w``/``a`` bits (fused conv+BN+activation block);
* ``maxpool``: the pooling window on ``C x H x W``;
* ``fc``: (Flatten when its input is a feature map,) weight dequantization, MatMul, BatchNorm,
  ReLU and output quantization; the last fc has no activation (``a-``).

A compute layer's *input* bit width is not part of its key: in QCDQ the quantization of a tensor
belongs to the layer that produces it, so the consuming op's exported graph is the same whatever
that width is.  The FPGA folding (PE/SIMD) does not change CPU/GPU latency either, so candidates
that differ only in folding share every op.

**Prediction** (:class:`LatencyTableModel`): the sum of the ops' medians, corrected at the
network level by a form fitted on networks measured end to end at build time (stored in the
table, ``overhead.calibration``) and chosen among three by its leave-one-out error
(:func:`fit_overhead`): ``alpha + sum + gamma*n_ops``, ``alpha + beta*sum + gamma*n_ops`` or
``alpha + sum_k beta_k*sum_k + gamma*n_ops`` (one scale per op kind).  ``alpha`` is the cost one
session call has per network, ``gamma`` (usually negative) removes the per-call overhead each
isolated op measurement carried.  The uncertainty combines the ops' measured spread (IQR /
1.349 per op, in quadrature) with the fit's residual spread.

Names carry units: ``*_ms``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from fpga.errors import InputError, read_json_file
from hw_models.cost import CostModel, register_cost_model
from hw_models.network import NetworkSpec

SCHEMA = 1
KIND = "codesign-latency-table"
DEVICE_KINDS = ("cpu", "cuda")
RUNTIMES = ("onnxruntime", "torch")
OP_KINDS = ("input", "conv", "maxpool", "fc")
_IQR_TO_STD = 1.349  # IQR of a normal distribution in standard deviations


# ------------------------------------------------------------------------------ op keys
@dataclass(frozen=True)
class OpConfig:
    """One operator configuration as it appears in the exported graph.

    ``in_shape`` is ``(C, H, W)`` or ``(F,)`` for an fc fed by another fc.  Fields that do not
    apply to an op are left at their defaults and are not part of its key.
    """

    op: str
    in_shape: tuple[int, ...]
    out_channels: int = 0
    kernel: int = 0
    stride: int = 0
    padding: int = 0
    weight_bits: int | None = None
    act_bits: int | None = None
    bits: int | None = None  # the input quantizer's width

    @property
    def key(self) -> str:
        shape = "x".join(str(d) for d in self.in_shape)
        if self.op == "input":
            return f"input|{shape}|b{self.bits}"
        if self.op == "maxpool":
            return f"maxpool|{shape}|k{self.kernel}s{self.stride}"
        a = "-" if self.act_bits is None else str(self.act_bits)
        if self.op in ("conv", "dwconv"):
            return (f"{self.op}|{shape}|o{self.out_channels}|k{self.kernel}s{self.stride}"
                    f"p{self.padding}|w{self.weight_bits}a{a}")
        return f"fc|{shape}|o{self.out_channels}|w{self.weight_bits}a{a}"

    @property
    def out_shape(self) -> tuple[int, ...]:
        if self.op == "input":
            return self.in_shape
        if self.op == "fc":
            return (self.out_channels,)
        c, h, w = self.in_shape
        if self.op == "maxpool":
            return (c, (h - self.kernel) // self.stride + 1, (w - self.kernel) // self.stride + 1)
        oh = (h + 2 * self.padding - self.kernel) // self.stride + 1
        ow = (w + 2 * self.padding - self.kernel) // self.stride + 1
        return (self.out_channels, oh, ow)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"op": self.op, "in_shape": list(self.in_shape)}
        if self.op == "input":
            d["bits"] = self.bits
        elif self.op == "maxpool":
            d.update(kernel=self.kernel, stride=self.stride)
        else:
            d.update(out_channels=self.out_channels, weight_bits=self.weight_bits,
                     act_bits=self.act_bits)
            if self.op in ("conv", "dwconv"):
                d.update(kernel=self.kernel, stride=self.stride, padding=self.padding)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "OpConfig":
        return cls(op=d["op"], in_shape=tuple(int(v) for v in d["in_shape"]),
                   out_channels=int(d.get("out_channels", 0)), kernel=int(d.get("kernel", 0)),
                   stride=int(d.get("stride", 0)), padding=int(d.get("padding", 0)),
                   weight_bits=d.get("weight_bits"), act_bits=d.get("act_bits"),
                   bits=d.get("bits"))


def network_ops(spec: NetworkSpec) -> list[tuple[str, OpConfig]]:
    """``(layer name, op)`` for every op of ``spec`` in graph order, the input quantizer first
    (named ``"input"``)."""
    inp = spec.input
    shape: tuple[int, ...] = (inp.channels, inp.height, inp.width)
    out = [("input", OpConfig("input", shape, bits=inp.bits))]
    for layer in spec.layers:
        if layer.op in ("conv", "dwconv"):  # a dwconv key is named as such; no space has one
            op = OpConfig(layer.op, shape, layer.out_channels, layer.kernel, layer.stride,
                          layer.padding, layer.weight_bits, layer.act_bits)
        elif layer.op == "maxpool":
            op = OpConfig("maxpool", shape, kernel=layer.kernel, stride=layer.stride)
        else:
            op = OpConfig("fc", shape, layer.out_channels, weight_bits=layer.weight_bits,
                          act_bits=layer.act_bits)
        out.append((layer.name, op))
        shape = op.out_shape
    return out


# ------------------------------------------------------------------------------ overhead fit
FORM_SUM = "alpha + sum + gamma*n_ops"
FORM_LINEAR = "alpha + beta*sum + gamma*n_ops"
FORM_KIND = "alpha + sum_k beta_k*sum_k + gamma*n_ops"
#: what each op kind's time is summed under in the per-kind form (the input quantizer and the
#: max-pools are cheap element-wise ops, fitted together)
KIND_GROUPS = ("conv", "fc", "other")
#: the fewest end-to-end calibration networks each form is fitted on (its coefficients + the
#: leave-one-out check need them); a table below the minimum of its form is refused
MIN_CALIBRATION = {FORM_SUM: 3, FORM_LINEAR: 5, FORM_KIND: 12}


def kind_group(op_kind: str) -> str:
    return op_kind if op_kind in ("conv", "fc") else "other"


def fit_overhead(sums_ms: Sequence[float], n_ops: Sequence[int],
                 measured_ms: Sequence[float],
                 kind_sums_ms: Sequence[Mapping[str, float]] | None = None) -> dict[str, Any]:
    """Fit the network-level correction of the op sum on networks measured end to end.

    Forms (least squares with relative weights ``1 / measured``, the target being a relative
    error), the one with the lowest leave-one-out error kept:

    * ``alpha + sum + gamma*n_ops``: only the per-network and per-op overheads;
    * ``alpha + beta*sum + gamma*n_ops``: plus one scale on all ops;
    * ``alpha + sum_k beta_k*sum_k + gamma*n_ops``: one scale per op kind (conv, fc, other),
      which absorbs what isolated ops miss in a network by kind (a conv's output left in
      cache for the next op, a thread pool's wake-up per fc) -- given ``kind_sums_ms``.

    A form is only tried with at least :data:`MIN_CALIBRATION` networks.
    """
    s = np.asarray(sums_ms, float)
    n = np.asarray(n_ops, float)
    y = np.asarray(measured_ms, float)
    if len(y) < MIN_CALIBRATION[FORM_SUM]:
        raise InputError("calibration", f"needs at least {MIN_CALIBRATION[FORM_SUM]} measured "
                         f"networks, got {len(y)}")
    k = (np.array([[float(d.get(g, 0.0)) for g in KIND_GROUPS] for d in kind_sums_ms])
         if kind_sums_ms is not None else None)
    w = 1.0 / y
    forms = [FORM_SUM, FORM_LINEAR] + ([FORM_KIND] if k is not None else [])

    def columns(form: str, idx: np.ndarray) -> np.ndarray:
        one = np.ones(idx.size)
        if form == FORM_SUM:
            return np.stack([one, n[idx]], axis=1)
        if form == FORM_LINEAR:
            return np.stack([one, s[idx], n[idx]], axis=1)
        assert k is not None
        return np.column_stack([one, k[idx], n[idx]])

    def solve(form: str, idx: np.ndarray) -> np.ndarray:
        a = columns(form, idx) * w[idx, None]
        b = (y[idx] - (s[idx] if form == FORM_SUM else 0.0)) * w[idx]
        coef, *_ = np.linalg.lstsq(a, b, rcond=None)
        return coef

    def predict(form: str, coef: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return columns(form, idx) @ coef + (s[idx] if form == FORM_SUM else 0.0)

    all_idx = np.arange(len(y))
    loo_by_form: dict[str, float] = {}
    for form in forms:
        if len(y) < MIN_CALIBRATION[form]:
            continue
        loo = np.empty(len(y))
        for i in range(len(y)):
            keep = all_idx[all_idx != i]
            loo[i] = predict(form, solve(form, keep), np.array([i]))[0]
        loo_by_form[form] = float(np.mean(np.abs(loo - y) / y))
    form = min(loo_by_form, key=loo_by_form.__getitem__)
    coef = solve(form, all_idx)
    rel = (predict(form, coef, all_idx) - y) / y
    out: dict[str, Any] = {"form": form, "alpha_ms": float(coef[0]), "gamma_ms": float(coef[-1]),
                           "residual_rel_std": float(np.sqrt(np.mean(rel ** 2))),
                           "mape_fit": float(np.mean(np.abs(rel))), "mape_loo": loo_by_form[form],
                           "mape_loo_by_form": loo_by_form, "n": int(len(y))}
    if form == FORM_SUM:
        out["beta"] = 1.0
    elif form == FORM_LINEAR:
        out["beta"] = float(coef[1])
    else:
        out["beta_by_kind"] = {g: float(c) for g, c in zip(KIND_GROUPS, coef[1:-1])}
        # one scale for summaries: the kinds' coefficients weighted by their share of the time
        share = k.sum(axis=0) / max(k.sum(), 1e-12)  # type: ignore[union-attr]
        out["beta"] = float(np.dot(share, coef[1:-1]))
    return out


# ------------------------------------------------------------------------------ the table
_OP_STAT_KEYS = ("median_ms", "q1_ms", "q3_ms", "n")
#: the statistic of an item's timed runs a table predicts (``protocol.statistic``): the median, or
#: a low percentile / the minimum -- the machine undisturbed (tables without the field: median)
STATISTICS = ("median", "p10", "p5", "min")


@dataclass
class LatencyTable:
    """A latency table in memory; :meth:`to_dict` is the JSON file."""

    machine: dict[str, Any]
    protocol: dict[str, Any]
    space: dict[str, Any]
    ops: dict[str, dict[str, Any]]
    overhead: dict[str, Any]
    build: dict[str, Any] = dataclasses.field(default_factory=dict)

    # ---------------- fingerprint
    @property
    def device_kind(self) -> str:
        return self.machine["device_kind"]

    @property
    def runtime(self) -> str:
        return self.machine["runtime"]

    @property
    def batch(self) -> int:
        return int(self.protocol["batch"])

    @property
    def threads(self) -> int:
        return int(self.protocol["threads"])

    def describe_target(self) -> str:
        m = self.machine
        where = m.get("gpu_name") if self.device_kind == "cuda" else m.get("cpu_model")
        return (f"{self.device_kind} ({where}), {self.runtime}, {self.threads} thread(s), "
                f"batch {self.batch}")

    def check_use(self, device_kind: str | None = None, runtime: str | None = None,
                  path: str = "TABLE") -> None:
        """Refuse to use the table for another device kind or runtime."""
        if device_kind is not None and device_kind != self.device_kind:
            raise InputError("device", f"{path} was measured on {self.device_kind}, not "
                             f"{device_kind}; build a table for {device_kind} with `codesign "
                             f"latency build --device {device_kind} --out NEW.json`",
                             [self.device_kind])
        if runtime is not None and runtime != self.runtime:
            raise InputError("runtime", f"{path} was measured with {self.runtime}, not {runtime}",
                             [self.runtime])

    def check_setting(self, threads: int | None = None, batch: int | None = None,
                      path: str = "TABLE", space_flags: str = "") -> None:
        """Refuse to use the table at another thread count or batch size: latencies measured at
        one setting do not transfer to another (threads change the parallel split of every op,
        batch its arithmetic intensity), so name the setting it was built at and how to build
        one for the asked setting."""
        for name, want, have in (("threads", threads, self.threads), ("batch", batch, self.batch)):
            if want is not None and want != have:
                t = threads if threads is not None else self.threads
                b = batch if batch is not None else self.batch
                raise InputError(name, f"{path} was built at {self.threads} thread(s), batch "
                                 f"{self.batch}, not {name} {want}; build a table for that "
                                 f"setting with `{self.build_command('NEW.json', space_flags, t, b)}`",
                                 [have])

    def build_command(self, out: str, space_flags: str = "", threads: int | None = None,
                      batch: int | None = None, update: bool = False) -> str:
        """The ``codesign latency build`` command for a table like this one (at ``threads`` and
        ``batch`` when given), written to ``out``; ``update``: measuring only its missing ops."""
        stat = "" if self.statistic == "p10" else f" --statistic {self.statistic}"
        return (f"codesign latency build --space {self.space.get('name', 'cnv')}{space_flags} "
                f"--device {self.device_kind} --runtime {self.runtime} --threads "
                f"{threads if threads is not None else self.threads} --batch "
                f"{batch if batch is not None else self.batch}{stat}"
                f"{' --update' if update else ''} --out {out}")

    # ---------------- ops
    @property
    def statistic(self) -> str:
        return str(self.protocol.get("statistic", "median"))

    @property
    def stat_key(self) -> str:
        """The field of an op's (or network's) record the table predicts, e.g. ``p10_ms``."""
        return f"{self.statistic}_ms"

    def op_ms(self, key: str) -> float:
        """The op's time in the table's statistic."""
        return float(self.ops[key][self.stat_key])

    def missing(self, keys: Iterable[str]) -> list[str]:
        return sorted({k for k in keys if k not in self.ops})

    # ---------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "kind": KIND, "machine": self.machine, "protocol": self.protocol,
                "space": self.space, "overhead": self.overhead, "build": self.build,
                "ops": self.ops}

    @classmethod
    def from_dict(cls, d: Any, path: str = "TABLE") -> "LatencyTable":
        """Parse and check a table; anything missing or out of range is an InputError."""
        if not isinstance(d, Mapping) or d.get("kind") != KIND:
            raise InputError(path, "not a codesign latency table (no \"kind\": "
                             f"\"{KIND}\"); build one with `codesign latency build`")
        if d.get("schema") != SCHEMA:
            raise InputError(f"{path}.schema", f"got {d.get('schema')!r}", [SCHEMA])
        for key in ("machine", "protocol", "space", "ops", "overhead"):
            if not isinstance(d.get(key), Mapping):
                raise InputError(f"{path}.{key}", "missing or not an object (truncated or "
                                 "corrupt table? rebuild it with `codesign latency build`)")
        m, p = d["machine"], d["protocol"]
        if m.get("device_kind") not in DEVICE_KINDS:
            raise InputError(f"{path}.machine.device_kind", f"got {m.get('device_kind')!r}",
                             DEVICE_KINDS)
        if m.get("runtime") not in RUNTIMES:
            raise InputError(f"{path}.machine.runtime", f"got {m.get('runtime')!r}", RUNTIMES)
        for key in ("batch", "threads"):
            v = p.get(key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{path}.protocol.{key}", f"got {v!r}", ["an integer >= 1"])
        for key in ("rounds", "warmup_runs", "min_repeats", "max_repeats", "calibration",
                    "calibration_seed"):
            v = p.get(key, 1)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"{path}.protocol.{key}", f"got {v!r}", ["an integer >= 0"])
        stat = p.get("statistic", "median")
        if stat not in STATISTICS:
            raise InputError(f"{path}.protocol.statistic", f"got {stat!r}", STATISTICS)
        if "round_s" in p and not _finite_pos(p["round_s"]):
            raise InputError(f"{path}.protocol.round_s", f"got {p['round_s']!r}",
                             ["a finite number > 0"])
        if not isinstance(d.get("build") or {}, Mapping):
            raise InputError(f"{path}.build", "not an object (corrupt table?)")
        if not d["ops"]:
            raise InputError(f"{path}.ops", "empty: the table measures no operator")
        for key, rec in d["ops"].items():
            where = f"{path}.ops[{key!r}]"
            if not isinstance(rec, Mapping) or any(k not in rec for k in _OP_STAT_KEYS):
                raise InputError(where, f"needs {', '.join(_OP_STAT_KEYS)} (corrupt table?)")
            vals = [rec[k] for k in ("q1_ms", "median_ms", "q3_ms")]
            if not all(_finite_pos(v) for v in vals) or not vals[0] <= vals[1] <= vals[2]:
                raise InputError(where, f"needs 0 < q1_ms <= median_ms <= q3_ms, got {vals} "
                                 "(corrupt table?)")
            if not _finite_pos(rec.get(f"{stat}_ms")):
                raise InputError(where, f"needs a finite {stat}_ms > 0 (the table predicts the "
                                 f"{stat}), got {rec.get(f'{stat}_ms')!r} (corrupt table?)")
            n = rec["n"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise InputError(f"{where}.n", f"got {n!r} (corrupt table?)", ["an integer >= 1"])
            if "config" in rec:
                try:
                    cfg = OpConfig.from_dict(rec["config"])
                except (KeyError, TypeError, ValueError):
                    raise InputError(f"{where}.config", "malformed (corrupt table?)") from None
                if cfg.key != key:
                    raise InputError(where, f"its config describes {cfg.key!r} (corrupt table?)")
        o = d["overhead"]
        for key in ("alpha_ms", "beta", "gamma_ms", "residual_rel_std"):
            v = o.get(key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(f"{path}.overhead.{key}", f"got {v!r}", ["a finite number"])
        form = o.get("form", FORM_LINEAR)
        if form not in MIN_CALIBRATION:
            raise InputError(f"{path}.overhead.form", f"got {form!r}", list(MIN_CALIBRATION))
        if form == FORM_KIND:
            bk = o.get("beta_by_kind")
            if not isinstance(bk, Mapping) or set(bk) != set(KIND_GROUPS) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in bk.values()):
                raise InputError(f"{path}.overhead.beta_by_kind", f"got {bk!r} (corrupt table?)",
                                 [f"one finite number for each of {', '.join(KIND_GROUPS)}"])
        cal = o.get("calibration")
        need = MIN_CALIBRATION[form]
        if not isinstance(cal, list) or len(cal) < need:
            have = len(cal) if isinstance(cal, list) else 0
            raise InputError(f"{path}.overhead.calibration",
                             f"has {have} end-to-end calibration networks; the fitted correction "
                             f"'{form}' needs at least {need} (the table is truncated or was "
                             "edited): rebuild it with `codesign latency build ... --calibration "
                             f"{max(need, 32)}`", [f">= {need} networks"])
        return cls(machine=dict(m), protocol=dict(p), space=dict(d["space"]),
                   ops={k: dict(v) for k, v in d["ops"].items()}, overhead=dict(o),
                   build=dict(d.get("build") or {}))

    @classmethod
    def load(cls, path: str | Path, field: str = "latency-table") -> "LatencyTable":
        p = Path(path)
        if p.is_file() and p.stat().st_size == 0:
            raise InputError(field, f"{p} is empty (truncated table?)")
        try:
            data = read_json_file(p, field)
        except InputError as exc:
            if "not valid JSON" in str(exc):
                raise InputError(field, f"{p} is not valid JSON (truncated or corrupt table? "
                                 "rebuild it with `codesign latency build`)") from None
            raise
        return cls.from_dict(data, path=field)


def _finite_pos(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0


# ------------------------------------------------------------------------------ the cost model
@dataclass(frozen=True)
class LatencyReport:
    """A network's predicted latency on the table's target, per op, and what could not be priced.

    ``unsupported`` lists ``{"name", "key", "reason"}`` for ops missing from the table; such a
    report is not :attr:`valid` and its totals leave them out (never a silent zero).
    """

    latency_ms: float
    uncertainty_ms: float
    ops_sum_ms: float
    n_ops: int
    layers: tuple[Mapping[str, Any], ...]
    unsupported: tuple[Mapping[str, str], ...] = ()
    target: str = ""
    model: str = "latency-table"

    @property
    def valid(self) -> bool:
        return not self.unsupported

    def violations(self, max_latency_ms: float | None = None) -> dict[str, float]:
        """``latency_ms / max_latency_ms - 1`` (``<= 0``: met), key ``latency_ms``."""
        if max_latency_ms is None:
            return {}
        if not _finite_pos(max_latency_ms):
            raise InputError("max-latency-ms", f"got {max_latency_ms!r}", ["a number > 0"])
        return {"latency_ms": self.latency_ms / float(max_latency_ms) - 1.0}

    def to_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "uncertainty_ms": self.uncertainty_ms,
                "ops_sum_ms": self.ops_sum_ms, "n_ops": self.n_ops,
                "layers": [dict(l) for l in self.layers],
                "unsupported": [dict(u) for u in self.unsupported], "valid": self.valid,
                "target": self.target, "model": self.model}


class LatencyTableModel(CostModel):
    """Predicts a network's latency from a :class:`LatencyTable` (sum of ops + fitted overhead)."""

    name = "latency-table"

    def __init__(self, table: LatencyTable | str | Path) -> None:
        self.table = table if isinstance(table, LatencyTable) else LatencyTable.load(table)

    def op_weight(self, op_kind: str) -> float:
        """The fitted scale on one op of ``op_kind`` (``beta``, or its kind's in the per-kind
        form): the prediction is ``alpha + sum(op_weight * op_ms) + gamma * n_ops``."""
        o = self.table.overhead
        by_kind = o.get("beta_by_kind")
        return float(by_kind[kind_group(op_kind)] if by_kind else o["beta"])

    def predict_from_ops(self, ops_ms: Iterable[tuple[str, float]]) -> float:
        """The prediction from ``(op kind, op ms)`` of every op of a network."""
        o = self.table.overhead
        total, n = 0.0, 0
        for kind, ms in ops_ms:
            total += self.op_weight(kind) * ms
            n += 1
        return float(o["alpha_ms"] + total + o["gamma_ms"] * n)

    def estimate(self, spec: NetworkSpec) -> LatencyReport:  # type: ignore[override]
        layers, missing = [], []
        priced: list[tuple[str, float]] = []
        total = var = 0.0
        ops = network_ops(spec)
        for name, op in ops:
            rec = self.table.ops.get(op.key)
            if rec is None:
                missing.append({"name": name, "key": op.key,
                                "reason": f"op {op.key} is not in the latency table"})
                continue
            med = float(rec[self.table.stat_key])
            std = (float(rec["q3_ms"]) - float(rec["q1_ms"])) / _IQR_TO_STD
            total += med
            var += (self.op_weight(op.op) * std) ** 2
            priced.append((op.op, med))
            layers.append({"name": name, "key": op.key, "ms": med, "median_ms": float(rec["median_ms"]),
                           "iqr_ms": float(rec["q3_ms"]) - float(rec["q1_ms"])})
        pred = self.predict_from_ops(priced)
        pred += float(self.table.overhead["gamma_ms"]) * len(missing)  # n_ops counts every op
        fit_std = float(self.table.overhead["residual_rel_std"]) * pred
        unc = math.sqrt(var + fit_std ** 2)
        return LatencyReport(latency_ms=pred, uncertainty_ms=unc, ops_sum_ms=total,
                             n_ops=len(ops), layers=tuple(layers), unsupported=tuple(missing),
                             target=self.table.describe_target())


register_cost_model("latency-table", LatencyTableModel)

__all__ = ["OpConfig", "network_ops", "fit_overhead", "FORM_SUM", "FORM_LINEAR", "FORM_KIND",
           "MIN_CALIBRATION", "KIND_GROUPS", "kind_group", "STATISTICS", "LatencyTable", "LatencyTableModel",
           "LatencyReport", "DEVICE_KINDS", "RUNTIMES"]

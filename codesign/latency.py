"""Measuring latency tables: build, update and validate them on this machine.

The table format and the prediction are in :mod:`hw_models.latency_table` (torch-free); this
module builds the operators with Brevitas (the same blocks :class:`~codesign.models.qcnn.QuantCNN`
is made of), exports them to QCDQ ONNX like the real export path, and times them.

Runtimes:

* ``cpu`` + ``onnxruntime`` (default on the CPU): the QCDQ ONNX of each op, CPUExecutionProvider,
  graph optimization ``basic`` (what :func:`fpga.export.onnx_export.run_qcdq` runs),
  ``intra_op_num_threads = --threads``, sequential execution; timed around ``session.run``.
* ``cuda`` + ``torch`` (default on a GPU): the Brevitas modules in eval mode on CUDA, timed with
  CUDA events around each call.
* ``cuda`` + ``onnxruntime``: the QCDQ ONNX on onnxruntime's CUDAExecutionProvider, when the
  installed onnxruntime has it.
* ``cpu`` + ``torch``: the Brevitas modules on the CPU with ``torch.set_num_threads``.

Protocol (recorded in every table): each op gets its own session/module with random weights
(latency does not depend on trained values) and a random input of the table's batch size; all
ops are timed round-robin in ``rounds`` passes (slow drifts of machine load are spread over all
ops alike); in each pass an op is warmed up, then run until ``round_s`` seconds and at least
``min_repeats`` runs have passed; the table stores the median and quartiles of all runs.  The
per-network overhead is fitted on ``calibration`` random networks measured end to end, in the
same passes as the ops.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
import logging
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from fpga.errors import InputError
from hw_models.latency_table import (DEVICE_KINDS, RUNTIMES, LatencyTable, LatencyTableModel,
                                     OpConfig, fit_overhead, network_ops)
from hw_models.network import NetworkSpec

from codesign.spaces.base import Candidate, SearchSpace

log = logging.getLogger(__name__)

DEFAULT_RUNTIME = {"cpu": "onnxruntime", "cuda": "torch"}
MAX_ARCH_VARIANTS = 4096


@dataclass(frozen=True)
class Protocol:
    """How every op and network is timed (stored in the table)."""

    rounds: int = 5
    warmup_runs: int = 5
    min_repeats: int = 20
    round_s: float = 0.05
    max_repeats: int = 2000
    calibration: int = 16
    calibration_seed: int = 1

    def __post_init__(self) -> None:
        for k in ("rounds", "warmup_runs", "min_repeats", "max_repeats"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(k.replace("_", "-"), f"got {v!r}", ["an integer >= 1"])
        if not self.round_s > 0:
            raise InputError("round-s", f"got {self.round_s!r}", ["a number > 0"])
        if self.calibration < 3:
            raise InputError("calibration", f"got {self.calibration!r}", ["an integer >= 3"])

    @classmethod
    def of_table(cls, table: LatencyTable, **overrides: Any) -> "Protocol":
        """The protocol a table was measured with (its stored fields), ``overrides`` on top."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in table.protocol.items() if k in names}, **overrides})


# ------------------------------------------------------------------------------ machine
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


def check_runtime(device_kind: str, runtime: str) -> None:
    """Refuse a device kind or runtime this machine cannot measure on."""
    if device_kind not in DEVICE_KINDS:
        raise InputError("device", f"got {device_kind!r}", DEVICE_KINDS)
    if runtime not in RUNTIMES:
        raise InputError("runtime", f"got {runtime!r}", RUNTIMES)
    if device_kind == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError("device", "cuda: no CUDA GPU is visible to PyTorch on this machine",
                             ["cpu"])
        if runtime == "onnxruntime":
            import onnxruntime as ort

            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise InputError("runtime", "onnxruntime on cuda needs onnxruntime-gpu "
                                 "(CUDAExecutionProvider is not available here)", ["torch"])


def machine_info(device_kind: str, runtime: str) -> dict[str, Any]:
    """The fingerprint a table records: device kind, runtime, CPU/GPU, library versions."""
    import onnx
    import onnxruntime as ort
    import torch

    try:
        from importlib.metadata import version
        brevitas_version = version("brevitas")
    except Exception:  # pragma: no cover
        brevitas_version = None
    info: dict[str, Any] = {
        "device_kind": device_kind, "runtime": runtime, "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(), "usable_cpus": usable_cores(),
        "platform": platform.platform(), "python": platform.python_version(),
        "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__,
                     "brevitas": brevitas_version, "onnx": onnx.__version__,
                     "numpy": np.__version__},
        "gpu_name": None, "gpu_driver": None, "cuda": None,
    }
    if device_kind == "cuda":
        info["gpu_name"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                                  "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=10)
            info["gpu_driver"] = out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
        except (OSError, subprocess.SubprocessError, IndexError):
            info["gpu_driver"] = None
    return info


def check_same_machine(table: LatencyTable, allow_other_machine: bool, path: str) -> None:
    """Refuse to measure against a table from another CPU/GPU model (overridable)."""
    check_runtime(table.device_kind, table.runtime)
    here = cpu_model() if table.device_kind == "cpu" else _gpu_name()
    there = table.machine.get("cpu_model" if table.device_kind == "cpu" else "gpu_name")
    if here != there and not allow_other_machine:
        raise InputError(path, f"was measured on {there!r}, this machine is {here!r}; "
                         "measurements here would not match it (build a table here, or pass "
                         "--allow-other-machine to compare anyway)")


def _gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


# ------------------------------------------------------------------------------ the space's ops
def arch_variants(space: SearchSpace) -> list[Candidate]:
    """One candidate per combination of the space's ``arch.*`` slots (bits and folding at their
    smallest choice): together they reach every layer shape the space can produce."""
    arch = [s for s in space.slots if s.name.startswith("arch.")]
    n = 1
    for s in arch:
        n *= len(s.choices)
    if n > MAX_ARCH_VARIANTS:
        raise InputError("space", f"'{space.name}' has {n:,} architecture combinations; the "
                         f"table builder enumerates at most {MAX_ARCH_VARIANTS:,}")
    base = space.extreme(largest=False)
    out = []
    for values in itertools.product(*(s.choices for s in arch)):
        c = space.repair(base.replace(**{s.name: v for s, v in zip(arch, values)}))
        out.append(c)
    return out


def _bit_choices(space: SearchSpace, slot: str, default: Any) -> tuple[Any, ...]:
    try:
        return space.slot(slot).choices
    except KeyError:
        return (default,)


def variant_layer_options(space: SearchSpace, c: Candidate) -> list[list[OpConfig]]:
    """For one architecture: per op of the network, every configuration its bit slots allow.

    A compute layer's choices are ``quant.<layer>.w`` x ``quant.<layer>.a`` (when the space has
    such slots; else the layer's own bits).  Choices of different layers are independent.
    """
    spec = space.describe(c)
    out = []
    for name, op in network_ops(spec):
        if op.op in ("conv", "fc"):
            ws = _bit_choices(space, f"quant.{name}.w", op.weight_bits)
            acts = (None,) if op.act_bits is None else _bit_choices(space, f"quant.{name}.a",
                                                                   op.act_bits)
            out.append([dataclasses.replace(op, weight_bits=w, act_bits=a)
                        for w in ws for a in acts])
        else:
            out.append([op])
    return out


def space_ops(space: SearchSpace) -> dict[str, OpConfig]:
    """Every distinct op configuration ``space`` can produce, keyed by :attr:`OpConfig.key`."""
    ops: dict[str, OpConfig] = {}
    for c in arch_variants(space):
        for options in variant_layer_options(space, c):
            for op in options:
                ops.setdefault(op.key, op)
    return ops


def network_key(spec: NetworkSpec) -> tuple[str, ...]:
    """What makes two networks the same for latency: their op keys in order (not folding)."""
    return tuple(op.key for _, op in network_ops(spec))


def random_networks(space: SearchSpace, n: int, seed: int,
                    exclude: Iterable[tuple[str, ...]] = ()) -> list[NetworkSpec]:
    """``n`` random candidates of ``space`` with distinct op sequences, none in ``exclude``."""
    rng = np.random.default_rng(seed)
    seen = set(exclude)
    out: list[NetworkSpec] = []
    for _ in range(200 * n):
        spec = space.describe(space.sample(rng))
        k = network_key(spec)
        if k not in seen:
            seen.add(k)
            out.append(spec)
            if len(out) == n:
                break
    return out


# ------------------------------------------------------------------------------ modules + export
def op_module(op: OpConfig):
    """The Brevitas module of one op, in eval mode with random weights."""
    import torch
    from torch import nn

    from codesign.models.qcnn import QuantBlock, make_input_quant
    from hw_models.network import LayerSpec

    if op.op == "input":
        inner: nn.Module = make_input_quant(op.bits)
    elif op.op == "maxpool":
        inner = nn.MaxPool2d(op.kernel, op.stride)
    else:
        oc, oh, ow = (op.out_shape + (1, 1))[:3] if op.op == "fc" else op.out_shape
        in_c = int(np.prod(op.in_shape)) if op.op == "fc" else op.in_shape[0]
        h, w = (op.in_shape[1], op.in_shape[2]) if op.op == "conv" else (1, 1)
        layer = LayerSpec(op.op, op.op, in_c, h, w, oc, oh, ow, 8, op.kernel or 1,
                          op.stride or 1, op.padding, op.weight_bits, op.act_bits)
        inner = QuantBlock(layer)

    class OpModule(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.inner(x)
            return y.value if hasattr(y, "value") else y

    m = OpModule()
    _randomize_bn(m)
    return m.eval()


def network_module(spec: NetworkSpec):
    from codesign.models.qcnn import build_qmodel

    m = build_qmodel(spec)
    _randomize_bn(m)
    return m.eval()


def _randomize_bn(m: Any) -> None:
    """Give BatchNorm layers plausible random statistics (values do not change latency)."""
    import torch

    g = torch.Generator().manual_seed(0)
    for mod in m.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            with torch.no_grad():
                mod.running_mean.copy_(torch.rand(mod.num_features, generator=g) * 0.1)
                mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)


def export_module(module: Any, in_shape: Sequence[int], path: Path) -> Path:
    """QCDQ ONNX of ``module`` with the options of :func:`fpga.export.onnx_export.export_qcdq`
    (opset 18, dynamic batch, TorchScript exporter); the input may be ``(C, H, W)`` or ``(F,)``."""
    import torch
    from brevitas.export import export_onnx_qcdq

    from fpga.export.onnx_export import QCDQ_OPSET

    x = torch.rand((1, *in_shape), generator=torch.Generator().manual_seed(0))
    export_onnx_qcdq(module, x, str(path), opset_version=QCDQ_OPSET, dynamo=False,
                     input_names=["input"], output_names=["output"],
                     dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                     keep_initializers_as_inputs=False)
    return path


# ------------------------------------------------------------------------------ runners
class Runner:
    """One callable model with its input, ready to time (``__call__`` runs it once, synchronously)."""

    def __call__(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def timed(self) -> float:
        """Seconds one run takes."""
        t = time.perf_counter_ns()
        self()
        return (time.perf_counter_ns() - t) * 1e-9


class OrtRunner(Runner):
    def __init__(self, path: Path, device_kind: str, threads: int, batch: int,
                 in_shape: Sequence[int]) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        providers = (["CUDAExecutionProvider", "CPUExecutionProvider"] if device_kind == "cuda"
                     else ["CPUExecutionProvider"])
        self.sess = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        rng = np.random.default_rng(0)
        self.feed = {self.sess.get_inputs()[0].name:
                     rng.random((batch, *in_shape), dtype=np.float32)}

    def __call__(self) -> None:
        self.sess.run(None, self.feed)


class TorchRunner(Runner):
    def __init__(self, module: Any, device_kind: str, threads: int, batch: int,
                 in_shape: Sequence[int]) -> None:
        import torch

        self.torch = torch
        self.cuda = device_kind == "cuda"
        if not self.cuda:
            torch.set_num_threads(threads)
        dev = torch.device("cuda" if self.cuda else "cpu")
        self.module = module.to(dev).eval()
        self.x = torch.rand((batch, *in_shape), generator=torch.Generator().manual_seed(0)).to(dev)
        if self.cuda:
            self.start = torch.cuda.Event(enable_timing=True)
            self.end = torch.cuda.Event(enable_timing=True)

    def __call__(self) -> None:
        with self.torch.inference_mode():
            self.module(self.x)
        if self.cuda:
            self.torch.cuda.synchronize()

    def timed(self) -> float:
        if not self.cuda:
            return super().timed()
        with self.torch.inference_mode():
            self.start.record()
            self.module(self.x)
            self.end.record()
        self.end.synchronize()
        return self.start.elapsed_time(self.end) * 1e-3


def make_runner(module: Any, in_shape: Sequence[int], device_kind: str, runtime: str,
                threads: int, batch: int, workdir: Path, name: str) -> Runner:
    if runtime == "onnxruntime":
        path = export_module(module, in_shape, workdir / f"{name}.onnx")
        return OrtRunner(path, device_kind, threads, batch, in_shape)
    return TorchRunner(module, device_kind, threads, batch, in_shape)


def network_runner(spec: NetworkSpec, device_kind: str, runtime: str, threads: int, batch: int,
                   workdir: Path, name: str) -> Runner:
    """A whole network, ready to time end to end."""
    return make_runner(network_module(spec),
                       (spec.input.channels, spec.input.height, spec.input.width),
                       device_kind, runtime, threads, batch, workdir, name)


# ------------------------------------------------------------------------------ timing
def _stats(samples_s: Sequence[float]) -> dict[str, Any]:
    a = np.asarray(samples_s) * 1e3
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median_ms": float(med), "q1_ms": float(q1), "q3_ms": float(q3),
            "iqr_ms": float(q3 - q1), "min_ms": float(a.min()), "n": int(a.size)}


def measure_round_robin(runners: Mapping[str, Runner], protocol: Protocol,
                        bar: Any = None) -> dict[str, dict[str, Any]]:
    """Time every runner in ``protocol.rounds`` round-robin passes; median and quartiles each."""
    samples: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(protocol.rounds):
        for key, run in runners.items():
            for _ in range(protocol.warmup_runs):
                run()
            got: list[float] = []
            t_end = time.perf_counter() + protocol.round_s
            while len(got) < protocol.min_repeats or (time.perf_counter() < t_end
                                                      and len(got) < protocol.max_repeats):
                got.append(run.timed())
            samples[key].extend(got)
            if bar is not None:
                bar.update(1)
    return {k: _stats(v) for k, v in samples.items()}


def _measure(runners: Mapping[str, Runner], protocol: Protocol,
             progress: bool) -> dict[str, dict[str, Any]]:
    """:func:`measure_round_robin` behind a progress bar."""
    bar = _bar(protocol.rounds * len(runners), "measure", progress)
    try:
        return measure_round_robin(runners, protocol, bar)
    finally:
        bar.close()


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not progress, dynamic_ncols=True,
                leave=False)


# ------------------------------------------------------------------------------ build
def build_table(space: SearchSpace, device_kind: str = "cpu", runtime: str | None = None,
                threads: int = 1, batch: int = 1, protocol: Protocol | None = None,
                progress: bool = True, existing: LatencyTable | None = None,
                ops: Mapping[str, OpConfig] | None = None) -> LatencyTable:
    """Measure every op of ``space`` (or only those missing from ``existing``) and fit the
    per-network overhead on ``protocol.calibration`` random networks measured end to end.

    ``ops`` restricts the measured ops (tests use a handful); calibration networks are then drawn
    only among networks made of those ops.
    """
    runtime = runtime or DEFAULT_RUNTIME.get(device_kind, "onnxruntime")
    check_runtime(device_kind, runtime)
    protocol = protocol or Protocol()
    for name, v in (("threads", threads), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(name, f"got {v!r}", ["an integer >= 1"])
    t0 = time.perf_counter()
    wanted = dict(ops) if ops is not None else space_ops(space)
    todo = {k: op for k, op in wanted.items() if existing is None or k not in existing.ops}
    unmeasurable = {k: op for k, op in todo.items() if runtime == "onnxruntime" and
                    min(b for b in (op.weight_bits, op.act_bits, op.bits, 8) if b) < 2}
    for k in unmeasurable:
        log.warning("op %s has a quantizer below 2 bits: QCDQ cannot export it; not measured", k)
        todo.pop(k)

    calib: list[NetworkSpec] = []
    if existing is None:
        pool = wanted
        for spec in random_networks(space, 50 * protocol.calibration, protocol.calibration_seed):
            if all(k in pool for k in network_key(spec)):
                calib.append(spec)
                if len(calib) == protocol.calibration:
                    break
        if len(calib) < 3:
            raise InputError("space", "fewer than 3 calibration networks can be built from the "
                             "measured ops")

    with tempfile.TemporaryDirectory(prefix="codesign-latency-") as tmp:
        workdir = Path(tmp)
        runners: dict[str, Runner] = {}
        n_items = len(todo) + len(calib)
        bar = _bar(n_items, "export ops" if runtime == "onnxruntime" else "build ops", progress)
        for i, (key, op) in enumerate(todo.items()):
            runners[key] = make_runner(op_module(op), op.in_shape, device_kind, runtime, threads,
                                       batch, workdir, f"op{i}")
            bar.update(1)
        for j, spec in enumerate(calib):
            runners[f"net:{j}"] = network_runner(spec, device_kind, runtime, threads, batch,
                                                 workdir, f"net{j}")
            bar.update(1)
        bar.close()
        stats = _measure(runners, protocol, progress)
        del runners

    new_ops = dict(existing.ops) if existing is not None else {}
    for key, op in todo.items():
        new_ops[key] = {"config": op.to_dict(), **stats[key]}
    if existing is not None:
        overhead = _refit(existing.overhead, new_ops)
    else:
        rows = []
        for j, spec in enumerate(calib):
            keys = network_key(spec)
            rows.append({"network": spec.to_dict(), "ops": list(keys),
                         "ops_sum_ms": float(sum(new_ops[k]["median_ms"] for k in keys)),
                         "n_ops": len(keys), **stats[f"net:{j}"]})
        overhead = _fit_rows(rows)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    build = dict(existing.build) if existing is not None else {}
    build.update({"seconds" if existing is None else "update_seconds":
                  round(time.perf_counter() - t0, 1),
                  "date" if existing is None else "updated": now,
                  "ops_measured": len(todo)})
    if existing is not None:
        build["update_protocol"] = dataclasses.asdict(protocol)
    if unmeasurable:
        build["not_measurable"] = sorted(unmeasurable)
    proto = {"batch": batch, "threads": threads, **dataclasses.asdict(protocol),
             "timing": ("CUDA events around each call" if device_kind == "cuda" and
                        runtime == "torch" else "perf_counter_ns around each call"),
             "onnxruntime": {"graph_optimization_level": "basic", "execution_mode":
                             "sequential", "inter_op_num_threads": 1,
                             "intra_op_num_threads": threads} if runtime == "onnxruntime" else None,
             "weights": "random (latency does not depend on trained values)",
             "op_boundaries": "each op includes the quantization of its own output "
                              "(QuantizeLinear/Clip/DequantizeLinear); the input quantizer is op "
                              "'input'"}
    if existing is not None:
        proto = existing.protocol
    space_d = {"name": space.name,
               "config": space.config() if hasattr(space, "config") else {}}
    if existing is not None:
        space_d = existing.space
    return LatencyTable(machine=existing.machine if existing is not None
                        else machine_info(device_kind, runtime),
                        protocol=proto, space=space_d, ops=new_ops, overhead=overhead, build=build)


def _fit_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    fit = fit_overhead([r["ops_sum_ms"] for r in rows], [r["n_ops"] for r in rows],
                       [r["median_ms"] for r in rows])
    return {**fit, "calibration": rows}


def _refit(old: Mapping[str, Any], ops: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """After an update: recompute the calibration networks' op sums and refit."""
    rows = [dict(r) for r in old.get("calibration", [])]
    if len(rows) < 3 or any(k not in ops for r in rows for k in r["ops"]):
        return dict(old)
    for r in rows:
        r["ops_sum_ms"] = float(sum(ops[k]["median_ms"] for k in r["ops"]))
    return _fit_rows(rows)


# ------------------------------------------------------------------------------ coverage
def measure_command(table_path: str, table: LatencyTable | None = None, space: str = "cnv",
                    extra: str = "") -> str:
    """The command that measures a table's missing ops in place."""
    if table is None:
        return f"codesign latency build --space {space} --device cpu --out {table_path}"
    return (f"codesign latency build --space {table.space.get('name', space)}{extra} "
            f"--device {table.device_kind} --runtime {table.runtime} --threads {table.threads} "
            f"--batch {table.batch} --update --out {table_path}")


def check_covers(table: LatencyTable, space: SearchSpace, table_path: str,
                 extra: str = "") -> None:
    """Refuse a table that lacks an op of ``space``: name it and print the command to measure it."""
    missing = table.missing(space_ops(space))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError("latency-table", f"op {missing[0]}{more} of space '{space.name}' is not "
                         f"in {table_path}; measure the missing ops with: "
                         f"{measure_command(table_path, table, space.name, extra)}")


def fastest(model: LatencyTableModel, space: SearchSpace) -> tuple[float, NetworkSpec]:
    """The lowest predicted latency over the whole space and a network that has it.

    Exact for the model: per architecture, every layer takes its fastest bit choice (layers'
    bits are independent slots and the prediction is increasing in each op's median when
    ``beta > 0``).
    """
    best: tuple[float, NetworkSpec] | None = None
    beta = float(model.table.overhead["beta"])
    for c in arch_variants(space):
        options = variant_layer_options(space, c)
        pick = []
        for opts in options:
            known = [o for o in opts if o.key in model.table.ops]
            if not known:
                break
            pick.append((min if beta >= 0 else max)(known, key=lambda o: model.table.median(o.key)))
        else:
            pred = model.predict_from_sum(sum(model.table.median(o.key) for o in pick), len(pick))
            if best is None or pred < best[0]:
                spec = _spec_with_ops(space, c, pick)
                best = (pred, spec)
    if best is None:
        raise InputError("latency-table", f"covers no complete network of space '{space.name}'")
    return best


def _spec_with_ops(space: SearchSpace, c: Candidate, ops: list[OpConfig]) -> NetworkSpec:
    spec = space.describe(c)
    d = spec.to_dict()
    by_name = {name: op for (name, _), op in zip(network_ops(spec), ops)}
    for layer in d["layers"]:
        op = by_name.get(layer["name"])
        if op is not None and op.op in ("conv", "fc"):
            layer["weight_bits"], layer["act_bits"] = op.weight_bits, op.act_bits
    return NetworkSpec.from_dict(d)


def check_latency_target(model: LatencyTableModel, space: SearchSpace,
                         max_latency_ms: float | None, table_path: str) -> float:
    """At search start: the table covers the space, and the budget is not below the fastest
    candidate.  Returns the fastest predicted latency (ms)."""
    extra = ""
    cfg = space.config() if hasattr(space, "config") else {}
    if cfg and cfg != model.table.space.get("config"):
        shape = "x".join(str(v) for v in cfg.get("input_shape", []))
        extra = (f" --input-shape {shape}" if shape else "") + (
            f" --num-classes {cfg['num_classes']}" if "num_classes" in cfg else "")
    check_covers(model.table, space, table_path, extra)
    low, spec = fastest(model, space)
    if max_latency_ms is not None and max_latency_ms < low:
        ops = ", ".join(f"{l.name} w{l.weight_bits}a{l.act_bits if l.act_bits else '-'}"
                        for l in spec.compute_layers)
        raise InputError("max-latency-ms", f"{max_latency_ms:g} ms is below the fastest design "
                         f"of space '{space.name}' on {model.table.describe_target()}: "
                         f"{low:.4f} ms predicted (smallest architecture at its fastest bits: "
                         f"{ops})", [f">= {low:.4f}"])
    return low


# ------------------------------------------------------------------------------ validate
def validate_table(table: LatencyTable, space: SearchSpace, samples: int, seed: int = 2,
                   protocol: Protocol | None = None, progress: bool = True) -> dict[str, Any]:
    """Measure ``samples`` fresh random networks end to end with the table's runtime, threads and
    batch, and compare with the table's predictions (calibration networks are excluded)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InputError("samples", f"got {samples!r}", ["an integer >= 1"])
    protocol = protocol or Protocol.of_table(table)
    model = LatencyTableModel(table)
    exclude = [tuple(r["ops"]) for r in table.overhead.get("calibration", [])]
    nets = random_networks(space, samples, seed, exclude)
    dk, rt = table.device_kind, table.runtime
    with tempfile.TemporaryDirectory(prefix="codesign-latency-") as tmp:
        runners: dict[str, Runner] = {}
        bar = _bar(len(nets), "export networks", progress)
        for i, spec in enumerate(nets):
            runners[str(i)] = network_runner(spec, dk, rt, table.threads, table.batch,
                                             Path(tmp), f"net{i}")
            bar.update(1)
        bar.close()
        stats = _measure(runners, protocol, progress)
        del runners
    rows = []
    for i, spec in enumerate(nets):
        rep = model.estimate(spec)
        meas = stats[str(i)]["median_ms"]
        rows.append({"network": spec.to_dict(), "predicted_ms": rep.latency_ms,
                     "uncertainty_ms": rep.uncertainty_ms, "measured_ms": meas,
                     "measured_iqr_ms": stats[str(i)]["iqr_ms"],
                     "rel_error": (rep.latency_ms - meas) / meas})
    err = np.array([abs(r["rel_error"]) for r in rows])
    return {"mape": float(err.mean()), "share_within_10pct": float(np.mean(err <= 0.10)),
            "share_within_5pct": float(np.mean(err <= 0.05)),
            "max_abs_rel_error": float(err.max()), "samples": len(rows), "seed": seed,
            "device_kind": dk, "runtime": rt, "target": table.describe_target(),
            "gpu_name": table.machine.get("gpu_name"), "cpu_model": cpu_model(),
            "rows": rows}


def plot_validation(path: str | Path, result: Mapping[str, Any]) -> Path:

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from codesign.io import atomic_write_figure

    rows = result["rows"]
    m = np.array([r["measured_ms"] for r in rows])
    p = np.array([r["predicted_ms"] for r in rows])
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    lo, hi = 0.9 * min(m.min(), p.min()), 1.1 * max(m.max(), p.max())
    ax.plot([lo, hi], [lo, hi], c="k", lw=1, label="predicted = measured")
    ax.fill_between([lo, hi], [0.9 * lo, 0.9 * hi], [1.1 * lo, 1.1 * hi], color="g", alpha=0.15,
                    label="+-10 %")
    ax.errorbar(m, p, yerr=[r["uncertainty_ms"] for r in rows], fmt="o", ms=3, lw=0.6,
                label=f"{len(rows)} random networks")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured end-to-end latency (ms)")
    ax.set_ylabel("predicted from table (ms)")
    ax.set_title(f"{result['target']}\nMAPE {100 * result['mape']:.1f} %, "
                 f"{100 * result['share_within_10pct']:.0f} % within +-10 %", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return atomic_write_figure(path, fig)


__all__ = ["Protocol", "build_table", "validate_table", "space_ops", "check_covers", "fastest",
           "random_networks", "machine_info", "check_runtime", "check_same_machine",
           "plot_validation", "measure_command", "check_latency_target"]

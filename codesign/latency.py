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
from hw_models.latency_table import (DEVICE_KINDS, KIND_GROUPS, RUNTIMES, STATISTICS,
                                     LatencyTable,
                                     LatencyTableModel, OpConfig, fit_overhead, kind_group,
                                     network_ops)
from hw_models.network import NetworkSpec

from codesign.spaces.base import Candidate, SearchSpace

log = logging.getLogger(__name__)

DEFAULT_RUNTIME = {"cpu": "onnxruntime", "cuda": "torch"}
MAX_ARCH_VARIANTS = 4096


@dataclass(frozen=True)
class Protocol:
    """How every op and network is timed (stored in the table)."""

    rounds: int = 6
    warmup_runs: int = 5
    min_repeats: int = 20
    round_s: float = 0.05
    max_repeats: int = 2000
    calibration: int = 32
    calibration_seed: int = 1
    #: keep every core out of its idle state while timing (see :class:`KeepAwake`); ``None``:
    #: on when more than one thread is timed on the CPU, off otherwise
    keep_awake: bool | None = None
    #: the machine-state probe (see :func:`measure_round_robin`): a fixed network timed before
    #: every ``probe_every`` items; rounds timed while it ran more than ``state_tolerance`` above
    #: its reference are "degraded" and do not count, and items left with no normal round are
    #: timed again until they get one or ``state_wait_s`` seconds have passed
    #: what the table predicts of each item's timed runs (:data:`STATISTICS`)
    statistic: str = "p10"
    probe: bool = True
    probe_every: int = 2
    #: an item needs this many normal rounds (one slow round between two normal readings can
    #: slip through; two rarely do)
    min_normal_rounds: int = 2
    state_tolerance: float = 0.10
    state_wait_s: float = 120.0

    def __post_init__(self) -> None:
        for k in ("rounds", "warmup_runs", "min_repeats", "max_repeats"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(k.replace("_", "-"), f"got {v!r}", ["an integer >= 1"])
        if not self.round_s > 0:
            raise InputError("round-s", f"got {self.round_s!r}", ["a number > 0"])
        if self.calibration < 3:
            raise InputError("calibration", f"got {self.calibration!r}", ["an integer >= 3"])
        if self.keep_awake not in (None, True, False):
            raise InputError("keep-awake", f"got {self.keep_awake!r}", ["true", "false"])
        if self.statistic not in STATISTICS:
            raise InputError("statistic", f"got {self.statistic!r}", STATISTICS)
        if self.probe not in (True, False):
            raise InputError("probe", f"got {self.probe!r}", ["true", "false"])
        for k in ("probe_every", "min_normal_rounds"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(k.replace("_", "-"), f"got {v!r}", ["an integer >= 1"])
        if not self.state_wait_s >= 0:
            raise InputError("state-wait-s", f"got {self.state_wait_s!r}", ["a number >= 0"])
        if not 0 < self.state_tolerance < 1:
            raise InputError("state-tolerance", f"got {self.state_tolerance!r}",
                             ["a number in (0, 1)"])

    def resolved(self, device_kind: str, threads: int) -> "Protocol":
        """This protocol with ``keep_awake`` decided for ``device_kind`` and ``threads``."""
        if self.keep_awake is not None:
            return self
        return dataclasses.replace(self, keep_awake=device_kind == "cpu" and threads > 1)

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
_SPINNER = """
import os, sys
try:
    os.sched_setaffinity(0, {int(sys.argv[1])})
except (AttributeError, OSError):
    pass
try:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
except (AttributeError, OSError):
    os.nice(19)
while True:
    pass
"""


class KeepAwake:
    """Keep every usable core busy with a lowest-priority spinner while timing multi-threaded ops.

    Why: on a virtual machine whose idle vCPUs halt (``cpuidle`` haltpoll with no guest polling,
    as on this project's 2-core machines), waking onnxruntime's intra-op worker costs a VM exit,
    and whole multi-second stretches then run at one thread's speed: the same 2-thread network
    measured 0.39 ms or 0.65 ms depending on when it was timed (``bench/LATENCY.md``).  A
    ``SCHED_IDLE`` spinner per core keeps the vCPUs from halting; the kernel preempts it at once
    for any normal thread, so it takes no time from the measured work.  It is what a
    latency-critical server does with its cores (busy-polling idle), and the table records it
    (``protocol.keep_awake``) so validation times the same way.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> "KeepAwake":
        if self.enabled:
            import sys

            cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
                else list(range(os.cpu_count() or 1))
            for cpu in cores:
                self.procs.append(subprocess.Popen([sys.executable, "-c", _SPINNER, str(cpu)],
                                                   stdin=subprocess.DEVNULL,
                                                   stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL))
            time.sleep(0.2)
        return self

    def __exit__(self, *exc: Any) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs.clear()


def _stats(samples_s: Sequence[float], round_medians_s: Sequence[float] = ()) -> dict[str, Any]:
    """Summary of one item's timings (ms): quartiles, low percentiles, minimum and the best
    round's median (the rounds are spread over the whole measurement, so that one is the item
    at the machine's fastest state)."""
    a = np.asarray(samples_s) * 1e3
    p5, p10, q1, med, q3 = np.percentile(a, [5, 10, 25, 50, 75])
    out = {"median_ms": float(med), "q1_ms": float(q1), "q3_ms": float(q3),
           "iqr_ms": float(q3 - q1), "p5_ms": float(p5), "p10_ms": float(p10),
           "min_ms": float(a.min()), "n": int(a.size)}
    if len(round_medians_s):
        out["best_round_ms"] = float(np.min(round_medians_s) * 1e3)
    return out


@dataclass
class Measurement:
    """What :func:`measure_round_robin` returns: per-item statistics and the machine's state."""

    stats: dict[str, dict[str, Any]]
    #: the probe's fastest round (ms): the reference of the normal state (``None`` without probe)
    probe_ref_ms: float | None = None
    state: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self.stats[key]


def _time_round(run: Runner, protocol: Protocol) -> list[float]:
    for _ in range(protocol.warmup_runs):
        run()
    got: list[float] = []
    t_end = time.perf_counter() + protocol.round_s
    while len(got) < protocol.min_repeats or (time.perf_counter() < t_end
                                              and len(got) < protocol.max_repeats):
        got.append(run.timed())
    return got


def _statistic_ms(samples_s: Sequence[float], statistic: str) -> float:
    a = np.asarray(samples_s) * 1e3
    if statistic == "min":
        return float(a.min())
    q = {"median": 50, "p10": 10, "p5": 5}[statistic]
    return float(np.percentile(a, q))


def measure_round_robin(runners: Mapping[str, Runner], protocol: Protocol, bar: Any = None,
                        probe: Runner | None = None,
                        probe_ref_ms: float | None = None) -> Measurement:
    """Time every runner in ``protocol.rounds`` round-robin passes.

    With a ``probe`` (a fixed network), the machine's state is watched: the probe is timed
    before every block of ``protocol.probe_every`` items and once after the last, so every
    item's round lies between two readings.  A round is *normal* when both readings around it
    are within ``state_tolerance`` of the reference ``probe_ref_ms`` (given: a table's; else the
    probe's fastest reading here).  Items' statistics come from their normal rounds only; items
    with none are timed again, with the probe, in more passes until they have one or
    ``protocol.state_wait_s`` seconds have passed (``min_normal_rounds`` of them, in fact);
    an item still without one keeps all its
    rounds and is flagged ``"degraded": True``.

    Why: on this project's 2-core virtual machines a vCPU is sometimes slowed by the host for
    seconds to minutes, and a 2-thread op then runs at about one thread's speed (0.39 ms vs
    0.65 ms for one network, ``bench/LATENCY.md``); such rounds would mix two machines into one
    table.
    """
    samples: dict[str, list[list[float]]] = {k: [] for k in runners}
    blocks: dict[str, list[int]] = {k: [] for k in runners}  # the block each round lies in
    readings: list[float] = []  # readings[b]: the probe before block b (and after block b - 1)

    def read_probe() -> None:
        readings.append(float(np.median(_time_round(probe, protocol)) * 1e3))  # type: ignore

    def timed_pass(keys: Sequence[str], progress_bar: Any = None) -> None:
        for i, key in enumerate(keys):
            if probe is not None and i % protocol.probe_every == 0:
                read_probe()
            samples[key].append(_time_round(runners[key], protocol))
            blocks[key].append(len(readings) - 1)
            if progress_bar is not None:
                progress_bar.update(1)
        if probe is not None:
            read_probe()  # closes the last block

    for _ in range(protocol.rounds):
        timed_pass(list(runners), bar)
    ref = probe_ref_ms if probe_ref_ms is not None else (min(readings) if readings else None)
    limit = None if ref is None else ref * (1 + protocol.state_tolerance)

    def normal(key: str) -> list[int]:
        if limit is None:
            return list(range(len(samples[key])))
        return [i for i, b in enumerate(blocks[key])
                if readings[b] <= limit and readings[b + 1] <= limit]

    passes = 0
    need = min(protocol.min_normal_rounds, protocol.rounds)
    deadline = time.perf_counter() + protocol.state_wait_s
    while limit is not None and time.perf_counter() < deadline:
        todo = [k for k in runners if len(normal(k)) < need]
        if not todo:
            break
        passes += 1
        timed_pass(todo)
    stats: dict[str, dict[str, Any]] = {}
    degraded = 0
    for key in runners:
        idx = normal(key)
        flagged = not idx
        if flagged:
            degraded += 1
            idx = list(range(len(samples[key])))
        flat = [t for i in idx for t in samples[key][i]]
        st = _stats(flat, [float(np.median(samples[key][i])) for i in idx])
        st["rounds"] = len(samples[key])
        st["normal_rounds"] = 0 if flagged else len(idx)
        if flagged:
            st["degraded"] = True
        if len(idx) >= 2:  # split-half: the item's two halves of rounds, measured apart in time
            halves = [[t for i in idx[h::2] for t in samples[key][i]] for h in (0, 1)]
            st["halves_ms"] = [_statistic_ms(h, protocol.statistic) for h in halves]
        stats[key] = st
    state: dict[str, Any] = {}
    if readings:
        arr = np.array(readings)
        state = {"probe_ref_ms": ref, "probe_median_ms": float(np.median(arr)),
                 "probe_min_ms": float(arr.min()), "probe_readings": int(arr.size),
                 "share_degraded_readings": float(np.mean(arr > limit)),
                 "extra_passes": passes, "items_degraded": degraded,
                 # the fastest reading against the reference: 1.0 when the reference was found
                 # here; far from 1 against a table's, this machine never ran at its speed
                 "speed_ratio": float(arr.min() / ref) if ref else None}
    return Measurement(stats, ref, state)


def degraded_warning(state: Mapping[str, Any] | None, items: int) -> str | None:
    """When some of ``items`` never got their normal rounds: a sentence saying how many and how
    often the machine was slow (those items' figures mix machine states), else ``None``."""
    n = int((state or {}).get("items_degraded") or 0)
    if not n:
        return None
    return (f"{n} of {items} items never got their normal rounds (the probe read slow in "
            f"{100 * state['share_degraded_readings']:.0f} % of {state['probe_readings']} "
            "readings), so their figures mix machine states (flagged 'degraded'); measure "
            "again when the machine is quiet")


def speed_mismatch(state: Mapping[str, Any] | None, tolerance: float = 0.10) -> str | None:
    """When a measurement against a table's probe reference never saw the table's machine: a
    sentence saying how much slower (or faster) this machine ran, else ``None``.

    Slower: even the fastest of all the probe's readings was more than ``tolerance`` above the
    reference, so no round was normal (the same CPU model string can hide a slower host; a
    host's slow state can also last the whole run).  Faster: the fastest reading was more than
    ``tolerance`` below it, so every reading counted as normal but the table's figures are too
    high for this machine.
    """
    r = (state or {}).get("speed_ratio")
    if not r:
        return None
    if r > 1 + tolerance:
        how = f"{r:.2f}x slower than"
    elif r < 1 / (1 + tolerance):
        how = f"{1 / r:.2f}x faster than"
    else:
        return None
    return (f"this machine never ran at the table's speed: the probe's fastest reading "
            f"({state['probe_min_ms']:.4f} ms, of {state['probe_readings']}) was {how} the "
            f"table's reference ({state['probe_ref_ms']:.4f} ms), so these figures compare "
            "another machine (or another state of this one) with the table's")


def _measure(runners: Mapping[str, Runner], protocol: Protocol, progress: bool,
             probe: Runner | None = None, probe_ref_ms: float | None = None) -> Measurement:
    """:func:`measure_round_robin` behind a progress bar."""
    bar = _bar(protocol.rounds * len(runners), "measure", progress)
    try:
        with KeepAwake(bool(protocol.keep_awake)):
            return measure_round_robin(runners, protocol, bar, probe, probe_ref_ms)
    finally:
        bar.close()


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not progress, dynamic_ncols=True,
                leave=False)


# ------------------------------------------------------------------------------ build
def probe_network(space: SearchSpace) -> NetworkSpec:
    """The machine-state probe of a table: the space's largest network at its widest bits
    (the most parallel work, so the most sensitive to a slowed core)."""
    return space.describe(space.repair(space.extreme(largest=True)))


def _probe_of(table: LatencyTable | None, space: SearchSpace,
              protocol: Protocol) -> tuple[NetworkSpec | None, float | None]:
    """The probe network and its reference (ms) to measure against: a table's own when it has
    one (an update, a validation), else the space's (the reference is then found here)."""
    if not protocol.probe:
        return None, None
    if table is not None and isinstance(table.protocol.get("probe_network"), Mapping):
        ref = table.protocol.get("probe_ref_ms")
        return (NetworkSpec.from_dict(table.protocol["probe_network"]),
                float(ref) if ref is not None else None)
    return probe_network(space), None


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
    for name, v in (("threads", threads), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(name, f"got {v!r}", ["an integer >= 1"])
    protocol = (protocol or Protocol()).resolved(device_kind, threads)
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
        probe_spec, probe_ref = _probe_of(existing, space, protocol)
        probe = (network_runner(probe_spec, device_kind, runtime, threads, batch, workdir,
                                "probe") if probe_spec is not None else None)
        stats = _measure(runners, protocol, progress, probe, probe_ref)
        del runners, probe

    new_ops = dict(existing.ops) if existing is not None else {}
    for key, op in todo.items():
        new_ops[key] = {"config": op.to_dict(), **stats[key]}
    if existing is not None:
        off = speed_mismatch(stats.state, protocol.state_tolerance)
        if off:  # ops timed on a machine of another speed would not add up with the table's
            raise InputError("out", f"{off}; ops measured now would not add up with the "
                             "table's, nothing was written. Rebuild the whole table here "
                             "(the same command without --update), or update it on the "
                             "machine that built it")
        overhead = _refit(existing.overhead, new_ops, existing.stat_key)
    else:
        rows = []
        sk = f"{protocol.statistic}_ms"
        for j, spec in enumerate(calib):
            keys = network_key(spec)
            rows.append({"network": spec.to_dict(), "ops": list(keys),
                         "ops_sum_ms": float(sum(new_ops[k][sk] for k in keys)),
                         "kind_sums_ms": _kind_sums(keys, new_ops, sk),
                         "n_ops": len(keys), **stats[f"net:{j}"]})
        overhead = _fit_rows(rows, sk)
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
    if stats.state:
        build["state" if existing is None else "update_state"] = stats.state
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
    if probe_spec is not None and existing is None:
        proto["probe_network"] = probe_spec.to_dict()
        proto["probe_ref_ms"] = stats.probe_ref_ms
    if existing is not None:
        proto = existing.protocol
    space_d = {"name": space.name,
               "config": space.config() if hasattr(space, "config") else {}}
    if existing is not None:
        space_d = existing.space
    return LatencyTable(machine=existing.machine if existing is not None
                        else machine_info(device_kind, runtime),
                        protocol=proto, space=space_d, ops=new_ops, overhead=overhead, build=build)


def _kind_sums(keys: Sequence[str], ops: Mapping[str, Mapping[str, Any]],
               stat_key: str) -> dict[str, float]:
    out = {g: 0.0 for g in KIND_GROUPS}
    for k in keys:
        out[kind_group(k.split("|", 1)[0])] += float(ops[k][stat_key])
    return out


def _fit_rows(rows: list[dict[str, Any]], stat_key: str) -> dict[str, Any]:
    fit = fit_overhead([r["ops_sum_ms"] for r in rows], [r["n_ops"] for r in rows],
                       [r[stat_key] for r in rows], [r["kind_sums_ms"] for r in rows])
    return {**fit, "calibration": rows}


def _refit(old: Mapping[str, Any], ops: Mapping[str, Mapping[str, Any]],
           stat_key: str) -> dict[str, Any]:
    """After an update: recompute the calibration networks' op sums and refit."""
    rows = [dict(r) for r in old.get("calibration", [])]
    if len(rows) < 3 or any(k not in ops for r in rows for k in r["ops"]):
        return dict(old)
    for r in rows:
        r["ops_sum_ms"] = float(sum(ops[k][stat_key] for k in r["ops"]))
        r["kind_sums_ms"] = _kind_sums(r["ops"], ops, stat_key)
    return _fit_rows(rows, stat_key)


# ------------------------------------------------------------------------------ coverage
def measure_command(table_path: str, table: LatencyTable | None = None, space: str = "cnv",
                    extra: str = "") -> str:
    """The command that measures a table's missing ops in place."""
    if table is None:
        return f"codesign latency build --space {space} --device cpu --out {table_path}"
    return table.build_command(table_path, extra, update=True)


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

    Exact for the model: per architecture, every layer takes the bit choice with the smallest
    term ``op_weight * median`` (layers' bits are independent slots and the prediction is a sum
    of such terms plus constants of the architecture).
    """
    best: tuple[float, NetworkSpec] | None = None
    for c in arch_variants(space):
        options = variant_layer_options(space, c)
        pick = []
        for opts in options:
            known = [o for o in opts if o.key in model.table.ops]
            if not known:
                break
            # the prediction is a weighted sum over ops: per layer, the smallest term wins
            pick.append(min(known, key=lambda o: model.op_weight(o.op) * model.table.op_ms(o.key)))
        else:
            pred = model.predict_from_ops((o.op, model.table.op_ms(o.key)) for o in pick)
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
    protocol = (protocol or Protocol.of_table(table)).resolved(table.device_kind, table.threads)
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
        probe_spec, probe_ref = _probe_of(table, space, protocol)
        probe = (network_runner(probe_spec, dk, rt, table.threads, table.batch, Path(tmp),
                                "probe") if probe_spec is not None else None)
        stats = _measure(runners, protocol, progress, probe, probe_ref)
        del runners, probe
    rows = []
    for i, spec in enumerate(nets):
        rep = model.estimate(spec)
        st = stats[str(i)]
        meas = st[table.stat_key]
        rows.append({"network": spec.to_dict(), "predicted_ms": rep.latency_ms,
                     "uncertainty_ms": rep.uncertainty_ms, "measured_ms": meas,
                     "measured_iqr_ms": st["iqr_ms"], "measured_halves_ms": st.get("halves_ms"),
                     "measured": {k: v for k, v in st.items() if k != "halves_ms"},
                     "degraded": bool(st.get("degraded", False)),
                     "rel_error": (rep.latency_ms - meas) / meas})
    err = np.array([abs(r["rel_error"]) for r in rows])
    ok = np.array([not r["degraded"] for r in rows])
    return {"mape": float(err.mean()), "share_within_10pct": float(np.mean(err <= 0.10)),
            "share_within_5pct": float(np.mean(err <= 0.05)),
            "max_abs_rel_error": float(err.max()), "samples": len(rows), "seed": seed,
            "device_kind": dk, "runtime": rt, "target": table.describe_target(),
            "gpu_name": table.machine.get("gpu_name"), "cpu_model": cpu_model(),
            "repeatability": repeatability(rows), "state": stats.state,
            "machine_mismatch": speed_mismatch(stats.state, protocol.state_tolerance),
            "networks_degraded": int((~ok).sum()),
            "share_within_10pct_normal_state": (float(np.mean(err[ok] <= 0.10)) if ok.any()
                                                else None),
            "rows": rows}


def repeatability(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How far the measurement itself reproduces: each network's rounds split in two halves
    (alternate rounds, taken apart in time), the two medians compared.  A predictor cannot be
    judged finer than this."""
    d = [abs(a - b) / (0.5 * (a + b)) for r in rows if r.get("measured_halves_ms")
         for a, b in [r["measured_halves_ms"]]]
    if not d:
        return {"networks": 0}
    arr = np.array(d)
    return {"networks": int(arr.size), "median_half_diff": float(np.median(arr)),
            "share_halves_within_10pct": float(np.mean(arr <= 0.10)),
            "max_half_diff": float(arr.max())}


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
           "plot_validation", "measure_command", "check_latency_target", "speed_mismatch",
           "degraded_warning"]

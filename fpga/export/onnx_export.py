"""ONNX exports of a Brevitas model and their reference executors.

Two formats, one per consumer (Brevitas keeps one export manager per format; so do we):

* **QONNX** (:func:`export_qonnx`) is what FINN reads: ``Quant`` nodes of any bit width
  (1-bit included), a *static* batch of 1 (qonnx's executor and FINN both reject a dynamic
  batch), cleaned up with ``qonnx.util.cleanup.cleanup_model`` (shapes inferred, constants
  folded, readable tensor names ``global_in``/``global_out``).  onnxruntime cannot load it
  (``Quant`` is a custom op); :func:`run_qonnx` runs it with qonnx's executor.
* **QCDQ** (:func:`export_qcdq`) is standard ONNX (``QuantizeLinear``/``Clip``/
  ``DequantizeLinear``), opset 18, a *dynamic* batch axis, input ``"input"`` and output
  ``"logits"``; :func:`run_qcdq` runs it with onnxruntime.  QCDQ cannot represent 1-bit
  (binary) quantizers (Brevitas: ``AssertionError: Binary quant not supported``), so the
  export refuses such a model up front (:func:`qcdq_unsupported_reason`) rather than failing
  midway, which would leave the Brevitas model unusable for a second export.

Inputs are ``float32`` NCHW pixels scaled to ``[0, 1]`` (``pixels / 255``), the convention of
``codesign.models.qcnn``.  Files are written atomically: to a temporary file in the target
directory, then ``os.replace``; a failed export leaves nothing behind.

torch and brevitas are imported inside the export functions only, so the executors and
:func:`top1_agreement` work where only numpy, onnx, qonnx and onnxruntime are installed.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

log = logging.getLogger(__name__)

QCDQ_OPSET = 18
QCDQ_INPUT_NAME = "input"
QCDQ_OUTPUT_NAME = "logits"
QCDQ_MIN_BITS = 2
DEFAULT_QONNX_BATCH = 256
DEFAULT_QCDQ_BATCH = 1024

__all__ = [
    "export_qonnx",
    "export_qcdq",
    "qcdq_unsupported_reason",
    "run_qcdq",
    "run_qonnx",
    "top1_agreement",
]


# ---------------------------------------------------------------- validation
def qcdq_unsupported_reason(layers: Iterable[Any]) -> str | None:
    """Why a network cannot be exported to QCDQ, or ``None`` if it can.

    ``layers`` are duck-typed layer descriptions (``LayerSpec``): ``.name`` and, where
    present, ``.weight_bits``, ``.act_bits`` and ``.in_bits`` (the first layer's ``in_bits``
    is the network input's width).  QCDQ (``QuantizeLinear``/``DequantizeLinear``) needs at
    least 2 bits per quantizer; the first offending layer is named.
    """
    for i, layer in enumerate(layers):
        name = getattr(layer, "name", f"layers[{i}]")
        checks = [("weight", getattr(layer, "weight_bits", None)),
                  ("activation", getattr(layer, "act_bits", None))]
        if i == 0:
            checks.insert(0, ("input", getattr(layer, "in_bits", None)))
        for what, bits in checks:
            if bits is not None and bits < QCDQ_MIN_BITS:
                where = "the network input" if what == "input" else f"layer '{name}'"
                return (f"{where} has {bits}-bit {what}s; QCDQ ONNX needs at least "
                        f"{QCDQ_MIN_BITS} bits (1-bit layers can only be exported to QONNX)")
    return None


def _module_unsupported_reason(model: "nn.Module") -> str | None:
    """The same check on the Brevitas quantizers of any module (names the submodule)."""
    for name, mod in model.named_modules():
        if not getattr(mod, "is_quant_enabled", False) or not callable(getattr(mod, "bit_width", None)):
            continue
        try:
            bits = mod.bit_width()
        except Exception:  # some proxies (e.g. bias) need an input to know their width
            continue
        if bits is None:
            continue
        bits = float(bits)
        if bits < QCDQ_MIN_BITS:
            owner, _, kind = name.rpartition(".")
            what = "weight" if "weight" in kind else "activation"
            return (f"module '{owner or name}' has a {bits:g}-bit {what} quantizer; QCDQ ONNX "
                    f"needs at least {QCDQ_MIN_BITS} bits (1-bit layers can only be exported "
                    "to QONNX)")
    return None


def _chw(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """``(C, H, W)`` from ``(C, H, W)`` or ``(N, C, H, W)`` (the batch is ignored)."""
    shape = tuple(input_shape)
    if len(shape) == 4:
        shape = shape[1:]
    if len(shape) != 3 or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1
                              for d in shape):
        raise ValueError(f"input_shape: got {tuple(input_shape)!r}; expected (C, H, W) or "
                         "(N, C, H, W) with positive integers")
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


def _check_pixels(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{what}: expected a 4-d NCHW array, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{what}: expected float pixels in [0, 1] (pixels / 255), got dtype "
                         f"{x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(f"{what}: values must lie in [0, 1] (pixels / 255); got "
                         f"[{float(x.min()):g}, {float(x.max()):g}]")
    return x


# ---------------------------------------------------------------- atomic files
def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp.onnx")


def _discard(tmp: Path) -> None:
    for p in (tmp, Path(str(tmp) + ".data")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _dummy_input(model: "nn.Module", chw: tuple[int, int, int]):
    import torch

    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    return torch.rand((1, *chw), generator=gen).to(device)


# ---------------------------------------------------------------- exports
def export_qonnx(model: "nn.Module", input_shape: Sequence[int], path: str | os.PathLike) -> Path:
    """Export ``model`` to QONNX for FINN: static batch 1, cleaned up, checked; returns the path.

    ``input_shape`` is ``(C, H, W)`` or ``(N, C, H, W)``; the batch is always exported as 1.
    """
    import onnx
    from brevitas.export import export_qonnx as brevitas_export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    chw = _chw(input_shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    t0 = time.perf_counter()
    try:
        # dynamo=False: the TorchScript exporter, faster and without the onnxscript dependency.
        brevitas_export_qonnx(model, _dummy_input(model, chw), str(tmp), dynamo=False)
        wrapped = cleanup_model(ModelWrapper(str(tmp)))
        onnx.checker.check_model(wrapped.model)
        onnx.save(wrapped.model, str(tmp))
        os.replace(tmp, path)
    finally:
        _discard(tmp)
    log.info("QONNX export %s (%.1f s)", path, time.perf_counter() - t0)
    return path


def export_qcdq(model: "nn.Module", input_shape: Sequence[int], path: str | os.PathLike, *,
                opset_version: int = QCDQ_OPSET) -> Path:
    """Export ``model`` to QCDQ ONNX for onnxruntime (dynamic batch); returns the path.

    Input ``"input"`` (float32 NCHW in [0, 1]), output ``"logits"``.  Raises ``ValueError``
    naming the layer when a quantizer has fewer than 2 bits (see :func:`qcdq_unsupported_reason`).
    """
    import onnx
    from brevitas.export import export_onnx_qcdq

    chw = _chw(input_shape)
    spec_layers = getattr(getattr(model, "spec", None), "layers", None)
    reason = (qcdq_unsupported_reason(spec_layers) if spec_layers is not None else None) \
        or _module_unsupported_reason(model)
    if reason:
        raise ValueError(f"cannot export to QCDQ: {reason}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_path(path)
    t0 = time.perf_counter()
    try:
        export_onnx_qcdq(
            model, _dummy_input(model, chw), str(tmp),
            opset_version=opset_version, dynamo=False,
            input_names=[QCDQ_INPUT_NAME], output_names=[QCDQ_OUTPUT_NAME],
            dynamic_axes={QCDQ_INPUT_NAME: {0: "batch"}, QCDQ_OUTPUT_NAME: {0: "batch"}},
            keep_initializers_as_inputs=False,
        )
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    finally:
        _discard(tmp)
    log.info("QCDQ export %s (%.1f s)", path, time.perf_counter() - t0)
    return path


# ---------------------------------------------------------------- executors
def _chunks(n: int, batch_size: int) -> Iterable[slice]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: got {batch_size!r}; expected a positive integer")
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


_ORT_LEVELS = ("disable", "basic", "extended", "all")


def run_qcdq(path: str | os.PathLike, x: np.ndarray, *, batch_size: int = DEFAULT_QCDQ_BATCH,
             optimization: str = "basic") -> np.ndarray:
    """Logits of a QCDQ model on ``x`` (float32 NCHW in [0, 1]) with onnxruntime, in batches.

    ``optimization`` is onnxruntime's graph optimization level.  ``"basic"`` (the default)
    reproduces PyTorch exactly and was as fast as ``"all"`` on the CPU here; ``"extended"``
    and ``"all"`` fuse the QuantizeLinear/DequantizeLinear pairs into integer kernels whose
    requantization rounds differently (on a random 4-bit CNN: 84 % of output rows exact and
    97 % top-1 agreement with PyTorch, against 100 % with ``"basic"``).
    """
    import onnxruntime as ort

    if optimization not in _ORT_LEVELS:
        raise ValueError(f"optimization: got {optimization!r} (accepted: {', '.join(_ORT_LEVELS)})")
    x = _check_pixels(x, "x")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[optimization]
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    expected = tuple(inp.shape[1:])
    if all(isinstance(d, int) for d in expected) and x.shape[1:] != expected:
        raise ValueError(f"x: shape {x.shape} does not match the model input (N, {expected})")
    out = [sess.run(None, {inp.name: x[s]})[0] for s in _chunks(len(x), batch_size)]
    if not out:
        return np.zeros((0, *sess.get_outputs()[0].shape[1:]), np.float32)
    return np.concatenate(out)


def run_qonnx(path: str | os.PathLike, x: np.ndarray, *,
              batch_size: int = DEFAULT_QONNX_BATCH) -> np.ndarray:
    """Logits of a QONNX model on ``x`` (float32 NCHW in [0, 1]) with qonnx's executor.

    qonnx executes node by node (one onnxruntime session per node and call), so the fixed
    cost per call dominates: the batch of the static model is changed to ``batch_size``
    (``ChangeBatchSize`` + shape inference) and ``x`` is run in chunks.  Measured on 2 CPU
    cores: a small 1x28x28 CNN (2 convs, 2 pools, 2 fc) takes 10 ms per image one at a time
    (10,000 images: ~100 s) but 3 s for all 10,000 at batch 256; a 3x32x32 CNN with 4 convs
    about 13 s per 10,000 at batch 256.
    """
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    x = _check_pixels(x, "x")
    base = ModelWrapper(str(path))
    iname, oname = base.graph.input[0].name, base.graph.output[0].name
    expected = tuple(base.get_tensor_shape(iname)[1:])
    if x.shape[1:] != expected:
        raise ValueError(f"x: shape {x.shape} does not match the model input (N, {expected})")
    by_size: dict[int, Any] = {}
    out = []
    for s in _chunks(len(x), batch_size):
        n = s.stop - s.start
        if n not in by_size:
            by_size[n] = base.transform(ChangeBatchSize(n)).transform(InferShapes())
        out.append(np.asarray(execute_onnx(by_size[n], {iname: x[s]})[oname], dtype=np.float32))
    if not out:
        return np.zeros((0, *base.get_tensor_shape(oname)[1:]), np.float32)
    return np.concatenate(out)


def top1_agreement(a_logits: np.ndarray, b_logits: np.ndarray, *, rtol: float = 1e-6,
                   atol: float = 1e-6) -> float:
    """Fraction of rows on which two ``(N, classes)`` logit arrays agree on the top-1 class.

    Quantized networks produce exactly tied logits (integer accumulators times one scale), and
    float noise of ~1e-7 then decides ``argmax`` differently in two executors.  A row agrees
    when each array's arg-max class is also a maximal class of the other one within
    ``atol + rtol * max|logit|`` of that row; ``rtol = atol = 0`` is the strict arg-max test.
    """
    a = np.asarray(a_logits, dtype=np.float64)
    b = np.asarray(b_logits, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"top1_agreement: need two non-empty (N, classes) arrays of the same "
                         f"shape, got {a.shape} and {b.shape}")
    rows = np.arange(a.shape[0])
    a_max, b_max = a.max(axis=1), b.max(axis=1)
    tol_a = atol + rtol * np.abs(a).max(axis=1)
    tol_b = atol + rtol * np.abs(b).max(axis=1)
    b_top_ok_in_a = a[rows, b.argmax(axis=1)] >= a_max - tol_a
    a_top_ok_in_b = b[rows, a.argmax(axis=1)] >= b_max - tol_b
    return float(np.mean(b_top_ok_in_a & a_top_ok_in_b))

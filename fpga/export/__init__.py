"""FINN-facing export: QONNX and QCDQ ONNX files and their executors.

FINN's build files (folding config, specialize-layers config, build config) are written by
:mod:`hw_models.finn_build`, next to the lowering they describe.  Names are resolved lazily so
that importing this package does not import onnx, qonnx or onnxruntime; torch and brevitas are
imported only inside the export functions themselves.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "export_qonnx": "onnx_export",
    "export_qcdq": "onnx_export",
    "qcdq_unsupported_reason": "onnx_export",
    "run_qcdq": "onnx_export",
    "run_qonnx": "onnx_export",
    "top1_agreement": "onnx_export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fpga.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

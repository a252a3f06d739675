"""FINN-facing export: QONNX and QCDQ ONNX files, their executors, FINN's build files
(folding config, specialize-layers config, build config).

Names are resolved lazily so that ``fpga.export.folding_config`` (pure Python) can be used
without importing onnx, qonnx or onnxruntime; torch and brevitas are imported only inside
the export functions themselves.
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
    "finn_build_config": "folding_config",
    "finn_folding_config": "folding_config",
    "finn_node_names": "folding_config",
    "finn_specialize_layers_config": "folding_config",
    "pool_parallelism": "folding_config",
    "write_finn_build_files": "folding_config",
    "write_folding_config": "folding_config",
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

"""What several benchmarks share: a finished run directory's request, data, space, trained
supernet and data splits, loaded the way ``codesign export`` loads them."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class TrainedRun:
    request: Any
    data: Any
    space: Any
    supernet: Any
    splits: Any


def load_run(run_dir: str | Path) -> TrainedRun:
    """The run's request, data set, space, trained supernet (on the CPU) and its splits."""
    from codesign.data import load_dataset
    from codesign.request import SearchRequest
    from codesign.search.loop import build_space
    from codesign.supernet import build_supernet
    from codesign.supernet.fewshot import load_trained
    from codesign.supernet.train import tensor_splits

    run_dir = Path(run_dir)
    req = SearchRequest.load(run_dir / "request.json")
    data = load_dataset(req.dataset, req.data_dir)
    space = build_space(req, data)
    supernet = load_trained(space, build_supernet, req.supernet, run_dir, req.few_shot_splits,
                            "rerun the search").cpu()
    return TrainedRun(req, data, space, supernet, tensor_splits(data, req.val_size, req.seed))

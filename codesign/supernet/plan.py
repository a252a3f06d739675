"""The few-shot split of a space and the checkpoint files of each scheme (torch-free, so that
request validation can use it)."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from fpga.errors import InputError

SCHEMES = ("one-shot", "few-shot")
WARMUP_FILE = "supernet.pt"


def split_groups(space: Any, k: int) -> list[tuple[int, ...]]:
    """``k`` contiguous ranges of nonlinearity counts, balanced by the number of depth
    combinations each holds (so that each sub-supernet serves a similar share of the space)."""
    groups = space.nonlinearity_groups()
    counts = sorted(groups)
    if not 1 <= k <= len(counts):
        raise InputError("few-shot-splits", f"{k} sub-supernets for space {space.name!r}, which "
                         f"has {len(counts)} nonlinearity counts {counts}",
                         [f"1..{len(counts)}"])
    sizes = [len(groups[n]) for n in counts]
    total = sum(sizes)
    # choose k-1 cut points minimising the largest part (tiny search: at most a dozen counts)
    best: tuple[int, list[int]] | None = None

    def parts(cuts: list[int]) -> list[list[int]]:
        bounds = [0] + cuts + [len(counts)]
        return [list(range(bounds[i], bounds[i + 1])) for i in range(len(bounds) - 1)]

    for cuts in itertools.combinations(range(1, len(counts)), k - 1):
        worst = max(sum(sizes[i] for i in p) for p in parts(list(cuts)))
        if best is None or worst < best[0]:
            best = (worst, list(cuts))
    assert best is not None and total > 0
    return [tuple(counts[i] for i in p) for p in parts(best[1])]


def sub_checkpoint(run_dir: Path, i: int) -> Path:
    return run_dir / f"supernet-fs{i}.pt"


def default_warmup(epochs: int) -> int:
    return max(1, epochs // 2)


def check_few_shot(epochs: int, warmup_epochs: int | None, splits: int) -> int:
    """Validate the few-shot budget; returns the warm-up epochs."""
    w = default_warmup(epochs) if warmup_epochs is None else warmup_epochs
    if epochs < 2:
        raise InputError("epochs", f"{epochs}: a few-shot supernet needs a warm-up epoch and at "
                         "least one more for its sub-supernets", [">= 2 with --supernet few-shot"])
    if not 1 <= w < epochs:
        raise InputError("warmup-epochs", f"{w} of {epochs} epochs", [f"1..{epochs - 1}"])
    return w


def checkpoints(scheme: str, run_dir: Path, space: Any, splits: int) -> list[Path]:
    if scheme == "one-shot":
        return [run_dir / WARMUP_FILE]
    return [run_dir / WARMUP_FILE] + [sub_checkpoint(run_dir, i)
                                      for i in range(len(split_groups(space, splits)))]



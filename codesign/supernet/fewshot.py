"""Few-shot supernets (EFS-NAS): the space split by the number of nonlinear functions.

A one-shot supernet shares every weight among all subnets; subnets of very different depth
then pull the shared weights in different directions and the ranking suffers.  EFS-NAS splits
the space by the number of activation layers on a subnet's path (its *nonlinearity count*)
into a few sub-supernets: the one-shot supernet is first trained for a warm-up, each
sub-supernet starts from those weights and is then trained only on its own subnets, with
supernet-balanced sampling (one random subnet per nonlinearity count of its split per step).
A candidate is scored by the sub-supernet its nonlinearity count belongs to.

Files in the run directory: ``supernet.pt`` (the warm-up, a complete one-shot checkpoint) and
``supernet-fs{i}.pt`` per sub-supernet, each written atomically and resumable after a kill
(each records its split: a checkpoint of another split is refused).
"""
from __future__ import annotations

import copy
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from torch import nn

from codesign.spaces.base import Candidate
from codesign.supernet.config import TrainConfig
from codesign.supernet.plan import (WARMUP_FILE, check_few_shot, checkpoints, split_groups,
                                    sub_checkpoint)
from fpga.errors import InputError

log = logging.getLogger(__name__)

class FewShotSupernet(nn.Module):
    """Sub-supernets behind the one supernet interface (``activate``, ``forward``,
    ``recalibrate_bn``, ``extract``): each call goes to the sub-supernet of the candidate."""

    def __init__(self, space: Any, splits: list[tuple[int, ...]],
                 build: Callable[[Any], nn.Module]) -> None:
        super().__init__()
        self.space, self.splits = space, [tuple(s) for s in splits]
        self.subnets = nn.ModuleList(build(space) for _ in self.splits)
        self._route = {n: i for i, s in enumerate(self.splits) for n in s}
        self._active = 0

    def route(self, c: Candidate) -> int:
        return self._route[self.space.nonlinearity_count(c)]

    def activate(self, c: Candidate) -> "FewShotSupernet":
        self._active = self.route(c)
        self.subnets[self._active].activate(c)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.subnets[self._active](x)

    def set_gates(self, gates: Any) -> "FewShotSupernet":
        for sub in self.subnets:
            sub.set_gates(gates)
        return self

    def recalibrate_bn(self, images: torch.Tensor, batch_size: int = 200) -> None:
        self.subnets[self._active].recalibrate_bn(images, batch_size)

    def extract(self, c: Candidate, spec: Any = None) -> nn.Module:
        return self.subnets[self.route(c)].extract(c, spec)


def sub_configs(cfg: TrainConfig, splits: Iterable[tuple[int, ...]],
                warmup_epochs: int) -> list[TrainConfig]:
    """Each sub-supernet's recipe: the rest of the epochs, its groups, balanced sampling."""
    return [replace(cfg, epochs=cfg.epochs - warmup_epochs, groups=tuple(s), balanced=True,
                    seed=cfg.seed + 1 + i) for i, s in enumerate(splits)]


def warmup_config(cfg: TrainConfig, warmup_epochs: int) -> TrainConfig:
    return replace(cfg, epochs=warmup_epochs)


def train_scheme(space: Any, build: Callable[[Any], nn.Module], scheme: str, cfg: TrainConfig,
                 train_x: torch.Tensor, train_y: torch.Tensor, device: torch.device,
                 run_dir: Path | None, splits: int = 3, warmup_epochs: int | None = None,
                 **train_kw: Any) -> tuple[nn.Module, list[dict[str, Any]]]:
    """Train the supernet of ``scheme`` (resuming from ``run_dir``'s checkpoints); returns the
    model (a supernet or a :class:`FewShotSupernet`) and the training history (each epoch
    tagged with the part it trained: ``warmup`` / ``fs0``...)."""
    from codesign.supernet.train import train_supernet

    def ckpt(name: str) -> Path | None:
        return None if run_dir is None else run_dir / name

    torch.manual_seed(cfg.seed)
    base = build(space)
    if scheme == "one-shot":
        hist = train_supernet(base, train_x, train_y, cfg, device, checkpoint=ckpt(WARMUP_FILE),
                              **train_kw)
        return base, hist
    w = check_few_shot(cfg.epochs, warmup_epochs, splits)
    groups = split_groups(space, splits)
    history = [dict(h, part="warmup") for h in train_supernet(
        base, train_x, train_y, warmup_config(cfg, w), device, checkpoint=ckpt(WARMUP_FILE),
        **train_kw)]
    model = FewShotSupernet(space, groups, build)
    for i, (sub_cfg, sub) in enumerate(zip(sub_configs(cfg, groups, w), model.subnets)):
        sub.load_state_dict(base.state_dict())
        _copy_quantizer_state(base, sub)
        log.info("few-shot: sub-supernet %d of %d (nonlinearity counts %s)", i + 1, len(groups),
                 list(groups[i]))
        history += [dict(h, part=f"fs{i}") for h in train_supernet(
            sub, train_x, train_y, sub_cfg, device,
            checkpoint=None if run_dir is None else sub_checkpoint(run_dir, i), **train_kw)]
    return model.to(device), history


def _copy_quantizer_state(src: nn.Module, dst: nn.Module) -> None:
    """The warm-up's activation-range statistics too (``state_dict`` leaves them out)."""
    from codesign.supernet.checkpoint import _restore_quantizer_state, quantizer_state

    _restore_quantizer_state(dst, copy.deepcopy(quantizer_state(src)))


def load_trained(space: Any, build: Callable[[Any], nn.Module], scheme: str, run_dir: Path,
                 splits: int, recover: str) -> nn.Module:
    """The trained supernet of a finished run (export, benchmarks); missing or damaged
    checkpoints are bad input naming the file and ``recover``."""
    from codesign.rundir import load_checkpoint
    from codesign.supernet.checkpoint import load_supernet_state

    files = checkpoints(scheme, run_dir, space, splits)
    for f in files:
        if not f.is_file():
            raise InputError("RUN_DIR", f"{f} not found: the run's supernet is missing; {recover}")
    if scheme == "one-shot":
        model = build(space)
        load_supernet_state(model, load_checkpoint(files[0], recover), files[0])
        return model
    groups = split_groups(space, splits)
    model = FewShotSupernet(space, groups, build)
    for f, sub, g in zip(files[1:], model.subnets, groups):
        state = load_checkpoint(f, recover)
        saved = (state.get("train_config") or {}).get("groups") if isinstance(
            state.get("train_config"), dict) else None
        if saved is None or tuple(saved) != tuple(g):
            raise InputError(f.name, f"{f} holds the sub-supernet of another few-shot split "
                             f"(nonlinearity counts {saved}, this run's: {list(g)}); {recover}")
        load_supernet_state(sub, state, f)
    return model


def check_resumable_scheme(space: Any, build: Callable[[Any], nn.Module], scheme: str,
                           cfg: TrainConfig, run_dir: Path, splits: int,
                           warmup_epochs: int | None) -> None:
    """Every checkpoint of the scheme that exists must load and fit (exit 2 otherwise)."""
    from codesign.supernet.checkpoint import check_resumable

    model = build(space)  # each check loads a whole state into it: one model serves them all
    if scheme == "one-shot":
        check_resumable(model, run_dir / WARMUP_FILE, cfg)
        return
    w = check_few_shot(cfg.epochs, warmup_epochs, splits)
    groups = split_groups(space, splits)
    check_resumable(model, run_dir / WARMUP_FILE, warmup_config(cfg, w))
    for i, sub_cfg in enumerate(sub_configs(cfg, groups, w)):
        check_resumable(model, sub_checkpoint(run_dir, i), sub_cfg)

"""The supernet's training recipe (what a checkpoint records) and its optimizer's parameter groups."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 2
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-5
    n_random: int = 1
    #: one random subnet per structural group per step (supernet-balanced sampling) instead of
    #: ``n_random`` uniform ones
    balanced: bool = False
    kd_weight: float = 0.5
    augment: bool = False
    seed: int = 0
    #: few-shot: the nonlinearity counts (activation layers on the path) this sub-supernet
    #: trains; ``None``: the whole space (one-shot)
    groups: tuple[int, ...] | None = None



#: fields added after checkpoints were first written, with the value older checkpoints imply
_ADDED_FIELDS = {"groups": None}


def config_matches(saved: Any, cfg: TrainConfig) -> bool:
    """Whether a checkpoint's recorded ``train_config`` is ``cfg`` (older checkpoints lack the
    fields added since, which then hold their default)."""
    if not isinstance(saved, dict):
        return False
    norm = {k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items()}
    return {**_ADDED_FIELDS, **norm} == asdict(cfg)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        quantizer_or_bn = ("act_quant" in name or "scaling_impl" in name or ".bn." in name
                           or name.endswith(".bias"))
        (no_decay if quantizer_or_bn else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]



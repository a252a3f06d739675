"""Supernet checkpoints: atomic writes, exact-resume state, and the checks that make a damaged or
foreign checkpoint bad input (exit 2) instead of a crash or a silent retrain."""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codesign.supernet.config import TrainConfig, config_matches, param_groups

log = logging.getLogger(__name__)


def atomic_save(obj: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


#: version of the checkpoint layout; 2 added the RNG and data-order state (exact resume)
CHECKPOINT_SCHEMA = 2
_CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "epoch", "history", "train_config")
#: what a user does about a damaged supernet checkpoint
RETRAIN_HINT = ("remove it and rerun the same `codesign search` command: the supernet is "
                "retrained from scratch (the same seed on the same machine gives the same "
                "weights), and the search resumes")



def quantizer_state(model: torch.nn.Module) -> dict[str, dict[str, Any]]:
    """The part of Brevitas's learned activation ranges that ``state_dict`` leaves out.

    An activation quantizer first collects statistics for ``collect_stats_steps`` training
    forwards, then learns its range.  Its step counter and statistics buffer are not in the
    state dict, and loading a state dict ends the collection early; with one quantizer per bit
    width, most are still collecting when a checkpoint is written.  So the checkpoint keeps
    counter, buffer and raw value of every such quantizer, and :func:`load_supernet_state`
    puts them back: a resumed training then computes exactly what an uninterrupted one does.
    """
    from brevitas.core.scaling.standalone import ParameterFromRuntimeStatsScaling

    return {name: {"counter": int(m.counter), "buffer": m.buffer.detach().clone().cpu(),
                   "value": m.value.detach().clone().cpu()}
            for name, m in model.named_modules()
            if isinstance(m, ParameterFromRuntimeStatsScaling)}


@torch.no_grad()
def _restore_quantizer_state(model: torch.nn.Module, saved: dict[str, dict[str, Any]]) -> None:
    modules = dict(model.named_modules())
    for name, st in saved.items():
        m = modules.get(name)
        if m is None or tuple(st["buffer"].shape) != tuple(m.buffer.shape):
            raise KeyError(f"activation quantizer {name}")
        m.counter = int(st["counter"])
        m.buffer.copy_(st["buffer"])
        m.value.copy_(st["value"])


def load_supernet_state(supernet: Any, state: dict[str, Any], path: Path) -> None:
    """Load a checkpoint's weights into ``supernet``; a foreign or damaged one is bad input."""
    from fpga.errors import InputError

    model = state.get("model")
    if not isinstance(model, dict):
        raise InputError("supernet.pt", f"{path} has no model weights; {RETRAIN_HINT}")
    try:
        supernet.load_state_dict(model)
        if isinstance(state.get("quant_stats"), dict):
            _restore_quantizer_state(supernet, state["quant_stats"])
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError("supernet.pt", f"{path} does not fit this search's supernet ({first}); "
                         f"{RETRAIN_HINT}") from None


def _resume_state(checkpoint: Path, cfg: TrainConfig,
                  space: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The checkpoint's content if it can resume this training, ``None`` to start afresh.

    A checkpoint recorded for another space, or for another few-shot split, is refused."""
    from codesign.rundir import load_checkpoint
    from fpga.errors import InputError

    state = load_checkpoint(checkpoint, RETRAIN_HINT)
    missing = [k for k in _CHECKPOINT_KEYS if k not in state]
    if missing:
        raise InputError("supernet.pt", f"{checkpoint} lacks {missing}; {RETRAIN_HINT}")
    if isinstance(state["epoch"], bool) or not isinstance(state["epoch"], int) \
            or state["epoch"] < 0:
        raise InputError("supernet.pt", f"{checkpoint} holds epoch {state['epoch']!r}, not a "
                         f"count of epochs; {RETRAIN_HINT}")
    saved_space = state.get("space")
    if space is not None and isinstance(saved_space, dict) and saved_space != space:
        raise InputError(checkpoint.name, f"{checkpoint} was trained for another search space "
                         f"({saved_space.get('name')!r} {saved_space.get('config')}, this run: "
                         f"{space['name']!r} {space['config']}); {RETRAIN_HINT}")
    saved_cfg = state.get("train_config")
    if isinstance(saved_cfg, dict) and _groups(saved_cfg.get("groups")) != cfg.groups:
        raise InputError(checkpoint.name, f"{checkpoint} was trained for another few-shot split "
                         f"(nonlinearity groups {_groups(saved_cfg.get('groups'))}, this run: "
                         f"{cfg.groups}); {RETRAIN_HINT}")
    if not config_matches(saved_cfg, cfg):
        log.warning("checkpoint %s was trained with another config; retraining", checkpoint)
        return None
    schema = state.get("schema")
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > CHECKPOINT_SCHEMA:
        raise InputError(checkpoint.name, f"{checkpoint} was written by a newer codesign "
                         f"(checkpoint schema {schema}; this one reads up to "
                         f"{CHECKPOINT_SCHEMA}): upgrade codesign, or {RETRAIN_HINT}")
    if schema != CHECKPOINT_SCHEMA:
        # an older checkpoint has no RNG state: it cannot resume exactly, but finished
        # training is still finished
        if int(state["epoch"]) >= cfg.epochs:
            return state
        raise InputError(checkpoint.name, f"{checkpoint} was written by an older codesign "
                         f"(checkpoint schema {schema!r}) that cannot resume an unfinished "
                         f"training exactly; {RETRAIN_HINT}")
    return state


def _groups(v: Any) -> tuple[int, ...] | None:
    return tuple(v) if isinstance(v, (list, tuple)) else v


def check_resumable(supernet: Any, checkpoint: Path, cfg: TrainConfig) -> None:
    """Refuse (InputError, exit 2) a damaged or foreign checkpoint before a run writes anything:
    it must load, hold every part of the training state with the right types, and fit
    ``supernet`` (weights, and the optimizer state over its parameters)."""
    from fpga.errors import InputError

    if not checkpoint.exists():
        return
    from codesign.supernet.train import space_meta

    state = _resume_state(checkpoint, cfg, space_meta(supernet.space))
    if state is None:
        return
    load_supernet_state(supernet, state, checkpoint)
    if int(state["epoch"]) >= cfg.epochs and state.get("schema") != CHECKPOINT_SCHEMA:
        return  # a finished training of the older layout: only its weights are used
    try:
        if not isinstance(state["epoch"], int) or not 0 <= state["epoch"] <= cfg.epochs:
            raise ValueError(f"epoch {state['epoch']!r}")
        if not isinstance(state.get("step", 0), int) or not isinstance(state["history"], list):
            raise ValueError("step or history")
        if int(state["epoch"]) < cfg.epochs:
            opt = torch.optim.Adam(param_groups(supernet, cfg.weight_decay), lr=cfg.lr)
            opt.load_state_dict(state["optimizer"])
            if not isinstance(state["scheduler"], dict):
                raise ValueError("scheduler")
            torch.Generator().set_state(state["rng"]["torch_generator"])
            if not isinstance(state["rng"]["torch_global"], torch.Tensor):
                raise ValueError("rng.torch_global")
            if state.get("step", 0):
                np.random.default_rng().bit_generator.state = state["rng"]["numpy"]
                perm = state["perm"]
                if not isinstance(perm, torch.Tensor) or perm.dim() != 1:
                    raise ValueError("perm")
                float(state["partial"]["loss_sum"]), float(state["partial"]["seconds"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        reason = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise InputError("supernet.pt", f"{checkpoint} holds a damaged training state "
                         f"({type(exc).__name__}: {reason}); {RETRAIN_HINT}") from None



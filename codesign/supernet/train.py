"""Supernet training (sandwich rule + in-place distillation) and subnet evaluation.

Per step, on one mini-batch: the largest subnet learns from the labels; the smallest and
``n_random`` uniformly drawn subnets learn from the labels and from the largest subnet's
soft predictions (in-place distillation, BigNAS); gradients are accumulated and one
optimizer step is taken.  Quantizer ranges get no weight decay.  Before a subnet is scored
its BN statistics are recalibrated on a fixed set of training images.

The same code runs on a CUDA GPU when one is present (``device="auto"``).
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from codesign.spaces.base import Candidate

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Splits:
    """A data set as uint8 image / int64 label tensors: train, validation (carved from the
    training set, seeded) and test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def tensor_splits(data: Any, val_size: int, seed: int) -> Splits:
    """The train/validation/test tensors of an :class:`~codesign.data.ImageDataset`."""
    from codesign.data import train_val_split

    tr, va = train_val_split(len(data.train_x), val_size, seed)
    as_x, as_y = torch.from_numpy, (lambda a: torch.from_numpy(a).long())
    return Splits(as_x(data.train_x[tr]), as_y(data.train_y[tr]), as_x(data.train_x[va]),
                  as_y(data.train_y[va]), as_x(data.test_x), as_y(data.test_y))


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def to_float(images_u8: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 NCHW -> float in [0, 1] on ``device`` (the preprocessing every export records)."""
    return images_u8.to(device, non_blocking=True).float().div_(255.0)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and 4-pixel padded random crop (CIFAR-style)."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen, device="cpu") < 0.5
    x = torch.where(flip.to(x.device).view(n, 1, 1, 1), x.flip(3), x)
    pad = F.pad(x, (4, 4, 4, 4))
    dx, dy = (int(v) for v in torch.randint(0, 9, (2,), generator=gen))
    return pad[:, :, dy:dy + h, dx:dx + w]


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        quantizer_or_bn = ("act_quant" in name or "scaling_impl" in name or ".bn." in name
                           or name.endswith(".bias"))
        (no_decay if quantizer_or_bn else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def _atomic_save(obj: Any, path: Path) -> None:
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


@torch.no_grad()
def init_activation_ranges(supernet: Any, x: torch.Tensor) -> None:
    """One training-mode forward per activation bit width, so every per-bit quantizer exists.

    Brevitas creates a learned activation range on its first training forward; a bit width
    that random sampling never picked would otherwise have no range in the checkpoint.
    """
    space = supernet.space
    big = space.extreme(largest=True)
    act_slots = [s for s in space.slots if s.name.startswith("quant.") and s.name.endswith(".a")]
    bits = sorted({b for s in act_slots for b in s.choices})
    supernet.train()
    for b in bits:
        c = big.replace(**{s.name: b for s in act_slots if b in s.choices})
        supernet.activate(c)
        supernet(x)


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


def _resume_state(checkpoint: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    """The checkpoint's content if it can resume this training, ``None`` to start afresh."""
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
    if state.get("train_config") != asdict(cfg):
        log.warning("checkpoint %s was trained with another config; retraining", checkpoint)
        return None
    if state.get("schema") != CHECKPOINT_SCHEMA:
        # an older checkpoint has no RNG state: it cannot resume exactly, but finished
        # training is still finished
        if int(state["epoch"]) >= cfg.epochs:
            return state
        log.warning("checkpoint %s predates exact resume; retraining", checkpoint)
        return None
    return state


def check_resumable(supernet: Any, checkpoint: Path, cfg: TrainConfig) -> None:
    """Refuse (InputError, exit 2) a damaged or foreign checkpoint before a run writes anything:
    it must load, hold every part of the training state with the right types, and fit
    ``supernet`` (weights, and the optimizer state over its parameters)."""
    from fpga.errors import InputError

    if not checkpoint.exists():
        return
    state = _resume_state(checkpoint, cfg)
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
            opt = torch.optim.Adam(_param_groups(supernet, cfg.weight_decay), lr=cfg.lr)
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


def train_supernet(supernet: Any, train_x: torch.Tensor, train_y: torch.Tensor, cfg: TrainConfig,
                   device: torch.device, checkpoint: Path | None = None,
                   progress: bool = True, checkpoint_every_s: float = 60.0,
                   on_checkpoint: Callable[[], Any] | None = None,
                   ) -> list[dict[str, float]]:
    """Train ``supernet`` in place; resume from / save to ``checkpoint``.

    The checkpoint is written atomically after every epoch and, within an epoch, every
    ``checkpoint_every_s`` seconds.  It carries everything a step depends on: weights,
    optimizer and scheduler state, the data order of the epoch (its permutation), the state of
    the torch generator (order and augmentation), of the numpy generator (subnet sampling) and
    of torch's global generator.  So a run killed at any point and resumed with the same seed
    computes exactly what an uninterrupted run computes.

    Returns the per-epoch history (mean loss of the largest subnet, training seconds summed
    over every session that worked on the epoch).  ``on_checkpoint`` is called after every
    checkpoint (the search records its session's wall time there).
    """
    space = supernet.space
    steps_per_epoch = max(1, len(train_x) // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    gen = torch.Generator().manual_seed(cfg.seed)
    start_epoch, start_step, history = 0, 0, []
    resume: dict[str, Any] = {}
    state = _resume_state(checkpoint, cfg) if checkpoint is not None and checkpoint.exists() \
        else None
    if state is not None:
        # the weights first: Brevitas may replace parameter objects while loading, and the
        # optimizer must hold the ones the model uses
        load_supernet_state(supernet, state, checkpoint)
        start_epoch, history = int(state["epoch"]), list(state["history"])
        if start_epoch >= cfg.epochs:
            return history
    supernet.to(device)
    opt = torch.optim.Adam(_param_groups(supernet, cfg.weight_decay), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(total, 1),
                                                pct_start=0.15)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["rng"]["torch_generator"])
        torch.set_rng_state(state["rng"]["torch_global"])
        start_step = int(state.get("step", 0))
        resume = state
        log.info("resuming supernet training at epoch %d, step %d of %d", start_epoch + 1,
                 start_step, steps_per_epoch)

    big, small = space.extreme(largest=True), space.extreme(largest=False)
    if start_epoch == 0 and start_step == 0:
        init_activation_ranges(supernet, to_float(train_x[:cfg.batch_size], device))
    bar = tqdm(total=total, initial=start_epoch * steps_per_epoch + start_step,
               desc="supernet training", unit="step", disable=not progress, dynamic_ncols=True)

    def save(epoch_done: int, step: int, perm: torch.Tensor | None, rng: Any,
             loss_sum: float, seconds: float) -> None:
        if checkpoint is None:
            return
        _atomic_save({"schema": CHECKPOINT_SCHEMA, "model": supernet.state_dict(),
                      "quant_stats": quantizer_state(supernet),
                      "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                      "epoch": epoch_done, "step": step, "perm": perm,
                      "rng": {"torch_generator": gen.get_state(),
                              "torch_global": torch.get_rng_state(),
                              "numpy": rng.bit_generator.state if rng is not None else None},
                      "partial": {"loss_sum": loss_sum, "seconds": seconds},
                      "history": history, "train_config": asdict(cfg)}, checkpoint)
        if on_checkpoint is not None:
            on_checkpoint()

    supernet.train()
    for epoch in range(start_epoch, cfg.epochs):
        rng = np.random.default_rng([cfg.seed, epoch])
        if epoch == start_epoch and start_step > 0:
            perm = resume["perm"]
            rng.bit_generator.state = resume["rng"]["numpy"]
            loss_sum = float(resume["partial"]["loss_sum"])
            seconds_before = float(resume["partial"]["seconds"])
            first_step = start_step
        else:
            perm = torch.randperm(len(train_x), generator=gen)
            loss_sum, seconds_before, first_step = 0.0, 0.0, 0
        t0 = last_save = time.perf_counter()
        for step in range(first_step, steps_per_epoch):
            idx = perm[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x = to_float(train_x[idx], device)
            if cfg.augment:
                x = _augment(x, gen)
            y = train_y[idx].to(device)
            opt.zero_grad(set_to_none=True)
            supernet.activate(big)
            logits = supernet(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            soft = F.softmax(logits.detach(), dim=1)
            randoms = (space.balanced_samples(rng) if cfg.balanced
                       else [space.sample(rng) for _ in range(cfg.n_random)])
            for c in [small] + randoms:
                supernet.activate(c)
                out = supernet(x)
                kd = F.kl_div(F.log_softmax(out, dim=1), soft, reduction="batchmean")
                ((1 - cfg.kd_weight) * F.cross_entropy(out, y) + cfg.kd_weight * kd).backward()
            torch.nn.utils.clip_grad_norm_(supernet.parameters(), 5.0)
            opt.step()
            sched.step()
            loss_sum += float(loss.detach())
            bar.update(1)
            bar.set_postfix(epoch=f"{epoch + 1}/{cfg.epochs}", loss=f"{float(loss.detach()):.3f}")
            now = time.perf_counter()
            if step + 1 < steps_per_epoch and now - last_save >= checkpoint_every_s:
                save(epoch, step + 1, perm, rng, loss_sum, seconds_before + now - t0)
                last_save = time.perf_counter()
        history.append({"epoch": epoch + 1, "loss_largest": loss_sum / steps_per_epoch,
                        "seconds": seconds_before + time.perf_counter() - t0})
        save(epoch + 1, 0, None, None, 0.0, 0.0)
    bar.close()
    return history


def fingerprint(model: torch.nn.Module) -> str:
    """SHA-1 of a model's state (names, shapes and exact values)."""
    import hashlib

    h = hashlib.sha1()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().contiguous()
            h.update(str((t.dtype, tuple(t.shape))).encode())
            h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        else:
            h.update(repr(t).encode())
    return h.hexdigest()


@torch.no_grad()
def accuracy(model: Callable[[torch.Tensor], torch.Tensor], x_u8: torch.Tensor, y: torch.Tensor,
             device: torch.device, batch_size: int = 1000) -> float:
    """Top-1 accuracy (fraction) of ``model`` on uint8 images."""
    correct = 0
    for i in range(0, len(x_u8), batch_size):
        out = model(to_float(x_u8[i:i + batch_size], device))
        correct += int((out.argmax(1).cpu() == y[i:i + batch_size]).sum())
    return correct / max(len(x_u8), 1)


@torch.no_grad()
def evaluate_subnet(supernet: Any, c: Candidate, calib_x: torch.Tensor, val_x: torch.Tensor,
                    val_y: torch.Tensor, device: torch.device) -> float:
    """Validation accuracy of subnet ``c``, after recalibrating its BN statistics."""
    supernet.activate(c)
    supernet.recalibrate_bn(to_float(calib_x, device))
    supernet.eval()
    acc = accuracy(supernet, val_x, val_y, device)
    supernet.train()
    return acc


def finetune(model: torch.nn.Module, train_x: torch.Tensor, train_y: torch.Tensor,
             val_x: torch.Tensor, val_y: torch.Tensor, device: torch.device, epochs: float = 2.0,
             lr: float = 2e-3, batch_size: int = 256, seed: int = 0, augment: bool = False,
             progress: bool = True) -> dict[str, Any]:
    """Briefly fine-tune an extracted static model (cross-entropy, Adam, cosine decay).

    The subnet's weights were shared with every other subnet during supernet training; a short
    fine-tune lets it specialise.  The weights with the better validation accuracy (before or
    after) are kept, so fine-tuning can never make the export worse on validation data.
    Returns ``{"val_before", "val_after", "kept", "steps", "seconds"}``.
    """
    import copy

    model.to(device)
    model.eval()
    before = accuracy(model, val_x, val_y, device)
    steps = int(round(epochs * max(1, len(train_x) // batch_size)))
    if steps <= 0:
        return {"val_before": before, "val_after": before, "kept": "before", "steps": 0,
                "seconds": 0.0}
    saved = copy.deepcopy(model.state_dict())
    opt = torch.optim.Adam(_param_groups(model, 0.0), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    model.train()
    bar = tqdm(total=steps, desc="fine-tuning", unit="step", disable=not progress,
               dynamic_ncols=True)
    done = 0
    while done < steps:
        perm = torch.randperm(len(train_x), generator=gen)
        for i in range(0, len(perm) - batch_size + 1, batch_size):
            if done >= steps:
                break
            idx = perm[i:i + batch_size]
            x = to_float(train_x[idx], device)
            if augment:
                x = _augment(x, gen)
            loss = F.cross_entropy(model(x), train_y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            done += 1
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    bar.close()
    model.eval()
    after = accuracy(model, val_x, val_y, device)
    kept = "after"
    if after < before:
        model.load_state_dict(saved)
        kept = "before"
    return {"val_before": before, "val_after": after, "kept": kept, "steps": steps,
            "epochs": epochs, "lr": lr, "seconds": time.perf_counter() - t0}

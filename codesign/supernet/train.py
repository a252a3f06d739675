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
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from codesign.spaces.base import Candidate
from fpga.errors import InputError

log = logging.getLogger(__name__)


from codesign.supernet.checkpoint import (CHECKPOINT_SCHEMA, RETRAIN_HINT,  # noqa: F401
                                          _resume_state, atomic_save, check_resumable,
                                          load_supernet_state, quantizer_state)
from codesign.supernet.config import TrainConfig, param_groups

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



class TrainingDiverged(InputError):
    """The training loss stopped being a finite number; the last good checkpoint is kept."""


#: how often (steps) the loop looks at the loss on the host: a GPU step never waits for the host
SYNC_EVERY = 25


def space_meta(space: Any) -> dict[str, Any]:
    """What a checkpoint records about the space it was trained for."""
    config = space.config() if hasattr(space, "config") else {}
    return {"name": space.name, "config": config}


def _sandwich_losses(model: Any, x: torch.Tensor, y: torch.Tensor, cands: list[Candidate],
                     kd_weight: float, amp: bool) -> Any:
    """Yield the loss of each subnet of one step: the largest (labels), then the others
    (labels and the largest's soft predictions: in-place distillation)."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        model.activate(cands[0])
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y)
    yield loss
    soft = F.softmax(logits.detach().float(), dim=1)
    for c in cands[1:]:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
            model.activate(c)
            out = model(x).float()
        kd = F.kl_div(F.log_softmax(out, dim=1), soft, reduction="batchmean")
        yield (1 - kd_weight) * F.cross_entropy(out, y) + kd_weight * kd


class _SandwichStep(torch.nn.Module):
    """One step's summed loss as a module forward, so that DistributedDataParallel sees one
    forward and one backward per step (and averages the accumulated gradients once)."""

    def __init__(self, supernet: torch.nn.Module, kd_weight: float, amp: bool) -> None:
        super().__init__()
        self.supernet, self.kd_weight, self.amp = supernet, kd_weight, amp

    def forward(self, x: torch.Tensor, y: torch.Tensor, cands: list[Candidate]) -> torch.Tensor:
        return torch.stack(list(_sandwich_losses(self.supernet, x, y, cands, self.kd_weight,
                                                 self.amp)))


def train_supernet(supernet: Any, train_x: torch.Tensor, train_y: torch.Tensor, cfg: TrainConfig,
                   device: torch.device, checkpoint: Path | None = None,
                   progress: bool = True, checkpoint_every_s: float = 60.0,
                   on_checkpoint: Callable[[], Any] | None = None,
                   dist: Any = None, fast: bool | None = None,
                   ) -> list[dict[str, float]]:
    """Train ``supernet`` in place; resume from / save to ``checkpoint``.

    The checkpoint is written atomically after every epoch and, within an epoch, every
    ``checkpoint_every_s`` seconds.  It carries everything a step depends on: weights,
    optimizer and scheduler state, the data order of the epoch (its permutation), the state of
    the torch generator (order and augmentation), of the numpy generator (subnet sampling) and
    of torch's global generator.  So a run killed at any point and resumed with the same seed
    computes exactly what an uninterrupted run computes.  It also records the space and, for a
    few-shot sub-supernet, its nonlinearity groups: a checkpoint of another space or split is
    refused (:class:`~fpga.errors.InputError`), never silently overwritten.

    ``dist`` (a :class:`~codesign.distributed.DistContext`): data-parallel training under
    torchrun; every rank takes its share of each global batch, DDP averages the gradients,
    BN statistics are synchronised, and only rank 0 writes the checkpoint.
    ``fast`` (default: on a GPU): the data set resident on the device, bf16 autocast and
    channels-last memory.  The loop reads the loss on the host only every ``SYNC_EVERY``
    steps and at checkpoints; a loss that is not finite stops the training there
    (:class:`TrainingDiverged`, naming the step) before a checkpoint could record it.

    Returns the per-epoch history (mean loss of the largest subnet, training seconds summed
    over every session that worked on the epoch).  ``on_checkpoint`` is called after every
    checkpoint (the search records its session's wall time there).
    """
    from codesign.supernet.sampling import SubnetSampler

    space = supernet.space
    fast = device.type == "cuda" if fast is None else fast
    world, rank = (dist.world, dist.rank) if dist is not None else (1, 0)
    writer = rank == 0
    if cfg.batch_size % world:
        raise InputError("batch-size", f"{cfg.batch_size} does not split over {world} torchrun "
                         f"processes", [f"a multiple of {world}"])
    steps_per_epoch = max(1, len(train_x) // cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    gen = torch.Generator().manual_seed(cfg.seed)
    start_epoch, start_step, history = 0, 0, []
    resume: dict[str, Any] = {}
    meta = space_meta(space)
    state = _resume_state(checkpoint, cfg, meta) if checkpoint is not None and \
        checkpoint.exists() else None
    if state is not None:
        # the weights first: Brevitas may replace parameter objects while loading, and the
        # optimizer must hold the ones the model uses
        load_supernet_state(supernet, state, checkpoint)
        start_epoch, history = int(state["epoch"]), list(state["history"])
        if start_epoch >= cfg.epochs:
            return history
    supernet.to(device)
    if fast and device.type == "cuda":
        supernet.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(param_groups(supernet, cfg.weight_decay), lr=cfg.lr)
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

    sampler = SubnetSampler(space, cfg.groups, cfg.balanced, cfg.n_random)
    big, small = sampler.largest(), sampler.smallest()
    if start_epoch == 0 and start_step == 0:
        init_activation_ranges(supernet, to_float(train_x[:cfg.batch_size], device))
    data_x, data_y = (train_x.to(device), train_y.to(device)) if fast else (train_x, train_y)
    step_module: Any = None
    hooks: list[Any] = []
    if dist is not None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        from codesign.distributed import gather_quantizer_statistics

        for bn in (m for m in supernet.modules() if hasattr(m, "sync")):
            bn.sync = True
        hooks = gather_quantizer_statistics(supernet)
        # DDP hands the parameters a step did not use a zero gradient; one process leaves them
        # without one, and Adam then skips them (a zero gradient would still move them by
        # their momentum).  Autograd's own accumulation marks the ones used, on every rank alike.
        used: set[int] = set()
        params = [p for p in supernet.parameters() if p.requires_grad]
        hooks += [p.register_post_accumulate_grad_hook(lambda t: used.add(id(t)))
                  for p in params]
        step_module = DDP(_SandwichStep(supernet, cfg.kd_weight, fast),
                          device_ids=[device.index] if device.type == "cuda" else None,
                          find_unused_parameters=True)
    bar = tqdm(total=total, initial=start_epoch * steps_per_epoch + start_step,
               desc="supernet training", unit="step", disable=not progress or not writer,
               dynamic_ncols=True)
    first_bad = torch.full((), -1, dtype=torch.long, device=device)

    def check_finite(epoch: int) -> None:
        bad = int(first_bad)
        if bad >= 0:
            where = (f"{checkpoint} keeps the last good state" if checkpoint is not None
                     else "nothing was saved")
            raise TrainingDiverged(
                "lr", f"supernet training diverged: the loss became NaN or infinite at epoch "
                f"{bad // steps_per_epoch + 1}, step {bad % steps_per_epoch + 1} of "
                f"{steps_per_epoch} (training stopped; {where}); rerun with a lower --lr",
                [f"below {cfg.lr:g}"])

    def save(epoch_done: int, step: int, perm: torch.Tensor | None, rng: Any,
             loss_sum: float, seconds: float) -> None:
        if checkpoint is None or not writer:
            return
        atomic_save({"schema": CHECKPOINT_SCHEMA, "model": supernet.state_dict(),
                     "quant_stats": quantizer_state(supernet),
                     "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                     "epoch": epoch_done, "step": step, "perm": perm,
                     "rng": {"torch_generator": gen.get_state(),
                             "torch_global": torch.get_rng_state(),
                             "numpy": rng.bit_generator.state if rng is not None else None},
                     "partial": {"loss_sum": loss_sum, "seconds": seconds},
                     "history": history, "train_config": asdict(cfg), "space": meta},
                    checkpoint)
        if on_checkpoint is not None:
            on_checkpoint()

    supernet.train()
    for epoch in range(start_epoch, cfg.epochs):
        rng = np.random.default_rng([cfg.seed, epoch])
        if epoch == start_epoch and start_step > 0:
            perm = resume["perm"]
            rng.bit_generator.state = resume["rng"]["numpy"]
            loss_before = float(resume["partial"]["loss_sum"])
            seconds_before = float(resume["partial"]["seconds"])
            first_step = start_step
        else:
            perm = torch.randperm(len(train_x), generator=gen)
            loss_before, seconds_before, first_step = 0.0, 0.0, 0
        perm_dev = perm.to(data_x.device)
        loss_acc = torch.zeros((), dtype=torch.float64, device=device)
        t0 = last_save = time.perf_counter()
        for step in range(first_step, steps_per_epoch):
            idx = perm_dev[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x = to_float(data_x[idx], device)
            if cfg.augment:
                x = _augment(x, gen)
            y = data_y[idx].to(device, non_blocking=True)
            if world > 1:  # this rank's share of the global batch (same order, same flips)
                x, y = x[rank::world], y[rank::world]
            if fast and device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            cands = [big, small] + sampler.randoms(rng)
            if step_module is not None:
                used.clear()
                losses = step_module(x, y, cands)
                losses.sum().backward()
                for p in params:
                    if id(p) not in used:
                        p.grad = None
                loss = losses[0].detach()
            else:
                loss = None
                for part in _sandwich_losses(supernet, x, y, cands, cfg.kd_weight, fast):
                    part.backward()
                    loss = part.detach() if loss is None else loss
            torch.nn.utils.clip_grad_norm_(supernet.parameters(), 5.0)
            opt.step()
            sched.step()
            supernet.inherit_ranges()
            loss_acc += loss
            global_step = epoch * steps_per_epoch + step
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss),
                                    torch.full_like(first_bad, global_step), first_bad)
            bar.update(1)
            if (step + 1) % SYNC_EVERY == 0:
                check_finite(epoch)
                bar.set_postfix(epoch=f"{epoch + 1}/{cfg.epochs}", loss=f"{float(loss):.3f}")
            now = time.perf_counter()
            if step + 1 < steps_per_epoch and now - last_save >= checkpoint_every_s:
                check_finite(epoch)
                save(epoch, step + 1, perm, rng, loss_before + float(loss_acc),
                     seconds_before + now - t0)
                last_save = time.perf_counter()
        check_finite(epoch)
        history.append({"epoch": epoch + 1,
                        "loss_largest": (loss_before + float(loss_acc)) / steps_per_epoch,
                        "seconds": seconds_before + time.perf_counter() - t0})
        save(epoch + 1, 0, None, None, 0.0, 0.0)
    bar.close()
    if dist is not None:
        for bn in (m for m in supernet.modules() if hasattr(m, "sync")):
            bn.sync = False
        for h in hooks:
            h.remove()
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
    opt = torch.optim.Adam(param_groups(model, 0.0), lr=lr)
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

"""Data-parallel supernet training under ``torchrun`` (DistributedDataParallel).

``torchrun --nproc-per-node N -m codesign search ...`` starts N copies of the command; each
finds its rank in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).  All ranks check
that they were given the same request, train the supernet together (each takes its share of
every global batch; gradients are averaged by DDP; BN statistics are synchronised, so the
result equals one process's up to numerical noise), and rank 0 alone writes the run directory
and runs the search.  gloo on CPU, NCCL on GPUs.
"""
from __future__ import annotations

import atexit
import json
import os
from dataclasses import dataclass
from typing import Any

from fpga.errors import InputError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _shutdown() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def from_env() -> DistContext | None:
    """The process group of a ``torchrun`` launch (initialised here), or ``None`` alone."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None
    import torch
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
        # a rank that stops early (a refused input) must still tear the group down before the
        # interpreter exits, or gloo's threads abort the process (exit -6 instead of 2)
        atexit.register(_shutdown)
    if backend == "nccl":
        torch.cuda.set_device(local)
    return DistContext(rank, world, local, backend)


def check_same_request(ctx: DistContext, request: dict[str, Any]) -> None:
    """Refuse a launch whose ranks were given different arguments (naming the first field)."""
    import torch.distributed as dist

    mine = json.dumps(request, sort_keys=True, default=str)
    gathered: list[Any] = [None] * ctx.world
    dist.all_gather_object(gathered, mine)
    if len(set(gathered)) > 1:
        ref = json.loads(gathered[0])
        for r, other in enumerate(gathered):
            o = json.loads(other)
            diff = sorted(k for k in set(ref) | set(o) if ref.get(k) != o.get(k))
            if diff:
                k = diff[0]
                raise InputError(k.replace("_", "-"), f"torchrun rank {r} was given "
                                 f"{o.get(k)!r} but rank 0 {ref.get(k)!r}: every rank must run "
                                 f"the same command", [repr(ref.get(k))])


def broadcast_outcome(ctx: DistContext, error: BaseException | None) -> None:
    """Rank 0 tells the others whether its set-up (input checks, run directory) succeeded; a
    refusal there is raised on every rank with the same message, so no rank waits forever."""
    import torch.distributed as dist

    msg: list[Any] = [None]
    if ctx.is_main:
        if isinstance(error, InputError):
            msg = [("input", error.field, str(error))]
        elif error is not None:
            msg = [("other", type(error).__name__, str(error))]
        else:
            msg = [("ok", "", "")]
    dist.broadcast_object_list(msg, src=0)
    kind, field, text = msg[0]
    if ctx.is_main:
        return
    if kind == "input":
        exc = InputError(field, "")
        exc.args = (text,)
        raise exc
    if kind == "other":
        raise RuntimeError(f"rank 0 failed during set-up: {field}: {text}")


def gather_quantizer_statistics(model: Any) -> list[Any]:
    """Make every activation quantizer that is still collecting its range statistics see the
    whole global batch (an autograd-aware all-gather of its input), so its percentile is the
    one a single process computes.  Returns the hook handles (remove them after training:
    evaluation runs without a process group)."""
    from brevitas.core.scaling.standalone import ParameterFromRuntimeStatsScaling
    from torch.distributed.nn.functional import all_gather
    import torch

    def gather(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (torch.cat(all_gather(args[0].contiguous()), dim=0), *args[1:])

    return [m.stats.register_forward_pre_hook(gather) for m in model.modules()
            if isinstance(m, ParameterFromRuntimeStatsScaling)]

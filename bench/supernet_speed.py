"""Supernet training speed: images/s of a sandwich step against a stand-alone step of the
largest subnet (its extracted static Brevitas model), in the same run, on the same device.

    .venv/bin/python bench/supernet_speed.py --space cnv-l --dataset cifar10 \\
        --data-dir ../shared/data/cifar10 --json bench/supernet_speed.json

On a CUDA GPU it uses the training loop's fast path (data resident on the GPU, bf16 autocast,
channels-last) and reports GPU utilisation (``torch.cuda.utilization``, NVML) sampled while the
supernet trains.  A sandwich step trains the largest, the smallest and one random subnet (plus
distillation), so it is compared both whole and per trained subnet: the per-subnet ratio is
the supernet's own overhead (slicing, switchable quantizers, per-step sampling).
"""
from __future__ import annotations

import argparse
import platform
import threading
import time

import numpy as np
import torch
import torch.nn.functional as F

from codesign.data import load_dataset
from codesign.io import atomic_write_json
from codesign.spaces.base import get_space
from codesign.supernet import build_supernet
from codesign.supernet.config import TrainConfig
from codesign.supernet.train import param_groups, to_float, train_supernet


def _time_steps(step, n_warm: int, n: int, device: torch.device) -> float:
    for _ in range(n_warm):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--space", default="cnv-l")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--json", default="bench/supernet_speed.json")
    args = ap.parse_args()

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    data = load_dataset(args.dataset, args.data_dir)
    space = get_space(args.space, input_shape=data.shape, num_classes=data.num_classes)
    n = args.batch_size * (args.steps + 2)
    tx = torch.from_numpy(data.train_x[:n])
    ty = torch.from_numpy(data.train_y[:n]).long()

    # --- supernet: the real training loop, timed per step (warm-up epoch excluded)
    torch.manual_seed(0)
    net = build_supernet(space)
    cfg = TrainConfig(epochs=1, batch_size=args.batch_size)
    util: list[float] = []
    stop = threading.Event()

    def sample_util() -> None:
        while not stop.is_set():
            try:
                util.append(float(torch.cuda.utilization(device)))
            except Exception:  # no NVML: utilisation not available
                return
            time.sleep(0.2)

    train_supernet(net, tx[:args.batch_size * 2], ty[:args.batch_size * 2], cfg, device,
                   progress=False)  # warm-up (kernels, allocator)
    if device.type == "cuda":
        threading.Thread(target=sample_util, daemon=True).start()
    t0 = time.perf_counter()
    train_supernet(net, tx, ty, cfg, device, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    stop.set()
    steps = n // args.batch_size
    super_step = (time.perf_counter() - t0) / steps

    # --- the largest subnet, extracted, trained stand-alone with the same batch
    big = space.extreme(largest=True)
    model = net.extract(big).to(device).train()
    fast = device.type == "cuda"
    if fast:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(param_groups(model, 0.0), lr=1e-3)
    xb = to_float(tx[:args.batch_size], device)
    yb = ty[:args.batch_size].to(device)

    def static_step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            loss = F.cross_entropy(model(xb).float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    static = _time_steps(static_step, 2, args.steps, device)

    # --- the same largest subnet trained through the supernet (slicing, switchable quantizers)
    net.train()
    sopt = torch.optim.Adam(param_groups(net, 0.0), lr=1e-3)

    def supernet_largest_step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast):
            net.activate(big)
            loss = F.cross_entropy(net(xb).float(), yb)
        sopt.zero_grad(set_to_none=True)
        loss.backward()
        sopt.step()

    via_supernet = _time_steps(supernet_largest_step, 2, args.steps, device)
    subnets_per_step = 2 + cfg.n_random
    out = {
        "space": args.space, "dataset": args.dataset, "batch_size": args.batch_size,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda"
        else f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "supernet_step_s": super_step, "supernet_images_per_s": args.batch_size / super_step,
        "largest_standalone_step_s": static,
        "largest_standalone_images_per_s": args.batch_size / static,
        "ratio_step": super_step / static,
        "subnets_per_step": subnets_per_step,
        "ratio_per_trained_subnet": super_step / subnets_per_step / static,
        "largest_through_supernet_step_s": via_supernet,
        "ratio_largest_through_supernet": via_supernet / static,
        "gpu_utilization_pct": float(np.mean(util)) if util else None,
        "fast_path": fast,
    }
    print(f"{'':28}{'step s':>10}{'images/s':>12}")
    print(f"{'supernet (sandwich)':28}{super_step:10.3f}{out['supernet_images_per_s']:12.0f}")
    print(f"{'largest subnet stand-alone':28}{static:10.3f}{out['largest_standalone_images_per_s']:12.0f}")
    print(f"{'largest subnet via supernet':28}{via_supernet:10.3f}{args.batch_size / via_supernet:12.0f}")
    print(f"ratio: {out['ratio_step']:.2f}x per step, {out['ratio_per_trained_subnet']:.2f}x per "
          f"trained subnet ({subnets_per_step} per step); the largest subnet through the supernet "
          f"{out['ratio_largest_through_supernet']:.2f}x its stand-alone step; GPU utilisation "
          f"{out['gpu_utilization_pct'] if util else 'n/a'}; device {out['device']}")
    atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()

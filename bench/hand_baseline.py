"""The bar a search must clear: a hand-built uniform 4-bit CNN, trained from scratch, vs the search.

A user without a co-design tool picks a small CNN, quantizes every layer to 4 bits, trains it
for as many epochs as the search gets, and folds it for the frame-rate floor.  This benchmark
builds exactly those designs (the ``cnv`` space's hand-design seeds), trains each from scratch
with Brevitas (same optimizer and schedule as the supernet: Adam + one-cycle, peak lr 3e-3),
folds it LUT-optimally for ``--min-fps``, measures test accuracy, and prints them in one table
next to the designs a search run exported (``report.json`` files), so the comparison is made
in one run on one machine.

    .venv/bin/python bench/hand_baseline.py --epochs 2 --min-fps 10000 --max-lut 30000 \
        --exports runs/default/export --json bench/hand_baseline.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from codesign.data import load_dataset
from codesign.io import atomic_write_json
from codesign.models.qcnn import build_qmodel
from codesign.request import SearchRequest
from codesign.search.pricing import Pricer
from codesign.spaces.base import get_space
from codesign.supernet.train import accuracy, to_float


def train_from_scratch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int,
                       lr: float, batch_size: int, seed: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * (len(x) // batch_size)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    model.train()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x) - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(to_float(x[idx], torch.device("cpu"))), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--device", default="pynq-z1")
    ap.add_argument("--max-lut", type=int, default=30000)
    ap.add_argument("--min-fps", type=float, default=10000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--exports", nargs="*", default=[], help="export folders with report.json")
    ap.add_argument("--designs", nargs="*", type=int, default=None,
                    help="train only these hand designs (indices; default: all)")
    ap.add_argument("--json", default="bench/hand_baseline.json")
    args = ap.parse_args()

    data = load_dataset(args.dataset, args.data_dir)
    space = get_space("cnv", input_shape=data.shape, num_classes=data.num_classes)
    req = SearchRequest(dataset=args.dataset, device=args.device, out="unused",
                        max_lut=args.max_lut, min_fps=args.min_fps)
    pricer = Pricer(space, req)
    x, y = torch.from_numpy(data.train_x), torch.from_numpy(data.train_y).long()
    tx, ty = torch.from_numpy(data.test_x), torch.from_numpy(data.test_y).long()
    rows = []
    for i, c in enumerate(space.seeds()):
        if args.designs is not None and i not in args.designs:
            continue
        p = pricer.price(c)
        arch = "-".join(f"{layer['name']}:{layer.get('out_channels', layer.get('out_features', ''))}"
                        for layer in p.network.to_dict()["layers"] if layer["op"] != "maxpool")
        row = {"design": f"hand 4-bit #{i}", "arch": arch, "lut": p.cost["totals"]["lut"],
               "bram18": p.cost["totals"]["bram18"], "fps": p.cost["fps"],
               "feasible": p.feasible, "test_accuracy": None, "train_s": None}
        if p.feasible:
            torch.manual_seed(args.seed)
            model = build_qmodel(p.network)
            row["train_s"] = round(train_from_scratch(model, x, y, args.epochs, args.lr, 256,
                                                      args.seed), 1)
            row["test_accuracy"] = accuracy(model, tx, ty, torch.device("cpu"))
        rows.append(row)
        print(row, flush=True)
    for folder in args.exports:
        r = json.loads((Path(folder) / "report.json").read_text())
        rows.append({"design": f"search {folder} (id {r['design']['id']})",
                     "arch": "-".join(f"{layer['name']}:{layer.get('out_channels', layer.get('out_features', ''))}"
                                      for layer in r["network"]["layers"] if layer["op"] != "maxpool"),
                     "lut": r["cost"]["totals"]["lut"], "bram18": r["cost"]["totals"]["bram18"],
                     "fps": r["cost"]["fps"], "feasible": True,
                     "test_accuracy": r["test_accuracy"], "train_s": None})
    print(f"\n{'design':<40} {'test acc':>8} {'LUT':>7} {'BRAM18':>6} {'frames/s':>9}  arch")
    for r in rows:
        acc = f"{100 * r['test_accuracy']:.2f}%" if r["test_accuracy"] is not None else "over budget"
        print(f"{r['design']:<40} {acc:>8} {r['lut']:>7,} {r['bram18']:>6,} {r['fps']:>9,.0f}  {r['arch']}")
    atomic_write_json(args.json, {"dataset": data.note, "device": args.device,
                                  "max_lut": args.max_lut, "min_fps": args.min_fps,
                                  "epochs": args.epochs, "seed": args.seed, "rows": rows})


if __name__ == "__main__":
    main()

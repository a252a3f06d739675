"""How well does the supernet rank designs?  Kendall tau-b of supernet accuracy vs trained accuracy.

Ground truth per design: the test accuracy of the design trained on its own -- hand-built seeds
trained from scratch (``bench/hand_baseline.py``'s JSON) and searched designs fine-tuned by
``codesign export`` (their ``report.json``).  The supernet(s) are trained here, in this run, with
each sampling rule asked for, on the run's own split, so the comparison is side by side.

    .venv/bin/python bench/supernet_ranking.py --run runs/default --hand bench/hand_baseline.json \
        --exports runs/default/export runs/default/export-knee runs/default/export-22 \
        runs/default/export-31 --rules uniform balanced --json bench/supernet_ranking.json

Few designs give a noisy tau (one swap among 7 moves it by 0.1): read it as a smoke test of the
supernet's ranking, not a measurement to two decimals (quantized_supernets.md §5 for the
protocol a real measurement needs).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from codesign.data import load_dataset
from codesign.io import atomic_write_json
from codesign.request import SearchRequest
from codesign.search.loop import build_space
from codesign.spaces.base import Candidate
from codesign.supernet import build_supernet
from codesign.supernet.train import TrainConfig, evaluate_subnet, tensor_splits, train_supernet


def kendall_tau_b(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b (ties in either list handled), O(n^2): fine for a few dozen designs."""
    conc = disc = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif da == db:
                conc += 1
            else:
                disc += 1
    denom = np.sqrt((conc + disc + ties_a) * (conc + disc + ties_b))
    return float((conc - disc) / denom) if denom else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--hand", default="bench/hand_baseline.json")
    ap.add_argument("--exports", nargs="*", default=[])
    ap.add_argument("--rules", nargs="+", default=["uniform", "balanced"],
                    choices=["uniform", "balanced"])
    ap.add_argument("--json", default="bench/supernet_ranking.json")
    args = ap.parse_args()

    pareto = json.loads((Path(args.run) / "pareto.json").read_text())
    req = SearchRequest.from_dict(pareto["request"])
    data = load_dataset(req.dataset, req.data_dir)
    space = build_space(req, data)
    by_key = {Candidate(d["candidate"]).key: d for d in pareto["designs"]}

    truth: dict[int, float] = {}
    hand = json.loads(Path(args.hand).read_text())
    for i, (row, seed) in enumerate(zip(hand["rows"], space.seeds())):
        d = by_key.get(seed.key)
        if row["test_accuracy"] is not None and d is not None and d["feasible"]:
            truth[d["id"]] = row["test_accuracy"]
    for folder in args.exports:
        r = json.loads((Path(folder) / "report.json").read_text())
        truth.setdefault(r["design"]["id"], r["test_accuracy"])
    ids = sorted(truth)
    designs = {d["id"]: d for d in pareto["designs"]}

    sp = tensor_splits(data, req.val_size, req.seed)
    tx, ty, vx, vy = sp.train_x, sp.train_y, sp.val_x, sp.val_y
    cpu = torch.device("cpu")
    out = {"designs": ids, "truth": [truth[i] for i in ids], "rules": {}}
    for rule in args.rules:
        torch.manual_seed(req.seed)
        net = build_supernet(space)
        cfg = TrainConfig(epochs=req.epochs, batch_size=req.batch_size, lr=req.lr, seed=req.seed,
                          balanced=rule == "balanced")
        t0 = time.perf_counter()
        train_supernet(net, tx, ty, cfg, cpu, progress=False)
        train_s = time.perf_counter() - t0
        accs = [evaluate_subnet(net, Candidate(designs[i]["candidate"]), tx[:req.calib_images],
                                vx, vy, cpu) for i in ids]
        tau = kendall_tau_b(accs, out["truth"])
        out["rules"][rule] = {"supernet_val": accs, "kendall_tau_b": tau, "train_s": round(train_s, 1)}
        print(f"{rule}: train {train_s:.0f} s, tau-b {tau:.3f}", flush=True)
    print(f"\n{'id':>4} {'trained test acc':>16} " + " ".join(f"{r:>10}" for r in out["rules"]))
    for k, i in enumerate(ids):
        print(f"{i:>4} {100 * truth[i]:15.2f}% " +
              " ".join(f"{100 * v['supernet_val'][k]:9.2f}%" for v in out["rules"].values()))
    print("tau-b " + " ".join(f"{r}={v['kendall_tau_b']:.3f}" for r, v in out["rules"].items()))
    atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()

"""Does the supernet rank designs the way stand-alone training does?

Designs: ``--designs`` candidates of the space spread over the LUT range (a large random pool
priced by the FPGA cost model at ``--fps``, cut into equal-count LUT bins, one drawn per bin),
so they span low to high cost and, with it, low to high accuracy (1- to 8-bit, narrow to wide).

Ground truth: each design trained stand-alone, from scratch, with the export's recipe
(:func:`codesign.supernet.train.finetune`: Adam, cosine decay, the search's batch size and
augmentation) for ``--standalone-epochs``; its test accuracy.  The results are a reusable data
file (``--truth``, one row per design and seed, appended as they finish: an interrupted run
resumes, and later benchmarks can read it without retraining).

Supernets: each scheme of ``--schemes`` (``one-shot``: one supernet; ``few-shot``: EFS-NAS
sub-supernets split by the number of nonlinear functions) trained with each seed of
``--seeds`` on the same split; every design is scored as the search scores it (BN recalibrated,
validation accuracy).  Reported per scheme: Kendall tau-b and Spearman rho against the
stand-alone accuracy (mean and spread over seeds), and the top-1 regret (points of stand-alone
accuracy lost by taking the supernet's favourite instead of the truly best design).

    .venv/bin/python bench/supernet_ranking.py --dataset fashion-mnist --space cnv \\
        --truth bench/standalone_fashion-mnist_cnv.json --json bench/supernet_ranking_fashion-mnist.json
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
from codesign.models.qcnn import build_qmodel
from codesign.spaces.base import Candidate, get_space
from codesign.supernet import build_supernet
from codesign.supernet.config import TrainConfig
from codesign.supernet.fewshot import train_scheme
from codesign.supernet.train import accuracy, evaluate_subnet, finetune, tensor_splits
from fpga.devices import get_device
from hw_models.cost import FinnCostModel
from hw_models.folding import fold_for_fps


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


def _ranks(v: list[float]) -> np.ndarray:
    v = np.asarray(v, float)
    order = np.argsort(v, kind="mergesort")
    r = np.empty(len(v))
    r[order] = np.arange(len(v))
    for x in np.unique(v):  # average rank for ties
        r[v == x] = r[v == x].mean()
    return r


def spearman_rho(a: list[float], b: list[float]) -> float:
    ra, rb = _ranks(a), _ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def pick_designs(space, n: int, fps: float, device: str, seed: int) -> list[dict]:
    """``n`` candidates spread over the LUT range (one per equal-count LUT bin of a pool)."""
    model = FinnCostModel(get_device(device))
    rng = np.random.default_rng(seed)
    pool, seen = [], set()
    while len(pool) < 40 * n:
        c = space.sample(rng)
        key = Candidate({**c.group("arch."), **c.group("quant.")}).key
        if key in seen:
            continue
        seen.add(key)
        spec = fold_for_fps(space.describe(c), model, fps, keep_existing=False)
        pool.append((model.estimate(spec).totals["lut"], c))
    pool.sort(key=lambda t: t[0])
    bins = np.array_split(np.arange(len(pool)), n)
    return [_pick(pool, b, rng) for b in bins]


def _pick(pool, b, rng) -> dict:
    lut, c = pool[int(rng.choice(b))]
    return {"lut": float(lut), "candidate": dict(c)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--space", default="cnv")
    ap.add_argument("--designs", type=int, default=20)
    ap.add_argument("--fps", type=float, default=10000.0, help="frame rate the LUTs are priced at")
    ap.add_argument("--device", default="pynq-z1")
    ap.add_argument("--epochs", type=int, default=2, help="supernet epochs (both schemes)")
    ap.add_argument("--standalone-epochs", type=float, default=2.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--truth-seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--schemes", nargs="*", default=["one-shot", "few-shot"],
                    choices=["one-shot", "few-shot"])
    ap.add_argument("--few-shot-splits", type=int, default=3)
    ap.add_argument("--train-subset", type=int, default=None,
                    help="train on the first N training images only (CPU budgets)")
    ap.add_argument("--val-size", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--truth", required=True, help="stand-alone results (read and appended)")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()

    data = load_dataset(args.dataset, args.data_dir)
    space = get_space(args.space, input_shape=data.shape, num_classes=data.num_classes)
    sp = tensor_splits(data, args.val_size, 0)
    tx, ty = sp.train_x, sp.train_y
    if args.train_subset:
        tx, ty = tx[:args.train_subset], ty[:args.train_subset]
    cpu = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    augment = args.dataset == "cifar10"
    designs = pick_designs(space, args.designs, args.fps, args.device, seed=1234)
    setting = {"dataset": args.dataset, "space": args.space, "standalone_epochs":
               args.standalone_epochs, "train_images": len(tx), "batch_size": args.batch_size,
               "augment": augment, "recipe": "codesign.supernet.train.finetune from scratch"}

    # --- ground truth: stand-alone training (resumable, reusable)
    truth_path = Path(args.truth)
    truth = json.loads(truth_path.read_text()) if truth_path.exists() else {"setting": setting,
                                                                            "rows": []}
    if truth["setting"] != setting:
        raise SystemExit(f"{truth_path} was made with another setting: {truth['setting']}")
    done = {(json.dumps(r["candidate"], sort_keys=True), r["seed"]) for r in truth["rows"]}
    for i, d in enumerate(designs):
        c = Candidate(d["candidate"])
        for seed in args.truth_seeds:
            if (json.dumps(dict(c), sort_keys=True), seed) in done:
                continue
            torch.manual_seed(seed)
            model = build_qmodel(space.describe(c))
            t0 = time.perf_counter()
            r = finetune(model, tx, ty, sp.val_x, sp.val_y, cpu, epochs=args.standalone_epochs,
                         lr=2e-3, batch_size=args.batch_size, seed=seed, augment=augment,
                         progress=False)
            test = accuracy(model.eval(), sp.test_x, sp.test_y, cpu)
            truth["rows"].append({"candidate": dict(c), "seed": seed, "lut": d["lut"],
                                  "val_accuracy": max(r["val_after"], r["val_before"]),
                                  "test_accuracy": test,
                                  "seconds": round(time.perf_counter() - t0, 1)})
            atomic_write_json(truth_path, truth)
            print(f"stand-alone {i + 1}/{len(designs)} seed {seed}: test {100 * test:.2f}% "
                  f"LUT {d['lut']:,.0f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    by_key: dict[str, list[float]] = {}
    for r in truth["rows"]:
        if r["seed"] not in args.truth_seeds:
            continue
        by_key.setdefault(json.dumps(r["candidate"], sort_keys=True), []).append(r["test_accuracy"])
    true_acc = [float(np.mean(by_key[json.dumps(d["candidate"], sort_keys=True)]))
                for d in designs]
    # the truth's own noise: how well one stand-alone seed ranks the designs like another
    per_seed = {seed: {json.dumps(r["candidate"], sort_keys=True): r["test_accuracy"]
                       for r in truth["rows"] if r["seed"] == seed} for seed in args.truth_seeds}
    ceiling = []
    seeds_t = sorted(per_seed)
    for i, a in enumerate(seeds_t):
        for b in seeds_t[i + 1:]:
            keys = [json.dumps(d["candidate"], sort_keys=True) for d in designs]
            ceiling.append({"seeds": [a, b], "kendall_tau_b": kendall_tau_b(
                [per_seed[a][k] for k in keys], [per_seed[b][k] for k in keys])})
            print(f"stand-alone seed {a} vs seed {b}: tau-b {ceiling[-1]['kendall_tau_b']:.3f} "
                  "(the truth's own noise)", flush=True)

    # --- supernets: each scheme, each seed
    calib = tx[:2000]
    out = {"setting": {**setting, "supernet_epochs": args.epochs, "designs": len(designs),
                       "seeds": args.seeds, "truth_seeds": args.truth_seeds, "fps": args.fps},
           "designs": designs, "standalone_test": true_acc, "standalone_seed_agreement": ceiling,
           "schemes": {}}
    best_true = int(np.argmax(true_acc))
    for scheme in args.schemes:
        runs = []
        for seed in args.seeds:
            cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                              seed=seed, augment=augment)
            t0 = time.perf_counter()
            net, _ = train_scheme(space, build_supernet, scheme, cfg, tx, ty, cpu, None,
                                  splits=args.few_shot_splits, progress=False)
            train_s = time.perf_counter() - t0
            accs = [evaluate_subnet(net, Candidate(d["candidate"]), calib, sp.val_x, sp.val_y,
                                    cpu) for d in designs]
            fav = int(np.argmax(accs))
            runs.append({"seed": seed, "supernet_val": accs, "train_s": round(train_s, 1),
                         "kendall_tau_b": kendall_tau_b(accs, true_acc),
                         "spearman_rho": spearman_rho(accs, true_acc),
                         "top1_regret_points": 100 * (true_acc[best_true] - true_acc[fav])})
            print(f"{scheme} seed {seed}: train {train_s:.0f} s, tau-b "
                  f"{runs[-1]['kendall_tau_b']:.3f}, rho {runs[-1]['spearman_rho']:.3f}, regret "
                  f"{runs[-1]['top1_regret_points']:.2f} points", flush=True)
        summary = {k: {"mean": float(np.mean([r[k] for r in runs])),
                       "std": float(np.std([r[k] for r in runs])),
                       "min": float(np.min([r[k] for r in runs])),
                       "max": float(np.max([r[k] for r in runs]))}
                   for k in ("kendall_tau_b", "spearman_rho", "top1_regret_points", "train_s")}
        out["schemes"][scheme] = {"runs": runs, "summary": summary}
        atomic_write_json(args.json, out)

    print(f"\n{args.dataset} / {args.space}: {len(designs)} designs, stand-alone "
          f"{args.standalone_epochs:g} epochs, supernet {args.epochs} epochs, seeds {args.seeds}")
    print(f"{'scheme':10} {'tau-b mean±std':>16} {'rho mean±std':>16} {'regret pts':>11} "
          f"{'train s':>8}")
    for scheme, v in out["schemes"].items():
        s = v["summary"]
        print(f"{scheme:10} {s['kendall_tau_b']['mean']:8.3f}±{s['kendall_tau_b']['std']:.3f} "
              f"{s['spearman_rho']['mean']:9.3f}±{s['spearman_rho']['std']:.3f} "
              f"{s['top1_regret_points']['mean']:11.2f} {s['train_s']['mean']:8.0f}")
    atomic_write_json(args.json, out)


if __name__ == "__main__":
    main()

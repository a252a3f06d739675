"""``codesign search``: train a quantized supernet and search it under FPGA budgets."""
from __future__ import annotations

import argparse
import json
import logging
import math

from fpga.errors import InputError

from codesign.data import DATASETS
from codesign.request import (ATTACKS, OBJECTIVES, PREFILTERS, PROXIES, SUPERNETS,
                              TRAIN_DEVICES, strategies)
from codesign.spaces.base import list_spaces


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search", help="joint architecture x bits x folding search under FPGA budgets",
        description="Train a quantized weight-sharing supernet (Brevitas) and search "
                    "architecture, per-layer bits and PE/SIMD folding with NSGA-II under LUT/"
                    "BRAM/DSP/frame-rate budgets. Writes RUN_DIR/request.json, pareto.json, "
                    "pareto.png (and study.db, supernet.pt); rerunning the same command resumes.")
    p.add_argument("--dataset", default="fashion-mnist", choices=DATASETS)
    p.add_argument("--data-dir", default=None,
                   help="folder with the data set's files as distributed (default: "
                        "/usr/share/datasets/fashion-mnist for fashion-mnist)")
    p.add_argument("--device", default="pynq-z1", help="target board (see `codesign devices`)")
    p.add_argument("--clock-mhz", type=float, default=None, help="fabric clock (default: board's)")
    p.add_argument("--max-lut", type=int, default=None, help="LUT budget (default: the device's)")
    p.add_argument("--max-bram18", type=int, default=None, help="BRAM18 budget")
    p.add_argument("--max-dsp", type=int, default=None, help="DSP budget")
    p.add_argument("--min-fps", type=float, default=None, help="frame-rate floor (frames/s)")
    p.add_argument("--latency-table", default=None, metavar="TABLE.json",
                   help="target a CPU/GPU: predict latency from this table (`codesign latency "
                        "build`) and search accuracy vs latency_ms; FPGA budgets then apply only "
                        "when given explicitly")
    p.add_argument("--max-latency-ms", type=float, default=None,
                   help="latency budget (ms) on the table's target; needs --latency-table")
    p.add_argument("--epochs", type=int, default=2, help="supernet training epochs")
    p.add_argument("--trials", type=int, default=40, help="search trials (priced candidates)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strategy", default="nsga2",
                   help="search strategy: " + " | ".join(strategies()) + " (default nsga2)")
    p.add_argument("--population", type=int, default=16, help="NSGA-II population size")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--val-size", type=int, default=5000,
                   help="validation images carved from the training set")
    p.add_argument("--calib-images", type=int, default=2000,
                   help="training images each subnet's BN statistics are recalibrated on "
                        "before it is scored")
    p.add_argument("--balanced-sampling", action="store_true",
                   help="train one random subnet per depth group per step (EFS-NAS balanced "
                        "sampling) instead of one uniform one; about 1.5x the training time")
    p.add_argument("--space", default="cnv", choices=list_spaces(),
                   help="search space: cnv (default: two conv stages, 2-4 bits) or cnv-l "
                        "(CIFAR scale: three stages of 1-3 convs up to 64/128/256, fc up to 512, "
                        "1-bit binary/bipolar to 4 bits)")
    p.add_argument("--supernet", default="one-shot", choices=list(SUPERNETS),
                   help="weight sharing: one supernet (one-shot), or sub-supernets split by "
                        "the number of activation layers (few-shot, EFS-NAS)")
    p.add_argument("--few-shot-splits", type=int, default=3,
                   help="few-shot: number of sub-supernets (default 3)")
    p.add_argument("--warmup-epochs", type=int, default=None,
                   help="few-shot: one-shot warm-up epochs before the split (default: half of "
                        "--epochs); each sub-supernet then trains the remaining epochs")
    p.add_argument("--train-device", default="auto", choices=list(TRAIN_DEVICES),
                   help="where the supernet trains (default: a CUDA GPU when there is one)")
    p.add_argument("--screen-pool", type=int, default=4000,
                   help="random candidates batch-priced to fill the first generation with ones "
                        "that meet the budgets as proposed (0: random first generation)")
    p.add_argument("--objective", default="accuracy", metavar="NAME",
                   help="the accuracy-side objective: " + " | ".join(OBJECTIVES) + " (robust_accuracy:"
                        " accuracy under --attack is a further objective, as E2RNAS searches); the "
                        "hardware objectives come from the target")
    p.add_argument("--attack", default="fgsm", metavar="NAME",
                   help="adversarial attack robust accuracy is measured with: "
                        + " | ".join(ATTACKS) + " (default fgsm)")
    p.add_argument("--eps", type=_eps, default=2 / 255, metavar="E",
                   help="the attack's L-inf radius in pixel units of [0, 1] (default 2/255; "
                        "a fraction such as 8/255 is accepted)")
    p.add_argument("--pgd-steps", type=int, default=10, help="PGD steps (default 10)")
    p.add_argument("--robust-images", type=int, default=1000,
                   help="validation images robust accuracy is measured on (default 1000)")
    p.add_argument("--min-robust-accuracy", type=float, default=None, metavar="FRACTION",
                   help="a constraint: accuracy under --attack at least this (e.g. 0.6)")
    p.add_argument("--prefilter", default="none", metavar="NAME",
                   help="zero-cost: rank candidates by a training-free score at initialization "
                        "before the supernet sees them; " + " | ".join(PREFILTERS))
    p.add_argument("--zero-cost-proxy", default="nwot", metavar="NAME",
                   help="the prefilter's score: " + " | ".join(PROXIES) + " (default nwot, "
                        "which ranks this space's candidates better: bench/zero_cost.py)")
    p.add_argument("--prefilter-keep", type=float, default=0.5, metavar="FRACTION",
                   help="the prefilter sends a proposal to the supernet when its score is in "
                        "the top FRACTION of the scores so far (default 0.5)")
    p.add_argument("--arch-steps", type=int, default=200,
                   help="differentiable, mgda: architecture-parameter steps (default 200)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (default: sqlite in RUN_DIR; e.g. postgresql://...)")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--checkpoint-every-s", type=float, default=60.0,
                   help="also checkpoint the supernet within an epoch every this many seconds "
                        "(default 60; every checkpoint resumes exactly)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def _eps(text: str) -> float:
    """``--eps``: a number, or a fraction such as ``8/255``."""
    num, _, den = text.partition("/")
    try:
        return float(num) / float(den) if den else float(num)
    except ZeroDivisionError:
        raise ValueError(text) from None


_eps.__name__ = "eps"  # argparse says "invalid eps value: 'x'"


def run(args: argparse.Namespace) -> int:
    from codesign.request import SearchRequest

    req = SearchRequest(
        dataset=args.dataset, device=args.device, out=args.out, data_dir=args.data_dir,
        clock_mhz=args.clock_mhz, max_lut=args.max_lut, max_bram18=args.max_bram18,
        max_dsp=args.max_dsp, min_fps=args.min_fps, epochs=args.epochs, trials=args.trials,
        seed=args.seed, strategy=args.strategy, population=args.population,
        batch_size=args.batch_size, val_size=args.val_size, storage=args.storage,
        balanced_sampling=args.balanced_sampling, screen_pool=args.screen_pool,
        latency_table=args.latency_table, max_latency_ms=args.max_latency_ms,
        calib_images=args.calib_images, space=args.space, supernet=args.supernet,
        few_shot_splits=args.few_shot_splits,
        warmup_epochs=args.warmup_epochs, train_device=args.train_device,
        objective=args.objective, attack=args.attack, eps=args.eps, pgd_steps=args.pgd_steps,
        robust_images=args.robust_images, min_robust_accuracy=args.min_robust_accuracy,
        prefilter=args.prefilter, zero_cost_proxy=args.zero_cost_proxy,
        prefilter_keep=args.prefilter_keep, arch_steps=args.arch_steps)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    every = args.checkpoint_every_s
    if not (math.isfinite(every) and every > 0):
        raise InputError("checkpoint-every-s", f"got {every:g}", ["a number of seconds > 0"])
    from codesign.search.loop import run_search  # imports torch: only after the input is valid

    pareto = run_search(req, progress=not args.no_progress, checkpoint_every_s=every)
    if not pareto:  # a torchrun rank other than 0: it trained, rank 0 searches and reports
        return 0
    designs = pareto["designs"]
    lat = req.latency_table is not None
    front = sorted((d for d in designs if d["on_front"]),
                   key=lambda d: d["latency_ms"] if lat else d["lut"])
    feasible = sum(d["feasible"] for d in designs)
    print(f"\n{len(designs)} designs priced, {feasible} within budget, {len(front)} on the front "
          f"(best: {pareto['best']}, knee: {pareto['knee']})")
    rob = "robustness" in pareto
    print(f"{'id':>5} {'val acc':>8}" + (f" {'robust':>8}" if rob else "")
          + f" {'LUT':>8} {'BRAM18':>7} {'DSP':>5} {'frames/s':>10}"
          + (f" {'latency ms':>11}" if lat else ""))
    for d in front:
        print(f"{d['id']:>5} {100 * d['accuracy']:7.2f}%"
              + (f" {100 * (d.get('robust_accuracy') or 0):7.2f}%" if rob else "")
              + f" {d['lut']:>8,.0f} {d['bram18']:>7,.0f} "
              f"{d['dsp']:>5,.0f} {d['fps']:>10,.0f}"
              + (f" {d['latency_ms']:>11.4f}" if lat else ""))
    if "prefilter" in pareto:
        r = pareto["prefilter"]["rank_correlation"]
        print(f"zero-cost prefilter ({pareto['prefilter']['proxy']}): kept "
              f"{pareto['prefilter']['kept_from_supernet']} candidates from the supernet; rank "
              f"correlation with supernet accuracy over {r['n']} scored: Kendall tau "
              f"{r['kendall_tau']}, Spearman {r['spearman']}")
    print(f"wrote {args.out}/pareto.json, {args.out}/pareto.png; "
          f"timing {json.dumps(pareto['timing'])}")
    return 0

"""How well do the zero-cost proxies rank candidates of our space?  (issue 12, ``--prefilter``)

Draws random candidates of the README problem's space that meet its budgets (the ones the
prefilter would see), scores each with the trained supernet (validation accuracy, the figure the
search ranks by) and with every training-free score, and prints each score's rank correlation
with supernet accuracy.  The baselines every proxy must beat (search_strategies.md, section 5):
the weight count and the bit-operations (weights x activations x their bits, per frame).

    .venv/bin/python bench/zero_cost.py --run-dir runs/issue11_default --samples 100 \
        --json bench/zero_cost.json
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from common import load_run  # noqa: E402

from codesign.search.evaluator import SupernetScorer  # noqa: E402
from codesign.search.pricing import Pricer  # noqa: E402
from codesign.search.zero_cost import nwot, rank_correlation, synflow  # noqa: E402


def weights_and_bops(spec) -> tuple[float, float]:
    """Weight count and bit-operations per frame (MACs x weight bits x input bits)."""
    w = bops = 0.0
    bits_in = spec.input.bits
    for layer in spec.layers:
        if layer.op == "maxpool":
            continue
        k = layer.kernel * layer.kernel if layer.op in ("conv", "dwconv") else 1
        cin = 1 if layer.op == "dwconv" else layer.in_channels
        n = layer.out_channels * cin * k
        w += n
        bops += n * layer.out_h * layer.out_w * layer.weight_bits * bits_in
        bits_in = layer.act_bits or bits_in
    return w, bops


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(ROOT / "runs" / "issue11_default"))
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=str(ROOT / "bench" / "zero_cost.json"))
    args = ap.parse_args()
    run_dir = Path(args.run_dir)
    run = load_run(run_dir)
    req, space, supernet, sp = run.request, run.space, run.supernet, run.splits
    scorer = SupernetScorer(supernet, sp.train_x[:req.calib_images], sp.val_x, sp.val_y,
                            torch.device("cpu"))
    pricer = Pricer(space, req)
    rng = np.random.default_rng(args.seed)
    images = sp.train_x[:64]
    rows, seen, t0 = [], set(), time.perf_counter()
    while len(rows) < args.samples:
        c = space.repair(space.sample(rng))
        p = pricer.price(c)
        key = json.dumps({k: v for k, v in c.items() if not k.startswith("fold.")},
                         sort_keys=True)
        if not p.feasible or key in seen:
            continue
        seen.add(key)
        w, bops = weights_and_bops(p.network)
        t = time.perf_counter()
        sf = synflow(p.network, seed=args.seed)
        nw = nwot(p.network, seed=args.seed, images=images)
        proxy_s = time.perf_counter() - t
        rows.append({"accuracy": scorer(c)["accuracy"], "synflow": sf, "nwot": nw,
                     "weights": w, "bops": bops, "proxy_s": proxy_s, "candidate": dict(c)})
        if len(rows) % 10 == 0:
            print(f"{len(rows)} candidates scored ({time.perf_counter() - t0:.0f} s)", flush=True)
    acc = [r["accuracy"] for r in rows]
    table = {name: rank_correlation([r[name] for r in rows], acc)
             for name in ("synflow", "nwot", "weights", "bops")}
    print(f"\n{len(rows)} random candidates within the budgets of {run_dir.name}; rank "
          "correlation with supernet validation accuracy (signed)")
    print(f"{'score':<10}{'Kendall tau':>12}{'Spearman':>10}")
    for name, r in table.items():
        tau, rho = (f"{v:.3f}" if v is not None else "-" for v in (r["kendall_tau"], r["spearman"]))
        print(f"{name:<10}{tau:>12}{rho:>10}")
    print(f"proxy time per candidate: {np.mean([r['proxy_s'] for r in rows]) * 1e3:.0f} ms "
          "(synflow + nwot)")
    doc = {"date": datetime.date.today().isoformat(), "run_dir": str(run_dir),
           "samples": len(rows), "seed": args.seed, "correlation": table,
           "proxy_ms": round(float(np.mean([r["proxy_s"] for r in rows])) * 1e3, 1),
           "command": f"python bench/zero_cost.py --samples {args.samples}", "rows": rows}
    Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

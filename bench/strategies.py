"""Every registered search strategy on the same problem, budget of evaluations and seeds:
hypervolume against evaluations (issue 12, item 6; the cost-only problem).

The cost-only problem is the default space on Fashion-MNIST's shapes (1x28x28, 10 classes) on a
PYNQ-Z1 under the README's budgets (LUT <= 30,000, >= 10,000 frames/s). Each trial proposes a
candidate, which is folded and priced exactly as the search loop prices it (`Pricer`: folding
repair, every stage, the budgets as constraints). The objectives are frame rate (max) and LUT
(min), and no accuracy is involved, so it runs in seconds. The hypervolume is taken over the
feasible designs in (LUT / 30,000, 10,000 / fps); the reference point is (1, 1), the budgets
themselves, and more is better.

    .venv/bin/python bench/strategies.py [--trials 200] [--seeds 5]   # bench/strategies.json

The supernet-backed problem (accuracy as the first objective) is not run here yet.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402

from codesign.search.pricing import Pricer  # noqa: E402
from codesign.search.strategies import get_strategy, list_strategies  # noqa: E402
from codesign.spaces.base import Candidate, get_space  # noqa: E402


def hypervolume_2d(points: list[tuple[float, float]], ref: tuple[float, float] = (1.0, 1.0)
                   ) -> float:
    """Area dominated by ``points`` (both coordinates minimised) and bounded by ``ref``."""
    pts = sorted((a, b) for a, b in points if a < ref[0] and b < ref[1])
    # the non-dominated staircase, left to right, then its area up to the reference point
    front: list[tuple[float, float]] = []
    for a, b in pts:
        if not front or b < front[-1][1]:
            front.append((a, b))
    hv = 0.0
    for i, (a, b) in enumerate(front):
        right = front[i + 1][0] if i + 1 < len(front) else ref[0]
        hv += (right - a) * (ref[1] - b)
    return hv


def run(strategy: str, seed: int, trials: int, population: int, pricer: Pricer) -> list[float]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = pricer.space
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=get_strategy(strategy).sampler(seed, population))
    feasible: list[tuple[float, float]] = []
    curve = []
    for _ in range(trials):
        t = study.ask()
        c = space.repair(Candidate({s.name: t.suggest_categorical(s.name, list(s.choices))
                                    for s in space.slots}))
        p = pricer.price(c)
        for k, v in p.violations.items():
            t.set_constraint(k, v)
        lut, fps = float(p.cost["totals"]["lut"]), float(p.cost["fps"])
        study.tell(t, [fps, lut])
        if p.feasible:
            feasible.append((lut / 30_000, 10_000 / fps))
        curve.append(hypervolume_2d(feasible))
    return curve


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--population", type=int, default=16)
    ap.add_argument("--out", default=str(ROOT / "bench" / "strategies.json"))
    args = ap.parse_args()
    request = SimpleNamespace(device="pynq-z1", clock=None, max_lut=30_000, max_bram18=None,
                              max_dsp=None, min_fps=10_000, latency_table=None,
                              max_latency_ms=None)
    space = get_space("cnv", input_shape=(1, 28, 28), num_classes=10)
    pricer = Pricer(space, request)  # type: ignore[arg-type]
    rows = {}
    for name in list_strategies():
        t0 = time.perf_counter()
        curves = np.array([run(name, s, args.trials, args.population, pricer)
                           for s in range(args.seeds)])
        rows[name] = {"mean": curves.mean(axis=0).tolist(), "std": curves.std(axis=0).tolist(),
                      "final_mean": float(curves[:, -1].mean()),
                      "final_std": float(curves[:, -1].std()),
                      "seconds": round(time.perf_counter() - t0, 1)}
    marks = [m for m in (25, 50, 100, 200, 400) if m <= args.trials]
    print(f"cost-only problem, {args.trials} evaluations, {args.seeds} seeds "
          f"(hypervolume mean +/- std; more is better)")
    print(f"{'strategy':<12}" + "".join(f"{f'@{m}':>16}" for m in marks) + f"{'seconds':>10}")
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["final_mean"]):
        cells = "".join(f"{r['mean'][m - 1]:>9.4f}+/-{r['std'][m - 1]:.4f}" for m in marks)
        print(f"{name:<12}{cells}{r['seconds']:>10}")
    doc = {"date": datetime.date.today().isoformat(), "problem": "cost-only",
           "trials": args.trials, "seeds": args.seeds, "population": args.population,
           "command": "python bench/strategies.py", "strategies": rows}
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

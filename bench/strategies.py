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

The supernet-backed problem is the README's default search (Fashion-MNIST, the ``cnv`` space,
PYNQ-Z1, LUT <= 30,000, >= 10,000 frames/s, accuracy / LUT / frames/s as objectives), on the
supernet one default run trained (``--run-dir``, by default ``runs/issue11_default``; trained
there first with the README's command when it is missing).  Every strategy and seed runs the
search loop's own trial path (``codesign.search.loop.run_trials``: first generation, proposals,
the evaluator, the study) against that one supernet, so accuracies are comparable; a score is
computed once per architecture + bits and shared between runs.  The hypervolume is taken over
the feasible designs in ((1 - accuracy) / 0.25, LUT / 30,000, 10,000 / fps), reference point
(1, 1, 1): 75 % accuracy and the budgets.

    .venv/bin/python bench/strategies.py --problem supernet --trials 40 --seeds 5 \
        --json bench/strategies_supernet.json
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


def plot_curves(doc: dict, path: Path) -> None:
    """Hypervolume against evaluations, mean and spread (one std) of every strategy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, r in sorted(doc["strategies"].items(), key=lambda kv: -kv[1]["final_mean"]):
        m, sd = np.array(r["mean"]), np.array(r["std"])
        x = np.arange(1, len(m) + 1)
        line, = ax.plot(x, m, lw=1.5, label=f"{name} ({r['final_mean']:.3f})")
        ax.fill_between(x, m - sd, m + sd, color=line.get_color(), alpha=0.12)
    ax.set_xlabel("evaluations (trials)")
    ax.set_ylabel("hypervolume (more is better)")
    ax.set_title(f"{doc['problem']} problem, {doc['seeds']} seeds: mean and one std", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def supernet_problem(args: argparse.Namespace) -> int:
    """Every strategy x seed on the supernet-backed README problem (see the module)."""
    import dataclasses
    import subprocess
    import tempfile

    import torch

    from codesign.search.evaluator import Evaluator, SupernetScorer, accuracy_key
    from codesign.search.hypervolume import hypervolume
    from codesign.search.loop import designs_from_study, run_trials
    from codesign.search.pareto import objectives_of
    from codesign.search.strategies import SearchContext
    from codesign.search.study import TrialStore

    run_dir = Path(args.run_dir)
    if not (run_dir / "supernet.pt").is_file():
        print(f"training the README default's supernet into {run_dir} first")
        subprocess.run([sys.executable, "-m", "codesign", "search", "--dataset", "fashion-mnist",
                        "--device", "pynq-z1", "--max-lut", "30000", "--min-fps", "10000",
                        "--epochs", "2", "--trials", "40", "--seed", "0", "--no-progress",
                        "--out", str(run_dir)], check=True, cwd=ROOT)
    from common import load_run

    run = load_run(run_dir)
    base, space, supernet, sp = run.request, run.space, run.supernet, run.splits
    scorer = SupernetScorer(supernet, sp.train_x[:base.calib_images], sp.val_x, sp.val_y,
                            torch.device("cpu"))
    memo: dict[str, dict[str, float]] = {}

    def shared(c: Candidate) -> dict[str, float]:
        key = accuracy_key(c)
        if key not in memo:
            memo[key] = scorer(c)
        return memo[key]

    names = args.strategies or list_strategies()
    rows: dict[str, dict] = {}
    for name in names:
        t0 = time.perf_counter()
        curves, bests = [], []
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as tmp:
                req = dataclasses.replace(base, strategy=name, seed=seed, trials=args.trials,
                                          out=tmp, population=args.population,
                                          arch_steps=args.arch_steps)
                pricer = Pricer(space, req)
                objectives = objectives_of(req)
                from codesign.search.strategies import get_strategy as _get
                store = TrialStore(f"sqlite:///{tmp}/study.db",
                                   ["maximize" if s == "max" else "minimize"
                                    for _, s in objectives],
                                   sampler=_get(name).sampler(seed, req.population),
                                   trials=req.trials, exclusive=True)
                ev = Evaluator(pricer, shared)
                ctx = SearchContext(req, space, supernet, torch.device("cpu"), sp.train_x,
                                    sp.train_y, ev)
                run_trials(req, space, pricer, ev, store, objectives, ctx)
                designs = designs_from_study(store.study)
                by_id = sorted(designs, key=lambda d: d["id"])
                pts, curve = [], []
                for d in by_id:
                    if d["feasible"] and d["accuracy"] is not None:
                        pts.append(((1 - d["accuracy"]) / 0.25, d["lut"] / 30_000,
                                    10_000 / d["fps"]))
                    curve.append(hypervolume(pts, (1.0, 1.0, 1.0)))
                curve += [curve[-1] if curve else 0.0] * (args.trials - len(curve))
                curves.append(curve[:args.trials])
                ok = [d for d in designs if d["feasible"] and d["accuracy"] is not None]
                top = max(ok, key=lambda d: (d["accuracy"], -d["lut"])) if ok else None
                bests.append(None if top is None else
                             {"seed": seed, "id": top["id"], "accuracy": top["accuracy"],
                              "lut": top["lut"], "fps": top["fps"],
                              "candidate": top["candidate"]})
        c = np.array(curves)
        accs = [b["accuracy"] for b in bests if b]
        rows[name] = {"mean": c.mean(axis=0).tolist(), "std": c.std(axis=0).tolist(),
                      "final_mean": float(c[:, -1].mean()), "final_std": float(c[:, -1].std()),
                      "best_accuracy_mean": float(np.mean(accs)) if accs else None,
                      "best_accuracy_std": float(np.std(accs)) if accs else None,
                      "best": bests, "seconds": round(time.perf_counter() - t0, 1)}
        print(f"{name:<15} hv {rows[name]['final_mean']:.4f} +/- {rows[name]['final_std']:.4f}"
              f"  best val acc {100 * (rows[name]['best_accuracy_mean'] or 0):.2f} %"
              f"  ({rows[name]['seconds']} s)", flush=True)
    marks = [m for m in (10, 20, 40, 80) if m <= args.trials]
    print(f"\nsupernet-backed problem, {args.trials} evaluations, {args.seeds} seeds "
          f"(hypervolume mean +/- std; more is better)")
    print(f"{'strategy':<15}" + "".join(f"{f'@{m}':>17}" for m in marks)
          + f"{'best val acc':>16}{'seconds':>9}")
    for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["final_mean"]):
        cells = "".join(f"{r['mean'][m - 1]:>10.4f}+/-{r['std'][m - 1]:.4f}" for m in marks)
        acc = (f"{100 * r['best_accuracy_mean']:.2f}+/-{100 * r['best_accuracy_std']:.2f}"
               if r["best_accuracy_mean"] is not None else "-")
        print(f"{name:<15}{cells}{acc:>16}{r['seconds']:>9}")
    doc = {"date": datetime.date.today().isoformat(), "problem": "supernet",
           "run_dir": str(run_dir), "trials": args.trials, "seeds": args.seeds,
           "population": args.population, "arch_steps": args.arch_steps,
           "distinct_scored": len(memo),
           "hypervolume": "feasible designs in ((1 - acc) / 0.25, LUT / 30000, 10000 / fps), "
                          "reference (1, 1, 1)",
           "command": "python bench/strategies.py --problem supernet --trials "
                      f"{args.trials} --seeds {args.seeds}", "strategies": rows}
    out = Path(args.json or ROOT / "bench" / "strategies_supernet.json")
    out.write_text(json.dumps(doc, indent=1) + "\n")
    plot_curves(doc, out.with_suffix(".png"))
    print("wrote", out, "and", out.with_suffix(".png"))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", choices=("cost", "supernet"), default="cost")
    ap.add_argument("--trials", type=int, default=None,
                    help="evaluations per run (default 200 cost-only, 40 supernet)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--population", type=int, default=16)
    ap.add_argument("--strategies", nargs="*", default=None)
    ap.add_argument("--arch-steps", type=int, default=200)
    ap.add_argument("--run-dir", default=str(ROOT / "runs" / "issue11_default"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--out", default=str(ROOT / "bench" / "strategies.json"))
    ap.add_argument("--replot", default=None, metavar="JSON",
                    help="only redraw the plot of an earlier run's JSON")
    args = ap.parse_args()
    if args.replot:
        plot_curves(json.loads(Path(args.replot).read_text()),
                    Path(args.replot).with_suffix(".png"))
        return 0
    if args.problem == "supernet":
        args.trials = args.trials or 40
        return supernet_problem(args)
    args.trials = args.trials or 200
    request = SimpleNamespace(device="pynq-z1", clock=None, max_lut=30_000, max_bram18=None,
                              max_dsp=None, min_fps=10_000, latency_table=None,
                              max_latency_ms=None)
    space = get_space("cnv", input_shape=(1, 28, 28), num_classes=10)
    pricer = Pricer(space, request)  # type: ignore[arg-type]
    rows = {}
    for name in args.strategies or list_strategies():
        if get_strategy(name).supernet_driven:  # it searches through a supernet: none here
            print(f"{name}: skipped (supernet-driven; see --problem supernet)")
            continue
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
    plot_curves(doc, Path(args.out).with_suffix(".png"))
    print("wrote", args.out, "and", Path(args.out).with_suffix(".png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

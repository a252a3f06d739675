"""One search worker against two on one PostgreSQL study: the wall time of the trial phase.

The problem is the README's default search (Fashion-MNIST, PYNQ-Z1, LUT <= 30,000, >= 10,000
frames/s) on the supernet a default run trained (``--run-dir``): each worker's run directory
starts as a copy of it (its ``supernet.pt`` and ``request.json``, the storage rewritten), so no
worker retrains, and the time measured is the search's own: pricing every candidate and scoring
the feasible ones.  It is taken from the study, from the first trial's start to the last one's
end, for N trials with one worker and with two (``codesign search --storage URL``, real
processes, a local PostgreSQL server started here).  Each configuration runs with one
torch thread per worker (two workers then use the two cores) and with torch's default threads.

    .venv/bin/python bench/workers.py --trials 40 --json bench/workers.json
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optuna  # noqa: E402

from codesign.localdb import LocalPostgres  # noqa: E402


def _worker_dir(base: Path, folder: Path, url: str, trials: int) -> None:
    folder.mkdir(parents=True)
    shutil.copy2(base / "supernet.pt", folder / "supernet.pt")
    req = json.loads((base / "request.json").read_text())
    req.update(storage=url, trials=trials, out=str(folder))
    (folder / "request.json").write_text(json.dumps(req, indent=1))


def _search_cmd(req: dict, folder: Path, url: str, trials: int) -> list[str]:
    return [sys.executable, "-m", "codesign", "search", "--dataset", req["dataset"],
            "--device", req["device"], "--max-lut", str(req["max_lut"]), "--min-fps",
            str(req["min_fps"]), "--epochs", str(req["epochs"]), "--seed", str(req["seed"]),
            "--trials", str(trials), "--storage", url, "--no-progress", "--out", str(folder)]


def run(server: LocalPostgres, base: Path, workers: int, trials: int, threads: int | None,
        tmp: Path, tag: str) -> dict:
    url = server.create(f"w{workers}_{tag}")
    req = json.loads((base / "request.json").read_text())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    procs = []
    t0 = time.perf_counter()
    for i in range(workers):
        folder = tmp / f"{tag}-w{workers}-{i}"
        _worker_dir(base, folder, url, trials)
        procs.append(subprocess.Popen(_search_cmd(req, folder, url, trials), cwd=ROOT, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"worker failed: {err[-2000:]}")
    wall = time.perf_counter() - t0
    study = optuna.load_study(study_name="codesign", storage=url)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    start = min(t.datetime_start for t in done)
    end = max(t.datetime_complete for t in done)
    evaluated = sum(bool(t.user_attrs.get("evaluated")) for t in done)
    return {"workers": workers, "threads": threads or "default", "trials": len(done),
            "evaluated": evaluated, "trial_phase_s": round((end - start).total_seconds(), 1),
            "wall_s": round(wall, 1),
            "per_worker": {w: sum(t.user_attrs.get("worker") == w for t in done)
                           for w in sorted({t.user_attrs.get("worker") for t in done})}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(ROOT / "runs" / "issue11_default"))
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--json", default=str(ROOT / "bench" / "workers.json"))
    args = ap.parse_args()
    base = Path(args.run_dir)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    server = LocalPostgres().start()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for threads in (1, None):
                tag = f"t{threads or 'd'}"
                one = run(server, base, 1, args.trials, threads, Path(tmp), tag)
                two = run(server, base, 2, args.trials, threads, Path(tmp), tag)
                ratio = two["trial_phase_s"] / one["trial_phase_s"]
                rows.append({"one": one, "two": two, "ratio": round(ratio, 3)})
                print(f"threads {one['threads']}: one worker {one['trial_phase_s']} s, two "
                      f"workers {two['trial_phase_s']} s for {args.trials} trials "
                      f"({one['evaluated']} / {two['evaluated']} scored): ratio {ratio:.2f}",
                      flush=True)
    finally:
        server.stop()
    doc = {"date": datetime.date.today().isoformat(), "run_dir": str(base),
           "trials": args.trials, "rows": rows,
           "command": f"python bench/workers.py --trials {args.trials}"}
    Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

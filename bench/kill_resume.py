"""kill -9 a real search at random points, many times, and check what survives.

Two runs of ``codesign search`` on a tiny set in the MNIST file format (synthetic, written by
the test suite's writer: the point is the bookkeeping, not the accuracy):

* **training kills**: the search is killed at random points of supernet training (after a fresh
  checkpoint appeared, plus a random delay), ``--kills-training`` times, then run to the end;
  its ``pareto.json`` must equal an uninterrupted run's (designs, accuracies, best, knee) and its
  training losses must be the same;
* **trial kills**: killed at random points of the trial loop ``--kills-trials`` times, then run
  to the end; the study must hold exactly ``--trials`` completed trials, none running or
  queued, and every hand-design seed of the first generation must have been scored.

Prints a table and writes JSON (``--out``, default ``bench/kill_resume.json``)::

    .venv/bin/python bench/kill_resume.py --kills-training 8 --kills-trials 12
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from codesign.rundir import count_trials  # noqa: E402


def _cmd(out: Path, data: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codesign", "search", "--dataset", "mnist", "--data-dir",
            str(data), "--device", "pynq-z1", "--max-lut", "30000", "--min-fps", "10000",
            "--val-size", "200", "--population", "6", "--trials", str(trials), "--seed", "0",
            "--no-progress", "--out", str(out), *extra]


def _start(cmd: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _run_to_end(cmd: list[str]) -> None:
    p = _start(cmd)
    _, err = p.communicate(timeout=1800)
    if p.returncode != 0:
        raise SystemExit(f"the final run failed ({p.returncode}):\n{err}")


def training_kills(data: Path, work: Path, kills: int, rng: random.Random) -> dict[str, Any]:
    trials = 10
    extra = ("--epochs", "2", "--batch-size", "32", "--checkpoint-every-s", "0.2")
    ref, out = work / "ref", work / "killed-training"
    t0 = time.perf_counter()
    _run_to_end(_cmd(ref, data, trials, *extra))
    ref_s = time.perf_counter() - t0
    cmd = _cmd(out, data, trials, *extra)
    ckpt, db = out / "supernet.pt", out / "study.db"
    done, late = 0, 0
    while done < kills:
        seen = ckpt.stat().st_mtime_ns if ckpt.exists() else None
        p = _start(cmd)
        while p.poll() is None and (not ckpt.exists() or ckpt.stat().st_mtime_ns == seen):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.5))
        if p.poll() is not None:
            raise SystemExit("training ended before the kill: make it longer")
        p.send_signal(signal.SIGKILL)
        p.wait()
        done += 1
        if count_trials(db, "COMPLETE"):
            late += 1  # landed after training: still survived, but not a training kill
            break
    _run_to_end(cmd)
    a = json.loads((ref / "pareto.json").read_text())
    b = json.loads((out / "pareto.json").read_text())
    keys = ("id", "accuracy", "lut", "bram18", "fps", "feasible", "on_front", "network")
    same = ([{k: x[k] for k in keys} for x in a["designs"]]
            == [{k: x[k] for k in keys} for x in b["designs"]]
            and (a["best"], a["knee"]) == (b["best"], b["knee"]))
    same_loss = ([h["loss_largest"] for h in a["train_history"]]
                 == [h["loss_largest"] for h in b["train_history"]])
    return {"kills": done, "kills_after_training": late, "front_equal": same,
            "training_losses_equal": same_loss, "designs": len(b["designs"]),
            "uninterrupted_run_s": round(ref_s, 1), "timing_killed_run": b["timing"]}


def trial_kills(data: Path, work: Path, kills: int, trials: int,
                rng: random.Random) -> dict[str, Any]:
    import optuna

    out = work / "killed-trials"
    cmd = _cmd(out, data, trials, "--epochs", "1", "--batch-size", "64")
    db = out / "study.db"
    done, running_left = 0, 0
    while done < kills:
        before = count_trials(db, "COMPLETE")
        if before >= trials - 1:
            break
        target = before + rng.randint(1, max(1, min(4, trials - 1 - before)))
        p = _start(cmd)
        while p.poll() is None and count_trials(db, "COMPLETE") < target:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.1))
        if p.poll() is not None:
            break
        p.send_signal(signal.SIGKILL)
        p.wait()
        done += 1
        running_left += count_trials(db, "RUNNING")
    _run_to_end(cmd)
    study = optuna.load_study(study_name="codesign", storage=f"sqlite:///{db}")
    states = [t.state.name for t in study.trials]
    from codesign.spaces.base import get_space

    seeds = [dict(s) for s in get_space("cnv").seeds()[:3]]
    scored = [t.user_attrs.get("candidate") for t in study.trials if t.state.name == "COMPLETE"]
    d = json.loads((out / "pareto.json").read_text())
    return {"kills": done, "trials_asked": trials,
            "kills_that_left_a_running_trial": running_left,
            "completed": states.count("COMPLETE"), "running": states.count("RUNNING"),
            "waiting": states.count("WAITING"), "failed_stale_or_surplus": states.count("FAIL"),
            "seeds_scored": sum(s in scored for s in seeds), "seeds": len(seeds),
            "sessions_recorded": d["timing"]["sessions"], "sessions_run": done + 1,
            "pareto_trials": d["trials"], "timing": d["timing"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kills-training", type=int, default=8)
    p.add_argument("--kills-trials", type=int, default=12)
    p.add_argument("--trials", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(REPO / "bench" / "kill_resume.json"))
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import write_idx_set  # the unit-test data writer (synthetic, MNIST format)

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="codesign-kill-"))
    try:
        data = write_idx_set(work / "toy", n_train=1200, n_test=200)
        t0 = time.perf_counter()
        tr = training_kills(data, work, args.kills_training, rng)
        tl = trial_kills(data, work, args.kills_trials, args.trials, rng)
        result = {"training": tr, "trials": tl, "seconds": round(time.perf_counter() - t0, 1),
                  "command": "python bench/kill_resume.py " + " ".join(argv or sys.argv[1:])}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    ok_t = tr["front_equal"] and tr["training_losses_equal"]
    ok_l = (tl["completed"] == args.trials and tl["running"] == 0 and tl["waiting"] == 0
            and tl["seeds_scored"] == tl["seeds"]
            and tl["sessions_recorded"] == tl["sessions_run"])
    print(f"{'where':<18} {'kills':>5}  result")
    print(f"{'supernet training':<18} {tr['kills']:>5}  front equal to the uninterrupted run: "
          f"{tr['front_equal']}, training losses equal: {tr['training_losses_equal']}")
    print(f"{'trial loop':<18} {tl['kills']:>5}  completed {tl['completed']} of {args.trials}, "
          f"running {tl['running']}, queued {tl['waiting']}, seeds scored {tl['seeds_scored']}/"
          f"{tl['seeds']}, timing of {tl['sessions_recorded']}/{tl['sessions_run']} sessions "
          f"({tl['kills_that_left_a_running_trial']} kills left a trial running)")
    print(f"wrote {args.out} ({result['seconds']} s)")
    return 0 if ok_t and ok_l else 1


if __name__ == "__main__":
    sys.exit(main())

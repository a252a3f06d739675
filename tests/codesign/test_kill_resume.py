"""Searches that survive ``kill -9``, refuse a second process on one run directory, and share
one ``--trials`` count between workers on one ``--storage``.

Real processes (``python -m codesign search``), killed with SIGKILL at random points, on a
tiny synthetic set in the MNIST file format (unit-test data: a few hundred images, one or two
epochs).  Each test takes 20-60 s on 2 cores.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from codesign.rundir import count_trials

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _cmd(out: Path, data: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codesign", "search", "--dataset", "mnist", "--data-dir",
            str(data), "--device", "pynq-z1", "--max-lut", "30000", "--min-fps", "10000",
            "--val-size", "200", "--population", "6", "--trials", str(trials), "--seed", "0",
            "--no-progress", "--out", str(out), *extra]


def _start(cmd: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="2")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def _study(url: str) -> optuna.Study:
    return optuna.load_study(study_name="codesign", storage=url)


def _kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)


@pytest.fixture(scope="module")
def data(tmp_path_factory, idx_writer) -> Path:
    return idx_writer(tmp_path_factory.mktemp("data") / "toy", n_train=1200, n_test=200)


def _completed(db: Path) -> set[int]:
    if not db.exists():
        return set()
    try:
        study = _study(f"sqlite:///{db}")
    except Exception:  # noqa: BLE001 - killed before the study existed
        return set()
    return {t.number for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}


def test_twenty_random_kills_lose_no_completed_trial(data, tmp_path):
    """20 ``kill -9`` at random moments (start-up, the first generation, the trial loop) of one
    search: after every kill the trials completed before it are still complete, the rerun
    resumes, and the search ends with exactly ``--trials`` complete, its timing summed over
    every session."""
    trials = 60
    out = tmp_path / "run"
    cmd = _cmd(out, data, trials, "--epochs", "1", "--batch-size", "64")
    rng = random.Random(12)
    db = out / "study.db"
    kills, history = 0, []
    while kills < 20:
        before = _completed(db)
        p = _start(cmd)
        if kills % 2 == 0:  # anywhere: start-up, training, the first generation, a trial
            deadline = time.time() + rng.uniform(0.5, 6.0)
            while p.poll() is None and time.time() < deadline:
                time.sleep(0.01)
        else:  # inside the trial loop: after one to three more trials, then mid-trial
            target = len(before) + rng.randint(1, 3)
            while p.poll() is None and len(_completed(db)) < target:
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.05))
        if p.poll() is not None:
            rc, _, err = _finish(p)
            assert rc == 0, err
            pytest.fail(f"the search finished after {kills} kills: give it more trials")
        _kill(p)
        kills += 1
        after = _completed(db)
        assert before <= after, f"kill {kills} lost completed trials {sorted(before - after)}"
        history.append(len(after))
    assert history[-1] < trials
    rc, stdout, err = _finish(_start(cmd))
    assert rc == 0, err
    study = _study(f"sqlite:///{db}")
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == trials
    assert optuna.trial.TrialState.RUNNING not in states
    assert optuna.trial.TrialState.WAITING not in states
    d = json.loads((out / "pareto.json").read_text())
    assert d["trials"]["completed"] == trials
    # every session that got as far as opening the study recorded its seconds
    assert d["timing"]["sessions"] >= 2
    assert d["timing"]["total_s"] >= d["timing"]["search_s"] > 0
    # every hand-design seed of the first generation was scored, kills or not
    from codesign.spaces.base import get_space
    seeds = get_space("cnv").seeds()[:3]
    scored = [t.user_attrs["candidate"] for t in study.trials
              if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(dict(s) in scored for s in seeds)


def test_kill_during_training_resumes_to_the_uninterrupted_front(data, tmp_path):
    trials = 10
    extra = ("--epochs", "2", "--batch-size", "32", "--checkpoint-every-s", "0.2")
    ref = tmp_path / "ref"
    rc, _, err = _finish(_start(_cmd(ref, data, trials, *extra)))
    assert rc == 0, err

    out = tmp_path / "killed"
    cmd = _cmd(out, data, trials, *extra)
    ckpt, db = out / "supernet.pt", out / "study.db"
    rng = random.Random(3)
    kills = 0
    for _ in range(2):
        seen = ckpt.stat().st_mtime_ns if ckpt.exists() else None
        p = _start(cmd)
        while p.poll() is None and (not ckpt.exists() or ckpt.stat().st_mtime_ns == seen):
            time.sleep(0.01)  # wait for a new checkpoint: training runs
        time.sleep(rng.uniform(0.0, 0.4))
        if p.poll() is not None:
            break
        _kill(p)
        kills += 1
        assert count_trials(db, "COMPLETE") == 0, "killed after training: make training longer"
    assert kills == 2
    rc, _, err = _finish(_start(cmd))
    assert rc == 0, err

    a = json.loads((ref / "pareto.json").read_text())
    b = json.loads((out / "pareto.json").read_text())
    assert [h["loss_largest"] for h in a["train_history"]] == \
        [h["loss_largest"] for h in b["train_history"]]
    keys = ("id", "accuracy", "lut", "bram18", "fps", "feasible", "on_front", "network")
    assert [{k: x[k] for k in keys} for x in a["designs"]] == \
        [{k: x[k] for k in keys} for x in b["designs"]]
    assert (a["best"], a["knee"]) == (b["best"], b["knee"])
    assert b["timing"]["train_s"] > 0


def test_second_process_on_one_run_directory_is_refused(data, tmp_path):
    out = tmp_path / "run"
    cmd = _cmd(out, data, 8, "--epochs", "6", "--batch-size", "32",  # ~15 s of training
               "--checkpoint-every-s", "0.5")
    first = _start(cmd)
    while first.poll() is None and not (out / "supernet.pt").exists():
        time.sleep(0.02)  # the first is training (and holds the lock)
    rc, _, err = _finish(_start(cmd))
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2 and len(lines) == 1 and "in use by another codesign process" in lines[0]
    assert first.poll() is None, "the first search ended before the second tried its lock"
    _kill(first)  # the lock dies with its process: the same command then resumes
    rc, _, err = _finish(_start(cmd))
    assert rc == 0, err
    assert json.loads((out / "pareto.json").read_text())["trials"]["completed"] == 8


def test_workers_on_one_storage_share_the_trial_count(data, tmp_path):
    trials = 12
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    cmds = [_cmd(tmp_path / f"w{i}", data, trials, "--epochs", "1", "--batch-size", "64",
                 "--storage", url) for i in range(2)]
    procs = [_start(c) for c in cmds]
    for p in procs:
        rc, _, err = _finish(p)
        assert rc == 0, err
    study = _study(url)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == trials
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    evaluated: dict[str, int] = {}
    for t in done:
        if t.user_attrs.get("evaluated"):
            evaluated[t.user_attrs["acc_key"]] = evaluated.get(t.user_attrs["acc_key"], 0) + 1
    assert evaluated and max(evaluated.values()) == 1  # no candidate scored twice
    fronts = [json.loads((tmp_path / f"w{i}" / "pareto.json").read_text()) for i in range(2)]
    assert fronts[0]["designs"] == fronts[1]["designs"]  # each worker's file is the study's
    assert fronts[0]["trials"] == fronts[1]["trials"] == {"completed": trials,
                                                        "evaluated": len(evaluated)}

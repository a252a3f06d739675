"""Two search workers on one study in a real PostgreSQL server (Debian's ``postgresql``).

The fixture starts a private server for the session (``initdb`` into a temporary folder,
``pg_ctl start`` on a free loopback port, trust authentication, fsync off) and stops it at the
end; as root it runs the server as the ``postgres`` user, which PostgreSQL requires.  Without
PostgreSQL the tests skip locally; under CI (``CI=true``, where ``scripts/test.sh`` installs it)
they fail.  The speed-up of two workers over one is measured in ``bench/workers.py``, not
asserted here.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from codesign.localdb import LocalPostgres, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres():
    try:
        import psycopg2  # noqa: F401
        server = LocalPostgres().start()
    except (FileNotFoundError, ImportError, subprocess.CalledProcessError) as exc:
        why = getattr(exc, "stderr", None) or exc
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is needed under CI (scripts/test.sh installs it): {why}")
        pytest.skip(f"no local PostgreSQL server: {why}")
    yield server
    server.stop()


def _cmd(out: Path, data: Path, trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "codesign", "search", "--dataset", "mnist", "--data-dir",
            str(data), "--device", "pynq-z1", "--max-lut", "30000", "--min-fps", "10000",
            "--val-size", "200", "--population", "6", "--trials", str(trials), "--seed", "0",
            "--epochs", "1", "--batch-size", "64", "--no-progress", "--out", str(out), *extra]


def _start(cmd: list[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory, idx_writer) -> Path:
    return idx_writer(tmp_path_factory.mktemp("data") / "toy", n_train=1200, n_test=200)


def test_two_workers_share_one_postgres_study(postgres, data, tmp_path):
    """No trial lost or evaluated twice: exactly ``--trials`` complete, no candidate's accuracy
    is computed by both workers, and each worker's pareto.json is the whole study's."""
    url = postgres.create("two_workers")
    trials = 30
    procs = [_start(_cmd(tmp_path / f"w{i}", data, trials, "--storage", url)) for i in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="codesign", storage=url)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == trials
    assert not [t for t in study.trials if t.state in (optuna.trial.TrialState.RUNNING,
                                                       optuna.trial.TrialState.WAITING)]
    workers = {t.user_attrs["worker"] for t in done}
    assert len(workers) == 2, "one worker did all the trials"
    evaluated: dict[str, int] = {}
    for t in done:
        if t.user_attrs.get("evaluated"):
            evaluated[t.user_attrs["acc_key"]] = evaluated.get(t.user_attrs["acc_key"], 0) + 1
    assert evaluated and max(evaluated.values()) == 1
    fronts = [json.loads((tmp_path / f"w{i}" / "pareto.json").read_text()) for i in range(2)]
    assert fronts[0]["designs"] == fronts[1]["designs"]
    assert fronts[0]["trials"] == {"completed": trials, "evaluated": len(evaluated)}


def test_unreachable_postgres_is_refused_before_training(data, tmp_path):
    """A server that is not there: one line naming the storage and why, exit 2, nothing made."""
    out = tmp_path / "run"
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/none"
    t0 = time.perf_counter()
    p = _start(_cmd(out, data, 4, "--storage", url))
    _, err = p.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert p.returncode == 2 and len(lines) == 1, err
    assert "storage" in lines[0] and "127.0.0.1" in lines[0] and "refused" in lines[0].lower()
    assert not out.exists() and time.perf_counter() - t0 < 60

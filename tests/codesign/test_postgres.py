"""Two search workers on one study in a real PostgreSQL server (Debian's ``postgresql``).

The fixture starts a private server for the session (``initdb`` into a temporary folder,
``pg_ctl start`` on a free loopback port, trust authentication, fsync off) and stops it at the
end; as root it runs the server as the ``postgres`` user, which PostgreSQL requires.  Without
PostgreSQL the tests skip locally; under CI (``CI=true``, where ``scripts/test.sh`` installs it)
they fail.  The speed-up of two workers over one is measured in ``bench/workers.py``, not
asserted here.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """A throw-away PostgreSQL server: ``start()``, ``url(db)``, ``create(db)``, ``stop()``."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise FileNotFoundError("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="codesign-pg-"))
        os.chmod(self.root, 0o755)
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    def _run(self, *cmd: str) -> None:
        subprocess.run([*self.as_user, *cmd], check=True, capture_output=True, text=True,
                       timeout=120)

    def start(self) -> "LocalPostgres":
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "--no-sync")
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c max_connections=100")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                  str(self.log), "-w", "-t", "60", "start")
        return self

    def create(self, db: str) -> str:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  "postgres", db)
        return self.url(db)

    def url(self, db: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


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
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{_free_port()}/none"
    t0 = time.perf_counter()
    p = _start(_cmd(out, data, 4, "--storage", url))
    _, err = p.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert p.returncode == 2 and len(lines) == 1, err
    assert "storage" in lines[0] and "127.0.0.1" in lines[0] and "refused" in lines[0].lower()
    assert not out.exists() and time.perf_counter() - t0 < 60

"""The run directory of a search: its files, its lock, and reading them back safely.

A run directory (``codesign search --out RUN_DIR``) holds

* ``request.json``: the validated :class:`~codesign.request.SearchRequest`;
* ``supernet.pt``: the supernet checkpoint (weights, optimizer, scheduler, RNG and data-order
  state; written atomically, see :mod:`codesign.supernet.train`);
* ``study.db``: the Optuna study (SQLite), unless ``--storage`` names another database;
* ``pareto.json`` / ``pareto.png``: the result, rewritten at the end of every run.

Everything read back from it is validated where it enters: a damaged file is bad input
(:class:`~fpga.errors.InputError`) that names the file and says how to recover, never a
traceback.  One process at a time works in a run directory: :class:`RunLock` holds an
advisory ``flock`` on the directory itself, which the kernel drops when the process dies
(``kill -9`` included), and which writes nothing into the directory.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any, Mapping

from fpga.errors import InputError, read_json_file

REQUEST_FILE = "request.json"
SUPERNET_FILE = "supernet.pt"
STUDY_FILE = "study.db"
PARETO_FILE = "pareto.json"
PARETO_SCHEMA = 1


# ------------------------------------------------------------------------------ the lock
class RunLock:
    """An exclusive, non-blocking ``flock`` on a directory, held while a command works in it.

    The lock lives in the kernel, attached to an open descriptor of the directory: it needs
    no lock file, leaves nothing behind, and is released when the holder exits or is killed.
    """

    def __init__(self, path: str | Path, field: str = "out") -> None:
        self.path = Path(path)
        self.field = field
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise InputError(self.field, f"cannot open {self.path} ({exc.strerror})",
                             ["a directory this user can read"]) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if not isinstance(exc, BlockingIOError):
                raise InputError(self.field, f"cannot lock {self.path} ({exc.strerror}): its "
                                 "file system does not support flock; put the run directory "
                                 "on a local disk (several machines share a search through "
                                 "--storage, not through one run directory)") from None
            raise InputError(self.field, f"{self.path} is in use by another codesign process "
                             "(a search is running in it); wait for it to finish, or "
                             "give this one another directory (several machines share one "
                             "search through --storage, each with its own --out)") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# ------------------------------------------------------------------------------ reading back
def load_checkpoint(path: str | Path, recover: str, field: str = "supernet.pt") -> dict[str, Any]:
    """Load a torch checkpoint written by this toolkit, with ``weights_only=True`` (no code in
    a crafted pickle runs).  Any damage is an InputError naming the file and ``recover``."""
    import torch

    path = Path(path)
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of garbage
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # EOFError, UnpicklingError, RuntimeError (zip reader), ...
        reason = " ".join(str(exc).split()).split(". ")[0][:100]
        reason = f"{type(exc).__name__}: {reason}" if reason and reason != type(exc).__name__ \
            else type(exc).__name__
        raise InputError(field, f"{path} is damaged or not a codesign checkpoint ({reason}); "
                         f"{recover}") from None
    if not isinstance(state, dict):
        raise InputError(field, f"{path} holds a {type(state).__name__}, not a codesign "
                         f"checkpoint; {recover}")
    return state


def check_sqlite_file(path: str | Path, recover: str, field: str = "study.db") -> None:
    """Refuse a file that is not an intact SQLite database (truncated, garbage, foreign)."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_file():
        raise InputError(field, f"{path} is not a file; {recover}")
    if path.stat().st_size == 0 and (path.parent / PARETO_FILE).is_file():
        # SQLite creates an empty file when it opens a new database, so an empty study.db can
        # be a run killed while it started; but not one that has already written its front
        raise InputError(field, f"{path} is empty although {PARETO_FILE} shows a finished "
                         f"search; {recover}")
    try:
        with path.open("rb") as f:
            head = f.read(16)
        if path.stat().st_size and head != b"SQLite format 3\x00":
            raise sqlite3.DatabaseError("file is not a database")
        # read-write: after a kill -9 the database may carry a hot journal, which SQLite rolls
        # back on the first open (its crash recovery); a read-only connection cannot
        con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=60)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
            con.execute("SELECT name FROM sqlite_master").fetchall()
        finally:
            con.close()
        if rows != [("ok",)]:
            raise sqlite3.DatabaseError("; ".join(str(r[0]) for r in rows[:3]))
    except sqlite3.Error as exc:
        raise InputError(field, f"{path} is damaged ({exc}); {recover}") from None
    except OSError as exc:
        raise InputError(field, f"cannot read {path} ({exc.strerror}); {recover}") from None


def load_pareto(run_dir: str | Path, require: tuple[str, ...] = ()) -> dict[str, Any]:
    """``RUN_DIR/pareto.json``, checked: a JSON object of schema 1 whose ``designs`` is a list
    of objects, each carrying the fields in ``require`` (from :data:`DESIGN_FIELDS`) with the
    right types; with ``require``, also the ``request`` and the ``best``/``knee`` ids."""
    path = Path(run_dir) / PARETO_FILE
    if not path.is_file():
        raise InputError("RUN_DIR", f"{path} not found (is {run_dir} a finished codesign search?)")
    recover = (f"rerun the `codesign search` command of {run_dir} (same arguments) to rewrite "
               "it from the study")
    d = read_json_file(path, "pareto.json")
    if not isinstance(d, dict):
        raise InputError("pareto.json", f"{path} is not a JSON object; {recover}")
    if d.get("schema") != PARETO_SCHEMA:
        raise InputError("pareto.schema", f"{path}: got {d.get('schema')!r}; {recover}",
                         [PARETO_SCHEMA])
    designs = d.get("designs")
    if not isinstance(designs, list):
        raise InputError("pareto.designs", f"{path}: 'designs' is a "
                         f"{type(designs).__name__}, not a list; {recover}")
    for i, x in enumerate(designs):
        _check_design(x, f"pareto.designs[{i}]", path, recover, require)
    if require:
        if not isinstance(d.get("request"), dict):
            raise InputError("pareto.request", f"{path} has no request object; {recover}")
        ids = {x["id"] for x in designs} if "id" in require else set()
        for key in ("best", "knee"):
            v = d.get(key)
            if v is not None and "id" in require and v not in ids:
                raise InputError(f"pareto.{key}", f"{path}: {key} = {v!r} is not the id of a "
                                 f"design in the file; {recover}")
    return d


#: what every design in pareto.json carries, with the type each value must have
DESIGN_FIELDS: Mapping[str, tuple[type, ...]] = {
    "id": (int,), "accuracy": (int, float, type(None)), "lut": (int, float),
    "bram18": (int, float), "dsp": (int, float), "fps": (int, float), "feasible": (bool,),
    "on_front": (bool,), "candidate": (dict,), "network": (dict,)}


def _check_design(x: Any, where: str, path: Path, recover: str, require: tuple[str, ...]) -> None:
    if not isinstance(x, dict):
        raise InputError(where, f"{path}: a design must be an object, got "
                         f"{type(x).__name__}; {recover}")
    for key in require:
        types = DESIGN_FIELDS[key]
        if key not in x:
            raise InputError(f"{where}.{key}", f"{path}: missing; {recover}")
        v = x[key]
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in types):
            names = "/".join("null" if t is type(None) else t.__name__ for t in types)
            raise InputError(f"{where}.{key}", f"{path}: got {v!r}, expected {names}; {recover}")
    if "accuracy" in require and "feasible" in require and x["feasible"] \
            and x["accuracy"] is None:
        raise InputError(f"{where}.accuracy", f"{path}: a feasible design needs an accuracy; "
                         f"{recover}")


def count_trials(db: str | Path, state: str) -> int:
    """Trials in ``state`` (``COMPLETE``, ``RUNNING``, ``FAIL``, ``WAITING``) of a run's SQLite
    study, read without Optuna while a search may be writing it (0 until its tables exist).

    The connection is read-write: after a ``kill -9`` the file may carry a hot journal that only
    a writable connection can roll back (SQLite's own crash recovery)."""
    db = Path(db)
    for _ in range(100):
        if not db.is_file():
            return 0
        try:
            con = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=30)
            try:
                return int(con.execute("SELECT COUNT(*) FROM trials WHERE state = ?",
                                       (state,)).fetchone()[0])
            finally:
                con.close()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return 0
            time.sleep(0.01)  # busy: ask again
    return 0


# ------------------------------------------------------------------------------ leftovers
def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp_dirs(parent: Path, prefix: str) -> list[Path]:
    """Remove ``parent/<prefix><pid>-*`` folders left by a process that no longer runs (an
    export killed mid-way).  Folders of live processes are kept.  Returns what was removed."""
    removed = []
    if not parent.is_dir():
        return removed
    for p in parent.glob(f"{prefix}*"):
        rest = p.name[len(prefix):]
        pid_text = rest.split("-", 1)[0]
        if not p.is_dir() or not pid_text.isdigit():
            continue
        if int(pid_text) == os.getpid() or not pid_alive(int(pid_text)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


__all__ = ["count_trials", "RunLock", "load_checkpoint", "check_sqlite_file", "load_pareto",
           "remove_stale_temp_dirs", "pid_alive", "REQUEST_FILE", "SUPERNET_FILE",
           "STUDY_FILE", "PARETO_FILE", "DESIGN_FIELDS"]

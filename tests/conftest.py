"""Shared fixtures: tiny synthetic data sets in the distributed file formats (unit tests only),
and ``cli``: the in-process ``codesign`` runner with workspace snapshots (tests/test_bad_input.py)."""
from __future__ import annotations

import gzip
import hashlib
import logging
import os
import stat
import struct
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


def write_idx_set(folder: Path, n_train: int = 600, n_test: int = 200, size: int = 28,
                  seed: int = 0) -> Path:
    """Write the four idx .gz files of a learnable 10-class toy set (class = bright quadrant/bar)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
        for i, c in enumerate(y):
            r = (int(c) % 5) * (size // 5)
            x[i, r:r + size // 5, :] += 150 if c < 5 else 0
            x[i, :, r:r + size // 5] += 150 if c >= 5 else 0
        return x, y

    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x, y = images(n)
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 0x803, n, size, size) + x.tobytes())
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 0x801, n) + y.tobytes())
    return folder


@pytest.fixture
def toy_idx_dir(tmp_path: Path) -> Path:
    return write_idx_set(tmp_path / "toy")


@pytest.fixture(scope="session")
def idx_writer():
    """:func:`write_idx_set` itself, for tests that place a toy data set where they need it."""
    return write_idx_set


# ------------------------------------------------------------------ in-process CLI harness
@dataclass
class CliResult:
    """What one ``codesign`` call gave: exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        """The non-empty lines of stderr."""
        return [line for line in self.err.splitlines() if line.strip()]


class CliRunner:
    """Runs ``codesign.cli.main(argv)`` in this process, as the ``codesign`` script would.

    ``SystemExit`` (argparse) becomes the exit code; an exception escaping ``main`` becomes exit
    code 1 with its traceback on stderr, as the interpreter would print it, so that a test sees a
    crash as a failed assertion (``"Traceback" in result.err``) rather than an error.  Log records
    reach stderr as in a fresh process (the root logger is emptied for the call).
    """

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, argv: list[str]) -> CliResult:
        from codesign.cli import main

        self._capsys.readouterr()  # drop what came before
        # as in a fresh process, the root logger has no handler: main's logging.basicConfig
        # then logs to (the captured) stderr, so log lines count as stderr lines here too
        root = logging.getLogger()
        saved = root.handlers[:], root.level
        root.handlers = []
        tb = ""
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # noqa: BLE001 - a crash is a result here
            if isinstance(exc, KeyboardInterrupt):
                raise
            code = 1
            tb = "".join(traceback.format_exception(exc))
        finally:
            for h in root.handlers:
                h.flush()
            root.handlers = saved[0]
            root.setLevel(saved[1])
        captured = self._capsys.readouterr()
        return CliResult(int(code), captured.out, captured.err + tb)

    @staticmethod
    def snapshot(folder: str | os.PathLike[str]) -> dict[str, tuple]:
        """Every entry under ``folder`` (hidden ones included, links not followed):
        ``{relative path: ("file", size, mtime_ns, sha1) | ("dir",) | ("link", target)}``.

        Compare two snapshots to assert that nothing was created, changed or removed."""
        root = Path(folder)
        snap: dict[str, tuple] = {}
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                rel = str(p.relative_to(root))
                st = p.lstat()
                if stat.S_ISLNK(st.st_mode):
                    snap[rel] = ("link", os.readlink(p))
                elif stat.S_ISDIR(st.st_mode):
                    snap[rel] = ("dir",)
                elif stat.S_ISREG(st.st_mode):
                    snap[rel] = ("file", st.st_size, st.st_mtime_ns,
                                 hashlib.sha1(p.read_bytes()).hexdigest())
                else:
                    snap[rel] = ("other", stat.S_IFMT(st.st_mode))
        return snap

    @staticmethod
    def diff(before: dict[str, tuple], after: dict[str, tuple]) -> dict[str, list[str]]:
        """``{"created": [...], "removed": [...], "changed": [...]}`` between two snapshots."""
        return {"created": sorted(set(after) - set(before)),
                "removed": sorted(set(before) - set(after)),
                "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k])}


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """``cli(argv) -> CliResult(code, out, err)``; ``cli.snapshot(folder)``, ``cli.diff(a, b)``."""
    return CliRunner(capsys)

"""Shared fixtures: tiny synthetic data sets in the distributed file formats (unit tests only)."""
from __future__ import annotations

import gzip
import struct
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

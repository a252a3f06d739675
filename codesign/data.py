"""Real image data sets, read from the files as distributed (no download, no torch import).

Each loader returns uint8 arrays in NCHW layout; the training code scales pixels to [0, 1]
(``x / 255``), which is the preprocessing recorded in every export report.

* ``fashion-mnist`` / ``mnist``: the four idx ``.gz`` files (``train-images-idx3-ubyte.gz``,
  ...).  Default folder for Fashion-MNIST: Debian's ``dataset-fashion-mnist`` package
  (``/usr/share/datasets/fashion-mnist``).
* ``cifar10``: a folder holding ``cifar-10-batches-py/`` (the python pickles, read without
  unpickling code objects: see :func:`_read_cifar_batch`), or a ``cifar10_jpeg.npz`` file.

Accuracy during search is measured on a validation split carved from the training set
(:func:`train_val_split`); the test set is only used by ``codesign export``.
"""
from __future__ import annotations

import gzip
import io
import logging
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpga.errors import InputError

log = logging.getLogger(__name__)

DATASETS = ("fashion-mnist", "mnist", "cifar10")

DEFAULT_DIRS = {
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
    "mnist": ("/usr/share/datasets/mnist",),
    "cifar10": (),
}

_IDX_FILES = {
    "train_x": ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"),
    "train_y": ("train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"),
    "test_x": ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"),
    "test_y": ("t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"),
}

CLASS_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
    "mnist": tuple(str(i) for i in range(10)),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck"),
}


@dataclass(frozen=True)
class ImageDataset:
    """A whole data set in memory: uint8 images (N, C, H, W) and int64 labels (N,)."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    source: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.train_x.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return int(max(self.train_y.max(), self.test_y.max())) + 1

    @property
    def note(self) -> str:
        """What a reader must know about the data next to any accuracy figure."""
        if self.name == "cifar10" and self.source.endswith(".npz"):
            return "CIFAR-10 (JPEG-recompressed copy; expect 2-3 points below true CIFAR-10)"
        return self.name


def load_dataset(name: str, data_dir: str | Path | None = None) -> ImageDataset:
    """Load ``name`` from ``data_dir`` (or its default folder), validating what is found."""
    if name not in DATASETS:
        raise InputError("dataset", f"unknown data set {name!r}", DATASETS)
    if data_dir is None:
        found = [Path(d) for d in DEFAULT_DIRS[name] if Path(d).is_dir()]
        if not found:
            hint = (" (install Debian's dataset-fashion-mnist package, or pass --data-dir)"
                    if name == "fashion-mnist" else " (pass --data-dir)")
            raise InputError("data-dir", f"no {name} data found in the default locations "
                             f"{list(DEFAULT_DIRS[name])}{hint}")
        data_dir = found[0]
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise InputError("data-dir", f"{data_dir} does not exist")
    if name == "cifar10":
        return _load_cifar10(data_dir)
    return _load_idx_set(name, data_dir)


def train_val_split(n_train: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded disjoint index split of the training set into (train, validation)."""
    if not 0 < val_size < n_train:
        raise InputError("val_size", f"{val_size} must be in (0, {n_train})")
    perm = np.random.default_rng(seed).permutation(n_train)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


# ----------------------------------------------------------------------------- idx (MNIST)
def _find_file(folder: Path, names: tuple[str, ...]) -> Path | None:
    for sub in ("", "raw"):
        for n in names:
            p = folder / sub / n
            if p.is_file():
                return p
    return None


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, OSError, zlib.error) as exc:  # truncated, not gzip, bad CRC, unreadable
        what = "gzip-compressed idx file" if path.suffix == ".gz" else "idx file"
        raise InputError("data-dir", f"{path} is not a readable {what} ({type(exc).__name__}: "
                         f"{exc or 'unexpected end of data'}); replace it with the file as "
                         "distributed") from None
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise InputError("data-dir", f"{path} is not an idx file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise InputError("data-dir", f"{path} is truncated or corrupt "
                         f"({len(data) - offset} bytes of data, header says {expected})")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims).copy()


def _load_idx_set(name: str, folder: Path) -> ImageDataset:
    arrays = {}
    for key, names in _IDX_FILES.items():
        path = _find_file(folder, names)
        if path is None:
            raise InputError("data-dir", f"{folder} lacks {names[0]} (the {name} idx files "
                             f"expected: {', '.join(n[0] for n in _IDX_FILES.values())})")
        arrays[key] = _read_idx(path)
    for split in ("train", "test"):
        if len(arrays[f"{split}_x"]) != len(arrays[f"{split}_y"]):
            raise InputError("data-dir", f"{name} {split} images and labels differ in count")
    return ImageDataset(name, arrays["train_x"][:, None], arrays["train_y"].astype(np.int64),
                        arrays["test_x"][:, None], arrays["test_y"].astype(np.int64), str(folder))


# ----------------------------------------------------------------------------- CIFAR-10
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler for the CIFAR-10 batches that refuses any class but numpy's array rebuild."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):  # noqa: D401
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise InputError("data-dir", f"CIFAR-10 batch references {module}.{name}; refusing to load")


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    hint = "replace it with the file from CIFAR-10's python version (cifar-10-python.tar.gz)"
    try:
        with open(path, "rb") as f:
            d = _NumpyOnlyUnpickler(f, encoding="bytes").load()
        x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(d[b"labels"], dtype=np.int64)
    except InputError:
        raise
    except (pickle.UnpicklingError, EOFError, OSError, KeyError, TypeError, ValueError,
            IndexError, AttributeError) as exc:
        raise InputError("data-dir", f"{path} is not a CIFAR-10 batch ({type(exc).__name__}: "
                         f"{str(exc)[:80]}); {hint}") from None
    if len(x) != len(y):
        raise InputError("data-dir", f"{path} holds {len(x)} images but {len(y)} labels; {hint}")
    return x, y


def _load_cifar10(folder: Path) -> ImageDataset:
    npz = folder if folder.suffix == ".npz" else folder / "cifar10_jpeg.npz"
    pickles = folder / "cifar-10-batches-py"
    if pickles.is_dir():
        parts = [_read_cifar_batch(pickles / f"data_batch_{i}") for i in range(1, 6)
                 if (pickles / f"data_batch_{i}").is_file()]
        if len(parts) != 5 or not (pickles / "test_batch").is_file():
            raise InputError("data-dir", f"{pickles} lacks data_batch_1..5 or test_batch")
        tx, ty = _read_cifar_batch(pickles / "test_batch")
        return ImageDataset("cifar10", np.concatenate([p[0] for p in parts]),
                            np.concatenate([p[1] for p in parts]), tx, ty, str(pickles))
    if npz.is_file():
        return _load_cifar_jpeg_npz(npz)
    raise InputError("data-dir", f"{folder} holds neither cifar-10-batches-py/ nor cifar10_jpeg.npz")


def _load_cifar_jpeg_npz(path: Path) -> ImageDataset:
    try:
        return _read_cifar_jpeg_npz(path)
    except InputError:
        raise
    except Exception as exc:  # BadZipFile, truncated arrays, undecodable JPEG, bad offsets
        raise InputError("data-dir", f"{path} is not a readable cifar10_jpeg.npz "
                         f"({type(exc).__name__}: {str(exc)[:80]}); replace it with the file "
                         "as distributed") from None


def _read_cifar_jpeg_npz(path: Path) -> ImageDataset:
    from PIL import Image  # matplotlib depends on Pillow, so it is always there

    with np.load(path, allow_pickle=False) as z:
        required = {"train_jpeg", "train_offsets", "train_labels", "test_jpeg", "test_offsets",
                    "test_labels"}
        missing = required - set(z.files)
        if missing:
            raise InputError("data-dir", f"{path} lacks arrays {sorted(missing)}")
        out = {}
        for split in ("train", "test"):
            blob, off = z[f"{split}_jpeg"], z[f"{split}_offsets"]
            imgs = np.empty((len(off) - 1, 32, 32, 3), dtype=np.uint8)
            for i in range(len(off) - 1):
                imgs[i] = np.asarray(Image.open(io.BytesIO(blob[off[i]:off[i + 1]].tobytes()))
                                     .convert("RGB"))
            out[split] = (imgs.transpose(0, 3, 1, 2).copy(), z[f"{split}_labels"].astype(np.int64))
    return ImageDataset("cifar10", out["train"][0], out["train"][1], out["test"][0],
                        out["test"][1], str(path))

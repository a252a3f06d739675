import gzip
import struct

import numpy as np
import pytest

from codesign.data import load_dataset, train_val_split
from fpga.errors import InputError


def test_idx_loader_reads_distributed_files(toy_idx_dir):
    ds = load_dataset("fashion-mnist", toy_idx_dir)
    assert ds.train_x.shape == (600, 1, 28, 28) and ds.train_x.dtype == np.uint8
    assert ds.test_x.shape == (200, 1, 28, 28)
    assert ds.train_y.shape == (600,) and ds.num_classes == 10
    assert ds.shape == (1, 28, 28)


def test_missing_data_dir_names_the_field(tmp_path):
    with pytest.raises(InputError) as e:
        load_dataset("mnist", tmp_path / "nope")
    assert e.value.field == "data-dir"


def test_folder_without_the_files(tmp_path):
    with pytest.raises(InputError) as e:
        load_dataset("mnist", tmp_path)
    assert "data-dir" in str(e.value) and "train-images-idx3-ubyte" in str(e.value)


def test_truncated_idx_file(toy_idx_dir):
    with gzip.open(toy_idx_dir / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 600, 28, 28) + b"\0" * 100)
    with pytest.raises(InputError):
        load_dataset("mnist", toy_idx_dir)


def test_unknown_dataset():
    with pytest.raises(InputError) as e:
        load_dataset("imagenet", None)
    assert "fashion-mnist" in str(e.value)


def test_cifar_pickles_are_read_without_code(tmp_path):
    import pickle
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 255, (20, 3072), dtype=np.uint8),
             b"labels": list(rng.integers(0, 10, 20))}
        d[b"labels"] = [int(v) for v in d[b"labels"]]
        (root / name).write_bytes(pickle.dumps(d))
    ds = load_dataset("cifar10", tmp_path)
    assert ds.train_x.shape == (100, 3, 32, 32) and ds.test_x.shape == (20, 3, 32, 32)


def test_train_val_split_is_disjoint_and_seeded():
    tr, va = train_val_split(100, 20, seed=3)
    assert len(va) == 20 and len(tr) == 80 and not set(tr) & set(va)
    tr2, va2 = train_val_split(100, 20, seed=3)
    assert (va == va2).all()
    with pytest.raises(InputError):
        train_val_split(100, 100, 0)


def test_damaged_idx_files_name_the_file(toy_idx_dir, tmp_path):
    import shutil

    from codesign.data import load_dataset
    from fpga.errors import InputError

    for name, damage in (("truncated", lambda b: b[: len(b) // 2]), ("not-gzip", lambda b: b"hi"),
                         ("empty", lambda b: b""), ("bad-crc", lambda b: b[:-8] + b"\0" * 8)):
        d = tmp_path / name
        shutil.copytree(toy_idx_dir, d)
        f = d / "train-images-idx3-ubyte.gz"
        f.write_bytes(damage(f.read_bytes()))
        with pytest.raises(InputError) as e:
            load_dataset("mnist", d)
        assert e.value.field == "data-dir" and "train-images-idx3-ubyte.gz" in str(e.value)


def test_damaged_cifar_batch_names_the_file(tmp_path):
    from codesign.data import load_dataset
    from fpga.errors import InputError

    b = tmp_path / "cifar-10-batches-py"
    b.mkdir()
    for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (b / n).write_bytes(b"\x80\x04garbage")
    with pytest.raises(InputError) as e:
        load_dataset("cifar10", tmp_path)
    assert e.value.field == "data-dir" and "data_batch_1" in str(e.value)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "cifar10_jpeg.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(InputError, match="cifar10_jpeg.npz"):
        load_dataset("cifar10", tmp_path / "x")

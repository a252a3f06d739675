"""Supernet training resumes exactly: a run stopped after any checkpoint and resumed computes
the same weights as an uninterrupted one (checkpoints carry the data order, every RNG state and
Brevitas's activation-range statistics, and the optimizer is rebuilt over the loaded weights)."""
from __future__ import annotations

import pytest
import torch

from codesign.data import load_dataset
from codesign.spaces.base import get_space
from codesign.supernet import build_supernet
from codesign.supernet import train as T


class _Killed(Exception):
    """The stand-in for SIGKILL: raised right after a checkpoint was written."""


@pytest.fixture(scope="module")
def setup(tmp_path_factory, idx_writer):
    d = load_dataset("mnist", idx_writer(tmp_path_factory.mktemp("d") / "toy", n_train=520))
    sp = T.tensor_splits(d, 200, 0)
    space = get_space("cnv", input_shape=d.shape, num_classes=10)
    cfg = T.TrainConfig(epochs=2, batch_size=32, seed=0)  # 10 steps per epoch
    return sp, space, cfg


def _fresh(space):
    torch.manual_seed(0)
    return build_supernet(space)


def _train(setup, ckpt, kill_after=None, monkeypatch=None):
    sp, space, cfg = setup
    model = _fresh(space)
    if kill_after is not None:
        real, n = T.atomic_save, {"saves": 0}

        def save(obj, path):
            real(obj, path)
            n["saves"] += 1
            if n["saves"] == kill_after:
                raise _Killed  # the process dies right after this checkpoint

        monkeypatch.setattr(T, "atomic_save", save)
    try:
        hist = T.train_supernet(model, sp.train_x, sp.train_y, cfg, torch.device("cpu"),
                                checkpoint=ckpt, progress=False, checkpoint_every_s=0.0)
    except _Killed:
        return None, None
    finally:
        monkeypatch and monkeypatch.undo()
    return model, hist


@pytest.mark.parametrize("kill_after", [1, 4, 10, 13])  # within epoch 1, its end, in epoch 2
def test_resumed_training_equals_uninterrupted(setup, tmp_path, monkeypatch, kill_after):
    ref, ref_hist = _train(setup, None)
    ckpt = tmp_path / "supernet.pt"
    assert _train(setup, ckpt, kill_after, monkeypatch) == (None, None)
    state = torch.load(ckpt, weights_only=True)
    assert state["schema"] == T.CHECKPOINT_SCHEMA and "quant_stats" in state
    model, hist = _train(setup, ckpt)
    assert T.fingerprint(model) == T.fingerprint(ref)
    assert [h["loss_largest"] for h in hist] == [h["loss_largest"] for h in ref_hist]


def test_damaged_checkpoint_is_bad_input(setup, tmp_path):
    from fpga.errors import InputError

    sp, space, cfg = setup
    ckpt = tmp_path / "supernet.pt"
    for content in (b"", b"garbage" * 10, b"PK\x03\x04" + b"\0" * 40):
        ckpt.write_bytes(content)
        with pytest.raises(InputError) as e:
            T.check_resumable(_fresh(space), ckpt, cfg)
        assert e.value.field == "supernet.pt" and "remove it" in str(e.value)
    torch.save({"model": {"nope": torch.zeros(1)}, "optimizer": {}, "scheduler": {}, "epoch": 1,
                "history": [], "train_config": __import__("dataclasses").asdict(cfg),
                "schema": T.CHECKPOINT_SCHEMA}, ckpt)
    with pytest.raises(InputError, match="does not fit"):
        T.check_resumable(_fresh(space), ckpt, cfg)

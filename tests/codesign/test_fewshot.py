"""Few-shot sub-supernets (EFS-NAS), checkpoints per sub-supernet, and a diverging loss."""
from pathlib import Path

import numpy as np
import pytest
import torch

from codesign.spaces.base import get_space
from codesign.supernet import build_supernet
from codesign.supernet.config import TrainConfig
from codesign.supernet.fewshot import (FewShotSupernet, check_resumable_scheme, load_trained,
                                       train_scheme)
from codesign.supernet.plan import split_groups, sub_checkpoint
from codesign.supernet.sampling import SubnetSampler
from codesign.supernet.train import TrainingDiverged, train_supernet
from fpga.errors import InputError


@pytest.fixture(scope="module")
def space():
    return get_space("cnv", input_shape=(1, 16, 16), num_classes=4, s0_widths=(4, 8),
                     s1_widths=(8, 16), fc_widths=(16, 32))


def toy_data(n=256):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (n,), generator=g)
    x = (torch.rand(n, 1, 16, 16, generator=g) * 60).to(torch.uint8)
    for i, c in enumerate(y):
        x[i, 0, 4 * int(c):4 * int(c) + 4, :] += 150
    return x, y


def test_split_by_nonlinearity_count():
    assert split_groups(get_space("cnv"), 3) == [(3,), (4,), (5,)]
    assert split_groups(get_space("cnv"), 2) in ([(3, 4), (5,)], [(3,), (4, 5)])
    parts = split_groups(get_space("cnv-l"), 3)
    assert [n for p in parts for n in p] == list(range(4, 11))  # contiguous, complete
    groups = get_space("cnv-l").nonlinearity_groups()
    sizes = [sum(len(groups[n]) for n in p) for p in parts]
    assert max(sizes) <= 10 and sum(sizes) == 27
    with pytest.raises(InputError) as e:
        split_groups(get_space("cnv"), 4)
    assert e.value.field == "few-shot-splits"


def test_sampler_stays_inside_its_groups(space):
    s = SubnetSampler(space, groups=(4,), balanced=True)
    rng = np.random.default_rng(0)
    assert space.nonlinearity_count(s.largest()) == 4
    assert space.nonlinearity_count(s.smallest()) == 4
    for _ in range(20):
        assert [space.nonlinearity_count(c) for c in s.randoms(rng)] == [4]
    whole = SubnetSampler(space, balanced=True)
    assert sorted(space.nonlinearity_count(c) for c in whole.randoms(rng)) == [3, 4, 5]


def test_few_shot_trains_resumes_and_routes(space, tmp_path):
    x, y = toy_data()
    cfg = TrainConfig(epochs=2, batch_size=64, seed=0)
    cpu = torch.device("cpu")
    model, hist = train_scheme(space, build_supernet, "few-shot", cfg, x, y, cpu, tmp_path,
                               splits=3, progress=False)
    assert isinstance(model, FewShotSupernet) and len(model.subnets) == 3
    assert [h["part"] for h in hist] == ["warmup", "fs0", "fs1", "fs2"]
    for i in range(3):
        assert sub_checkpoint(tmp_path, i).is_file()
    # every candidate goes to the sub-supernet of its nonlinearity count, and extracts from it
    rng = np.random.default_rng(0)
    for _ in range(10):
        c = space.sample(rng)
        i = model.route(c)
        assert space.nonlinearity_count(c) in model.splits[i]
        model.activate(c).eval()
        xx = torch.rand(4, 1, 16, 16)
        with torch.no_grad():
            assert torch.allclose(model(xx), model.extract(c).eval()(xx), atol=1e-5)
    # the sub-supernets started from the warm-up and then diverged from each other
    w = [m.blocks["conv0"].conv.weight for m in model.subnets]
    assert not torch.equal(w[0], w[1])
    # finished checkpoints: a rerun trains nothing and returns the same weights
    again, hist2 = train_scheme(space, build_supernet, "few-shot", cfg, x, y, cpu, tmp_path,
                                splits=3, progress=False)
    assert hist2 == hist
    assert torch.equal(again.subnets[2].blocks["fc0"].linear.weight,
                       model.subnets[2].blocks["fc0"].linear.weight)
    loaded = load_trained(space, build_supernet, "few-shot", tmp_path, 3, "retrain")
    assert torch.equal(loaded.subnets[1].blocks["conv0"].conv.weight, w[1])


def test_killed_sub_supernet_resumes_exactly(space, tmp_path):
    """A kill while the second sub-supernet trains: the rerun ends with the same weights."""
    x, y = toy_data()
    cfg = TrainConfig(epochs=2, batch_size=64, seed=0)
    cpu = torch.device("cpu")
    (tmp_path / "ref").mkdir()
    ref, _ = train_scheme(space, build_supernet, "few-shot", cfg, x, y, cpu, tmp_path / "ref",
                          splits=3, progress=False)
    run = tmp_path / "run"
    run.mkdir()
    import codesign.supernet.train as T
    calls = {"n": 0}
    real = T.atomic_save

    def save_then_die(obj, path):
        real(obj, path)
        if Path(path).name == "supernet-fs1.pt":
            calls["n"] += 1
            if calls["n"] == 1:  # the first mid-epoch checkpoint of sub-supernet 1
                raise KeyboardInterrupt

    T.atomic_save = save_then_die
    try:
        with pytest.raises(KeyboardInterrupt):
            train_scheme(space, build_supernet, "few-shot", cfg, x, y, cpu, run, splits=3,
                         progress=False, checkpoint_every_s=1e-9)
    finally:
        T.atomic_save = real
    assert sub_checkpoint(run, 1).exists() and not sub_checkpoint(run, 2).exists()
    got, _ = train_scheme(space, build_supernet, "few-shot", cfg, x, y, cpu, run, splits=3,
                          progress=False, checkpoint_every_s=1e-9)
    for a, b in zip(ref.state_dict().values(), got.state_dict().values()):
        assert torch.equal(a, b)


def test_checkpoint_of_another_split_or_space_is_refused(space, tmp_path):
    x, y = toy_data(128)
    cfg = TrainConfig(epochs=2, batch_size=64, seed=0)
    cpu = torch.device("cpu")
    train_scheme(space, build_supernet, "few-shot", cfg, x, y, cpu, tmp_path, splits=3,
                 progress=False)
    # sub-supernet 0 of a 3-way split is not sub-supernet 0 of a 2-way split
    with pytest.raises(InputError) as e:
        check_resumable_scheme(space, build_supernet, "few-shot", cfg, tmp_path, 2, None)
    assert e.value.field.startswith("supernet-fs") and "another few-shot split" in str(e.value)
    with pytest.raises(InputError, match="another few-shot split"):
        load_trained(space, build_supernet, "few-shot", tmp_path, 2, "retrain")
    other = get_space("cnv", input_shape=(1, 16, 16), num_classes=4, s0_widths=(4, 8),
                      s1_widths=(8, 16), fc_widths=(16, 64))
    with pytest.raises(InputError, match="another search space"):
        check_resumable_scheme(other, build_supernet, "few-shot", cfg, tmp_path, 3, None)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(space, tmp_path, monkeypatch):
    x, y = toy_data(512)
    cfg = TrainConfig(epochs=2, batch_size=64, seed=0)
    ckpt = tmp_path / "sn.pt"
    torch.manual_seed(0)
    good = build_supernet(space)
    # first epoch trains normally (a checkpoint is written), then the loss turns NaN at step 3
    import codesign.supernet.train as T
    real = T._sandwich_losses
    state = {"step": 0}

    def poisoned(model, xx, yy, cands, kd, amp):
        state["step"] += 1
        for loss in real(model, xx, yy, cands, kd, amp):
            yield loss * float("nan") if state["step"] == 8 + 3 else loss

    monkeypatch.setattr(T, "_sandwich_losses", poisoned)
    monkeypatch.setattr(T, "SYNC_EVERY", 1000)  # found at the epoch's end, before the save
    with pytest.raises(TrainingDiverged) as e:
        train_supernet(good, x, y, cfg, torch.device("cpu"), checkpoint=ckpt, progress=False)
    assert "epoch 2, step 3 of 8" in str(e.value) and e.value.field == "lr"
    saved = torch.load(ckpt, weights_only=True)
    assert saved["epoch"] == 1  # the last good checkpoint, not the NaN state
    assert all(torch.isfinite(v).all() for v in saved["model"].values()
               if isinstance(v, torch.Tensor) and v.is_floating_point())


def test_checkpoint_of_another_version_is_refused(space, tmp_path):
    from codesign.supernet.checkpoint import CHECKPOINT_SCHEMA, check_resumable

    x, y = toy_data(128)
    cfg = TrainConfig(epochs=1, batch_size=64, seed=0)
    ckpt = tmp_path / "supernet.pt"
    torch.manual_seed(0)
    train_supernet(build_supernet(space), x, y, cfg, torch.device("cpu"), checkpoint=ckpt,
                   progress=False)
    state = torch.load(ckpt, weights_only=True)
    torch.save({**state, "schema": CHECKPOINT_SCHEMA + 1}, ckpt)
    with pytest.raises(InputError, match="newer codesign"):
        check_resumable(build_supernet(space), ckpt, cfg)
    torch.save({**state, "schema": 1, "epoch": 0}, ckpt)  # older and unfinished
    with pytest.raises(InputError, match="older codesign"):
        check_resumable(build_supernet(space), ckpt, cfg)
    assert torch.load(ckpt, weights_only=True)["schema"] == 1  # nothing overwritten

import numpy as np
import pytest
import torch

from codesign.spaces.base import get_space
from codesign.supernet import build_supernet
from codesign.supernet.train import TrainConfig, evaluate_subnet, finetune, train_supernet


@pytest.fixture(scope="module")
def space():
    return get_space("cnv", input_shape=(1, 16, 16), num_classes=4, s0_widths=(4, 8),
                     s1_widths=(8, 16), fc_widths=(16, 32))


def test_extracted_subnet_matches_supernet(space):
    torch.manual_seed(0)
    net = build_supernet(space)
    rng = np.random.default_rng(1)
    x = torch.rand(8, 1, 16, 16)
    net.activate(space.extreme(largest=True))
    net.recalibrate_bn(torch.rand(32, 1, 16, 16))  # make BN stats non-trivial
    for c in [space.extreme(largest=True), space.extreme(largest=False), space.sample(rng)]:
        net.activate(c).train()
        net(x)  # one training forward initialises the activation ranges (Brevitas stats)
        net.recalibrate_bn(torch.rand(32, 1, 16, 16))
        net.eval()
        with torch.no_grad():
            y_super = net(x)
            y_static = net.extract(c).eval()(x)
        assert torch.allclose(y_super, y_static, atol=1e-5), c


def test_bits_change_the_output(space):
    torch.manual_seed(0)
    net = build_supernet(space).eval()
    c = space.extreme(largest=True)
    x = torch.rand(4, 1, 16, 16)
    with torch.no_grad():
        hi = net.activate(c)(x)
        lo = net.activate(c.replace(**{"quant.conv0.w": 2, "quant.conv0.a": 2}))(x)
    assert not torch.allclose(hi, lo)


def test_training_learns_and_resumes(space, tmp_path):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (512,), generator=g)
    x = (torch.rand(512, 1, 16, 16, generator=g) * 60).to(torch.uint8)
    for i, c in enumerate(y):  # class = which quarter of rows is bright
        x[i, 0, 4 * int(c):4 * int(c) + 4, :] += 150
    net = build_supernet(space)
    cfg = TrainConfig(epochs=2, batch_size=64, lr=3e-3, seed=0)
    ckpt = tmp_path / "sn.pt"
    hist = train_supernet(net, x, y, cfg, torch.device("cpu"), checkpoint=ckpt, progress=False)
    assert len(hist) == 2 and ckpt.exists()
    acc = evaluate_subnet(net, space.extreme(largest=True), x[:128], x[:256], y[:256],
                          torch.device("cpu"))
    assert acc > 0.6
    # resume: a finished checkpoint means no more steps
    net2 = build_supernet(space)
    hist2 = train_supernet(net2, x, y, cfg, torch.device("cpu"), checkpoint=ckpt, progress=False)
    assert hist2 == hist
    model = net.extract(space.extreme(largest=False))
    ft = finetune(model, x, y, x[:256], y[:256], torch.device("cpu"), epochs=1, batch_size=64,
                  progress=False)
    assert ft["val_after"] >= 0 and ft["kept"] in ("before", "after") and ft["steps"] == 8

"""The GPU fast path (data resident on the device, bf16 autocast, channels-last): it trains and
the extracted subnet still equals the supernet's active path.  Skipped without CUDA (CI)."""
import numpy as np
import pytest
import torch

from codesign.spaces.base import get_space
from codesign.supernet import build_supernet
from codesign.supernet.train import TrainConfig, evaluate_subnet, train_supernet

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_fast_path_trains_and_extracts_on_the_gpu():
    space = get_space("cnv-l", input_shape=(3, 16, 16), num_classes=4,
                      stage_widths=((4, 8), (8, 16), (8, 16)), fc_widths=(16, 32))
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (512,), generator=g)
    x = (torch.rand(512, 3, 16, 16, generator=g) * 60).to(torch.uint8)
    for i, c in enumerate(y):
        x[i, :, 4 * int(c):4 * int(c) + 4, :] += 150
    cuda = torch.device("cuda")
    torch.manual_seed(0)
    net = build_supernet(space)
    hist = train_supernet(net, x, y, TrainConfig(epochs=3, batch_size=64), cuda, progress=False)
    assert all(np.isfinite(h["loss_largest"]) for h in hist)
    acc = evaluate_subnet(net, space.extreme(largest=True), x[:128], x, y, cuda)
    assert acc > 0.6
    c = space.sample(np.random.default_rng(0))
    net.activate(c).eval()
    xx = torch.rand(8, 3, 16, 16, device=cuda)
    with torch.no_grad():
        assert torch.allclose(net(xx), net.extract(c).eval()(xx), atol=1e-4)

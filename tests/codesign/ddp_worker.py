"""Train a tiny supernet for a few steps, alone or as one rank of a torchrun launch, and save its
state (used by test_distributed.py)."""
import sys

import torch

from codesign import distributed
from codesign.spaces.base import get_space
from codesign.supernet import build_supernet
from codesign.supernet.train import TrainConfig, train_supernet

if __name__ == "__main__":
    steps, out = int(sys.argv[1]), sys.argv[2]
    ctx = distributed.from_env()
    space = get_space("cnv", input_shape=(1, 16, 16), num_classes=4, s0_widths=(4, 8),
                      s1_widths=(8, 16), fc_widths=(16, 32))
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (64 * steps,), generator=g)
    x = (torch.rand(64 * steps, 1, 16, 16, generator=g) * 200).to(torch.uint8)
    torch.manual_seed(0)
    net = build_supernet(space)
    train_supernet(net, x, y, TrainConfig(epochs=1, batch_size=64, n_random=2),
                   torch.device("cpu"), progress=False, dist=ctx)
    if ctx is None or ctx.is_main:
        torch.save(net.state_dict(), out)

"""The CIFAR-scale space, 1-bit layers and switchable precision (issue 10, items 1 and 2)."""
import numpy as np
import pytest
import torch

from codesign.spaces.base import get_space
from codesign.supernet import build_supernet, list_supernets
from codesign.supernet.train import TrainConfig, init_activation_ranges, train_supernet
from hw_models.cost import FinnCostModel
from fpga.devices import get_device


def tiny_space():
    return get_space("cnv-l", input_shape=(3, 16, 16), num_classes=4,
                     stage_widths=((4, 8), (8, 16), (8, 16)), fc_widths=(16, 32))


def uniform(space, c, bits):
    return c.replace(**{s.name: (bits if bits in s.choices else min(s.choices))
                        for s in space.slots if s.name.startswith("quant.")})


def test_cnv_l_is_registered_with_its_supernet():
    space = get_space("cnv-l")
    assert "cnv-l" in list_supernets() and "cnv" in list_supernets()
    assert space.input.channels == 3 and space.input.height == 32
    big = space.describe(space.extreme(largest=True))
    assert [l.name for l in big.layers] == [
        "conv0", "conv1", "conv2", "pool0", "conv3", "conv4", "conv5", "pool1",
        "conv6", "conv7", "conv8", "pool2", "fc0", "fc1"]
    assert big.layer("conv2").out_channels == 64 and big.layer("conv8").out_channels == 256
    assert big.layer("fc0").out_channels == 512 and big.layer("fc0").in_channels == 256 * 16
    assert space.slot("quant.conv4.w").choices == (1, 2, 3, 4)
    assert space.slot("quant.conv4.a").choices == (1, 2, 3, 4)
    assert 8 in space.slot("quant.conv0.w").choices and 8 in space.slot("quant.fc1.w").choices
    assert 1 not in space.slot("quant.fc1.w").choices  # no BN after the last layer
    assert space.nonlinearity_groups()[7] and min(space.nonlinearity_groups()) == 4


def test_cnv_l_seeds_start_with_bnn_pynq_cnv():
    space = get_space("cnv-l")
    w1a1, w2a2 = space.seeds()[:2]
    spec = space.describe(w1a1)
    convs = [l for l in spec.compute_layers if l.op == "conv"]
    assert [l.out_channels for l in convs] == [64, 64, 128, 128, 256, 256]
    assert {l.weight_bits for l in convs} == {1} and spec.layer("fc1").weight_bits == 2
    assert {l.act_bits for l in spec.compute_layers if l.act_bits} == {1}
    assert {l.act_bits for l in space.describe(w2a2).compute_layers if l.act_bits} == {2}


def test_one_bit_designs_are_priced_as_bipolar():
    space = get_space("cnv-l")
    model = FinnCostModel(get_device("pynq-z1"))
    one = model.estimate(space.describe(space.seeds()[0]))
    two = model.estimate(space.describe(space.seeds()[1]))
    assert not one.unsupported and one.totals["lut"] < two.totals["lut"]


@pytest.mark.parametrize("bits", [1, 2, 3, 4, "mixed"])
def test_extracted_subnet_equals_the_active_path_at_every_bit_width(bits):
    space = tiny_space()
    torch.manual_seed(0)
    net = build_supernet(space)
    rng = np.random.default_rng(3)
    x = torch.rand(8, 3, 16, 16)
    init_activation_ranges(net, torch.rand(16, 3, 16, 16))
    for _ in range(3):
        c = space.sample(rng)
        if bits != "mixed":
            c = uniform(space, c, bits)
        net.activate(c).train()
        net(x)
        net.recalibrate_bn(torch.rand(32, 3, 16, 16))
        net.eval()
        with torch.no_grad():
            y_super = net(x)
            y_static = net.extract(c).eval()(x)
        assert torch.isfinite(y_super).all()
        assert torch.allclose(y_super, y_static, atol=1e-5), c


def test_one_bit_weights_are_binary_not_nan():
    space = tiny_space()
    net = build_supernet(space)
    c = uniform(space, space.extreme(largest=True), 1)
    model = net.extract(c)
    w = model.blocks["conv1"].conv.quant_weight().value
    assert torch.isfinite(w).all() and set(w.unique().tolist()) == {-0.1, 0.1} or \
        torch.allclose(w.abs(), torch.full_like(w, 0.1))
    # bipolar activations: the output of a 1-bit layer is +-1
    model.eval()
    acts = []
    model.blocks["conv1"].act.register_forward_hook(lambda m, i, o: acts.append(o.value))
    model(torch.rand(2, 3, 16, 16))
    assert set(acts[0].unique().tolist()) <= {-1.0, 1.0}


def test_narrower_widths_inherit_the_widest_range():
    space = tiny_space()
    torch.manual_seed(0)
    net = build_supernet(space)
    layer = net.blocks["conv1"]
    from codesign.supernet.elastic import _range_scaler
    top, low = _range_scaler(layer.acts["4"]), _range_scaler(layer.acts["2"])
    top.collect_stats_steps = low.collect_stats_steps = 2
    big = space.extreme(largest=True)
    net.train()
    x = torch.rand(8, 3, 16, 16)
    for _ in range(3):  # the widest width finishes collecting (counter 2 -> init)
        net.activate(big)(x)
    net.inherit_ranges()
    assert top.counter > top.collect_stats_steps
    assert low.counter == low.collect_stats_steps + 1
    assert torch.equal(low.value, top.value)
    # a width with a range of its own keeps it
    with torch.no_grad():
        low.value.mul_(0.5)
    net.inherit_ranges()
    assert torch.allclose(low.value, top.value * 0.5)


def test_cnv_l_supernet_trains_with_one_bit_layers():
    space = tiny_space()
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (256,), generator=g)
    x = (torch.rand(256, 3, 16, 16, generator=g) * 60).to(torch.uint8)
    for i, c in enumerate(y):
        x[i, :, 4 * int(c):4 * int(c) + 4, :] += 150
    torch.manual_seed(0)
    net = build_supernet(space)
    hist = train_supernet(net, x, y, TrainConfig(epochs=2, batch_size=64), torch.device("cpu"),
                          progress=False)
    assert all(np.isfinite(h["loss_largest"]) for h in hist)
    assert hist[-1]["loss_largest"] < hist[0]["loss_largest"]


@pytest.mark.parametrize("name", ["cnv", "cnv-l"])
def test_every_registered_space_has_a_supernet_whose_subnets_extract_exactly(name):
    from codesign.spaces.base import list_spaces

    assert name in list_spaces()
    space = get_space(name)
    torch.manual_seed(0)
    net = build_supernet(space)
    inp = space.input
    x = torch.rand(2, inp.channels, inp.height, inp.width)
    init_activation_ranges(net, torch.rand(4, inp.channels, inp.height, inp.width))
    for c in (space.sample(np.random.default_rng(5)), space.extreme(largest=False)):
        net.activate(c).eval()
        with torch.no_grad():
            assert torch.allclose(net(x), net.extract(c).eval()(x), atol=1e-5)

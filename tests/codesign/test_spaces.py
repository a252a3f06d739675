import numpy as np
import pytest

from codesign.spaces.base import Candidate, get_space, list_spaces
from fpga.errors import InputError
from fpga.folding import divisors


@pytest.mark.parametrize("name", list_spaces())
def test_space_conformance(name):
    """Every registered space: samples validate, describe gives legal folding, keys are stable."""
    space = get_space(name)
    rng = np.random.default_rng(0)
    for _ in range(50):
        c = space.sample(rng)
        space.validate(c)
        spec = space.describe(c)
        assert spec.compute_layers
        for layer in spec.compute_layers:
            assert layer.mh % layer.pe == 0 and layer.mw % layer.simd == 0
            if layer.op == "conv":
                assert layer.in_channels % layer.simd == 0
        assert Candidate(dict(c)).key == c.key
    for largest in (True, False):
        space.validate(space.extreme(largest))


def test_cnv_depth_and_names():
    space = get_space("cnv", input_shape=(3, 32, 32), num_classes=10)
    c = space.extreme(largest=False)
    names = [layer.name for layer in space.describe(c).layers]
    assert names == ["conv0", "pool0", "conv2", "pool1", "fc0", "fc1"]
    big = space.describe(space.extreme(largest=True))
    assert [layer.name for layer in big.layers] == ["conv0", "conv1", "pool0", "conv2", "conv3",
                                                    "pool1", "fc0", "fc1"]
    assert big.layer("fc0").in_channels == 64 * 8 * 8
    assert big.layer("fc1").act_bits is None


def test_describe_legalizes_folding_to_largest_divisor():
    space = get_space("cnv", s0_widths=(24,), s1_widths=(48,))
    c = space.extreme(largest=False).replace(**{"fold.conv0.pe": 16, "fold.conv2.simd": 32})
    spec = space.describe(c)
    assert spec.layer("conv0").pe == 12  # largest divisor of 24 not above 16
    assert spec.layer("conv2").simd == 24 and 24 in divisors(24)


def test_validate_names_the_slot():
    space = get_space("cnv")
    c = space.extreme(largest=False)
    with pytest.raises(InputError) as e:
        space.validate(c.replace(**{"quant.conv2.w": 7}))
    assert e.value.field == "quant.conv2.w"
    with pytest.raises(InputError):
        get_space("nope")


@pytest.mark.parametrize("name", list_spaces())
def test_seeds_are_valid_candidates(name):
    space = get_space(name)
    for c in space.seeds():
        space.validate(c)
        space.describe(c)


def test_cnv_seeds_are_uniform_4_bit():
    space = get_space("cnv")
    seeds = space.seeds()
    assert len(seeds) == 6
    for c in seeds:
        assert {v for k, v in c.items() if k.startswith("quant.")} == {4}


@pytest.mark.parametrize("name", list_spaces())
def test_balanced_samples_are_valid(name):
    space = get_space(name)
    for c in space.balanced_samples(np.random.default_rng(0)):
        space.validate(c)


def test_cnv_balanced_samples_cover_every_nonlinearity_group():
    space = get_space("cnv")
    assert space.nonlinearity_groups() == {3: [(1, 1)], 4: [(1, 2), (2, 1)], 5: [(2, 2)]}
    rng = np.random.default_rng(0)
    for _ in range(20):
        depths = [c["arch.s0.depth"] + c["arch.s1.depth"] + 1 for c in space.balanced_samples(rng)]
        assert depths == [3, 4, 5]

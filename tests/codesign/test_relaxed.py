"""The differentiable strategies' parts: straight-through Gumbel sampling, gates that pass the
loss's gradient to the logits without changing the forward, MGDA's min-norm weights, and both
strategies proposing distinct, valid candidates that respect the budget hinge."""
import numpy as np
import pytest
import torch

from codesign.request import SearchRequest
from codesign.search.evaluator import Evaluator
from codesign.search.pricing import Pricer
from codesign.search.strategies import SearchContext, get_strategy
from codesign.search.strategies.mgda import min_norm_weights
from codesign.search.strategies.relaxed import (ArchParams, HardwareCost, forward_loss, gates,
                                                layer_slots)
from codesign.spaces.base import get_space
from codesign.supernet import build_supernet


def test_min_norm_weights_known_cases():
    # opposite gradients: the zero vector is in the hull, halfway
    assert min_norm_weights(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx([0.5, 0.5])
    # one gradient a multiple of the other: all weight on the shorter one
    assert min_norm_weights(np.array([[1.0, 0.0], [2.0, 0.0]])) == pytest.approx([1.0, 0.0])
    # three orthonormal gradients: equal weights; the Frank-Wolfe path (k > 2)
    g = min_norm_weights(np.eye(3))
    assert g == pytest.approx([1 / 3] * 3, abs=1e-3)
    # the weights are a point of the simplex whose combination is no longer than any gradient
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = rng.normal(size=(3, 5))
        w = min_norm_weights(m)
        assert w.min() >= 0 and w.sum() == pytest.approx(1.0)
        assert np.linalg.norm(w @ m) <= np.linalg.norm(m, axis=1).min() + 1e-9


def test_gated_forward_equals_the_subnet_and_reaches_every_shaping_logit():
    space = get_space("cnv")
    torch.manual_seed(0)
    sn = build_supernet(space).train()
    alpha = ArchParams(space)
    gen = torch.Generator().manual_seed(0)
    c, st, _ = alpha.sample(1.0, gen)
    c = space.repair(c)
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    sn.eval()
    with torch.no_grad():
        plain = sn.activate(c)(x)
    loss = forward_loss(sn, c, gates(layer_slots(space, "t"), st), x, y)
    with torch.no_grad():
        sn.set_gates(gates(layer_slots(space, "t"), st))
        gated = sn(x)
        sn.set_gates(None)
    assert torch.allclose(plain, gated, atol=1e-5)  # the gates are 1 in value
    loss.backward()
    names = [s.name for s in alpha.slots]
    grads = {n: a.grad for n, a in zip(names, alpha.logits)}
    active = set(space.active_layers(c))
    shaping = {s for layer, slots in layer_slots(space, "t").items() if layer in active
               for s in slots}
    for n in shaping:
        assert grads[n] is not None and float(grads[n].abs().sum()) > 0, n
    for n in names:
        if n.startswith("fold."):  # folding does not shape the network: no accuracy gradient
            assert grads[n] is None or float(grads[n].abs().sum()) == 0


def _context(tmp_path, strategy, **req):
    space = get_space("cnv")
    request = SearchRequest(dataset="mnist", device="pynq-z1", out=str(tmp_path / "r"),
                            max_lut=6000, min_fps=5000, strategy=strategy, seed=0,
                            arch_steps=10, **req)
    torch.manual_seed(0)
    sn = build_supernet(space)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(64, 1, 28, 28, generator=gen) * 255).to(torch.uint8)
    y = torch.randint(0, 10, (64,), generator=gen)
    ev = Evaluator(Pricer(space, request), scorer=None)
    return SearchContext(request, space, sn, torch.device("cpu"), x, y, ev), ev


@pytest.mark.parametrize("strategy", ["differentiable", "mgda"])
def test_proposals_are_distinct_valid_and_pulled_inside_the_budget(tmp_path, strategy):
    ctx, ev = _context(tmp_path, strategy)
    before = {k: v.detach().clone() for k, v in ctx.supernet.state_dict().items()}
    props = get_strategy(strategy).propose(ctx, 12)
    assert 1 <= len(props) <= 12 and len({c.key for c in props}) == len(props)
    for c in props:
        ctx.space.validate(c)
    # the strategy trains a copy: the supernet that scores the study is untouched
    after = ctx.supernet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # the REINFORCE hinge pulls the proposals inside the LUT budget more often than chance
    rng = np.random.default_rng(0)
    hw = HardwareCost(ev)
    rand = [ev.price(ctx.space.sample(rng)).feasible for _ in range(60)]
    ours = [ev.price(c).feasible for c in props]
    assert np.mean(ours) >= np.mean(rand)
    assert all(np.isfinite(hw(c)) for c in props)


def test_mgda_uses_a_robustness_gradient_when_the_request_measures_it(tmp_path):
    from codesign.search.robust import Attack

    ctx, _ = _context(tmp_path, "mgda", objective="robust_accuracy")
    ctx = SearchContext(**{**ctx.__dict__, "attack": Attack("fgsm", 8 / 255)})
    s = get_strategy("mgda")
    s.propose(ctx, 4)
    assert all(len(g) == 3 for g in s.gammas_)  # accuracy, robustness, hardware
    assert all(sum(g) == pytest.approx(1.0, abs=1e-3) for g in s.gammas_)


def test_a_fixed_seed_gives_the_same_proposals(tmp_path):
    ctx, _ = _context(tmp_path, "mgda")
    first = get_strategy("mgda").propose(ctx, 4)
    ctx2, _ = _context(tmp_path, "mgda")
    assert get_strategy("mgda").propose(ctx2, 4) == first


def test_draw_is_the_sample_without_the_relaxation():
    space = get_space("cnv")
    alpha = ArchParams(space)
    with torch.no_grad():
        for a in alpha.logits:
            a.normal_()
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for _ in range(50):
        assert alpha.sample(0.3, g1)[0] == alpha.draw(g2)

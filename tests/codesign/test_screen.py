"""Batch screening of the first generation (issue #3 item 5: the batch pricer in the search)."""
from __future__ import annotations

import numpy as np

from codesign.search.screen import price_pool, screened_candidates
from codesign.spaces.base import get_space
from hw_models.cost import FinnCostModel


def test_pool_prices_equal_scalar_model():
    space = get_space("cnv", input_shape=(1, 28, 28), num_classes=10)
    model = FinnCostModel("pynq-z1")
    rng = np.random.default_rng(3)
    cands = [space.repair(space.sample(rng)) for _ in range(40)]
    cost = price_pool(space, model, cands)
    for i, c in enumerate(cands):
        rep = model.estimate(space.describe(c))
        assert (cost["lut"][i], cost["bram18"][i], cost["fps"][i]) == (rep.lut, rep.bram18,
                                                                        rep.fps)


def test_screened_candidates_meet_budgets_and_spread():
    space = get_space("cnv", input_shape=(1, 28, 28), num_classes=10)
    model = FinnCostModel("pynq-z1")
    budgets = {"lut": 30000, "bram18": 280, "dsp": None, "fps": 10000}
    seeds = space.seeds()
    picked, info = screened_candidates(space, model, budgets, 8, np.random.default_rng(0),
                                       pool=1500, exclude={c.key for c in seeds})
    assert info["picked"] == len(picked) == 8 and info["feasible"] >= 8
    luts = []
    for c in picked:
        rep = model.estimate(space.describe(c))
        assert rep.lut <= 30000 and rep.bram18 <= 280 and rep.fps >= 10000
        luts.append(rep.lut)
        assert c.key not in {s.key for s in seeds}
    assert luts == sorted(luts) and luts[-1] - luts[0] > 5000  # spread over the LUT range
    none, info = screened_candidates(space, model, {"lut": 10}, 4, np.random.default_rng(0),
                                     pool=200)
    assert none == [] and info["feasible"] == 0

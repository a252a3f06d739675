"""Block RAM over the device: weights spill to LUTRAM, and a design that still does not fit is
reported as such (issue 11, item 3)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from hw_models.batch_pricing import BatchPricer
from hw_models.cost import FinnCostModel
from hw_models.memory import spill_weights
from hw_models.network import NetworkSpec

REPO = Path(__file__).resolve().parents[2]


def _cnv(w: int, a: int) -> NetworkSpec:
    sys.path.insert(0, str(REPO / "bench"))
    import finn_parity

    return NetworkSpec.from_dict(finn_parity._cnv("cnv", w, a))


def test_spill_moves_cheapest_lut_per_bram_first_until_it_fits():
    # demand 100 over a capacity of 60: in order of LUT/RAMB18 the 5-RAMB18 memory (1), the
    # 20 (5) and the 30 (10) move, freeing 55 of the 40 needed; the 5-RAMB18 one then fits the
    # slack of 15 and moves back. The 50-RAMB18 one at 100 LUT/RAMB18 never moves.
    sp = spill_weights([100, 50], 60, [[30, 20, 50, 5], [30, 20, 50, 5]],
                       [[300, 100, 5000, 5], [300, 100, 5000, 5]])
    assert sp.moved[0].tolist() == [True, True, False, False]
    assert sp.bram18.tolist() == [50, 0] and sp.lut.tolist() == [400, 0]
    assert not sp.moved[1].any()  # already fits: nothing moves
    # one big memory must go: the small ones moved before it come back
    sp = spill_weights([848], 278, [[2, 800, 46]], [[64, 200_000, 3_000]])
    assert sp.moved[0].tolist() == [False, True, False]


def test_model_spills_and_reports_what_moved():
    spec = _cnv(4, 4)
    model = FinnCostModel("pynq-z1")
    rep = model.estimate(spec)
    assert rep.bram18_demand > 280 >= rep.bram18
    plain = FinnCostModel("pynq-z1", beyond_finn=False).estimate(spec)
    assert rep.spilled and rep.lut == plain.lut + sum(x["lut"] for x in rep.spilled)
    assert rep.bram18 == plain.bram18 - sum(x["bram18"] for x in rep.spilled)
    d = rep.to_dict()
    assert d["memory"]["bram18_demand"] == rep.bram18_demand
    assert {x["layer"] for x in d["memory"]["spilled_to_lutram"]} <= {l.name for l in spec.layers}
    # FINN's own estimate has no spill: its RAMB18 exceed the device, and it says so
    view = FinnCostModel.finn_view("pynq-z1").estimate(spec)
    assert view.bram18 == view.bram18_demand > 280 and not view.spilled
    assert view.fits_device is False and "bram18" in view.over_capacity


def test_design_beyond_the_device_is_not_reported_as_fitting():
    spec = _cnv(4, 4)
    rep = FinnCostModel("pynq-z1").estimate(spec)
    assert rep.fits_device is False and rep.over_capacity == ["lut"]
    big = FinnCostModel("zcu104").estimate(_cnv(1, 1))
    assert big.fits_device is True and big.over_capacity == [] and not big.spilled


def test_batch_pricer_spills_like_the_scalar_model():
    model = FinnCostModel("pynq-z1")
    spec = _cnv(2, 2)
    pricer = BatchPricer(model, spec)
    cand = pricer.random_candidates(np.random.default_rng(11), 200, bits=(1, 2, 4, 8))
    out = pricer.price(**cand, per_layer=True)
    assert (out["bram18_demand"] > 280).any() and (out["bram18"] <= 280).any()
    for i in range(0, 200, 7):
        rep = model.estimate(pricer.spec_of(*(cand[k][i] for k in
                                              ("weight_bits", "act_bits", "pe", "simd"))))
        assert (int(out["lut"][i]), int(out["bram18"][i])) == (rep.lut, rep.bram18)
        assert int(out["bram18_demand"][i]) == rep.bram18_demand
        assert bool(out["fits_device"][i]) == rep.fits_device
        assert [int(v) for v in out["layer_lut"][i]] == [l.lut for l in rep.layers]


def test_estimate_cli_says_it_does_not_fit_and_exits_1(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(_cnv(4, 4).to_dict()))
    r = subprocess.run([sys.executable, "-m", "codesign", "estimate", str(path), "--device",
                        "pynq-z1"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 1, r.stderr
    assert "DOES NOT FIT pynq-z1: LUT" in r.stdout and "spill to LUTRAM" in r.stdout
    r = subprocess.run([sys.executable, "-m", "codesign", "estimate", str(path), "--device",
                        "pynq-z1", "--json"], capture_output=True, text=True, cwd=REPO)
    d = json.loads(r.stdout)
    assert r.returncode == 1 and d["fits_device"] is False and d["over_capacity"] == ["lut"]


def test_shell_per_board_is_reported_and_counted_in_the_fit():
    spec = _cnv(1, 1)
    z7 = FinnCostModel("pynq-z1").estimate(spec)
    assert 6400 <= z7.shell["lut"] <= 6500 and z7.shell["backing"].startswith("measured")
    assert z7.totals_with_shell["lut"] == z7.lut + z7.shell["lut"]
    mp = FinnCostModel("ultra96").estimate(spec)
    assert "not measured" in mp.shell["backing"]
    assert FinnCostModel("u250").estimate(spec).shell is None  # no FINN zynq shell there
    assert FinnCostModel.finn_view("pynq-z1").estimate(spec).shell is None  # FINN's view
    # a design that fits alone but not with its shell is reported as not fitting
    tight = spec.with_folding({l.name: (l.mh, max(d for d in range(1, l.mw + 1)
                                                  if l.mw % d == 0 and (l.op != "conv" or
                                                                        l.in_channels % d == 0)))
                               for l in spec.compute_layers})
    rep = FinnCostModel("pynq-z1").estimate(tight)
    if rep.lut <= 53_200 < rep.lut + rep.shell["lut"]:
        assert rep.fits_device is False
    assert rep.fits_device == (rep.totals_with_shell["lut"] <= 53_200
                               and rep.totals_with_shell["bram18"] <= 280)

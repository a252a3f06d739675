"""Budgets as a typed constraint list built once from the request (issue 12, item 1 seam)."""
from __future__ import annotations

import pytest

from codesign.request import SearchRequest
from codesign.search.constraints import (Constraint, as_budgets, constraints_from,
                                         violations)
from fpga.errors import InputError
from hw_models.cost import FinnCostModel
from hw_models.network import NetworkSpec


def _req(tmp_path, **kw) -> SearchRequest:
    return SearchRequest(**{"dataset": "fashion-mnist", "device": "pynq-z1",
                            "out": str(tmp_path / "r"), **kw})


def test_built_from_the_request_with_device_defaults(tmp_path):
    cs = constraints_from(_req(tmp_path, max_lut=30_000, min_fps=10_000))
    assert [(c.metric, c.sense, c.limit) for c in cs] == [
        ("lut", "max", 30_000.0), ("bram18", "max", 280.0), ("dsp", "max", 220.0),
        ("fps", "min", 10_000.0)]
    assert [c.flag for c in cs] == ["max-lut", "max-bram18", "max-dsp", "min-fps"]
    assert as_budgets(cs) == _req(tmp_path, max_lut=30_000, min_fps=10_000).budgets()


def test_signs_match_the_cost_report(tmp_path):
    spec = NetworkSpec.load("examples/cnv_w1a1.json")
    rep = FinnCostModel("pynq-z1").estimate(spec)
    cs = constraints_from(_req(tmp_path, max_lut=10_000, max_bram18=200, min_fps=1_000))
    got = violations(cs, {"lut": rep.lut, "bram18": rep.bram18, "dsp": rep.dsp,
                          "fps": rep.fps})
    want = rep.violations(max_lut=10_000, max_bram18=200, max_dsp=220, min_fps=1_000)
    assert got == pytest.approx(want)
    assert got["lut"] > 0 and got["bram18"] <= 0 and got["fps"] <= 0


@pytest.mark.parametrize("kw,field", [({"metric": "watts"}, "constraint.metric"),
                                      ({"sense": "eq"}, "constraint.sense"),
                                      ({"limit": 0.0}, "max-lut"),
                                      ({"limit": float("nan")}, "max-lut")])
def test_bad_constraint_names_the_field(kw, field):
    with pytest.raises(InputError) as exc:
        Constraint(**{"metric": "lut", "sense": "max", "limit": 1.0, **kw})
    assert exc.value.field == field


def test_strategy_validation_reads_the_registry(tmp_path):
    from codesign.search.strategies import list_strategies

    with pytest.raises(InputError) as exc:
        _req(tmp_path, strategy="bogus")
    assert list(exc.value.accepted) == list_strategies()

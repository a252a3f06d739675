"""Folding legality and the folding searches of hw_models/folding.py (torch-free)."""
from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from fpga.errors import InputError
from hw_models.cost import FinnCostModel
from hw_models.folding import (check_folding, cycle_budget, fastest_folding, fold_for_fps,
                               legal_pe, legal_simd)
from hw_models.network import NetworkSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL = FinnCostModel.finn_view("pynq-z1", clock_mhz=100)


def small_net(**fold: tuple[int | None, int | None]) -> NetworkSpec:
    """conv(4->8, pad 1) - pool - conv(8->8) - fc(32->10); 2-bit weights and activations."""
    def f(name: str) -> dict:
        pe, simd = fold.get(name, (None, None))
        return {"pe": pe, "simd": simd}
    return NetworkSpec.from_dict({
        "name": "small", "input": {"channels": 4, "height": 8, "width": 8, "bits": 2},
        "layers": [
            {"name": "conv0", "op": "conv", "out_channels": 8, "kernel": 3, "padding": 1,
             "weight_bits": 2, "act_bits": 2, **f("conv0")},
            {"name": "pool0", "op": "maxpool", "kernel": 2},
            {"name": "conv1", "op": "conv", "out_channels": 8, "kernel": 3, "weight_bits": 2,
             "act_bits": 2, **f("conv1")},
            {"name": "fc0", "op": "fc", "out_features": 10, "weight_bits": 2, "act_bits": None,
             **f("fc0")}]})


# ------------------------------------------------------------------ legality
def test_legal_values() -> None:
    spec = small_net()
    conv0, conv1, fc0 = spec.compute_layers
    assert legal_simd(conv0, parallel_window=False) == (1, 2, 4)  # divides C_in = 4
    # the parallel-window generator adds the multiples of C_in that divide MW = 36
    assert legal_simd(conv0) == (1, 2, 4, 12, 36)
    assert legal_pe(conv0) == (1, 2, 4, 8)
    assert legal_simd(conv1, parallel_window=False) == (1, 2, 4, 8)
    assert fc0.mw == 32 and legal_simd(fc0) == (1, 2, 4, 8, 16, 32)
    assert legal_pe(fc0) == (1, 2, 5, 10)


def test_conv_simd_must_divide_input_channels() -> None:
    # SIMD 3 divides MW = 36 but neither divides C_in = 4 nor is a multiple of it: illegal
    with pytest.raises(InputError) as exc:
        check_folding(small_net(conv0=(1, 3)))
    assert exc.value.field == "layers[0].simd"
    assert "conv0" in str(exc.value) and "input channels" in str(exc.value)
    assert tuple(exc.value.accepted) == (1, 2, 4, 12, 36)


def test_illegal_pe_names_layer_and_lists_values() -> None:
    with pytest.raises(InputError) as exc:
        check_folding(small_net(fc0=(4, 8)))
    assert exc.value.field == "layers[3].pe"
    assert "fc0" in str(exc.value) and "1, 2, 5, 10" in str(exc.value)


def test_fc_simd_must_divide_mw() -> None:
    with pytest.raises(InputError) as exc:
        MODEL.estimate(small_net(fc0=(1, 3)))
    assert exc.value.field == "layers[3].simd" and "MW = 32" in str(exc.value)


# ------------------------------------------------------------------ fold_for_fps
def _brute_force_min_lut(spec: NetworkSpec, target_fps: float) -> int:
    names = [l.name for l in spec.compute_layers]
    options = [[(pe, s) for pe in legal_pe(l) for s in legal_simd(l)] for l in spec.compute_layers]
    best = None
    for combo in itertools.product(*options):
        report = MODEL.estimate(spec.with_folding(dict(zip(names, combo))))
        if report.fps >= target_fps and (best is None or report.lut < best):
            best = report.lut
    assert best is not None
    return best


@pytest.mark.parametrize("target_fps", [5e3, 2e4, 1e5])
def test_fold_for_fps_meets_target_and_is_lut_minimal(target_fps: float) -> None:
    spec = small_net()
    folded = fold_for_fps(spec, MODEL, target_fps)
    report = MODEL.estimate(folded)
    assert report.fps >= target_fps
    assert all(l.pe is not None and l.simd is not None for l in folded.compute_layers)
    assert report.lut == _brute_force_min_lut(spec, target_fps)


def test_fold_for_fps_budget_is_floor_of_clock_over_fps() -> None:
    assert cycle_budget(100, 1e6) == 100
    assert cycle_budget(100, 3e6) == 33
    with pytest.raises(InputError, match="target_fps"):
        fold_for_fps(small_net(), MODEL, 0)
    with pytest.raises(InputError, match="target_fps"):
        fold_for_fps(small_net(), MODEL, -1.0)


def test_unreachable_target_gets_fastest_folding() -> None:
    spec = small_net()
    folded = fold_for_fps(spec, MODEL, 1e9)
    fastest = MODEL.estimate(fastest_folding(spec))
    report = MODEL.estimate(folded)
    assert report.fps < 1e9
    for a, b in zip(report.layers, fastest.layers):
        assert a.cycles == b.cycles


def test_keep_existing_is_a_repair() -> None:
    # budget at 2e4 fps: 5000 cycles. conv0 at (1, 1) = 64*36*8 = 18432 cycles is too slow;
    # conv1 at (8, 8) (36 cycles) is over-provisioned; fc0 at (1, 1) = 320 cycles is fine
    spec = small_net(conv0=(1, 1), conv1=(8, 8), fc0=(1, 1))
    repaired = fold_for_fps(spec, MODEL, 2e4, keep_existing=True)
    assert (repaired.layer("conv1").pe, repaired.layer("conv1").simd) == (8, 8)
    assert (repaired.layer("fc0").pe, repaired.layer("fc0").simd) == (1, 1)
    assert (repaired.layer("conv0").pe, repaired.layer("conv0").simd) != (1, 1)
    assert MODEL.estimate(repaired).fps >= 2e4
    # without keep_existing the over-provisioned conv1 is made cheaper
    fresh = fold_for_fps(spec, MODEL, 2e4)
    assert (fresh.layer("conv1").pe, fresh.layer("conv1").simd) != (8, 8)
    assert MODEL.estimate(fresh).lut < MODEL.estimate(repaired).lut
    assert fresh.layer("conv0") == repaired.layer("conv0")


def test_missing_only_keeps_given_factors() -> None:
    spec = small_net(conv0=(1, 1), conv1=(2, None))
    folded = fold_for_fps(spec, MODEL, 1e4, missing_only=True)
    assert (folded.layer("conv0").pe, folded.layer("conv0").simd) == (1, 1)
    assert folded.layer("conv1").pe == 2 and folded.layer("conv1").simd is not None
    assert folded.layer("fc0").pe is not None


def test_fold_rejects_illegal_existing_folding() -> None:
    with pytest.raises(InputError, match=r"layers\[2\]\.simd"):
        fold_for_fps(small_net(conv1=(1, 3)), MODEL, 1e4, keep_existing=True)


def test_fastest_folding() -> None:
    spec = fastest_folding(NetworkSpec.load(EXAMPLES / "cnv_w1a1.json"))
    conv0 = spec.layer("conv0")
    assert (conv0.pe, conv0.simd) == (64, 27)  # a whole 3x3x3 window: parallel window
    fc2 = spec.layer("fc2")
    assert (fc2.pe, fc2.simd) == (10, 512)


def test_fold_for_fps_is_fast_enough_for_a_search() -> None:
    spec = NetworkSpec.load(EXAMPLES / "cnv_w1a1.json")
    t0 = time.perf_counter()
    for target in (500, 1000, 2000, 3000, 5000, 10000) * 5:
        fold_for_fps(spec, MODEL, target)
    assert time.perf_counter() - t0 < 10.0   # cached per (layer, budget): well below this


def test_fold_for_fps_on_cnv_beats_published_folding_at_same_rate() -> None:
    """At the published design's own frame rate, the LUT-optimal folding costs no more LUTs."""
    published = NetworkSpec.load(EXAMPLES / "cnv_w1a1.json")
    rate = MODEL.estimate(published).fps
    ours = MODEL.estimate(fold_for_fps(published, MODEL, rate))
    assert ours.fps >= rate
    assert ours.lut <= MODEL.estimate(published).lut


def test_fold_for_fps_prices_the_pool_a_conv_feeds() -> None:
    """A max-pool runs at the PE of the conv that feeds it (fpga.export's pool_parallelism), so
    the conv's folding must also make its pool meet the budget."""
    spec = NetworkSpec.from_dict({
        "name": "p", "input": {"channels": 1, "height": 32, "width": 32, "bits": 2},
        "layers": [{"name": "c", "op": "conv", "out_channels": 16, "kernel": 1, "weight_bits": 2,
                    "act_bits": 2},
                   {"name": "pool", "op": "maxpool", "kernel": 2}]})
    # conv alone at PE 1: 16 * 1 * 1024 = 16384 cycles; its pool at PE 1: SWG ~20k cycles
    budget_fps = 100e6 / 16384
    folded = fold_for_fps(spec, MODEL, budget_fps)
    report = MODEL.estimate(folded)
    assert report.cycles_per_frame <= 16384
    assert folded.layer("c").pe > 1

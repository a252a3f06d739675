"""optimal_folding is exactly optimal: brute force over every legal folding of small networks
(the product of the layers' legal (pe, simd) pairs, each priced by FinnCostModel.estimate)."""
from __future__ import annotations

import itertools

import pytest

from fpga.errors import InputError
from hw_models.cost import FinnCostModel
from hw_models.folding import (check_weights, fold_for_fps, legal_pe, legal_simd, min_cycles,
                               optimal_folding, optimal_folding_for_budget, pareto_foldings)
from hw_models.network import NetworkSpec

MODEL = FinnCostModel.finn_view("pynq-z1", clock_mhz=100)


def conv_net() -> NetworkSpec:
    """conv(2->4, pad 1) - pool - conv(4->4) - fc(->6): 6 * 9 * 12 = 648 foldings."""
    return NetworkSpec.from_dict({
        "name": "tiny_cnv", "input": {"channels": 2, "height": 6, "width": 6, "bits": 2},
        "layers": [
            {"name": "conv0", "op": "conv", "out_channels": 4, "kernel": 3, "padding": 1,
             "weight_bits": 2, "act_bits": 2},
            {"name": "pool0", "op": "maxpool", "kernel": 2},
            {"name": "conv1", "op": "conv", "out_channels": 4, "kernel": 3, "weight_bits": 4,
             "act_bits": 2},
            {"name": "fc0", "op": "fc", "out_features": 6, "weight_bits": 8, "act_bits": None}]})


def mlp() -> NetworkSpec:
    """fc(12->6) - fc(6->4), 8-bit (DSP-eligible) then 1-bit: 24 * 12 = 288 foldings."""
    return NetworkSpec.from_dict({
        "name": "tiny_mlp", "input": {"channels": 12, "height": 1, "width": 1, "bits": 8},
        "layers": [
            {"name": "fc0", "op": "fc", "out_features": 6, "weight_bits": 8, "act_bits": 2},
            {"name": "fc1", "op": "fc", "out_features": 4, "weight_bits": 1, "act_bits": None}]})


def brute(spec: NetworkSpec) -> list[tuple[int, int, int, int]]:
    """(cycles, lut, bram18, dsp) of every legal folding, priced as a whole network."""
    layers = spec.compute_layers
    out = []
    for combo in itertools.product(*[[(p, s) for p in legal_pe(l) for s in legal_simd(l)]
                                     for l in layers]):
        r = MODEL.estimate(spec.with_folding(dict(zip((l.name for l in layers), combo))))
        out.append((r.cycles_per_frame, r.lut, r.bram18, r.dsp))
    return out


def cost(w: tuple[float, float, float], lut: int, bram: int, dsp: int) -> float:
    return w[0] * lut + w[1] * bram + w[2] * dsp


WEIGHTS = [(1, 0, 0), (1, 100, 0), (1, 0, 50), (0, 1, 0), (0.5, 30, 200)]


@pytest.mark.parametrize("make", [conv_net, mlp])
def test_optimum_equals_brute_force(make) -> None:
    spec = make()
    every = brute(spec)
    fastest = min(c for c, *_ in every)
    assert fastest == min_cycles(spec, MODEL)
    slowest = max(c for c, *_ in every)
    budgets = sorted({fastest, slowest, (fastest + slowest) // 2, fastest * 2, fastest * 3 + 1,
                      int(fastest * 1.5)})
    for t in budgets:
        for w in WEIGHTS:
            best = min(cost(w, *x[1:]) for x in every if x[0] <= t)
            r = MODEL.estimate(optimal_folding_for_budget(spec, MODEL, t, w))
            assert r.cycles_per_frame <= t
            assert cost(w, r.lut, r.bram18, r.dsp) == pytest.approx(best), (t, w)


def test_target_fps_and_default_equals_fold_for_fps() -> None:
    spec = conv_net()
    for fps in (3e4, 1e5, 2.5e5):
        ours = optimal_folding(spec, MODEL, fps)
        assert MODEL.estimate(ours).fps >= fps
        assert ours == fold_for_fps(spec, MODEL, fps)


def test_unreachable_target_and_bad_weights() -> None:
    spec = mlp()
    with pytest.raises(InputError) as exc:
        optimal_folding(spec, MODEL, 1e12)
    assert exc.value.field == "target_fps"
    for bad in ((1, 0), (-1, 0, 0), (0, 0, 0), (float("nan"), 1, 1), "x"):
        with pytest.raises(InputError):
            check_weights(bad)


@pytest.mark.parametrize("make", [conv_net, mlp])
def test_pareto_front_is_brute_force_front(make) -> None:
    spec = make()
    every = brute(spec)
    # brute-force front: for each achievable cycles value, the min LUT over foldings that fast
    front = []
    for c in sorted({x[0] for x in every}):
        lut = min(x[1] for x in every if x[0] <= c)
        if not front or lut < front[-1][1]:
            front.append((c, lut))
    got = [(c, MODEL.estimate(s).lut) for c, s in pareto_foldings(spec, MODEL)]
    assert got == front
    thin = pareto_foldings(spec, MODEL, max_points=3)
    assert len(thin) == min(3, len(front))
    assert thin[0][0] == front[0][0] and thin[-1][0] == front[-1][0]


# ------------------------------------------------------------------ whole design, links included
FULL = FinnCostModel("pynq-z1", clock_mhz=100, io_profile="none")  # FIFOs + converters priced


def _thresholded(spec: NetworkSpec) -> NetworkSpec:
    d = spec.to_dict()
    d["input"]["thresholding"] = True
    return NetworkSpec.from_dict(d)


def brute_full(spec: NetworkSpec) -> list[tuple[int, int, int, int]]:
    from hw_models.folding import legal_pairs

    layers = spec.compute_layers
    out = []
    for combo in itertools.product(*[legal_pairs(l) for l in layers]):
        r = FULL.estimate(spec.with_folding(dict(zip((l.name for l in layers), combo))))
        out.append((r.cycles_per_frame, r.lut, r.bram18, r.dsp))
    return out


LINKED_NETS = [conv_net, mlp, lambda: _thresholded(conv_net()), lambda: _thresholded(mlp())]


@pytest.mark.parametrize("make", LINKED_NETS)
def test_chain_optimum_equals_brute_force_with_interconnect(make) -> None:
    """With FIFOs, width converters and the input thresholding priced, layers are coupled; the
    chain dynamic program still finds the exact optimum of the whole priced design."""
    spec = make()
    every = brute_full(spec)
    fastest = min(c for c, *_ in every)
    slowest = max(c for c, *_ in every)
    assert min_cycles(spec, FULL) == fastest  # the links (thresholding, converters) included
    if fastest > 1:
        with pytest.raises(InputError, match="target_fps"):
            optimal_folding_for_budget(spec, FULL, fastest - 1)
        assert FULL.estimate(fold_for_fps(spec, FULL, FULL.clock_mhz * 1e6 / (fastest - 1))) \
            .cycles_per_frame == fastest  # out of reach: the fastest design
    for t in sorted({fastest, (fastest + slowest) // 2, fastest * 2, int(fastest * 1.5)}):
        for w in WEIGHTS[:3]:
            best = min(cost(w, *x[1:]) for x in every if x[0] <= t)
            r = FULL.estimate(optimal_folding_for_budget(spec, FULL, t, w))
            assert r.cycles_per_frame <= t
            assert cost(w, r.lut, r.bram18, r.dsp) == pytest.approx(best), (t, w)
        lut_best = min(x[1] for x in every if x[0] <= t)
        fps = FULL.clock_mhz * 1e6 / t
        assert FULL.estimate(fold_for_fps(spec, FULL, fps)).lut == lut_best


@pytest.mark.parametrize("make", LINKED_NETS)
def test_linked_pareto_front_is_brute_force_front(make) -> None:
    spec = make()
    every = brute_full(spec)
    front = []
    for c in sorted({x[0] for x in every}):
        lut = min(x[1] for x in every if x[0] <= c)
        if not front or lut < front[-1][1]:
            front.append((c, lut))
    got = [(c, FULL.estimate(s).lut) for c, s in pareto_foldings(spec, FULL)]
    assert got == front

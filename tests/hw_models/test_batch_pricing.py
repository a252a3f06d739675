"""BatchPricer reproduces FinnCostModel.estimate exactly, candidate by candidate."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from hw_models.batch_pricing import BatchPricer
from hw_models.cost import FinnCostModel
from hw_models.network import InputSpec, NetworkSpec

ROOT = Path(__file__).resolve().parents[2]
KEYS = ("weight_bits", "act_bits", "pe", "simd")


def mix10() -> NetworkSpec:
    """10 layers: padded, strided, 1x1 (no generator), overlapping pool, fc tail."""
    return NetworkSpec.build("mix10", InputSpec(3, 24, 24, 8), [
        {"name": "c0", "op": "conv", "out_channels": 16, "kernel": 3, "padding": 1,
         "weight_bits": 4, "act_bits": 4},
        {"name": "c1", "op": "conv", "out_channels": 24, "kernel": 3, "stride": 2,
         "weight_bits": 4, "act_bits": 4},
        {"name": "p0", "op": "maxpool", "kernel": 3, "stride": 2},
        {"name": "c2", "op": "conv", "out_channels": 32, "kernel": 1,
         "weight_bits": 4, "act_bits": 4},
        {"name": "c3", "op": "conv", "out_channels": 48, "kernel": 2, "stride": 1,
         "padding": 1, "weight_bits": 4, "act_bits": 4},
        {"name": "c4", "op": "conv", "out_channels": 32, "kernel": 1, "stride": 2,
         "weight_bits": 4, "act_bits": 4},
        {"name": "p1", "op": "maxpool", "kernel": 2},
        {"name": "f0", "op": "fc", "out_features": 64, "weight_bits": 4, "act_bits": 4},
        {"name": "f1", "op": "fc", "out_features": 32, "weight_bits": 4, "act_bits": 4},
        {"name": "f2", "op": "fc", "out_features": 10, "weight_bits": 4, "act_bits": None},
    ])


def line1d() -> NetworkSpec:
    """1-D generators (H == 1): strided 1x1 conv and a 1-wide pool."""
    return NetworkSpec.build("line1d", InputSpec(8, 1, 32, 4), [
        {"name": "c0", "op": "conv", "out_channels": 12, "kernel": 1, "stride": 2,
         "weight_bits": 2, "act_bits": 2},
        {"name": "p0", "op": "maxpool", "kernel": 1, "stride": 1},
        {"name": "f0", "op": "fc", "out_features": 6, "weight_bits": 2, "act_bits": 3},
    ])


TEMPLATES = {
    "cnv_w1a1": lambda: NetworkSpec.load(ROOT / "examples/cnv_w1a1.json"),
    "cifar_2bit": lambda: NetworkSpec.load(ROOT / "examples/finn_check_cifar_2bit.json"),
    "mix10": mix10,
    "line1d": line1d,
}


def _check_equal(pricer: BatchPricer, model: FinnCostModel, cand: dict, n: int) -> None:
    out = pricer.price(**cand, per_layer=True)
    for i in range(n):
        spec = pricer.spec_of(*(cand[k][i] for k in KEYS))
        rep = model.estimate(spec)
        assert rep.valid
        got = {k: int(out[k][i]) for k in ("lut", "bram18", "dsp", "uram")}
        assert got == rep.totals, (i, spec.to_dict())
        assert int(out["cycles_per_frame"][i]) == rep.cycles_per_frame
        assert int(out["critical_path_cycles"][i]) == rep.critical_path_cycles
        assert out["fps"][i] == pytest.approx(rep.fps, rel=1e-12)
        assert pricer.layer_names[out["bottleneck"][i]] == rep.bottleneck
        assert [int(v) for v in out["layer_cycles"][i]] == [l.cycles for l in rep.layers]
        assert [int(v) for v in out["layer_lut"][i]] == [l.lut for l in rep.layers]
        assert [int(v) for v in out["layer_bram18"][i]] == [l.bram18 for l in rep.layers]


@pytest.mark.parametrize("name,variant,n", [
    ("cnv_w1a1", "finn2026", 500), ("cifar_2bit", "finn2026", 500), ("mix10", "finn2026", 500),
    ("cnv_w1a1", "finn2022", 200), ("mix10", "finn2022", 200), ("line1d", "finn2026", 100),
    ("line1d", "finn2022", 100)])
def test_matches_scalar_model(name: str, variant: str, n: int) -> None:
    template = TEMPLATES[name]()
    model = FinnCostModel("pynq-z1", lut_variant=variant)
    pricer = BatchPricer(model, template)
    rng = np.random.default_rng(zlib.crc32(f"{name}/{variant}".encode()))
    bits = (1, 2, 3, 4, 8) if variant == "finn2026" else (1, 2, 3, 4, 6, 8, 16)
    _check_equal(pricer, model, pricer.random_candidates(rng, n, bits=bits), n)


def test_dsp_res_type_and_other_clock() -> None:
    model = FinnCostModel("pynq-z1", clock_mhz=125.0, res_type="dsp")
    pricer = BatchPricer(model, mix10())
    cand = pricer.random_candidates(np.random.default_rng(7), 100, bits=(1, 4, 8, 16, 32))
    _check_equal(pricer, model, cand, 100)
    assert pricer.price(**cand)["dsp"].min() > 0


def test_template_defaults_and_broadcast() -> None:
    model = FinnCostModel()
    t = NetworkSpec.load(ROOT / "examples/cnv_w1a1.json")
    pricer = BatchPricer(model, t)
    rep = model.estimate(t)
    one = pricer.price()
    assert int(one["lut"][0]) == rep.lut and one["fps"][0] == rep.fps
    # one row of folding broadcast against 3 rows of bits
    arr = pricer.template_arrays()
    wb = np.stack([arr["weight_bits"]] * 3)
    wb[1] = 2
    out = pricer.price(weight_bits=wb, pe=arr["pe"])
    assert out["lut"].shape == (3,)
    assert out["lut"][0] == out["lut"][2] == rep.lut and out["lut"][1] > rep.lut
    specs = [t, pricer.spec_of(wb[1], arr["act_bits"], arr["pe"], arr["simd"])]
    assert list(pricer.price_specs(specs)["lut"]) == [model.estimate(s).lut for s in specs]


def test_illegal_rows_name_layer_and_row() -> None:
    pricer = BatchPricer(FinnCostModel(), NetworkSpec.load(ROOT / "examples/cnv_w1a1.json"))
    cand = pricer.random_candidates(np.random.default_rng(1), 50)
    j = pricer.compute_names.index("conv1")
    bad = {k: v.copy() for k, v in cand.items()}
    bad["pe"][17, j] = 5
    bad["pe"][30, j] = 7
    with pytest.raises(ValueError, match=r"layer 'conv1', first bad row 17: pe 5"):
        pricer.price(**bad)
    bad = {k: v.copy() for k, v in cand.items()}
    bad["simd"][4, 0] = 2  # neither divides C_in = 3 nor is a multiple of it dividing MW = 27
    with pytest.raises(ValueError, match=r"layer 'conv0', first bad row 4: simd 2"):
        pricer.price(**bad)
    bad = {k: v.copy() for k, v in cand.items()}
    bad["act_bits"][2, 0] = 0  # only the last layer may drop its activation
    with pytest.raises(ValueError, match=r"layer 'conv0', first bad row 2: act_bits 0"):
        pricer.price(**bad)
    with pytest.raises(ValueError, match="shape"):
        pricer.price(pe=np.ones((4, 3), dtype=int))


@pytest.mark.parametrize("kw", [{"weight_mem": "per_pe"}, {"weight_mem": "ultra"},
                                {"weight_mem": "distributed"}, {"swg_impl": "hls"},
                                {"interconnect": False, "io_profile": "none"}])
def test_every_setting_is_vectorized(kw: dict) -> None:
    """The formulas are shared, so every model setting prices identically on arrays."""
    model = FinnCostModel("zcu104", **kw)
    pricer = BatchPricer(model, mix10())
    _check_equal(pricer, model, pricer.random_candidates(np.random.default_rng(3), 60), 60)


def dwnet() -> NetworkSpec:
    """A depthwise-separable network (MobileNet-style): the scalar model prices it, so must the
    vectorized one (issue 11: a search over a depthwise space crashed at start)."""
    return NetworkSpec.build("dw", InputSpec(3, 16, 16, 8, thresholding=True), [
        {"name": "c0", "op": "conv", "out_channels": 8, "kernel": 3, "padding": 1,
         "weight_bits": 4, "act_bits": 4},
        {"name": "dw0", "op": "dwconv", "kernel": 3, "padding": 1, "weight_bits": 4,
         "act_bits": 4},
        {"name": "pw0", "op": "conv", "out_channels": 16, "kernel": 1, "weight_bits": 4,
         "act_bits": 4},
        {"name": "dw1", "op": "dwconv", "kernel": 3, "stride": 2, "weight_bits": 4,
         "act_bits": 4},
        {"name": "p0", "op": "maxpool", "kernel": 2},
        {"name": "f0", "op": "fc", "out_features": 10, "weight_bits": 4, "act_bits": None},
    ])


@pytest.mark.parametrize("variant", ["finn2026", "finn2022"])
def test_depthwise_and_parallel_window_match_scalar(variant: str) -> None:
    model = FinnCostModel("pynq-z1", lut_variant=variant)
    pricer = BatchPricer(model, dwnet())
    cand = pricer.random_candidates(np.random.default_rng(5), 300, bits=(1, 2, 4, 8))
    j = pricer.compute_names.index("c0")
    assert (cand["simd"][:, j] > 3).any()  # parallel-window generators are drawn
    assert ((cand["simd"][:, 1] > 1) & (cand["pe"][:, 1] == 8)).any()  # VVAU SIMD > 1
    _check_equal(pricer, model, cand, 300)


def test_unmappable_pool_refused() -> None:
    t = NetworkSpec.build("bad", InputSpec(4, 8, 8), [
        {"op": "maxpool", "kernel": 2, "stride": 3},
        {"op": "fc", "out_features": 4, "weight_bits": 2, "act_bits": None}])
    with pytest.raises(NotImplementedError, match="stride"):
        BatchPricer(FinnCostModel(), t)

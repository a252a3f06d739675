"""FINN-style cost model: the published test vectors of fpga_cost_models.md section 11 (and the
per-layer cycles printed in BNN-PYNQ's config.h files, section 3.2), plus hand-computed values
for every other formula in hw_models/finn_ops.py."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from fpga.errors import InputError
from hw_models.cost import (CostModel, CostReport, FinnCostModel, get_cost_model,
                            list_cost_models, register_cost_model)
from hw_models.finn_ops import (MVAU, ConvolutionInputGenerator, FMPadding, Pool,
                                StreamingMaxPool, bram18_best_mode, bram18_finn_r, uram_count)
from hw_models.folding import finn_set_folding
from hw_models.network import InputSpec, LayerSpec, NetworkSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def mlp(name: str, in_features: int, in_bits: int, layers: list[tuple]) -> NetworkSpec:
    """An fc-only network from (out_features, weight_bits, act_bits, pe, simd) rows."""
    return NetworkSpec.from_dict({
        "name": name, "input": {"channels": in_features, "height": 1, "width": 1, "bits": in_bits},
        "layers": [{"name": f"MVAU_{i}", "op": "fc", "out_features": o, "weight_bits": w,
                    "act_bits": a, "pe": pe, "simd": simd}
                   for i, (o, w, a, pe, simd) in enumerate(layers)]})


def cybsec(folding: list[tuple[int | None, int | None]]) -> NetworkSpec:
    """FINN's cybersecurity MLP (UNSW-NB15): 600 (593 padded) bipolar inputs, W2, A2, 1 output."""
    rows = [(64, 2, 2), (64, 2, 2), (64, 2, 2), (1, 2, 1)]
    return mlp("cybsec", 600, 1, [r + f for r, f in zip(rows, folding)])


# ------------------------------------------------------------------ section 11: cybsec notebook
@pytest.fixture(scope="module")
def report() -> CostReport:
    model = FinnCostModel.finn_view("pynq-z1", clock_mhz=100, lut_variant="finn2022")
    return model.estimate(cybsec([(16, 40), (1, 64), (1, 64), (1, 1)]))


class TestCybsecNotebook:
    """Folding (16,40) (1,64) (1,64) (1,1); FINN notebook outputs (fe592d5e, 365a5781, 34e910ea)."""

    def test_cycles(self, report: CostReport) -> None:
        assert [l.cycles for l in report.layers] == [60, 64, 64, 64]
        assert report.cycles_per_frame == 64
        assert report.critical_path_cycles == 252
        assert report.bottleneck == "MVAU_1"

    def test_fps(self, report: CostReport) -> None:
        assert report.fps == pytest.approx(1_562_500.0)

    def test_lut_finn2022(self, report: CostReport) -> None:
        # e.g. MVAU_0: 300 + 1.1*16*(40*1*3 + 3*79 + 13 + 3*13*1 + 3*13) = 8184.8 -> 8184
        assert [l.lut for l in report.layers] == [8184, 1217, 1217, 341]
        assert report.lut == 10_959

    def test_bram18(self, report: CostReport) -> None:
        # MVAU_0: WMEM 60, width 16*40*2 = 1280 -> ceil(60/512)*ceil(1280/36) = 36
        assert [l.bram18 for l in report.layers] == [36, 4, 4, 1]
        assert report.bram18 == 45
        assert report.dsp == 0 and report.uram == 0


# ------------------------------------------------------------------ section 11: SetFolding
def test_cybsec_setfolding_defaults() -> None:
    """tests/end2end/test_end2end_cybsec_mlp.py: target 1e6 fps at 10 ns, mvau_wwidth_max 36:
    MVAU_0 80 cycles, MVAU_1 64 cycles, BRAM_18K 36 (LUT 7899 depends on trained accumulator
    widths and is not reproducible from topology)."""
    model = FinnCostModel.finn_view("pynq-z1", clock_mhz=100)
    spec = finn_set_folding(cybsec([(None, None)] * 4), model, 1e6)
    assert [(l.pe, l.simd) for l in spec.compute_layers] == [(32, 15), (4, 16), (4, 16), (1, 1)]
    report = model.estimate(spec)
    assert [l.cycles for l in report.layers][:2] == [80, 64]
    assert report.bram18 == 36


def test_cybsec_setfolding_wwidth80_gives_notebook_folding() -> None:
    """The notebooks' build used mvau_wwidth_max = 80 (final_hw_config.json) -> (16,40),(1,64)."""
    model = FinnCostModel.finn_view("pynq-z1", clock_mhz=100)
    spec = finn_set_folding(cybsec([(None, None)] * 4), model, 1e6, mvau_wwidth_max=80)
    assert [(l.pe, l.simd) for l in spec.compute_layers] == [(16, 40), (1, 64), (1, 64), (1, 1)]


# ------------------------------------------------------------------ section 11: folding tutorial
class TestFoldingTutorial:
    """notebooks/advanced/3_folding.ipynb (fca31d8a): the current-FINN LUT variant."""

    model = FinnCostModel.finn_view("pynq-z1", clock_mhz=100, lut_variant="finn2026")

    def test_unfolded(self) -> None:
        report = self.model.estimate(cybsec([(1, 1)] * 4))
        assert [l.cycles for l in report.layers] == [38400, 4096, 4096, 64]
        assert [l.lut for l in report.layers] == [319, 320, 320, 320]
        assert [l.bram18 for l in report.layers] == [5, 1, 1, 1]

    def test_pe2_simd5(self) -> None:
        layer = self.model.estimate(cybsec([(2, 5), (1, 1), (1, 1), (1, 1)])).layers[0]
        # 300 + 1.1*2*(15 + 27 + 12) = 418.8 -> 418; WMEM 3840, width 20 -> 4*2 BRAM18
        assert (layer.cycles, layer.lut, layer.bram18) == (3840, 418, 8)

    def test_accumulator_bound(self) -> None:
        # alpha = log2(600) + 2 + 1 - 1 - 1 (bipolar input) -> 12 bits; UINT2 input, MW 64 -> 11
        assert MVAU(600, 64, 1, 1, 2, 1, 2, in_signed=True, lut_variant="finn2026").acc_bits() == 12
        assert MVAU(64, 64, 1, 1, 2, 2, 2, lut_variant="finn2026").acc_bits() == 11


# ------------------------------------------------------------------ BNN-PYNQ LFC, TFC, CNV
def lfc_w1a1() -> NetworkSpec:
    """BNN-PYNQ lfcW1A1 as built: 832 (784 padded) inputs, last layer padded to 64 rows."""
    return mlp("lfc", 832, 1, [(1024, 1, 1, 32, 64), (1024, 1, 1, 64, 32),
                               (1024, 1, 1, 32, 64), (64, 1, 1, 16, 8)])


def test_lfc_cycles_and_per_pe_bram() -> None:
    """config.h folding -> 416/512/512/512 cycles; RAMB18 = 208 in the utilisation report, which
    the per-PE partitioned weight-memory model gives exactly (64+64+64+16)."""
    report = FinnCostModel.finn_view("pynq-z1", 100, weight_mem="per_pe").estimate(lfc_w1a1())
    assert [l.cycles for l in report.layers] == [416, 512, 512, 512]
    assert report.fps == pytest.approx(195_312.5)
    assert [l.bram18 for l in report.layers] == [64, 64, 64, 16]
    assert report.bram18 == 208


def test_lfc_finn_r_bram_is_175() -> None:
    """Reference 3.6: the whole-layer FINN-R formula gives 175 for the same design."""
    assert FinnCostModel.finn_view("pynq-z1", 100).estimate(lfc_w1a1()).bram18 == 175


def test_lfc_fc0_lut_finn2022_by_hand() -> None:
    # P=32, Q=64, W=A=B=1, MW=832: mult 64*1*2=128, add 2*127=254, acc 2+10=12,
    # thr 1*12*ceil(32/64)=12, cmp 12 -> 300 + 1.1*32*418 = 15013.6 -> 15013
    report = FinnCostModel.finn_view("pynq-z1", 100, lut_variant="finn2022").estimate(lfc_w1a1())
    assert report.layers[0].lut == 15013


def test_tfc_cycles() -> None:
    """finn-examples / FINN tutorial TFC-W1A1 folding (16,49) (8,8) (8,8) (10,8): 64/64/64/8."""
    spec = NetworkSpec.load(EXAMPLES / "tfc_w1a1.json")
    report = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec)
    assert [l.cycles for l in report.layers] == [64, 64, 64, 8]
    assert report.fps == pytest.approx(1_562_500.0)
    at_99_999 = FinnCostModel.finn_view("pynq-z1", 99.999).estimate(spec)
    assert at_99_999.fps == pytest.approx(1_562_484.4, abs=0.1)


#: "Ext Latency" of every layer in BNN-PYNQ bnn/src/network/cnvW1A1/hw/config.h
CNV_EXT_LATENCY = {"conv0": 32400, "conv1": 28224, "conv2": 20736, "conv3": 28800,
                   "conv4": 20736, "conv5": 18432, "fc0": 32768, "fc1": 32768}


def test_cnv_w1a1_published_cycles() -> None:
    spec = NetworkSpec.load(EXAMPLES / "cnv_w1a1.json")
    report = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec)
    mvau = {l.name: next(s.cycles for s in l.stages if s.op == "MVAU")
            for l in report.layers if l.op in ("conv", "fc")}
    for name, cycles in CNV_EXT_LATENCY.items():
        assert mvau[name] == cycles, name
        assert report.layer(name).cycles == cycles, name  # the SWG is never the slower stage
    # FINN's last layer: 512 x 10 at PE 5, SIMD 1
    assert report.layer("fc2").cycles == 512 * 10 // 5
    assert report.cycles_per_frame == 32768 and report.bottleneck == "fc0"
    assert report.fps == pytest.approx(100e6 / 32768)
    assert report.valid and not report.unsupported


def test_cnv_w1a1_bnn_pynq_last_layer_padded() -> None:
    """BNN-PYNQ pads the 10 classes to 64 rows at PE 4, SIMD 1: Ext Latency 8192."""
    spec = NetworkSpec.load(EXAMPLES / "cnv_w1a1.json")
    data = spec.to_dict()
    data["layers"][-1].update(out_features=64, pe=4, simd=1)
    report = FinnCostModel.finn_view("pynq-z1", 100).estimate(NetworkSpec.from_dict(data))
    assert report.layer("fc2").cycles == 8192


# ------------------------------------------------------------------ other formulas, by hand
def test_swg_rtl_and_hls() -> None:
    swg = ConvolutionInputGenerator(64, 30, 30, 28, 28, 3, 1, 32, 1)
    # cf 2: buffer (2*30 + 2 + 1)*2 = 126; + 28 * max(28*9*2, 30*2) = 126 + 14112
    assert swg.cycles() == 14238
    assert (swg.lut(), swg.bram18()) == (300, 1)
    hls = ConvolutionInputGenerator(64, 30, 30, 28, 28, 3, 1, 32, 1, impl="hls")
    assert hls.cycles() == 30 * 3 * 2 + 28 * 504
    assert hls.bram18() == (3 + 1) * 1  # (K + stride) buffers of depth 60 x 32 bits


def test_swg_strided() -> None:
    swg = ConvolutionInputGenerator(16, 9, 9, 4, 4, 3, 2, 4, 2)
    # cf 4: buffer (2*9 + 3)*4 = 84; rows: max(4*9*4, 2*9*4) = 144 -> 84 + 4*144
    assert swg.cycles() == 660


def test_swg_deep_buffer_uses_narrow_brams() -> None:
    # depth (2*64 + 3) * 64 = 8384 > 8192 -> 1-bit wide RAMB18s: 8 bits -> 8 of them
    swg = ConvolutionInputGenerator(64, 64, 64, 62, 62, 3, 1, 1, 8)
    assert swg.bram18() == 8


def test_padding_and_pools() -> None:
    assert FMPadding(64, 28, 28, 1, 8).cycles() == 8 * 30 * 30
    assert StreamingMaxPool(64, 28, 28, 2).cycles() == 980          # 784 * (1 + 1/4)
    assert Pool(64, 13, 13, 3, 64).cycles() == 9 * 169
    dw = ConvolutionInputGenerator(64, 28, 28, 13, 13, 3, 2, 64, 2, depthwise=True)
    assert dw.cycles() == 59 + 13 * 117 + 28                       # + (s-1)*IFM_w*cf
    assert not FMPadding.resources_modelled and FMPadding(8, 4, 4, 1, 1).cost().lut == 0


def test_mvau_dsp_uram_lutram() -> None:
    dsp = MVAU(256, 64, 4, 8, 4, 4, 4, res_type="dsp", lut_variant="finn2022")
    assert dsp.dsp() == 4 * 8 * 1
    # no multiplier LUTs; add 8*15, acc 4+4+8 = 16, thr 15*16*ceil(16/64), cmp 15*16:
    # 300 + 1.1*4*(0 + 120 + 16 + 240 + 240) = 3010.4
    assert dsp.lut() == 3010
    ultra = MVAU(256, 64, 4, 8, 4, 4, 4, weight_mem="ultra")
    assert (ultra.uram(), ultra.bram18()) == (2, 0)                # ceil(128/72)*ceil(512/4096)
    lutram = MVAU(256, 64, 4, 8, 4, 4, 4, weight_mem="distributed")
    block = MVAU(256, 64, 4, 8, 4, 4, 4)
    assert lutram.lut() - block.lut() == 4 * 8 * 4 * math.ceil(512 / 64)
    assert lutram.bram18() == 0
    # per_pe with WMEM <= 128 maps to LUTs, as FINN's internal_embedded
    small = MVAU(64, 64, 4, 8, 2, 2, 2, weight_mem="per_pe")
    assert small.wmem == 128 and small.bram18() == 0


def test_no_activation_drops_threshold_terms() -> None:
    # mult 8*1*2 = 16, add 2*15 = 30, acc 1+1+6 = 8; thr = cmp = 1*8 with B = 1
    assert MVAU(64, 10, 1, 8, 1, 1, 1, lut_variant="finn2022").lut() == 377  # 300+1.1*(16+30+8+8+8)
    assert MVAU(64, 10, 1, 8, 1, 1, None, lut_variant="finn2022").lut() == 359  # 300+1.1*54=359.4


def test_bram_tables() -> None:
    assert bram18_finn_r(16384, 1) == 1 and bram18_finn_r(16385, 1) == 2
    assert bram18_finn_r(8192, 2) == 1 and bram18_finn_r(4096, 3) == 1
    assert bram18_finn_r(2048, 9) == 1 and bram18_finn_r(1024, 18) == 1
    assert bram18_finn_r(600, 36) == 2 and bram18_finn_r(512, 72) == 2
    assert bram18_best_mode(416, 64) == 2 and bram18_best_mode(512, 8) == 1
    assert uram_count(4097, 73) == 4


# ------------------------------------------------------------------ model behaviour
def test_missing_folding_is_pe_simd_1() -> None:
    report = FinnCostModel.finn_view("pynq-z1", 100).estimate(cybsec([(None, None)] * 4))
    assert [(l.pe, l.simd) for l in report.layers] == [(1, 1)] * 4
    assert report.layers[0].cycles == 38400


def test_illegal_folding_names_layer() -> None:
    with pytest.raises(InputError) as exc:
        FinnCostModel.finn_view().estimate(cybsec([(16, 40), (3, 64), (1, 64), (1, 1)]))
    assert exc.value.field == "layers[1].pe" and "MVAU_1" in str(exc.value)
    assert list(exc.value.accepted) == [1, 2, 4, 8, 16, 32, 64]


def test_unsupported_layer_is_reported_not_zero() -> None:
    fc = LayerSpec("fc0", "fc", 16, 1, 1, 8, 1, 1, 2, weight_bits=2, act_bits=2, pe=1, simd=1)
    odd = LayerSpec("dw0", "depthwise", 8, 1, 1, 8, 1, 1, 2, weight_bits=2, act_bits=2)
    report = FinnCostModel.finn_view().estimate(NetworkSpec("x", InputSpec(16, 1, 1, 2), (fc, odd)))
    assert not report.valid
    reason = report.unsupported[0]["reason"]
    assert report.to_dict()["unsupported"] == [{"name": "dw0", "reason": reason}]
    assert "depthwise" in report.unsupported[0]["reason"]
    assert [l.name for l in report.layers] == ["fc0"]


def test_clock_and_variant_validation() -> None:
    assert FinnCostModel.finn_view("zcu104").clock_mhz == 100.0
    assert FinnCostModel.finn_view("u250").clock_mhz == 300.0
    for bad in (0, -5, float("nan")):
        with pytest.raises(InputError, match="clock_mhz"):
            FinnCostModel.finn_view("pynq-z1", clock_mhz=bad)
    with pytest.raises(InputError) as exc:
        FinnCostModel.finn_view("pynq-z1", lut_variant="finn1999")
    assert exc.value.field == "lut_variant" and "finn2022" in exc.value.accepted
    with pytest.raises(InputError, match="device"):
        FinnCostModel.finn_view("nope")


def test_fps_scales_with_clock() -> None:
    spec = NetworkSpec.load(EXAMPLES / "tfc_w1a1.json")
    assert FinnCostModel.finn_view("pynq-z1", 200).estimate(spec).fps == pytest.approx(200e6 / 64)


def test_violations() -> None:
    report = FinnCostModel.finn_view("pynq-z1", 100, lut_variant="finn2022").estimate(
        cybsec([(16, 40), (1, 64), (1, 64), (1, 1)]))
    v = report.violations(max_lut=10_959, max_bram18=90, max_dsp=10, min_fps=3_125_000)
    assert v["lut"] == pytest.approx(0.0)
    assert v["bram18"] == pytest.approx(-0.5)
    assert v["dsp"] == pytest.approx(-1.0)
    assert v["fps"] == pytest.approx(0.5)
    assert report.violations() == {}
    with pytest.raises(InputError, match="max_lut"):
        report.violations(max_lut=0)


def test_report_to_dict_schema() -> None:
    spec = NetworkSpec.load(EXAMPLES / "cnv_w1a1.json")
    d = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec).to_dict()
    assert {"device", "clock_mhz", "totals", "cycles_per_frame", "fps", "bottleneck", "layers",
            "unsupported"} <= set(d)
    assert set(d["totals"]) == {"lut", "bram18", "dsp", "uram"}
    for layer in d["layers"]:
        assert {"name", "op", "cycles", "lut", "bram18", "dsp", "pe", "simd"} <= set(layer)
        assert layer["cycles"] == max(s["cycles"] for s in layer["stages"])
        assert layer["lut"] == sum(s["lut"] for s in layer["stages"])
    conv = d["layers"][0]
    assert [s["op"] for s in conv["stages"]] == ["ConvolutionInputGenerator", "MVAU"]
    assert d["device"] == "pynq-z1" and d["unsupported"] == []


def test_conv_with_padding_has_fmpadding_stage() -> None:
    spec = NetworkSpec.from_dict({"input": {"channels": 8, "height": 16, "width": 16, "bits": 4},
                                  "layers": [{"name": "c", "op": "conv", "out_channels": 16,
                                              "kernel": 3, "padding": 1, "weight_bits": 2,
                                              "act_bits": 2, "pe": 4, "simd": 8}]})
    layer = FinnCostModel.finn_view().estimate(spec).layers[0]
    assert [s.op for s in layer.stages] == ["FMPadding", "ConvolutionInputGenerator", "MVAU"]
    assert layer.stages[0].cycles == 1 * 18 * 18
    assert layer.stages[2].cycles == 16 * 16 * (72 // 8) * (16 // 4)


# ------------------------------------------------------------------ registry conformance
def test_registry_has_finn() -> None:
    assert "finn" in list_cost_models()
    assert isinstance(get_cost_model("finn", device="ultra96"), FinnCostModel)
    with pytest.raises(InputError, match="cost_model"):
        get_cost_model("no-such-model")
    with pytest.raises(InputError, match="already registered"):
        register_cost_model("finn", FinnCostModel)


#: constructor arguments of each registered cost model (a new model must add its entry)
_MODEL_ARGS = {
    "finn": lambda: {"device": "pynq-z1"},
    # the committed CPU table of bench/LATENCY.md (covers the default cnv space)
    "latency-table": lambda: {"table": EXAMPLES.parent / "bench" / "latency_cpu_table.json"},
}


def _registered() -> list[str]:
    import hw_models.latency_table  # noqa: F401 - registers "latency-table"
    return list_cost_models()


@pytest.mark.parametrize("name", _registered())
def test_every_cost_model_conforms(name: str) -> None:
    """Every registered model builds, prices a network and names what it cannot price."""
    assert name in _MODEL_ARGS, f"add constructor arguments for cost model {name!r}"
    model = get_cost_model(name, **_MODEL_ARGS[name]())
    assert isinstance(model, CostModel)
    report = model.estimate(NetworkSpec.load(EXAMPLES / "tfc_w1a1.json"))
    d = report.to_dict()
    assert {"unsupported", "valid"} <= set(d)
    assert report.valid == (not report.unsupported)
    if isinstance(report, CostReport):
        assert {"device", "clock_mhz", "totals", "cycles_per_frame", "fps", "bottleneck",
                "layers"} <= set(d) and report.valid
    else:  # the CPU table has no op of a 784-input MLP: each missing op is named, never zero
        assert "latency_ms" in d and not report.valid
        assert all("not in the latency table" in u["reason"] for u in d["unsupported"])


# ------------------------------------------------------------------ what finn-plus 1.6.1 builds
def test_maxpool_is_swg_plus_pool_at_folding_config_parallelism() -> None:
    """Every max-pool: depthwise SWG + Pool at fpga.export's pool_parallelism (bench/FINN_CHECK.md)."""
    from hw_models.finn_build import pool_parallelism
    spec = NetworkSpec.load(EXAMPLES / "cnv_w1a1.json")
    report = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec)
    pools = [l for l in report.layers if l.op == "maxpool"]
    assert pools and {l.name: l.pe for l in pools} == pool_parallelism(spec.layers)
    for l in pools:
        assert [s.op for s in l.stages] == ["ConvolutionInputGenerator", "Pool"]
        assert l.stages[0].simd == l.stages[1].pe == l.pe
    d = report.to_dict()
    assert [s["op"] for s in d["layers"][2]["stages"]] == ["ConvolutionInputGenerator", "Pool"]


def test_maxpool_cycles_match_finn_example_pool0() -> None:
    # 16 x 28x28 -> 14x14, PE 4: SWG 120 + 14*(224 + 14*1*3) + 1*28*4 = 3956; Pool 16*4/4*196
    spec = NetworkSpec.from_dict({"input": {"channels": 1, "height": 28, "width": 28, "bits": 8},
                                  "layers": [{"name": "c", "op": "conv", "out_channels": 16,
                                              "kernel": 3, "padding": 1, "weight_bits": 4,
                                              "act_bits": 4, "pe": 4, "simd": 1},
                                             {"name": "p", "op": "maxpool", "kernel": 2}]})
    pool = FinnCostModel.finn_view().estimate(spec).layer("p")
    assert [(s.cycles, s.lut, s.bram18) for s in pool.stages] == [(3956, 300, 1), (3136, 0, 0)]
    assert pool.pe == 4 and pool.cycles == 3956


def test_lone_maxpool_layer_cost_uses_its_pe() -> None:
    spec = NetworkSpec.from_dict({"input": {"channels": 8, "height": 8, "width": 8, "bits": 2},
                                  "layers": [{"name": "p", "op": "maxpool", "kernel": 2}]})
    import dataclasses
    model = FinnCostModel.finn_view()
    p = spec.layers[0]
    assert model.layer_cost(p).pe == 1
    assert model.layer_cost(dataclasses.replace(p, pe=8)).stages[1].cycles == 8 * 4 // 8 * 16
    with pytest.raises(InputError, match="max-pool PE 3"):
        model.layer_cost(dataclasses.replace(p, pe=3))


def test_maxpool_stride_above_kernel_is_unsupported() -> None:
    spec = NetworkSpec.from_dict({"input": {"channels": 8, "height": 9, "width": 9, "bits": 2},
                                  "layers": [{"name": "p", "op": "maxpool", "kernel": 2,
                                              "stride": 3},
                                             {"name": "f", "op": "fc", "out_features": 4,
                                              "weight_bits": 2, "act_bits": None}]})
    report = FinnCostModel.finn_view().estimate(spec)
    assert not report.valid and report.unsupported[0]["name"] == "p"
    assert "FINN cannot map" in report.unsupported[0]["reason"]


def test_pointwise_conv_has_no_swg() -> None:
    def conv(k: int, s: int, p: int) -> list[str]:
        spec = NetworkSpec.from_dict({"input": {"channels": 16, "height": 8, "width": 8,
                                                "bits": 2},
                                      "layers": [{"name": "c", "op": "conv", "out_channels": 8,
                                                  "kernel": k, "stride": s, "padding": p,
                                                  "weight_bits": 2, "act_bits": 2}]})
        return [s.op for s in FinnCostModel.finn_view().estimate(spec).layers[0].stages]
    assert conv(1, 1, 0) == ["MVAU"]
    assert conv(1, 2, 0) == ["ConvolutionInputGenerator", "MVAU"]
    assert conv(1, 1, 1) == ["FMPadding", "ConvolutionInputGenerator", "MVAU"]


def test_swg_1d_depthwise_finn_plus() -> None:
    # finn-plus 1.6.1: max(OFM*K*cf + (cf-1)*K, IFM*cf + cf*(K-1)*(s-1)) + 2; 8 ch, SIMD 2 (cf 4)
    dw = ConvolutionInputGenerator(8, 1, 16, 1, 8, 2, 2, 2, 2, depthwise=True)
    assert dw.cycles() == max(8 * 2 * 4 + 3 * 2, 16 * 4 + 4 * 1 * 1) + 2


def test_default_lut_variant_is_finn2026() -> None:
    assert FinnCostModel.finn_view().lut_variant == "finn2026"
    assert MVAU(64, 64, 1, 1, 2, 2, 2).lut_variant == "finn2026"

"""The stages beyond MVAU/SWG/padding/pool: VVAU, standalone thresholding, width converters,
FIFOs and the I/O cap (issue #3 item 1), in the scalar model and the batch pricer."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fpga.errors import InputError
from hw_models.batch_pricing import BatchPricer
from hw_models.cost import FinnCostModel
from hw_models.finn_ops import (VVAU, DataWidthConverter, StreamingFIFO, Thresholding,
                                threshold_memory)
from hw_models.folding import check_folding, fold_for_fps, legal_pairs
from hw_models.io_cap import fit_profiles, get_profile, load_profiles
from hw_models.network import NetworkSpec


def test_input_thresholding_matches_finn_plus():
    # finn-plus 1.6.1 estimates for Thresholding_rtl_0 (bench/FINN_CHECK.md): 288 LUT at
    # PE 1 (1 x 28 x 28, 8 bits), 864 LUT at PE 3 (3 x 32 x 32), 0 BRAM, (C/PE)*H*W cycles
    a = Thresholding(1, 28, 28, 1, 8).cost()
    b = Thresholding(3, 32, 32, 3, 8).cost()
    assert (a.lut, a.bram18, a.cycles) == (288, 0, 784)
    assert (b.lut, b.bram18, b.cycles) == (864, 0, 1024)
    assert threshold_memory(32, 64) == ("LUTRAM", 32)
    assert threshold_memory(36, 512) == ("BRAM", 1)


def test_dwc_and_fifo_formulas():
    # 16 -> 32 bits: lcm 32, one counter bit + 32 control-set LUTs (FINN's DWC model)
    assert DataWidthConverter(16, 32, 16 * 49).lut() == 33
    # 12 -> 8: up to lcm 24 then down to 8: (1 + 24) + (2 + 8)
    assert DataWidthConverter(12, 8, 96).lut() == 35
    assert DataWidthConverter(12, 8, 96).cycles() == 12
    f = StreamingFIFO(32, 16)
    assert f.style() == "srl" and f.lut() == 16 + 5 * 7 - 7 and f.bram18() == 0
    assert StreamingFIFO(200, 16).style() == "distributed"
    deep = StreamingFIFO(4096, 64)
    assert deep.style() == "block" and deep.bram18() > 0
    assert StreamingFIFO(1, 64).lut() == 0


def _dw_net(pe=None, simd=None):
    return NetworkSpec.from_dict({
        "name": "dw", "input": {"channels": 8, "height": 12, "width": 12, "bits": 4},
        "layers": [{"name": "dw0", "op": "dwconv", "kernel": 3, "padding": 1, "weight_bits": 4,
                    "act_bits": 4, "pe": pe, "simd": simd},
                   {"name": "pw0", "op": "conv", "out_channels": 16, "kernel": 1,
                    "weight_bits": 4, "act_bits": 4, "pe": 4, "simd": 8},
                   {"name": "fc", "op": "fc", "out_features": 10, "weight_bits": 4,
                    "act_bits": None, "pe": 2, "simd": 16}]})


def test_vvau_cycles_and_network_stages():
    spec = _dw_net(pe=2, simd=1)
    dw = spec.layer("dw0")
    assert (dw.out_channels, dw.out_h, dw.mw, dw.mh) == (8, 12, 9, 8)
    rep = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec)
    stages = rep.layer("dw0").stages
    assert [s.op for s in stages] == ["FMPadding", "ConvolutionInputGenerator", "VVAU"]
    # (C * K^2 / (PE * SIMD)) * OFM^2
    assert stages[-1].cycles == 8 * 9 // 2 * 144
    v = VVAU(8, 3, 12, 12, 2, 1, 4, 4, 4)
    assert v.lut() > 300 and v.bram18() == 0  # WMEM 36 <= 128: weights in LUTRAM
    assert NetworkSpec.from_dict(spec.to_dict()) == spec


def test_vvau_folding_rules():
    assert (2, 3) not in legal_pairs(_dw_net().layer("dw0"))
    assert (8, 3) in legal_pairs(_dw_net().layer("dw0"))
    with pytest.raises(InputError, match="parallel-window"):
        check_folding(_dw_net(pe=2, simd=3))
    with pytest.raises(InputError, match="K\\*K = 9"):
        check_folding(_dw_net(pe=2, simd=2))
    # SIMD > 1 uses the parallel-window generator: one window per cycle
    rep = FinnCostModel.finn_view("pynq-z1", 100).estimate(_dw_net(pe=8, simd=9))
    swg = rep.layer("dw0").stages[1]
    assert swg.cycles == 14 * 14 + 2
    model = FinnCostModel("pynq-z1", 100)
    folded = fold_for_fps(_dw_net(), model, 50_000)
    assert model.estimate(folded).fps >= 50_000


def test_interconnect_placement_and_thresholding_flag():
    d = _dw_net(pe=2, simd=1).to_dict()
    d["input"]["thresholding"] = True
    spec = NetworkSpec.from_dict(d)
    rep = FinnCostModel("pynq-z1", 100, fifo_depth=32).estimate(spec)
    first = [s.op for s in rep.layer("dw0").stages]
    assert first[0] == "Thresholding"  # PE = gcd(8, dw PE 2) = 2 -> 8-bit stream, no DWC
    assert rep.layer("dw0").stages[0].pe == 2
    pw = [s.op for s in rep.layer("pw0").stages]
    # dw0 streams 2 x 4 bits, pw0 takes 8 x 4: a converter, then the FIFO
    assert pw[:2] == ["DataWidthConverter", "StreamingFIFO"]
    # the output FIFO, then the output scale (priced: the exporter's network)
    assert [s.op for s in rep.layer("fc").stages][-2:] == ["StreamingFIFO", "ElementwiseMul"]
    view = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec)
    assert rep.lut > view.lut and "StreamingFIFO" not in [
        s.op for l in view.layers for s in l.stages]


def test_io_cap_bounds_small_networks():
    tfc = NetworkSpec.load("examples/tfc_w1a1.json")
    rep = FinnCostModel("pynq-z1", 100).estimate(tfc)
    assert rep.io_bound and rep.fps == rep.fps_io_cap < rep.fps_compute == 1_562_500
    # measured: 958k (PYNQ-Z1) and 837k (finn-examples); the cap sits between them
    assert 837_000 < rep.fps < 958_500
    free = FinnCostModel("pynq-z1", 100, io_profile="none").estimate(tfc)
    assert not free.io_bound and free.fps == 1_562_500 and free.to_dict()["fps_io_cap"] is None
    assert get_profile(None, FinnCostModel("u250").device).name == "none"
    assert set(load_profiles()) >= {"finn-pynq@zynq7000", "finn-pynq@zynqmp",
                                    "bnn-pynq@zynq7000", "bnn-pynq@zynqmp", "none"}


def test_io_profiles_are_per_board_family_and_say_what_backs_them():
    """Issue 11 item 5: BNN-PYNQ's LFC measured on an Ultra96 at 300 MHz (356,633 im/s) is
    reproduced with its own host library's profile on that board family, where the PYNQ-Z1's
    would be 64 % off; a ZCU104 borrows the measured MPSoC boards' profile and says so."""
    lfc = NetworkSpec.from_dict(json.loads(
        (Path(__file__).resolve().parents[2] / "hw_models/calibration_data/"
         "published_rows_v2.json").read_text())["rows"][0]["network"])
    u96 = FinnCostModel("ultra96", 300, io_profile="bnn-pynq", interconnect=False).estimate(lfc)
    assert u96.io_bound and abs(u96.fps / 356_633.39 - 1) < 0.01
    assert u96.io_profile["family"] == "zynqmp" and "ultra96" in u96.io_profile["backing"]
    z1 = FinnCostModel("pynq-z1", 100, io_profile="bnn-pynq").estimate(lfc)
    assert abs(z1.fps / 118_883 - 1) < 0.01  # BNN-PYNQ's PYNQ-Z1 measurement
    zcu = get_profile("finn-pynq", FinnCostModel("zcu104").device)
    assert zcu.family == "zynqmp" and "aup-zu3" in zcu.backing
    pz2 = get_profile(None, FinnCostModel("pynq-z2").device)
    assert pz2.name == "finn-pynq" and pz2.family == "zynq7000"


def test_io_fit_refuses_compute_bound_rows():
    row = {"name": "x", "profile": "p", "fps": 99.0, "clock_mhz": 100.0, "in_bytes": 1,
           "out_bytes": 1, "compute_fps": 100.0, "family": "zynq7000", "source": "a report"}
    with pytest.raises(InputError, match="compute bound"):
        fit_profiles([row])
    with pytest.raises(InputError, match="in_bytes"):
        fit_profiles([{k: v for k, v in row.items() if k != "in_bytes"}])


@pytest.mark.parametrize("bad", [
    {"fifo_depth": -1}, {"fifo_depth": 1.5}, {"io_profile": "ethernet"}, {"interconnect": "yes"},
    {"weight_mem": "ultra"}])
def test_bad_settings_name_the_field(bad):
    field = next(iter(bad))
    with pytest.raises(InputError) as e:
        FinnCostModel("pynq-z1", **bad)
    assert e.value.field == field


@pytest.mark.parametrize("thresholding", [False, True])
@pytest.mark.parametrize("settings", [{}, {"fifo_depth": 300}, {"fifo_depth": 0},
                                      {"io_profile": "none"}])
def test_batch_pricer_matches_scalar_with_interconnect(thresholding, settings):
    d = NetworkSpec.load("examples/cnv_w1a1.json").to_dict()
    d["input"]["thresholding"] = thresholding
    template = NetworkSpec.from_dict(d)
    model = FinnCostModel("pynq-z1", 100, **settings)
    pricer = BatchPricer(model, template)
    cand = pricer.random_candidates(np.random.default_rng(1), 60, bits=(1, 2, 3, 4, 8))
    out = pricer.price(**cand, per_layer=True)
    for i in range(60):
        spec = pricer.spec_of(*(cand[k][i] for k in ("weight_bits", "act_bits", "pe", "simd")))
        rep = model.estimate(spec)
        assert (out["lut"][i], out["bram18"][i], out["cycles_per_frame"][i]) == (
            rep.lut, rep.bram18, rep.cycles_per_frame)
        assert out["fps"][i] == rep.fps and out["critical_path_cycles"][i] == \
            rep.critical_path_cycles
        assert list(out["layer_lut"][i]) == [l.lut for l in rep.layers]


def test_vvau_weight_memory_uses_finn_divisors():
    # WMEM = 64*9 = 576 > 128: BRAM; width 1*1*4 = 4 bits -> 4K-deep mode, 1 RAMB18
    assert VVAU(64, 3, 8, 8, 1, 1, 4, 4, 4).bram18() == 1
    # width 2*1*8 = 16 bits, WMEM 288: FINN's VVAU divides by 16 (the MVAU table would say 18)
    assert VVAU(64, 3, 8, 8, 2, 1, 8, 4, 4).bram18() == 1
    # width 4*1*9 = 36 bits, WMEM 144: 36/32 -> 2 RAMB18 (the MVAU table's 36/36 would say 1)
    assert VVAU(64, 3, 8, 8, 4, 1, 9, 4, 4).bram18() == 2
    assert VVAU(64, 3, 8, 8, 8, 1, 4, 4, 4).bram18() == 0  # WMEM 72 <= 128: LUTRAM

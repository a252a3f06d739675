"""FINN's build files without FINN: specialize-layers config, build config, the writer, and
``bench/finn_check.py``'s comparison of our files with FINN's graph.

The names and styles were checked with finn-plus 1.6.1's own build (tests/fpga/test_finn_build.py,
bench/FINN_CHECK.md); here they are pinned so that a change shows up without FINN.
"""
from __future__ import annotations

import importlib.util
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from fpga.errors import InputError
from hw_models import finn_build as fc
from hw_models.network import NetworkSpec

REPO = Path(__file__).resolve().parents[2]


def _preset(name: str) -> NetworkSpec:
    return NetworkSpec.from_dict(json.loads(
        (REPO / "examples" / f"finn_check_{name}.json").read_text()))


PRESETS = sorted(p.stem[len("finn_check_"):] for p in (REPO / "examples").glob("finn_check_*.json"))


def _finn_check():
    spec = importlib.util.spec_from_file_location("finn_check", REPO / "bench" / "finn_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ====================================================================== specialize_layers.json
def test_specialize_config_example_pins_what_is_priced():
    rtl, hls = {"preferred_impl_style": "rtl"}, {"preferred_impl_style": "hls"}
    assert fc.finn_specialize_layers_config(_preset("example").layers) == {
        "Defaults": {},
        "Thresholding_0": rtl, "FMPadding_0": rtl, "ConvolutionInputGenerator_0": rtl,
        "MVAU_0": hls, "ConvolutionInputGenerator_1": rtl, "Pool_0": hls,
        "FMPadding_1": rtl, "ConvolutionInputGenerator_2": rtl, "MVAU_1": hls,
        "ConvolutionInputGenerator_3": rtl, "Pool_1": hls, "MVAU_2": hls,
        # no activation, 4-bit input and weights: FINN's default is RTL; priced as HLS
        "MVAU_3": hls,
        "ElementwiseMul_0": hls}


@pytest.mark.parametrize("name", PRESETS)
def test_one_name_per_node_before_and_after(name):
    layers = _preset(name).layers
    nodes = fc.finn_nodes(layers)
    folding = fc.finn_folding_config(layers)
    pins = fc.finn_specialize_layers_config(layers)
    # exactly one folding entry and one pin per node, in graph order
    assert list(folding)[1:] == [n.name for n in nodes] == fc.finn_node_names(layers)
    assert list(pins)[1:] == [n.base_name for n in nodes] == fc.finn_node_names(
        layers, before_specialization=True)
    assert len(set(folding)) == len(folding) and len(set(pins)) == len(pins)
    style = {"Thresholding": "rtl", "FMPadding": "rtl", "ConvolutionInputGenerator": "rtl",
             "MVAU": "hls", "VVAU": "hls", "Pool": "hls", "ElementwiseMul": "hls"}
    for n in nodes:
        assert pins[n.base_name] == {"preferred_impl_style": style[n.base_op]}
        assert n.op_type == f"{n.base_op}_{n.impl_style}"
        assert n.base_name.rsplit("_", 1)[1] == n.name.rsplit("_", 1)[1]  # one style per op
    assert not any(k.startswith(("MVAU_rtl", "ElementwiseMul_rtl", "VVAU_rtl")) for k in folding)
    # FINN counts 0, 1, 2, ... per op type
    for op, count in Counter(n.base_op for n in nodes).items():
        assert sorted(n.base_name for n in nodes if n.base_op == op) == sorted(
            f"{op}_{k}" for k in range(count))


def test_dwconv_and_fc_first_nodes():
    d = fc.finn_folding_config(_preset("dwconv").layers)
    assert d["VVAU_hls_0"] == {"PE": 4, "SIMD": 1, "resType": "lut"}
    assert d["ConvolutionInputGenerator_rtl_1"]["parallel_window"] == 0
    assert d["VVAU_hls_1"] == {"PE": 32, "SIMD": 3, "resType": "lut"}
    assert d["ConvolutionInputGenerator_rtl_2"] == {"SIMD": 32, "parallel_window": 1,
                                                    "ram_style": "auto"}
    assert "ConvolutionInputGenerator_rtl_4" not in d  # pw0 (1x1) has no generator
    assert fc.finn_node_names(_preset("fc_first").layers) == [
        "Thresholding_rtl_0", "MVAU_hls_0", "MVAU_hls_1", "ElementwiseMul_hls_0"]
    assert fc.finn_folding_config(_preset("fc_first").layers)["Thresholding_rtl_0"] == {"PE": 1}


def test_bad_layers_are_input_errors():
    d = json.loads((REPO / "examples" / "finn_check_example.json").read_text())
    d["layers"][0]["pe"] = 3
    with pytest.raises(InputError, match=r"layer 'conv0'\.pe.*PE 3 must divide"):
        fc.finn_specialize_layers_config(NetworkSpec.from_dict(d).layers)
    with pytest.raises(InputError, match="layers: empty"):
        fc.finn_nodes([])


# ====================================================================== finn_build.json
def test_build_config_defaults_and_targets():
    cfg = fc.finn_build_config()
    assert cfg == {
        "output_dir": "finn_build", "fpga_part": "xc7z020clg400-1", "synth_clk_period_ns": 10.0,
        "folding_config_file": "folding_config.json",
        "specialize_layers_config_file": "specialize_layers.json",
        "steps": list(fc.FINN_ESTIMATE_STEPS), "generate_outputs": ["estimate_reports"],
        "save_intermediate_models": True}
    assert "step_target_fps_parallelization" not in cfg["steps"]
    assert cfg["steps"][-1] == "step_generate_estimate_reports"
    assert fc.finn_build_config(device="ultra96")["fpga_part"] == "xczu3eg-sbva484-1-i"
    u = fc.finn_build_config(device="u250")
    assert (u["fpga_part"], u["synth_clk_period_ns"]) == ("xcu250-figd2104-2L-e", 3.333333)
    v = fc.finn_build_config(fpga_part="xcvc1902-vsva2197-2MP-e-S", clock_mhz=250)
    assert (v["fpga_part"], v["synth_clk_period_ns"]) == ("xcvc1902-vsva2197-2MP-e-S", 4.0)


@pytest.mark.parametrize("kw, field", [
    ({"fpga_part": ""}, "fpga_part"), ({"fpga_part": "zynq 7020"}, "fpga_part"),
    ({"fpga_part": 7020}, "fpga_part"), ({"clock_mhz": 0}, "clock_mhz"),
    ({"clock_mhz": "100"}, "clock_mhz"), ({"clock_mhz": True}, "clock_mhz"),
    ({"device": "pynq-z9"}, "device")])
def test_build_config_bad_values_name_the_field(kw, field):
    with pytest.raises(InputError) as info:
        fc.finn_build_config(**kw)
    assert info.value.field == field and "accepted" in str(info.value)


# ====================================================================== the writer
def test_write_finn_build_files_round_trip(tmp_path):
    layers = _preset("example").layers
    paths = fc.write_finn_build_files(layers, tmp_path / "bundle", device="ultra96",
                                      clock_mhz=150)
    assert {k: p.name for k, p in paths.items()} == fc.FILES
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == sorted(fc.FILES.values())
    assert json.loads(paths["folding_config"].read_text()) == fc.finn_folding_config(layers)
    assert json.loads(paths["specialize_layers"].read_text()) == \
        fc.finn_specialize_layers_config(layers)
    build = json.loads(paths["finn_build"].read_text())
    assert build == fc.finn_build_config(device="ultra96", clock_mhz=150)
    assert (build["fpga_part"], build["synth_clk_period_ns"]) == ("xczu3eg-sbva484-1-i", 6.666667)
    # the build config names the two other files, relative to itself
    for key in ("folding_config_file", "specialize_layers_config_file"):
        assert (paths["finn_build"].parent / build[key]).is_file()
    # a rewrite replaces the files
    fc.write_finn_build_files(_preset("cifar_2bit").layers, tmp_path / "bundle")
    assert "MVAU_hls_5" in json.loads(paths["folding_config"].read_text())


def test_write_finn_build_files_bad_input_writes_nothing(tmp_path):
    layers = _preset("example").layers
    with pytest.raises(InputError, match="fpga_part"):
        fc.write_finn_build_files(layers, tmp_path / "new", fpga_part="?")
    assert not (tmp_path / "new").exists()
    fc.write_finn_build_files(layers, tmp_path / "old")
    before = {p.name: p.read_text() for p in (tmp_path / "old").iterdir()}
    with pytest.raises(InputError, match="clock_mhz"):
        fc.write_finn_build_files(_preset("cifar_2bit").layers, tmp_path / "old", clock_mhz=-1)
    assert {p.name: p.read_text() for p in (tmp_path / "old").iterdir()} == before


def test_write_finn_build_files_is_atomic(tmp_path, monkeypatch):
    layers = _preset("example").layers
    fc.write_finn_build_files(layers, tmp_path)
    before = {p.name: p.read_text() for p in tmp_path.iterdir()}
    calls = []

    def failing_replace(src, dst):
        calls.append(Path(dst).name)
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        fc.write_finn_build_files(_preset("cifar_2bit").layers, tmp_path)
    assert calls == ["folding_config.json"]
    # every file was complete in a temp file before the first replace; none is left behind
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == before


# ====================================================================== finn_check.compare
def _finn_graph(layers, *, drop=(), rename=None, styles=None, attrs=None):
    """A fake FINN graph as bench/finn_check.py reads it from the intermediate models."""
    before, after = [], []
    for i, n in enumerate(fc.finn_nodes(layers)):
        if n.name in drop:
            continue
        style = (styles or {}).get(n.base_name, n.impl_style)
        name = (rename or {}).get(n.name, n.name)
        before.append({"name": n.base_name, "op_type": n.base_op, "output": f"t{i}"})
        after.append({"name": name, "op_type": f"{n.base_op}_{style}", "output": f"t{i}",
                      "attrs": {**n.attrs, **(attrs or {}).get(n.name, {})}})
    return before, after


def test_compare_accepts_our_files():
    check = _finn_check()
    layers = _preset("example").layers
    predicted = [(n.base_name, n.name) for n in fc.finn_nodes(layers)]
    r = check.compare(fc.finn_folding_config(layers), fc.finn_specialize_layers_config(layers),
                      *_finn_graph(layers), predicted)
    assert r["problems"] == []
    assert r["all_names_in_graph"] and r["all_folding_applied"] and r["names_as_predicted"]
    assert all(n["status"] == "ok" and n["applied"] == n["expected"] for n in r["nodes"])
    assert r["nodes"][12] == {"name": "MVAU_hls_3", "op_type": "MVAU_hls", "before": "MVAU_3",
                              "applied": {"PE": 1, "SIMD": 4}, "expected": {"PE": 1, "SIMD": 4},
                              "status": "ok"}


def test_compare_fails_on_unknown_names_missing_entries_and_other_folding():
    check = _finn_check()
    layers = _preset("example").layers
    folding = fc.finn_folding_config(layers)
    pins = fc.finn_specialize_layers_config(layers)
    folding["MVAU_hls_99"] = {"PE": 1}
    pins["MVAU_99"] = {"preferred_impl_style": "hls"}
    del folding["Pool_hls_1"]
    r = check.compare(folding, pins, *_finn_graph(layers, attrs={"MVAU_hls_1": {"SIMD": 2}}))
    assert r["folding_keys_not_in_graph"] == ["MVAU_hls_99"]
    assert r["specialize_keys_not_in_graph"] == ["MVAU_99"]
    assert r["nodes_without_folding"] == ["Pool_hls_1"]
    assert r["folding_mismatches"] == ["MVAU_hls_1"]
    assert not r["all_names_in_graph"] and not r["all_folding_applied"]
    text = "\n".join(r["problems"])
    assert "'MVAU_hls_99' is not a node of FINN's graph" in text
    assert "'MVAU_99' is not a node" in text
    assert "Pool_hls_1 has no entry" in text
    assert "MVAU_hls_1: applied differs from ours (ours, FINN's) {'SIMD': (4, 2)}" in text


def test_compare_fails_when_finn_builds_another_style():
    """What issue 9 saw: without pins FINN made the last layer MVAU_rtl_0."""
    check = _finn_check()
    layers = _preset("example").layers
    graph = _finn_graph(layers, styles={"MVAU_3": "rtl"}, rename={"MVAU_hls_3": "MVAU_rtl_0"})
    predicted = [(n.base_name, n.name) for n in fc.finn_nodes(layers)]
    r = check.compare(fc.finn_folding_config(layers), fc.finn_specialize_layers_config(layers),
                      *graph, predicted)
    assert r["style_mismatches"] == ["MVAU_3: pinned 'hls', FINN built MVAU_rtl"]
    assert r["folding_keys_not_in_graph"] == ["MVAU_hls_3"]
    assert r["nodes_without_folding"] == ["MVAU_rtl_0"]
    assert r["names_as_predicted"] is False
    r = check.compare(fc.finn_folding_config(layers), {"Defaults": {}}, *graph)
    assert len(r["nodes_without_pin"]) == len(fc.finn_nodes(layers))

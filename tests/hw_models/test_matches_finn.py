"""Our FINN cost model against finn-plus 1.6.1's own estimates, node by node.

FINN's figures are hard-coded from its estimate-only build of the two networks in
``bench/FINN_CHECK.md`` (part xc7z020clg400-1, 10 ns), produced by::

    .venv/bin/python bench/finn_check.py prepare --preset {example,cifar_2bit} --out out/finn_check/<p>
    .venv-finn/bin/python bench/finn_check.py check out/finn_check/<p>/model.qonnx.onnx \\
        out/finn_check/<p>/folding_config.json --network out/finn_check/<p>/network.json \\
        --estimate out/finn_check/<p>/estimate.json

(FINN's ``report/estimate_layer_cycles.json`` and ``estimate_layer_resources.json``.)  Every
node is matched to one of our stages by layer and op kind, in order (the input
``Thresholding_rtl_0`` to the first layer's ``Thresholding`` stage, the output
``ElementwiseMul_hls_0`` to the last layer's).  Cycles and SWG/FMPadding/Pool resources must be equal.  MVAU LUTs cannot be:
FINN narrows the accumulator (and weight) widths from the *trained* values before estimating, so
our data-type bound (``finn2026``) is an upper bound within 2 %.  The example's last layer (4-bit
input and weights, no activation) is one FINN would make a DSP-based ``MVAU_rtl_0`` by default;
our exports pin it to HLS (``specialize_layers.json``), and FINN's build with that pin gives the
figures below (finn-plus 1.6.1, 2026-12-01: 481 LUT, 1 BRAM18, 0 DSP).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hw_models.finn_build import finn_nodes
from hw_models.cost import FinnCostModel
from hw_models.network import NetworkSpec

_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> dict:
    """The networks of bench/FINN_CHECK.md, shared with bench/finn_check.py."""
    return json.loads((_EXAMPLES / f"finn_check_{name}.json").read_text())


EXAMPLE = _example("example")

CIFAR_2BIT = _example("cifar_2bit")

#: finn-plus 1.6.1: node -> (layer, cycles, LUT, BRAM18, DSP)
FINN_EXAMPLE = {
    "Thresholding_rtl_0": ("conv0", 784, 288, 0, 0),
    "FMPadding_rtl_0": ("conv0", 900, 0, 0, 0),
    "ConvolutionInputGenerator_rtl_0": ("conv0", 7119, 300, 1, 0),
    "MVAU_hls_0": ("conv0", 28224, 577, 1, 0),
    "ConvolutionInputGenerator_rtl_1": ("pool0", 3956, 300, 1, 0),
    "Pool_hls_0": ("pool0", 3136, 0, 0, 0),
    "FMPadding_rtl_1": ("conv1", 1024, 0, 0, 0),
    "ConvolutionInputGenerator_rtl_2": ("conv1", 7196, 300, 1, 0),
    "MVAU_hls_1": ("conv1", 56448, 1030, 2, 0),
    "ConvolutionInputGenerator_rtl_3": ("pool1", 2151, 300, 1, 0),
    "Pool_hls_1": ("pool1", 1568, 0, 0, 0),
    "MVAU_hls_2": ("fc0", 3136, 1747, 32, 0),
    "MVAU_hls_3": ("fc1", 160, 481, 1, 0),
    "ElementwiseMul_hls_0": ("fc1", 10, 0, 0, 0),
}
#: FINN's max_cycles / critical path
FINN_EXAMPLE_NET = (56448, 115812)

FINN_CIFAR_2BIT = {
    "Thresholding_rtl_0": ("conv0", 1024, 864, 0, 0),
    "ConvolutionInputGenerator_rtl_0": ("conv0", 8167, 300, 1, 0),
    "MVAU_hls_0": ("conv0", 32400, 1646, 2, 0),
    "FMPadding_rtl_0": ("conv1", 4096, 0, 0, 0),
    "ConvolutionInputGenerator_rtl_1": ("conv1", 32668, 300, 1, 0),
    "MVAU_hls_1": ("conv1", 259200, 748, 2, 0),
    "ConvolutionInputGenerator_rtl_2": ("pool0", 9271, 300, 1, 0),
    "Pool_hls_0": ("pool0", 7200, 0, 0, 0),
    "ConvolutionInputGenerator_rtl_3": ("conv2", 3108, 300, 1, 0),
    "MVAU_hls_2": ("conv2", 12168, 3784, 15, 0),
    "MVAU_hls_3": ("conv3", 5408, 1593, 6, 0),
    "ConvolutionInputGenerator_rtl_4": ("pool1", 1724, 300, 1, 0),
    "Pool_hls_1": ("pool1", 1152, 0, 0, 0),
    "MVAU_hls_4": ("fc0", 1152, 2904, 44, 0),
    "MVAU_hls_5": ("fc1", 80, 1191, 4, 0),
    "ElementwiseMul_hls_0": ("fc1", 5, 0, 0, 0),
}
FINN_CIFAR_2BIT_NET = (259200, 378823)

CASES = {"example": (EXAMPLE, FINN_EXAMPLE, FINN_EXAMPLE_NET),
         "cifar_2bit": (CIFAR_2BIT, FINN_CIFAR_2BIT, FINN_CIFAR_2BIT_NET)}

_OP = {"MVAU": "MVAU", "ConvolutionInputGenerator": "ConvolutionInputGenerator",
       "FMPadding": "FMPadding", "Pool": "Pool", "Thresholding": "Thresholding",
       "ElementwiseMul": "ElementwiseMul"}


def _ours_by_node(name: str) -> dict[str, tuple[str, int, int, int, int]]:
    """Our stages keyed by the FINN node they price (layer + op kind, in order)."""
    data, finn, _ = CASES[name]
    spec = NetworkSpec.from_dict(data)
    report = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec)
    assert report.valid
    pending = {l.name: list(l.stages) for l in report.layers}
    out: dict[str, tuple[str, int, int, int, int]] = {}
    for node in finn:
        layer = finn[node][0]
        kind = node.split("_")[0]
        stage = next(s for s in pending[layer] if s.op == _OP[kind])
        pending[layer].remove(stage)
        out[node] = (layer, stage.cycles, stage.lut, stage.bram18, stage.dsp)
    assert all(not left for left in pending.values()), f"stages FINN does not build: {pending}"
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_nodes_are_the_ones_finn_builds(name: str) -> None:
    data, finn, _ = CASES[name]
    spec = NetworkSpec.from_dict(data)
    predicted = [n.name for n in finn_nodes(spec.layers)]
    assert predicted == list(finn)
    _ours_by_node(name)  # every stage of ours has its FINN node and vice versa


@pytest.mark.parametrize("name", sorted(CASES))
def test_cycles_equal_finn(name: str) -> None:
    ours = _ours_by_node(name)
    _, finn, (max_cycles, crit) = CASES[name]
    assert {n: v[1] for n, v in ours.items()} == {n: v[1] for n, v in finn.items()}
    report = FinnCostModel.finn_view("pynq-z1", 100).estimate(NetworkSpec.from_dict(CASES[name][0]))
    assert (report.cycles_per_frame, report.critical_path_cycles) == (max_cycles, crit)


@pytest.mark.parametrize("name", sorted(CASES))
def test_resources_equal_finn(name: str) -> None:
    ours = _ours_by_node(name)
    for node, (_, _, lut, bram, dsp) in CASES[name][1].items():
        _, _, o_lut, o_bram, o_dsp = ours[node]
        assert o_bram == bram, node
        assert o_dsp == dsp, node
        if node.startswith("MVAU_hls"):
            # FINN narrows the accumulator from the trained weights; ours is the bound
            assert lut <= o_lut <= 1.02 * lut, (node, o_lut, lut)
        else:
            assert o_lut == lut, node


def test_finn2022_variant_still_selectable() -> None:
    """The published 2020-2022 formula stays available (1.4x-4.7x FINN 1.6.1's MVAU LUTs)."""
    spec = NetworkSpec.from_dict(EXAMPLE)
    new = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec)
    old = FinnCostModel.finn_view("pynq-z1", 100, lut_variant="finn2022").estimate(spec)
    assert new.settings["lut_variant"] == "finn2026"
    assert old.layer("conv1").lut > 2 * new.layer("conv1").lut

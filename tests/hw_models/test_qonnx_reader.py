"""QONNX -> NetworkSpec: round trip through the toolkit's own QONNX export, ``codesign estimate
model.onnx`` equal to the JSON path, and unsupported graphs rejected naming the node."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fpga.errors import InputError
from hw_models.network import InputSpec, NetworkSpec

onnx = pytest.importorskip("onnx")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _small_spec() -> NetworkSpec:
    """Stride-2 padded 5x5 conv, 8-bit weights and activations, 4-bit input, 3/1 pool."""
    return NetworkSpec.build("small_s2", InputSpec(3, 16, 16, 4), [
        {"name": "conv0", "op": "conv", "out_channels": 8, "kernel": 5, "stride": 2,
         "padding": 2, "weight_bits": 8, "act_bits": 8},
        {"name": "pool0", "op": "maxpool", "kernel": 3, "stride": 1},
        {"name": "fc0", "op": "fc", "out_features": 10, "weight_bits": 3, "act_bits": None}])


def _strip(spec: NetworkSpec) -> NetworkSpec:
    """Without folding; with the input thresholding an exported model's input Quant becomes."""
    return dataclasses.replace(spec, input=dataclasses.replace(spec.input, thresholding=True),
                               layers=tuple(l.with_folding(None, None) for l in spec.layers))


SPECS = {
    "example": lambda: NetworkSpec.load(EXAMPLES / "finn_check_example.json"),
    "cifar_2bit": lambda: NetworkSpec.load(EXAMPLES / "finn_check_cifar_2bit.json"),
    "small_s2": _small_spec,
    "cnv_w1a1": lambda: NetworkSpec.load(EXAMPLES / "cnv_w1a1.json"),  # 1-bit: BipolarQuant
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[NetworkSpec, Path, Path]]:
    """{name: (spec without folding, network.json, model.onnx)} via build_qmodel + export_qonnx."""
    pytest.importorskip("torch")
    pytest.importorskip("brevitas")
    pytest.importorskip("qonnx")
    from codesign.models.qcnn import build_qmodel
    from fpga.export.onnx_export import export_qonnx

    out = {}
    folder = tmp_path_factory.mktemp("qonnx")
    for name, make in SPECS.items():
        spec = _strip(make())
        assert spec.name == name
        js = folder / f"{name}.json"
        js.write_text(spec.to_json(indent=1))
        model = build_qmodel(spec).eval()
        onnx_path = export_qonnx(model, (spec.input.channels, spec.input.height,
                                         spec.input.width), folder / f"{name}.onnx")
        out[name] = (spec, js, onnx_path)
    return out


@pytest.mark.parametrize("name", list(SPECS))
def test_read_back_equals_spec(exported, name: str) -> None:
    from hw_models.qonnx_reader import read_qonnx

    spec, _, path = exported[name]
    got = read_qonnx(path)
    assert got.name == name
    assert got.input == spec.input
    assert got.layers == spec.layers  # shapes, kernel/stride/padding, bits; pe = simd = None
    assert got.layers[-1].act_bits is None


@pytest.mark.parametrize("name,fps", [("example", None), ("cifar_2bit", 1000.0),
                                      ("small_s2", 20000.0)])
def test_cli_estimate_onnx_equals_json(exported, capsys, name: str, fps: float | None) -> None:
    from codesign.cli import main

    _, js, path = exported[name]
    extra = [] if fps is None else ["--target-fps", str(fps)]
    reports = []
    for src in (js, path):
        assert main(["estimate", str(src), "--device", "pynq-z1", "--json", *extra]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0] == reports[1]
    assert reports[1]["network"] == name and reports[1]["unsupported"] == []


# ------------------------------------------------------------------ rejected graphs
def _mutated(exported, tmp_path: Path, edit) -> Path:
    proto = onnx.load(str(exported["example"][2]))
    edit(proto.graph)
    out = tmp_path / "bad.onnx"
    onnx.save(proto, str(out))
    return out


def _node(graph, op_type: str, i: int = 0):
    return [n for n in graph.node if n.op_type == op_type][i]


def _set_attr(node, name: str, value) -> None:
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(onnx.helper.make_attribute(name, value))


def _sigmoid(graph) -> None:
    _node(graph, "Relu", 1).op_type = "Sigmoid"


def _grouped(graph) -> None:
    _set_attr(_node(graph, "Conv", 1), "group", 2)


def _non_square(graph) -> None:
    _set_attr(_node(graph, "Conv", 0), "kernel_shape", [3, 1])


def _dynamic_bits(graph) -> None:
    """conv1's weight bit width computed at run time (an Identity of the initializer)."""
    q = _node(graph, "Quant", 2)
    graph.node.insert(0, onnx.helper.make_node("Identity", [q.input[3]], ["bits_rt"],
                                               name="bits_identity"))
    q.input[3] = "bits_rt"


@pytest.mark.parametrize("edit,node,words", [
    (_sigmoid, "'Relu_1' (Sigmoid)", "unsupported op"),
    (_grouped, "'Conv_1' (Conv)", "group=2"),
    (_non_square, "'Conv_0' (Conv)", "not square"),
    (_dynamic_bits, "'Quant_2' (Quant)", "not a constant"),
])
def test_unsupported_graph_names_node(exported, tmp_path, capsys, edit, node, words) -> None:
    from codesign.cli import main
    from hw_models.qonnx_reader import read_qonnx

    bad = _mutated(exported, tmp_path, edit)
    with pytest.raises(InputError, match=words):
        read_qonnx(bad)
    assert main(["estimate", str(bad), "--json"]) == 2
    err = capsys.readouterr().err
    assert f"node {node}" in err and words in err


def test_not_an_onnx_file(tmp_path, capsys) -> None:
    from codesign.cli import main

    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"\x00not a protobuf at all\xff" * 10)
    assert main(["estimate", str(bad)]) == 2
    assert "ONNX" in capsys.readouterr().err
    assert main(["estimate", str(tmp_path / "missing.onnx")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_reader_import_is_light() -> None:
    """Importing the reader (and the CLI) pulls in neither onnx nor torch."""
    code = ("import sys, hw_models.qonnx_reader, codesign.cli\n"
            "bad = [m for m in ('torch', 'onnx', 'brevitas', 'qonnx') if m in sys.modules]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_depthwise_conv_becomes_dwconv(tmp_path: Path) -> None:
    """A Brevitas depthwise conv (groups = channels) is read as a ``dwconv`` layer (FINN VVAU)."""
    pytest.importorskip("brevitas")
    import brevitas.nn as qnn
    import torch

    from fpga.export.onnx_export import export_qonnx
    from hw_models.cost import FinnCostModel
    from hw_models.qonnx_reader import read_qonnx

    class DW(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q = qnn.QuantIdentity(bit_width=8, return_quant_tensor=True)
            self.dw = qnn.QuantConv2d(4, 4, 3, padding=1, groups=4, weight_bit_width=4,
                                      bias=False)
            self.bn = torch.nn.BatchNorm2d(4)
            self.act = qnn.QuantReLU(bit_width=4)
            self.fc = qnn.QuantLinear(4 * 6 * 6, 10, weight_bit_width=4, bias=False)

        def forward(self, x):
            return self.fc(torch.flatten(self.act(self.bn(self.dw(self.q(x)))), 1))

    spec = read_qonnx(export_qonnx(DW().eval(), (4, 6, 6), tmp_path / "dw.onnx"))
    dw = spec.layers[0]
    assert (dw.op, dw.kernel, dw.padding, dw.out_channels, dw.weight_bits, dw.act_bits) == \
        ("dwconv", 3, 1, 4, 4, 4)
    report = FinnCostModel("pynq-z1").estimate(spec)
    assert report.valid and "VVAU" in [s.op for s in report.layer(dw.name).stages]

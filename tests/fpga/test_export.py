"""fpga.export: QONNX / QCDQ exports against PyTorch, and FINN's folding config.

The folding-config node names were verified against finn-plus 1.6.1 with
``bench/finn_check.py`` (see ``bench/FINN_CHECK.md``); FINN itself is not needed here (the
specialize-layers and build configs: tests/fpga/test_finn_build_config.py; FINN's own build:
tests/fpga/test_finn_build.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fpga.errors import InputError
from hw_models.finn_build import (finn_folding_config, finn_node_names, pool_parallelism,
                                        write_folding_config)
from fpga.export.onnx_export import qcdq_unsupported_reason, top1_agreement
from hw_models.network import NetworkSpec

REPO = Path(__file__).resolve().parents[2]

_EXAMPLES = REPO / "examples"


def _example(name: str) -> dict:
    """The networks of bench/FINN_CHECK.md, shared with bench/finn_check.py."""
    return json.loads((_EXAMPLES / f"finn_check_{name}.json").read_text())


EXAMPLE = _example("example")

# 3x32x32, 2-bit: an unpadded conv, a 1x1 conv (no generator), pools after PE 4 and PE 6
CIFAR_2BIT = _example("cifar_2bit")


def _spec(d: dict, **changes) -> NetworkSpec:
    d = json.loads(json.dumps(d))
    for lname, kv in changes.items():
        next(l for l in d["layers"] if l["name"] == lname).update(kv)
    return NetworkSpec.from_dict(d)


# ====================================================================== folding config
def test_folding_config_example_matches_finn_names():
    mvau = {"ram_style": "auto", "resType": "lut", "mem_mode": "internal_decoupled"}
    swg = {"parallel_window": 0, "ram_style": "auto"}
    expected = {
        "Defaults": {},
        "Thresholding_rtl_0": {"PE": 1},
        "FMPadding_rtl_0": {"SIMD": 1},
        "ConvolutionInputGenerator_rtl_0": {"SIMD": 1, **swg},
        "MVAU_hls_0": {"PE": 4, "SIMD": 1, **mvau},
        "ConvolutionInputGenerator_rtl_1": {"SIMD": 4, **swg},   # pool0: PE of conv0
        "Pool_hls_0": {"PE": 4},
        "FMPadding_rtl_1": {"SIMD": 4},
        "ConvolutionInputGenerator_rtl_2": {"SIMD": 4, **swg},
        "MVAU_hls_1": {"PE": 4, "SIMD": 4, **mvau},
        "ConvolutionInputGenerator_rtl_3": {"SIMD": 4, **swg},   # pool1: PE of conv1
        "Pool_hls_1": {"PE": 4},
        "MVAU_hls_2": {"PE": 4, "SIMD": 8, **mvau},
        # fc1 has no activation and 4-bit input/weights: FINN's default would be MVAU_rtl_0;
        # specialize_layers.json pins it to HLS (what hw_models prices), so one name only
        "MVAU_hls_3": {"PE": 1, "SIMD": 4, **mvau},
        "ElementwiseMul_hls_0": {"PE": 1},
    }
    config = finn_folding_config(_spec(EXAMPLE).layers)
    assert config == expected
    assert list(config) == list(expected)  # graph order, as FINN numbers them


def test_folding_config_node_names_cifar_2bit():
    layers = _spec(CIFAR_2BIT).layers
    # as finn-plus 1.6.1 named them (bench/FINN_CHECK.md); fc1 (2-bit input) stays HLS
    assert finn_node_names(layers) == [
        "Thresholding_rtl_0", "ConvolutionInputGenerator_rtl_0", "MVAU_hls_0",
        "FMPadding_rtl_0", "ConvolutionInputGenerator_rtl_1", "MVAU_hls_1",
        "ConvolutionInputGenerator_rtl_2", "Pool_hls_0",
        "ConvolutionInputGenerator_rtl_3", "MVAU_hls_2", "MVAU_hls_3",
        "ConvolutionInputGenerator_rtl_4", "Pool_hls_1", "MVAU_hls_4", "MVAU_hls_5",
        "ElementwiseMul_hls_0"]
    config = finn_folding_config(layers)
    assert config["Thresholding_rtl_0"] == {"PE": 3}
    assert config["ConvolutionInputGenerator_rtl_4"]["SIMD"] == config["Pool_hls_1"]["PE"] == 6
    assert pool_parallelism(layers) == {"pool0": 4, "pool1": 6}
    assert config["ElementwiseMul_hls_0"] == {"PE": 2}


def test_folding_config_pool_parallelism_divides_channels():
    # a pool after a conv with PE 6 over 12 channels, then a pool fed by that pool
    d = {"name": "p", "input": {"channels": 3, "height": 32, "width": 32, "bits": 8},
         "layers": [
             {"name": "c0", "op": "conv", "out_channels": 12, "kernel": 3, "stride": 2,
              "padding": 1, "weight_bits": 3, "act_bits": 3, "pe": 6, "simd": 3},
             {"name": "p0", "op": "maxpool", "kernel": 2},
             {"name": "p1", "op": "maxpool", "kernel": 2},
             {"name": "f0", "op": "fc", "out_features": 10, "weight_bits": 4, "act_bits": 4,
              "pe": 5, "simd": 4}]}
    layers = NetworkSpec.from_dict(d).layers
    assert pool_parallelism(layers) == {"p0": 6, "p1": 6}
    names = finn_node_names(layers)
    assert not any("_rtl" in n for n in names if n.startswith(("MVAU", "ElementwiseMul")))
    assert names[-1] == "ElementwiseMul_hls_0"


def test_folding_config_needs_legal_folding():
    with pytest.raises(InputError, match="layer 'conv1'.pe"):
        finn_folding_config(_spec(EXAMPLE, conv1={"pe": None}).layers)
    with pytest.raises(ValueError, match="layer 'fc0'.pe.*PE 3 must divide"):
        finn_folding_config(_spec(EXAMPLE, fc0={"pe": 3}).layers)
    with pytest.raises(ValueError, match="layer 'conv1'.simd.*16 input channels"):
        finn_folding_config(_spec(EXAMPLE, conv1={"simd": 9}).layers)
    with pytest.raises(ValueError, match="layer 'pool0'.*stride"):  # FINN leaves it unmapped
        finn_folding_config(_spec(EXAMPLE, pool0={"stride": 3}).layers)


def test_write_folding_config_is_atomic_json(tmp_path):
    path = write_folding_config(_spec(EXAMPLE).layers, tmp_path / "sub" / "folding_config.json")
    assert json.loads(path.read_text()) == finn_folding_config(_spec(EXAMPLE).layers)
    assert sorted(p.name for p in path.parent.iterdir()) == ["folding_config.json"]


def test_folding_config_does_not_import_torch_or_onnx():
    code = ("import sys, fpga.export, hw_models.finn_build as f; "
            "assert 'finn_folding_config' not in fpga.export.__all__; "
            "bad = [m for m in ('torch', 'onnx', 'brevitas', 'qonnx') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


# ====================================================================== QCDQ limits
def test_qcdq_unsupported_reason_names_the_layer():
    assert qcdq_unsupported_reason(_spec(EXAMPLE).layers) is None
    reason = qcdq_unsupported_reason(_spec(EXAMPLE, conv1={"act_bits": 1}).layers)
    assert "'conv1'" in reason and "1-bit activation" in reason and "QONNX" in reason
    reason = qcdq_unsupported_reason(_spec(EXAMPLE, fc0={"weight_bits": 1}).layers)
    assert "'fc0'" in reason and "1-bit weight" in reason
    d = json.loads(json.dumps(EXAMPLE))
    d["input"]["bits"] = 1
    assert "network input" in qcdq_unsupported_reason(NetworkSpec.from_dict(d).layers)


def test_top1_agreement_tolerates_exact_ties_only():
    a = np.array([[1.0, 2.0, 2.0], [0.0, 1.0, 0.5], [3.0, 0.0, 0.0]])
    b = np.array([[1.0, 2.0, 2.0 + 1e-8], [0.0, 1.0, 0.5], [0.0, 3.0, 0.0]])
    assert top1_agreement(a, b) == pytest.approx(2 / 3)   # row 0 is a tie, row 2 differs
    assert top1_agreement(a, b, rtol=0, atol=0) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="same shape"):
        top1_agreement(a, b[:2])


# ====================================================================== exports (torch)
def _random_model(spec: NetworkSpec, seed: int = 0):
    torch = pytest.importorskip("torch")
    pytest.importorskip("brevitas")
    from codesign.models.qcnn import build_qmodel

    torch.manual_seed(seed)
    model = build_qmodel(spec).eval()
    with torch.no_grad():  # non-trivial thresholds
        for mod in model.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    return model


def _pixels(n: int, spec: NetworkSpec, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (n, spec.input.channels, spec.input.height, spec.input.width)
    return (rng.integers(0, 256, shape) / 255.0).astype(np.float32)


def _torch_logits(model, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from fpga.export import export_qcdq, export_qonnx

    spec = _spec(EXAMPLE)
    model = _random_model(spec)
    out = tmp_path_factory.mktemp("export")
    shape = (spec.input.channels, spec.input.height, spec.input.width)
    qonnx_path = export_qonnx(model, shape, out / "model.qonnx.onnx")
    qcdq_path = export_qcdq(model, (7, *shape), out / "model.qcdq.onnx")  # the batch is ignored
    return spec, model, qonnx_path, qcdq_path, out


def test_exports_write_only_their_files(exported):
    _, _, qonnx_path, qcdq_path, out = exported
    assert sorted(p.name for p in out.iterdir()) == ["model.qcdq.onnx", "model.qonnx.onnx"]


def test_qonnx_is_static_clean_and_checked(exported):
    import onnx

    _, _, qonnx_path, _, _ = exported
    proto = onnx.load(str(qonnx_path))
    onnx.checker.check_model(proto)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 28, 28]
    ops = {n.op_type for n in proto.graph.node}
    assert "Quant" in ops and "Conv" in ops and "MaxPool" in ops


@pytest.mark.slow
def test_qonnx_executor_matches_pytorch(exported):
    from fpga.export import run_qonnx

    spec, model, qonnx_path, _, _ = exported
    x = _pixels(12, spec)
    ref = _torch_logits(model, x)
    got = run_qonnx(qonnx_path, x, batch_size=5)  # chunks of 5, 5 and 2
    assert got.shape == ref.shape
    assert top1_agreement(got, ref) == 1.0
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_qcdq_onnxruntime_matches_pytorch_with_dynamic_batch(exported):
    import onnx

    from fpga.export import run_qcdq

    spec, model, _, qcdq_path, _ = exported
    proto = onnx.load(str(qcdq_path))
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    x = _pixels(64, spec)
    ref = _torch_logits(model, x)
    got = run_qcdq(qcdq_path, x, batch_size=23)  # batches of 23, 23 and 18
    assert got.shape == (64, 10)
    assert top1_agreement(got, ref) >= 0.99
    assert np.mean(np.all(np.isclose(got, ref, atol=1e-4), axis=1)) >= 0.95
    np.testing.assert_allclose(run_qcdq(qcdq_path, x[:1]), got[:1], atol=1e-6)


def test_executors_validate_pixels(exported):
    from fpga.export import run_qcdq

    spec, _, _, qcdq_path, _ = exported
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        run_qcdq(qcdq_path, _pixels(2, spec) * 255)
    with pytest.raises(ValueError, match="NCHW"):
        run_qcdq(qcdq_path, _pixels(2, spec)[0])
    with pytest.raises(ValueError, match="does not match"):
        run_qcdq(qcdq_path, np.zeros((2, 3, 28, 28), np.float32))


def test_export_qcdq_refuses_1bit_layers_and_writes_nothing(tmp_path):
    torch = pytest.importorskip("torch")
    from fpga.export import export_qcdq

    spec = _spec(EXAMPLE, conv1={"act_bits": 1})
    model = _random_model(spec)
    with pytest.raises(ValueError, match="'conv1'.*1-bit"):
        export_qcdq(model, (1, 28, 28), tmp_path / "m.onnx")
    # a module without a NetworkSpec: the Brevitas quantizers themselves are inspected
    with pytest.raises(ValueError, match=r"blocks\.conv1\.act.*1-bit activation"):
        export_qcdq(torch.nn.Sequential(model), (1, 28, 28), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_two_bit_three_channel_exports_match_pytorch(tmp_path):
    from fpga.export import export_qcdq, export_qonnx, run_qcdq, run_qonnx

    spec = _spec(CIFAR_2BIT)
    model = _random_model(spec, seed=3)
    shape = (3, 32, 32)
    x = _pixels(32, spec, seed=4)
    ref = _torch_logits(model, x)
    qonnx = run_qonnx(export_qonnx(model, shape, tmp_path / "m.qonnx.onnx"), x[:4])
    assert top1_agreement(qonnx, ref[:4]) == 1.0
    np.testing.assert_allclose(qonnx, ref[:4], atol=1e-5)
    qcdq = run_qcdq(export_qcdq(model, shape, tmp_path / "m.qcdq.onnx"), x)
    assert top1_agreement(qcdq, ref) >= 0.99


def test_binary_bipolar_design_exports_to_qonnx_and_matches_pytorch(tmp_path):
    """A BNN-PYNQ-style W1A1 design of cnv-l (8-bit first layer, 2-bit last): QONNX carries its
    BipolarQuant weights and activations, qonnx's executor matches PyTorch, our QONNX reader
    reads the bits back; QCDQ is refused (no 1-bit in QuantizeLinear)."""
    torch = pytest.importorskip("torch")
    from codesign.spaces.base import get_space
    from codesign.supernet import build_supernet
    from codesign.supernet.train import init_activation_ranges
    from fpga.export import export_qonnx, qcdq_unsupported_reason, run_qonnx
    from hw_models.qonnx_reader import read_qonnx

    space = get_space("cnv-l", input_shape=(3, 16, 16), num_classes=4,
                      stage_widths=((4, 8), (8, 16), (8, 16)), fc_widths=(16, 32))
    torch.manual_seed(0)
    net = build_supernet(space)
    init_activation_ranges(net, torch.rand(16, 3, 16, 16))
    c = space.seeds()[0].replace(**{"quant.conv0.w": 8})
    model = net.extract(c).eval()
    x = np.random.default_rng(0).random((6, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    path = export_qonnx(model, (3, 16, 16), tmp_path / "m.qonnx.onnx")
    import onnx

    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "BipolarQuant" in ops
    np.testing.assert_allclose(run_qonnx(path, x), ref, atol=1e-5)
    spec = read_qonnx(path)
    convs = [l for l in spec.compute_layers if l.op == "conv"]
    assert convs[0].weight_bits == 8 and {l.weight_bits for l in convs[1:]} == {1}
    assert {l.act_bits for l in spec.compute_layers if l.act_bits} == {1}
    assert "1-bit" in qcdq_unsupported_reason(space.describe(c).compute_layers)


def test_depthwise_conv_builds_exports_and_reads_back(tmp_path):
    """A ``dwconv`` is a depthwise QuantConv2d (issue 11: it was built as a QuantLinear): its
    QONNX matches PyTorch and reads back as the same depthwise layer."""
    from fpga.export import export_qonnx, run_qonnx
    from hw_models.qonnx_reader import read_qonnx

    spec = NetworkSpec.from_dict({
        "input": {"channels": 3, "height": 12, "width": 12, "bits": 8, "thresholding": True},
        "layers": [
            {"name": "c0", "op": "conv", "out_channels": 8, "kernel": 3, "padding": 1,
             "weight_bits": 4, "act_bits": 4, "pe": 2, "simd": 3},
            {"name": "dw0", "op": "dwconv", "kernel": 3, "padding": 1, "weight_bits": 4,
             "act_bits": 4, "pe": 8, "simd": 3},
            {"name": "p0", "op": "maxpool", "kernel": 2},
            {"name": "f0", "op": "fc", "out_features": 5, "weight_bits": 4, "act_bits": None,
             "pe": 1, "simd": 4}]})
    model = _random_model(spec, seed=2)
    dw = model.blocks["dw0"].conv
    assert dw.groups == 8 and tuple(dw.weight.shape) == (8, 1, 3, 3)
    x = _pixels(4, spec)
    path = export_qonnx(model, (3, 12, 12), tmp_path / "m.qonnx.onnx")
    np.testing.assert_allclose(run_qonnx(path, x), _torch_logits(model, x), atol=1e-5)
    back = read_qonnx(path)
    assert [l.op for l in back.layers] == ["conv", "dwconv", "maxpool", "fc"]
    assert back.layer(back.layers[1].name).weight_bits == 4

"""``codesign estimate`` and ``codesign devices``: output schema, published cycles, bad input
(exit 2 with the field named) and no torch import."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codesign.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CNV = str(EXAMPLES / "cnv_w1a1.json")

REPORT_KEYS = {"device", "clock_mhz", "totals", "cycles_per_frame", "fps", "bottleneck",
               "layers", "unsupported"}
LAYER_KEYS = {"name", "op", "cycles", "lut", "bram18", "dsp", "pe", "simd"}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_estimate_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "estimate", CNV, "--device", "pynq-z1")
    assert REPORT_KEYS <= set(d)
    assert set(d["totals"]) >= {"lut", "bram18", "dsp", "uram"}
    assert d["device"] == "pynq-z1" and d["clock_mhz"] == 100.0
    assert d["unsupported"] == []
    for layer in d["layers"]:
        assert LAYER_KEYS <= set(layer)
    assert d["totals"]["lut"] == sum(l["lut"] for l in d["layers"])
    assert d["cycles_per_frame"] == max(l["cycles"] for l in d["layers"])
    assert d["fps"] == pytest.approx(100e6 / d["cycles_per_frame"])
    assert d["bottleneck"] == "fc0"


def test_estimate_reproduces_published_cycles(capsys: pytest.CaptureFixture[str]) -> None:
    """CNV-W1A1 with its published folding: BNN-PYNQ config.h "Ext Latency" per layer."""
    d = run_json(capsys, "estimate", CNV, "--device", "pynq-z1", "--clock-mhz", "100")
    cycles = {l["name"]: l["cycles"] for l in d["layers"]}
    assert [cycles[n] for n in ("conv0", "conv1", "conv2", "conv3", "conv4", "conv5", "fc0",
                                "fc1")] == [32400, 28224, 20736, 28800, 20736, 18432, 32768, 32768]


def test_estimate_cybsec_luts(capsys: pytest.CaptureFixture[str]) -> None:
    d = run_json(capsys, "estimate", str(EXAMPLES / "cybsec_mlp.json"), "--lut-variant", "finn2022",
                 "--no-interconnect", "--io-profile", "none")
    assert [l["lut"] for l in d["layers"]] == [8184, 1217, 1217, 341]
    assert [l["bram18"] for l in d["layers"]] == [36, 4, 4, 1]
    assert d["fps"] == pytest.approx(1_562_500.0)


def test_estimate_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", CNV, "--device", "ultra96"]) == 0
    out = capsys.readouterr().out
    for word in ("conv0", "fc2", "total", "LUT", "BRAM18", "DSP", "frames/s", "fc0", "ultra96"):
        assert word in out
    assert "32,400" in out


def _unfolded(tmp_path: Path) -> str:
    data = json.loads(Path(CNV).read_text())
    for layer in data["layers"]:
        layer.pop("pe", None)
        layer.pop("simd", None)
    path = tmp_path / "cnv_unfolded.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_missing_folding_without_target_is_pe_simd_1(capsys, tmp_path: Path) -> None:
    d = run_json(capsys, "estimate", _unfolded(tmp_path))
    compute = [l for l in d["layers"] if l["op"] in ("conv", "fc")]
    assert all(l["pe"] == 1 and l["simd"] == 1 for l in compute)


def test_missing_folding_with_target_meets_it(capsys, tmp_path: Path) -> None:
    d = run_json(capsys, "estimate", _unfolded(tmp_path), "--target-fps", "2000")
    assert d["fps"] >= 2000 and d["target_fps"] == 2000
    compute = [l for l in d["layers"] if l["op"] in ("conv", "fc")]
    assert all(l["pe"] and l["simd"] for l in compute)
    assert any(l["pe"] * l["simd"] > 1 for l in compute)


def test_given_folding_is_kept_with_target(capsys) -> None:
    d = run_json(capsys, "estimate", CNV, "--target-fps", "1e6")
    assert [(l["pe"], l["simd"]) for l in d["layers"] if l["name"] == "conv0"] == [(16, 3)]


def test_devices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    for name in ("pynq-z1", "ultra96", "zcu104", "zc706", "u250", "xc7z020", "53,200", "BRAM18",
                 "URAM", "clock"):
        assert name in out
    devices = run_json(capsys, "devices")
    z1 = next(d for d in devices if d["name"] == "pynq-z1")
    assert (z1["lut"], z1["ff"], z1["bram18"], z1["uram"], z1["dsp"], z1["clock_mhz"]) == \
        (53_200, 106_400, 280, 0, 220, 100.0)


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "net.json"
    path.write_text(text)
    return str(path)


def _illegal_folding(tmp_path: Path) -> str:
    data = json.loads(Path(CNV).read_text())
    data["layers"][1]["simd"] = 5          # conv1: C_in = 64
    return _write(tmp_path, json.dumps(data))


@pytest.mark.parametrize("argv, words", [
    (["--device", "pynq-z9"], ["device", "pynq-z1", "u250"]),
    (["--clock-mhz", "0"], ["--clock-mhz", "> 0"]),
    (["--clock-mhz", "-100"], ["--clock-mhz"]),
    (["--target-fps", "0"], ["--target-fps", "> 0"]),
    (["--target-fps", "-3"], ["--target-fps"]),
    (["--lut-variant", "finn1999"], ["lut_variant", "finn2022", "finn2026"]),
])
def test_bad_options_exit_2(capsys, argv: list[str], words: list[str]) -> None:
    assert main(["estimate", CNV] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("codesign estimate: error: ")
    for w in words:
        assert w in err


@pytest.mark.parametrize("content, words", [
    (None, ["network", "file not found"]),
    ("{not json", ["network", "not valid JSON"]),
    ('{"input": {"channels": 3, "height": 8, "width": 8}, "layers": []}', ["layers"]),
    ('{"input": {"channels": 3, "height": 8, "width": 8}, "layers": [{"op": "lstm"}]}',
     ["layers[0].op", "conv", "maxpool", "fc"]),
    ("ILLEGAL", ["layers[1].simd", "conv1", "1, 2, 4, 8, 16, 32, 64"]),
])
def test_bad_network_exit_2(capsys, tmp_path: Path, content: str | None, words: list[str]) -> None:
    if content is None:
        path = str(tmp_path / "missing.json")
    elif content == "ILLEGAL":
        path = _illegal_folding(tmp_path)
    else:
        path = _write(tmp_path, content)
    assert main(["estimate", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("codesign estimate: error: ")
    for w in words:
        assert w in err


def test_estimate_does_not_import_torch() -> None:
    code = ("import sys, codesign.cli\n"
            f"rc = codesign.cli.main(['estimate', {CNV!r}, '--json', '--target-fps', '1000'])\n"
            "assert rc == 0, rc\n"
            "heavy = sorted(m for m in ('torch', 'torchvision', 'brevitas') if m in sys.modules)\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_cost_modules_do_not_import_torch() -> None:
    code = ("import sys, hw_models.cost, hw_models.folding, hw_models.finn_ops\n"
            "assert 'torch' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr

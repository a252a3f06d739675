"""``codesign fold``: JSON schema, optimum <= SetFolding, --out, --sweep files, bad input
(exit 2 naming the field), and no torch import."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codesign.cli import main
from hw_models.network import NetworkSpec

ROOT = Path(__file__).resolve().parents[2]
CNV = str(ROOT / "examples" / "cnv_w1a1.json")
TFC = str(ROOT / "examples" / "tfc_w1a1.json")


def test_fold_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fold", CNV, "--device", "pynq-z1", "--target-fps", "1000", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["budget_cycles"] == 100_000 and d["objective"] == "lut"
    ours, sf = d["ours"], d["set_folding"]
    assert ours["meets_target"] and ours["cycles_per_frame"] <= 100_000
    assert sf["meets_target"]  # so SetFolding's folding is feasible for ours: ours <= it
    assert ours["totals"]["lut"] <= sf["totals"]["lut"]
    assert d["lut_saved"] == sf["totals"]["lut"] - ours["totals"]["lut"]
    assert set(ours["folding"]) == {"conv0", "conv1", "conv2", "conv3", "conv4", "conv5", "fc0",
                                    "fc1", "fc2"}


def test_fold_table_and_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "folded.json"
    assert main(["fold", TFC, "--target-fps", "1e6", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for word in ("fc0", "total", "SetFolding", "LUTs saved", "frames/s", "SF LUT"):
        assert word in text
    spec = NetworkSpec.load(out)
    assert all(l.pe and l.simd for l in spec.compute_layers)


def test_fold_weighted(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fold", CNV, "--target-fps", "500", "--json"]
    assert main(args) == 0
    lut_only = json.loads(capsys.readouterr().out)["ours"]
    assert main(args + ["--objective", "weighted", "--weights", "1,1000,1000"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["objective"] == "weighted" and d["weights"]["bram18"] == 1000
    assert d["ours"]["totals"]["bram18"] <= lut_only["totals"]["bram18"]
    assert d["ours"]["cost"] <= lut_only["totals"]["lut"] + 1000 * lut_only["totals"]["bram18"]


def test_fold_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fold", TFC, "--sweep", "--out", str(tmp_path), "--max-points", "20"]) == 0
    d = json.loads((tmp_path / "sweep.json").read_text())
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pts = d["points"]
    assert 2 <= len(pts) <= 20
    fps = [p["fps"] for p in pts]
    luts = [p["lut"] for p in pts]
    assert fps == sorted(fps, reverse=True) and luts == sorted(luts, reverse=True)
    assert len(set(luts)) == len(luts)
    for p in pts:
        if p["set_folding"]["meets_target"]:
            assert p["lut"] <= p["set_folding"]["lut"]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("argv, field", [
    (["--target-fps", "1e9"], "--target-fps"),            # out of reach
    (["--target-fps", "-1"], "--target-fps"),
    ([], "--target-fps"),                                   # missing
    (["--target-fps", "10", "--weights", "1,2,3"], "--weights"),
    (["--target-fps", "10", "--objective", "weighted"], "--weights"),
    (["--target-fps", "10", "--objective", "weighted", "--weights", "1,-2,3"], "--weights"),
    (["--sweep"], "--out"),
    (["--target-fps", "5e7"], "device"),                   # tfc at 50 Mfps: too many LUTs
])
def test_fold_bad_input(argv: list[str], field: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fold", TFC] + argv) == 2
    err = capsys.readouterr().err
    assert f"error: {field}:" in err


def test_fold_device_error_names_resource(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fold", TFC, "--target-fps", "5e7"]) == 2
    err = capsys.readouterr().err
    assert "LUT" in err and "pynq-z1" in err and "capacity 53,200" in err


def test_fold_is_torch_free() -> None:
    code = ("import sys; from codesign.cli import main; "
            f"rc = main(['fold', {TFC!r}, '--target-fps', '1e5', '--json']); "
            "assert rc == 0 and 'torch' not in sys.modules, sorted(m for m in sys.modules "
            "if m.startswith('torch'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr

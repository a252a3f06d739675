"""``codesign calibrate`` and ``codesign estimate --calibrated``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from codesign.cli import main
from hw_models.calibration import DEFAULT_ROWS_PATH

ROOT = Path(__file__).resolve().parents[2]
CYBSEC = str(ROOT / "examples" / "cybsec_mlp.json")
CNV = str(ROOT / "examples" / "cnv_w1a1.json")


def test_calibrate_writes_model_and_estimate_uses_it(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model.json"
    assert main(["calibrate", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "leave-one-out" in text and "bnnpynq_lfcW1A1_pynqz1" in text
    model = json.loads(out.read_text())
    assert model["schema"] == 1 and len(model["fitted_on"]) == 8
    assert "leave-one-family-out" in text
    assert main(["estimate", CYBSEC, "--device", "pynq-z1", "--calibrated", str(out),
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    lo, hi = d["totals"]["lut_band"]
    assert lo <= d["totals"]["lut"] <= hi
    assert "bram18_band" in d["totals"] and d["model"] == "finn-calibrated"
    # default (packaged) calibration, text output
    assert main(["estimate", CYBSEC, "--calibrated"]) == 0
    assert "calibrated totals" in capsys.readouterr().out


def test_calibrate_json_from_user_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(DEFAULT_ROWS_PATH.read_text())["rows"][:5]
    data = tmp_path / "rows.json"
    data.write_text(json.dumps(rows))
    assert main(["calibrate", "--data", str(data), "--json"]) == 0
    model = json.loads(capsys.readouterr().out)
    assert model["loo"]["n"] == 5


def test_calibrate_missing_field_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(DEFAULT_ROWS_PATH.read_text())["rows"][:3]
    del rows[2]["bram18"]
    data = tmp_path / "rows.json"
    data.write_text(json.dumps(rows))
    assert main(["calibrate", "--data", str(data)]) == 2
    assert "rows[2].bram18" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [[], ["--json"]])
@pytest.mark.parametrize("net", [CYBSEC, CNV])
def test_estimate_reports_bands_by_default(net: str, extra: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Without --calibrated the totals are the plain FINN model's, and the packaged
    calibration's figures and bands are reported beside them (issue 11, item 4)."""
    from codesign.commands.estimate import format_report, load_network
    from hw_models.calibration import CalibratedFinnModel
    from hw_models.cost import FinnCostModel

    assert main(["estimate", net, "--device", "pynq-z1", *extra]) == 0
    got = capsys.readouterr().out
    spec = load_network(net)
    model = FinnCostModel("pynq-z1")
    report = model.estimate(spec)
    cal = CalibratedFinnModel("pynq-z1").estimate(spec)
    if extra:
        d = json.loads(got)
        assert {k: d["totals"][k] for k in report.totals} == report.totals
        assert d["totals"]["lut_band"] == list(cal.lut_band)
        assert d["totals"]["bram18_band"] == list(cal.bram18_band)
        assert d["totals"]["lut_calibrated"] == cal.lut and d["calibration"]["available"]
    else:
        assert got.startswith(format_report(report, spec, model) + "\n")
        assert f"LUT {cal.lut:,} [{cal.lut_band[0]:,}, {cal.lut_band[1]:,}]" in got


def test_estimate_finn_view_has_no_band_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", CNV, "--no-interconnect", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["totals"]["lut_band"] is None and not d["calibration"]["available"]
    assert "interconnect" in d["calibration"]["why"]

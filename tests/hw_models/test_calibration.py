"""Calibration fit (hw_models.calibration): coefficient recovery, LOO by hand, bad rows, the
packaged model, and no torch import."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fpga.errors import InputError
from hw_models import calibration as cal
from hw_models.cost import FinnCostModel
from hw_models.network import NetworkSpec

ROOT = Path(__file__).resolve().parents[2]
CYBSEC = json.loads((ROOT / "examples" / "cybsec_mlp.json").read_text())


def test_nnls_recovers_known_linear_relation() -> None:
    rng = np.random.default_rng(0)
    F = rng.uniform(1e3, 5e4, size=(12, 2))
    y = 0.7 * F[:, 0] + 1.3 * F[:, 1] + 2500.0
    coef, fixed = cal._fit_target(F, y, cal.LUT_TERMS)
    assert fixed == []
    assert coef["a_mvau"] == pytest.approx(0.7, rel=1e-9)
    assert coef["a_other"] == pytest.approx(1.3, rel=1e-9)
    assert coef["c_lut"] == pytest.approx(2500.0, rel=1e-6)


def test_nnls_clamps_negative_offset_and_fixes_unidentified_column() -> None:
    F = np.array([[100.0, 0.0], [200.0, 0.0], [400.0, 0.0]])
    y = 2.0 * F[:, 0] - 50.0  # the unconstrained offset would be negative
    coef, fixed = cal._fit_target(F, y, cal.LUT_TERMS)
    assert fixed == ["a_other"] and coef["a_other"] == 1.0
    assert coef["c_lut"] == 0.0 and coef["a_mvau"] > 0


def test_loo_on_tiny_hand_example() -> None:
    # y = 2x exactly on rows 0..2, row 3 off the line: hold out 3 -> fit on the exact line
    F = np.array([[1.0], [2.0], [3.0], [4.0]])
    y = np.array([2.0, 4.0, 6.0, 10.0])
    pred = cal.loo(F, y, cal.BRAM_TERMS)
    assert pred[3] == pytest.approx(8.0)  # 2 * 4 from the fit on the other three
    for i in range(3):  # each matches the fit on the other three rows, computed directly
        keep = np.arange(4) != i
        coef, _ = cal._fit_target(F[keep], y[keep], cal.BRAM_TERMS)
        assert pred[i] == pytest.approx(coef["b_scale"] * F[i, 0] + coef["c_bram18"])


def test_band_halfwidth_covers_requested_share() -> None:
    r = [0.01, -0.05, 0.10, -0.30, 0.22]
    q = cal.band_halfwidth(r, 0.8, 0.0)
    assert q == pytest.approx(0.22)
    assert np.mean(np.abs(r) <= q) >= 0.8
    assert cal.band_halfwidth(r, 0.8, 0.25) == 0.25


def _row(name: str, **over) -> dict:
    d = {"name": name, "device": "pynq-z1", "clock_mhz": 100.0, "network": CYBSEC,
         "lut": 8000, "bram18": 44, "source": {"repo": "example/repo", "path": "report.txt"}}
    d.update(over)
    return d


@pytest.mark.parametrize("missing", ["name", "device", "network", "lut", "bram18", "clock_mhz",
                                     "source"])
def test_missing_field_names_it(tmp_path: Path, missing: str) -> None:
    rows = [_row("a"), _row("b"), _row("c")]
    del rows[1][missing]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(InputError) as exc:
        cal.load_rows(path)
    assert exc.value.field == f"rows[1].{missing}"


def test_bad_values_and_csv_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps({"rows": [_row("a", lut="many")]}))
    with pytest.raises(InputError) as exc:
        cal.load_rows(path)
    assert exc.value.field == "rows[0].lut"
    csv_path = tmp_path / "rows.csv"
    csv_path.write_text("name,device,network_path,lut,bram18,source\na,pynq-z1,n.json,1,1,x\n")
    with pytest.raises(InputError) as exc:
        cal.load_rows(csv_path)
    assert "clock_mhz" in exc.value.field


def test_csv_rows_load(tmp_path: Path) -> None:
    (tmp_path / "net.json").write_text(json.dumps(CYBSEC))
    (tmp_path / "rows.csv").write_text("name,device,clock_mhz,network_path,lut,bram18,source\n"
                                       "a,pynq-z1,100,net.json,8000,44,report A\n"
                                       "b,pynq-z1,,net.json,7000,40,report B\n")
    rows = cal.load_rows(tmp_path / "rows.csv")
    assert [r.name for r in rows] == ["a", "b"] and rows[1].clock_mhz is None
    assert rows[0].network.name == CYBSEC["name"]


def test_packaged_rows_have_sources_and_keep_the_held_out_builds_out() -> None:
    packaged = json.loads(cal.DEFAULT_ROWS_PATH.read_text())
    names = {r["name"] for r in packaged["rows"]}
    assert len(names) == 8 and all(s["reason"] for s in packaged["skipped"])
    assert all(r["source"] for r in packaged["rows"])
    # BNN-PYNQ's CNV builds are the held-out test: never fitted on
    for r in packaged["rows"]:
        src = json.dumps(r["source"])
        assert not ("BNN-PYNQ" in src and "network/cnv" in src), r["name"]
    fams = {cal.network_family(NetworkSpec.from_dict(r["network"])) for r in packaged["rows"]}
    assert fams == {"mlp-1bit", "mlp-multibit", "cnn-1bit"}


def test_row_without_source_or_with_unknown_op_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([_row("a", source="")]))
    with pytest.raises(InputError) as exc:
        cal.load_rows(path)
    assert exc.value.field == "rows[0].source"
    net = json.loads(json.dumps(CYBSEC))
    net["layers"][1]["op"] = "attention"
    path.write_text(json.dumps([_row("a"), _row("b", network=net)]))
    with pytest.raises(InputError) as exc:
        cal.load_rows(path)
    assert exc.value.field.startswith("rows[1].network.") and exc.value.field.endswith(".op")


def test_family_held_out_prediction_never_sees_the_family() -> None:
    F = np.array([[1.0], [2.0], [3.0], [4.0], [10.0]])
    y = np.array([2.0, 4.0, 6.0, 8.0, 50.0])
    pred = cal.family_loo(F, y, cal.BRAM_TERMS, ["a", "a", "b", "b", "c"], offset=False)
    coef, _ = cal._fit_target(F[[0, 1, 2, 3]], y[[0, 1, 2, 3]], cal.BRAM_TERMS, False)
    assert pred[4] == pytest.approx(coef["b_scale"] * 10.0)  # "c" from a and b alone
    assert np.isnan(cal.family_loo(F, y, cal.BRAM_TERMS, ["a"] * 5)).all()


def test_band_is_widened_outside_what_the_rows_cover() -> None:
    m = cal.CalibratedFinnModel("pynq-z1")
    d = json.loads((ROOT / "examples" / "finn_check_dwconv.json").read_text())
    d["layers"] = [dict(l, weight_bits=4) if l["op"] != "maxpool" else l for l in d["layers"]]
    rep = m.estimate(NetworkSpec.from_dict(d))  # a multi-bit CNN: no such row is fitted
    info = rep.calibration
    assert info["family"] == "cnn-multibit" and not info["covered"]
    assert "no fitting row is a cnn-multibit design" in info["band_widened_because"][0]
    assert info["lut_rel_band"] >= 0.5
    inside = m.estimate(NetworkSpec.from_dict(CYBSEC)).calibration
    assert inside["covered"] and inside["lut_rel_band"] < info["lut_rel_band"]


def _close(a, b, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    """Nested dicts/lists equal, floats within a relative tolerance."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel, abs_) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y, rel, abs_) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=rel, abs=abs_)
    return a == b


def test_close_tolerates_last_digit_only() -> None:
    assert _close({"a": [2.375463177790501]}, {"a": [2.3754631777905013]})
    assert not _close({"a": [2.3754]}, {"a": [2.3755]})
    assert not _close({"a": 1.0}, {"b": 1.0})


def test_packaged_model_is_reproducible_and_bands() -> None:
    model = cal.load_calibration()
    assert model["schema"] == 1 and model["version"] == "v3"
    refit = cal.fit_calibration(cal.load_rows(cal.DEFAULT_ROWS_PATH))
    # fitted floats differ in the last digits between CPUs (BLAS, instruction sets): compare
    # with a tolerance, everything else exactly
    assert _close(refit["coefficients"], model["coefficients"])
    assert _close(refit["fitted_on"], model["fitted_on"])
    for key in ("lut", "bram18"):
        assert model["loo"][key]["band_coverage_loo"] >= 0.8
        assert model["loo"][key]["rel_band"] >= 0.2
    spec = NetworkSpec.from_dict(CYBSEC)
    raw = FinnCostModel("pynq-z1").estimate(spec)
    rep = cal.CalibratedFinnModel("pynq-z1").estimate(spec)
    d = rep.to_dict()
    lo, hi = d["totals"]["lut_band"]
    assert lo <= d["totals"]["lut"] <= hi
    lo, hi = d["totals"]["bram18_band"]
    assert lo <= d["totals"]["bram18"] <= hi
    assert d["uncalibrated_totals"] == {"lut": raw.lut, "bram18": raw.bram18}
    assert [l.to_dict() for l in rep.layers] == [l.to_dict() for l in raw.layers]
    c = model["coefficients"]["lut"]
    f = cal.features(raw)
    assert f["other_lut"] > 0  # FIFO allowance and width converters are priced as "other"
    assert rep.lut == round(c["a_mvau"] * f["mvau_lut"] + c["a_other"] * f["other_lut"]
                            + c["c_lut"])


def test_calibrated_model_rejects_other_settings() -> None:
    with pytest.raises(InputError) as exc:
        cal.CalibratedFinnModel("pynq-z1", lut_variant="finn2022")
    assert exc.value.field == "lut_variant"


def test_bad_model_file(tmp_path: Path) -> None:
    bad = json.loads(cal.DEFAULT_MODEL_PATH.read_text())
    del bad["coefficients"]["lut"]["c_lut"]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(InputError) as exc:
        cal.load_calibration(path)
    assert exc.value.field == "calibration.coefficients.lut.c_lut"


def test_no_torch_import() -> None:
    code = ("import sys, hw_models.calibration, codesign.commands.calibrate; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)

"""``codesign compare`` and ``codesign report``: the hypervolume table against a stated
reference point, and pages that a real headless browser (Debian's chromium) renders: the
script runs, draws every design and the fronts, and a screenshot shows the plot.

Unit-test data: hand-made ``pareto.json`` files.  Without chromium these tests skip locally;
under CI (``CI=true``, where ``scripts/test.sh`` installs it) a missing browser fails them.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.search.compare import front_hypervolume, reference_point

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _run(folder: Path, designs: list[dict], **request) -> Path:
    folder.mkdir(parents=True)
    net = {"name": "n", "input": {"channels": 1, "height": 28, "width": 28, "bits": 8},
           "layers": [{"name": "fc0", "op": "fc", "in_channels": 784, "out_channels": 10,
                       "weight_bits": 4, "act_bits": None}]}
    for i, d in enumerate(designs):
        d.setdefault("id", i)
        d.setdefault("feasible", True)
        d.setdefault("network", net)
    req = {"dataset": "fashion-mnist", "device": "pynq-z1", "strategy": "nsga2", **request}
    (folder / "pareto.json").write_text(json.dumps({
        "schema": 1, "request": req, "designs": designs,
        "objectives": [{"name": "accuracy", "sense": "max"}, {"name": "lut", "sense": "min"},
                       {"name": "fps", "sense": "max"}],
        "constraints": [{"metric": "lut", "sense": "max", "limit": 30000.0}],
        "timing": {"train_s": 1.0, "search_s": 2.0, "total_s": 3.0, "sessions": 1},
        "trials": {"completed": len(designs), "evaluated": len(designs)}}))
    return folder


def _two_runs(tmp_path: Path) -> tuple[Path, Path]:
    a = _run(tmp_path / "nsga2", [
        {"accuracy": 0.9, "lut": 10000, "fps": 12000, "on_front": True},
        {"accuracy": 0.8, "lut": 5000, "fps": 12000, "on_front": True},
        {"accuracy": 0.7, "lut": 9000, "fps": 12000}], max_lut=30000)
    b = _run(tmp_path / "random", [
        {"accuracy": 0.85, "lut": 20000, "fps": 15000, "on_front": True},
        {"accuracy": 0.95, "lut": 40000, "fps": 15000, "feasible": False}], max_lut=30000)
    return a, b


def test_hypervolume_against_the_stated_reference_point(tmp_path):
    a, b = _two_runs(tmp_path)
    runs = [("a", json.loads((a / "pareto.json").read_text())),
            ("b", json.loads((b / "pareto.json").read_text()))]
    ref = reference_point(runs, "lut")
    assert ref["accuracy"] == 0 and ref["lut"] == 30000 and "budget" in ref["why"]
    front = [{"accuracy": 0.9, "lut": 10000}, {"accuracy": 0.8, "lut": 5000}]
    # by hand: points (0.1, 1/3) and (0.2, 1/6) in (error, LUT share) up to (1, 1)
    assert front_hypervolume(front, "lut", ref) == pytest.approx(0.9 * (2 / 3) + 0.8 * (1 / 6))
    # a given reference point: accuracy 0.8 drops the 80 % design's contribution
    ref2 = reference_point(runs, "lut", (0.8, 20000))
    assert front_hypervolume(front, "lut", ref2) == pytest.approx(0.5 * 0.5)
    ref_fps = reference_point(runs, "fps")
    assert ref_fps["fps"] == 0 and ref_fps["scale"] == 15000


def test_compare_prints_the_table_and_writes_png_and_html(tmp_path, capsys):
    a, b = _two_runs(tmp_path)
    png = tmp_path / "out" / "fronts.png"
    assert main(["compare", str(a), str(b), "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "reference point: accuracy 0, lut 30,000 (the runs' loosest budget)" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:4]}
    assert rows["nsga2"][1] == "2" and float(rows["nsga2"][4]) == pytest.approx(
        0.9 * (2 / 3) + 0.8 * (1 / 6), abs=1e-4)
    assert rows["random"][1] == "1"  # the infeasible design is not on its front
    assert png.read_bytes()[:4] == b"\x89PNG"
    page = png.with_suffix(".html").read_text()
    assert "<script" in page and "hypervolume" in page.lower()


def test_report_lists_the_request_front_plots_and_exports(tmp_path, capsys):
    a, _ = _two_runs(tmp_path)
    bundle = a / "export"
    bundle.mkdir()
    (bundle / "report.json").write_text(json.dumps({
        "schema": 1, "design": {"id": 0, "selected_as": "best"}, "test_accuracy": 0.91,
        "test_images": 10000, "cost": {"totals": {"lut": 10000, "bram18": 20}, "fps": 12000},
        "qonnx_agreement": 1.0, "qcdq_agreement": 1.0,
        "files": {"qonnx": "model.qonnx.onnx", "folding": "folding_config.json"}}))
    assert main(["report", str(a)]) == 0
    assert "1 exported" in capsys.readouterr().out
    page = (a / "report.html").read_text()
    for text in ("91.00 % on 10000 images", "export/model.qonnx.onnx", "fashion-mnist",
                 "nsga2", "The front (2 designs)"):
        assert text in page, text


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("no chromium on this CI machine: scripts/test.sh installs Debian's chromium")
    pytest.skip("no chromium here (scripts/test.sh installs Debian's chromium)")


def _chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=5000", *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _rendered(page: Path, tmp_path: Path, designs: int, runs: int) -> None:
    """The DOM after the page's script ran, and a screenshot with the plot's colours in it."""
    dom = _chromium(page, tmp_path, "--dump-dom").stdout
    assert 'data-ready="1"' in dom, "the page's script did not finish"
    assert f"{designs} designs of {runs} run(s) drawn" in dom
    assert len(re.findall(r'<circle[^>]*class="pt"', dom)) == designs
    assert len(re.findall(r'<path[^>]*class="front"', dom)) == runs
    shot = tmp_path / "shot.png"
    _chromium(page, tmp_path, "--window-size=1000,900", f"--screenshot={shot}")
    import matplotlib.image as mpimg
    import numpy as np

    img = mpimg.imread(shot)[..., :3]
    blue = np.array([0x1f, 0x77, 0xb4]) / 255  # the first run's colour
    assert (np.abs(img - blue).max(axis=2) < 0.08).sum() > 100, "no plot in the screenshot"


def test_compare_page_renders_in_a_real_browser(tmp_path):
    a, b = _two_runs(tmp_path)
    png = tmp_path / "fronts.png"
    assert main(["compare", str(a), str(b), "--out", str(png)]) == 0
    _rendered(png.with_suffix(".html"), tmp_path, designs=4, runs=2)


def test_report_page_renders_in_a_real_browser(tmp_path):
    a, _ = _two_runs(tmp_path)
    assert main(["report", str(a)]) == 0
    _rendered(a / "report.html", tmp_path, designs=3, runs=1)

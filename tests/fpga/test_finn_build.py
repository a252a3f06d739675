"""FINN's own build of our exports: every name in our build files is a node of FINN's graph, every
pinned style is built and every PE/SIMD is applied (finn-plus 1.6.1, estimate-only build).

Runs ``bench/finn_check.py prepare`` in this interpreter (torch + brevitas) and ``check
--bundle`` with ``.venv-finn/bin/python`` (or ``$CODESIGN_FINN_PYTHON``; FINN's pins cannot share the product venv;
``scripts/test.sh`` creates it unless ``CODESIGN_SKIP_FINN=1``).  Skips, saying why, when that
interpreter is missing or cannot import FINN.  Networks: every ``examples/finn_check_*.json``
(the two of bench/FINN_CHECK.md; a network starting with an fc; one with depthwise convs,
i.e. VVAUs), whose last layers have no activation and >= 4-bit inputs and weights (FINN's
default would make an RTL MVAU of those), plus the example on a Versal part.  Each FINN build
takes about 1-2 s.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FINN_PY = Path(os.environ.get("CODESIGN_FINN_PYTHON", REPO / ".venv-finn" / "bin" / "python"))
SCRIPT = REPO / "bench" / "finn_check.py"
PRESETS = sorted(p.stem[len("finn_check_"):] for p in (REPO / "examples").glob("finn_check_*.json"))
VERSAL = "xcvc1902-vsva2197-2MP-e-S"

pytestmark = [pytest.mark.slow, pytest.mark.finn]


def _finn_unavailable() -> str | None:
    if not FINN_PY.is_file():
        return (f"{FINN_PY} not found: FINN lives in its own venv (bash scripts/test.sh creates "
                "it: python3 -m venv .venv-finn && .venv-finn/bin/pip install finn-plus psutil)")
    try:
        r = subprocess.run([str(FINN_PY), "-c", "import finn.builder.build_dataflow_config, "
                            "qonnx, onnx"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{FINN_PY} cannot run: {exc}"
    if r.returncode:
        return f"{FINN_PY} cannot import finn: {r.stderr.strip().splitlines()[-1:]}"
    return None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FINN_BUILD_DIR", "PYTHONPATH")}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def _run(python: str | Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=cwd, env=_env(), timeout=600)


def _check(bundles: list[Path]) -> tuple[int, str]:
    """``check --bundle`` of several bundles in one FINN process (FINN's import takes ~4 s, a
    build ~1 s); the worst exit status and the output."""
    r = _run(FINN_PY, "check", "--bundle", *map(str, bundles), cwd=bundles[0].parent)
    return r.returncode, r.stdout[-20000:] + r.stderr[-4000:]


def _summary(bundle: Path) -> dict:
    path = bundle / "finn_check.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """``{case: (bundle dir, exit status, summary, output)}``, every case built by FINN (the
    exit status is the worst of the cases checked in the same process: all the good ones
    together, the bad ones one each)."""
    reason = _finn_unavailable()
    if reason:
        pytest.skip(reason)
    pytest.importorskip("torch")
    pytest.importorskip("brevitas")
    root = tmp_path_factory.mktemp("finn")
    cases = {p: ("--preset", p) for p in PRESETS}
    cases["example_versal"] = ("--preset", "example", "--fpga-part", VERSAL)
    with ThreadPoolExecutor(max_workers=2) as pool:
        prepared = list(pool.map(
            lambda c: _run(sys.executable, "prepare", *cases[c], "--out", str(root / c),
                           cwd=root), cases))
    for r in prepared:
        assert r.returncode == 0, r.stdout + r.stderr
    # a bundle with a name FINN does not have, in each file; and one without pins
    bogus, unpinned = root / "example_bogus", root / "example_unpinned"
    for d in (bogus, unpinned):
        shutil.copytree(root / "example", d)
    for name, key, value in (("folding_config.json", "MVAU_hls_99", {"PE": 1}),
                             ("specialize_layers.json", "MVAU_99",
                              {"preferred_impl_style": "hls"})):
        cfg = json.loads((bogus / name).read_text())
        cfg[key] = value
        (bogus / name).write_text(json.dumps(cfg))
    (unpinned / "specialize_layers.json").write_text('{"Defaults": {}}')
    groups = [[root / c for c in cases], [bogus], [unpinned]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_check, groups))
    return {d.name: (d, rc, _summary(d), out)
            for group, (rc, out) in zip(groups, results) for d in group}


@pytest.mark.parametrize("case", [*PRESETS, "example_versal"])
def test_finn_builds_our_names_styles_and_folding(builds, case):
    bundle, rc, summary, out = builds[case]
    assert rc == 0, out
    assert summary["ok"] and summary["problems"] == [] and summary["completed"]
    folding = json.loads((bundle / "folding_config.json").read_text())
    pins = json.loads((bundle / "specialize_layers.json").read_text())
    build = json.loads((bundle / "finn_build.json").read_text())
    # FINN ran the build configuration we wrote (its own loader), with our part
    assert summary["build_config"].endswith("finn_build.json")
    assert summary["fpga_part"] == build["fpga_part"] == (VERSAL if "versal" in case
                                                          else "xc7z020clg400-1")
    assert summary["steps"] == build["steps"]
    # every name of ours is a node of FINN's graph, and every node has exactly one entry
    assert sorted(k for k in folding if k != "Defaults") == sorted(summary["graph_nodes"])
    assert sorted(k for k in pins if k != "Defaults") == sorted(summary["graph_nodes_before"])
    assert summary["all_names_in_graph"] and summary["all_folding_applied"]
    assert summary["names_as_predicted"] and summary["style_mismatches"] == []
    # every PE/SIMD of ours is the applied one
    for node in summary["nodes"]:
        ours = {k: v for k, v in folding[node["name"]].items() if k in ("PE", "SIMD")}
        assert node["applied"] == ours == node["expected"], node
        assert node["status"] == "ok" and node["before"] in pins
    # the pinned styles: every MVAU is HLS, also the no-activation last layer
    assert not any(n.startswith(("MVAU_rtl", "VVAU_rtl", "ElementwiseMul_rtl"))
                   for n in summary["graph_nodes"])
    assert summary["outside_partition"] == []


def test_finn_mvau_estimates_match_our_hls_pricing(builds):
    """Price what the configuration builds: every MVAU, the last layer's included, is an HLS
    MVAU in FINN, and our HLS price of it is within 2 % of FINN's LUT estimate (FINN narrows
    the accumulator from the trained weights, ours is the bound), BRAM18 and cycles equal."""
    from hw_models.finn_build import finn_nodes
    from hw_models.cost import FinnCostModel
    from hw_models.network import NetworkSpec

    for case in PRESETS:
        bundle, rc, summary, out = builds[case]
        assert rc == 0, out
        spec = NetworkSpec.load(bundle / "network.json")
        report = FinnCostModel.finn_view("pynq-z1", 100).estimate(spec)
        stage = {l.name: next(s for s in l.stages if s.op == "MVAU")
                 for l in report.layers if any(s.op == "MVAU" for s in l.stages)}
        layer_of = {n.name: n.layer for n in finn_nodes(spec.layers)}
        finn = {n["name"]: n for n in summary["nodes"] if n["op_type"] == "MVAU_hls"}
        assert len(finn) == len(stage), case
        for name, node in finn.items():
            ours, res = stage[layer_of[name]], node["resources"]
            assert ours.cycles == node["cycles"], (case, name)
            assert ours.bram18 == res["BRAM_18K"], (case, name)
            assert ours.dsp == res["DSP"] == 0, (case, name)
            assert res["LUT"] <= ours.lut <= 1.02 * res["LUT"], (case, name, ours.lut, res)


def test_check_fails_on_a_name_finn_does_not_have(builds):
    _, rc, summary, out = builds["example_bogus"]
    assert rc == 1, out
    assert summary["folding_keys_not_in_graph"] == ["MVAU_hls_99"]
    assert summary["specialize_keys_not_in_graph"] == ["MVAU_99"]
    assert not summary["all_names_in_graph"] and not summary["ok"]
    assert len(summary["problems"]) == 2, summary["problems"]
    assert "'MVAU_hls_99' is not a node of FINN's graph" in out


def test_without_pins_finn_builds_other_names_and_check_fails(builds):
    """Issue 9: with FINN's default styles the last layer becomes MVAU_rtl_0, so a folding
    entry keyed MVAU_hls_3 would be ignored; check must say so."""
    _, rc, summary, out = builds["example_unpinned"]
    assert rc == 1, out
    assert "MVAU_rtl_0" in summary["graph_nodes"]
    assert summary["folding_keys_not_in_graph"] == ["MVAU_hls_3"]
    assert summary["nodes_without_folding"] == ["MVAU_rtl_0"]
    assert len(summary["nodes_without_pin"]) == len(summary["graph_nodes_before"])

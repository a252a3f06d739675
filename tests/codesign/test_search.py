"""The search command: bad input is refused before anything is written; a tiny real run works.

The end-to-end test trains on a synthetic toy set in the MNIST file format (unit-test data);
real-data figures are measured by the README's default run and recorded in bench/RESULTS.md.
"""
import json
import os

import pytest

from codesign.cli import main
from codesign.search.pricing import Pricer
from codesign.request import SearchRequest
from codesign.spaces.base import get_space
from hw_models.cost import FinnCostModel
from hw_models.network import NetworkSpec


def _search(out, data_dir, *extra):
    return main(["search", "--dataset", "mnist", "--data-dir", str(data_dir), "--device", "pynq-z1",
                 "--epochs", "1", "--val-size", "200", "--batch-size", "64", "--population", "4",
                 "--no-progress", "--out", str(out), *extra])


@pytest.mark.parametrize("extra,field", [
    (["--device", "nope", "--trials", "2"], "device"),
    (["--max-lut", "-5"], "max-lut"),
    (["--max-lut", "0"], "max-lut"),
    (["--max-lut", "500", "--min-fps", "10000"], "max-lut"),       # no design is that small
    (["--min-fps", "1e9"], "min-fps"),                              # nor that fast
    (["--max-dsp", "0"], "max-dsp"),
])
def test_bad_input_exits_2_and_writes_nothing(toy_idx_dir, tmp_path, capsys, extra, field):
    out = tmp_path / "run"
    assert _search(out, toy_idx_dir, *extra) == 2
    err = capsys.readouterr().err
    assert field in err and "error" in err
    assert not out.exists()


def test_unreachable_budget_names_the_cheapest_cost(toy_idx_dir, tmp_path, capsys):
    assert _search(tmp_path / "r", toy_idx_dir, "--max-lut", "500", "--min-fps", "10000") == 2
    err = capsys.readouterr().err
    assert "cheapest" in err and "LUT" in err


def test_missing_data_dir(tmp_path, capsys):
    assert _search(tmp_path / "r", tmp_path / "nowhere") == 2
    assert "data-dir" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_pricer_repairs_folding_to_meet_min_fps(tmp_path):
    req = SearchRequest(dataset="mnist", device="pynq-z1", out=str(tmp_path), max_lut=30_000,
                        min_fps=10_000)
    space = get_space("cnv")
    c = space.extreme(largest=False)
    c = c.replace(**{k: 1 for k in c if k.startswith("fold.")})  # fully folded: far too slow
    p = Pricer(space, req).price(c)
    assert p.cost["fps"] >= 10_000 and p.feasible
    # an over-parallel choice is refolded when it breaks the LUT budget
    big = space.extreme(largest=True)
    q = Pricer(space, req).price(big)
    assert q.cost["totals"]["lut"] <= 30_000 or not q.feasible


@pytest.mark.slow
def test_search_end_to_end_and_resume(toy_idx_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert _search(out, toy_idx_dir, "--max-lut", "30000", "--min-fps", "10000",
                   "--trials", "6") == 0
    for f in ("request.json", "pareto.json", "pareto.png", "study.db", "supernet.pt"):
        assert (out / f).is_file(), f
    d = json.loads((out / "pareto.json").read_text())
    assert d["schema"] == 1 and d["request"]["max_lut"] == 30000
    keys = {"id", "accuracy", "lut", "bram18", "dsp", "fps", "feasible", "on_front", "network"}
    assert all(keys <= set(x) for x in d["designs"])
    assert any(x["feasible"] for x in d["designs"])
    model = FinnCostModel("pynq-z1")
    for x in d["designs"]:
        if x["on_front"]:
            assert x["feasible"] and 0.0 <= x["accuracy"] <= 1.0
            rep = model.estimate(NetworkSpec.from_dict(x["network"]))  # re-priced from JSON
            assert rep.totals["lut"] <= 30000 and rep.fps >= 10000
            assert rep.totals["lut"] == x["lut"]
        if not x["feasible"]:
            assert x["accuracy"] is None  # no accuracy spent on it
    # resume: same command with more trials continues the study, no retraining
    assert _search(out, toy_idx_dir, "--max-lut", "30000", "--min-fps", "10000",
                   "--trials", "9") == 0
    d2 = json.loads((out / "pareto.json").read_text())
    # no retraining: the same training history; timing adds up over both sessions
    assert d2["train_history"] == d["train_history"]
    assert d2["timing"]["train_s"] == d["timing"]["train_s"]
    assert d2["timing"]["sessions"] == 2 and d2["timing"]["total_s"] > d["timing"]["total_s"]
    assert d2["trials"]["completed"] == 9
    assert len(d2["designs"]) >= len(d["designs"])
    # export the best design: every file, agreement with PyTorch, nothing left on failure
    exp = tmp_path / "export"
    # an earlier export to the same folder was killed mid-way: its temporary folder is removed
    import subprocess
    import sys
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".export.tmp-{dead}-x1y2"
    stale.mkdir()
    (stale / "model.qonnx.onnx").write_bytes(b"half")
    live = tmp_path / f".export.tmp-{os.getppid()}-keep"  # a running export's: kept
    live.mkdir()
    assert main(["export", str(out), "--design", "best", "--out", str(exp), "--no-progress",
                 "--finetune-epochs", "0.5"]) == 0
    assert not stale.exists() and live.is_dir()
    for f in ("model.qonnx.onnx", "model.qcdq.onnx", "folding_config.json", "report.json",
              "network.json", "model.pt", "specialize_layers.json", "finn_build.json"):
        assert (exp / f).is_file(), f
    r = json.loads((exp / "report.json").read_text())
    assert r["qcdq_agreement"] >= 0.99 and r["qonnx_agreement"] >= 0.99
    assert 0.0 <= r["test_accuracy"] <= 1.0 and r["test_images"] == 200
    assert r["preprocessing"]["layout"] == "NCHW" and r["preprocessing"]["mean"] == 0.0
    assert r["cost"]["totals"]["lut"] <= 30000
    import onnx
    onnx.checker.check_model(onnx.load(str(exp / "model.qonnx.onnx")))
    cfg = json.loads((exp / "folding_config.json").read_text())
    assert "Defaults" in cfg and any(k.startswith("MVAU_hls_") for k in cfg)
    _finn_accepts(exp)
    # bad export requests: unknown design, non-empty output folder
    assert main(["export", str(out), "--design", "99999", "--out", str(tmp_path / "e2")]) == 2
    assert main(["export", str(out), "--design", "best", "--out", str(exp)]) == 2
    assert main(["export", str(tmp_path / "nowhere"), "--design", "best",
                 "--out", str(tmp_path / "e3")]) == 2
    assert not (tmp_path / "e2").exists() and not (tmp_path / "e3").exists()
    # a different search into the same directory is refused, files untouched
    before = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    assert _search(out, toy_idx_dir, "--max-lut", "20000", "--trials", "9") == 2
    assert "different search" in capsys.readouterr().err
    for extra in (["--strategy", "mgda"], ["--objective", "robust_accuracy"],
                  ["--prefilter", "zero-cost"], ["--eps", "0.03", "--min-robust-accuracy", "0.5"]):
        assert _search(out, toy_idx_dir, "--max-lut", "30000", "--min-fps", "10000",
                       "--trials", "9", *extra) == 2
        err = capsys.readouterr().err
        assert "different search" in err and err.count("\n") == 1, extra
    assert {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} == before


@pytest.mark.slow
def test_resume_accepts_the_run_directory_however_it_is_spelled(toy_idx_dir, tmp_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _search("run", toy_idx_dir, "--trials", "3") == 0
    assert _search(tmp_path / "run", toy_idx_dir, "--trials", "4") == 0  # absolute
    (tmp_path / "run").rename(tmp_path / "moved")
    assert _search(tmp_path / "moved", toy_idx_dir, "--trials", "5") == 0  # moved
    d = json.loads((tmp_path / "moved" / "pareto.json").read_text())
    assert d["trials"]["completed"] == 5 and d["timing"]["sessions"] == 3


def test_validation_split_is_checked_before_anything_is_written(toy_idx_dir, tmp_path, capsys):
    out = tmp_path / "run"
    assert _search(out, toy_idx_dir, "--val-size", "99999") == 2
    assert "val-size" in capsys.readouterr().err and not out.exists()
    # the corrected command is then accepted (nothing was left behind to refuse it)
    assert _search(out, toy_idx_dir, "--trials", "2") == 0


def _finn_accepts(bundle) -> None:
    """FINN's own build of a trained export (when .venv-finn is there, as scripts/test.sh makes
    it): every name in folding_config.json / specialize_layers.json is a FINN node, built in
    the pinned style, with our PE/SIMD applied (bench/finn_check.py check --bundle)."""
    import subprocess
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    finn_py = Path(os.environ.get("CODESIGN_FINN_PYTHON", repo / ".venv-finn" / "bin" / "python"))
    if not finn_py.is_file() or subprocess.run(
            [str(finn_py), "-c", "import finn.builder.build_dataflow_config"],
            capture_output=True).returncode:
        return  # tests/fpga/test_finn_build.py reports the skip
    env = {k: v for k, v in os.environ.items() if k not in ("FINN_BUILD_DIR", "PYTHONPATH")}
    r = subprocess.run([str(finn_py), str(repo / "bench" / "finn_check.py"), "check", "--bundle",
                        str(bundle)], capture_output=True, text=True, env=env, timeout=600,
                       cwd=bundle.parent)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    summary = json.loads((bundle / "finn_check.json").read_text())
    assert summary["ok"] and not summary["problems"]


def test_run_killed_during_its_set_up_resumes(toy_idx_dir, tmp_path):
    """A search killed after writing request.json but before its study existed resumes."""
    out = tmp_path / "run"
    assert _search(out, toy_idx_dir, "--trials", "2") == 0
    for f in ("study.db", "supernet.pt", "pareto.json", "pareto.png"):
        (out / f).unlink()
    assert _search(out, toy_idx_dir, "--trials", "2") == 0
    assert json.loads((out / "pareto.json").read_text())["trials"]["completed"] == 2


@pytest.mark.slow
def test_cnv_l_few_shot_search_and_export(toy_idx_dir, tmp_path):
    """--space cnv-l --supernet few-shot end to end: sub-supernet checkpoints, trials scored by
    their own sub-supernet, a resume that trains nothing, an export (QONNX always; QCDQ only
    when no layer is 1-bit)."""
    out = tmp_path / "run"
    args = ["--space", "cnv-l", "--supernet", "few-shot", "--epochs", "2", "--trials", "4",
            "--max-lut", "53200", "--min-fps", "100", "--calib-images", "64",
            "--screen-pool", "200"]
    assert _search(out, toy_idx_dir, *args) == 0
    for f in ("supernet.pt", "supernet-fs0.pt", "supernet-fs1.pt", "supernet-fs2.pt"):
        assert (out / f).is_file(), f
    d = json.loads((out / "pareto.json").read_text())
    assert d["request"]["space"] == "cnv-l" and d["request"]["supernet"] == "few-shot"
    assert [h["part"] for h in d["train_history"]] == ["warmup", "fs0", "fs1", "fs2"]
    assert d["trials"]["completed"] == 4 and any(x["feasible"] for x in d["designs"])
    assert _search(out, toy_idx_dir, *args) == 0  # resume: nothing retrained
    d2 = json.loads((out / "pareto.json").read_text())
    assert d2["train_history"] == d["train_history"]
    exp = tmp_path / "export"
    assert main(["export", str(out), "--design", "best", "--out", str(exp), "--no-progress",
                 "--finetune-epochs", "0.2", "--rerank", "2", "--rerank-epochs", "0.1"]) == 0
    r = json.loads((exp / "report.json").read_text())
    assert r["qonnx_agreement"] >= 0.99
    one_bit = any((l.get("weight_bits") == 1 or l.get("act_bits") == 1)
                  for l in json.loads((exp / "network.json").read_text())["layers"])
    assert (exp / "model.qcdq.onnx").is_file() != one_bit


@pytest.mark.parametrize("strategy", ["mdl", "predictor", "rl"])
def test_search_with_a_learning_strategy(toy_idx_dir, tmp_path, strategy):
    """Every registered strategy drives the real loop: MDL's draws after the first generation
    come from its learned multinomials, priced and scored like any other trial."""
    out = tmp_path / "run"
    assert _search(out, toy_idx_dir, "--max-lut", "30000", "--min-fps", "10000",
                   "--trials", "10", "--strategy", strategy) == 0
    d = json.loads((out / "pareto.json").read_text())
    assert d["request"]["strategy"] == strategy and d["trials"]["completed"] == 10
    assert any(x["feasible"] for x in d["designs"])


@pytest.mark.parametrize("strategy", ["differentiable", "mgda"])
def test_supernet_driven_strategy_proposals_are_evaluated_like_any_trial(toy_idx_dir, tmp_path,
                                                                         strategy):
    """A supernet-driven strategy gets the trained supernet, proposes once, and the loop queues,
    prices, scores and records its proposals; a rerun does not propose again."""
    import optuna

    out = tmp_path / "run"
    args = ("--max-lut", "30000", "--min-fps", "10000", "--trials", "10", "--strategy", strategy,
            "--arch-steps", "8")
    assert _search(out, toy_idx_dir, *args) == 0
    d = json.loads((out / "pareto.json").read_text())
    assert d["request"]["strategy"] == strategy and d["trials"]["completed"] == 10
    study = optuna.load_study(study_name="codesign", storage=f"sqlite:///{out / 'study.db'}")
    assert study.user_attrs["proposals_queued"] is True
    queued = [t for t in study.trials if "fixed_params" in t.system_attrs]
    assert len(queued) == 10  # the first generation (4) and the 6 proposals, all queued
    assert any(x["feasible"] and x["accuracy"] is not None for x in d["designs"])
    # a resume asking for more trials fills them from the fallback sampler, not a new search
    assert _search(out, toy_idx_dir, *args[:4], "--trials", "12", *args[6:]) == 0
    assert json.loads((out / "pareto.json").read_text())["trials"]["completed"] == 12


def test_robust_accuracy_objective_and_constraint(toy_idx_dir, tmp_path):
    """--objective robust_accuracy adds accuracy under attack as an objective, measured per
    subnet; --min-robust-accuracy makes it a constraint checked after scoring."""
    out = tmp_path / "run"
    assert _search(out, toy_idx_dir, "--max-lut", "30000", "--trials", "6",
                   "--objective", "robust_accuracy", "--attack", "pgd", "--eps", "8/255",
                   "--pgd-steps", "2", "--robust-images", "64",
                   "--min-robust-accuracy", "0.05") == 0
    d = json.loads((out / "pareto.json").read_text())
    assert [o["name"] for o in d["objectives"]] == ["accuracy", "robust_accuracy", "lut", "fps"]
    assert d["robustness"]["attack"] == "pgd" and d["robustness"]["images"] == 64
    scored = [x for x in d["designs"] if x["accuracy"] is not None]
    assert scored and all(0 <= x["robust_accuracy"] <= 1 for x in scored)
    for x in scored:  # the constraint's violation is signed like every budget's
        v = x["violations"]["robust_accuracy"]
        assert v == pytest.approx(1 - x["robust_accuracy"] / 0.05)
        assert x["feasible"] == all(u <= 0 for u in x["violations"].values())
    assert any(c["metric"] == "robust_accuracy" for c in d["constraints"])
    assert any(x["feasible"] for x in d["designs"])
    exp = tmp_path / "export"  # measured after export too, on the test set
    assert main(["export", str(out), "--design", "knee", "--out", str(exp), "--no-progress",
                 "--finetune-epochs", "0.1", "--qonnx-samples", "20"]) == 0
    r = json.loads((exp / "report.json").read_text())["robustness"]
    assert r["attack"] == "pgd" and 0 <= r["robust_accuracy"] <= 1 and r["test_images"] > 0


def test_zero_cost_prefilter_reports_its_rank_correlation(toy_idx_dir, tmp_path):
    out = tmp_path / "run"
    assert _search(out, toy_idx_dir, "--max-lut", "30000", "--trials", "10", "--strategy",
                   "random", "--prefilter", "zero-cost", "--prefilter-keep", "0.5") == 0
    d = json.loads((out / "pareto.json").read_text())
    pf = d["prefilter"]
    assert pf["proxy"] == "nwot" and pf["kept_from_supernet"] >= 1
    assert pf["rank_correlation"]["n"] >= 3
    assert -1 <= pf["rank_correlation"]["kendall_tau"] <= 1
    assert d["trials"]["completed"] == 10  # pruned proposals do not use up trials


@pytest.mark.parametrize("extra,field", [
    (["--objective", "speed"], "objective"),
    (["--objective", "latency_ms"], "objective"),
    (["--attack", "cw"], "attack"),
    (["--eps", "0"], "eps"),
    (["--eps", "nan"], "eps"),
    (["--eps", "-0.1"], "eps"),
    (["--min-robust-accuracy", "1.5"], "min-robust-accuracy"),
    (["--prefilter", "magic"], "prefilter"),
    (["--zero-cost-proxy", "snip"], "zero-cost-proxy"),
    (["--strategy", "bayes"], "strategy"),
])
def test_bad_search_method_input_exits_2_and_writes_nothing(toy_idx_dir, tmp_path, capsys,
                                                            extra, field):
    out = tmp_path / "run"
    assert _search(out, toy_idx_dir, "--trials", "2", *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0] and "accepted" in err[0]
    assert not out.exists()


def test_workers_on_a_shared_storage_seed_their_samplers_apart(tmp_path):
    """One worker: the request's seed (reproducible); workers sharing a storage carry the same
    request and would otherwise propose the same candidates."""
    from codesign.search.loop import sampler_seed

    own = SearchRequest(dataset="mnist", device="pynq-z1", out=str(tmp_path / "a"), seed=7)
    assert sampler_seed(own) == 7
    shared = SearchRequest(dataset="mnist", device="pynq-z1", out=str(tmp_path / "b"), seed=7,
                           storage="sqlite:///x.db")
    assert len({sampler_seed(shared) for _ in range(5)}) == 5

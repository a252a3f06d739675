"""Latency tables: build (real onnxruntime measurements on a tiny space), save/load, refusals,
prediction arithmetic, validate, search wiring and ``codesign compare``.

Measurements here use a tiny space and a minimal protocol (a few runs per op): they check the
machinery, not the accuracy; the accuracy figures are in bench/LATENCY.md.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.spaces.cnv import CnvSpace
from fpga.errors import InputError
from hw_models.latency_table import (LatencyTable, LatencyTableModel, OpConfig, fit_overhead,
                                     network_ops)
from hw_models.network import InputSpec, NetworkSpec

TINY = dict(s0_widths=(8,), s1_widths=(16,), fc_widths=(32,), weight_bits=(2,), act_bits=(2,),
            edge_weight_bits=(2, 8))


def tiny_space() -> CnvSpace:
    return CnvSpace(**TINY)


def quick_protocol():
    from codesign.latency import Protocol
    return Protocol(rounds=1, warmup_runs=1, min_repeats=5, round_s=0.001, calibration=4,
                    state_wait_s=1.0)


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory) -> Path:
    from codesign.io import atomic_write_json
    from codesign.latency import build_table

    table = build_table(tiny_space(), "cpu", "onnxruntime", threads=1, batch=1,
                        protocol=quick_protocol(), progress=False)
    path = tmp_path_factory.mktemp("lat") / "table.json"
    atomic_write_json(path, table.to_dict())
    return path


# ---------------------------------------------------------------- keys, arithmetic (no timing)
def test_space_ops_are_distinct_reachable_configs():
    from codesign.latency import space_ops

    ops = space_ops(tiny_space())
    kinds = sorted(o.op for o in ops.values())
    # conv0 w in {2,8}; conv1 8->8; conv2 8->16; conv3 16->16; fc0; fc1 w in {2,8}; 2 pools; input
    assert kinds.count("conv") == 5 and kinds.count("fc") == 3
    assert kinds.count("maxpool") == 2 and kinds.count("input") == 1
    assert "conv|1x28x28|o8|k3s1p1|w8a2" in ops and "fc|32|o10|w8a-" in ops
    assert "fc|16x7x7|o32|w2a2" in ops  # fc0 keeps its feature-map input (Flatten inside)


def test_default_space_op_count():
    from codesign.latency import space_ops
    from codesign.spaces.base import get_space

    assert len(space_ops(get_space("cnv"))) == 253  # documented in bench/LATENCY.md


def test_network_ops_follow_shapes():
    spec = NetworkSpec.build("n", InputSpec(1, 8, 8, 8), [
        {"op": "conv", "out_channels": 4, "kernel": 3, "padding": 1, "weight_bits": 2,
         "act_bits": 3},
        {"op": "maxpool", "kernel": 2},
        {"op": "fc", "out_features": 5, "weight_bits": 4, "act_bits": None}])
    keys = [op.key for _, op in network_ops(spec)]
    assert keys == ["input|1x8x8|b8", "conv|1x8x8|o4|k3s1p1|w2a3", "maxpool|4x8x8|k2s2",
                    "fc|4x4x4|o5|w4a-"]
    assert OpConfig.from_dict(network_ops(spec)[1][1].to_dict()).key == keys[1]


def _synthetic_table(ops: dict[str, float], alpha=0.01, beta=1.0, gamma=-0.002) -> LatencyTable:
    return LatencyTable(
        machine={"device_kind": "cpu", "runtime": "onnxruntime", "cpu_model": "test-cpu"},
        protocol={"batch": 1, "threads": 1}, space={"name": "cnv", "config": {}},
        ops={k: {"median_ms": v, "q1_ms": v - 0.001, "q3_ms": v + 0.001, "n": 10}
             for k, v in ops.items()},
        overhead={"alpha_ms": alpha, "beta": beta, "gamma_ms": gamma, "residual_rel_std": 0.0})


def test_prediction_arithmetic_and_uncertainty():
    spec = NetworkSpec.build("n", InputSpec(1, 8, 8, 8), [
        {"op": "conv", "out_channels": 4, "kernel": 3, "padding": 1, "weight_bits": 2,
         "act_bits": 3},
        {"op": "fc", "out_features": 5, "weight_bits": 4, "act_bits": None}])
    keys = [op.key for _, op in network_ops(spec)]
    table = _synthetic_table(dict(zip(keys, (0.01, 0.1, 0.05))), alpha=0.02, beta=0.9,
                             gamma=-0.005)
    rep = LatencyTableModel(table).estimate(spec)
    assert rep.valid and rep.n_ops == 3
    assert rep.ops_sum_ms == pytest.approx(0.16)
    assert rep.latency_ms == pytest.approx(0.02 + 0.9 * 0.16 - 0.005 * 3)
    # spread: IQR 0.002 per op -> std 0.002/1.349, three in quadrature, times beta
    assert rep.uncertainty_ms == pytest.approx(0.9 * (3 ** 0.5) * 0.002 / 1.349)
    assert rep.violations(0.1)["latency_ms"] == pytest.approx(rep.latency_ms / 0.1 - 1)


def test_missing_op_is_unsupported_not_zero():
    spec = NetworkSpec.build("n", InputSpec(1, 8, 8, 8), [
        {"op": "fc", "out_features": 5, "weight_bits": 4, "act_bits": None}])
    table = _synthetic_table({"input|1x8x8|b8": 0.01})
    rep = LatencyTableModel(table).estimate(spec)
    assert not rep.valid and rep.unsupported[0]["key"] == "fc|1x8x8|o5|w4a-"


def test_fit_overhead_recovers_coefficients():
    sums = [0.1, 0.2, 0.35, 0.5, 0.8, 1.0, 1.3]
    n = [6, 7, 8, 7, 9, 8, 10]
    y = [0.03 + 1.0 * s - 0.004 * k for s, k in zip(sums, n)]
    fit = fit_overhead(sums, n, y)
    pred = [fit["alpha_ms"] + fit["beta"] * s + fit["gamma_ms"] * k for s, k in zip(sums, n)]
    assert pred == pytest.approx(y, rel=1e-6) and fit["mape_loo"] < 1e-6


def test_fit_overhead_per_kind_form_chosen_when_kinds_scale_differently():
    from hw_models.latency_table import FORM_KIND, FORM_LINEAR, MIN_CALIBRATION

    rng = __import__("numpy").random.default_rng(0)
    kinds = [{"conv": float(c), "fc": float(f), "other": 0.01}
             for c, f in rng.uniform(0.05, 1.0, size=(16, 2))]
    n = [int(v) for v in rng.integers(6, 11, size=16)]
    y = [0.02 + 0.8 * k["conv"] + 1.3 * k["fc"] + k["other"] - 0.003 * m
         for k, m in zip(kinds, n)]
    sums = [sum(k.values()) for k in kinds]
    fit = fit_overhead(sums, n, y, kinds)
    assert fit["form"] == FORM_KIND and fit["mape_loo"] < 1e-6
    assert fit["beta_by_kind"]["conv"] == pytest.approx(0.8)
    assert fit["beta_by_kind"]["fc"] == pytest.approx(1.3)
    # below the per-kind minimum that form is not tried at all
    few = MIN_CALIBRATION[FORM_KIND] - 1
    fit = fit_overhead(sums[:few], n[:few], y[:few], kinds[:few])
    assert fit["form"] != FORM_KIND and FORM_KIND not in fit["mape_loo_by_form"]
    assert FORM_LINEAR in fit["mape_loo_by_form"]


def test_per_kind_prediction_and_fastest_use_kind_weights():
    from hw_models.latency_table import FORM_KIND

    spec = NetworkSpec.build("n", InputSpec(1, 8, 8, 8), [
        {"op": "conv", "out_channels": 4, "kernel": 3, "padding": 1, "weight_bits": 2,
         "act_bits": 3},
        {"op": "fc", "out_features": 5, "weight_bits": 4, "act_bits": None}])
    keys = [op.key for _, op in network_ops(spec)]
    table = _synthetic_table(dict(zip(keys, (0.01, 0.1, 0.05))), alpha=0.02, gamma=-0.005)
    table.overhead.update(form=FORM_KIND, beta_by_kind={"conv": 0.5, "fc": 2.0, "other": 1.0})
    rep = LatencyTableModel(table).estimate(spec)
    assert rep.latency_ms == pytest.approx(0.02 + 0.01 + 0.5 * 0.1 + 2.0 * 0.05 - 0.005 * 3)


def test_too_few_calibration_networks_name_the_minimum(tiny_table: Path, tmp_path: Path):
    d = json.loads(tiny_table.read_text())
    d["overhead"]["calibration"] = d["overhead"]["calibration"][:2]
    bad = tmp_path / "few.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(InputError, match="needs at least 3") as e:
        LatencyTable.load(bad, field="TABLE")
    assert e.value.field == "TABLE.overhead.calibration" and "--calibration" in str(e.value)


def test_other_threads_or_batch_is_refused_with_the_rebuild_command(tiny_table: Path):
    table = LatencyTable.load(tiny_table)
    table.check_setting(1, 1)
    with pytest.raises(InputError) as e:
        table.check_setting(threads=2, path="t.json")
    msg = str(e.value)
    assert e.value.field == "threads" and "built at 1 thread(s), batch 1" in msg
    assert "codesign latency build --space cnv --device cpu --runtime onnxruntime --threads 2 " \
           "--batch 1 --out NEW.json" in msg
    with pytest.raises(InputError, match="--threads 1 --batch 8"):
        table.check_setting(batch=8)


class _Clock:
    """A fake machine: every runner takes ``base * factor`` seconds, ``factor`` set by a test."""

    def __init__(self) -> None:
        self.factor = 1.0
        self.calls = 0


class _FakeRunner:
    def __init__(self, clock: _Clock, base_s: float, slow_after_calls: int | None = None,
                 fast_again_after: int | None = None) -> None:
        self.clock, self.base_s = clock, base_s
        self.slow_after, self.fast_after = slow_after_calls, fast_again_after

    def __call__(self) -> None:
        self.clock.calls += 1
        c = self.clock.calls
        if self.slow_after is not None and c > self.slow_after:
            self.clock.factor = 3.0
        if self.fast_after is not None and c > self.fast_after:
            self.clock.factor = 1.0

    def timed(self) -> float:
        self()
        return self.base_s * self.clock.factor


def test_probe_drops_rounds_timed_in_a_degraded_state():
    """Rounds timed while the probe ran slow do not count; the items are timed again once the
    machine is back to normal; the state is reported."""
    from codesign.latency import Protocol, measure_round_robin

    clock = _Clock()
    proto = Protocol(rounds=2, warmup_runs=1, min_repeats=3, max_repeats=3, round_s=1e-9,
                     probe_every=1, state_wait_s=10.0)
    # the probe: slow from its 2nd reading (call 5) until call 60
    probe = _FakeRunner(clock, 1e-3, slow_after_calls=20, fast_again_after=60)
    runners = {"a": _FakeRunner(clock, 2e-3), "b": _FakeRunner(clock, 5e-3)}
    m = measure_round_robin(runners, proto, probe=probe)
    assert m.probe_ref_ms == pytest.approx(1.0)
    for key, base in (("a", 2.0), ("b", 5.0)):
        assert m[key]["median_ms"] == pytest.approx(base)  # only normal-state rounds
        assert 0 < m[key]["normal_rounds"] < m[key]["rounds"] or m[key]["rounds"] == 2
        assert not m[key].get("degraded")
    assert 0 < m.state["share_degraded_readings"] < 1 and m.state["items_degraded"] == 0


def test_probe_flags_items_never_timed_in_the_normal_state():
    from codesign.latency import Protocol, measure_round_robin

    clock = _Clock()
    proto = Protocol(rounds=1, warmup_runs=1, min_repeats=3, max_repeats=3, round_s=1e-9,
                     probe_every=1, state_wait_s=0.0)
    probe = _FakeRunner(clock, 1e-3)
    runners = {"a": _FakeRunner(clock, 2e-3)}
    clock.factor = 3.0  # slow the whole time; a table's reference says 1 ms is normal
    m = measure_round_robin(runners, proto, probe=probe, probe_ref_ms=1.0)
    assert m["a"]["degraded"] and m["a"]["normal_rounds"] == 0
    assert m["a"]["median_ms"] == pytest.approx(6.0)
    assert m.state["items_degraded"] == 1 and m.state["share_degraded_readings"] == 1.0


def test_probe_reports_how_much_slower_the_machine_runs_than_the_table():
    from codesign.latency import Protocol, measure_round_robin, speed_mismatch

    clock = _Clock()
    proto = Protocol(rounds=1, warmup_runs=1, min_repeats=3, max_repeats=3, round_s=1e-9,
                     probe_every=1, state_wait_s=0.0)
    clock.factor = 1.6  # a slower host the whole time, against a table built at 1 ms
    m = measure_round_robin({"a": _FakeRunner(clock, 2e-3)}, proto,
                            probe=_FakeRunner(clock, 1e-3), probe_ref_ms=1.0)
    assert m.state["speed_ratio"] == pytest.approx(1.6)
    msg = speed_mismatch(m.state)
    assert msg and "1.60x slower than the table's reference (1.0000 ms)" in msg
    # faster: every reading is "normal", but the table's figures are too high for this machine
    assert "2.00x faster" in speed_mismatch({**m.state, "speed_ratio": 0.5})
    assert speed_mismatch({**m.state, "speed_ratio": 1.05}) is None  # within the tolerance
    assert speed_mismatch({}) is None and speed_mismatch(None) is None
    # without a table's reference the probe's own fastest reading is the reference
    clock.factor = 1.0
    m = measure_round_robin({"a": _FakeRunner(clock, 2e-3)}, proto,
                            probe=_FakeRunner(clock, 1e-3))
    assert m.state["speed_ratio"] == pytest.approx(1.0) and speed_mismatch(m.state) is None


def test_degraded_items_are_warned_about_with_the_share_of_slow_readings():
    from codesign.latency import degraded_warning

    st = {"items_degraded": 3, "share_degraded_readings": 0.95, "probe_readings": 40}
    msg = degraded_warning(st, 285)
    assert msg.startswith("3 of 285 items never got their normal rounds")
    assert "95 % of 40 readings" in msg and "'degraded'" in msg
    assert degraded_warning({**st, "items_degraded": 0}, 285) is None
    assert degraded_warning(None, 285) is None


def _faster_table(tiny_table: Path, tmp_path: Path, factor: float = 3.0) -> Path:
    """The tiny table as if built on a machine ``factor`` times faster than this one."""
    d = json.loads(tiny_table.read_text())
    d["protocol"]["probe_ref_ms"] /= factor
    path = tmp_path / "fast.json"
    path.write_text(json.dumps(d))
    return path


def test_validate_on_a_slower_machine_says_so_and_how_to_rebuild(tiny_table: Path,
                                                                   tmp_path: Path, capsys):
    path = _faster_table(tiny_table, tmp_path)
    assert main(["latency", "validate", str(path), "--samples", "2", "--json", "--no-progress",
                 "--plot", str(tmp_path / "v.png")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert "slower than the table's reference" in d["machine_mismatch"]
    assert d["state"]["speed_ratio"] > 1.1
    assert d["rebuild_command"] == ("codesign latency build --space cnv --device cpu --runtime "
                                    f"onnxruntime --threads 1 --batch 1 --out {path}")
    assert main(["latency", "validate", str(path), "--samples", "2", "--no-progress",
                 "--plot", str(tmp_path / "v.png")]) == 0
    out = capsys.readouterr().out
    assert "warning: this machine never ran at the table's speed" in out
    assert "rebuild the table on this machine" in out


def test_update_on_a_slower_machine_is_refused_nothing_written(tiny_table: Path,
                                                                tmp_path: Path, capsys):
    path = _faster_table(tiny_table, tmp_path)
    d = json.loads(path.read_text())
    del d["ops"][sorted(d["ops"])[0]]
    path.write_text(json.dumps(d))
    before = path.read_bytes()
    assert main(["latency", "build", "--space", "cnv", "--device", "cpu", "--update",
                 "--out", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("codesign latency build: error: out:")
    assert "slower than" in err and "nothing was written" in err
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == \
        ["fast.json"]


def test_keep_awake_spinners_start_and_stop():
    import os

    from codesign.latency import KeepAwake

    with KeepAwake(True) as k:
        pids = [p.pid for p in k.procs]
        assert len(pids) == len(os.sched_getaffinity(0))
        assert all(p.poll() is None for p in k.procs)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with KeepAwake(False) as k:
        assert k.procs == []


# ---------------------------------------------------------------- real measurement (tiny)
def test_build_save_load_round_trip(tiny_table: Path):
    table = LatencyTable.load(tiny_table)
    assert table.device_kind == "cpu" and table.runtime == "onnxruntime"
    assert table.batch == 1 and table.threads == 1
    assert table.machine["cpu_model"] and table.machine["versions"]["onnxruntime"]
    assert table.protocol["weights"].startswith("random")
    assert len(table.ops) == 11 and len(table.overhead["calibration"]) == 4
    # the machine-state probe and its reference are recorded, the state of the build too
    assert table.protocol["probe_network"]["layers"] and table.protocol["probe_ref_ms"] > 0
    assert table.protocol["keep_awake"] is False  # one thread
    assert {"probe_ref_ms", "share_degraded_readings"} <= set(table.build["state"])
    for rec in table.ops.values():
        assert 0 < rec["q1_ms"] <= rec["median_ms"] <= rec["q3_ms"] and rec["n"] >= 5
    again = LatencyTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert again.ops == table.ops and again.overhead == table.overhead
    # every network of the tiny space is priced
    from codesign.latency import fastest, random_networks
    model = LatencyTableModel(table)
    for spec in random_networks(tiny_space(), 3, seed=5):
        rep = model.estimate(spec)
        assert rep.valid and rep.latency_ms > 0
    low, spec = fastest(model, tiny_space())
    assert low == pytest.approx(model.estimate(spec).latency_ms)


def test_table_refuses_other_device_kind_and_runtime(tiny_table: Path):
    table = LatencyTable.load(tiny_table)
    with pytest.raises(InputError, match="measured on cpu, not cuda"):
        table.check_use("cuda")
    with pytest.raises(InputError, match="measured with onnxruntime, not torch"):
        table.check_use(runtime="torch")


def test_table_refuses_other_cpu_model(tiny_table: Path):
    from codesign.latency import check_same_machine

    table = LatencyTable.load(tiny_table)
    table.machine["cpu_model"] = "Some Other CPU 9000"
    with pytest.raises(InputError, match="allow-other-machine"):
        check_same_machine(table, False, "TABLE")
    check_same_machine(table, True, "TABLE")


def test_cuda_without_gpu_is_input_error():
    import torch

    from codesign.latency import check_runtime

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match="no CUDA GPU"):
        check_runtime("cuda", "torch")


@pytest.mark.parametrize("mutate,match", [
    (lambda t: t.write_text(t.read_text()[: len(t.read_text()) // 2]), "truncated or corrupt"),
    (lambda t: t.write_text(""), "empty"),
    (lambda t: t.write_text('{"hello": 1}'), "not a codesign latency table"),
    (lambda t: t.write_text(json.dumps({**json.loads(t.read_text()), "ops": {
        "conv|x": {"median_ms": -1, "q1_ms": 0, "q3_ms": 1, "n": 3}}})), "corrupt"),
    (lambda t: t.write_text(json.dumps({**json.loads(t.read_text()), "overhead": {}})),
     "overhead.alpha_ms"),
])
def test_corrupt_or_truncated_table(tiny_table: Path, tmp_path: Path, mutate, match):
    bad = tmp_path / "bad.json"
    bad.write_text(tiny_table.read_text())
    mutate(bad)
    with pytest.raises(InputError, match=match):
        LatencyTable.load(bad)


def test_missing_op_names_it_and_the_command(tiny_table: Path):
    from codesign.latency import check_covers
    from codesign.spaces.base import get_space

    table = LatencyTable.load(tiny_table)
    with pytest.raises(InputError) as e:
        check_covers(table, get_space("cnv"), str(tiny_table))
    msg = str(e.value)
    assert "op conv|" in msg or "op fc|" in msg
    assert f"codesign latency build --space cnv --device cpu --runtime onnxruntime --threads 1 " \
           f"--batch 1 --update --out {tiny_table}" in msg


def test_update_measures_only_missing_ops(tiny_table: Path):
    from codesign.latency import build_table

    table = LatencyTable.load(tiny_table)
    dropped = sorted(table.ops)[0]
    del table.ops[dropped]
    kept = dict(table.ops)
    # no probe: this test is about which ops are measured, not the machine's speed (a noisy
    # machine would otherwise refuse the update as measured at another speed)
    proto = dataclasses.replace(quick_protocol(), probe=False)
    new = build_table(tiny_space(), "cpu", "onnxruntime", 1, 1, proto,
                      progress=False, existing=table)
    assert new.build["ops_measured"] == 1 and dropped in new.ops
    assert all(new.ops[k] == v for k, v in kept.items())


# ---------------------------------------------------------------- CLI
def test_cli_validate_json_keys_and_plot(tiny_table: Path, tmp_path: Path, capsys):
    png = tmp_path / "v.png"
    assert main(["latency", "validate", str(tiny_table), "--samples", "2", "--json",
                 "--no-progress", "--plot", str(png)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"mape", "share_within_10pct", "repeatability", "state", "networks_degraded",
            "share_within_10pct_normal_state"} <= set(d)
    assert d["state"]["probe_ref_ms"] == LatencyTable.load(tiny_table).protocol["probe_ref_ms"]
    assert 0 <= d["share_within_10pct"] <= 1 and d["mape"] >= 0 and d["samples"] == 2
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv,field", [
    (["latency", "build", "--device", "tpu", "--out", "{out}"], None),           # argparse: 2
    (["latency", "build", "--device", "cpu", "--batch", "0", "--out", "{out}"], "batch"),
    (["latency", "build", "--device", "cpu", "--update", "--out", "{out}"], "update"),
    (["latency", "build", "--device", "cpu", "--input-shape", "28x28", "--out", "{out}"],
     "input-shape"),
    (["latency", "validate", "{table}", "--device", "cuda"], "device"),
    (["latency", "validate", "{table}", "--runtime", "torch"], "runtime"),
    (["latency", "validate", "{table}", "--input-shape", "3x32x32", "--samples", "1"],
     "latency-table"),
    (["latency", "validate", "{missing}"], "TABLE"),
    (["compare", "{missing}", "--out", "{out}"], "RUN_DIR"),
])
def test_cli_bad_input_exit_2_nothing_written(tiny_table: Path, tmp_path: Path, capsys, argv,
                                              field):
    out = tmp_path / "out.json"
    argv = [a.format(out=out, table=tiny_table, missing=tmp_path / "nope") for a in argv]
    if field is None:
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2
    else:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert field in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert not list(tiny_table.parent.glob("*.png"))


# ---------------------------------------------------------------- search wiring
def test_pricer_latency_constraint_and_floor(tiny_table: Path, tmp_path: Path):
    from codesign.latency import check_latency_target
    from codesign.request import SearchRequest
    from codesign.search.pricing import Pricer

    req = SearchRequest(dataset="mnist", device="pynq-z1", out=str(tmp_path / "r"),
                        latency_table=str(tiny_table), max_latency_ms=1e-4)
    assert req.budgets() == {}  # CPU target: FPGA budgets only when given
    space = tiny_space()
    pricer = Pricer(space, req)
    p = pricer.price(space.extreme(largest=True))
    assert p.cost["latency"]["latency_ms"] > 0
    assert p.violations["latency_ms"] > 0 and not p.feasible  # 0.1 us: nothing meets it
    with pytest.raises(InputError, match="below the fastest design") as e:
        check_latency_target(pricer.latency, space, req.max_latency_ms, str(tiny_table))
    assert e.value.field == "max-latency-ms"
    low = check_latency_target(pricer.latency, space, None, str(tiny_table))
    ok = SearchRequest(dataset="mnist", device="pynq-z1", out=str(tmp_path / "r"),
                       latency_table=str(tiny_table), max_latency_ms=100 * low, max_lut=30_000)
    assert set(ok.budgets()) == {"lut"}
    q = Pricer(space, ok).price(space.extreme(largest=False))
    assert set(q.violations) == {"lut", "latency_ms"} and q.violations["latency_ms"] < 0


def test_search_refuses_bad_latency_input(toy_idx_dir, tiny_table: Path, tmp_path: Path, capsys):
    base = ["search", "--dataset", "mnist", "--data-dir", str(toy_idx_dir), "--epochs", "1",
            "--no-progress"]
    out = tmp_path / "run"
    assert main(base + ["--max-latency-ms", "1", "--out", str(out)]) == 2
    assert "latency-table" in capsys.readouterr().err
    # the tiny table does not cover the default space: the missing op is named
    assert main(base + ["--latency-table", str(tiny_table), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is not in" in err and "--update" in err
    assert main(base + ["--latency-table", str(tmp_path / "none.json"), "--out", str(out)]) == 2
    assert not out.exists()


# ---------------------------------------------------------------- compare
def _fake_run(folder: Path, designs: list[dict]) -> Path:
    folder.mkdir()
    (folder / "pareto.json").write_text(json.dumps({"schema": 1, "designs": designs}))
    return folder


def test_compare_overlays_fronts(tmp_path: Path, capsys):
    a = _fake_run(tmp_path / "cpu", [
        {"accuracy": 0.8, "latency_ms": 0.1, "lut": 9000, "fps": 100, "feasible": True},
        {"accuracy": 0.85, "latency_ms": 0.2, "lut": 8000, "fps": 90, "feasible": True},
        {"accuracy": 0.7, "latency_ms": 0.3, "lut": 7000, "fps": 80, "feasible": True}])
    b = _fake_run(tmp_path / "gpu", [
        {"accuracy": 0.9, "latency_ms": 0.05, "lut": 5000, "fps": 50, "feasible": True},
        {"accuracy": 0.95, "latency_ms": 0.5, "lut": 6000, "fps": 60, "feasible": False}])
    png = tmp_path / "cmp.png"
    assert main(["compare", str(a), str(b), "--out", str(png)]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()}
    assert rows["cpu"][1] == "2" and rows["gpu"][1] == "1"  # designs on the front
    assert png.read_bytes()[:4] == b"\x89PNG" and png.with_suffix(".html").is_file()
    assert main(["compare", str(a), str(b), "--objective", "fps", "--out", str(png)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["cpu"].split()[1] == "2" and rows["cpu"].endswith("90 .. 100")
    c = _fake_run(tmp_path / "fpga", [{"accuracy": 0.8, "lut": 1, "fps": 1, "feasible": True,
                                       "latency_ms": None}])
    assert main(["compare", str(a), str(c), "--objective", "latency_ms", "--out",
                 str(tmp_path / "x.png")]) == 2
    assert "no latency_ms" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_latency_search_end_to_end(toy_idx_dir, tmp_path: Path, capsys):
    """CLI build of the default space (minimal protocol), then a CPU-latency search and compare."""
    table = tmp_path / "cpu.json"
    assert main(["latency", "build", "--device", "cpu", "--rounds", "1", "--round-s", "0.001",
                 "--calibration", "4", "--no-progress", "--out", str(table)]) == 0
    assert "measured 253 ops" in capsys.readouterr().out
    out = tmp_path / "run"
    argv = ["search", "--dataset", "mnist", "--data-dir", str(toy_idx_dir), "--epochs", "1",
            "--val-size", "200", "--batch-size", "64", "--population", "4", "--trials", "6",
            "--no-progress", "--latency-table", str(table)]
    assert main(argv + ["--max-latency-ms", "1e-4", "--out", str(out)]) == 2
    assert "below the fastest design" in capsys.readouterr().err and not out.exists()
    assert main(argv + ["--max-latency-ms", "10", "--out", str(out)]) == 0
    d = json.loads((out / "pareto.json").read_text())
    assert [o["name"] for o in d["objectives"]] == ["accuracy", "latency_ms"]
    assert all(x["latency_ms"] > 0 and "lut" in x for x in d["designs"])
    assert any(x["on_front"] for x in d["designs"]) and "latency_target" in d
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["compare", str(out), str(out), "--out", str(tmp_path / "c.png")]) == 0
    assert "hypervolume" in capsys.readouterr().out


def test_compare_prices_fpga_run_latency_from_a_table(tiny_table: Path, tmp_path: Path, capsys):
    """An FPGA run (no latency_ms) goes on the latency axis with --latency-table."""
    import numpy as np

    space = tiny_space()
    rng = np.random.default_rng(0)
    nets = [space.describe(space.repair(space.sample(rng))).to_dict() for _ in range(3)]
    fpga = _fake_run(tmp_path / "fpga", [
        {"id": i, "accuracy": 0.8 + 0.01 * i, "lut": 1000 * (i + 1), "fps": 1e4,
         "feasible": True, "latency_ms": None, "network": n} for i, n in enumerate(nets)])
    cpu = _fake_run(tmp_path / "cpu", [
        {"accuracy": 0.85, "latency_ms": 0.2, "lut": 8000, "fps": 90, "feasible": True}])
    png = tmp_path / "cmp.png"
    assert main(["compare", str(fpga), str(cpu), "--objective", "latency_ms",
                 "--latency-table", str(tiny_table), "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "priced latency_ms of 3 designs" in out and "\nfpga " in out and png.exists()
    # a design the table cannot price is refused, naming the op and how to measure it
    big = NetworkSpec.from_dict(dict(nets[0], input={"channels": 3, "height": 32, "width": 32,
                                                      "bits": 8}))
    bad = _fake_run(tmp_path / "bad", [{"id": 9, "accuracy": 0.8, "lut": 1, "fps": 1,
                                        "feasible": True, "network": big.to_dict()}])
    assert main(["compare", str(bad), "--objective", "latency_ms", "--latency-table",
                 str(tiny_table), "--out", str(tmp_path / "bad.png")]) == 2
    err = capsys.readouterr().err
    assert "not in the latency table" in err and "--update" in err
    assert not (tmp_path / "bad.png").exists()


def test_compare_reprice_puts_two_targets_on_one_axis(tiny_table: Path, tmp_path: Path, capsys):
    """--reprice prices every design on the table, also those priced for another target."""
    import numpy as np

    space = tiny_space()
    rng = np.random.default_rng(1)
    nets = [space.describe(space.repair(space.sample(rng))).to_dict() for _ in range(2)]
    other = _fake_run(tmp_path / "other", [
        {"id": i, "accuracy": 0.8 + 0.01 * i, "lut": 1000, "fps": 1e4, "feasible": True,
         "latency_ms": 50.0 + i, "network": n} for i, n in enumerate(nets)])
    png = tmp_path / "cmp.png"
    assert main(["compare", str(other), "--objective", "latency_ms", "--latency-table",
                 str(tiny_table), "--reprice", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "priced latency_ms of 2 designs" in out and "repriced" in out
    model = LatencyTableModel(LatencyTable.load(tiny_table))
    low = min(model.estimate(NetworkSpec.from_dict(n)).latency_ms for n in nets)
    assert f"{low:g} .." in out  # the front starts on the table's axis, not at 50 ms
    # --reprice without a table is bad input, nothing written
    assert main(["compare", str(other), "--reprice", "--out", str(tmp_path / "x.png")]) == 2
    assert "reprice" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


def test_dwconv_is_named_missing_not_misread(tiny_table: Path):
    """A depthwise layer gets its own op key; a table without it reports it, never a crash."""
    spec = NetworkSpec.from_dict({
        "name": "dw", "input": {"channels": 4, "height": 8, "width": 8, "bits": 8},
        "layers": [{"name": "dw0", "op": "dwconv", "kernel": 3, "padding": 1, "weight_bits": 4,
                    "act_bits": 4},
                   {"name": "c1", "op": "conv", "out_channels": 8, "kernel": 1, "weight_bits": 4,
                    "act_bits": 4},
                   {"name": "fc", "op": "fc", "out_features": 10, "weight_bits": 4,
                    "act_bits": None}]})
    keys = [op.key for _, op in network_ops(spec)]
    assert keys[1].startswith("dwconv|4x8x8|o4|k3s1p1") and keys[2].startswith("conv|4x8x8|o8")
    rep = LatencyTableModel(tiny_table).estimate(spec)
    assert not rep.valid and any(u["key"] == keys[1] for u in rep.unsupported)

from codesign.search.pareto import best, knee, non_dominated, plot_pareto, write_pareto


def _d(acc, lut, fps, feasible=True):
    return {"accuracy": acc, "lut": lut, "fps": fps, "feasible": feasible}


def test_non_dominated_hand_checked():
    ds = [_d(0.9, 10_000, 1e4), _d(0.85, 5_000, 1e4), _d(0.84, 6_000, 1e4),  # 2 dominated by 1
          _d(0.95, 50_000, 1e4, feasible=False), _d(0.9, 10_000, 2e4)]       # 0 dominated by 4
    assert non_dominated(ds) == [False, True, False, False, True]


def test_ties_stay_on_front_and_infeasible_never():
    ds = [_d(0.8, 100, 10), _d(0.8, 100, 10), _d(None, 1, 1, feasible=False)]
    assert non_dominated(ds) == [True, True, False]


def test_best_and_knee():
    ds = [_d(0.90, 20_000, 1e4), _d(0.89, 8_000, 1e4), _d(0.70, 3_000, 1e4)]
    for d, f in zip(ds, non_dominated(ds)):
        d["on_front"] = f
    assert best(ds) == 0
    assert knee(ds) == 1


def test_write_and_plot(tmp_path):
    ds = [dict(_d(0.9, 10_000, 1e4), id=0), dict(_d(None, 60_000, 1e4, feasible=False), id=1)]
    import json
    write_pareto(tmp_path / "p.json", {"x": 1}, ds)
    d = json.loads((tmp_path / "p.json").read_text())
    assert d["schema"] == 1 and d["designs"][0]["on_front"] and not d["designs"][1]["on_front"]
    plot_pareto(tmp_path / "p.png", ds, {"lut": 30_000})
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_write_pareto_marks_the_front_of_the_given_objectives(tmp_path):
    """A latency search's front is accuracy vs latency_ms, not the FPGA objectives."""
    import json

    ds = [{"accuracy": 0.86, "latency_ms": 0.04, "lut": 5000, "fps": 7000, "feasible": True},
          {"accuracy": 0.85, "latency_ms": 0.06, "lut": 3000, "fps": 14000, "feasible": True}]
    objectives = [{"name": "accuracy", "sense": "max"}, {"name": "latency_ms", "sense": "min"}]
    write_pareto(tmp_path / "p.json", {}, ds, objectives=objectives)
    got = json.loads((tmp_path / "p.json").read_text())["designs"]
    assert [d["on_front"] for d in got] == [True, False]  # the second is slower and worse
    write_pareto(tmp_path / "q.json", {}, ds)  # FPGA objectives: both on the front
    assert [d["on_front"] for d in json.loads((tmp_path / "q.json").read_text())["designs"]] \
        == [True, True]

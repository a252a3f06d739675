"""Registry conformance: every search strategy drives an Optuna study with constraints."""
import optuna
import pytest

from codesign.search.strategies import get_strategy, list_strategies
from fpga.errors import InputError


@pytest.mark.parametrize("name", list_strategies())
def test_strategy_runs_a_constrained_study(name):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=["maximize", "minimize"],
                                sampler=get_strategy(name).sampler(seed=0, population=4))
    for _ in range(12):
        t = study.ask()
        x = t.suggest_categorical("x", [1, 2, 3, 4])
        t.set_constraint("budget", x - 3.0)  # x = 4 breaks the budget
        study.tell(t, [float(x), float(x * x)])
    assert len(study.trials) == 12
    feasible = [t for t in study.best_trials if t.params["x"] <= 3]
    assert feasible and all(t.params["x"] <= 3 for t in study.best_trials)


def test_unknown_strategy():
    with pytest.raises(InputError) as e:
        get_strategy("bogus")
    assert "nsga2" in str(e.value)

"""The trial store: stale trials are failed and retried, admission by rank caps the study at
``trials`` across workers, and an accuracy is computed once per architecture + bits."""
from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from codesign.search.study import TrialStore
from fpga.errors import InputError


def _store(tmp_path, trials=4, exclusive=True, name="s.db", **kw):
    return TrialStore(f"sqlite:///{tmp_path / name}", ["maximize"],
                      optuna.samplers.RandomSampler(seed=0), trials=trials, exclusive=exclusive,
                      **kw)


def _run(store, value=1.0):
    trial = store.ask()
    if trial is None:
        return None
    x = trial.suggest_categorical("x", [1, 2, 3, 4, 5, 6, 7, 8])
    store.study.tell(trial, [value * x])
    return trial


def _states(store):
    out = {}
    for t in store.all_trials():
        out[t.state] = out.get(t.state, 0) + 1
    return out


def test_exactly_trials_complete(tmp_path):
    s = _store(tmp_path, trials=5)
    while s.needs_more():
        if _run(s) is None:
            break
    assert _states(s) == {TrialState.COMPLETE: 5}
    assert s.ask() is None or False  # nothing more is admitted


def test_stale_running_trial_is_failed_and_its_seed_queued_again(tmp_path):
    s = _store(tmp_path, trials=3)
    s.study.enqueue_trial({"x": 7})
    t = s.ask()  # pops the seed, then the process "dies" before telling
    assert t.suggest_categorical("x", [1, 2, 3, 4, 5, 6, 7, 8]) == 7
    s2 = _store(tmp_path, trials=3)  # the next session holds the run lock: exclusive
    assert s2.recover_stale() == 1
    while s2.needs_more():
        if _run(s2) is None:
            break
    done = s2.completed()
    assert len(done) == 3 and not s2.all_trials((TrialState.RUNNING,))
    assert 7 in [d.params["x"] for d in done]  # the seed was scored after all


def test_non_exclusive_store_keeps_other_workers_running_trials(tmp_path):
    a = _store(tmp_path, trials=3, exclusive=False)
    t = a.ask()
    with a.heartbeat(t):
        b = _store(tmp_path, trials=3, exclusive=False)
        assert b.recover_stale() == 0  # a's trial has a fresh heartbeat
    assert t.number in [x.number for x in b.all_trials((TrialState.RUNNING,))]


def test_heartbeat_stale_trial_of_another_worker_is_retried(tmp_path):
    a = _store(tmp_path, trials=2, exclusive=False, heartbeat_s=1, grace_s=2)
    a.study.enqueue_trial({"x": 5})
    t = a.ask()
    a.storage.record_heartbeat(t._trial_id)  # one heartbeat, then the worker dies
    import time
    time.sleep(3.2)
    b = _store(tmp_path, trials=2, exclusive=False, heartbeat_s=1, grace_s=2)
    assert b.recover_stale() == 1
    waiting = b.all_trials((TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].system_attrs["fixed_params"] == {"x": 5}


def test_two_workers_never_exceed_trials(tmp_path):
    a = _store(tmp_path, trials=4, exclusive=False)
    b = _store(tmp_path, trials=4, exclusive=False)
    running = [a.ask(), b.ask(), a.ask(), b.ask()]  # four admitted, interleaved
    assert all(r is not None for r in running)
    assert b.ask() is None and a.ask() is None  # the fifth is surplus for both
    for r in running:
        r.suggest_categorical("x", [1, 2])
        a.study.tell(r, [1.0])
    assert len(a.completed()) == 4
    assert not a.needs_more() and not b.needs_more()


def test_accuracy_computed_once_per_key_across_workers(tmp_path):
    a = _store(tmp_path, trials=4, exclusive=False)
    b = _store(tmp_path, trials=4, exclusive=False)
    calls = []

    def ev():
        calls.append(1)
        return 0.75

    ta = a.ask()
    acc, here = a.accuracy_of("k", ta, ev)
    ta.set_user_attr("accuracy", acc)
    a.study.tell(ta, [acc])
    tb = b.ask()
    acc_b, here_b = b.accuracy_of("k", tb, ev)
    assert (acc, here, acc_b, here_b) == (0.75, True, 0.75, False) and len(calls) == 1


def test_other_objectives_are_refused(tmp_path):
    _store(tmp_path, trials=2)
    with pytest.raises(InputError) as e:
        TrialStore(f"sqlite:///{tmp_path / 's.db'}", ["maximize", "minimize"],
                   optuna.samplers.RandomSampler(seed=0), trials=2, exclusive=True)
    assert e.value.field == "storage"


def test_unreachable_storage_is_bad_input(tmp_path):
    with pytest.raises(InputError) as e:
        TrialStore("postgresql://nobody@127.0.0.1:9/none", ["maximize"],
                   optuna.samplers.RandomSampler(seed=0), trials=2, exclusive=False)
    assert e.value.field == "storage" and "127.0.0.1" in str(e.value)


def test_timing_sums_sessions(tmp_path):
    s = _store(tmp_path)
    s.record_session("a", {"search_s": 1.25, "total_s": 10.0})
    s.record_session("b", {"search_s": 2.0, "total_s": 5.0})
    s.record_session("b", {"search_s": 3.0, "total_s": 6.0})  # overwritten as it goes
    assert s.timing() == {"search_s": 4.2, "total_s": 16.0, "sessions": 2}


def test_a_lower_trial_waits_for_a_higher_one_already_evaluating(tmp_path):
    """The race of a review: worker B's trial #1 starts scoring a subnet, then worker A's
    trial #0 (same subnet) gets there: A must wait for B's accuracy, not score it again."""
    import threading

    a = _store(tmp_path, trials=4, exclusive=False)
    b = _store(tmp_path, trials=4, exclusive=False)
    ta, tb = a.ask(), b.ask()
    assert ta.number < tb.number
    calls, started = [], threading.Event()

    def slow():
        calls.append("b")
        started.set()
        import time
        time.sleep(1.5)
        return 0.5

    def worker_b():
        acc, _ = b.accuracy_of("k", tb, slow)
        tb.set_user_attr("accuracy", acc)
        b.study.tell(tb, [acc])

    th = threading.Thread(target=worker_b)
    th.start()
    started.wait(10)
    acc, here = a.accuracy_of("k", ta, lambda: calls.append("a") or 0.9, poll_s=0.1)
    th.join()
    assert (acc, here, calls) == (0.5, False, ["b"])


def test_trial_of_a_worker_killed_before_its_first_heartbeat_is_retried(tmp_path):
    import time

    a = _store(tmp_path, trials=2, exclusive=False, heartbeat_s=1, grace_s=1)
    a.study.enqueue_trial({"x": 3})
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        orphan = a.study.ask()  # created, then the worker dies: no heartbeat, no worker mark
    assert orphan.number == 0
    time.sleep(1.5)
    b = _store(tmp_path, trials=2, exclusive=False, heartbeat_s=1, grace_s=1)
    assert b.recover_stale() == 1
    waiting = b.all_trials((TrialState.WAITING,))
    assert [w.system_attrs["fixed_params"] for w in waiting] == [{"x": 3}]
    assert not waiting[0].user_attrs  # the dead trial's attributes do not travel

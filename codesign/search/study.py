"""The trial store of a search: an Optuna study that survives kills and is shared by workers.

Three rules make a study end with exactly ``--trials`` completed trials, whatever happens:

1. **Stale trials are failed and retried.**  A trial whose process died (``kill -9``, a lost
   machine) stays ``RUNNING`` in the database.  Every trial records a heartbeat while it runs
   (Optuna's RDB heartbeat); a ``RUNNING`` trial without a heartbeat for ``grace_s`` seconds is
   failed, and Optuna's :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback` queues its
   candidate again (a hand-design seed is thus never lost).  In the run directory's own SQLite
   study the run lock (:class:`codesign.rundir.RunLock`) proves that no other process works on
   it, so every ``RUNNING`` trial found at start-up is stale at once.
2. **Admission by rank.**  Trials are numbered by the database in creation order.  A trial runs
   only if fewer than ``trials`` non-failed trials (complete, running or queued) have a lower
   number; otherwise it is surplus and is failed at once (its candidate, if it was queued, is
   queued again).  Since numbers are unique and ranks only fall, concurrent workers can never
   run more than ``trials`` trials between them.
3. **One evaluation per candidate.**  Accuracy depends on the architecture and the bits only
   (``acc_key``).  Before a worker scores a subnet it looks for a completed trial with the same
   key, and waits for a running one of another worker; the accuracies of the study are the
   cache.

The study also keeps the search's wall time (:meth:`TrialStore.record_session`), so that the
``timing`` in ``pareto.json`` adds up over every session that worked on it.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import os
import socket
import threading
import time
import uuid
import warnings
from typing import Any, Callable, Iterable, Iterator

import optuna
from optuna.trial import FrozenTrial, TrialState

from fpga.errors import InputError

log = logging.getLogger(__name__)

STUDY_NAME = "codesign"
#: seconds between heartbeats of a running trial, and without one before it counts as stale
HEARTBEAT_S = 5
GRACE_S = 30
_ALIVE = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Optuna's notes on heartbeats: "experimental", and "supposed to be used with
    Study.optimize" (this loop uses ask/tell and records the heartbeats itself)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        yield


def _fail_stale(study: optuna.Study) -> None:
    with _quiet():
        optuna.storages.fail_stale_trials(study)


def _requeue(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a failed trial's candidate again (Optuna's stale-trial callback slot).

    Like :class:`optuna.storages.RetryHeartbeatStaleTrialCallback`, but only the candidate
    travels (its parameters and, for a queued seed, the fixed parameters): not the dead trial's
    user attributes, whose ``acc_key`` would make other workers wait on it."""
    system_attrs = {k: v for k, v in trial.system_attrs.items()
                    if k in ("fixed_params", "retry_history", "failed_trial")}
    system_attrs.setdefault("failed_trial", trial.number)
    system_attrs["retry_history"] = list(system_attrs.get("retry_history", [])) + [trial.number]
    study.add_trial(optuna.create_trial(state=TrialState.WAITING, params=trial.params,
                                        distributions=trial.distributions,
                                        system_attrs=system_attrs))


class _Heartbeat:
    """Record a trial's heartbeat every ``interval`` seconds in a background thread."""

    def __init__(self, storage: Any, trial_id: int, interval: float) -> None:
        self._storage, self._trial_id, self._interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"heartbeat-{trial_id}")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception as exc:  # a storage hiccup must not kill the search
                log.debug("heartbeat of trial %s failed: %s", self._trial_id, exc)
            self._stop.wait(self._interval)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


class TrialStore:
    """An Optuna study with heartbeats, stale-trial recovery, admission by rank and a shared
    accuracy cache.  ``exclusive``: this process holds the run lock over the storage (the
    default SQLite study in the run directory), so no other process can own a running trial.
    """

    def __init__(self, url: str, directions: list[str], sampler: optuna.samplers.BaseSampler,
                 trials: int, exclusive: bool, heartbeat_s: float = HEARTBEAT_S,
                 grace_s: float = GRACE_S) -> None:
        self.trials = trials
        self.exclusive = exclusive
        self.heartbeat_s = heartbeat_s
        self.grace_s = grace_s
        self._acc: dict[str, dict[str, float]] | None = None  # acc_key -> scores, from the study
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        try:
            self.study, self._retry = self._open(url, directions, sampler, heartbeat_s, grace_s)
            # the study's own storage object (Optuna wraps the RDB storage in a cache): every
            # state change goes through it, so the cache never holds a stale state
            self.storage = self.study._storage
        except InputError:
            raise
        except Exception as exc:  # sqlalchemy/optuna errors: unreachable server, bad URL, ...
            shown = url.split("@")[-1] if "@" in url else url  # never print a password
            reason = " ".join(str(exc).split())[:200]
            if isinstance(exc, ImportError):
                reason = ("its database driver is not installed; for PostgreSQL: pip install "
                          "'codesign[postgres]' (psycopg2-binary)")
            raise InputError("storage", f"cannot open the study at {shown} "
                             f"({type(exc).__name__}: {reason})",
                             ["sqlite:///PATH.db", "postgresql://USER@HOST/DB"]) from None
        if [d.name.lower() for d in self.study.directions] != [d.lower() for d in directions]:
            raise InputError("storage", "the study there optimizes other objectives "
                             f"({[d.name.lower() for d in self.study.directions]}); use another "
                             "--storage or --out", [str(directions)])

    @staticmethod
    def _open(url: str, directions: list[str], sampler: optuna.samplers.BaseSampler,
              heartbeat_s: float, grace_s: float, attempts: int = 6) -> tuple[Any, Any]:
        """Open (or create) the study.  Workers starting together on a new database race to
        create its tables ("table ... already exists", "database is locked"): retry a few
        times, then let the error through."""
        for attempt in range(attempts):
            try:
                with _quiet():  # heartbeats and their retry are "experimental"
                    retry = _requeue
                    engine_kwargs = ({"connect_args": {"timeout": 60}} if url.startswith("sqlite")
                                     else {})
                    rdb = optuna.storages.RDBStorage(
                        url, engine_kwargs=engine_kwargs,
                        heartbeat_interval=max(1, int(heartbeat_s)),
                        grace_period=max(2, int(grace_s)), heartbeat_stale_trial_callback=retry)
                    study = optuna.create_study(study_name=STUDY_NAME, storage=rdb,
                                                load_if_exists=True, directions=directions,
                                                sampler=sampler)
                return study, retry
            except Exception as exc:  # noqa: BLE001 - only the creation race is retried
                text = str(exc).lower()
                racing = "already exists" in text or "locked" in text or "unique" in text
                if not racing or attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ reading
    def all_trials(self, states: Iterable[TrialState] | None = None) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False,
                                     states=tuple(states) if states is not None else None)

    def completed(self) -> list[FrozenTrial]:
        return self.all_trials((TrialState.COMPLETE,))

    def is_fresh(self) -> bool:
        return not self.all_trials()

    # ------------------------------------------------------------------ recovery
    def recover_stale(self) -> int:
        """Fail the trials no live process runs, and queue their candidates again."""
        n = 0
        if self.exclusive:
            for t in self.all_trials((TrialState.RUNNING,)):
                if self._fail(t._trial_id):
                    self._retry(self.study, self.storage.get_trial(t._trial_id))
                    n += 1
        before = {t.number for t in self.all_trials((TrialState.FAIL,))}
        _fail_stale(self.study)  # heartbeat-based: other workers too
        n += len({t.number for t in self.all_trials((TrialState.FAIL,))} - before)
        # a worker killed between creating a trial and its first heartbeat: Optuna's check
        # skips trials without one; ask() marks a trial with its worker right after that
        # heartbeat, so an unmarked running trial older than the grace period is dead
        now = datetime.datetime.now()
        for t in self.all_trials((TrialState.RUNNING,)):
            if "worker" not in t.user_attrs and t.datetime_start is not None \
                    and (now - t.datetime_start).total_seconds() > self.grace_s:
                if self._fail(t._trial_id):
                    self._retry(self.study, self.storage.get_trial(t._trial_id))
                    n += 1
        if n:
            log.info("%d trial(s) left running by a process that no longer runs: failed, "
                     "their candidates queued again", n)
        return n

    def _fail(self, trial_id: int) -> bool:
        try:
            return bool(self.storage.set_trial_state_values(trial_id, state=TrialState.FAIL))
        except optuna.exceptions.UpdateFinishedTrialError:
            return False  # another worker got there first

    # ------------------------------------------------------------------ admission
    def needs_more(self) -> bool:
        """Whether a new trial could still be admitted (or a queued one is waiting)."""
        alive = self.all_trials(_ALIVE)
        waiting = any(t.state == TrialState.WAITING for t in alive)
        return waiting or len(alive) < self.trials

    def ask(self) -> optuna.Trial | None:
        """The next admitted trial, or ``None`` when the study has its ``trials``."""
        while True:
            with _quiet():
                trial = self.study.ask()
            self.storage.record_heartbeat(trial._trial_id)  # stale-detectable from now on
            rank = sum(1 for t in self.all_trials(_ALIVE) if t.number < trial.number)
            if rank < self.trials:
                trial.set_user_attr("worker", self.worker)
                return trial
            self.storage.set_trial_system_attr(trial._trial_id, "surplus", True)
            self.study.tell(trial, state=TrialState.FAIL)
            frozen = self.storage.get_trial(trial._trial_id)
            if "fixed_params" in frozen.system_attrs and \
                    len(self.all_trials(_ALIVE)) < self.trials:
                # a queued candidate popped by a surplus trial while a slot is still free
                # (another worker's trial failed meanwhile): queue it again
                self._retry(self.study, frozen)
            if not self.needs_more():
                return None

    def heartbeat(self, trial: optuna.Trial) -> _Heartbeat:
        return _Heartbeat(self.storage, trial._trial_id, self.heartbeat_s)

    # ------------------------------------------------------------------ shared accuracies
    def accuracy_of(self, acc_key: str, trial: optuna.Trial,
                    evaluate: Callable[[], float], poll_s: float = 0.5) -> tuple[float, bool]:
        """:meth:`scores_of` for an ``evaluate`` that returns the accuracy alone."""
        scores, evaluated = self.scores_of(acc_key, trial,
                                           lambda: {"accuracy": float(evaluate())}, poll_s)
        return scores["accuracy"], evaluated

    def scores_of(self, acc_key: str, trial: optuna.Trial,
                  evaluate: Callable[[], dict[str, float]],
                  poll_s: float = 0.5) -> tuple[dict[str, float], bool]:
        """``(scores, evaluated_here)``: the study's scores (``accuracy``, and
        ``robust_accuracy`` when measured) for ``acc_key`` when a trial has them, else
        ``evaluate()`` -- once across all workers.

        A trial first marks the key (``acc_key``).  Among running trials of one key, the one
        with the lowest number evaluates; the others wait for its scores.  The evaluator also
        sets ``evaluating`` and looks again before it starts: a lower-numbered trial that marked
        the key meanwhile makes it step back, and one already evaluating makes every newcomer
        wait, so no two trials evaluate one key.  Every wait re-decides on each poll (no
        deadlock), and a waited-on trial that dies is failed by its missing heartbeat."""
        trial.set_user_attr("acc_key", acc_key)
        if self._acc is None:
            self._acc = {}
            for t in self.completed():
                self._remember(t)
        if self.exclusive:  # no other process works on this study
            return self._evaluated(acc_key, evaluate)
        while acc_key not in self._acc:
            others = self._same_key(acc_key, trial.number)
            if acc_key in self._acc:
                break
            if not any(t.user_attrs.get("evaluating") or t.number < trial.number for t in others):
                trial.set_user_attr("evaluating", True)
                others = self._same_key(acc_key, trial.number)
                if acc_key in self._acc:
                    trial.set_user_attr("evaluating", False)
                    break
                if not any(t.number < trial.number for t in others):
                    return self._evaluated(acc_key, evaluate)
                trial.set_user_attr("evaluating", False)  # a lower-numbered one came: it goes
            time.sleep(poll_s)
            _fail_stale(self.study)
        return dict(self._acc[acc_key]), False

    def _remember(self, t: FrozenTrial) -> None:
        """Cache a completed trial's scores under its ``acc_key``."""
        u = t.user_attrs
        if u.get("accuracy") is None or "acc_key" not in u:
            return
        scores = u.get("scores") or {"accuracy": u["accuracy"]}
        self._acc[u["acc_key"]] = {k: float(v) for k, v in scores.items()}

    def _same_key(self, acc_key: str, number: int) -> list[FrozenTrial]:
        """Other running trials marked with ``acc_key``; a completed one fills the cache."""
        out = []
        for t in self.all_trials((TrialState.COMPLETE, TrialState.RUNNING)):
            if t.number == number or t.user_attrs.get("acc_key") != acc_key:
                continue
            if t.state == TrialState.COMPLETE:
                self._remember(t)
            else:
                out.append(t)
        return out

    def _evaluated(self, acc_key: str, evaluate: Callable[[], dict[str, float]]
                   ) -> tuple[dict[str, float], bool]:
        if acc_key in self._acc:
            return dict(self._acc[acc_key]), False
        scores = {k: float(v) for k, v in evaluate().items()}
        self._acc[acc_key] = scores
        return dict(scores), True

    def wait_for_others(self, poll_s: float = 1.0) -> None:
        """Block until no other worker runs a trial (stale ones are failed on the way)."""
        while any(t.user_attrs.get("worker") != self.worker
                  for t in self.all_trials((TrialState.RUNNING,))):
            time.sleep(poll_s)
            _fail_stale(self.study)

    # ------------------------------------------------------------------ the supernet
    def check_supernet(self, fingerprint: str) -> bool:
        """Record the supernet's fingerprint in the study, or compare with the one recorded.

        Workers on one ``--storage`` each train the supernet in their own run directory; the
        same request (seed included) gives the same weights on the same kind of machine.  A
        different fingerprint means accuracies from different supernets are mixed in the
        study: warn (floating-point results may differ between kinds of machine)."""
        known = self.study.user_attrs.get("supernet_sha1")
        if known is None:
            self.study.set_user_attr("supernet_sha1", fingerprint)
            return True
        if known != fingerprint:
            log.warning("this worker's supernet differs from the one that scored the study's "
                        "first trials (sha1 %s vs %s): its accuracies are not exactly "
                        "comparable with theirs", fingerprint[:12], known[:12])
            return False
        return True

    # ------------------------------------------------------------------ timing
    def record_session(self, session: str, seconds: dict[str, float]) -> None:
        """Store this session's seconds (overwritten as it goes) in the study."""
        self.study.set_user_attr(f"session:{session}", {k: round(v, 2) for k, v in seconds.items()})

    def timing(self) -> dict[str, Any]:
        """Seconds summed over every session that worked on the study."""
        sessions = [v for k, v in self.study.user_attrs.items() if k.startswith("session:")]
        out: dict[str, Any] = {}
        for s in sessions:
            for k, v in s.items():
                out[k] = round(out.get(k, 0.0) + float(v), 1)
        out["sessions"] = len(sessions)
        return out


__all__ = ["TrialStore", "STUDY_NAME", "HEARTBEAT_S", "GRACE_S"]

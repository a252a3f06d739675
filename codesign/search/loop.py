"""The search loop: request -> space -> evaluator -> strategy -> study.

One place owns budgets, persistence and resume; everything a trial needs is elsewhere:

* the **request** (:class:`~codesign.request.SearchRequest`) is checked, and so are the data,
  the budgets (reachable by some design?), the run directory and the storage, before anything
  is written;
* the **space** (:mod:`codesign.spaces`) says what a candidate is;
* the **evaluator** (:class:`~codesign.search.evaluator.Evaluator`) prices a candidate under the
  typed constraints, repairing its folding, optionally ranks it with a zero-cost proxy, scores
  it with the trained supernet when it is feasible (cached per architecture + bits), and
  returns one result record;
* the **strategy** (:mod:`codesign.search.strategies`) proposes candidates: ask/tell ones
  through an Optuna sampler, one trial at a time; supernet-driven ones (differentiable, mgda)
  once, from the supernet, the data and the evaluator, and the loop queues their proposals;
* the **study** (:class:`~codesign.search.study.TrialStore`) records each result as it
  completes, so that a killed run resumes where it stopped (SQLite in the run directory by
  default; any SQLAlchemy URL lets several workers share it).

The first generation is the space's hand-design-like seeds plus batch-screened candidates that
meet the budgets as proposed, for every strategy alike.
"""
from __future__ import annotations

import logging
import shutil
import time

from pathlib import Path
from typing import Any

import numpy as np

from fpga.errors import InputError

from codesign.data import ImageDataset, load_dataset
from codesign.io import atomic_write_json
from codesign.request import SearchRequest
from codesign.rundir import (PARETO_FILE, REQUEST_FILE, STUDY_FILE, RunLock,
                             check_sqlite_file, load_pareto)
from codesign.search.evaluator import Evaluation, Evaluator, Prefilter, SupernetScorer
from codesign.search.pareto import (best, knee, mark_front, objectives_of, plot_pareto,
                                    write_pareto)
from codesign.search.pricing import Priced, Pricer, check_budgets_reachable
from codesign.search.screen import screened_candidates
from codesign.search.strategies import SearchContext, get_strategy
from codesign.search.study import TrialStore
from codesign.spaces.base import Candidate, SearchSpace, get_space

log = logging.getLogger(__name__)



# ------------------------------------------------------------------------------ set-up
def build_space(request: SearchRequest, data: ImageDataset) -> SearchSpace:
    return get_space(request.space, input_shape=data.shape, num_classes=data.num_classes)


def check_splits(request: SearchRequest, data: ImageDataset) -> None:
    """Refuse a validation split or BN-calibration set the training set cannot hold."""
    n = len(data.train_x)
    if not request.val_size < n:
        raise InputError("val-size", f"{request.val_size} validation images cannot be carved "
                         f"from {n} training images", [f"1..{n - 1}"])
    left = n - request.val_size
    if request.batch_size > left:
        raise InputError("batch-size", f"{request.batch_size} exceeds the {left} training images "
                         f"left after the validation split", [f"1..{left}"])


def inspect_run_dir(request: SearchRequest) -> bool:
    """Whether ``request.out`` is an earlier run of this search (to resume) or new; refuse a
    foreign or different directory and damaged run files.  Reads only."""
    out = Path(request.out)
    if out.exists() and not out.is_dir():
        raise InputError("out", f"{out} exists and is not a directory",
                         ["a new or empty directory", "an earlier run of the same search"])
    req_file = out / REQUEST_FILE
    if req_file.exists():
        try:
            old = SearchRequest.load(req_file)
        except InputError as exc:
            raise InputError("request.json", f"{req_file} is damaged or foreign ({exc}); remove "
                             f"the run directory {out} to start afresh") from None
        diff = old.differences(request)
        if diff:
            raise InputError("out", f"{out} holds a different search (differs in {diff}); "
                             "choose another --out or remove it",
                             ["a new or matching run directory"])
        if request.storage is None:
            check_sqlite_file(out / STUDY_FILE, "remove it to restart the search from the "
                              "trained supernet (its completed trials are lost)")
        return True
    if out.exists() and any(out.iterdir()):
        raise InputError("out", f"{out} exists and is not a codesign run directory",
                         ["a new or empty directory", "an earlier run of the same search"])
    return False


# ------------------------------------------------------------------------------ the search
def run_search(request: SearchRequest, progress: bool = True,
               checkpoint_every_s: float = 60.0) -> dict[str, Any]:
    """Train the supernet, search, and write ``request.json``, ``pareto.json``, ``pareto.png``.

    Every check on the user's input (data set, budgets reachable, run directory and the files
    in it, the storage) happens before anything is written.  The run directory is locked for
    the whole run (:class:`~codesign.rundir.RunLock`).  Returns the ``pareto.json`` content.
    """
    from codesign import distributed

    t_start = time.perf_counter()
    ctx = distributed.from_env()  # a torchrun launch: every rank runs this function
    if ctx is not None:
        distributed.check_same_request(ctx, request.to_dict())
    data = load_dataset(request.dataset, request.data_dir)
    space = build_space(request, data)
    pricer = Pricer(space, request)
    check_budgets_reachable(pricer)
    if pricer.latency is not None:
        from codesign.latency import check_latency_target
        check_latency_target(pricer.latency, space, request.max_latency_ms, request.latency_table)
    objectives = objectives_of(request)
    strategy = get_strategy(request.strategy)
    strategy.check(space, request)
    check_splits(request, data)
    if request.supernet == "few-shot":
        from codesign.supernet.plan import split_groups
        split_groups(space, request.few_shot_splits)  # enough nonlinearity counts to split?
    device = _train_device(request, ctx)

    run_dir = Path(request.out)
    if ctx is not None and not ctx.is_main:
        # rank 0 prepares the run directory; a refusal there is raised here too
        distributed.broadcast_outcome(ctx, None)
        _train(request, data, space, run_dir, device, ctx, progress=False,
               checkpoint_every_s=checkpoint_every_s)
        return {}
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError("out", f"{run_dir} exists and is not a directory",
                         ["a new or empty directory", "an earlier run of the same search"])
    created = not run_dir.exists()
    # the outermost folder this run creates: removed again if the input turns out bad
    top = next((p for p in reversed((run_dir.absolute(), *run_dir.absolute().parents))
                if not p.exists()), None)
    lock = RunLock(run_dir)
    locked = False
    try:
        # an external study is opened (reachable? same objectives?) before anything is made
        store = _open_store(request, objectives, strategy) if request.storage else None
        if created:
            run_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
        locked = True
        resumed = inspect_run_dir(request)  # another process may have made it meanwhile
        from codesign.supernet import build_supernet
        from codesign.supernet.fewshot import check_resumable_scheme

        # a damaged or foreign checkpoint: exit 2 before anything is written
        check_resumable_scheme(space, build_supernet, request.supernet, train_config(request),
                               run_dir, request.few_shot_splits, request.warmup_epochs)
        if resumed:  # the run's own study is checked (opened) before request.json is rewritten
            store = store or _open_store(request, objectives, strategy)
            atomic_write_json(run_dir / REQUEST_FILE, request.to_dict())
        else:  # request.json first: a run killed from here on is resumable
            atomic_write_json(run_dir / REQUEST_FILE, request.to_dict())
            store = store or _open_store(request, objectives, strategy)
    except BaseException as exc:
        if created and locked and top is not None and top.is_dir():
            # ours alone (we made it and hold its lock): bad input leaves nothing behind
            shutil.rmtree(top, ignore_errors=True)
        lock.release()
        if ctx is not None:
            distributed.broadcast_outcome(ctx, exc)
        raise
    if ctx is not None:
        distributed.broadcast_outcome(ctx, None)
    log.info("run directory %s (%s)", run_dir, "resumed" if resumed else "new")
    try:
        return _search(request, data, space, pricer, objectives, store, run_dir, device, ctx,
                       t_start, progress, checkpoint_every_s)
    finally:
        lock.release()


def train_config(request: SearchRequest) -> Any:
    """The supernet's training recipe for ``request`` (one-shot; few-shot derives its parts)."""
    from codesign.supernet.config import TrainConfig

    return TrainConfig(epochs=request.epochs, batch_size=request.batch_size, lr=request.lr,
                       seed=request.seed, augment=request.dataset == "cifar10",
                       balanced=request.balanced_sampling)


def _train_device(request: SearchRequest, ctx: Any) -> Any:
    """The torch device the supernet trains on; ``cuda`` without a GPU is bad input."""
    import torch

    if request.train_device == "cuda" and not torch.cuda.is_available():
        raise InputError("train-device", "cuda was asked for, but no CUDA GPU is visible to "
                         "torch on this machine", ["auto", "cpu"])
    use_cuda = request.train_device == "cuda" or (request.train_device == "auto"
                                                  and torch.cuda.is_available())
    if not use_cuda:
        return torch.device("cpu")
    return torch.device("cuda", ctx.local_rank if ctx is not None else 0)


def _train(request: SearchRequest, data: ImageDataset, space: SearchSpace, run_dir: Path,
           device: Any, ctx: Any, progress: bool, checkpoint_every_s: float,
           on_checkpoint: Any = None) -> tuple[Any, list[dict[str, Any]]]:
    """Train (or resume) the request's supernet; under torchrun every rank takes part."""
    import torch

    from codesign.supernet import build_supernet
    from codesign.supernet.fewshot import train_scheme
    from codesign.supernet.train import tensor_splits

    sp = tensor_splits(data, request.val_size, request.seed)
    torch.manual_seed(request.seed)
    try:
        return train_scheme(space, build_supernet, request.supernet, train_config(request),
                            sp.train_x, sp.train_y, device, run_dir,
                            splits=request.few_shot_splits, warmup_epochs=request.warmup_epochs,
                            progress=progress, checkpoint_every_s=checkpoint_every_s,
                            on_checkpoint=on_checkpoint, dist=ctx)
    finally:
        if ctx is not None:
            from codesign import distributed
            distributed._shutdown()


def _open_store(request: SearchRequest, objectives: Any, strategy: Any) -> TrialStore:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return TrialStore(request.storage_url(),
                      directions=["maximize" if s == "max" else "minimize" for _, s in objectives],
                      sampler=strategy.sampler(sampler_seed(request), request.population),
                      trials=request.trials, exclusive=request.storage is None)


def sampler_seed(request: SearchRequest) -> int:
    """The strategy's seed: the request's, for the run directory's own study (one worker, so
    the run is reproducible).  Workers sharing a ``--storage`` all carry the same request, and
    samplers seeded alike would propose the same candidates (each then a cached duplicate of
    the other's): there each worker mixes in a seed of its own."""
    if request.storage is None:
        return request.seed
    import secrets

    return (request.seed * 1_000_003 + secrets.randbits(31)) % (2 ** 31)


def _search(request: SearchRequest, data: ImageDataset, space: SearchSpace, pricer: Pricer,
            objectives: Any, store: TrialStore, run_dir: Path, device: Any, ctx: Any,
            t_start: float, progress: bool, checkpoint_every_s: float) -> dict[str, Any]:
    """Train (or resume) the supernet, run the trials, write the front."""
    import uuid

    from codesign.supernet.train import fingerprint, tensor_splits

    session = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    store.record_session(session, {"total_s": time.perf_counter() - t_start})

    # --- data: train / validation split carved from the training set (test set untouched)
    sp = tensor_splits(data, request.val_size, request.seed)
    calib_x = sp.train_x[:request.calib_images]

    # --- supernet (resumes exactly from its checkpoints)
    supernet, history = _train(request, data, space, run_dir, device, ctx, progress,
                               checkpoint_every_s, on_checkpoint=lambda: store.record_session(
                                   session, {"total_s": time.perf_counter() - t_start}))
    supernet.to(device)
    store.check_supernet(fingerprint(supernet))
    search_s = 0.0
    store.record_session(session, {"search_s": 0.0, "total_s": time.perf_counter() - t_start})

    # --- the evaluator: pricing, the optional prefilter, the supernet's scores
    attack = _attack(request)
    scorer = SupernetScorer(supernet, calib_x, sp.val_x, sp.val_y, device, attack,
                            request.robust_images, request.seed)
    evaluator = Evaluator(pricer, scorer, _prefilter(request, store, sp.train_x),
                          cache=store.scores_of)

    # --- the first generation, the strategy's proposals, the trials
    search_s += run_trials(request, space, pricer, evaluator, store, objectives,
                           SearchContext(request, space, supernet, device, sp.train_x,
                                         sp.train_y, evaluator, attack, progress),
                           progress, on_trial=lambda spent: store.record_session(
                               session, {"search_s": search_s + spent,
                                         "total_s": time.perf_counter() - t_start}))

    designs = mark_front(designs_from_study(store.study), objectives)  # knee() needs the front
    extra: dict[str, Any] = {}
    if pricer.latency is not None:
        extra["latency_target"] = pricer.latency.table.describe_target()
    if attack is not None:
        extra["robustness"] = {"attack": request.attack, "eps": request.eps,
                               "pgd_steps": request.pgd_steps if request.attack == "pgd"
                               else None, "images": min(request.robust_images, len(sp.val_x)),
                               "note": "white-box accuracy on the attack's examples of the "
                                       "first validation images, per subnet of the supernet"}
    if evaluator.prefilter is not None:
        extra["prefilter"] = prefilter_report(store.study, request)
    store.record_session(session, {"search_s": search_s, "total_s": time.perf_counter() - t_start})
    completed = store.completed()
    timing = store.timing()
    timing = {"train_s": round(sum(h["seconds"] for h in history), 1),
              "search_s": timing.get("search_s", 0.0), "total_s": timing.get("total_s", 0.0),
              "sessions": timing["sessions"],
              "note": "train_s: the supernet's training, summed over every session that worked "
                      "on it; search_s and total_s: summed over every session of the study"}
    pareto = write_pareto(run_dir / PARETO_FILE, request.to_dict(), designs,
                          objectives=[{"name": n, "sense": s} for n, s in objectives],
                          dataset=data.note, space=space.config(),
                          best=_id_at(designs, best(designs)),
                          knee=_id_at(designs, knee(designs, objectives)),
                          timing=timing, train_history=history, device=str(device),
                          constraints=[{"metric": c.metric, "sense": c.sense, "limit": c.limit}
                                       for c in pricer.constraints],
                          trials={"completed": len(completed),
                                  "evaluated": sum(bool(t.user_attrs.get("evaluated"))
                                                   for t in completed)},
                          **extra)
    budgets = pricer.budgets
    if pricer.latency is not None:
        from codesign.search.compare import plot_fronts
        plot_fronts(run_dir / "pareto.png", [(run_dir.name, pareto)], "latency_ms",
                    title=f"{data.note} on {extra['latency_target']}"
                          + (f": <= {request.max_latency_ms:g} ms" if request.max_latency_ms
                             else ""))
        return pareto
    plot_pareto(run_dir / "pareto.png", designs, budgets,
                title=f"{data.note} on {request.device}: LUT <= {budgets['lut']:,.0f}"
                      + (f", >= {request.min_fps:,.0f} frames/s" if request.min_fps else ""))
    return pareto


def run_trials(request: SearchRequest, space: SearchSpace, pricer: Pricer, evaluator: Evaluator,
               store: TrialStore, objectives: Any, ctx: SearchContext, progress: bool = False,
               on_trial: Any = None) -> float:
    """Queue the first generation and (for a supernet-driven strategy) its proposals, then run
    trials until the study has ``request.trials``; returns the seconds spent.  ``on_trial`` is
    called with the seconds so far after every trial."""
    search_s = 0.0
    store.recover_stale()
    if not store.study.user_attrs.get("first_generation_queued"):
        # hand-design-like seeds open the first generation, screened ones fill it; queued again
        # (existing ones skipped) until one session got through, so a kill loses no seed
        _enqueue_first_generation(store.study, space, pricer, request, evaluator.prefilter)
        store.study.set_user_attr("first_generation_queued", True)
    strategy = get_strategy(request.strategy)
    if strategy.supernet_driven and not store.study.user_attrs.get("proposals_queued"):
        t0 = time.perf_counter()
        first = min(request.population, request.trials)
        proposals = strategy.propose(ctx, max(0, request.trials - first))
        for c in proposals:
            store.study.enqueue_trial(dict(c), skip_if_exists=True)
        store.study.set_user_attr("proposals_queued", True)
        search_s += time.perf_counter() - t0
        log.info("%s proposed %d candidates in %.1f s", strategy.name, len(proposals),
                 time.perf_counter() - t0)

    from tqdm.auto import tqdm
    bar = tqdm(total=request.trials, initial=len(store.completed()), desc="search",
               unit="trial", disable=not progress, dynamic_ncols=True)
    n_eval = 0
    while True:
        while store.needs_more():
            t0 = time.perf_counter()
            trial = store.ask()
            if trial is None:
                break
            with store.heartbeat(trial):
                queued = "fixed_params" in store.storage.get_trial_system_attrs(trial._trial_id)
                c = Candidate({s.name: trial.suggest_categorical(s.name, list(s.choices))
                               for s in space.slots})
                ev = evaluator.evaluate(c, trial, queued=queued)
                n_eval += ev.evaluated
                _record(store, trial, ev, objectives)
            search_s += time.perf_counter() - t0
            if on_trial is not None:
                on_trial(search_s)
            if not ev.prefiltered:
                bar.update(1)
            bar.set_postfix(evaluated=n_eval)
        if store.exclusive:
            break
        store.wait_for_others()  # every worker's pareto.json is the whole study's
        store.recover_stale()
        if not store.needs_more():
            break
    bar.close()
    return search_s


def _record(store: TrialStore, trial: Any, ev: Evaluation, objectives: Any) -> None:
    """Tell the study one result: the constraints, the record, the objective values (or, for a
    candidate the prefilter kept from the supernet, a pruned trial that does not count)."""
    import optuna

    for k, v in ev.violations.items():
        trial.set_constraint(k, v)
    for k, v in ev.user_attrs().items():
        trial.set_user_attr(k, v)
    if ev.prefiltered:
        store.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        store.study.tell(trial, ev.values(objectives))


def _attack(request: SearchRequest) -> Any:
    if not request.measures_robustness:
        return None
    from codesign.search.robust import Attack

    return Attack(request.attack, float(request.eps), request.pgd_steps)


def _prefilter(request: SearchRequest, store: TrialStore, train_x: Any) -> Prefilter | None:
    """The zero-cost prefilter, its history read back from the study (resumes keep it)."""
    if request.prefilter != "zero-cost":
        return None
    import optuna

    from codesign.search.zero_cost import proxy_function

    trials = store.all_trials((optuna.trial.TrialState.COMPLETE,
                               optuna.trial.TrialState.PRUNED))
    return Prefilter(proxy_function(request.zero_cost_proxy), request.prefilter_keep,
                     warmup=min(request.population, request.trials),
                     max_pruned=4 * request.trials, seed=request.seed, images=train_x[:64],
                     history=[t.user_attrs.get("proxy") for t in trials],
                     pruned=sum(bool(t.user_attrs.get("prefiltered")) for t in trials),
                     name=request.zero_cost_proxy)


def prefilter_report(study: Any, request: SearchRequest) -> dict[str, Any]:
    """How the zero-cost proxy ranked the scored candidates against the supernet: Kendall's tau
    and Spearman's rho over the trials both scored (a truncated sample: the prefilter kept the
    upper part of the proxy's range), and how many it kept from the supernet."""
    import optuna

    from codesign.search.zero_cost import rank_correlation

    done = [t.user_attrs for t in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    pairs = [(u.get("proxy"), u.get("accuracy")) for u in done
             if u.get("proxy") is not None and u.get("accuracy") is not None]
    pruned = sum(1 for t in study.get_trials(deepcopy=False,
                                             states=(optuna.trial.TrialState.PRUNED,))
                 if t.user_attrs.get("prefiltered"))
    return {"proxy": request.zero_cost_proxy, "keep": request.prefilter_keep,
            "kept_from_supernet": pruned,
            "rank_correlation": rank_correlation([p for p, _ in pairs], [a for _, a in pairs]),
            "note": "rank correlation of the proxy with supernet accuracy over the scored trials"}


def _enqueue_first_generation(study: Any, space: SearchSpace, pricer: Pricer,
                              request: SearchRequest, prefilter: Prefilter | None = None) -> None:
    """Queue the first generation: hand-design-like seeds plus batch-screened candidates (with
    the zero-cost prefilter: the best-scoring third of three times as many)."""
    first = min(request.population, request.trials)
    seeds = space.seeds()[:max(0, first // 2)]
    want = first - len(seeds)

    def within_latency(c: Candidate) -> bool:  # the latency budget, when there is one
        return not any(v > 0 for v in pricer.latency.estimate(space.describe(c))
                       .violations(request.max_latency_ms).values())

    accept = within_latency if pricer.latency is not None and request.max_latency_ms else None
    screened, info = screened_candidates(
        space, pricer.model, pricer.budgets, want * (3 if prefilter is not None else 1),
        np.random.default_rng(request.seed), pool=request.screen_pool,
        exclude={c.key for c in seeds}, accept=accept)
    if prefilter is not None and len(screened) > want:
        ranked = sorted(screened, key=lambda c: -prefilter.score(space.describe(c)))
        screened = ranked[:want]
    log.info("first generation: %d seeds + %d of %d batch-priced candidates that meet the "
             "budgets as proposed (%d did)", len(seeds), info["picked"], info["pool"],
             info["feasible"])
    for c in list(seeds) + screened:
        study.enqueue_trial(dict(c), skip_if_exists=True)


def designs_from_study(study: Any) -> list[dict[str, Any]]:
    """One design per completed trial (duplicates of an identical network are kept once)."""
    import optuna

    designs, seen = [], set()
    for t in study.trials:
        if t.state != optuna.trial.TrialState.COMPLETE or "network" not in t.user_attrs:
            continue
        u = t.user_attrs
        net_key = repr(sorted(u["network"].items()))
        if net_key in seen:
            continue
        seen.add(net_key)
        totals = u["cost"]["totals"]
        designs.append({"id": t.number, "accuracy": u["accuracy"],
                        "robust_accuracy": u.get("robust_accuracy"), "lut": totals["lut"],
                        "bram18": totals["bram18"], "dsp": totals["dsp"], "fps": u["cost"]["fps"],
                        "feasible": bool(u["feasible"]), "on_front": False,
                        "violations": u["violations"], "candidate": u["candidate"],
                        "network": u["network"],
                        "latency_ms": u["cost"].get("latency", {}).get("latency_ms"),
                        "latency_uncertainty_ms":
                            u["cost"].get("latency", {}).get("uncertainty_ms")})
    return designs


def _id_at(designs: list[dict[str, Any]], i: int | None) -> int | None:
    return None if i is None else designs[i]["id"]


__all__ = ["Pricer", "Priced", "Evaluator", "run_search", "prefilter_report", "sampler_seed", "check_budgets_reachable", "designs_from_study",
           "load_pareto", "build_space", "inspect_run_dir", "check_splits"]

"""The search loop: one place that owns budgets, pricing, accuracy evaluation and persistence.

For every trial the strategy's sampler proposes slot values; the loop then

1. describes the candidate as a concrete network (:class:`~hw_models.network.NetworkSpec`);
2. *repairs* its folding: layers too slow for ``--min-fps`` get the cheapest legal PE/SIMD
   that meets it (:func:`hw_models.folding.fold_for_fps`), layers fast enough keep theirs;
3. prices it with the FPGA cost model and turns the budgets into signed, normalised
   violations (``<= 0`` is feasible, DESIGN.md rule 1);
4. only if it is feasible, scores it with the trained supernet on the validation split
   (cached per architecture + bits: folding does not change accuracy);
5. tells the study ``(accuracy, LUT, fps)`` and stores the network, cost and violations on the
   trial, so an interrupted run resumes where it stopped (the study lives in SQLite in the run
   directory by default; any SQLAlchemy URL lets several workers share it).
"""
from __future__ import annotations

import logging
import shutil
import time

import numpy as np
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from fpga.devices import get_device
from fpga.errors import InputError
from hw_models.cost import FinnCostModel
from hw_models.folding import fold_for_fps
from hw_models.network import NetworkSpec

from codesign.data import ImageDataset, load_dataset
from codesign.io import atomic_write_json
from codesign.request import SearchRequest
from codesign.rundir import (PARETO_FILE, REQUEST_FILE, STUDY_FILE, RunLock,
                             check_sqlite_file, load_pareto)
from codesign.search.constraints import as_budgets, constraints_from, violations
from codesign.search.study import TrialStore
from codesign.search.pareto import (FPGA_OBJECTIVES, LATENCY_OBJECTIVES, best, knee, mark_front,
                                    plot_pareto, write_pareto)
from codesign.search.screen import screened_candidates
from codesign.search.strategies import get_strategy
from codesign.spaces.base import Candidate, SearchSpace, get_space

log = logging.getLogger(__name__)



# ------------------------------------------------------------------------------ pricing
@dataclass(frozen=True)
class Priced:
    """A candidate's network after folding repair, its cost and its budget violations."""

    network: NetworkSpec
    cost: dict[str, Any]
    violations: dict[str, float]

    @property
    def feasible(self) -> bool:
        return (all(v <= 0 for v in self.violations.values()) and not self.cost["unsupported"]
                and not self.cost.get("latency", {}).get("unsupported"))


class Pricer:
    """Describe, repair and price candidates of one space for one request (torch-free)."""

    def __init__(self, space: SearchSpace, request: SearchRequest) -> None:
        self.space = space
        self.request = request
        self.model = FinnCostModel(get_device(request.device), clock_mhz=request.clock)
        #: the budgets, as a typed list built once (codesign.search.constraints)
        self.constraints = constraints_from(request)
        self.budgets = as_budgets(self.constraints)
        self.latency = None  # the latency-table cost model when the request targets a CPU/GPU
        if request.latency_table:
            from hw_models.latency_table import LatencyTableModel
            self.latency = LatencyTableModel(request.latency_table)

    def price(self, c: Candidate) -> Priced:
        """Price ``c``, repairing its folding so that budgets are met whenever folding can.

        First pass: layers slower than ``min_fps`` allows get the cheapest legal folding that
        meets it; the others keep the folding the strategy chose (so faster, larger designs
        stay reachable).  The strategy's folding thus sets the frame rate (through its slowest
        stage), and every layer is then trimmed to its LUT-optimal folding for that frame rate.
        If that breaks a budget, second pass: every layer gets its LUT-optimal
        folding for ``min_fps`` -- the cheapest this architecture and these bits can be built.
        Only when that also breaks a budget is the candidate infeasible.
        """
        spec = self.space.describe(c)
        target = self.request.min_fps
        if target:
            spec = fold_for_fps(spec, self.model, target, keep_existing=True)
        p = self._priced(spec)
        # Trim: parallelism beyond what the bottleneck stage allows buys no frames/s, only LUTs.
        # Refolding every layer LUT-optimally for the frame rate this folding reaches gives a
        # design at least as fast with at most as many LUTs (fold_for_fps is per-layer optimal).
        cycles = p.cost["cycles_per_frame"]
        if cycles and not p.cost["unsupported"]:
            trimmed = self._priced(fold_for_fps(spec, self.model,
                                                self.model.clock_mhz * 1e6 / (cycles + 0.5)))
            if (trimmed.cost["totals"]["lut"] <= p.cost["totals"]["lut"]
                    and trimmed.cost["fps"] >= p.cost["fps"]):
                p = trimmed
        if p.feasible:
            return p
        cheapest = fold_for_fps(spec, self.model, target or 1e-9, keep_existing=False)
        q = self._priced(cheapest)
        return q if q.feasible else p

    def cheapest(self) -> Priced:
        """The smallest architecture at the lowest bits, folded as cheaply as ``min_fps`` allows."""
        c = self.space.extreme(largest=False)
        spec = self.space.describe(c)
        spec = fold_for_fps(spec, self.model, self.request.min_fps or 1e-9, keep_existing=False)
        return self._priced(spec)

    def _priced(self, spec: NetworkSpec) -> Priced:
        report = self.model.estimate(spec)
        metrics = {"lut": report.lut, "bram18": report.bram18, "dsp": report.dsp,
                   "fps": report.fps}
        cost = report.to_dict()
        if self.latency is not None:
            lat = self.latency.estimate(spec)
            cost["latency"] = lat.to_dict()
            metrics["latency_ms"] = lat.latency_ms
        return Priced(spec, cost, violations(self.constraints, metrics))


def check_budgets_reachable(pricer: Pricer) -> None:
    """Refuse a request no design in the space can meet, naming the budget and the cheapest cost."""
    p = pricer.cheapest()
    t, req = p.cost["totals"], pricer.request
    by_metric = {c.metric: c for c in pricer.constraints}
    # the frame rate first: if it cannot be met, no LUT budget would help
    for key, v in sorted(p.violations.items(), key=lambda kv: kv[0] != "fps"):
        if v > 0 and key != "latency_ms":  # latency: codesign.latency.check_latency_target
            flag = by_metric[key].flag
            have = p.cost["fps"] if key == "fps" else t[key]
            limit = by_metric[key].limit
            raise InputError(
                flag, f"no design in space '{pricer.space.name}' can meet {flag} {limit:g}: the "
                f"cheapest one (smallest architecture, lowest bits, cheapest folding for "
                f"{req.min_fps or 0:g} frames/s) has {key} = {have:,.0f} "
                f"(LUT {t['lut']:,.0f}, BRAM18 {t['bram18']:,.0f}, DSP {t['dsp']:,.0f}, "
                f"{p.cost['fps']:,.0f} frames/s on {req.device})",
                [f"{'<=' if key == 'fps' else '>='} {have:,.0f}"
                 + (" (the fastest folding of the cheapest design)" if key == "fps" else "")])


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
    objectives = LATENCY_OBJECTIVES if pricer.latency is not None else FPGA_OBJECTIVES
    strategy = get_strategy(request.strategy)
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
                      sampler=strategy.sampler(request.seed, request.population),
                      trials=request.trials, exclusive=request.storage is None)


def _search(request: SearchRequest, data: ImageDataset, space: SearchSpace, pricer: Pricer,
            objectives: Any, store: TrialStore, run_dir: Path, device: Any, ctx: Any,
            t_start: float, progress: bool, checkpoint_every_s: float) -> dict[str, Any]:
    """Train (or resume) the supernet, run the trials, write the front."""
    import uuid

    from codesign.supernet.train import evaluate_subnet, fingerprint, tensor_splits

    session = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    store.record_session(session, {"total_s": time.perf_counter() - t_start})

    # --- data: train / validation split carved from the training set (test set untouched)
    sp = tensor_splits(data, request.val_size, request.seed)
    val_x, val_y = sp.val_x, sp.val_y
    calib_x = sp.train_x[:request.calib_images]

    # --- supernet (resumes exactly from its checkpoints)
    supernet, history = _train(request, data, space, run_dir, device, ctx, progress,
                               checkpoint_every_s, on_checkpoint=lambda: store.record_session(
                                   session, {"total_s": time.perf_counter() - t_start}))
    supernet.to(device)
    store.check_supernet(fingerprint(supernet))
    search_s = 0.0
    store.record_session(session, {"search_s": 0.0, "total_s": time.perf_counter() - t_start})

    # --- search
    store.recover_stale()
    if not store.study.user_attrs.get("first_generation_queued"):
        # hand-design-like seeds open the first generation, screened ones fill it; queued again
        # (existing ones skipped) until one session got through, so a kill loses no seed
        _enqueue_first_generation(store.study, space, pricer, request)
        store.study.set_user_attr("first_generation_queued", True)
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
                c = space.repair(Candidate({s.name: trial.suggest_categorical(s.name,
                                                                              list(s.choices))
                                            for s in space.slots}))
                p = pricer.price(c)
                acc_key = Candidate({**c.group("arch."), **c.group("quant.")}).key
                acc, evaluated = None, False
                if p.feasible:
                    acc, evaluated = store.accuracy_of(acc_key, trial, lambda: evaluate_subnet(
                        supernet, c, calib_x, val_x, val_y, device))
                    n_eval += evaluated
                for k, v in p.violations.items():
                    trial.set_constraint(k, v)
                for k, v in (("candidate", dict(c)), ("network", p.network.to_dict()),
                             ("cost", p.cost), ("violations", p.violations),
                             ("feasible", p.feasible), ("accuracy", acc), ("acc_key", acc_key),
                             ("evaluated", evaluated),
                             ("seconds", round(time.perf_counter() - t0, 3))):
                    trial.set_user_attr(k, v)
                t = p.cost["totals"]
                store.study.tell(
                    trial, [acc if acc is not None else 0.0, float(t["lut"]),
                            float(p.cost["fps"])] if pricer.latency is None else
                    [acc if acc is not None else 0.0, float(p.cost["latency"]["latency_ms"])])
            search_s += time.perf_counter() - t0
            store.record_session(session, {"search_s": search_s,
                                           "total_s": time.perf_counter() - t_start})
            bar.update(1)
            bar.set_postfix(evaluated=n_eval)
        if store.exclusive:
            break
        store.wait_for_others()  # every worker's pareto.json is the whole study's
        store.recover_stale()
        if not store.needs_more():
            break
    bar.close()

    designs = mark_front(designs_from_study(store.study), objectives)  # knee() needs the front
    latency_extra = ({"latency_target": pricer.latency.table.describe_target()}
                     if pricer.latency is not None else {})
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
                          trials={"completed": len(completed),
                                  "evaluated": sum(bool(t.user_attrs.get("evaluated"))
                                                   for t in completed)},
                          **latency_extra)
    budgets = pricer.budgets
    if pricer.latency is not None:
        from codesign.search.compare import plot_fronts
        plot_fronts(run_dir / "pareto.png", [(run_dir.name, pareto)], "latency_ms",
                    title=f"{data.note} on {latency_extra['latency_target']}"
                          + (f": <= {request.max_latency_ms:g} ms" if request.max_latency_ms
                             else ""))
        return pareto
    plot_pareto(run_dir / "pareto.png", designs, budgets,
                title=f"{data.note} on {request.device}: LUT <= {budgets['lut']:,.0f}"
                      + (f", >= {request.min_fps:,.0f} frames/s" if request.min_fps else ""))
    return pareto


def _enqueue_first_generation(study: Any, space: SearchSpace, pricer: Pricer,
                              request: SearchRequest) -> None:
    """Queue the first generation: hand-design-like seeds plus batch-screened candidates."""
    first = min(request.population, request.trials)
    seeds = space.seeds()[:max(0, first // 2)]

    def within_latency(c: Candidate) -> bool:  # the latency budget, when there is one
        return not any(v > 0 for v in pricer.latency.estimate(space.describe(c))
                       .violations(request.max_latency_ms).values())

    accept = within_latency if pricer.latency is not None and request.max_latency_ms else None
    screened, info = screened_candidates(
        space, pricer.model, pricer.budgets, first - len(seeds),
        np.random.default_rng(request.seed), pool=request.screen_pool,
        exclude={c.key for c in seeds}, accept=accept)
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
        designs.append({"id": t.number, "accuracy": u["accuracy"], "lut": totals["lut"],
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


__all__ = ["Pricer", "Priced", "run_search", "check_budgets_reachable", "designs_from_study",
           "load_pareto", "build_space", "inspect_run_dir", "check_splits"]

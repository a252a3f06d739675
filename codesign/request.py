"""SearchRequest: everything the user asked for, validated when built, saved in the run directory."""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from fpga.devices import get_device
from fpga.errors import InputError, read_json_file

from codesign.data import DATASETS
from codesign.supernet.plan import SCHEMES

SCHEMA = 1
def strategies() -> list[str]:
    """The registered search strategies (``codesign.search.strategies``)."""
    from codesign.search.strategies import list_strategies

    return list_strategies()
#: fields that may differ between the runs of one search (see SearchRequest.differences)
RESUMABLE_FIELDS = ("trials", "data_dir", "out", "train_device")
SUPERNETS = SCHEMES  # the weight-sharing schemes (codesign.supernet.plan)
TRAIN_DEVICES = ("auto", "cpu", "cuda")
#: what ``--objective`` may name: the accuracy-side objective (the hardware objectives come
#: from the target: LUT and frames/s on an FPGA, latency_ms with a latency table)
OBJECTIVES = ("accuracy", "robust_accuracy")
#: ``--prefilter``: rank candidates by a training-free score before the supernet sees them
PREFILTERS = ("none", "zero-cost")
ATTACKS = ("fgsm", "pgd")
#: ``--zero-cost-proxy`` (codesign.search.zero_cost)
PROXIES = ("synflow", "nwot")


@dataclass(frozen=True)
class SearchRequest:
    """A search: data set, target device, budgets, training and search budgets, seed, run dir.

    Budgets left as ``None`` default to the device's capacity (LUT, BRAM18, DSP); ``min_fps``
    ``None`` means no throughput floor.
    """

    dataset: str
    device: str
    out: str
    data_dir: str | None = None
    clock_mhz: float | None = None
    max_lut: int | None = None
    max_bram18: int | None = None
    max_dsp: int | None = None
    min_fps: float | None = None
    epochs: int = 2
    trials: int = 40
    seed: int = 0
    space: str = "cnv"
    strategy: str = "nsga2"
    population: int = 16
    batch_size: int = 256
    val_size: int = 5000
    calib_images: int = 2000
    lr: float = 3e-3
    balanced_sampling: bool = False
    storage: str | None = None
    screen_pool: int = 4000
    latency_table: str | None = None
    max_latency_ms: float | None = None
    #: the weight-sharing scheme: one supernet, or few-shot sub-supernets (EFS-NAS)
    supernet: str = "one-shot"
    few_shot_splits: int = 3
    #: few-shot: one-shot warm-up epochs before the split (default: half of ``epochs``)
    warmup_epochs: int | None = None
    #: where the supernet trains: ``auto`` (a CUDA GPU when there is one), ``cpu``, ``cuda``
    train_device: str = "auto"
    #: the accuracy-side objective: ``accuracy``, or ``robust_accuracy`` (then both are
    #: objectives: accuracy and accuracy under ``attack``, as E2RNAS searches)
    objective: str = "accuracy"
    #: the adversarial attack robust_accuracy is measured with, its L-inf radius in [0, 1]
    #: pixel units and, for PGD, its steps; on this many validation images
    attack: str = "fgsm"
    eps: float = 2 / 255
    pgd_steps: int = 10
    robust_images: int = 1000
    #: a constraint on robust accuracy (a fraction), checked once the supernet scored it
    min_robust_accuracy: float | None = None
    #: ``zero-cost``: a training-free score (``zero_cost_proxy``) ranks candidates first; a
    #: proposed candidate scoring below the ``prefilter_keep`` quantile of the scores so far is
    #: not sent to the supernet
    prefilter: str = "none"
    zero_cost_proxy: str = "nwot"  # better than synflow on our space (bench/zero_cost.py)
    prefilter_keep: float = 0.5
    #: the supernet-driven strategies (differentiable, mgda): architecture-parameter steps
    arch_steps: int = 200

    def __post_init__(self) -> None:
        for name in ("dataset", "device", "out", "space", "strategy"):
            if not isinstance(getattr(self, name), str):
                raise InputError(name.replace("_", "-"), f"got {getattr(self, name)!r}",
                                 ["a string"])
        for name in ("data_dir", "storage", "latency_table"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v):
                raise InputError(name.replace("_", "-"), f"got {v!r}",
                                 ["a non-empty string, or null"])
        if self.dataset not in DATASETS:
            raise InputError("dataset", f"unknown data set {self.dataset!r}", DATASETS)
        dev = get_device(self.device)  # raises with the catalog's names
        if self.clock_mhz is not None:
            _positive("clock-mhz", self.clock_mhz)
        for name in ("max_lut", "max_bram18", "max_dsp"):
            v = getattr(self, name)
            if v is not None:
                _positive(name.replace("_", "-"), v, integer=True)
        if self.min_fps is not None:
            _positive("min-fps", self.min_fps)
        for name, cap in (("max_lut", dev.lut), ("max_bram18", dev.bram18), ("max_dsp", dev.dsp)):
            v = getattr(self, name)
            if v is not None and v > cap:
                raise InputError(name.replace("_", "-"), f"{v} exceeds the {dev.name} capacity "
                                 f"of {cap}", [f"1..{cap}"])
        for name in ("epochs", "trials", "population", "batch_size", "val_size", "calib_images"):
            _positive(name.replace("_", "-"), getattr(self, name), integer=True)
        if self.supernet not in SUPERNETS:
            raise InputError("supernet", f"unknown supernet scheme {self.supernet!r}", SUPERNETS)
        _positive("few-shot-splits", self.few_shot_splits, integer=True)
        if self.warmup_epochs is not None:
            _positive("warmup-epochs", self.warmup_epochs, integer=True)
        if self.supernet == "few-shot":
            from codesign.supernet.plan import check_few_shot
            check_few_shot(self.epochs, self.warmup_epochs, self.few_shot_splits)
        if self.train_device not in TRAIN_DEVICES:
            raise InputError("train-device", f"got {self.train_device!r}", TRAIN_DEVICES)
        if self.strategy not in strategies():
            raise InputError("strategy", f"unknown strategy {self.strategy!r}", strategies())
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError("seed", f"got {self.seed!r}", ["an integer >= 0"])
        _positive("lr", self.lr)
        if (isinstance(self.screen_pool, bool) or not isinstance(self.screen_pool, int)
                or self.screen_pool < 0):
            raise InputError("screen-pool", f"got {self.screen_pool!r}",
                             ["an integer >= 0 (0: random first generation)"])
        if not isinstance(self.balanced_sampling, bool):
            raise InputError("balanced-sampling", f"got {self.balanced_sampling!r}", [True, False])
        if not self.out:
            raise InputError("out", "a run directory is required")
        self._check_objectives()
        if self.max_latency_ms is not None:
            _positive("max-latency-ms", self.max_latency_ms)
            if not self.latency_table:
                raise InputError("max-latency-ms", "needs --latency-table TABLE.json (build one "
                                 "with `codesign latency build`)")

    def _check_objectives(self) -> None:
        hardware = ("lut", "fps", "bram18", "dsp", "latency_ms")
        if self.objective in hardware:
            if self.objective == "latency_ms" and not self.latency_table:
                raise InputError("objective", "this request cannot measure latency_ms: it has "
                                 "no --latency-table (build one with `codesign latency build`)",
                                 OBJECTIVES)
            raise InputError("objective", f"{self.objective} is a hardware objective, set by "
                             "the target (LUT and frames/s on an FPGA, latency_ms with "
                             "--latency-table); --objective picks the accuracy-side one",
                             OBJECTIVES)
        if self.objective not in OBJECTIVES:
            raise InputError("objective", f"unknown objective {self.objective!r}", OBJECTIVES)
        check_attack(self.attack, self.eps, self.pgd_steps)
        _positive("robust-images", self.robust_images, integer=True)
        if self.min_robust_accuracy is not None:
            v = self.min_robust_accuracy
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or not 0 < v <= 1:
                raise InputError("min-robust-accuracy", f"got {v!r}", ["a fraction in (0, 1]"])
        if self.prefilter not in PREFILTERS:
            raise InputError("prefilter", f"unknown prefilter {self.prefilter!r}", PREFILTERS)
        if self.zero_cost_proxy not in PROXIES:
            raise InputError("zero-cost-proxy", f"unknown proxy {self.zero_cost_proxy!r}",
                             PROXIES)
        k = self.prefilter_keep
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not math.isfinite(k) \
                or not 0 < k <= 1:
            raise InputError("prefilter-keep", f"got {k!r}", ["a fraction in (0, 1]"])
        _positive("arch-steps", self.arch_steps, integer=True)

    @property
    def measures_robustness(self) -> bool:
        """Whether the supernet also scores accuracy under attack."""
        return self.objective == "robust_accuracy" or self.min_robust_accuracy is not None

    # ----------------------------------------------------------------- derived values
    @property
    def clock(self) -> float:
        return float(self.clock_mhz or get_device(self.device).clock_mhz)

    def budgets(self) -> dict[str, float]:
        """The hard FPGA limits: explicit budgets, else the device capacity.

        A search with a latency table targets a CPU/GPU: only the FPGA budgets given explicitly
        apply then (both kinds of budget apply when both are given)."""
        from codesign.search.constraints import as_budgets, constraints_from

        return as_budgets(constraints_from(self))

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{Path(self.out).resolve() / 'study.db'}"

    # ----------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SearchRequest":
        if not isinstance(d, Mapping):
            raise InputError("request", f"must be an object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - {"schema"}
        if unknown:
            raise InputError("request", f"unknown keys {sorted(unknown)}", sorted(known))
        required = [f.name for f in fields(cls) if f.default is MISSING]
        missing = [k for k in required if k not in d]
        if missing:
            raise InputError("request", f"lacks {missing}", required)
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> "SearchRequest":
        return cls.from_dict(read_json_file(path, "request"))

    def differences(self, other: "SearchRequest") -> list[str]:
        """Fields that differ, ignoring the ones that may change on resume: ``trials`` (a
        resume may ask for more), ``data_dir`` (the same data elsewhere) and ``out`` (the run
        directory itself, however it is spelled: relative, absolute, or moved)."""
        a, b = asdict(self), asdict(other)
        return [k for k in a if a[k] != b[k] and k not in RESUMABLE_FIELDS]


def check_attack(method: str, eps: float, steps: int = 10) -> None:
    """Bad input: an unknown attack, an epsilon that is not a number in (0, 1], no PGD step."""
    if method not in ATTACKS:
        raise InputError("attack", f"unknown attack {method!r}", ATTACKS)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) \
            or not 0 < eps <= 1:
        raise InputError("eps", f"got {eps!r}: the L-infinity radius in pixel units of [0, 1] "
                         "(2/255 = 0.00784 is the usual small one)", ["a number in (0, 1]"])
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError("pgd-steps", f"got {steps!r}", ["an integer >= 1"])


def _positive(name: str, v: Any, integer: bool = False) -> None:
    bad = isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0
    if integer and not bad and int(v) != v:
        bad = True
    if bad:
        raise InputError(name, f"got {v!r}", ["a positive integer" if integer else "a positive number"])

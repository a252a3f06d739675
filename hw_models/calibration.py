"""Calibration of the FINN analytical cost model against post-synthesis results.

torch-free, numpy only.  Issue #3 item 2, "calibration with honest error bars".

The analytical model (:class:`hw_models.cost.FinnCostModel`) prices the dataflow IP's operators
only; a real build also has FIFOs, width converters, DMA and interconnect, and synthesis does
not cost exactly what FINN's formulas say (reference section 9: -70 % .. +70 %).  We fit a small
linear correction on whole designs::

    measured_LUT    ~= a_mvau * LUT(MVAU stages) + a_other * LUT(other stages) + c_lut
    measured_BRAM18 ~= b_scale * BRAM18(all stages)                          + c_bram18

* The fit is **non-negative weighted least squares**: every coefficient is >= 0 (a negative
  scale or a negative infrastructure overhead has no physical meaning), and each row is weighted
  by ``1 / measured`` so that every design counts by its *relative* error (the quantity MAPE and
  the band measure) rather than big designs dominating.  With at most three unknowns the NNLS
  problem is solved exactly by trying every subset of free coefficients (the others at 0) and
  keeping the best feasible one.
* A feature that is zero on every fitting row (e.g. non-MVAU LUT when all rows are MLPs) cannot
  be identified; its coefficient is fixed at 1.0 (i.e. left uncalibrated) and listed in
  ``coefficients["not_identified"]``.
* Error bars come from leave-one-out (LOO): each row is predicted by a fit on the other rows.
  ``loo.mape`` is the mean |pred - measured| / measured; the band half-width ``q`` is the
  smallest LOO |measured - pred| / pred that covers at least ``coverage`` (default 80 %) of the
  LOO cases, floored at ``min_rel_band`` (default 0.20, reference section 10: "at least
  +/-20 %").  A calibrated estimate reports ``[pred * (1 - q), pred * (1 + q)]``.

The packaged fit (``calibration_data/finn_calibration_v3.json``) is made from the rows in
``calibration_data/published_rows_v2.json``, extracted from the published-build table by
:func:`extract_published_rows`; ``codesign calibrate`` refits from those or from user rows.

User rows (``codesign calibrate --data``):

* JSON: a list (or ``{"rows": [...]}``) of ``{"name", "device", "clock_mhz", "network": <network
  JSON, README "Network format">, "lut", "bram18"}``; ``clock_mhz`` may be null (board default).
* CSV with header ``name,device,clock_mhz,network_path,lut,bram18``; ``network_path`` is relative
  to the CSV file's folder.

Missing or bad fields raise :class:`~fpga.errors.InputError` naming ``rows[i].<field>``.
"""
from __future__ import annotations

import csv
import dataclasses
import itertools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from fpga.devices import list_devices
from fpga.errors import InputError, read_json_file
from hw_models.cost import CostReport, FinnCostModel
from hw_models.folding import check_folding
from hw_models.lowering import TOOLFLOWS
from hw_models.network import NetworkSpec

log = logging.getLogger(__name__)

SCHEMA = 1
DATA_DIR = Path(__file__).resolve().parent / "calibration_data"
DEFAULT_MODEL_PATH = DATA_DIR / "finn_calibration_v3.json"
DEFAULT_ROWS_PATH = DATA_DIR / "published_rows_v2.json"
DEFAULT_VERSION = "v3"
#: stage op types counted as "MVAU" LUT (everything else is "other")
MVAU_OPS = frozenset({"MVAU", "VVAU"})
ROW_FIELDS = ("name", "device", "clock_mhz", "network", "lut", "bram18", "source")
CSV_FIELDS = ("name", "device", "clock_mhz", "network_path", "lut", "bram18", "source")
#: how far (as a factor) a design's estimate may lie outside the LUT range of the fitting rows
#: before its band is widened
RANGE_FACTOR = 2.0
LUT_TERMS = ("a_mvau", "a_other", "c_lut")
BRAM_TERMS = ("b_scale", "c_bram18")


# ------------------------------------------------------------------------------ rows
@dataclass(frozen=True)
class CalibrationRow:
    """One measured design: its network (with folding), where it ran, and what it used."""

    name: str
    device: str
    clock_mhz: float | None
    network: NetworkSpec
    lut: float
    bram18: float
    note: str = ""
    source: Any = None
    toolflow: str = "finn"

    @property
    def family(self) -> str:
        return network_family(self.network)

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "device": self.device, "clock_mhz": self.clock_mhz,
             "network": self.network.to_dict(), "lut": self.lut, "bram18": self.bram18,
             "source": self.source, "toolflow": self.toolflow}
        if self.note:
            d["note"] = self.note
        return d


def network_family(spec: NetworkSpec) -> str:
    """The family a design belongs to for held-out validation: ``mlp`` or ``cnn`` (any conv),
    ``1bit`` or ``multibit`` (the weights of the layers between the first and the last)."""
    kind = "cnn" if any(l.op in ("conv", "dwconv") for l in spec.layers) else "mlp"
    comp = spec.compute_layers
    inner = comp[1:-1] or comp
    bits = "1bit" if all((l.weight_bits or 0) <= 1 for l in inner) else "multibit"
    return f"{kind}-{bits}"


def _number(raw: Any, where: str, allow_zero: bool = True) -> float:
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise InputError(where, f"not a number: {raw!r}", ["a number >= 0"]) from None
    if not math.isfinite(v) or v < 0 or (not allow_zero and v == 0):
        raise InputError(where, f"got {raw!r}", ["a number > 0" if not allow_zero else "a number >= 0"])
    return v


def row_from_dict(raw: Any, i: int) -> CalibrationRow:
    """A validated row from its JSON form; InputError names ``rows[i].<field>``."""
    if not isinstance(raw, Mapping):
        raise InputError(f"rows[{i}]", "must be an object", list(ROW_FIELDS))
    for key in ROW_FIELDS:
        if key not in raw:
            raise InputError(f"rows[{i}].{key}", "missing", list(ROW_FIELDS))
    name = str(raw["name"])
    clock = raw["clock_mhz"]
    clock = None if clock in (None, "") else _number(clock, f"rows[{i}].clock_mhz", allow_zero=False)
    source = raw["source"]
    if not ((isinstance(source, str) and source.strip())
            or (isinstance(source, Mapping) and any(source.get(k) for k in ("repo", "url",
                                                                            "doi", "paper")))):
        raise InputError(f"rows[{i}].source", f"got {source!r}: every row must say where its "
                         "numbers were published", ["a citation string",
                                                    "an object with repo/url/doi/paper"])
    net = raw["network"]
    if not isinstance(net, Mapping):
        raise InputError(f"rows[{i}].network", "must be a network object (README, 'Network format')")
    try:
        spec = NetworkSpec.from_dict(net)
        check_folding(spec)
    except InputError as exc:
        raise InputError(f"rows[{i}].network.{exc.field}", str(exc), exc.accepted) from None
    toolflow = raw.get("toolflow", "finn")
    if toolflow not in TOOLFLOWS:
        raise InputError(f"rows[{i}].toolflow", f"got {toolflow!r}", TOOLFLOWS)
    # device: checked by building the model
    FinnCostModel(str(raw["device"]), clock_mhz=clock)
    return CalibrationRow(name, str(raw["device"]).strip().lower(), clock, spec,
                          _number(raw["lut"], f"rows[{i}].lut", allow_zero=False),
                          _number(raw["bram18"], f"rows[{i}].bram18"), str(raw.get("note", "")),
                          source, toolflow)


def load_rows(path: str | Path) -> list[CalibrationRow]:
    """Rows from a JSON (list or ``{"rows": [...]}``) or CSV file (see the module doc)."""
    path = Path(path)
    if path.suffix.lower() == ".csv" and path.is_file():
        return _load_csv(path)
    data = read_json_file(path, "--data")
    raws = data.get("rows") if isinstance(data, Mapping) else data
    if not isinstance(raws, list):
        raise InputError("rows", "expected a list of rows (or an object with 'rows')")
    return [row_from_dict(r, i) for i, r in enumerate(raws)]


def _load_csv(path: Path) -> list[CalibrationRow]:
    try:
        return _read_csv(path)
    except UnicodeDecodeError as exc:
        raise InputError("--data", f"{path} is not UTF-8 CSV text (byte "
                         f"{exc.object[exc.start]:#04x} at offset {exc.start})") from None
    except csv.Error as exc:
        raise InputError("--data", f"{path} is not valid CSV ({exc})") from None
    except OSError as exc:
        raise InputError("--data", f"{path} cannot be read ({exc.strerror or exc})") from None


def _read_csv(path: Path) -> list[CalibrationRow]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        for key in CSV_FIELDS:
            if key not in header:
                raise InputError(f"csv column {key}", "missing from the header", list(CSV_FIELDS))
        rows = []
        for i, rec in enumerate(reader):
            rec = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in rec.items() if k}
            for key in CSV_FIELDS:
                if rec.get(key) in (None, "") and key != "clock_mhz":
                    raise InputError(f"rows[{i}].{key}", "missing", list(CSV_FIELDS))
            net = read_json_file(path.parent / rec["network_path"], f"rows[{i}].network_path")
            raw = {"name": rec["name"], "device": rec["device"], "clock_mhz": rec.get("clock_mhz"),
                   "network": net, "lut": rec["lut"], "bram18": rec["bram18"],
                   "source": rec["source"]}
            rows.append(row_from_dict(raw, i))
        return rows


# ------------------------------------------------------------------------------ published rows
def _device_for_part(part: str | None) -> str | None:
    if not part:
        return None
    p = part.split()[0].strip().lower()
    for dev in list_devices():
        if dev.part.lower() == p:
            return dev.name
    return None


def extract_published_rows(published: Mapping[str, Any]) -> tuple[list[dict], list[dict]]:
    """(rows, skipped) from the published-build table (``fpga_published_calibration.json``).

    Usable: FINN-style ``fc`` topologies with per-layer PE/SIMD, a reported LUT count and BRAM,
    on a part in our device catalog.  ``bram18`` = 2 x ``bram_36k`` (the table's RAMB36-equivalent
    tiles, RAMB18 counted as 0.5).  Everything else is listed in ``skipped`` with a reason.
    """
    rows: list[dict] = []
    skipped: list[dict] = []
    for r in published.get("rows", []):
        name = r.get("name", "?")
        rep = r.get("reported") or {}
        topo, fold = r.get("topology"), r.get("folding")

        def skip(reason: str) -> None:
            skipped.append({"name": name, "reason": reason})

        if rep.get("lut") is None:
            skip("no reported LUT count")
            continue
        if not topo or any(l.get("type") != "fc" for l in topo):
            skip("topology is not FINN fc/conv layers (e.g. LogicNets truth-table neurons)")
            continue
        if not isinstance(fold, list):
            skip("no per-layer PE/SIMD folding")
            continue
        device = _device_for_part(r.get("part"))
        if device is None:
            skip(f"part {r.get('part')!r} not in the device catalog")
            continue
        if rep.get("bram_36k") is not None:
            bram18 = 2 * float(rep["bram_36k"])
        elif rep.get("bram_18k") is not None:
            bram18 = float(rep["bram_18k"])
        else:
            skip("no reported BRAM")
            continue
        folds = [f for f in fold if f.get("simd") is not None]
        if len(folds) != len(topo):
            skip("folding does not match the topology layer by layer")
            continue
        first = topo[0]
        layers = []
        for j, (l, f) in enumerate(zip(topo, folds)):
            layers.append({"name": f"fc{j}", "op": "fc",
                           "out_features": int(l.get("hw_out_features") or l["out_features"]),
                           "weight_bits": int(l["weight_bits"]), "act_bits": l.get("act_bits_out"),
                           "pe": int(f["pe"]), "simd": int(f["simd"])})
        net = {"name": name,
               "input": {"channels": int(first.get("hw_in_features") or first["in_features"]),
                         "height": 1, "width": 1, "bits": int(first.get("act_bits_in") or 8)},
               "layers": layers}
        try:
            check_folding(NetworkSpec.from_dict(net))
        except InputError as exc:
            skip(f"network not expressible: {exc}")
            continue
        rows.append({"name": name, "device": device, "clock_mhz": r.get("clock_mhz"),
                     "network": net, "lut": float(rep["lut"]), "bram18": bram18,
                     "note": f"part {r.get('part')}; {r.get('measurement_stage') or ''}".strip()})
    return rows, skipped


# ------------------------------------------------------------------------------ features and fit
def features(report: CostReport) -> dict[str, float]:
    """The model's raw figures the correction is linear in."""
    mvau = other = 0
    for layer in report.layers:
        for s in layer.stages:
            if s.op in MVAU_OPS:
                mvau += s.lut
            else:
                other += s.lut
    return {"mvau_lut": float(mvau), "other_lut": float(other), "bram18": float(report.bram18),
            "lut": float(report.lut)}


def row_features(row: CalibrationRow, settings: Mapping[str, str] | None = None) -> dict[str, float]:
    """The model's figures for one row: priced with ``settings`` and the row's own tool flow
    (a BNN-PYNQ build is priced as BNN-PYNQ's engines, a FINN build as finn-plus's)."""
    kw = dict(settings or {})
    kw["toolflow"] = row.toolflow
    model = FinnCostModel(row.device, clock_mhz=row.clock_mhz, **kw)
    report = model.estimate(row.network)
    if not report.valid:
        raise InputError(f"row {row.name!r}.network", "has layers the FINN model cannot price: "
                         + "; ".join(u["reason"] for u in report.unsupported))
    return features(report)


def nnls_fit(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Non-negative weighted least squares, exact for few columns (all subsets of free columns).

    Minimises ``sum w_i^2 (X_i b - y_i)^2`` subject to ``b >= 0``.  Among equal residuals the
    subset with more free columns found first wins (ties are rare with real data)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    Xw, yw = X * w[:, None], y * w
    k = X.shape[1]
    best, best_res = np.zeros(k), float(np.sum(yw ** 2))
    for size in range(k, 0, -1):
        for cols in itertools.combinations(range(k), size):
            sol, *_ = np.linalg.lstsq(Xw[:, cols], yw, rcond=None)
            if np.any(sol < -1e-12):
                continue
            b = np.zeros(k)
            b[list(cols)] = np.maximum(sol, 0.0)
            res = float(np.sum((Xw @ b - yw) ** 2))
            if res < best_res - 1e-9 * max(1.0, best_res):
                best, best_res = b, res
    return best


def _fit_target(F: np.ndarray, y: np.ndarray, terms: Sequence[str], offset: bool = True
                ) -> tuple[dict[str, float], list[str]]:
    """Fit ``y ~ F @ scales + offset`` (scales and offset >= 0, weights 1/y; ``offset=False``:
    the offset is 0).

    Columns of F that are zero on every row are fixed at 1.0 and reported as not identified."""
    F = np.asarray(F, dtype=float)
    y = np.asarray(y, dtype=float)
    ident = [j for j in range(F.shape[1]) if np.any(F[:, j] != 0)]
    fixed = [j for j in range(F.shape[1]) if j not in ident]
    y_adj = y - F[:, fixed].sum(axis=1) if fixed else y
    cols = [F[:, ident]] + ([np.ones(len(y))] if offset else [])
    X = np.column_stack(cols)
    w = 1.0 / np.maximum(y, 1.0)
    b = nnls_fit(X, y_adj, w)
    coef = {t: 1.0 for t in terms}
    for k, j in enumerate(ident):
        coef[terms[j]] = float(b[k])
    coef[terms[-1]] = float(b[-1]) if offset else 0.0
    return coef, [terms[j] for j in fixed]


def _predict(coef: Mapping[str, float], F: np.ndarray, terms: Sequence[str]) -> np.ndarray:
    F = np.atleast_2d(np.asarray(F, dtype=float))
    scales = np.array([coef[t] for t in terms[:-1]])
    return np.maximum(F @ scales + coef[terms[-1]], 1.0)


def band_halfwidth(rel_to_pred: Iterable[float], coverage: float, floor: float) -> float:
    """Smallest q with |r| <= q for at least ``coverage`` of the cases, at least ``floor``."""
    a = np.sort(np.abs(np.asarray(list(rel_to_pred), dtype=float)))
    if a.size == 0:
        return float(floor)
    idx = max(0, math.ceil(coverage * a.size) - 1)
    return float(max(a[idx], floor))


def loo(F: np.ndarray, y: np.ndarray, terms: Sequence[str], offset: bool = True) -> np.ndarray:
    """Leave-one-out predictions: row i predicted by the fit on all other rows."""
    F = np.asarray(F, dtype=float)
    y = np.asarray(y, dtype=float)
    out = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        coef, _ = _fit_target(F[keep], y[keep], terms, offset)
        out[i] = _predict(coef, F[i:i + 1], terms)[0]
    return out


def family_loo(F: np.ndarray, y: np.ndarray, terms: Sequence[str], families: Sequence[str],
               offset: bool = True) -> np.ndarray:
    """Leave-one-family-out predictions: every row of a family is predicted by the fit on the
    rows of the *other* families (NaN when no other family has a row)."""
    F = np.asarray(F, dtype=float)
    y = np.asarray(y, dtype=float)
    fam = np.asarray(families)
    out = np.full(len(y), np.nan)
    for f in sorted(set(families)):
        held = fam == f
        if held.all():
            continue
        coef, _ = _fit_target(F[~held], y[~held], terms, offset)
        out[held] = _predict(coef, F[held], terms)
    return out


def _choose_offset(F: np.ndarray, y: np.ndarray, terms: Sequence[str],
                   families: Sequence[str]) -> bool:
    """Whether a constant offset lowers the leave-one-family-out MAPE (ties: no offset)."""
    if len(set(families)) < 2:
        return True
    err = {}
    for offset in (False, True):
        pred = family_loo(F, y, terms, families, offset)
        ok = ~np.isnan(pred)
        err[offset] = float(np.mean(np.abs(pred[ok] - y[ok]) / np.maximum(y[ok], 1.0)))
    return err[True] < err[False]


def fit_calibration(rows: Sequence[CalibrationRow], settings: Mapping[str, str] | None = None,
                    coverage: float = 0.8, min_rel_band: float = 0.20,
                    version: str = DEFAULT_VERSION) -> dict[str, Any]:
    """Fit the LUT and BRAM18 corrections on ``rows``; returns the versioned model JSON object."""
    if len(rows) < 3:
        raise InputError("rows", f"need at least 3 rows to fit and leave one out, got {len(rows)}")
    names = [r.name for r in rows]
    if len(set(names)) != len(names):
        raise InputError("rows[].name", "row names must be unique")
    settings = dict(settings or FinnCostModel().settings)
    settings.pop("io_profile", None)  # frame-rate only: the LUT/BRAM fit does not depend on it
    settings.pop("toolflow", None)  # each row says whose engines it was built with
    feats = [row_features(r, settings) for r in rows]
    F_lut = np.array([[f["mvau_lut"], f["other_lut"]] for f in feats])
    F_bram = np.array([[f["bram18"]] for f in feats])
    y_lut = np.array([r.lut for r in rows])
    y_bram = np.array([r.bram18 for r in rows])

    families = [r.family for r in rows]
    # the structure (with or without a constant offset) is chosen per target by the
    # leave-one-family-out error: the one that carries over to unseen kinds of design
    offsets = {key: _choose_offset(F, y, terms, families)
               for key, F, y, terms in (("lut", F_lut, y_lut, LUT_TERMS),
                                        ("bram18", F_bram, y_bram, BRAM_TERMS))}
    coef_lut, fixed_lut = _fit_target(F_lut, y_lut, LUT_TERMS, offsets["lut"])
    coef_bram, fixed_bram = _fit_target(F_bram, y_bram, BRAM_TERMS, offsets["bram18"])
    loo_stats: dict[str, Any] = {"n": len(rows), "coverage_target": coverage,
                                 "min_rel_band": min_rel_band,
                                 "families": {f: families.count(f) for f in sorted(set(families))}}
    per_row: list[dict[str, Any]] = []
    for key, F, y, terms, coef, raw in (
            ("lut", F_lut, y_lut, LUT_TERMS, coef_lut, [f["lut"] for f in feats]),
            ("bram18", F_bram, y_bram, BRAM_TERMS, coef_bram, [f["bram18"] for f in feats])):
        pred = loo(F, y, terms, offsets[key])
        fam_pred = family_loo(F, y, terms, families, offsets[key])
        fitted = _predict(coef, F, terms)
        raw = np.array(raw, dtype=float)
        rel_meas = (pred - y) / np.maximum(y, 1.0)
        fam_ok = ~np.isnan(fam_pred)
        fam_rel_meas = (fam_pred - y) / np.maximum(y, 1.0)
        fam_rel_pred = (y - fam_pred) / fam_pred
        # the band: from the family-held-out errors (each design predicted without any row of
        # its family), the honest figure for a design of a kind the fit has not seen much of
        basis = fam_rel_pred[fam_ok] if fam_ok.sum() >= 2 else (y - pred) / pred
        q = band_halfwidth(basis, coverage, min_rel_band)
        covered = float(np.mean(np.abs(basis) <= q + 1e-12))
        raw_ok = raw > 0
        by_family = {}
        for f in sorted(set(families)):
            sel = np.array([g == f for g in families]) & fam_ok
            by_family[f] = (float(np.mean(np.abs(fam_rel_meas[sel]))) if sel.any() else None)
        loo_stats[key] = {
            "mape_uncalibrated": float(np.mean(np.abs(raw[raw_ok] - y[raw_ok]) / np.maximum(y[raw_ok], 1.0)))
            if raw_ok.any() else None,
            "mape_fit": float(np.mean(np.abs(fitted - y) / np.maximum(y, 1.0))),
            "mape_loo": float(np.mean(np.abs(rel_meas))),
            "mape_family_loo": float(np.mean(np.abs(fam_rel_meas[fam_ok]))) if fam_ok.any()
            else None,
            "mape_family_loo_by_family": by_family,
            "worst_family_loo": float(np.max(np.abs(fam_rel_pred[fam_ok]))) if fam_ok.any()
            else None,
            "band_basis": "family_loo" if fam_ok.sum() >= 2 else "loo",
            "offset": offsets[key],
            "rel_band": q, "band_coverage_loo": covered,
            "raw_range": [float(raw.min()), float(raw.max())]}
        for i in range(len(rows)):
            if len(per_row) <= i:
                per_row.append({"name": rows[i].name, "family": families[i]})
            per_row[i][key] = {"measured": float(y[i]), "uncalibrated": float(raw[i]),
                               "calibrated": float(fitted[i]), "loo": float(pred[i]),
                               "loo_rel_error": float(rel_meas[i]),
                               "family_loo": None if np.isnan(fam_pred[i]) else float(fam_pred[i]),
                               "family_loo_rel_error": None if np.isnan(fam_pred[i])
                               else float(fam_rel_meas[i])}
    loo_stats["rows"] = per_row
    return {"schema": SCHEMA, "version": version, "fitted_on": names,
            "families": sorted(set(families)),
            "coefficients": {"lut": coef_lut, "bram18": coef_bram,
                             "not_identified": fixed_lut + fixed_bram},
            "loo": loo_stats,
            "settings": {"finn": settings, "fit": "non-negative least squares, weights 1/measured",
                         "lut_formula": "a_mvau*mvau_lut + a_other*other_lut + c_lut",
                         "bram18_formula": "b_scale*bram18 + c_bram18",
                         "band": f"pred*(1 -/+ q), q = leave-one-family-out |measured-pred|/pred "
                                 f"quantile covering >= {coverage:.0%}, floored at "
                                 f"{min_rel_band:.0%}; widened to the worst family-held-out "
                                 "error for a design of a family or size no row covers"}}


def load_calibration(source: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A fitted model: the packaged default, a path, or an already-loaded mapping (validated)."""
    if source is None:
        source = DEFAULT_MODEL_PATH
    if isinstance(source, Mapping):
        data = dict(source)
        where = "calibration"
    else:
        data = read_json_file(source, "--calibrated")
        where = str(source)
    if not isinstance(data, dict):
        raise InputError("calibration", f"{where}: expected an object (a model written by "
                         "`codesign calibrate --out`)")
    if data.get("schema") != SCHEMA:
        raise InputError("calibration.schema", f"{where}: got {data.get('schema')!r}", [SCHEMA])
    for key in ("version", "coefficients", "loo", "settings"):
        if key not in data:
            raise InputError(f"calibration.{key}", f"{where}: missing")
    for key in ("coefficients", "loo", "settings"):
        if not isinstance(data[key], Mapping):
            raise InputError(f"calibration.{key}", f"{where}: not an object")
    if not isinstance(data["version"], (str, int, float)) or isinstance(data["version"], bool):
        raise InputError("calibration.version", f"{where}: got {data['version']!r}", ["a string"])
    finn = data["settings"].get("finn", {})
    if not isinstance(finn, Mapping) or not all(isinstance(v, (str, int, float))
                                                for v in finn.values()):
        raise InputError("calibration.settings.finn", f"{where}: not an object of settings "
                         "(strings, numbers, booleans)")
    for key in ("fitted_on",):
        if not isinstance(data.get(key, []), list):
            raise InputError(f"calibration.{key}", f"{where}: not a list")
    for target, terms in (("lut", LUT_TERMS), ("bram18", BRAM_TERMS)):
        coef, band = data["coefficients"].get(target), data["loo"].get(target)
        if not isinstance(coef, Mapping):
            raise InputError(f"calibration.coefficients.{target}", f"{where}: missing or not an "
                             "object")
        if not isinstance(band, Mapping):
            raise InputError(f"calibration.loo.{target}", f"{where}: missing or not an object")
        for t in terms:
            if t not in coef:
                raise InputError(f"calibration.coefficients.{target}.{t}", f"{where}: missing")
            if not _finite(coef[t]):
                raise InputError(f"calibration.coefficients.{target}.{t}",
                                 f"{where}: got {coef[t]!r}", ["a finite number"])
        if "rel_band" not in band:
            raise InputError(f"calibration.loo.{target}.rel_band", f"{where}: missing")
        if not _finite(band["rel_band"]) or band["rel_band"] < 0:
            raise InputError(f"calibration.loo.{target}.rel_band",
                             f"{where}: got {band['rel_band']!r}", ["a finite number >= 0"])
    if not isinstance(data["coefficients"].get("not_identified", []), list):
        raise InputError("calibration.coefficients.not_identified", f"{where}: not a list")
    return data


def _finite(v: Any) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)


# ------------------------------------------------------------------------------ calibrated model
@dataclass(frozen=True)
class CalibratedCostReport(CostReport):
    """A :class:`CostReport` whose ``lut``/``bram18`` totals are calibrated; per-layer figures
    stay the analytical model's (the infrastructure offset belongs to no layer)."""

    lut_band: tuple[int, int] = (0, 0)
    bram18_band: tuple[int, int] = (0, 0)
    uncalibrated: Mapping[str, int] = field(default_factory=dict)
    calibration: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["totals"]["lut_band"] = list(self.lut_band)
        d["totals"]["bram18_band"] = list(self.bram18_band)
        d["uncalibrated_totals"] = dict(self.uncalibrated)
        d["calibration"] = dict(self.calibration)
        return d


class CalibratedFinnModel:
    """:class:`FinnCostModel` plus the fitted correction and its LOO error band.

    ``calibration``: None (packaged ``finn_calibration_v3.json``), a path, or a model mapping.
    The FINN formula settings come from the calibration (they are what it was fitted on);
    passing a different one raises InputError naming it.
    """

    name = "finn-calibrated"

    def __init__(self, device: Any = "pynq-z1", clock_mhz: float | None = None,
                 calibration: str | Path | Mapping[str, Any] | None = None, **finn_kw: str) -> None:
        self.calibration = load_calibration(calibration)
        fitted = dict(self.calibration["settings"].get("finn", {}))
        fitted.pop("io_profile", None)
        fitted.pop("toolflow", None)
        for key, value in finn_kw.items():
            if key in fitted and fitted[key] != value and value is not None:
                raise InputError(key, f"{value!r} differs from the calibration's {fitted[key]!r} "
                                 f"(refit with `codesign calibrate` for other settings)", [fitted[key]])
        self.base = FinnCostModel(device, clock_mhz=clock_mhz, **{**finn_kw, **fitted})
        self.device, self.clock_mhz = self.base.device, self.base.clock_mhz

    @property
    def settings(self) -> dict[str, str]:
        return self.base.settings

    def outside_coverage(self, spec: NetworkSpec, f: Mapping[str, float]) -> list[str]:
        """Why ``spec`` lies outside what the fitting rows cover (``[]``: inside)."""
        why = []
        fams = self.calibration.get("families")
        fam = network_family(spec)
        if fams is not None and fam not in fams:
            why.append(f"no fitting row is a {fam} design (families fitted: {', '.join(fams)})")
        lo, hi = self.calibration["loo"]["lut"].get("raw_range", [0, math.inf])
        if not lo / RANGE_FACTOR <= f["lut"] <= hi * RANGE_FACTOR:
            why.append(f"its {f['lut']:,.0f} estimated LUTs lie beyond {RANGE_FACTOR:g}x the "
                       f"fitting rows' range ({lo:,.0f}..{hi:,.0f})")
        return why

    def estimate(self, spec: NetworkSpec) -> CalibratedCostReport:
        report = self.base.estimate(spec)
        f = features(report)
        c = self.calibration["coefficients"]
        lut = float(_predict(c["lut"], [[f["mvau_lut"], f["other_lut"]]], LUT_TERMS)[0])
        bram = float(_predict(c["bram18"], [[f["bram18"]]], BRAM_TERMS)[0])
        ql = self.calibration["loo"]["lut"]["rel_band"]
        qb = self.calibration["loo"]["bram18"]["rel_band"]
        outside = self.outside_coverage(spec, f)
        if outside:
            ql = max(ql, self.calibration["loo"]["lut"].get("worst_family_loo") or ql, 0.5)
            qb = max(qb, self.calibration["loo"]["bram18"].get("worst_family_loo") or qb, 0.5)
        info = {"version": self.calibration["version"], "n_rows": len(self.calibration.get("fitted_on", [])),
                "lut_rel_band": ql, "bram18_rel_band": qb,
                "lut_mape_loo": self.calibration["loo"]["lut"].get("mape_loo"),
                "lut_mape_family_loo": self.calibration["loo"]["lut"].get("mape_family_loo"),
                "bram18_mape_loo": self.calibration["loo"]["bram18"].get("mape_loo"),
                "family": network_family(spec), "covered": not outside}
        if outside:
            info["band_widened_because"] = outside
        not_ident = c.get("not_identified", [])
        if f["other_lut"] and "a_other" in not_ident:
            info["warning"] = ("non-MVAU stages (sliding windows, padding, pooling) are priced "
                               "uncalibrated: no fitting row had any")
        fields = {f_.name: getattr(report, f_.name) for f_ in dataclasses.fields(CostReport)}
        fields.update(lut=int(round(lut)), bram18=int(math.ceil(bram - 1e-9)), model=self.name)
        return CalibratedCostReport(
            **fields,
            lut_band=(int(math.floor(lut * max(0.0, 1 - ql))), int(math.ceil(lut * (1 + ql)))),
            bram18_band=(int(math.floor(bram * max(0.0, 1 - qb))), int(math.ceil(bram * (1 + qb)))),
            uncalibrated={"lut": report.lut, "bram18": report.bram18}, calibration=info)

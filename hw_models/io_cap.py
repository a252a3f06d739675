"""The I/O cap on frames/s: small networks are bounded by the host and the DMA, not the pipeline.

Reference ``fpga_cost_models.md`` section 9: measured rates of tiny published networks (TFC,
LFC, the cybsec MLP) are 54-61 % of ``f_clk / max_cycles``.  What bounds them is the per-frame
cost of the host path: the driver copying each frame into the DMA buffer, the DMA descriptors,
the result copy.  We model one frame on that path as::

    t_frame = t_host + (in_bytes + out_bytes) / (dma_bytes_per_cycle * f_clk)

and cap ``fps <= 1 / t_frame``.  ``t_host`` (seconds per frame) depends on the host software,
so it is a fitted, named **I/O profile**: ``finn-pynq`` (FINN's PYNQ driver,
``throughput_test`` with large batches), ``bnn-pynq`` (BNN-PYNQ's own host library), ``none``
(no cap: out-of-context IP, or a stream fed at line rate).  The DMA term is physical: a 64-bit
AXI HP port moves 8 bytes per fabric cycle.

The profiles are fitted by :func:`fit_profiles` on the measured published rows
(``calibration_data/published_rows_v2.json``'s ``fps_rows``) and stored in
``calibration_data/io_profiles_v1.json``; ``python bench/io_cap.py`` refits them and reports
the leave-one-out error (``bench/RESULTS.md``).  Torch-free.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from fpga.devices import Device
from fpga.errors import InputError, read_json_file

DATA_DIR = Path(__file__).with_name("calibration_data")
PROFILES_FILE = DATA_DIR / "io_profiles_v1.json"
#: bytes a 64-bit AXI HP port moves per fabric cycle
DMA_BYTES_PER_CYCLE = 8
#: profile used for each device family when none is asked for
DEFAULT_BY_FAMILY = {"zynq7000": "finn-pynq", "zynqmp": "finn-pynq"}


@dataclass(frozen=True)
class IOProfile:
    """A host/DMA path: ``t_host_us`` per frame (``None``: no cap)."""

    name: str
    t_host_us: float | None
    note: str = ""

    def fps_cap(self, in_bytes: int, out_bytes: int, clock_mhz: float) -> float | None:
        """Frames/s the host path sustains, or ``None`` without a cap."""
        if self.t_host_us is None:
            return None
        t = self.t_host_us * 1e-6 + (in_bytes + out_bytes) / (DMA_BYTES_PER_CYCLE
                                                              * clock_mhz * 1e6)
        return 1.0 / t


def load_profiles(path: str | Path = PROFILES_FILE) -> dict[str, IOProfile]:
    """The profiles of ``path`` (the packaged file by default; read once per process)."""
    return dict(_load_profiles(str(path)))


@lru_cache(maxsize=8)
def _load_profiles(path: str) -> dict[str, IOProfile]:
    data = read_json_file(path, "io_profiles")
    out = {"none": IOProfile("none", None, "no I/O cap")}
    for name, p in data.get("profiles", {}).items():
        out[name] = IOProfile(name, float(p["t_host_us"]), p.get("note", ""))
    return out


def get_profile(name: str | None, device: Device) -> IOProfile:
    """The named profile, or the device family's default (``none`` when it has none)."""
    profiles = load_profiles()
    if name is None:
        name = DEFAULT_BY_FAMILY.get(device.family, "none")
    if name not in profiles:
        raise InputError("io_profile", f"unknown I/O profile {name!r}", sorted(profiles))
    return profiles[name]


def frame_bytes(elements: int, bits: int) -> int:
    """Bytes one frame of ``elements`` values of ``bits`` occupies, packed."""
    return math.ceil(elements * bits / 8)


# ------------------------------------------------------------------ fitting
def fit_profiles(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Fit ``t_host_us`` per profile on measured rows, with leave-one-out errors.

    Each row: ``name``, ``profile``, ``fps`` (measured), ``clock_mhz``, ``in_bytes``,
    ``out_bytes``, ``compute_fps`` (``f_clk / max_cycles``; rows within 10 % of it are not
    I/O-bound and are refused).  ``t_host`` is the mean host time of the profile's rows (the
    least-squares fit of a constant); LOO predicts each row from the others of its profile.
    """
    by_profile: dict[str, list[tuple[Mapping[str, Any], float]]] = {}
    for r in rows:
        for key in ("name", "profile", "fps", "clock_mhz", "in_bytes", "out_bytes",
                    "compute_fps"):
            if key not in r:
                raise InputError(f"fps_rows[{r.get('name', '?')}].{key}", "missing")
        if r["fps"] > 0.9 * r["compute_fps"]:
            raise InputError(f"fps_rows[{r['name']}].fps", "within 10 % of the compute bound: "
                             "not an I/O-bound measurement")
        dma = (r["in_bytes"] + r["out_bytes"]) / (DMA_BYTES_PER_CYCLE * r["clock_mhz"] * 1e6)
        by_profile.setdefault(r["profile"], []).append((r, 1.0 / r["fps"] - dma))
    profiles: dict[str, Any] = {}
    loo: list[dict[str, Any]] = []
    for name, items in sorted(by_profile.items()):
        hosts = [h for _, h in items]
        t = sum(hosts) / len(hosts)
        distinct = sorted({r["design"] if "design" in r else r["name"] for r, _ in items})
        profiles[name] = {"t_host_us": round(t * 1e6, 4), "rows": [r["name"] for r, _ in items],
                          "distinct_designs": len(distinct)}
        for i, (r, _) in enumerate(items):
            others = [h for j, h in enumerate(hosts) if j != i]
            if not others:
                continue
            prof = IOProfile(name, sum(others) / len(others) * 1e6)
            pred = prof.fps_cap(r["in_bytes"], r["out_bytes"], r["clock_mhz"])
            assert pred is not None
            loo.append({"name": r["name"], "profile": name, "measured_fps": r["fps"],
                        "loo_pred_fps": round(pred, 1),
                        "error_pct": round(100 * (pred - r["fps"]) / r["fps"], 2)})
    return {"profiles": profiles, "loo": loo}


def write_profiles(fit: Mapping[str, Any], path: str | Path = PROFILES_FILE) -> Path:
    from codesign.io import atomic_write_text  # local: keeps this module torch-free at import

    notes = {"finn-pynq": "FINN's PYNQ driver, throughput_test with large batches",
             "bnn-pynq": "BNN-PYNQ's host library (2018)"}
    body = {"version": 1,
            "model": "t_frame = t_host + (in_bytes + out_bytes) / (8 bytes * f_clk); "
                     "fps <= 1 / t_frame",
            "profiles": {k: dict(v, note=notes.get(k, "")) for k, v in fit["profiles"].items()},
            "loo": list(fit["loo"])}
    return atomic_write_text(Path(path), json.dumps(body, indent=2) + "\n")

"""The I/O cap on frames/s: small networks are bounded by the host and the DMA, not the pipeline.

Reference ``fpga_cost_models.md`` section 9: measured rates of tiny published networks (TFC,
LFC, the cybsec MLP) are 54-61 % of ``f_clk / max_cycles``.  What bounds them is the per-frame
cost of the host path: the driver copying each frame into the DMA buffer, the DMA descriptors,
the result copy.  We model one frame on that path as::

    t_frame = t_host + (in_bytes + out_bytes) / (dma_bytes_per_cycle * f_clk)

and cap ``fps <= 1 / t_frame``.  ``t_host`` (seconds per frame) depends on the host software,
and on the processor that runs it, so it is a fitted, named **I/O profile** per board family:
``finn-pynq`` (FINN's PYNQ driver, ``throughput_test`` with large batches), ``bnn-pynq``
(BNN-PYNQ's own host library), ``none`` (no cap: out-of-context IP, or a stream fed at line
rate), each fitted separately on the Zynq-7000 boards (PYNQ-Z1/Z2, Cortex-A9) and on the Zynq
UltraScale+ boards (Ultra96, ZCU104, AUP-ZU3: Cortex-A53), from measurements on those boards.
A board whose family has no measurement of the asked profile borrows another family's and says
so (``IOProfile.backing``).  The DMA term is physical: a 64-bit AXI HP port moves 8 bytes per
fabric cycle.

The profiles are fitted by :func:`fit_profiles` on the measured published rows
(``calibration_data/io_rows_v2.json``, each row citing its source) and stored in
``calibration_data/io_profiles_v2.json``; ``python bench/io_cap.py --write`` refits them and
reports the leave-one-out error (``bench/RESULTS.md``).  Torch-free.
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
PROFILES_FILE = DATA_DIR / "io_profiles_v2.json"
ROWS_FILE = DATA_DIR / "io_rows_v2.json"
#: bytes a 64-bit AXI HP port moves per fabric cycle
DMA_BYTES_PER_CYCLE = 8
#: profile used for each device family when none is asked for
DEFAULT_BY_FAMILY = {"zynq7000": "finn-pynq", "zynqmp": "finn-pynq"}
#: the host software each profile name stands for
NOTES = {"finn-pynq": "FINN's PYNQ driver, throughput_test with large batches",
         "bnn-pynq": "BNN-PYNQ's host library (2018)"}


@dataclass(frozen=True)
class IOProfile:
    """A host/DMA path: ``t_host_us`` per frame (``None``: no cap), for one board family;
    ``backing`` says what measurements it rests on."""

    name: str
    t_host_us: float | None
    note: str = ""
    family: str = ""
    backing: str = ""

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
    """``{"<name>@<family>": profile}`` plus ``"none"``."""
    data = read_json_file(path, "io_profiles")
    out = {"none": IOProfile("none", None, "no I/O cap", backing="no cap")}
    for key, p in data.get("profiles", {}).items():
        name, _, family = key.partition("@")
        boards = ", ".join(p.get("boards", []))
        out[key] = IOProfile(name, float(p["t_host_us"]), p.get("note", ""), family,
                             f"fitted on {len(p['rows'])} measured rows of "
                             f"{p['distinct_designs']} distinct designs on {boards}")
    return out


def profile_names() -> list[str]:
    """The accepted ``--io-profile`` values."""
    return sorted({k.partition("@")[0] for k in load_profiles()})


def get_profile(name: str | None, device: Device) -> IOProfile:
    """The named profile (or the device family's default, ``none`` when it has none) as
    fitted on the device's board family; borrowed from another family when this one has no
    measurement of it (``backing`` says so)."""
    profiles = load_profiles()
    if name is None:
        name = DEFAULT_BY_FAMILY.get(device.family, "none")
    if name == "none":
        return profiles["none"]
    if name not in profile_names():
        raise InputError("io_profile", f"unknown I/O profile {name!r}", profile_names())
    own = profiles.get(f"{name}@{device.family}")
    if own is not None:
        return own
    other = next(p for k, p in sorted(profiles.items()) if k.startswith(f"{name}@"))
    return IOProfile(name, other.t_host_us, other.note, device.family,
                     f"no measurement on a {device.family} board: borrowed from "
                     f"{other.family} ({other.backing})")


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
                    "compute_fps", "family", "source"):
            if key not in r:
                raise InputError(f"fps_rows[{r.get('name', '?')}].{key}", "missing")
        if r["fps"] > 0.9 * r["compute_fps"]:
            raise InputError(f"fps_rows[{r['name']}].fps", "within 10 % of the compute bound: "
                             "not an I/O-bound measurement")
        dma = (r["in_bytes"] + r["out_bytes"]) / (DMA_BYTES_PER_CYCLE * r["clock_mhz"] * 1e6)
        by_profile.setdefault(f"{r['profile']}@{r['family']}", []).append(
            (r, 1.0 / r["fps"] - dma))
    profiles: dict[str, Any] = {}
    loo: list[dict[str, Any]] = []
    for name, items in sorted(by_profile.items()):
        hosts = [h for _, h in items]
        t = sum(hosts) / len(hosts)
        distinct = sorted({r["design"] if "design" in r else r["name"] for r, _ in items})
        profiles[name] = {"t_host_us": round(t * 1e6, 4), "rows": [r["name"] for r, _ in items],
                          "distinct_designs": len(distinct),
                          "boards": sorted({r.get("board", "?") for r, _ in items})}
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

    body = {"version": 2,
            "model": "t_frame = t_host + (in_bytes + out_bytes) / (8 bytes * f_clk); "
                     "fps <= 1 / t_frame",
            "profiles": {k: dict(v, note=NOTES.get(k.partition("@")[0], ""))
                         for k, v in fit["profiles"].items()},
            "loo": list(fit["loo"])}
    return atomic_write_text(Path(path), json.dumps(body, indent=2) + "\n")

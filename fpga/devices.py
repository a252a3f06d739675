"""Device catalog: programmable-logic capacities and default clocks of the boards we target.

A :class:`Device` is what a cost report is checked against (LUT, BRAM18, URAM, DSP budgets) and
where the default fabric clock comes from.  Devices live in a registry keyed by board name
(``register_device`` / ``get_device`` / ``list_devices``), so a new board is one call, not an
edit of a central table.

Capacities are the programmable-logic totals of the part from the vendor data sheets:

* Zynq-7000: Xilinx DS190 "Zynq-7000 SoC Data Sheet: Overview", device-family summary table
  (rows "Look-Up Tables (LUTs)", "Flip-Flops", "Total Block RAM (# 36 Kb Blocks)",
  "DSP Slices"; table 2 "Zynq-7000 SoCs" in v1.11.1; table numbering moves between revisions).
* Zynq UltraScale+ MPSoC: Xilinx DS891 "Zynq UltraScale+ MPSoC Data Sheet: Overview",
  "EG Device Feature Summary" (xczu3eg) and "EV Device Feature Summary" (xczu7ev) tables
  (rows "CLB LUTs", "CLB Flip-Flops", "Block RAM Blocks", "UltraRAM Blocks", "DSP Slices").
* Alveo U250: Xilinx DS962 "Alveo U200 and U250 Data Center Accelerator Cards Data Sheet",
  card feature table, U250 column (LUTs, registers, block RAM, UltraRAM, DSP slices).

Units: ``bram18`` counts RAMB18 halves (2 x the data sheet's 36 Kb block count), the unit of
FINN's estimate reports; ``uram`` counts 288 Kb UltraRAM blocks (0 on 7-series and on xczu3eg).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from fpga.errors import InputError

log = logging.getLogger(__name__)

#: device families the cost models know about (DSP48 vs DSP58, URAM availability differ)
FAMILIES = ("zynq7000", "zynqmp", "alveo", "versal")


@dataclass(frozen=True)
class Device:
    """One FPGA board/part: programmable-logic capacities and the default fabric clock."""

    name: str
    part: str
    family: str
    lut: int
    ff: int
    bram18: int
    uram: int
    dsp: int
    clock_mhz: float
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name != self.name.lower():
            raise InputError("device.name", f"got {self.name!r}", ["a non-empty lower-case string"])
        if not isinstance(self.part, str) or not self.part:
            raise InputError("device.part", f"got {self.part!r}", ["a non-empty string"])
        if self.family not in FAMILIES:
            raise InputError("device.family", f"got {self.family!r}", FAMILIES)
        for key in ("lut", "ff", "bram18"):
            _check_count(f"device.{key}", getattr(self, key), 1)
        for key in ("uram", "dsp"):
            _check_count(f"device.{key}", getattr(self, key), 0)
        clk = self.clock_mhz
        if isinstance(clk, bool) or not isinstance(clk, (int, float)) or not clk > 0:
            raise InputError("device.clock_mhz", f"got {clk!r}", ["a number > 0"])
        if not isinstance(self.source, str) or not self.source.strip():
            raise InputError("device.source", "a citation of the data sheet is required")

    @property
    def bram36(self) -> float:
        """Capacity in RAMB36 tiles (Vivado's 'Block RAM Tile' unit)."""
        return self.bram18 / 2

    @property
    def has_uram(self) -> bool:
        return self.uram > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_count(name: str, v: Any, lo: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise InputError(name, f"got {v!r}", [f"an integer >= {lo}"])


_REGISTRY: dict[str, Device] = {}


def register_device(device: Device, *, replace: bool = False) -> Device:
    """Add ``device`` to the catalog under ``device.name``; refuses silent overwrites."""
    if not isinstance(device, Device):
        raise InputError("device", f"expected a Device, got {type(device).__name__}")
    if device.name in _REGISTRY and not replace:
        raise InputError("device", f"{device.name!r} is already registered (pass replace=True)")
    _REGISTRY[device.name] = device
    return device


def get_device(name: str | Device) -> Device:
    """The registered device called ``name`` (case-insensitive); a Device is passed through."""
    if isinstance(name, Device):
        return name
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in _REGISTRY:
        raise InputError("device", f"unknown device {name!r}", sorted(_REGISTRY))
    return _REGISTRY[key]


def list_devices() -> list[Device]:
    """All registered devices, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


# ---------------------------------------------------------------------------------------------
# Built-in catalog.
#
# Default clocks: 100 MHz (10 ns) is what FINN/PYNQ use for the Zynq boards: BNN-PYNQ's PYNQ-Z1
# bitstreams run the fabric at 100 MHz, and finn-examples builds every Zynq target (Pynq-Z1,
# Ultra96, ZCU104) with synth_clk_period_ns=10.0 (build/bnn-pynq/build.py; build/mobilenet-v1/
# build.py uses 10 ns for ZCU102/ZCU104).  Ultra96 and ZCU104 can close timing higher (BNN-PYNQ
# ran Ultra96 at 300 MHz with hand-written HLS), but an estimate should assume the clock FINN
# builds at.  For Alveo, finn-examples builds MobileNet-v1 at 3.0 ns (333 MHz); we take a
# rounder, slightly conservative 300 MHz.
# ---------------------------------------------------------------------------------------------
_DS190 = ("Xilinx DS190 Zynq-7000 SoC Data Sheet: Overview, device summary table "
          "('Zynq-7000 SoCs', Table 2 in v1.11.1), column {col}")
_DS891 = ("Xilinx DS891 Zynq UltraScale+ MPSoC Data Sheet: Overview, "
          "'{tab} Device Feature Summary' table, column {col}")
_DS962 = ("Xilinx DS962 Alveo U200 and U250 Data Center Accelerator Cards Data Sheet, "
          "card feature table, column U250 (XCU250)")

_BUILTIN = (
    # xc7z020: 53,200 LUT, 106,400 FF, 140 x 36 Kb BRAM, 220 DSP48E1
    Device("pynq-z1", "xc7z020clg400-1", "zynq7000", lut=53_200, ff=106_400, bram18=280,
           uram=0, dsp=220, clock_mhz=100.0, source=_DS190.format(col="Z-7020")),
    Device("pynq-z2", "xc7z020clg400-1", "zynq7000", lut=53_200, ff=106_400, bram18=280,
           uram=0, dsp=220, clock_mhz=100.0, source=_DS190.format(col="Z-7020")),
    # xc7z045: 218,600 LUT, 437,200 FF, 545 x 36 Kb BRAM, 900 DSP48E1
    Device("zc706", "xc7z045ffg900-2", "zynq7000", lut=218_600, ff=437_200, bram18=1_090,
           uram=0, dsp=900, clock_mhz=100.0, source=_DS190.format(col="Z-7045")),
    # xczu3eg: 70,560 LUT, 141,120 FF, 216 x 36 Kb BRAM, no UltraRAM, 360 DSP48E2
    Device("ultra96", "xczu3eg-sbva484-1-i", "zynqmp", lut=70_560, ff=141_120, bram18=432,
           uram=0, dsp=360, clock_mhz=100.0, source=_DS891.format(tab="EG", col="ZU3EG")),
    # xczu7ev: 230,400 LUT, 460,800 FF, 312 x 36 Kb BRAM, 96 UltraRAM, 1,728 DSP48E2
    Device("zcu104", "xczu7ev-ffvc1156-2-e", "zynqmp", lut=230_400, ff=460_800, bram18=624,
           uram=96, dsp=1_728, clock_mhz=100.0, source=_DS891.format(tab="EV", col="ZU7EV")),
    # xcu250: 1,728K LUT, 3,456K registers, 2,688 x 36 Kb BRAM, 1,280 UltraRAM, 12,288 DSP
    Device("u250", "xcu250-figd2104-2L-e", "alveo", lut=1_728_000, ff=3_456_000, bram18=5_376,
           uram=1_280, dsp=12_288, clock_mhz=300.0, source=_DS962),
)

for _d in _BUILTIN:
    register_device(_d)

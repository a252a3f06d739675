"""The shell around a FINN accelerator on a board: DMA engines and AXI interconnect.

FINN's estimate covers the dataflow accelerator only; a zynq build also holds the shell that
connects it to the processor: SmartConnect (the DMA data path), the AXI-lite interconnect, the
reset block and FINN's two IODMA engines.  Its size is measured, not modelled: the packaged
``calibration_data/shells_v1.json`` lists public FINN builds whose Vivado hierarchy reports give
each block (sources there), and the shell of a device family is their mean.  Boards of a family
without a measurement (Zynq UltraScale+) use the same IP's figures and say so (``backing``);
families without a FINN zynq shell (Alveo: an XRT platform) have none here.  The cost model
reports the shell beside the accelerator and counts it when checking that a design fits the
device.  Torch-free.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fpga.devices import Device
from fpga.errors import read_json_file

SHELLS_FILE = Path(__file__).with_name("calibration_data") / "shells_v1.json"


@dataclass(frozen=True)
class Shell:
    lut: int
    ff: int
    bram18: int
    dsp: int
    backing: str
    measured_on: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"lut": self.lut, "ff": self.ff, "bram18": self.bram18, "dsp": self.dsp,
                "backing": self.backing, "measured_on": list(self.measured_on)}


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Shell]:
    data = read_json_file(path, "shells")
    rows = {m["name"]: m for m in data["measurements"]}
    out = {}
    for family, spec in data["by_family"].items():
        ms = [rows[n] for n in spec["measured_on"]]
        mean = {k: round(sum(m[k] for m in ms) / len(ms)) for k in ("lut", "ff", "bram18",
                                                                    "dsp")}
        out[family] = Shell(**mean, backing=spec["backing"],
                            measured_on=tuple(spec["measured_on"]))
    return out


def shell_for(device: Device) -> Shell | None:
    """The shell of ``device``'s family (``None``: not modelled for it)."""
    return _load(str(SHELLS_FILE)).get(device.family)

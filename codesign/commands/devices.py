"""``codesign devices``: the device catalog with capacities and default clocks (torch-free)."""
from __future__ import annotations

import argparse
import json

from fpga.devices import list_devices

_COLUMNS = (("name", "name"), ("part", "part"), ("LUT", "lut"), ("FF", "ff"),
            ("BRAM18", "bram18"), ("URAM", "uram"), ("DSP", "dsp"), ("clock MHz", "clock_mhz"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list target boards with their capacities",
                       description="List the device catalog: part, LUT, FF, BRAM18, URAM, DSP "
                                   "(programmable-logic totals from the vendor data sheets) and "
                                   "the default fabric clock.")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    devices = list_devices()
    if args.json:
        print(json.dumps([d.to_dict() for d in devices], indent=2))
        return 0
    rows = [[h for h, _ in _COLUMNS]]
    for d in devices:
        rows.append([_fmt(getattr(d, key)) for _, key in _COLUMNS])
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    for r in rows:
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return 0


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)

"""Device catalog: the required boards with their data-sheet capacities, and a conformance suite
over every registered device."""
from __future__ import annotations

import pytest

from fpga.devices import FAMILIES, Device, get_device, list_devices, register_device
from fpga.errors import InputError

#: (part prefix, LUT, FF, BRAM18 = 2 x 36 Kb blocks, URAM, DSP) from Xilinx DS190 (Zynq-7000),
#: DS891 (Zynq UltraScale+ MPSoC) and DS962 (Alveo U200/U250)
DATASHEET = {
    "pynq-z1": ("xc7z020", 53_200, 106_400, 2 * 140, 0, 220),
    "ultra96": ("xczu3eg", 70_560, 141_120, 2 * 216, 0, 360),
    "zcu104": ("xczu7ev", 230_400, 460_800, 2 * 312, 96, 1_728),
    "zc706": ("xc7z045", 218_600, 437_200, 2 * 545, 0, 900),
    "u250": ("xcu250", 1_728_000, 3_456_000, 2 * 2_688, 1_280, 12_288),
}


@pytest.mark.parametrize("name", sorted(DATASHEET))
def test_required_boards_match_datasheets(name: str) -> None:
    d = get_device(name)
    part, lut, ff, bram18, uram, dsp = DATASHEET[name]
    assert d.part.startswith(part)
    assert (d.lut, d.ff, d.bram18, d.uram, d.dsp) == (lut, ff, bram18, uram, dsp)
    assert "DS" in d.source  # the data sheet is cited


def test_default_clocks() -> None:
    assert get_device("pynq-z1").clock_mhz == 100.0
    assert get_device("u250").clock_mhz == 300.0


def test_pynq_z2_shares_the_z1_part() -> None:
    z1, z2 = get_device("pynq-z1"), get_device("pynq-z2")
    assert (z1.part, z1.lut, z1.bram18, z1.dsp) == (z2.part, z2.lut, z2.bram18, z2.dsp)


@pytest.mark.parametrize("device", list_devices(), ids=lambda d: d.name)
def test_every_device_conforms(device: Device) -> None:
    assert get_device(device.name) is device
    assert get_device(device.name.upper()) is device
    assert get_device(device) is device
    assert device.name == device.name.lower() and device.part
    assert device.family in FAMILIES
    assert device.lut > 0 and device.ff >= device.lut and device.bram18 > 0
    assert device.bram18 % 2 == 0 and device.bram36 == device.bram18 / 2
    assert device.dsp >= 0 and device.uram >= 0
    if device.family == "zynq7000":
        assert device.uram == 0   # 7-series has no UltraRAM
    assert device.clock_mhz > 0
    assert device.source.strip()
    assert set(device.to_dict()) >= {"name", "part", "lut", "ff", "bram18", "uram", "dsp",
                                      "clock_mhz"}
    assert Device(**device.to_dict()) == device


def test_list_is_sorted_and_complete() -> None:
    names = [d.name for d in list_devices()]
    assert names == sorted(names)
    assert set(DATASHEET) <= set(names)


def test_unknown_device_lists_accepted_names() -> None:
    with pytest.raises(InputError) as exc:
        get_device("pynq-z9")
    assert exc.value.field == "device"
    assert "pynq-z1" in exc.value.accepted and "u250" in exc.value.accepted


def test_registry_refuses_silent_overwrite() -> None:
    with pytest.raises(InputError, match="already registered"):
        register_device(get_device("pynq-z1"))


@pytest.mark.parametrize("bad", [{"lut": 0}, {"clock_mhz": 0}, {"family": "stratix"},
                                 {"name": "PYNQ"}, {"source": " "}, {"dsp": -1}])
def test_device_validation(bad: dict) -> None:
    fields = get_device("pynq-z1").to_dict() | bad
    with pytest.raises(InputError):
        Device(**fields)

"""The PN532 driver against scripted transports (tests/mpy/pn532_units.py), on MicroPython and
on CPython, plus a check that the simulator and the driver name the same command codes."""
from __future__ import annotations

import re

from conftest import MPY_TESTS, run_firmware

from upurse.port import FIRMWARE
from upurse.rig.chip import Cmd


def test_driver_frames_and_commands(interpreter):
    out = run_firmware(interpreter, MPY_TESTS / "pn532_units.py", timeout=60)
    found = re.search(r"OK pn532 units (\d+) checks", out)
    assert found, out
    assert int(found.group(1)) > 300


def test_command_codes_agree_with_simulator():
    source = (FIRMWARE / "drivers" / "pn532.py").read_text()
    codes = {m.group(1): int(m.group(2), 16)
             for m in re.finditer(r"^_([A-Z_]+) = const\(0x([0-9A-F]{2})\)", source, re.M)}
    shared = [name for name in Cmd.__members__ if name in codes]
    assert len(shared) >= 15
    for name in shared:
        assert codes[name] == Cmd[name], name

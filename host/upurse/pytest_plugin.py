"""pytest plugin: `--rig sim` (default, the emulated rig) or `--rig serial` with real boards."""
from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("upurse")
    group.addoption("--rig", choices=("sim", "serial"), default="sim",
                    help="run the rig tests on the emulated rig (sim) or on real boards (serial)")
    group.addoption("--terminal-port", default=None, help="serial port of the terminal board")
    group.addoption("--card-ports", default=None,
                    help="comma-separated serial ports of the card boards (wired mode)")

"""The card applet command by command, and the settlement program against forged, replayed and
cut exchanges, with recovery of interrupted transfers.

The tables live in tests/mpy/applet_cases.py (one row per command case: setup, APDU, status
word, state change) and tests/mpy/applet_flows.py (settlement flows through tampering channels).
Each row runs here in-process on CPython as its own test; check_applet.py replays both tables
on the real MicroPython binary (`python -m upurse.port tests/mpy/check_applet.py DIR` runs it
on CPython the same way).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from conftest import MPY_TESTS, run_firmware

sys.path.insert(0, str(MPY_TESTS))  # the tables import as firmware-side modules do

from applet_cases import ALL_INS, CASES, Lab, run_case  # noqa: E402
from applet_flows import FLOWS  # noqa: E402

from common import proto as P  # noqa: E402

# Every status word the applet can answer for a refused command (all but SW_UNKNOWN)
REFUSALS = {P.SW_WRONG_LENGTH, P.SW_WRONG_DATA, P.SW_WRONG_P1P2, P.SW_INS_UNKNOWN,
            P.SW_CLA_UNKNOWN, P.SW_WRONG_STATE, P.SW_SECURITY, P.SW_DATE_REFUSED,
            P.SW_VALUE_LIMIT, P.SW_KEY_ID_REFUSED, P.SW_NOT_FOUND, P.SW_FILE_NOT_FOUND,
            P.SW_PENDING}


@pytest.mark.parametrize("row", CASES, ids=[row[0] for row in CASES])
def test_command(row, tmp_path: Path) -> None:
    run_case(Lab(str(tmp_path)), row)


@pytest.mark.parametrize("row", FLOWS, ids=[row[0] for row in FLOWS])
def test_settlement(row, tmp_path: Path) -> None:
    row[1](Lab(str(tmp_path)))


def test_row_names_are_unique() -> None:
    names = [row[0] for row in CASES + FLOWS]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("interpreter", ["micropython", "qemu"])
def test_tables_on_micropython(interpreter: str, tmp_path: Path) -> None:
    """Both tables, replayed by one script on the real MicroPython binary and on the QEMU board
    (the rows above are the CPython run); every command succeeds somewhere, every refusal
    status is expected."""
    out = run_firmware(interpreter, MPY_TESTS / "check_applet.py", str(tmp_path / "cards"))
    assert f"OK applet {len(CASES)} cases {len(FLOWS)} flows" in out, out
    succeeded = {int(k, 16) for k in re.findall(r"([0-9A-F]{2}):\d+", _line(out, "succeeded"))}
    assert succeeded == set(ALL_INS) | {P.INS_SELECT}, succeeded
    statuses = {int(k, 16) for k in re.findall(r"([0-9A-F]{4}):\d+", _line(out, "statuses"))}
    assert statuses == REFUSALS | {P.SW_OK}, sorted(map(hex, statuses))
    print(_line(out, "OK applet"))


def _line(out: str, prefix: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(prefix))

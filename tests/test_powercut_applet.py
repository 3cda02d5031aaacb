"""Power cuts at every flash write of every card command of real flows (personalization, key
roll, transfers, torn transfers and their recovery), on MicroPython's real littlefs.

Only MicroPython has `os.VfsLfs2`, so this runs on the unix port and the QEMU board; the script is
tests/mpy/powercut_applet.py, on the harness of tests/mpy/powercut.py.
"""
from __future__ import annotations

import re

import pytest
from conftest import MPY_TESTS, run_firmware

# Every command that changes what the card keeps (the script also insists each one wrote)
SAVING = ("INITIALIZE", "PERSONALIZE", "LOCK", "KEY_UPDATE", "VALUE_TX_PERMISSION",
          "VALUE_RX_PERMISSION", "VALUE_TX",
          "VALUE_RX", "VALUE_TX_CONFIRM", "VALUE_RX_ABORT", "ISSUER_RESOLVE")
READ_ONLY = ("SELECT", "GET_PENDING", "KEY_OBTAIN", "PENDING_RESOLVE")


def report(line: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", line)}


@pytest.mark.parametrize("interpreter", ["micropython", "qemu"])
def test_card_state_is_before_or_after_each_command_cut_at_every_write(interpreter):
    # the QEMU board (13 times slower) cuts each write one way, the ways in turn
    ways = 1 if interpreter == "qemu" else 3
    out = run_firmware(interpreter, MPY_TESTS / "powercut_applet.py",
                       *(["rotate"] if ways == 1 else []))
    lines = {line.split(":")[0]: line for line in out.splitlines() if ":" in line}
    for name in SAVING:
        r = report(lines[name])
        assert r["writes"] > 0, lines[name]
        assert r["cuts"] == ways * r["writes"] == r["before"] + r["after"], lines[name]
        assert r["overprogrammed"] == 0, lines[name]
    for name in READ_ONLY:
        assert report(lines[name])["writes"] == 0, lines[name]  # reading never writes flash
    for card in ("card1", "card2"):
        for shape in ("512", "rp2"):
            assert report(lines[f"{card} on {shape}"])["cuts"] > 0, out
    # the harness catches a card that saves one command in two steps
    control = lines["control"]
    assert re.match(r"control: caught card1 session \d+ command \d+ \(VALUE_", control), out
    last = out.splitlines()[-1]
    assert last.startswith("OK powercut applet"), out
    assert report(last)["cuts"] > 1000 * ways // 3, out

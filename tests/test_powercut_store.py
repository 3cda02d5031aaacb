"""Power cuts at every flash write of the card store, on MicroPython's real littlefs.

Only MicroPython has `os.VfsLfs2`, so these run on the unix port and the QEMU board; the
scripts are in tests/mpy/ (cutblock.py: the flash that loses power; powercut.py: the harness).
"""
from __future__ import annotations

import re

import pytest
from conftest import MPY_TESTS, run_firmware

GROUPS = ("first", "replace", "rp2", "chain", "stray", "wear")


def report(line: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", line)}


@pytest.mark.parametrize("interpreter", ["micropython", "qemu"])
def test_store_is_old_or_new_after_a_cut_at_every_write(interpreter):
    # the QEMU board (13 times slower) cuts each write one way, the ways in turn
    ways = 1 if interpreter == "qemu" else 3
    out = run_firmware(interpreter, MPY_TESTS / "powercut_store.py",
                       *(["rotate"] if ways == 1 else []))
    lines = {line.split(":")[0]: line for line in out.splitlines() if ":" in line}
    for group in GROUPS:
        r = report(lines[group])
        assert r["writes"] > 0, lines[group]
        assert r["cuts"] == ways * r["writes"], lines[group]  # every write, each way
        assert r["before"] + r["after"] == r["cuts"], lines[group]
        assert r["overprogrammed"] == 0, lines[group]  # littlefs never programs unerased cells
    assert re.search(r"wear: directory moved at save \d+", out)  # the relocation was covered
    assert lines["device"] == "device: ok", out  # the flash model's own checks
    assert lines["control"].startswith("control: caught cut"), out  # the harness can fail
    total = report(out.splitlines()[-1].removeprefix("OK powercut store"))
    assert out.splitlines()[-1].startswith("OK powercut store"), out
    assert total["cuts"] > 4000 * ways // 3, out  # tie the size of the run to what it claims

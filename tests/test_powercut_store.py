"""Power cuts at every flash write of the card store, on MicroPython's real littlefs.

Only the MicroPython binary has `os.VfsLfs2`, so these run there alone; the scripts are in
tests/mpy/ (cutblock.py: the flash that loses power; powercut.py: the harness).
"""
from __future__ import annotations

import re

from conftest import MPY_TESTS, run_firmware

GROUPS = ("first", "replace", "rp2", "chain", "stray", "wear")


def report(line: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"(\w+) (\d+)", line)}


def test_store_is_old_or_new_after_a_cut_at_every_write():
    out = run_firmware("micropython", MPY_TESTS / "powercut_store.py")
    lines = {line.split(":")[0]: line for line in out.splitlines() if ":" in line}
    for group in GROUPS:
        r = report(lines[group])
        assert r["writes"] > 0, lines[group]
        assert r["cuts"] == 3 * r["writes"], lines[group]  # every write, each of 3 ways
        assert r["before"] + r["after"] == r["cuts"], lines[group]
        assert r["overprogrammed"] == 0, lines[group]  # littlefs never programs unerased cells
    assert re.search(r"wear: directory moved at save \d+", out)  # the relocation was covered
    assert lines["device"] == "device: ok", out  # the flash model's own checks
    assert lines["control"].startswith("control: caught cut"), out  # the harness can fail
    total = report(out.splitlines()[-1].removeprefix("OK powercut store"))
    assert out.splitlines()[-1].startswith("OK powercut store"), out
    assert total["cuts"] > 4000, out  # tie the size of the run to what this test claims

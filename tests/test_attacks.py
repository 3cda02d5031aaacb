"""Attacks on the key roll, the value transfer and recovery, one card command each.

tests/mpy/attacks.py sends replayed (same session, later session, another card), spliced,
forged, truncated, out-of-order, key-ID, lying-date, bad-amount and same-card commands straight
to real applets, and checks each status word and that every card's stored record is
byte-identical afterwards. Read-only or idempotent replays answer 9000 by design and are counted
apart ("harmless"), under the same byte-identical check.
"""
from __future__ import annotations

import re
from pathlib import Path

from conftest import MPY_TESTS, run_firmware

GROUPS = {
    "replays_of_a_transfer": 17, "replays_of_a_key_roll": 4, "replays_of_recovery": 5,
    "replays_of_an_aborted_transfer": 3, "issuer_resolutions": 12, "releases": 7,
    "splicing": 12, "forged_and_truncated_macs": 30, "out_of_order": 13, "key_ids": 7,
    "dates": 8, "amounts": 11, "same_card": 5,
}


def test_every_attack_is_refused_and_changes_nothing(interpreter: str, tmp_path: Path) -> None:
    out = run_firmware(interpreter, MPY_TESTS / "attacks.py", str(tmp_path))
    counted = {name: int(n) for name, n in re.findall(r"^(\w+): (\d+) cases$", out, re.M)}
    assert counted == GROUPS, out
    summary = re.search(r"^OK attacks (\d+) cases \((\d+) rejected, (\d+) harmless\)$", out,
                        re.M)
    assert summary, out
    total, rejected, harmless = map(int, summary.groups())
    assert total == sum(GROUPS.values()) == rejected + harmless
    assert harmless == 9  # SELECT, S1005, S2004, GET PENDING, PENDING RESOLVE replays

"""No card stays blocked (issue 9, findings 2 and 5): a far-dated transfer, a lost credit
proof, a payer's key rolled past the old ones a card keeps, and half transfers from a blocker,
each unblocked by the protocol or the issuer's verdict (tests/mpy/blocking.py)."""
from __future__ import annotations

import re
from pathlib import Path

from conftest import MPY_TESTS, run_firmware


def test_no_card_stays_blocked(interpreter: str, tmp_path: Path) -> None:
    out = run_firmware(interpreter, MPY_TESTS / "blocking.py", str(tmp_path))
    assert re.findall(r"^(\w+): ok$", out, re.M) == ["date", "lost_proof", "rolled_key",
                                                      "blockers"], out
    assert "blocked payees: 1" in out, out  # before issue 9: 3, and the blocker spent nothing
    assert out.strip().endswith("OK blocking 4 scenarios"), out

"""Finding 7 of issue 9 on the card: an edited, damaged or cut-short `state` record makes the
card refuse every command with 6581 (tests/mpy/record_integrity.py, on both interpreters)."""
from __future__ import annotations

import re
from pathlib import Path

from conftest import MPY_TESTS, run_firmware


def test_edited_record_is_refused(interpreter: str, tmp_path: Path) -> None:
    out = run_firmware(interpreter, MPY_TESTS / "record_integrity.py", str(tmp_path))
    m = re.search(r"^OK record integrity: (\d+) edits refused$", out, re.M)
    assert m, out
    assert int(m.group(1)) > 300, out  # every byte flipped and every cut of a ~160-byte record

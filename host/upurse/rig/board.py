"""Board processes for the emulated rig: a firmware script run as its own process, on the
MicroPython unix port or on CPython through the port, with its output piped back."""
from __future__ import annotations

import subprocess
from pathlib import Path

from upurse.interpreters import command


def spawn(interpreter: str, script: str | Path, *args: str, heap: str | None = None,
          path: tuple[str | Path, ...] = (), cwd: str | Path | None = None) -> subprocess.Popen:
    """Start `script` like `micropython script args...`; stdout and stderr come back as text."""
    argv, env = command(interpreter, script, *args, heap=heap, path=path)
    env["PYTHONUNBUFFERED"] = "1"  # CPython: lines as they are printed, as MicroPython does
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

"""The CPython port: lets the unchanged firmware modules run on CPython.

`install()` puts `firmware/` and the shim modules of this folder (`cryptolib`, `micropython`)
on `sys.path`, and gives CPython's `time` the `ticks_*` and `sleep_ms` functions MicroPython has.
"""
import sys
import time
from pathlib import Path

FIRMWARE = Path(__file__).resolve().parents[3] / "firmware"
SHIMS = Path(__file__).resolve().parent / "shims"


def _ticks_ms():
    return time.monotonic_ns() // 1_000_000 & 0x3FFFFFFF


def _ticks_us():
    return time.monotonic_ns() // 1_000 & 0x3FFFFFFF


def _ticks_diff(a, b):
    half = 0x20000000
    return ((a - b + half) & 0x3FFFFFFF) - half


def install():
    """Make `import common.cmac`, `import card.applet`, ... work on CPython. Idempotent."""
    for path in (str(SHIMS), str(FIRMWARE)):
        if path not in sys.path:
            sys.path.insert(0, path)
    time.ticks_ms = _ticks_ms
    time.ticks_us = _ticks_us
    time.ticks_diff = _ticks_diff
    time.ticks_add = lambda a, b: (a + b) & 0x3FFFFFFF
    time.sleep_ms = lambda ms: time.sleep(ms / 1000)

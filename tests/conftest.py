"""Shared fixtures: run firmware scripts on both interpreters, firmware/common compiled."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from upurse import natmod
from upurse.build import compile_packages
from upurse.interpreters import INTERPRETERS, command
from upurse.port import install
from upurse.qemu import run_script

install()  # firmware modules import on CPython inside this test process too

TESTS = Path(__file__).resolve().parent
MPY_TESTS = TESTS / "mpy"
VECTORS = TESTS / "vectors"


def run_firmware(interpreter: str, script: str | Path, *args: str, heap: str | None = None,
                 timeout: float = 300, path: tuple[Path, ...] = ()) -> str:
    """Run a firmware-side test script; fail the test with its output unless it exits 0.

    `path` goes before firmware/ (e.g. a folder of mpy-cross output)."""
    if interpreter == "qemu":
        proc = run_script(script, *args, heap=heap, path=(*path, MPY_TESTS), timeout=timeout)
    else:
        argv, env = command(interpreter, script, *args, heap=heap, path=(*path, MPY_TESTS))
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=TESTS.parent)
    if proc.returncode != 0:
        pytest.fail(f"{interpreter} {Path(script).name} exited {proc.returncode}:\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


# The firmware-side suites run on the unix port, on CPython, and on the QEMU board (a 32-bit
# Cortex-M MicroPython with the firmware frozen: boards/qemu, upurse.qemu)
FIRMWARE_INTERPRETERS = (*INTERPRETERS, "qemu")


@pytest.fixture(params=FIRMWARE_INTERPRETERS)
def interpreter(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def compiled_common(tmp_path_factory) -> Path:
    """firmware/common as mpy-cross bytecode: from source, p256 + cvc + crl outgrow 64k."""
    out = tmp_path_factory.mktemp("mpy")
    compile_packages(out, ("common",))
    return out


def pytest_collection_modifyitems(items) -> None:
    """The QEMU board's runs first: they are the longest, so both workers start on them and
    the quick tests fill in at the end instead of one long run finishing last."""
    items.sort(key=lambda item: "qemu" not in item.name)


@pytest.fixture(scope="session")
def natmod_x64() -> Path:
    """The folder of p256_native.mpy built for x64 (unix MicroPython loads it)."""
    return natmod.build("x64").parent


@pytest.fixture(scope="session")
def natmod_qemu() -> Path:
    """The folder of p256_native.mpy built for the QEMU board's arch (boards/qemu/board.py)."""
    return natmod.build(natmod.board_arch(TESTS.parent / "boards" / "qemu" / "board.py")).parent

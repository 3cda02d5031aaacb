"""Emulated boards and the board descriptions: mpremote deploys a build to an emulated board
over its console pty, the board reboots into it and serves APDUs through the simulated field;
the console interrupts and soft-resets as a MicroPython board's does; no pin numbers outside
boards/; each board's manifest names files that exist."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from upurse.flash import deploy
from upurse.port import FIRMWARE
from upurse.rig.emuboard import EmulatedBoard
from upurse.rig.field import Field
from upurse.rig.sim import SimRig

ROOT = FIRMWARE.parent
SELECT = bytes.fromhex("00a4040008") + b"\xf0upurse\x01" + b"\x00"


def mpremote(port: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args],
                          capture_output=True, text=True, timeout=60)


def until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def reader(path: str):
    """The terminal's side, on CPython: the same driver, through the port."""
    from drivers.pn532 import Pn532
    from drivers.pn532_uart import Pn532Uart
    from drivers.tty import open_raw

    nfc = Pn532(Pn532Uart(open_raw(path)))
    assert nfc.begin() == (0x32, 1, 6, 7)
    return nfc


def test_mpremote_deploys_a_build_that_boots_and_serves_apdus(tmp_path: Path):
    flash = tmp_path / "flash"
    with Field() as field:
        a = field.add_reader("A")
        pn532 = field.add_card("card")
        field.place("card", "A")
        env = {"UPURSE_LINK": "pn532", "UPURSE_PN532": pn532}
        with EmulatedBoard("card", flash, env=env, log=tmp_path / "console.log") as board:
            assert board.boots == 1  # an empty flash: the REPL only
            names = deploy("card", "unix", board.port, out_root=tmp_path / "build")
            assert names == ["board.py", "card", "common", "drivers", "main.py",
                             "p256_native.mpy"]  # the board's NATMOD_ARCH build (x64)
            assert (flash / "card" / "applet.mpy").exists() and (flash / "main.py").exists()
            assert until(lambda: board.boots >= 3)  # mpremote's soft reset, then the reset
            nfc = reader(a)
            uid = nfc.list_target(10_000)  # the board booted main.py from its flash
            assert uid is not None and uid[0] == 0x08
            resp = nfc.transmit(SELECT)
            assert resp[-2:] == b"\x90\x00" and resp[:3] == b"\x94\x01\x00"  # a blank card
            nfc.release()
            assert (flash / "upurse-card").is_dir()  # its store, on its own flash

            # Ctrl-C stops main.py, the REPL answers, a soft reset comes back in the raw REPL
            boots = board.boots
            out = mpremote(board.port, "fs", "ls", "+", "exec",
                           "import board; print(board.LINK); from common import p256_group;"
                           " print('native', len(p256_group.NATIVE))")
            assert out.returncode == 0, out.stderr
            assert "native 1" in out.stdout  # the deployed native module loads
            assert "main.py" in out.stdout and "upurse-card/" in out.stdout
            assert "pn532" in out.stdout
            assert board.boots == boots + 1
            out = mpremote(board.port, "resume", "exec", "print(6 * 7)")
            assert out.stdout.strip() == "42" and board.boots == boots + 1
            # a reset boots main.py again: the card arms its PN532 anew
            chip = field.chip("card")
            mark = len(chip.received)
            mpremote(board.port, "resume", "exec", "--no-follow",
                     "import machine; machine.soft_reset()")
            assert field.wait(lambda: SimRig._armed_since(chip, mark), 10)
            assert nfc.list_target(5000) is not None
            assert nfc.transmit(SELECT)[-2:] == b"\x90\x00"
    log = (tmp_path / "console.log").read_bytes()
    assert b"MPY: soft reboot" in log and b"KeyboardInterrupt" in log


def test_no_pin_numbers_outside_boards():
    pattern = re.compile(r"Pin\(\d")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in sorted(FIRMWARE.rglob("*.py"))
             for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []
    assert pattern.search((ROOT / "boards" / "esp32" / "board.py").read_text()) is None  # numbers
    # live in the descriptions as data, and drivers/wiring.py builds Pin objects from them


def load_board(name: str) -> dict:
    scope: dict = {}
    exec(compile((ROOT / "boards" / name / "board.py").read_text(), name, "exec"), scope)
    return scope


@pytest.mark.parametrize("name", ["esp32", "rp2040", "unix"])
def test_board_describes_both_roles(name: str):
    b = load_board(name)
    assert b["NAME"] == name
    assert b["LINK"] in ("pn532", "wired")
    assert isinstance(b["AES_BACKEND"], str)
    teeth = b["P256_FIXED_BASE_TABLE"]  # teeth of the comb kept from boot; 0: none
    assert isinstance(teeth, int) and teeth in (0, 1, 2, 4, 8, 16, 32, 64)
    descs = [b["CARD_PN532"], b["READERS"]["A"], b["READERS"]["B"]]
    if name == "unix":
        assert all(d["bus"] == "pty" for d in descs)
        return
    for d in descs:
        assert d["bus"] == "uart" and d["baud"] == 115200  # the PN532's HSU speed
        assert {"id", "tx", "rx"} <= set(d)
    a, bb = b["READERS"]["A"], b["READERS"]["B"]
    assert a["id"] != bb["id"] and {a["tx"], a["rx"]}.isdisjoint({bb["tx"], bb["rx"]})
    assert b["STORAGE"].startswith("/") and b["TERMINAL_STORAGE"].startswith("/")


@pytest.mark.parametrize("name", ["esp32", "rp2040", "unix"])
@pytest.mark.parametrize("role", ["card", "terminal"])
def test_manifest_freezes_the_role_and_the_board(name: str, role: str):
    """Run the manifest with the functions MicroPython's manifestfile.py gives it."""
    frozen: list[Path] = []

    class Options:
        def __init__(self, **kw):
            self.__dict__.update(kw)

        def defaults(self, **kw):
            for k, v in kw.items():
                self.__dict__.setdefault(k, v)

    def run(path: Path, options: Options) -> None:
        def include(manifest: str, **kw):
            if manifest.startswith("$(PORT_DIR)"):
                return  # the port's own manifest, in the MicroPython tree
            run((path.parent / manifest).resolve(), Options(**kw))

        def package(name: str, base_path: str = ".", opt=None):
            folder = (path.parent / base_path / name).resolve()
            assert folder.is_dir(), folder
            frozen.extend(folder.rglob("*.py"))

        def module(name: str, base_path: str = ".", opt=None):
            file = (path.parent / base_path / name).resolve()
            assert file.is_file(), file
            frozen.append(file)

        scope = {"include": include, "package": package, "module": module, "options": options}
        exec(compile(path.read_text(), str(path), "exec"), scope)

    run(ROOT / "boards" / name / "manifest.py", Options(role=role))
    names = {str(p.relative_to(ROOT)) for p in frozen}
    assert f"boards/{name}/board.py" in names
    assert f"firmware/{role}/main.py" in names and "firmware/drivers/pn532.py" in names
    other = "terminal" if role == "card" else "card"
    assert not any(n.startswith(f"firmware/{other}/") for n in names)

"""The QEMU board itself (boards/qemu, docs/boards.md): its flash keeps what was written across
reboots and power cuts, os.urandom follows the boot's seed, the CMSDK UART driver carries bytes
both ways on a real pty, and a board without its SDK is named in one line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import serial

from upurse import qemu

SCRIPTS = {
    # counts up in /n, one atomic replace per step, until the power goes
    "count.py": b"""
import os
n = 0
while True:
    n += 1
    with open("/n.new", "w") as f:
        f.write(str(n) * 50)
    os.rename("/n.new", "/n")
    print("saved", n)
""",
    "read.py": b"""
import os
print("n", open("/n").read()[:12], "files", sorted(os.listdir("/")))
print("random", os.urandom(8).hex())
""",
    # echoes UART1 back, each byte plus one
    "echo.py": b"""
import select
from cmsdk_uart import UART
u = UART(1)
poll = select.poll()
poll.register(u, select.POLLIN)
buf = bytearray(16)
print("ready")
while True:
    poll.poll(1000)
    n = u.readinto(buf)
    u.write(bytes((b + 1) & 0xFF for b in buf[:n]))
""",
}


def _flash(tmp_path: Path) -> Path:
    image = tmp_path / "flash.img"
    qemu.blank_flash(image, qemu.BOARD_BLOCKS, {f"/{k}": v for k, v in SCRIPTS.items()})
    return image


def _boot(image: Path, script: str, seed: int = 1, **popen) -> list[str]:
    return qemu.argv({"seed": str(seed), "flash": str(image), "blocks": str(qemu.BOARD_BLOCKS)},
                     (f"/{script}",), **popen)


def test_flash_keeps_its_state_across_power_cuts(tmp_path: Path) -> None:
    image = _flash(tmp_path)
    board = subprocess.Popen(_boot(image, "count.py"), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE)
    saved = 0
    while saved < 40:  # let it save a while, then cut the power mid-write
        line = board.stdout.readline()
        assert line, "the board stopped"
        saved = int(line.split()[1])
    board.kill()
    board.wait()
    board.stdout.close()
    out = subprocess.run(_boot(image, "read.py"), capture_output=True, text=True,
                         timeout=60).stdout
    assert "'n'" in out and "'count.py'" in out, out  # the board boots and mounts it whole
    value = qemu.read_flash(image, qemu.BOARD_BLOCKS, "/")["/n"].decode()
    n = value[: len(value) // 50]
    assert value == n * 50 and int(n) >= saved, value  # the last whole record, never a mix


def test_urandom_follows_the_boot_seed(tmp_path: Path) -> None:
    image = _flash(tmp_path)

    def random(seed: int) -> str:
        qemu.blank_flash(image, qemu.BOARD_BLOCKS, {"/read.py": SCRIPTS["read.py"], "/n": b"0"})
        out = subprocess.run(_boot(image, "read.py", seed), capture_output=True, text=True,
                             timeout=60).stdout
        return out.split("random")[1].strip()

    assert random(7) == random(7) != random(8)


def test_uart_driver_carries_bytes_both_ways(tmp_path: Path) -> None:
    """UART1 is QEMU's second -serial, a pty QEMU makes and names first on its stdout."""
    image = _flash(tmp_path)
    board = subprocess.Popen(_boot(image, "echo.py", serials=("stdio", "pty")),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        pty = re.search(r"redirected to (\S+)", board.stdout.readline()).group(1)
        assert board.stdout.readline().strip() == "ready"
        with serial.Serial(pty, 115200, timeout=5) as link:
            sent = bytes(range(256)) * 2
            link.write(sent)
            got = link.read(len(sent))
        assert got == bytes((b + 1) & 0xFF for b in sent)
    finally:
        board.kill()
        board.wait()


def test_a_board_without_its_sdk_is_named_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("IDF_PATH", "PICO_SDK_PATH")}
    for board, sdk in (("esp32", "ESP-IDF"), ("rp2040", "pico-sdk")):
        proc = subprocess.run([sys.executable, "-m", "upurse.mpbuild", "image", "--board",
                               board], capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 1
        assert proc.stderr.count("\n") == 1 and sdk in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr

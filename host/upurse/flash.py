"""Deploy the firmware to a board with mpremote: `make flash-card PORT=... BOARD=...`.

    python -m upurse.flash card --board esp32 --port /dev/ttyUSB0 [--erase] [--link wired]
    python -m upurse.flash terminal --board rp2040 --port /dev/ttyACM0

Builds `build/<role>/<board>/` (upurse.build: .mpy files, board.py, main.py), removes the
firmware an earlier deploy left on the board's flash (never the card's or terminal's data),
copies the build to the flash root and resets the board, which then boots main.py. With
`--frozen` the firmware is already in the board's MicroPython build (boards/<board>/manifest.py)
and only a one-line main.py is copied.

MicroPython's unix port (board `unix`, an emulated board of the rig) has no machine.reset():
there the reset is machine.soft_reset(), which ends the process, and the rig starts it again
as a board reboots (host/upurse/rig/emuboard.py).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from upurse.build import ROLES, build

# Runs on the board before the copy: drop the firmware of an earlier deploy, keep data.
CLEAN = """
import os
def rm(p):
    try:
        if os.stat(p)[0] & 0x4000:
            for n in os.listdir(p):
                rm(p + '/' + n)
            os.rmdir(p)
        else:
            os.remove(p)
    except OSError:
        pass
for p in {paths!r}:
    rm(p)
"""
# The card's data folder, per board: removed only by --erase
CARD_STORE = {"esp32": "/upurse-card", "rp2040": "/upurse-card", "unix": "upurse-card"}
TERMINAL_STORE = {"esp32": "/upurse-terminal", "rp2040": "/upurse-terminal",
                  "unix": "upurse-terminal"}
LINK_FILE = {"esp32": "/upurse-link", "rp2040": "/upurse-link"}


class FlashError(RuntimeError):
    pass


def mpremote(port: str, *commands: str, timeout: float = 120.0) -> str:
    """Run `mpremote connect PORT COMMANDS...`; its output, or FlashError."""
    argv = [sys.executable, "-m", "mpremote", "connect", port, *commands]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FlashError(f"mpremote timed out: {' '.join(commands)[:80]}") from None
    if proc.returncode != 0:
        raise FlashError(f"mpremote failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout


def flash_root(board: str) -> str:
    """mpremote's name of the flash root: '/' on a board, the working folder on unix."""
    return ":." if board == "unix" else ":/"


def reset_commands(board: str) -> list[str]:
    if board == "unix":
        return ["exec", "--no-follow", "import machine; machine.soft_reset()"]
    return ["reset"]


def deploy(role: str, board: str, port: str, *, frozen: bool = False, erase: bool = False,
           link: str | None = None, out_root: Path | None = None) -> list[str]:
    """Put the firmware of `role` on the board at `port` and reset it; the names copied."""
    if frozen:
        src = Path(tempfile.mkdtemp(prefix="upurse-flash-"))
        (src / "main.py").write_text(f"import {role}.main  # frozen: boards/{board}/manifest.py\n")
    else:
        src = build(role, board, out_root) if out_root else build(role, board)
    names = sorted(p.name for p in src.iterdir())
    old = ["common", "card", "terminal", "drivers", "main.py", "board.py", "board.mpy"]
    if erase:
        old.append(CARD_STORE.get(board, "/upurse-card") if role == "card"
                   else TERMINAL_STORE.get(board, "/upurse-terminal"))
    mpremote(port, "exec", CLEAN.format(paths=sorted(set(old))))
    if link is not None:
        path = LINK_FILE.get(board)
        if path is None:
            raise FlashError(f"board {board} chooses its link by environment (UPURSE_LINK)")
        code = (f"open({path!r}, 'w').write({link!r})" if link == "wired"
                else f"import os\ntry:\n    os.remove({path!r})\nexcept OSError:\n    pass")
        mpremote(port, "resume", "exec", code)
    copy = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "resume",
                           "fs", "cp", "-r", *names, flash_root(board)],
                          cwd=src, capture_output=True, text=True, timeout=300)
    if copy.returncode != 0:
        raise FlashError(f"copy failed: {copy.stderr.strip()[-500:]}")
    mpremote(port, "resume", *reset_commands(board))
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m upurse.flash", description=__doc__.splitlines()[0])
    p.add_argument("role", choices=sorted(ROLES))
    p.add_argument("--board", required=True, help="boards/<name>: esp32, rp2040, unix")
    p.add_argument("--port", required=True, help="the board's USB serial port")
    p.add_argument("--frozen", action="store_true",
                   help="the firmware is frozen into the board's MicroPython: copy main.py only")
    p.add_argument("--erase", action="store_true",
                   help="also remove the card's (or terminal's) data: a blank card again")
    p.add_argument("--link", choices=("pn532", "wired"),
                   help="card: serve APDUs from the PN532 (default) or wired on the console")
    args = p.parse_args(argv)
    try:
        names = deploy(args.role, args.board, args.port, frozen=args.frozen, erase=args.erase,
                       link=args.link)
    except (FlashError, ValueError) as e:
        print(f"flash: error: {e}", file=sys.stderr)
        return 1
    print(f"{args.role} firmware for {args.board} on {args.port}: {', '.join(names)}; reset")
    return 0


if __name__ == "__main__":
    sys.exit(main())

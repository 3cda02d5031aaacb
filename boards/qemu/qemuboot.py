"""Boot of the QEMU board (frozen; port/main.c runs it first): the boot's arguments, the flash.

QEMU passes the arguments by semihosting (`-semihosting-config arg=...`), `key=value` options
first, then an optional script and its arguments:

    heap=65536           the MicroPython heap (port/main.c reads it before this runs)
    seed=N               seed for os.urandom (the host draws one per boot)
    flash=PATH blocks=N  the flash chip's host file and its size in blocks
    block=N              the erase block (default 4096, as the board's flash)
    link=wired|pn532     card: APDUs on the console, or from the PN532 on UART1
    path=A:B             folders searched after the frozen firmware (a script's helpers)
    lib=A:B              folders searched before it (firmware as .mpy files on the flash)
    SCRIPT ARGS...       run SCRIPT (sys.argv as given), then exit with its status

Without a script the board runs /main.py from the flash, as a real board does.
"""
import os
import sys

import qemu_board

OPTIONS = {}  # the key=value arguments, for board.py (link)
FLASH = None  # the flash chip, once mounted (its program and erase counts, for the bench)


def _boot():
    global FLASH
    args = qemu_board.cmdline().split()
    while args and "=" in args[0] and not args[0].startswith("/"):
        key, _, value = args.pop(0).partition("=")
        OPTIONS[key] = value
    qemu_board.seed(int(OPTIONS.get("seed", "1")))
    if "flash" in OPTIONS:
        from flash import BLOCK_SIZE, PROG_SIZE, Flash

        FLASH = dev = Flash(OPTIONS["flash"], int(OPTIONS["blocks"]),
                            int(OPTIONS.get("block", BLOCK_SIZE)))
        try:
            fs = os.VfsLfs2(dev, progsize=PROG_SIZE)
        except OSError:  # a blank chip: format it, as a board does on first boot
            os.VfsLfs2.mkfs(dev, progsize=PROG_SIZE)
            fs = os.VfsLfs2(dev, progsize=PROG_SIZE)
        os.mount(fs, "/")
    sys.path[:] = [p for p in OPTIONS.get("lib", "").split(":") if p] + [".frozen"] + \
        [p for p in OPTIONS.get("path", "").split(":") if p]
    if args:
        script = args[0]
        sys.path.append(script[:script.rfind("/")] or "/")
        sys.argv[:] = args


_boot()

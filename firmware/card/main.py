"""Card firmware entry point: serve APDUs to the applet forever.

Reads the board description (`board.py`) at boot: where the store lives and which link to use.
`wired` frames APDUs as text lines on stdin/stdout (see common.wire); `pn532` serves them from a
PN532 in card-emulation mode.
"""
import gc
import sys

import board
from card.applet import Applet
from card.store import Store
from common.wire import COMMAND, RESPONSE, frame, unframe


def serve_wired(applet, stdin, stdout):
    while True:
        line = stdin.readline()
        if not line:
            return
        apdu = unframe(COMMAND, line)
        if apdu is not None:
            gc.collect()  # start each command on a tidy heap: cards have little of it
            stdout.write(frame(RESPONSE, applet.process(apdu)))
            if hasattr(stdout, "flush"):
                stdout.flush()


def main():
    if board.P256_FIXED_BASE_TABLE:  # teeth of the comb the board can afford to keep
        from common import p256, p256_group

        if not p256_group.NATIVE:  # the native module's k*G needs no table
            p256.enable_fixed_base_table(board.P256_FIXED_BASE_TABLE)
    applet = Applet(Store(board.STORAGE))
    if board.LINK == "wired":
        serve_wired(applet, sys.stdin.buffer, sys.stdout.buffer)
    else:
        from card.target import serve_pn532

        serve_pn532(applet, board)


main()

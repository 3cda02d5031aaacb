"""Terminal firmware entry point: two PN532 readers, the host on the USB serial console.

Reads the board description (`board.py`) at boot: READERS["A"] and READERS["B"] (the seed's
read/write means 301A and 301B) and TERMINAL_STORAGE. Then serves JSON lines from the host on
stdin/stdout (terminal.service). Lines that are not JSON (a boot banner, a log line) are for
people; the host skips them.
"""
import sys

import board
from terminal.readers import Reader
from terminal.service import Service


def main():
    readers = {}
    for label in ("A", "B"):
        r = Reader(label, board.READERS[label])
        if not r.up():
            print("terminal: reader", label, "down:", r.error)
        readers[label] = r
    service = Service(readers, board.TERMINAL_STORAGE, board.NAME)
    stdin = getattr(sys.stdin, "buffer", sys.stdin)
    print("terminal: ready on", board.NAME)
    while True:
        line = stdin.readline()
        if not line:
            return  # the unix port: the host closed our stdin
        if isinstance(line, bytes):
            line = line.decode()
        service.serve(line, sys.stdout)


main()

"""The terminal's clearing batch (terminal/clearing.py) on a real file: appends, a record cut
short by a power cut, paging, dropping what the issuer collected.

    MICROPYPATH=tests/mpy:firmware micropython tests/mpy/clearing_batch.py /tmp/x

Prints `OK clearing batch`.
"""
import os
import sys

from terminal.clearing import CREDIT, DEBIT, RECORD, Clearing, split


def rec(n):
    return bytes((n,)) * 65, bytes((0x80 | n,)) * 16


def main(root):
    os.mkdir(root)
    c = Clearing(root + "/terminal")
    assert c.count() == 0 and c.read(0, 16) == []
    for n in range(5):
        context, mac = rec(n)
        c.add(DEBIT if n % 2 else CREDIT, context, mac, n + 1)
    assert c.count() == 5
    with open(c.path, "ab") as f:  # a power cut in the middle of the next append
        f.write(b"\x01" * 30)
    assert c.count() == 5
    context, mac = rec(5)
    c.add(DEBIT, context, mac, 6)  # drops the half record first
    assert c.count() == 6
    got = c.read(0, 4) + c.read(4, 4)
    assert [split(r)[3] for r in got] == [1, 2, 3, 4, 5, 6], got
    kind, context, mac, key_id = split(got[5])
    assert (kind, bytes(context), bytes(mac), key_id) == (DEBIT, rec(5)[0], rec(5)[1], 6)
    assert all(len(r) == RECORD for r in got)
    c.drop(4)  # the issuer holds the first four
    assert [split(r)[3] for r in c.read(0, 16)] == [5, 6]
    c.drop(99)
    assert c.count() == 0
    c.drop(1)  # nothing left: nothing to do
    print("OK clearing batch")


main(sys.argv[1])

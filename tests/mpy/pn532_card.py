"""A card board for the rig tests: emulates an ISO 14443-4 card on a (simulated) PN532.

    micropython pn532_card.py PTY|cmsdk:N UID3_HEX SECONDS [CHUNK]

UID3_HEX "random" arms with fresh random UID bytes each time, as the card firmware does.

Answers each command APDU: INS B0 -> P1P2 bytes counting up + 9000 (a long response),
INS EE -> 9000 and exit, anything else -> the APDU echoed + 9000. Re-arms after every
release. Prints one line per event (ARMED, ACTIVATED rats, APDU n, RELEASED) and ends with
`OK card served N apdus in A activations` when the reader says EE or SECONDS run out.
"""
import os
import sys
from binascii import hexlify, unhexlify
from time import ticks_diff, ticks_ms

from pn532_link import link

from drivers.pn532 import RELEASED, Pn532, Pn532Error


def say(*words):
    print(*words)
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


def answer(apdu):
    if len(apdu) >= 4 and apdu[1] == 0xB0:
        n = apdu[2] << 8 | apdu[3]
        return bytes(i & 0xFF for i in range(n)) + b"\x90\x00"
    return bytes(apdu) + b"\x90\x00"


def main():
    path, uid3, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    nfc = Pn532(link(path))
    if len(sys.argv) > 4:
        nfc.chunk = int(sys.argv[4])
    ic, ver, rev, support = nfc.begin()
    say("FW", hex(ic), ver, rev, support)
    start = ticks_ms()
    served = activations = 0
    while ticks_diff(ticks_ms(), start) < seconds * 1000:
        say("ARMED")
        uid = os.urandom(3) if uid3 == "random" else unhexlify(uid3)
        if not nfc.init_as_target(uid, 500):
            continue
        activations += 1
        say("ACTIVATED", hexlify(nfc.initiator_command).decode())
        while True:
            try:
                apdu = nfc.get_data()
                if len(apdu) >= 2 and apdu[1] == 0xEE:
                    nfc.set_data(b"\x90\x00")
                    say("OK card served", served, "apdus in", activations, "activations")
                    return
                nfc.set_data(answer(apdu))
            except Pn532Error as e:
                if e.code != RELEASED:
                    raise
                say("RELEASED")
                break
            served += 1
            say("APDU", served, len(apdu))
    say("OK card served", served, "apdus in", activations, "activations")


main()

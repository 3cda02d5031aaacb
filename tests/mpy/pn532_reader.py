"""A terminal board's reader for the rig tests, on a (simulated) PN532.

    micropython pn532_reader.py PTY|cmsdk:N SCENARIO [CHUNK]

SCENARIO `echo`: list the card, send a short APDU, a 250-byte APDU and ask for a 300-byte
response (both checked byte for byte), then EE (the card exits).
SCENARIO `removal`: send APDUs until one fails (the test takes the card away), then list the
card again (the test puts it back) and finish as `echo` does.
Prints `OK reader ...` or FAIL / a traceback (exit 1).
"""
import sys
from binascii import hexlify

from pn532_link import link

from drivers.pn532 import TIMEOUT, Pn532, Pn532Error


def say(*words):
    print(*words)
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


def fail(what):
    say("FAIL", what)
    sys.exit(1)


def expect(nfc, apdu, want):
    got = nfc.transmit(apdu)
    if got != want:
        fail(f"{hexlify(apdu[:8]).decode()} -> {hexlify(got[:8]).decode()}")


def listed(nfc, seconds):
    uid = nfc.list_target(seconds * 1000)
    if uid is None:
        fail(f"no card in {seconds} s")
    say("UID", hexlify(uid).decode(), "ATS", hexlify(nfc.ats).decode())
    return uid


def exchanges(nfc):
    expect(nfc, b"\x00\xa4\x04\x00\x02\x3f\x00", b"\x00\xa4\x04\x00\x02\x3f\x00\x90\x00")
    apdu = b"\x80\x10\x00\x00\xf5" + bytes(i & 0xFF for i in range(245))
    expect(nfc, apdu, apdu + b"\x90\x00")  # 250 bytes out, 252 back
    want = bytes(i & 0xFF for i in range(300)) + b"\x90\x00"
    expect(nfc, b"\x00\xb0\x01\x2c", want)  # 302 bytes back
    return 3


def main():
    path, scenario = sys.argv[1], sys.argv[2]
    nfc = Pn532(link(path))
    if len(sys.argv) > 3:
        nfc.chunk = int(sys.argv[3])
    fw = nfc.begin()
    say("FW", hexlify(bytes(fw)).decode())
    listed(nfc, 10)
    done = 0
    if scenario == "removal":
        lost = 0
        try:
            while done < 50:
                expect(nfc, b"\x00\x01\x02\x03", b"\x00\x01\x02\x03\x90\x00")
                done += 1
        except Pn532Error as e:
            if e.code != TIMEOUT:
                raise
            lost = done
            say("LOST after", done, str(e))
        if not lost:
            fail("card never went away")
        try:
            nfc.transmit(b"\x00\x01\x02\x03")
            fail("card answered though gone")
        except Pn532Error as e:
            if e.code != TIMEOUT:
                raise
        listed(nfc, 10)
        done += exchanges(nfc)
        say("OK reader removal lost after", lost, "then", done, "apdus")
    else:
        done += exchanges(nfc)
        say("OK reader echo", done, "apdus")
    nfc.transmit(b"\x80\xee\x00\x00")
    nfc.release()


main()

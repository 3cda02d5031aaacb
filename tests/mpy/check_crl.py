"""Verify CRLs with common.crl and compare each outcome with the expected one.

    micropython check_crl.py INDEX BLOB CA_PUBLIC_KEY_HEX

INDEX has one list a line, `name expect car sequence listed unlisted crl`: expect is `ok` or the
reason CertificateError must give (spaces written `_`), car the CA reference to require (`-`:
none), sequence the number an accepted list must carry (`-`: refused); listed, unlisted and crl
are byte counts read from BLOB in that order: identities the list must hold (ascending),
identities it must not hold, and the CRL itself.

As a terminal would, this reads every list into one buffer allocated at start: once P-256 has
run, a 64k heap is too fragmented for a fresh allocation of a few kB.
Prints `OK crl n cases (a accepted, r refused, k identities looked up)` or FAIL lines, exit 1.
"""
import sys
from binascii import unhexlify

from outcomes import Tally, refusal

from common import crl
from common.cvc import CertificateError
from common.proto import CARD_ID_LEN

_BUF = bytearray(8192)  # identities to look up, then the CRL
_MV = memoryview(_BUF)


def _each(ids):
    for i in range(0, len(ids), CARD_ID_LEN):
        yield bytes(ids[i : i + CARD_ID_LEN])


def _check(ca, expect, car, sequence, listed, unlisted, data):
    """(problem or None, identities looked up)."""
    try:
        got_sequence, revoked = crl.verify(data, ca, car)
    except CertificateError as e:
        return refusal(e, expect), 0
    if expect != "ok":
        return "accepted", 0
    if got_sequence != int(sequence):
        return "sequence " + str(got_sequence), 0
    if len(revoked) != len(listed) // CARD_ID_LEN:
        return "revoked count " + str(len(revoked)), 0
    held = iter(revoked)
    for want in _each(listed):  # listed comes sorted
        if next(held) != want:
            return "revoked list differs at " + want.hex(), 0
    for i in _each(listed):
        if i not in revoked:
            return "missing " + i.hex(), 0
    for i in _each(unlisted):
        if i in revoked:
            return "wrongly listed " + i.hex(), 0
    if b"short" in revoked:
        return "a short identity matched", 0
    return None, (len(listed) + len(unlisted)) // CARD_ID_LEN


def main(index, blob, ca_hex):
    ca = unhexlify(ca_hex)
    tally = Tally()
    lookups = 0
    with open(index) as f, open(blob, "rb") as b:
        for line in f:
            name, expect, car, sequence, n_listed, n_unlisted, n_crl = line.split()
            car = None if car == "-" else car.encode()
            end_listed = int(n_listed)
            end_unlisted = end_listed + int(n_unlisted)
            end = end_unlisted + int(n_crl)
            if b.readinto(_MV[:end]) != end:
                print("FAIL", name, "blob too short")
                sys.exit(1)
            problem, n = _check(ca, expect, car, sequence, _MV[:end_listed],
                                _MV[end_listed:end_unlisted], _MV[end_unlisted:end])
            lookups += n
            tally.add(name, expect, problem)
    tally.done()
    print(f"OK crl {tally.accepted + tally.refused} cases ({tally.accepted} accepted, "
          f"{tally.refused} refused, {lookups} identities looked up)")


main(sys.argv[1], sys.argv[2], sys.argv[3])

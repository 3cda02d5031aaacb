"""Verify CV certificates with common.cvc and compare each outcome with the expected one.

    micropython check_cvc.py CASES CA_PUBLIC_KEY_HEX

CASES has one certificate a line, `name expect date car card_id cert`: expect is `ok` or the
reason CertificateError must give (spaces written `_`), date YYYYMMDD, car the CA reference to
require (`-`: none), card_id the identity an accepted certificate must carry (`-` when refused).
The host test (tests/test_cvc.py) writes the file; this side reads it one line at a time.
Prints `OK cvc n cases (a accepted, r refused)` or FAIL lines, exit 1.
"""
import sys
from binascii import unhexlify

from outcomes import Tally, refusal

from common import cvc


def _check(ca, expect, date, car, card_id, data):
    """None when the outcome is the expected one, else what happened instead."""
    try:
        cert = cvc.verify(data, ca, date, car)
    except cvc.CertificateError as e:
        return refusal(e, expect)
    if expect != "ok":
        return "accepted"
    if cert.card_id != card_id or cvc.holder(cert.card_id) != cert.chr:
        return "card identity " + cert.card_id.hex()
    if cvc.parse(data).public_key != cert.public_key:
        return "public key differs between parse and verify"
    return None


def main(path, ca_hex):
    ca = unhexlify(ca_hex)
    tally = Tally()
    with open(path) as f:
        for line in f:
            name, expect, date, car, card_id, cert = line.split()
            car = None if car == "-" else car.encode()
            card_id = None if card_id == "-" else unhexlify(card_id)
            tally.add(name, expect, _check(ca, expect, int(date), car, card_id, unhexlify(cert)))
    tally.done()
    print(f"OK cvc {tally.accepted + tally.refused} cases ({tally.accepted} accepted, "
          f"{tally.refused} refused)")


main(sys.argv[1], sys.argv[2])

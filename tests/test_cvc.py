"""CV certificates: the host CA issues them, pycvc reads and verifies them, the firmware parser
accepts the good ones and refuses each bad one for the right reason, on MicroPython and CPython.

pycvc (GPL) is a test oracle only: imported here, never by upurse or the firmware.
"""
from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MPY_TESTS, run_firmware
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cvc import oid
from cvc.certificates import CVC
from cvc.ec_curves import SECP256R1, BrainpoolP256R1
from cvc.terminal import TypeST

from common import cvc, tlv  # noqa: I001 - firmware, on the path from conftest's install()
from common.proto import TAG_CV_BODY, TAG_CV_PUBLIC_KEY
from upurse.ca import CertificateAuthority, create_ca, issue_card_certificate

SCRIPT = MPY_TESTS / "check_cvc.py"
HEAP = "64k"  # the card's budget, with common/ as bytecode as on a board
CARD_ID = bytes.fromhex("00a1b2c3d4e5f601")
EFFECTIVE, EXPIRATION = 20250101, 20291231
TODAY = 20260615
CA_REFERENCE = b"ZZUPURSE00001"


def _point(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962,
                                         serialization.PublicFormat.UncompressedPoint)


def _days(start: int, end: int) -> int:
    def day(d: int) -> datetime.date:
        return datetime.date(d // 10000, d // 100 % 100, d % 100)
    return (day(end) - day(start)).days


class Pki:
    def __init__(self) -> None:
        self.ca = create_ca(20250101, 20341231)
        self.card_key = ec.generate_private_key(ec.SECP256R1())
        self.card_point = _point(self.card_key)
        self.cert = issue_card_certificate(self.ca, CARD_ID, self.card_point, EFFECTIVE,
                                           EXPIRATION)

    def body(self, **changes) -> bytes:
        """The card body with some `cvc.body` arguments changed."""
        args = dict(car=self.ca.reference, point=self.card_point, chr=cvc.holder(CARD_ID),
                    effective=EFFECTIVE, expiration=EXPIRATION)
        args.update(changes)
        return cvc.body(**args)

    def signed(self, body: bytes, ca: CertificateAuthority | None = None) -> bytes:
        return cvc.certificate(body, (ca or self.ca).sign(body))


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


# --- pycvc, the independent reader


def test_pycvc_encodes_the_same_body(pki):
    """pycvc builds the body from the same inputs byte for byte: card and CVCA."""
    card = CVC().body(pki.card_key.public_key(), oid.ID_TA_ECDSA_SHA_256, CA_REFERENCE,
                      cvc.holder(CARD_ID), TypeST(0, gen_sig=1), _days(EFFECTIVE, EXPIRATION),
                      "250101").encode()
    assert bytes(card) == bytes(cvc.parse(pki.cert).body)
    ca = CVC().body(pki.ca.key.public_key(), oid.ID_TA_ECDSA_SHA_256, CA_REFERENCE, CA_REFERENCE,
                    TypeST(3, gen_sig=1), _days(20250101, 20341231), "250101",
                    req=True).encode()  # req=True: pycvc's switch for explicit domain parameters
    assert bytes(ca) == bytes(cvc.parse(pki.ca.certificate).body)


def test_pycvc_verifies_our_certificates(pki):
    card = CVC().decode(pki.cert)
    assert bytes(card.car()) == CA_REFERENCE
    assert bytes(card.chr()) == b"00A1B2C3D4E5F601"
    assert bytes(card.pubkey().find(0x86).data()) == pki.card_point
    assert bytes(card.valid()) == bytes([2, 5, 0, 1, 0, 1])
    assert bytes(card.expires()) == bytes([2, 9, 1, 2, 3, 1])
    assert card.role().role_str() == "Terminal"
    assert CVC().decode(pki.cert).verify(dica=pki.ca.certificate, curve=ec.SECP256R1())
    # The CVCA certificate verifies under its own key, on the domain parameters it carries.
    assert CVC().decode(pki.ca.certificate).verify()
    assert CVC().decode(pki.ca.certificate).role().role_str() == "CA"
    # ... and pycvc is no rubber stamp: another CA, or one flipped bit, fails.
    other = create_ca(20250101, 20341231)
    assert not CVC().decode(pki.cert).verify(dica=other.certificate, curve=ec.SECP256R1())
    bad = bytearray(pki.cert)
    bad[-1] ^= 1
    assert not CVC().decode(bytes(bad)).verify(dica=pki.ca.certificate, curve=ec.SECP256R1())


def test_cryptography_verifies_the_signature(pki):
    """r || s over SHA-256 of the whole 7F4E TLV, checked with `cryptography` directly."""
    cert = cvc.parse(pki.cert)
    sig = cert.signature
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    pki.ca.key.public_key().verify(der, bytes(cert.body), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        pki.ca.key.public_key().verify(der, bytes(cert.body) + b"\x00", ec.ECDSA(hashes.SHA256()))


def test_cvc_print(pki, tmp_path):
    """pycvc's cvc-print reads the card certificate and checks it up to the CVCA."""
    (tmp_path / CA_REFERENCE.decode()).write_bytes(pki.ca.certificate)  # looked up by CAR
    path = tmp_path / "card.cvcert"
    path.write_bytes(pki.cert)
    tool = Path(sys.executable).with_name("cvc-print")
    out = subprocess.run([str(tool), "-d", str(tmp_path), str(path)], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    print(out)
    for line in ("Profile Identifier: 00", "CAR: ZZUPURSE00001", "Scheme: ECDSA_SHA_256",
                 f"Public Point: {pki.card_point.hex()}", "CHR: 00A1B2C3D4E5F601",
                 "CHAT: TypeST", "Role:  Terminal", "Fields: gen_sig", "Since:   2025-01-01",
                 "Expires: 2029-12-31", "Inner signature is VALID", "Certificate VALID"):
        assert line in out
    path.write_bytes(pki.signed(pki.body(), create_ca(20250101, 20341231)))
    out = subprocess.run([str(tool), "-d", str(tmp_path), str(path)], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert "Inner signature is NOT VALID" in out and "Certificate NOT VALID" in out


# --- the host side and the card identity mapping


def test_card_identity_and_chr_map_both_ways():
    assert cvc.holder(bytes(range(1, 9))) == b"0102030405060708"
    assert cvc.card_id(b"00A1B2C3D4E5F601") == CARD_ID
    for chr in (b"00a1b2c3d4e5f601", b"00A1B2C3D4E5F6", b"ZZUPURSE00001", b"00A1B2C3D4E5F60G"):
        with pytest.raises(cvc.CertificateError, match="holder"):
            cvc.card_id(chr)
    with pytest.raises(ValueError):
        cvc.holder(b"\x01" * 7)


def test_dates_are_unpacked_bcd():
    assert cvc.bcd_date(20291231) == bytes([2, 9, 1, 2, 3, 1])
    assert cvc.parse_date(bytes([2, 9, 1, 2, 3, 1])) == 20291231
    for bad in (bytes([2, 9, 1, 3, 0, 1]), bytes([2, 9, 0, 0, 0, 1]), bytes([2, 10, 1, 2, 3, 1]),
                bytes(5)):
        with pytest.raises(cvc.CertificateError, match="malformed"):
            cvc.parse_date(bad)
    for bad in (19991231, 21000101, 20251301):
        with pytest.raises(ValueError):
            cvc.bcd_date(bad)


def test_parse_fields(pki):
    cert = cvc.parse(pki.cert)
    assert (cert.car, cert.chr, cert.card_id) == (CA_REFERENCE, b"00A1B2C3D4E5F601", CARD_ID)
    assert (cert.public_key, cert.effective, cert.expiration) == (pki.card_point, EFFECTIVE,
                                                                  EXPIRATION)
    assert cert.chat == cvc.CHAT_CARD and len(cert.signature) == 64
    assert len(pki.cert) <= 261 - 6, "a card certificate fits one short APDU"
    ca = cvc.parse(pki.ca.certificate)
    assert ca.car == ca.chr == CA_REFERENCE and ca.card_id is None and ca.chat == cvc.CHAT_CA


def test_ca_refuses_to_certify_a_bad_point(pki):
    off_curve = pki.card_point[:-1] + bytes([pki.card_point[-1] ^ 1])
    compressed = pki.card_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    for point in (off_curve, compressed, b"\x00"):
        with pytest.raises(ValueError):
            issue_card_certificate(pki.ca, CARD_ID, point, EFFECTIVE, EXPIRATION)
    with pytest.raises(ValueError):
        issue_card_certificate(pki.ca, CARD_ID, pki.card_point, EXPIRATION, EFFECTIVE)


def test_ca_key_round_trip(pki):
    again = CertificateAuthority.load(pki.ca.private_pem(b"pw"), pki.ca.certificate, b"pw")
    assert again.public_key == pki.ca.public_key and again.reference == CA_REFERENCE
    other = create_ca(20250101, 20341231)
    with pytest.raises(ValueError, match="another key"):
        CertificateAuthority.load(other.private_pem(), pki.ca.certificate)


# --- the firmware verifier, on both interpreters


def _key_tlv(point: bytes, domain: list[tuple[int, bytes]], oid_value=cvc.ECDSA_SHA256) -> bytes:
    """A 7F49 TLV with explicit `domain` parameters (tag, value) around the point."""
    before = b"".join(tlv.encode(t, v) for t, v in domain if t < 0x86)
    after = b"".join(tlv.encode(t, v) for t, v in domain if t > 0x86)
    return tlv.encode(TAG_CV_PUBLIC_KEY, tlv.encode(0x06, oid_value) + before
                      + tlv.encode(0x86, point) + after)


def _curve(curve) -> list[tuple[int, bytes]]:
    return [(0x81, bytes(curve.P)), (0x82, bytes(curve.A)), (0x83, bytes(curve.B)),
            (0x84, bytes(curve.G)), (0x85, bytes(curve.O)), (0x87, bytes(curve.F))]


def _rebody(body: bytes, old: bytes, new: bytes) -> bytes:
    """`body` with one field replaced and its 7F4E length fixed."""
    value = list(tlv.items(body))[0][1]
    assert bytes(value).count(old) == 1
    return tlv.encode(TAG_CV_BODY, bytes(value).replace(old, new))


def _flip(data: bytes, at: int, mask: int = 1) -> bytes:
    out = bytearray(data)
    out[at] ^= mask
    return bytes(out)


def _cases(pki: Pki) -> list[tuple[str, str, int, bytes | None, bytes | None, bytes]]:
    """(name, expect, date, car, card_id, cert) for check_cvc.py."""
    cert, ref, ok = pki.cert, CA_REFERENCE, "ok"
    point = pki.card_point
    off_curve = point[:-1] + bytes([point[-1] ^ 1])
    compressed = pki.card_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    p256 = _curve(SECP256R1)
    b_changed = [(t, _flip(v, 31) if t == 0x83 else v) for t, v in p256]
    cofactor_2 = [(t, b"\x02" if t == 0x87 else v) for t, v in p256]
    chr_at = cert.index(cvc.holder(CARD_ID))
    sig_at = len(cert) - 64
    pycvc_cert = bytes(CVC().cert(
        pki.card_key.public_key(), oid.ID_TA_ECDSA_SHA_256, pki.ca.key, oid.ID_TA_ECDSA_SHA_256,
        ref, cvc.holder(CARD_ID), TypeST(0, gen_sig=1), _days(EFFECTIVE, EXPIRATION),
        "250101").encode())
    body = pki.body()
    mid = pki.signed(pki.body(effective=20250610, expiration=20280615))  # day +-1 stays a date
    return [
        ("good", ok, TODAY, ref, CARD_ID, cert),
        ("good-first-day", ok, EFFECTIVE, ref, CARD_ID, cert),
        ("good-last-day", ok, EXPIRATION, ref, CARD_ID, cert),
        ("good-any-car", ok, TODAY, None, CARD_ID, cert),
        ("good-explicit-p256", ok, TODAY, ref, CARD_ID, pki.signed(pki.body(domain=True))),
        ("good-made-by-pycvc", ok, TODAY, ref, CARD_ID, pycvc_cert),
        ("expired", "expired", 20300101, ref, None, cert),
        ("not-yet-valid", "not yet valid", 20241231, ref, None, cert),
        ("good-mid-month-first-day", ok, 20250610, ref, CARD_ID, mid),
        ("good-mid-month-last-day", ok, 20280615, ref, CARD_ID, mid),
        ("expired-yesterday", "expired", 20280616, ref, None, mid),
        ("valid-tomorrow", "not yet valid", 20250609, ref, None, mid),
        ("other-ca", "signature", TODAY, ref, None,
         pki.signed(body, create_ca(20250101, 20341231))),
        ("other-ca-reference", "authority", TODAY, ref, None,
         issue_card_certificate(create_ca(20250101, 20341231, b"ZZUPURSE00002"), CARD_ID,
                                point, EFFECTIVE, EXPIRATION)),
        ("tampered-chr", "signature", TODAY, ref, None, _flip(cert, chr_at)),  # "0" -> "1"
        ("tampered-expiration", "signature", TODAY, ref, None, _flip(cert, sig_at - 4)),
        ("tampered-signature-r", "signature", TODAY, ref, None, _flip(cert, sig_at)),
        ("tampered-signature-s", "signature", TODAY, ref, None, _flip(cert, len(cert) - 1)),
        ("zero-signature", "signature", TODAY, ref, None, cvc.certificate(body, bytes(64))),
        ("explicit-brainpool", "domain parameters", TODAY, ref, None,
         pki.signed(pki.body(key=_key_tlv(point, _curve(BrainpoolP256R1))))),
        ("explicit-p256-b-changed", "domain parameters", TODAY, ref, None,
         pki.signed(pki.body(key=_key_tlv(point, b_changed)))),
        ("explicit-cofactor-2", "domain parameters", TODAY, ref, None,
         pki.signed(pki.body(key=_key_tlv(point, cofactor_2)))),
        ("explicit-prime-only-changed", "domain parameters", TODAY, ref, None,
         pki.signed(pki.body(key=_key_tlv(point, [(0x81, _flip(bytes(SECP256R1.P), 0))])))),
        ("point-off-curve", "public key", TODAY, ref, None,
         pki.signed(pki.body(point=off_curve))),
        ("point-compressed", "public key", TODAY, ref, None,
         pki.signed(pki.body(point=compressed))),
        ("point-infinity", "public key", TODAY, ref, None, pki.signed(pki.body(point=b"\x00"))),
        ("point-missing", "public key", TODAY, ref, None,
         pki.signed(pki.body(key=tlv.encode(TAG_CV_PUBLIC_KEY, tlv.encode(0x06, cvc.ECDSA_SHA256)))
                    )),
        ("algorithm-sha384", "algorithm", TODAY, ref, None,
         pki.signed(pki.body(key=_key_tlv(point, [], bytes(oid.ID_TA_ECDSA_SHA_384))))),
        ("profile-01", "profile", TODAY, ref, None,
         pki.signed(_rebody(body, b"\x5f\x29\x01\x00", b"\x5f\x29\x01\x01"))),
        ("ca-certificate", "role", TODAY, ref, None, pki.ca.certificate),
        ("lower-case-chr", "holder", TODAY, ref, None,
         pki.signed(pki.body(chr=cvc.holder(CARD_ID).lower()))),
        ("extension", "malformed", TODAY, ref, None,
         pki.signed(tlv.encode(TAG_CV_BODY, bytes(list(tlv.items(body))[0][1])
                               + tlv.encode(0x65, b"")))),
        ("params-after-point", "malformed", TODAY, ref, None,
         pki.signed(pki.body(key=tlv.encode(TAG_CV_PUBLIC_KEY, tlv.encode(0x06, cvc.ECDSA_SHA256)
                                            + tlv.encode(0x86, point) + tlv.encode(0x81, bytes(
                                                SECP256R1.P)))))),
        ("point-repeated", "malformed", TODAY, ref, None,
         pki.signed(pki.body(key=tlv.encode(TAG_CV_PUBLIC_KEY, tlv.encode(0x06, cvc.ECDSA_SHA256)
                                            + tlv.encode(0x86, point)
                                            + tlv.encode(0x86, _point(pki.ca.key)))))),
        ("date-not-bcd", "malformed", TODAY, ref, None,
         pki.signed(_rebody(body, b"\x5f\x25\x06\x02\x05", b"\x5f\x25\x06\x02\x0a"))),
        ("truncated-last-byte", "malformed", TODAY, ref, None, cert[:-1]),
        ("truncated-header", "malformed", TODAY, ref, None, cert[:3]),
        ("truncated-body", "malformed", TODAY, ref, None, cert[:100]),
        ("trailing-byte", "malformed", TODAY, ref, None, cert + b"\x00"),
        ("outer-length-long", "malformed", TODAY, ref, None, _flip(cert, 3, 0x10)),
        ("signature-63-bytes", "malformed", TODAY, ref, None,
         tlv.encode(0x7F21, body + tlv.encode(0x5F37, bytes(63)))),
        ("no-signature", "malformed", TODAY, ref, None, tlv.encode(0x7F21, body)),
        ("bare-body", "malformed", TODAY, ref, None, body),
    ]


def test_firmware_verifies_and_refuses(pki, interpreter, compiled_common, tmp_path):
    cases = _cases(pki)
    path = tmp_path / "cvc.txt"
    with path.open("w") as out:
        for name, expect, date, car, card_id, cert in cases:
            out.write(" ".join([name, expect.replace(" ", "_"), str(date),
                                car.decode() if car else "-", card_id.hex() if card_id else "-",
                                cert.hex()]) + "\n")
    output = run_firmware(interpreter, SCRIPT, str(path), pki.ca.public_key.hex(),
                          heap=HEAP, path=(compiled_common,))
    accepted = sum(c[1] == "ok" for c in cases)
    match = re.search(r"^OK cvc (\d+) cases \((\d+) accepted, (\d+) refused\)$", output, re.M)
    assert match, output
    assert (int(match[1]), int(match[2]), int(match[3])) == (len(cases), accepted,
                                                            len(cases) - accepted)

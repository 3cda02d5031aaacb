"""Revocation lists: the host CA issues them, the firmware verifies them and looks identities up
in place, on MicroPython and CPython; tampered lists and other CAs' lists are refused.
"""
from __future__ import annotations

import random
import re

import pytest
from conftest import MPY_TESTS, run_firmware
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from common import crl, cvc, tlv  # noqa: I001 - firmware, on the path from conftest's install()
from common.proto import (
    TAG_CRL_CONTENT,
    TAG_CRL_ISSUED,
    TAG_CRL_REVOKED,
    TAG_CRL_SEQUENCE,
    TAG_CV_CAR,
)
from upurse.ca import create_ca, issue_card_certificate, issue_crl

SCRIPT = MPY_TESTS / "check_crl.py"
HEAP = "96k"  # the terminal checks CRLs: its board budget, with common/ as bytecode
SEED = 0xC71
CA_REFERENCE = b"ZZUPURSE00001"
ISSUED = 20260301


@pytest.fixture(scope="module")
def ca():
    return create_ca(20250101, 20341231)


def _ids(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(8) for _ in range(n)]


def _near(ids: list[bytes]) -> list[bytes]:
    """Identities next to the listed ones (id - 1, id + 1) and the extremes: binary search edges."""
    near = {bytes(8), b"\xff" * 8}
    for i in ids:
        n = int.from_bytes(i, "big")
        near |= {((n - 1) % 2**64).to_bytes(8, "big"), ((n + 1) % 2**64).to_bytes(8, "big")}
    return sorted(near - set(ids))


def _content(car=CA_REFERENCE, sequence=b"\x00\x00\x00\x07", issued=b"\x02\x06\x00\x03\x00\x01",
             revoked=b"") -> bytes:
    """A BF41 content TLV from raw field values, for lists the issuer would never make."""
    return tlv.encode(TAG_CRL_CONTENT, tlv.encode(TAG_CV_CAR, car)
                      + tlv.encode(TAG_CRL_SEQUENCE, sequence)
                      + tlv.encode(TAG_CRL_ISSUED, issued) + tlv.encode(TAG_CRL_REVOKED, revoked))


def _resigned(ca, content: bytes) -> bytes:
    return crl.assemble(content, ca.sign(content))


def _keep_signature(good: bytes, content: bytes) -> bytes:
    """`content` under the signature of the `good` list: what a forger can do."""
    return crl.assemble(content, crl.parse(good).signature)


def test_issue_crl_sorts_and_signs(ca):
    rng = random.Random(SEED)
    ids = _ids(rng, 5)
    data = issue_crl(ca, 9, ids + ids[:2], ISSUED)  # repeats dropped
    parsed = crl.parse(data)
    assert (parsed.sequence, parsed.issued, parsed.car) == (9, ISSUED, CA_REFERENCE)
    assert list(parsed.revoked) == sorted(ids) and len(parsed.revoked) == 5
    assert all(i in parsed.revoked for i in ids) and bytes(8) not in parsed.revoked
    assert b"short" not in parsed.revoked
    # r || s over SHA-256 of the whole content TLV, checked with `cryptography` directly.
    sig = parsed.signature
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    ca.key.public_key().verify(der, bytes(parsed.content), ec.ECDSA(hashes.SHA256()))
    assert len(data) == 4 + len(parsed.content) + 3 + 64
    with pytest.raises(ValueError):
        issue_crl(ca, 1, [b"\x01" * 7], ISSUED)
    with pytest.raises(ValueError):
        issue_crl(ca, 2**32, [], ISSUED)


def _cases(ca) -> list[tuple[str, str, bytes | None, int | None, list[bytes], list[bytes], bytes]]:
    """(name, expect, car, sequence, listed, unlisted, crl) for check_crl.py."""
    rng = random.Random(SEED)
    ids = _ids(rng, 300)
    good = issue_crl(ca, 7, ids, ISSUED)
    few = sorted(ids[:3])
    ok, ref = "ok", CA_REFERENCE
    other = create_ca(20250101, 20341231)
    joined = b"".join(sorted(ids))
    unrevoked = joined[:8 * 100] + joined[8 * 101:]  # one card taken off the list
    return [
        ("good-300", ok, ref, 7, ids, _near(ids[:40]) + _ids(rng, 20), good),
        ("good-one", ok, ref, 1, ids[:1], _near(ids[:1]), issue_crl(ca, 1, ids[:1], ISSUED)),
        ("good-empty", ok, ref, 0, [], _ids(rng, 5), issue_crl(ca, 0, [], ISSUED)),
        ("good-any-car", ok, None, 7, ids, [], good),
        ("good-top-sequence", ok, ref, 0xFFFFFFFF, few, [],
         issue_crl(ca, 0xFFFFFFFF, few, ISSUED)),
        ("tampered-unrevoked", "signature", ref, None, [], [],
         _keep_signature(good, _content(sequence=b"\x00\x00\x00\x07", revoked=unrevoked))),
        ("tampered-sequence", "signature", ref, None, [], [],
         _keep_signature(good, _content(sequence=b"\x00\x00\x00\x08", revoked=joined))),
        ("tampered-date", "signature", ref, None, [], [],
         _keep_signature(good, _content(issued=b"\x02\x06\x00\x03\x00\x02", revoked=joined))),
        ("tampered-signature", "signature", ref, None, [], [],
         good[:-1] + bytes([good[-1] ^ 1])),
        ("other-ca", "signature", ref, None, [], [], issue_crl(other, 7, ids, ISSUED)),
        ("other-ca-reference", "authority", ref, None, [], [],
         issue_crl(create_ca(20250101, 20341231, b"ZZUPURSE00002"), 7, ids, ISSUED)),
        ("unsorted", "malformed", ref, None, [], [],
         _resigned(ca, _content(revoked=b"".join(sorted(few, reverse=True))))),
        ("repeated-id", "malformed", ref, None, [], [],
         _resigned(ca, _content(revoked=few[0] + few[0] + few[1]))),
        ("ragged-list", "malformed", ref, None, [], [],
         _resigned(ca, _content(revoked=few[0] + few[1][:4]))),
        ("short-sequence", "malformed", ref, None, [], [],
         _resigned(ca, _content(sequence=b"\x07"))),
        ("date-not-bcd", "malformed", ref, None, [], [],
         _resigned(ca, _content(issued=b"\x02\x06\x00\x03\x00\x0a"))),
        ("truncated", "malformed", ref, None, [], [], good[:-1]),
        ("trailing-byte", "malformed", ref, None, [], [], good + b"\x00"),
        ("certificate-as-crl", "malformed", ref, None, [], [],
         issue_card_certificate(ca, ids[0], ca.public_key, 20250101, 20291231)),
    ]


def test_firmware_verifies_and_refuses(ca, interpreter, compiled_common, tmp_path):
    cases = _cases(ca)
    index, blob = tmp_path / "crl.txt", tmp_path / "crl.bin"
    with index.open("w") as out, blob.open("wb") as raw:
        for name, expect, car, sequence, listed, unlisted, data in cases:
            out.write(" ".join([name, expect.replace(" ", "_"), car.decode() if car else "-",
                                "-" if sequence is None else str(sequence),
                                str(8 * len(listed)), str(8 * len(unlisted)), str(len(data))])
                      + "\n")
            raw.write(b"".join(sorted(listed)) + b"".join(unlisted) + data)
    output = run_firmware(interpreter, SCRIPT, str(index), str(blob), ca.public_key.hex(),
                          heap=HEAP, path=(compiled_common,))
    accepted = [c for c in cases if c[1] == "ok"]
    lookups = sum(len(c[4]) + len(c[5]) for c in accepted)
    match = re.search(r"^OK crl (\d+) cases \((\d+) accepted, (\d+) refused, "
                      r"(\d+) identities looked up\)$", output, re.M)
    assert match, output
    assert [int(g) for g in match.groups()] == [len(cases), len(accepted),
                                                len(cases) - len(accepted), lookups]
    assert cvc.CertificateError is crl.CertificateError  # one error type for both

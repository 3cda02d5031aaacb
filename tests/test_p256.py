"""P-256 (firmware/common/p256.py) and HMAC-SHA-256 on MicroPython and CPython.

Published vectors (Wycheproof ECDSA P1363 and ECDH, RFC 6979 A.2.5, RFC 4231), agreement with
`cryptography` both ways, API edges, and one run in a 64 KB MicroPython heap. The P-256 cases
run on every interpreter (unix MicroPython, CPython, the QEMU board) in pure Python, and on
unix MicroPython and the QEMU board with their arch's build of the native module
(firmware/natmod), which is also cross-checked there against the pure path on random inputs.
The JSON and text vectors are reduced here to one line a case so that the MicroPython scripts
stay small.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
from pathlib import Path

import cryptography_vectors
import pytest
from conftest import FIRMWARE_INTERPRETERS, MPY_TESTS, VECTORS, run_firmware
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
WYCHEPROOF = VECTORS / "wycheproof"
# RFC 6979 A.2.5: the P-256 private key x, to be sure the vector file gave us the right key
RFC6979_X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
ECDSA_SHA256 = ec.ECDSA(utils.Prehashed(hashes.SHA256()))


# The QEMU board runs 13 times slower than the unix port: it takes a share of the cases (every
# QEMU_STRIDE-th Wycheproof vector, all of RFC 6979; a fifth of the agreement cases)
QEMU_STRIDE = 8
NATIVE = {"native": ("micropython", "natmod_x64"), "qemu-native": ("qemu", "natmod_qemu")}


@pytest.fixture(params=(*FIRMWARE_INTERPRETERS, *NATIVE))
def p256_on(request) -> tuple[str, tuple[Path, ...], int]:
    """(interpreter, path, native flag): "native" is unix MicroPython with the x64 build of
    p256_native, "qemu-native" the QEMU board with its arch's build."""
    if request.param in NATIVE:
        interpreter, fixture = NATIVE[request.param]
        return interpreter, (request.getfixturevalue(fixture),), 1
    return request.param, (), 0


def every(path: Path, stride: int, out: Path) -> tuple[Path, dict[str, int]]:
    """Every `stride`-th line of each Wycheproof kind in `path`, all RFC 6979 lines."""
    kept, counts = [], {"ecdsa": 0, "ecdh": 0, "rfc6979": 0}
    seen = dict.fromkeys(counts, 0)
    for line in path.read_text().splitlines():
        kind = line.split()[0]
        if kind == "rfc6979" or seen[kind] % stride == 0:
            kept.append(line)
            counts[kind] += 1
        seen[kind] += 1
    out.write_text("\n".join(kept) + "\n")
    return out, counts


def hx(data: bytes) -> str:
    return data.hex() if data else "-"


def pub_bytes(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)


def p1363(der: bytes) -> bytes:
    r, s = utils.decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def rfc6979_lines() -> list[str]:
    """The SHA-256 signatures of RFC 6979 A.2.5 from cryptography_vectors' OpenSSL test file."""
    path = (Path(cryptography_vectors.__file__).parent
            / "asymmetric/ECDSA/RFC6979/evppkey_ecdsa_rfc6979.txt")
    stanzas = re.split(r"\n\s*\n", path.read_text())
    title, key, lines = "", None, []
    for stanza in stanzas:
        fields = dict(re.findall(r"^(\w+) = (.*)$", stanza, re.M))
        title = fields.get("Title", title)
        if "P-256" not in title:
            continue
        if stanza.startswith("PrivateKey=P-256_PRIV"):
            pem = stanza.split("\n", 1)[1].encode()
            key = serialization.load_pem_private_key(pem, password=None)
        elif fields.get("DigestSign") == "SHA256" and fields.get("Key") == "P-256_PRIV":
            msg = fields["Input"].strip('"').encode()
            sig = p1363(bytes.fromhex(fields["Output"]))
            d = key.private_numbers().private_value
            lines.append(f"rfc6979 {msg.decode()} {hx(d.to_bytes(32, 'big'))} "
                         f"{hx(pub_bytes(key))} {hx(msg)} {hx(sig)}")
    assert key is not None and key.private_numbers().private_value == RFC6979_X
    return lines


@pytest.fixture(scope="module")
def vector_file(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    lines = []
    ecdsa = json.loads((WYCHEPROOF / "ecdsa_secp256r1_sha256_p1363_test.json").read_text())
    for group in ecdsa["testGroups"]:
        pub = group["publicKey"]["uncompressed"]
        for t in group["tests"]:
            lines.append(f"ecdsa {t['tcId']} {t['result']} {pub} {t['msg'] or '-'} "
                         f"{t['sig'] or '-'}")
    ecdh = json.loads((WYCHEPROOF / "ecdh_secp256r1_ecpoint_test.json").read_text())
    for group in ecdh["testGroups"]:
        for t in group["tests"]:
            priv = int(t["private"], 16).to_bytes(32, "big")
            lines.append(f"ecdh {t['tcId']} {t['result']} {t['public'] or '-'} {hx(priv)} "
                         f"{t['shared'] or '-'}")
    rfc = rfc6979_lines()
    assert [line.split()[1] for line in rfc] == ["sample", "test"]
    lines += rfc
    path = tmp_path_factory.mktemp("p256") / "vectors.txt"
    path.write_text("\n".join(lines) + "\n")
    return path, {"ecdsa": ecdsa["numberOfTests"], "ecdh": ecdh["numberOfTests"], "rfc6979": 2}


def test_published_vectors(p256_on, vector_file, tmp_path):
    interpreter, where, native = p256_on
    path, counts = vector_file
    if interpreter == "qemu":
        path, counts = every(path, QEMU_STRIDE, tmp_path / "share.txt")
    out = run_firmware(interpreter, MPY_TESTS / "p256_vectors.py", str(path), path=where)
    assert (f"OK p256 vectors ecdsa={counts['ecdsa']} ecdh={counts['ecdh']} "
            f"rfc6979={counts['rfc6979']} native={native}") in out


def agreement_cases(count: int, seed: int) -> list[tuple]:
    """Key pairs A, B from `cryptography` (edge scalars first), their secret and A's signature."""
    rng = random.Random(seed)
    special = [1, 2, 3, N - 1, N - 2, (N - 1) // 2, 1 << 128, 1 << 255]
    cases = []
    for i in range(count):
        da = special[i] if i < len(special) else rng.randrange(1, N)
        db = special[-1 - i] if i < len(special) else rng.randrange(1, N)
        a = ec.derive_private_key(da, ec.SECP256R1())
        b = ec.derive_private_key(db, ec.SECP256R1())
        msg = rng.randbytes(rng.randrange(1, 100))  # empty ones: Wycheproof tcId 225
        sig_a = p1363(a.sign(hashlib.sha256(msg).digest(), ECDSA_SHA256))
        cases.append((a, b, a.exchange(ec.ECDH(), b.public_key()), msg, sig_a))
    return cases


@pytest.mark.parametrize("teeth,count", [(None, 30), ("64", 8)], ids=["default", "table64"])
def test_agrees_with_cryptography(p256_on, tmp_path, teeth, count):
    interpreter, where, native = p256_on
    if interpreter == "qemu":
        count = max(4, count // 5)
    cases = agreement_cases(count, seed=6979 + count)
    path = tmp_path / "agree.txt"
    path.write_text("".join(
        f"{a.private_numbers().private_value.to_bytes(32, 'big').hex()} {pub_bytes(a).hex()} "
        f"{b.private_numbers().private_value.to_bytes(32, 'big').hex()} {pub_bytes(b).hex()} "
        f"{shared.hex()} {msg.hex()} {sig.hex()}\n"
        for a, b, shared, msg, sig in cases))
    args = [str(path)] + ([teeth] if teeth else [])
    out = run_firmware(interpreter, MPY_TESTS / "p256_agree.py", *args, path=where)
    assert f"OK p256 agree {count} cases native={native}" in out
    sigs = gens = 0
    for line in out.splitlines():
        kind, *fields = line.split()
        if kind == "sig":  # our signature -> cryptography verifies
            i, sig = int(fields[0]), bytes.fromhex(fields[1])
            a, b, _, msg, _ = cases[i]
            der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                             int.from_bytes(sig[32:], "big"))
            b.public_key().verify(der, hashlib.sha256(msg).digest(), ECDSA_SHA256)
            sigs += 1
        elif kind == "gen":  # our key pair -> cryptography derives the same public key and secret
            i = int(fields[0])
            priv, pub, shared = (bytes.fromhex(f) for f in fields[1:])
            ours = ec.derive_private_key(int.from_bytes(priv, "big"), ec.SECP256R1())
            assert pub_bytes(ours) == pub
            peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), pub)
            assert cases[i][0].exchange(ec.ECDH(), peer) == shared
            gens += 1
    assert sigs == gens == count


def test_api_edges(p256_on):
    interpreter, where, native = p256_on
    out = run_firmware(interpreter, MPY_TESTS / "p256_api.py", path=where)
    assert re.search(rf"OK p256 api \d+ checks native={native}", out)


@pytest.mark.parametrize("interpreter,fixture,cases,edges",
                         [("micropython", "natmod_x64", 8, 32), ("qemu", "natmod_qemu", 2, 3)])
def test_native_matches_pure_path(interpreter, fixture, cases, edges, request):
    where = (request.getfixturevalue(fixture),)
    out = run_firmware(interpreter, MPY_TESTS / "p256_crosscheck.py", str(cases), str(edges),
                       path=where)
    assert re.search(r"OK p256 native \d+ checks", out)


@pytest.mark.parametrize("native", [0, 1], ids=["pure", "native"])
def test_sign_verify_ecdh_in_64k_heap(native, request):
    where = (request.getfixturevalue("natmod_x64"),) if native else ()
    out = run_firmware("micropython", MPY_TESTS / "p256_heap.py", heap="64k", path=where)
    assert "OK p256 heap" in out and f"native={native}" in out


def test_hmac_sha256(interpreter, tmp_path):
    text = (Path(cryptography_vectors.__file__).parent / "HMAC/rfc-4231-sha256.txt").read_text()
    lines = [f"{k} {m} {d}" for k, m, d in
             re.findall(r"^Key = (\w+)\n(?:#.*\n)*Msg = (\w+)\nMD = (\w+)", text, re.M)]
    assert len(lines) >= 6
    rng = random.Random(4231)
    for klen in (0, 1, 31, 32, 63, 64, 65, 100, 200):
        key, msg = rng.randbytes(klen), rng.randbytes(rng.randrange(0, 300))
        lines.append(f"{hx(key)} {hx(msg)} {hmac.new(key, msg, 'sha256').hexdigest()}")
    path = tmp_path / "hmac.txt"
    path.write_text("\n".join(lines) + "\n")
    out = run_firmware(interpreter, MPY_TESTS / "hmac_sha256_vectors.py", str(path))
    assert f"OK hmac_sha256 {len(lines)} vectors" in out

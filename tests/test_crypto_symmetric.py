"""The symmetric crypto core (common.cmac, kdf, keywrap, x963) against published vectors and
`cryptography`, on MicroPython and CPython.

The host parses Wycheproof JSON and NIST CAVP text and writes one compact line per case
(`op id result hex...`, see tests/mpy/check_symmetric.py); the firmware side reads it line by
line inside a 64k heap, the size the card must fit.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

import cryptography_vectors
import pytest
from conftest import MPY_TESTS, VECTORS, run_firmware
from cryptography.hazmat.primitives import cmac as crypto_cmac
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

NIST = Path(cryptography_vectors.__file__).parent
WYCHEPROOF = VECTORS / "wycheproof"
SCRIPT = MPY_TESTS / "check_symmetric.py"
HEAP = "64k"
SEED = 0x5EED_C0DE

Case = tuple[str, str, str, list[bytes | None]]  # op, id, result, fields


def _field(value: bytes | None) -> str:
    if value is None:
        return "-"
    return value.hex() or "."


def _write(path: Path, cases: list[Case]) -> Path:
    with path.open("w") as out:
        for op, ident, result, fields in cases:
            out.write(" ".join([op, ident, result, *map(_field, fields)]) + "\n")
    return path


def _run(interpreter: str, tmp_path: Path, name: str, cases: list[Case]) -> tuple[int, str]:
    """Run `cases` on `interpreter`; return how many it reported and its summary line."""
    path = _write(tmp_path / f"{name}.txt", cases)
    out = run_firmware(interpreter, SCRIPT, str(path), name, heap=HEAP)
    match = re.search(rf"^OK {re.escape(name)} (\d+) vectors .*$", out, re.M)
    assert match, out
    print(interpreter, match.group(0))
    return int(match.group(1)), match.group(0)


def _counts(cases: list[Case]) -> str:
    results = [c[2] for c in cases]
    return (f"({results.count('valid')} valid, {results.count('invalid')} invalid, "
            f"{results.count('acceptable')} acceptable")


# --- Wycheproof ---------------------------------------------------------------------------

def _wycheproof(file: str, key_bits: int) -> tuple[list[dict], int]:
    """Tests of the groups with `key_bits` keys, and how many tests the file has in all."""
    data = json.loads((WYCHEPROOF / file).read_text())
    groups = [g for g in data["testGroups"] if g["keySize"] == key_bits]
    return [t for g in groups for t in g["tests"]], data["numberOfTests"]


def test_wycheproof_cmac(interpreter, tmp_path):
    tests, total = _wycheproof("aes_cmac_test.json", 128)
    cases = [("cmac", str(t["tcId"]), t["result"],
              [bytes.fromhex(t["key"]), bytes.fromhex(t["msg"]), bytes.fromhex(t["tag"])])
             for t in tests]
    assert {c[2] for c in cases} == {"valid", "invalid"}  # both kinds present
    ran, line = _run(interpreter, tmp_path, "wycheproof-aes-cmac-128", cases)
    assert ran == len(cases) == 102, (
        f"ran {ran} of {total} AES-CMAC vectors: the 16-byte-key groups only; {line}")
    assert line.endswith(_counts(cases) + ": 0 accepted)"), line


def test_wycheproof_keywrap(interpreter, tmp_path):
    tests, total = _wycheproof("aes_wrap_test.json", 128)
    cases = [("wrap", str(t["tcId"]), t["result"],
              [bytes.fromhex(t["key"]), bytes.fromhex(t["msg"]), bytes.fromhex(t["ct"])])
             for t in tests]
    assert {c[2] for c in cases} == {"valid", "invalid", "acceptable"}
    ran, line = _run(interpreter, tmp_path, "wycheproof-aes-wrap-128", cases)
    assert ran == len(cases) == 42, (
        f"ran {ran} of {total} AES key wrap vectors: the 128-bit KEK groups only; {line}")
    # the one `acceptable` case wraps an 8-byte key (RFC 3394 single block): we refuse it
    assert line.endswith(_counts(cases) + ": 0 accepted)"), line


# --- NIST CAVP (cryptography_vectors) -----------------------------------------------------

def _records(path: Path) -> list[tuple[dict[str, str], dict[str, str]]]:
    """(section headers, fields) for each `COUNT` record of a CAVP text file.

    Headers are the `[NAME=value]` / `[NAME]` lines in force; a bare `FAIL` line becomes
    fields["FAIL"]; indented lines (intermediate values) are skipped.
    """
    records: list[tuple[dict[str, str], dict[str, str]]] = []
    headers: dict[str, str] = {}
    current: dict[str, str] | None = None
    new_section = True
    for raw in path.read_text().splitlines():
        if raw.startswith((" ", "\t", "#")):
            continue
        line = raw.strip()
        if line.startswith("["):
            if new_section:
                headers = {}
                new_section = False
            name, _, value = line[1:-1].partition("=")
            headers[name.strip()] = value.strip()
            continue
        if not line:
            continue
        new_section = True
        if line == "FAIL":
            assert current is not None
            current["FAIL"] = ""
            continue
        name, _, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if name.upper() == "COUNT":
            current = {}
            records.append((dict(headers), current))
        assert current is not None, raw
        current[name] = value
    return records


def test_nist_cmac_aes128(interpreter, tmp_path):
    records = _records(NIST / "CMAC" / "nist-800-38b-aes128.txt")
    cases = [("cmac", f["COUNT"], "valid", [bytes.fromhex(f["KEY"]),
                                             bytes.fromhex(f["MESSAGE"]),
                                             bytes.fromhex(f["OUTPUT"])])
             for _, f in records]
    ran, line = _run(interpreter, tmp_path, "nist-sp800-38b-aes128", cases)
    # the file holds the four SP 800-38B / RFC 4493 examples (0, 16, 40, 64-byte messages)
    assert ran == len(cases) == 4, line


def _kw_cases(direction: str) -> list[Case]:
    records = _records(NIST / "keywrap" / "kwtestvectors" / f"KW_{direction}_128.txt")
    cases = []
    for headers, f in records:
        plain = None if "FAIL" in f else bytes.fromhex(f["P"])
        assert plain is None or len(plain) * 8 == int(headers["PLAINTEXT LENGTH"])
        cases.append(("wrap", f"{direction}-{headers['PLAINTEXT LENGTH']}-{f['COUNT']}",
                      "invalid" if plain is None else "valid",
                      [bytes.fromhex(f["K"]), plain, bytes.fromhex(f["C"])]))
    return cases


def test_nist_kw_aes128(interpreter, tmp_path):
    """SP 800-38F KW-AE (wrap) and KW-AD (unwrap, some FAIL) with AES-128: both directions are
    checked on every valid case, and every FAIL must unwrap to None."""
    cases = _kw_cases("AE") + _kw_cases("AD")
    ran, line = _run(interpreter, tmp_path, "nist-sp800-38f-kw-aes128", cases)
    assert ran == len(cases) == 1000, line
    assert line.endswith(_counts(cases) + ": 0 accepted)"), line
    assert any(c[3][1] is None for c in cases)  # the KW-AD FAIL records are in


def test_nist_sp800_108_counter_cmac_aes128(interpreter, tmp_path):
    records = _records(NIST / "KDF" / "nist-800-108-KBKDF-CTR.txt")
    cases = []
    for headers, f in records:
        if (headers.get("PRF"), headers.get("CTRLOCATION"), headers.get("RLEN")) != (
                "CMAC_AES128", "BEFORE_FIXED", "8_BITS"):
            continue
        out = bytes.fromhex(f["KO"])
        assert len(out) * 8 == int(f["L"])
        cases.append(("kdf", f["COUNT"], "valid",
                      [bytes.fromhex(f["KI"]), bytes.fromhex(f["FixedInputData"]), out]))
    ran, line = _run(interpreter, tmp_path, "nist-sp800-108-ctr-cmac-aes128-r8", cases)
    assert ran == len(cases) == 40, line  # L = 128, 160, 256, 320 bits, 10 each


def test_nist_x963_sha256(interpreter, tmp_path):
    records = _records(NIST / "KDF" / "ansx963_2001.txt")
    cases = [("x963", f"{i}", "valid", [bytes.fromhex(f["Z"]), bytes.fromhex(f["SharedInfo"]),
                                         bytes.fromhex(f["key_data"])])
             for i, (headers, f) in enumerate(records) if "SHA-256" in headers]
    assert {len(c[3][2]) for c in cases} == {16, 128}  # one and four+ hash blocks
    ran, line = _run(interpreter, tmp_path, "nist-ansx963-sha256", cases)
    assert ran == len(cases) == 20, line


# --- random cross-checks against `cryptography` ----------------------------------------------

def _random_cases() -> dict[str, list[Case]]:
    rng = random.Random(SEED)
    blob = rng.randbytes
    sets: dict[str, list[Case]] = {"cmac": [], "wrap": [], "kbkdf": [], "x963": []}
    for i in range(200):
        key = blob(16)
        # every length up to 4 blocks, then longer ones: the block boundaries are the edge cases
        msg = blob(i if i < 65 else rng.randrange(65, 600))
        mac = crypto_cmac.CMAC(algorithms.AES(key))
        mac.update(msg)
        sets["cmac"].append(("cmac", str(i), "valid", [key, msg, mac.finalize()]))
    for i in range(100):
        kek, key = blob(16), blob(8 * rng.randrange(2, 41))
        sets["wrap"].append(("wrap", str(i), "valid", [kek, key, aes_key_wrap(kek, key)]))
    for i in range(100):
        key, label, context = blob(16), blob(rng.randrange(0, 40)), blob(rng.randrange(0, 40))
        length = rng.choice((16, 32, 48, 80)) if i % 2 else rng.randrange(1, 200)
        kdf = KBKDFCMAC(algorithm=algorithms.AES, mode=Mode.CounterMode, length=length, rlen=1,
                        llen=2, location=CounterLocation.BeforeFixed, label=label,
                        context=context, fixed=None)
        sets["kbkdf"].append(("kbkdf", str(i), "valid", [key, label, context, kdf.derive(key)]))
    for i in range(100):
        z, info, length = blob(rng.choice((32, 64, 65))), blob(rng.randrange(0, 40)), \
            rng.randrange(1, 170)
        out = X963KDF(algorithm=hashes.SHA256(), length=length, sharedinfo=info).derive(z)
        sets["x963"].append(("x963", str(i), "valid", [z, info, out]))
    return sets


RANDOM = _random_cases()


@pytest.mark.parametrize("op", sorted(RANDOM))
def test_random_against_cryptography(interpreter, tmp_path, op):
    cases = RANDOM[op]
    ran, line = _run(interpreter, tmp_path, f"random-{op}-seed{SEED:x}", cases)
    assert ran == len(cases), line


# --- equal() and limits ------------------------------------------------------------------

def test_edges(interpreter):
    out = run_firmware(interpreter, MPY_TESTS / "check_symmetric_edges.py", heap=HEAP)
    match = re.search(r"^OK edges (\d+) checks$", out, re.M)
    assert match, out
    assert int(match.group(1)) >= 80, out

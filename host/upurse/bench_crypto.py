"""The crypto operations against `cryptography` (OpenSSL): ours on each interpreter, OpenSSL on
this host, and the ratio (how many times slower ours is).

`openssl_ms()` times OpenSSL; `ratios(ours)` takes our ms per operation per interpreter (P-256
from upurse.bench_p256, CMAC from benchscripts/cmac.py).
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives import cmac, hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers import algorithms

from upurse.interpreters import INTERPRETERS, command

SCRIPT = Path(__file__).resolve().parent / "benchscripts" / "cmac.py"
OPS = ("sign", "verify", "ecdh", "public_key", "cmac64")


def _ms(fn, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds * 1000


def openssl_ms(rounds: int = 200) -> dict[str, float]:
    priv = ec.generate_private_key(ec.SECP256R1())
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    digest = bytes(range(32))
    prehashed = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    sig = priv.sign(digest, prehashed)
    pub = priv.public_key()
    secret = priv.private_numbers().private_value

    def mac():
        c = cmac.CMAC(algorithms.AES(bytes(range(16))))
        c.update(bytes(range(64)))
        c.finalize()

    return {
        "sign": _ms(lambda: priv.sign(digest, prehashed), rounds),
        "verify": _ms(lambda: pub.verify(sig, digest, prehashed), rounds),
        "ecdh": _ms(lambda: priv.exchange(ec.ECDH(), peer), rounds),
        "public_key": _ms(lambda: ec.derive_private_key(secret, ec.SECP256R1()).public_key(),
                          rounds),
        "cmac64": _ms(mac, rounds * 10),
    }


def cmac_ms(interpreter: str, rounds: int = 500) -> float:
    argv, env = command(interpreter, SCRIPT, str(rounds))
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])["cmac64"]


def measure(p256: dict | None) -> dict:
    """{op: {"openssl": ms, interpreter: ms, "ratio_<interpreter>": x}}; P-256 rows only when
    the P-256 bench ran."""
    ssl = openssl_ms()
    ours = {i: {"cmac64": cmac_ms(i)} for i in INTERPRETERS}
    ours["micropython_native"] = {}  # unix MicroPython with the native P-256 module
    for i in ours:
        ours[i].update((p256 or {}).get(i, {}).get("ms", {}))
    out = {}
    for op in OPS:
        row = {"openssl": round(ssl[op], 4)}
        for i in ours:
            if op in ours[i]:
                row[i] = ours[i][op]
                row[f"ratio_{i}"] = round(ours[i][op] / ssl[op], 1)
        out[op] = row
    return out

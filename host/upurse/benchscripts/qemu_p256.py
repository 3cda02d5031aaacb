"""Bench (firmware side, QEMU board only): instructions per P-256 sign, verify and ECDH.

Runs under `-icount shift=0` (time.ticks_us() advances once per 1000 instructions); the
firmware's own P-256 (common/p256.py, no fixed-base comb, as on a 64 KB card). One JSON line.
"""
import json
import time

from common import p256

RUNS = 3


def instructions(fn):
    best = None
    for _ in range(RUNS):
        start = time.ticks_us()
        fn()
        used = time.ticks_diff(time.ticks_us(), start) * 1000
        best = used if best is None else min(best, used)
    return best


priv, pub = p256.generate()
peer_priv, peer_pub = p256.generate()
digest = bytes(range(32))
sig = p256.sign(priv, digest)
assert p256.verify(pub, digest, sig)
print(json.dumps({
    "p256_sign_instructions": instructions(lambda: p256.sign(priv, digest)),
    "p256_verify_instructions": instructions(lambda: p256.verify(pub, digest, sig)),
    "p256_ecdh_instructions": instructions(lambda: p256.ecdh(priv, peer_pub)),
}))

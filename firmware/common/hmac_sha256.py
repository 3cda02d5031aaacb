"""HMAC-SHA-256 (RFC 2104, FIPS 198-1): MicroPython has hashlib.sha256 but no hmac module.

    from common.hmac_sha256 import hmac_sha256
    tag = hmac_sha256(key, b"message")  # 32 bytes
    tag = hmac_sha256(key, [b"mes", b"sage"])  # the same: pieces hashed one after the other
"""
from hashlib import sha256

from micropython import const

_BLOCK = const(64)  # SHA-256 block size in bytes (FIPS 180-4 5.1.2)


def hmac_sha256(key, msg):
    """The 32-byte HMAC of `msg` under `key` (any length; longer than a block is hashed first).
    `msg` is bytes-like, or a list of them hashed in order: no block of their joined size."""
    if len(key) > _BLOCK:
        key = sha256(key).digest()
    pad = bytearray(_BLOCK)
    pad[: len(key)] = key
    for i in range(_BLOCK):
        pad[i] ^= 0x36  # ipad (RFC 2104 section 2)
    inner = sha256(pad)
    for piece in msg if type(msg) is list else (msg,):
        inner.update(piece)
    for i in range(_BLOCK):
        pad[i] ^= 0x36 ^ 0x5C  # ipad -> opad
    outer = sha256(pad)
    outer.update(inner.digest())
    return outer.digest()

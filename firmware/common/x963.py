"""ANSI X9.63 key derivation with SHA-256: turns an ECDH shared secret into session keys.

SEC 1 v2 3.6.1 (ANSI X9.63-2001 5.6.3): K(i) = SHA-256(Z || [i]_32 || SharedInfo), i = 1, 2, ...
GlobalPlatform SCP11 derives its session keys this way (GPC v2.3 Amendment F v1.3 3.1.2).

    keys = derive(z, key_usage + key_type + key_len, 5 * 16)
"""
import hashlib

from micropython import const

_HASH_LEN = const(32)


def derive(shared_secret, shared_info, length):
    """`length` bytes of key material from `shared_secret` (Z), bound to `shared_info`."""
    if length < 0:
        raise ValueError("length")
    out = bytearray(length)
    counter = bytearray(4)  # [i]_32, big-endian
    pos = 0
    i = 1
    while pos < length:
        counter[0] = i >> 24
        counter[1] = (i >> 16) & 0xFF
        counter[2] = (i >> 8) & 0xFF
        counter[3] = i & 0xFF
        h = hashlib.sha256(shared_secret)
        h.update(counter)
        h.update(shared_info)
        take = min(_HASH_LEN, length - pos)
        out[pos : pos + take] = h.digest()[:take]
        pos += take
        i += 1
    return bytes(out)

"""AES key wrap (RFC 3394, NIST SP 800-38F KW): carries keys with 64-bit integrity."""
import cryptolib
from micropython import const

_IV = b"\xa6" * 8
_ECB = const(1)


def wrap(kek, key):
    """Wrap `key` (a multiple of 8 bytes, at least 16) under `kek`."""
    n = len(key) // 8
    if n < 2 or len(key) % 8:
        raise ValueError("key length")
    aes = cryptolib.aes(kek, _ECB)
    a = bytearray(_IV)
    r = bytearray(key)
    block = bytearray(16)
    for j in range(6):
        for i in range(n):
            block[:8] = a
            block[8:] = r[8 * i : 8 * i + 8]
            b = aes.encrypt(block)
            t = n * j + i + 1
            a[:] = b[:8]
            a[7] ^= t & 0xFF
            a[6] ^= (t >> 8) & 0xFF
            r[8 * i : 8 * i + 8] = b[8:]
    return bytes(a) + bytes(r)


def unwrap(kek, wrapped):
    """The key inside `wrapped`, or None when its integrity check fails."""
    n = len(wrapped) // 8 - 1
    if n < 2 or len(wrapped) % 8:
        return None
    aes = cryptolib.aes(kek, _ECB)
    a = bytearray(wrapped[:8])
    r = bytearray(wrapped[8:])
    block = bytearray(16)
    for j in range(5, -1, -1):
        for i in range(n - 1, -1, -1):
            t = n * j + i + 1
            a[7] ^= t & 0xFF
            a[6] ^= (t >> 8) & 0xFF
            block[:8] = a
            block[8:] = r[8 * i : 8 * i + 8]
            b = aes.decrypt(block)
            a[:] = b[:8]
            r[8 * i : 8 * i + 8] = b[8:]
    diff = 0
    for i in range(8):
        diff |= a[i] ^ _IV[i]
    return bytes(r) if diff == 0 else None

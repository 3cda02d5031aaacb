"""AES-CMAC (NIST SP 800-38B, RFC 4493) and the constant-time compare every MAC check uses."""
from micropython import const

from common.aes import cbc_encrypt, encrypt_block, xor_into

_RB = const(0x87)


def _double(block):
    """Multiply by x in GF(2^128) (SP 800-38B 6.1 subkey generation)."""
    out = bytearray(16)
    carry = 0
    for i in range(15, -1, -1):
        b = block[i]
        out[i] = ((b << 1) & 0xFF) | carry
        carry = b >> 7
    if carry:
        out[15] ^= _RB
    return out


def cmac(key, msg):
    """The full 16-byte tag of `msg` under the 16-byte AES `key`."""
    k1 = _double(encrypt_block(key, bytes(16)))
    n = len(msg)
    full = n and n % 16 == 0
    head = (n - 1) // 16 * 16 if n else 0  # bytes before the last block
    last = bytearray(16)
    if full:
        last[:] = msg[head:]
        xor_into(last, k1)
    else:
        tail = msg[head:]
        last[: len(tail)] = tail
        last[len(tail)] = 0x80
        xor_into(last, _double(k1))
    if head:
        xor_into(last, cbc_encrypt(key, msg[:head])[-16:])
    return encrypt_block(key, last)


def equal(a, b):
    """Compare two MACs in time that depends only on their length: XOR all bytes, then check."""
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0

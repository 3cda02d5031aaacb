"""AES-128 through `cryptolib.aes`, which uses the board's hardware AES where it has one.

cryptolib offers ECB (mode 1) and CBC (mode 2) on every port; everything else is built on them.
"""
import cryptolib
from micropython import const

_ECB = const(1)
_CBC = const(2)
_ZERO_IV = bytes(16)


def encrypt_block(key, block):
    return cryptolib.aes(key, _ECB).encrypt(block)


def cbc_encrypt(key, data, iv=_ZERO_IV):
    """CBC over whole blocks (no padding); the caller pads."""
    return cryptolib.aes(key, _CBC, iv).encrypt(data)


def cbc_decrypt(key, data, iv=_ZERO_IV):
    return cryptolib.aes(key, _CBC, iv).decrypt(data)


def xor_into(dst, src):
    """dst[i] ^= src[i] for i < len(src); dst is a bytearray or writable memoryview."""
    for i in range(len(src)):
        dst[i] ^= src[i]

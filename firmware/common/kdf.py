"""Key derivation: NIST SP 800-108 counter mode with AES-CMAC as the PRF.

Layout (SP 800-108r1 4.1): K(i) = CMAC(KI, [i]_8 || Label || 0x00 || Context || [L]_16),
the same building block GlobalPlatform SCP03 uses for its session keys.
"""
from micropython import const

from common.cmac import cmac

_MAX_LENGTH = const(255 * 16)  # an 8-bit counter gives at most 255 blocks (SP 800-108r1 4.1)


def counter_mode(key, fixed, length):
    """`length` bytes of K(1) || K(2) || ... with K(i) = CMAC(key, [i]_8 || fixed).

    `fixed` is the whole fixed input data, as NIST's CAVP vectors give it; `derive` builds it.
    """
    if not 0 < length <= _MAX_LENGTH:
        raise ValueError("length")
    out = bytearray(length)
    block = bytearray(1 + len(fixed))
    block[1:] = fixed
    pos = 0
    i = 1
    while pos < length:
        block[0] = i
        take = min(16, length - pos)
        out[pos : pos + take] = cmac(key, block)[:take]
        pos += take
        i += 1
    return bytes(out)


def derive(key, label, context, length=16):
    """`length` bytes of key material bound to `label` and `context`."""
    if not 0 < length <= _MAX_LENGTH:
        raise ValueError("length")  # before [L]_16 is encoded, so it cannot overflow
    fixed = bytes(label) + b"\x00" + bytes(context) + (length * 8).to_bytes(2, "big")
    return counter_mode(key, fixed, length)

"""Key derivation: NIST SP 800-108 counter mode with AES-CMAC as the PRF.

Layout (SP 800-108r1 4.1): K(i) = CMAC(KI, [i]_8 || Label || 0x00 || Context || [L]_16),
the same building block GlobalPlatform SCP03 uses for its session keys.
"""
from common.cmac import cmac


def derive(key, label, context, length=16):
    """`length` bytes of key material bound to `label` and `context`."""
    fixed = bytes(label) + b"\x00" + bytes(context) + (length * 8).to_bytes(2, "big")
    out = b""
    i = 1
    while len(out) < length:
        out += cmac(key, bytes((i,)) + fixed)
        i += 1
    return out[:length]

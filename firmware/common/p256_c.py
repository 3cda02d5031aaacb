"""P-256 through the native module p256_native (firmware/natmod), while p256_group.NATIVE
holds it: common.p256 takes its operations from here instead of common.p256_mul/p256_joint.

Every step that sees a secret (k*G, k*P, k^-1, r*d) runs in constant-time C; Python keeps the
encodings, the range and on-curve checks and RFC 6979 nonces (common.p256_mul). Verification's
joint sum is the C variable-time one: nothing in it is secret. A module of its own, so that a
card running the pure path never holds this code (the pure modules give it their checks).
"""
from common.p256_group import NATIVE, N, decode_point
from common.p256_joint import signature_parts
from common.p256_mul import nonces, scalar


def public_key(priv):
    """p256.public_key."""
    scalar(priv)
    return b"\x04" + NATIVE[0].mul(priv, None)


def sign(priv, digest, extra):
    """p256.sign with chosen additional data k' (RFC 6979 3.6)."""
    d = scalar(priv)
    if len(digest) != 32:
        raise ValueError("digest length")
    nat = NATIVE[0]
    n = N
    e = int.from_bytes(digest, "big")
    eb = (e % n).to_bytes(32, "big")
    for _, k in nonces(d, e, extra):  # k as its 32 bytes
        r = int.from_bytes(nat.mul(k, None)[:32], "big") % n
        if r:
            rb = r.to_bytes(32, "big")
            s = nat.mul_n(nat.inv_n(k), nat.add_n(eb, nat.mul_n(rb, priv)))  # k^-1 (e + r d)
            if s != bytes(32):
                return rb + s


def ecdh(priv, peer_pub):
    """p256.ecdh."""
    scalar(priv)
    decode_point(peer_pub)
    return NATIVE[0].mul(priv, peer_pub[1:])[:32]


def verify(pub, digest, sig):
    """p256.verify, which turns TypeError and ValueError (a bad key) into False."""
    parts = signature_parts(pub, digest, sig)
    if not parts:
        return False
    nat = NATIVE[0]
    w = nat.inv_n(sig[32:64])
    e = (int.from_bytes(digest, "big") % N).to_bytes(32, "big")
    xy = nat.mul2(nat.mul_n(e, w), nat.mul_n(sig[:32], w), pub[1:])
    return xy is not None and int.from_bytes(xy[:32], "big") % N == parts[2]

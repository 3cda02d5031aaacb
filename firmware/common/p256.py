"""NIST P-256 ECDSA and ECDH in plain MicroPython (FIPS 186-5, SEC 1 v2, RFC 6979).

Stock MicroPython firmware exposes no elliptic-curve code to Python, so the curve is computed
here with big integers. Private keys are 32 bytes big-endian, public keys 65 bytes 04||X||Y
(SEC 1 2.3.3, uncompressed), signatures r||s (IEEE P1363), digests 32 bytes (SHA-256).

    from common import p256
    priv, pub = p256.generate()
    sig = p256.sign(priv, digest)           # RFC 6979 k with fresh random additional data
    p256.verify(pub, digest, sig)           # True or False, never raises
    shared_x = p256.ecdh(priv, peer_pub)    # ValueError unless peer_pub is a curve point

NOT CONSTANT TIME. MicroPython's (and CPython's) big integers take time and allocate memory
that depend on the values, and the code indexes tables by secret digits. For every operation on
a secret scalar (sign's k*G, ecdh, public_key) the leaks are made harder to use, not removed:
the scalar is blinded as k + r*n (r random, 63 bits, new each call), the accumulator starts at
random projective coordinates (random Z), every window does the same doublings and one addition
(regular signed-digit recoding), and signing inverts k*b for a random b instead of k.
Every peer point is checked on the curve before use (invalid-curve attacks), every scalar and
r, s range-checked.

Speed: Jacobian coordinates with the a = -3 doubling; mixed additions from affine window tables
of odd multiples (one inversion per table, or per pair of tables, by Montgomery's trick);
verification is one joint (Shamir) wNAF pass that compares x without inverting Z.

Memory, for a card's small heap: by default nothing stays on the heap between operations. Each
k*G builds its 8-point table of G, each ECDH the peer point's, each verification 4-point tables
of G and of the key; tables are bytes, one bytearray a point, never a big block.
`enable_fixed_base_table(teeth)` keeps G's comb instead, ~1.5 KB a tooth on 64-bit unix, for
fewer doublings in k*G (none at 64 teeth: signing three times as fast). The code is split by use:
this module is the API and loads the rest on demand, common.p256_group (curve, group law,
tables), common.p256_mul (secret scalars: key pairs, signing, ECDH), common.p256_joint
(verification), common.p256_comb (the fixed-base table), so that a card verifying a
certificate does not hold the signing code on its heap.
"""
import os

from common.p256_group import COMB, NATIVE, N, decode_point, random_below


def enable_fixed_base_table(teeth=64):
    """Precompute G's comb with `teeth` teeth (a power of two up to 64) and keep it.

    k*G then costs 5*(64/teeth - 1) doublings and 63 additions, instead of building an 8-point
    table of G and 316 doublings and 79 additions; the comb takes about 1.5 KB a tooth on
    64-bit unix (64 teeth: ~100 KB, no doublings at all). Building 64 takes ~50 ms.
    """
    from common.p256_comb import comb

    disable_fixed_base_table()  # the old comb goes before the new one is built
    COMB.extend(comb(teeth))


def disable_fixed_base_table():
    """Drop G's comb: each k*G builds its small table again."""
    COMB.clear()


def valid_public_key(pub):
    """True if `pub` is a 65-byte uncompressed encoding of a point on P-256."""
    try:
        decode_point(pub)
        return True
    except (TypeError, ValueError):
        return False


def public_key(priv):
    """The 65-byte public key of a 32-byte private key (ValueError unless in 1..n-1)."""
    if NATIVE:
        from common.p256_c import public_key
    else:
        from common.p256_mul import public_key
    return public_key(priv)


def generate():
    """A fresh key pair (priv, pub) from os.urandom."""
    priv = random_below(N).to_bytes(32, "big")
    return priv, public_key(priv)


def _sign(priv, digest, extra):
    """sign() with chosen additional data k' (RFC 6979 3.6); extra = b"" is plain RFC 6979."""
    if NATIVE:
        from common.p256_c import sign
    else:
        from common.p256_mul import sign
    return sign(priv, digest, extra)


def sign(priv, digest):
    """64-byte r||s ECDSA signature of a 32-byte digest (RFC 6979 3.6 with 32 random bytes)."""
    return _sign(priv, digest, os.urandom(32))


def verify(pub, digest, sig):
    """True if `sig` (r||s) signs `digest` under `pub`; False for anything malformed."""
    if NATIVE:
        from common.p256_c import verify
    else:
        from common.p256_joint import verify
    try:
        return verify(pub, digest, sig)
    except (TypeError, ValueError):
        return False


def ecdh(priv, peer_pub):
    """The 32-byte shared X coordinate (SEC 1 3.3.1); ValueError for a bad key or peer point."""
    if NATIVE:
        from common.p256_c import ecdh
    else:
        from common.p256_mul import ecdh
    return ecdh(priv, peer_pub)

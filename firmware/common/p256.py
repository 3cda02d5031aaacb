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

Speed: Jacobian coordinates with the a = -3 doubling; additions from precomputed window tables
of odd multiples, affine for G (mixed additions, one inversion per table by Montgomery's trick),
left Jacobian for a peer point (cheaper than inverting); verification is one joint (Shamir) wNAF
pass that compares x without inverting Z. Memory: G's comb has two teeth of 16 points (~5 KB)
built on first use; `enable_fixed_base_table(teeth)` trades ~2.3 KB a tooth (64 teeth: ~150 KB
on 64-bit unix) for fewer doublings in k*G (none at 64 teeth). The arithmetic is in
common.p256_group (group law, tables) and common.p256_mul (scalar multiplication): three
modules, so that each compiles from source in a small heap (.mpy needs no compiler at all).
"""
import os

from common.hmac_sha256 import hmac_sha256
from common.p256_group import N, P, base_tables, decode_point, jacobian_multiples, random_below
from common.p256_group import set_teeth as _set_teeth
from common.p256_mul import mul_joint, mul_secret


def _int(data):
    return int.from_bytes(data, "big")


def _bytes32(x):
    return x.to_bytes(32, "big")


def _scalar(priv):
    """The private key as an integer; ValueError unless it is 32 bytes in 1..n-1."""
    if len(priv) != 32:
        raise ValueError("private key length")
    d = _int(priv)
    if not 0 < d < N:
        raise ValueError("private key out of range")
    return d


def enable_fixed_base_table(teeth=64):
    """Precompute G's comb with `teeth` tables (a power of two up to 64; 2 is the default).

    k*G then costs 5*(64/teeth - 1) doublings and 63 additions; the tables take about 2.3 KB a
    tooth on 64-bit unix (64 teeth: ~150 KB, no doublings at all). Building 64 takes ~50 ms.
    """
    _set_teeth(teeth)


def disable_fixed_base_table():
    """Drop the big comb; the default two-tooth tables come back on next use."""
    _set_teeth(None)


def _verify(pub, digest, sig):
    if len(sig) != 64 or len(digest) != 32:
        return False
    qx, qy = decode_point(pub)
    n = N
    r = _int(sig[:32])
    s = _int(sig[32:64])
    if not (0 < r < n and 0 < s < n):  # SEC 1 4.1.4 step 1
        return False
    w = pow(s, n - 2, n)
    x, _, z = mul_joint(_int(digest) * w % n, r * w % n, qx, qy)
    if not z:
        return False
    # SEC 1 4.1.4 steps 6-8 without inverting z: affine x = x/z^2, and x mod n == r
    p = P
    zz = z * z % p
    if r * zz % p == x:
        return True
    r += n
    return r < p and r * zz % p == x


def valid_public_key(pub):
    """True if `pub` is a 65-byte uncompressed encoding of a point on P-256."""
    try:
        decode_point(pub)
        return True
    except (TypeError, ValueError):
        return False


def public_key(priv):
    """The 65-byte public key of a 32-byte private key (ValueError unless in 1..n-1)."""
    x, y = mul_secret(_scalar(priv), base_tables())
    return b"\x04" + _bytes32(x) + _bytes32(y)


def generate():
    """A fresh key pair (priv, pub) from os.urandom."""
    priv = _bytes32(random_below(N))
    return priv, public_key(priv)


def _sign(priv, digest, extra):
    """sign() with chosen additional data k' (RFC 6979 3.6); extra = b"" is plain RFC 6979."""
    d = _scalar(priv)
    if len(digest) != 32:
        raise ValueError("digest length")
    n = N
    e = _int(digest)  # bits2int: qlen = hlen = 256, nothing to truncate
    tail = _bytes32(d) + _bytes32(e % n) + extra  # int2octets(x) || bits2octets(h1) || k'
    # RFC 6979 3.2 steps b-g
    v = b"\x01" * 32
    key = hmac_sha256(bytes(32), v + b"\x00" + tail)
    v = hmac_sha256(key, v)
    key = hmac_sha256(key, v + b"\x01" + tail)
    v = hmac_sha256(key, v)
    while True:
        v = hmac_sha256(key, v)  # step h.2: tlen = qlen, one block is enough
        k = _int(v)
        if 0 < k < n:
            r = mul_secret(k, base_tables())[0] % n
            if r:
                b = random_below(n)  # s = (k*b)^-1 * b*(e + r*d): the inverse never sees k
                s = pow(k * b % n, n - 2, n) * ((e + r * d) * b % n) % n
                if s:
                    return _bytes32(r) + _bytes32(s)
        key = hmac_sha256(key, v + b"\x00")  # step h.3
        v = hmac_sha256(key, v)


def sign(priv, digest):
    """64-byte r||s ECDSA signature of a 32-byte digest (RFC 6979 3.6 with 32 random bytes)."""
    return _sign(priv, digest, os.urandom(32))


def verify(pub, digest, sig):
    """True if `sig` (r||s) signs `digest` under `pub`; False for anything malformed."""
    try:
        return _verify(pub, digest, sig)
    except (TypeError, ValueError):
        return False


def ecdh(priv, peer_pub):
    """The 32-byte shared X coordinate (SEC 1 3.3.1); ValueError for a bad key or peer point."""
    d = _scalar(priv)
    x, y = decode_point(peer_pub)
    return _bytes32(mul_secret(d, [jacobian_multiples(x, y, 16)], True)[0])

"""P-256 with a secret scalar: key pairs, ECDSA signing (RFC 6979), ECDH; under common.p256.

Loaded by common.p256 only when a secret scalar is at work (common.p256_joint verifies). The
hot loop writes the doubling and addition formulas of common.p256_group out inline: a call per
formula would add about a quarter to the time. Every addition is a mixed one (Jacobian +
affine) from a table of p256_group.affine_tables: entry i is the point (2i+1)P as x || y
bytes, read into ints as the loop needs it.
"""
# ruff: noqa: N803, N806 -- Jacobian X, Y, Z keep the capitals of the formulas they transcribe
import os

from micropython import const

from common.hmac_sha256 import hmac_sha256
from common.p256_group import (
    COMB,
    GX,
    GY,
    N,
    P,
    add,
    affine_tables,
    decode_point,
    random_below,
)

_BITS = const(320)  # the blinded scalar k + r*n < 2^319 fits 320 bits: 64 windows of 5, 80 of 4


def _comb_digits(k, teeth, w):
    """Signed odd digits of the blinded k, plus 2^w, in the order the comb consumes them.

    Scalar blinding: k' = k + r*n with 0 <= r < 2^63, forced odd, so that every digit of the
    regular recoding (Joye-Tunstall) is odd and nonzero: d_i = (k' mod 2^(w+1)) - 2^w,
    k' = (k' - d_i) / 2^w. k' < 2^319 leaves a positive top digit below 2^w after the last
    step. Bytes, not a list: a byte a digit on the heap.
    """
    k += (int.from_bytes(os.urandom(8), "big") >> 1) * N
    if not k & 1:
        k += N
    count = _BITS // w
    half = 1 << w
    mask = (half << 1) - 1
    dig = bytearray(count)
    for i in range(count - 1):
        d = (k & mask) - half
        dig[i] = d + half
        k = (k - d) >> w
    dig[count - 1] = k + half
    rows = count // teeth
    seq = bytearray(count)
    for s in range(count):
        seq[s] = dig[s // teeth + (s % teeth) * rows]
    return seq


def mul_secret(k, tables):
    """Affine (x, y) of k*P for a secret k in 1..n-1.

    `tables` are the comb teeth of P (G's comb), or one table of P (a plain fixed window), each
    from p256_group.affine_tables: 2^(w-1) points serve windows of w bits (8: w = 4, 16: w = 5).
    The last digit consumed is the lowest.
    """
    p = P
    teeth = len(tables)
    last = teeth - 1
    w = 5 if len(tables[0]) == 16 else 4  # 2^(w-1) points a table
    half = 1 << w
    seq = _comb_digits(k, teeth, w)
    # randomized projective coordinates: the top digit's point times a random z (X z^2, Y z^3, Z z)
    e = tables[last][(seq[-1] - half) >> 1]  # the top digit is positive
    z = random_below(p)
    zz = z * z % p
    X = int.from_bytes(e[:32], "big") * zz % p
    Y = int.from_bytes(e[32:], "big") * zz % p * z % p
    Z = z
    for s in range(len(seq) - 2, -1, -1):
        j = s % teeth
        if j == last:
            for _ in range(w):  # 2(X:Y:Z), a = -3 (EFD dbl-2001-b), as double
                zz = Z * Z % p
                yy = Y * Y % p
                b = X * yy % p
                a = 3 * (X - zz) * (X + zz) % p
                Z = (Y + Y) * Z % p
                X = (a * a - 8 * b) % p
                Y = (a * (4 * b - X) - 8 * yy * yy) % p
        a = seq[s] - half
        # (X:Y:Z) + (x2, y2), EFD madd-2004-hmv with u1 = X, s1 = Y; -(x, y) = (x, p - y)
        if a > 0:
            e = tables[j][a >> 1]
            y2 = int.from_bytes(e[32:], "big")
        else:
            e = tables[j][-a >> 1]
            y2 = p - int.from_bytes(e[32:], "big")
        x2 = int.from_bytes(e[:32], "big")
        zz = Z * Z % p
        h = x2 * zz % p - X
        r = y2 * Z % p * zz % p - Y
        if h and Z:
            hh = h * h % p
            hhh = h * hh % p
            b = X * hh % p
            X = (r * r - hhh - 2 * b) % p
            Y = (r * (b - X) - Y * hhh) % p
            Z = Z * h % p
        else:  # equal points or infinity: never for honest inputs, handled all the same
            X, Y, Z = add(X, Y, Z, x2, y2, 1)
    if not Z:
        raise ValueError("point at infinity")
    zi = pow(Z, p - 2, p)
    zz = zi * zi % p
    return X * zz % p, Y * zz % p * zi % p


def scalar(priv):
    """The private key as an integer; ValueError unless it is 32 bytes in 1..n-1."""
    if len(priv) != 32:
        raise ValueError("private key length")
    d = int.from_bytes(priv, "big")
    if not 0 < d < N:
        raise ValueError("private key out of range")
    return d


def _base_tables():
    """G's comb for k*G: the fixed-base table when one is enabled (COMB), else a plain window
    table G, 3G, ..., 15G (4-bit windows) built for this one use: by default nothing stays on
    the heap between operations, and the table is small (one inversion and 7 additions)."""
    return COMB or affine_tables(((GX, GY, 1),), 8)


def public_key(priv):
    """p256.public_key."""
    x, y = mul_secret(scalar(priv), _base_tables())
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def nonces(d, e, extra):
    """RFC 6979 (3.2 steps b-h, additional data k' as in 3.6): the candidate nonces k in
    1..n-1 for private key d and digest e (ints), each with its 32 bytes, in order; the signer
    (here or common.p256_c) takes the first that gives r and s nonzero."""
    n = N
    # int2octets(x) || bits2octets(h1) || k'
    tail = d.to_bytes(32, "big") + (e % n).to_bytes(32, "big") + extra
    # RFC 6979 3.2 steps b-g
    v = b"\x01" * 32
    key = hmac_sha256(bytes(32), v + b"\x00" + tail)
    v = hmac_sha256(key, v)
    key = hmac_sha256(key, v + b"\x01" + tail)
    v = hmac_sha256(key, v)
    while True:
        v = hmac_sha256(key, v)  # step h.2: tlen = qlen, one block is enough
        k = int.from_bytes(v, "big")
        if 0 < k < n:
            yield k, v
        key = hmac_sha256(key, v + b"\x00")  # step h.3
        v = hmac_sha256(key, v)


def sign(priv, digest, extra):
    """p256.sign with chosen additional data k' (RFC 6979 3.6); extra = b"" is plain RFC 6979."""
    d = scalar(priv)
    if len(digest) != 32:
        raise ValueError("digest length")
    n = N
    e = int.from_bytes(digest, "big")  # bits2int: qlen = hlen = 256, nothing to truncate
    for k, _ in nonces(d, e, extra):
        r = mul_secret(k, _base_tables())[0] % n
        if r:
            b = random_below(n)  # s = (k*b)^-1 * b*(e + r*d): the inverse never sees k
            s = pow(k * b % n, n - 2, n) * ((e + r * d) * b % n) % n
            if s:
                return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def ecdh(priv, peer_pub):
    """p256.ecdh."""
    d = scalar(priv)
    x, y = decode_point(peer_pub)
    return mul_secret(d, affine_tables(((x, y, 1),), 8))[0].to_bytes(32, "big")  # 4-bit windows

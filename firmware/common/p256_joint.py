"""P-256 ECDSA verification (SEC 1 4.1.4): the joint u1*G + u2*Q of public scalars.

Loaded by common.p256 only to verify, apart from common.p256_mul, so that a card checking a
certificate loads only what verification needs (on the unix port bytecode lives in the heap).
The formulas are common.p256_group's, written out inline as in common.p256_mul.
"""
# ruff: noqa: N803, N806 -- Jacobian X, Y, Z keep the capitals of the formulas they transcribe
from micropython import const

from common.p256_group import GX, GY, N, P, add, affine_tables, decode_point

_NAF_LEN = const(257)  # a wNAF of a scalar below n has at most 257 digits
_WNAF = const(4)  # digits in [-7, 7]: 4-point tables of G and of the key (small heap)


def _wnaf(k, w):
    """Width-w NAF of 0 <= k < n as _NAF_LEN signed bytes (two's complement), lowest first."""
    out = bytearray(_NAF_LEN)
    full = 1 << w
    half = full >> 1
    mask = full - 1
    i = 0
    while k:
        if k & 1:
            d = k & mask
            if d >= half:
                d -= full
            k -= d
            out[i] = d & 0xFF
        k >>= 1
        i += 1
    return out


def mul_joint(u1, u2, qx, qy):
    """Jacobian (X, Y, Z) of u1*G + u2*Q for public 0 <= u1, u2 < n (Z = 0: infinity).

    One pass over both wNAFs (Shamir's trick), each digit a mixed addition from the affine
    table of G or of Q, both built here with one inversion (G's is not kept: a card's heap is
    small); the partial sum may meet infinity or the table point itself, which add() handles.
    """
    n1 = _wnaf(u1, _WNAF)
    n2 = _wnaf(u2, _WNAF)
    tg, tq = affine_tables(((GX, GY, 1), (qx, qy, 1)), 4)
    p = P
    X = Y = 1
    Z = 0
    for i in range(_NAF_LEN - 1, -1, -1):
        if Z:  # 2(X:Y:Z) as p256_group.double; skipped while the sum is infinity
            zz = Z * Z % p
            yy = Y * Y % p
            b = X * yy % p
            a = 3 * (X - zz) * (X + zz) % p
            Z = (Y + Y) * Z % p
            X = (a * a - 8 * b) % p
            Y = (a * (4 * b - X) - 8 * yy * yy) % p
        for t in (tg, tq):
            a = n1[i] if t is tg else n2[i]
            if not a:
                continue
            if a < 128:  # +aP; digits are two's complement bytes
                e = t[a >> 1]
                y2 = int.from_bytes(e[32:], "big")
            else:  # -|a|P
                e = t[(256 - a) >> 1]
                y2 = p - int.from_bytes(e[32:], "big")
            x2 = int.from_bytes(e[:32], "big")
            zz = Z * Z % p
            h = x2 * zz % p - X
            rr = y2 * Z % p * zz % p - Y
            if h and Z:
                hh = h * h % p
                hhh = h * hh % p
                b = X * hh % p
                X = (rr * rr - hhh - 2 * b) % p
                Y = (rr * (b - X) - Y * hhh) % p
                Z = Z * h % p
            else:
                X, Y, Z = add(X, Y, Z, x2, y2, 1)
    return X, Y, Z


def signature_parts(pub, digest, sig):
    """(x, y, r, s) of a verification's key and signature, or None when the lengths are wrong
    or r, s are outside 1..n-1 (SEC 1 4.1.4 step 1); ValueError unless the key is a point."""
    if len(sig) != 64 or len(digest) != 32:
        return None
    x, y = decode_point(pub)
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    if 0 < r < N and 0 < s < N:
        return x, y, r, s
    return None


def verify(pub, digest, sig):
    """p256.verify, which turns TypeError and ValueError (a bad key) into False."""
    parts = signature_parts(pub, digest, sig)
    if not parts:
        return False
    qx, qy, r, s = parts
    n = N
    w = pow(s, n - 2, n)
    x, _, z = mul_joint(int.from_bytes(digest, "big") * w % n, r * w % n, qx, qy)
    if not z:
        return False
    # SEC 1 4.1.4 steps 6-8 without inverting z: affine x = x/z^2, and x mod n == r
    p = P
    zz = z * z % p
    if r * zz % p == x:
        return True
    r += n
    return r < p and r * zz % p == x

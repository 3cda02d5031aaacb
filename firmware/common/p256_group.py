"""P-256 group law: curve constants, point decoding, Jacobian formulas, window tables of G.

The arithmetic under common.p256 (see there for the API and for what is and is not protected).
Points are Jacobian (X:Y:Z) = affine (X/Z^2, Y/Z^3), Z = 0 the point at infinity.
"""
# ruff: noqa: N803, N806 -- Jacobian X, Y, Z keep the capitals of the formulas they transcribe
import os

from micropython import const

# Curve P-256 (SP 800-186 3.2.1.3): y^2 = x^3 - 3x + b over GF(p), G of prime order n
P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
_GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
_GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

W = const(5)  # secret scalars: windows of 5 bits, signed odd digits in [-31, 31]
DIGITS = const(64)  # 64 windows hold a blinded scalar k + r*n < 2^320
_TEETH = (1, 2, 4, 8, 16, 32, 64)

_tables = None  # G's comb: tooth j holds odd multiples of 2^(5*rows*j) G as flat x, y


def random_below(m):
    """Uniform in 1..m-1 by rejection (m is p or n, both just below 2^256)."""
    while True:
        x = int.from_bytes(os.urandom(32), "big")
        if 0 < x < m:
            return x


def decode_point(pub):
    """(x, y) of an uncompressed point; ValueError unless on the curve (SEC 1 3.2.2.1, 2.3.4)."""
    if len(pub) != 65 or pub[0] != 4:
        raise ValueError("public key encoding")
    p = P
    x = int.from_bytes(pub[1:33], "big")
    y = int.from_bytes(pub[33:65], "big")
    # x, y in [0, p) and y^2 = x^3 - 3x + b; n is prime and the cofactor 1, so nQ = O follows
    if x >= p or y >= p or (y * y - ((x * x - 3) * x + _B)) % p:
        raise ValueError("public key not on the curve")
    return x, y


def double(X, Y, Z):
    """2(X:Y:Z) in Jacobian coordinates for a = -3 (EFD dbl-2001-b); Z = 0 is infinity."""
    p = P
    zz = Z * Z % p
    yy = Y * Y % p
    b = X * yy % p
    a = 3 * (X - zz) * (X + zz) % p
    Z = (Y + Y) * Z % p
    X = (a * a - 8 * b) % p
    return X, (a * (4 * b - X) - 8 * yy * yy) % p, Z


def add(X1, Y1, Z1, X2, Y2, Z2):
    """(X1:Y1:Z1) + (X2:Y2:Z2) for any inputs: equal points, opposite points, infinity (Z = 0).

    EFD add-1998-cmo-2 plus its special cases; the inlined additions of p256_mul fall back here.
    """
    p = P
    if not Z1:
        return X2 % p, Y2 % p, Z2 % p
    if not Z2:
        return X1, Y1, Z1
    z1z1 = Z1 * Z1 % p
    z2z2 = Z2 * Z2 % p
    u1 = X1 * z2z2 % p
    s1 = Y1 * Z2 % p * z2z2 % p
    h = (X2 * z1z1 - u1) % p
    r = (Y2 * Z1 % p * z1z1 - s1) % p
    if not h:
        if r:
            return 1, 1, 0
        return double(X1, Y1, Z1)
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    X3 = (r * r - hhh - 2 * v) % p
    return X3, (r * (v - X3) - s1 * hhh) % p, Z1 * Z2 % p * h % p


def jacobian_multiples(x, y, count):
    """Window table of a peer point: P, 3P, ..., (2*count-1)P as flat X, Y, Z, Z^2, Z^3.

    Left Jacobian: the inversion that would make it affine costs more than the three extra
    multiplications per addition over the ~60 windows that use it.
    """
    p = P
    dX, dY, dZ = double(x, y, 1)
    X, Y, Z = x, y, 1
    out = [1] * (5 * count)
    out[0] = x
    out[1] = y
    for i in range(5, 5 * count, 5):
        X, Y, Z = add(X, Y, Z, dX, dY, dZ)
        zz = Z * Z % p
        out[i] = X
        out[i + 1] = Y
        out[i + 2] = Z
        out[i + 3] = zz
        out[i + 4] = zz * Z % p
    return out


def affine_multiples(X, Y, Z, count):
    """Window table [x1, y1, x3, y3, ...] of affine P, 3P, ..., (2*count-1)P (for G)."""
    dX, dY, dZ = double(X, Y, Z)
    pts = [0] * (3 * count)
    for i in range(0, 3 * count, 3):
        if i:
            X, Y, Z = add(X, Y, Z, dX, dY, dZ)
        pts[i] = X
        pts[i + 1] = Y
        pts[i + 2] = Z
    # Montgomery's trick: one inversion for the whole table
    p = P
    m = count
    prefix = [1] * m
    acc = 1
    for i in range(m):
        prefix[i] = acc
        acc = acc * pts[3 * i + 2] % p
    inv = pow(acc, p - 2, p)
    out = [0] * (2 * m)
    for i in range(m - 1, -1, -1):
        zi = inv * prefix[i] % p
        inv = inv * pts[3 * i + 2] % p
        zi2 = zi * zi % p
        # `| 0` copies into a right-sized int: a remainder keeps the dividend's digit buffer
        out[2 * i] = pts[3 * i] * zi2 % p | 0
        out[2 * i + 1] = pts[3 * i + 1] * zi2 % p * zi % p | 0
    return out


def _build(teeth):
    rows = DIGITS // teeth
    out = []
    X, Y, Z = _GX, _GY, 1
    for j in range(teeth):
        if j:
            for _ in range(W * rows):
                X, Y, Z = double(X, Y, Z)
        out.append(affine_multiples(X, Y, Z, 16))
    return out


def base_tables():
    """G's comb teeth, the default two built on first use; teeth[0] is G, 3G, ..., 31G."""
    global _tables
    if _tables is None:
        _tables = _build(2)
    return _tables


def set_teeth(teeth):
    """Rebuild G's comb with `teeth` tables (see p256.enable_fixed_base_table); None drops it."""
    global _tables
    if teeth is not None and teeth not in _TEETH:
        raise ValueError("teeth")
    _tables = None  # let the old tables go before building the new ones
    if teeth is not None:
        _tables = _build(teeth)

"""P-256 group law: curve constants, point decoding, Jacobian formulas, window tables of G.

The arithmetic under common.p256 (see there for the API and for what is and is not protected).
Points are Jacobian (X:Y:Z) = affine (X/Z^2, Y/Z^3), Z = 0 the point at infinity.
"""
# ruff: noqa: N803, N806 -- Jacobian X, Y, Z keep the capitals of the formulas they transcribe
import gc
import os

from micropython import const

# Curve P-256 (SP 800-186 3.2.1.3): y^2 = x^3 - 3x + b over GF(p), G of prime order n
P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
_B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)

COMB = []  # the fixed-base table, G's comb of 1 to 64 teeth (common.p256_comb), or empty
NATIVE = []  # the C arithmetic, module p256_native (firmware/natmod), or empty: pure Python
try:  # absent (CPython, a board without it) or built for another arch (ValueError): pure path
    import p256_native

    NATIVE.append(p256_native)
except (ImportError, ValueError):
    gc.collect()  # the failed lookup's path strings go now, before they fragment a small heap


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


def affine_tables(points, count):
    """Window tables of Jacobian points: for each P of `points`, P, 3P, ..., (2*count-1)P,
    affine, as a list of one bytearray(64) per point, x || y big-endian.

    Bytes: a third less heap than the same values as ints (a 256-bit int takes 64 to 100
    bytes on 64-bit unix), and no allocation bigger than a point, which a fragmented small heap
    cannot refuse. One inversion for all the tables (Montgomery's trick), so that the additions
    that use them are mixed ones.
    """
    p = P
    m = len(points) * count
    out = [None] * m
    zs = [0] * m  # Z of point i
    prefix = [0] * m  # product of the Zs of points 0 .. i-1
    acc = 1
    i = 0
    for X, Y, Z in points:
        dX, dY, dZ = double(X, Y, Z)
        for k in range(count):
            if k:
                X, Y, Z = add(X, Y, Z, dX, dY, dZ)
            e = out[i] = bytearray(64)
            e[:32] = X.to_bytes(32, "big")
            e[32:] = Y.to_bytes(32, "big")
            zs[i] = Z | 0  # `| 0` copies into a right-sized int: a remainder keeps the
            prefix[i] = acc  # dividend's digit buffer, half as big again
            acc = acc * Z % p | 0
            i += 1
    inv = pow(acc, p - 2, p)
    for i in range(m - 1, -1, -1):
        zi = inv * prefix[i] % p
        inv = inv * zs[i] % p
        zi2 = zi * zi % p
        e = out[i]
        x = int.from_bytes(e[:32], "big") * zi2 % p
        y = int.from_bytes(e[32:], "big") * zi2 % p * zi % p
        e[:32] = x.to_bytes(32, "big")
        e[32:] = y.to_bytes(32, "big")
    return [out[j : j + count] for j in range(0, m, count)]

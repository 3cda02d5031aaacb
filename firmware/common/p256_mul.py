"""P-256 scalar multiplication: blinded k*P for secret scalars, joint u1*G + u2*Q for verify.

The hot loops of common.p256, with the doubling and addition formulas of common.p256_group
written out inline: a call per formula would add about a quarter to the time.
"""
# ruff: noqa: N803, N806 -- Jacobian X, Y, Z keep the capitals of the formulas they transcribe
import os

from micropython import const

from common.p256_group import DIGITS, N, P, W, add, base_tables, jacobian_multiples, random_below

_NAF_LEN = const(257)  # a wNAF of a scalar below n has at most 257 digits
_WNAF_G = const(6)  # verify: digits of u1 in [-31, 31] use the 16-point table of G
_WNAF_Q = const(5)  # verify: digits of u2 in [-15, 15], an 8-point table of the key


def _comb_digits(k, teeth):
    """Signed odd digits of the blinded k, plus 32, in the order the comb consumes them.

    Scalar blinding: k' = k + r*n with 0 <= r <= 2^63, forced odd, so that every digit of the
    regular recoding (Joye-Tunstall) is odd and nonzero: d_i = (k' mod 64) - 32, k' = (k' - d_i)/32.
    k' < 2^320 leaves a top digit in 1..31 after 63 steps. Bytes, not a list: 64 bytes of heap.
    """
    k += (int.from_bytes(os.urandom(8), "big") >> 1) * N
    if not k & 1:
        k += N
    dig = bytearray(DIGITS)
    for i in range(DIGITS - 1):
        d = (k & 63) - 32
        dig[i] = d + 32
        k = (k - d) >> W
    dig[DIGITS - 1] = k + 32
    rows = DIGITS // teeth
    seq = bytearray(DIGITS)
    for s in range(DIGITS):
        seq[s] = dig[s // teeth + (s % teeth) * rows]
    return seq


def mul_secret(k, tables, jac=False):
    """Affine (x, y) of k*P for a secret k in 1..n-1.

    `tables` are the comb teeth of P (affine, for G), or with `jac` the one Jacobian table of a
    peer point (a plain fixed window). The last digit consumed is the lowest.
    """
    p = P
    teeth = len(tables)
    last = teeth - 1
    seq = _comb_digits(k, teeth)
    # randomized projective coordinates: the top digit's point times a random z (X z^2, Y z^3, Z z)
    tab = tables[last]
    a = seq[DIGITS - 1] - 32
    z = random_below(p)
    zz = z * z % p
    if jac:
        i = 5 * (a >> 1)
        X = tab[i] * zz % p
        Y = tab[i + 1] * zz % p * z % p
        Z = tab[i + 2] * z % p
    else:
        X = tab[a - 1] * zz % p
        Y = tab[a] * zz % p * z % p
        Z = z
    z2 = 1
    for s in range(DIGITS - 2, -1, -1):
        j = s % teeth
        if j == last:
            for _ in range(W):  # 2(X:Y:Z), a = -3 (EFD dbl-2001-b), as double
                zz = Z * Z % p
                yy = Y * Y % p
                b = X * yy % p
                a = 3 * (X - zz) * (X + zz) % p
                Z = (Y + Y) * Z % p
                X = (a * a - 8 * b) % p
                Y = (a * (4 * b - X) - 8 * yy * yy) % p
        tab = tables[j]
        a = seq[s] - 32
        # (X:Y:Z) + (x2:y2:z2): mixed for an affine table (u1 = X, s1 = Y), else full (as add)
        if jac:
            i = 5 * ((a if a > 0 else -a) >> 1)
            x2 = tab[i]
            y2 = tab[i + 1] if a > 0 else p - tab[i + 1]
            z2 = tab[i + 2]
            u1 = X * tab[i + 3] % p
            s1 = Y * tab[i + 4] % p
        else:
            if a > 0:
                x2 = tab[a - 1]
                y2 = tab[a]
            else:
                x2 = tab[-1 - a]
                y2 = p - tab[-a]
            u1 = X
            s1 = Y
        zz = Z * Z % p
        h = x2 * zz % p - u1
        r = y2 * Z % p * zz % p - s1
        if h and Z:
            hh = h * h % p
            hhh = h * hh % p
            b = u1 * hh % p
            X = (r * r - hhh - 2 * b) % p
            Y = (r * (b - X) - s1 * hhh) % p
            Z = Z * h % p
            if jac:
                Z = Z * z2 % p
        else:  # equal points or infinity: never for honest inputs, handled all the same
            X, Y, Z = add(X, Y, Z, x2, y2, z2)
    if not Z:
        raise ValueError("point at infinity")
    zi = pow(Z, p - 2, p)
    zz = zi * zi % p
    return X * zz % p, Y * zz % p * zi % p


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

    One pass over both wNAFs (Shamir's trick); the partial sum may meet infinity or the table
    point itself, which add() handles.
    """
    n1 = _wnaf(u1, _WNAF_G)
    n2 = _wnaf(u2, _WNAF_Q)
    tg = base_tables()[0]
    tq = jacobian_multiples(qx, qy, 8)
    p = P
    X = Y = 1
    Z = 0
    for i in range(_NAF_LEN - 1, -1, -1):
        if Z:  # doubling as in mul_secret; skipped while the sum is still infinity
            zz = Z * Z % p
            yy = Y * Y % p
            b = X * yy % p
            a = 3 * (X - zz) * (X + zz) % p
            Z = (Y + Y) * Z % p
            X = (a * a - 8 * b) % p
            Y = (a * (4 * b - X) - 8 * yy * yy) % p
        a = n1[i]
        if a:  # mixed addition of the affine +-|a|G
            if a < 128:
                x2 = tg[a - 1]
                y2 = tg[a]
            else:
                x2 = tg[255 - a]
                y2 = p - tg[256 - a]
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
        a = n2[i]
        if a:  # full addition of the Jacobian +-|a|Q, its Z^2 and Z^3 from the table
            i5 = 5 * ((a if a < 128 else 256 - a) >> 1)
            x2 = tq[i5]
            y2 = tq[i5 + 1] if a < 128 else p - tq[i5 + 1]
            uu = X * tq[i5 + 3] % p
            ss = Y * tq[i5 + 4] % p
            zz = Z * Z % p
            h = x2 * zz % p - uu
            rr = y2 * Z % p * zz % p - ss
            if h and Z:
                hh = h * h % p
                hhh = h * hh % p
                b = uu * hh % p
                X = (rr * rr - hhh - 2 * b) % p
                Y = (rr * (b - X) - ss * hhh) % p
                Z = Z * h % p * tq[i5 + 2] % p
            else:
                X, Y, Z = add(X, Y, Z, x2, y2, tq[i5 + 2])
    return X, Y, Z

"""G's fixed-base table for P-256 (p256.enable_fixed_base_table): a comb of 1 to 64 teeth.

A module of its own, apart from common.p256_group, so that a card that never enables the
table never loads this code.
"""
# ruff: noqa: N806 -- Jacobian X, Y, Z keep the capitals of the formulas
from micropython import const

from common.p256_group import GX, GY, affine_tables, double

_W = const(5)  # windows of 5 bits: signed odd digits in [-31, 31], 16 points a tooth...
_DIGITS = const(64)  # ...64 of them for a blinded scalar below 2^320 (common.p256_mul)
_TEETH = (1, 2, 4, 8, 16, 32, 64)


def comb(teeth):
    """G's comb with `teeth` teeth (a power of two up to 64; ValueError otherwise): tooth j
    is the 16-point table of 2^(5*rows*j) G, rows = 64 // teeth windows a tooth, as
    common.p256_mul consumes it."""
    if teeth not in _TEETH:
        raise ValueError("teeth")
    rows = _DIGITS // teeth
    X, Y, Z = GX, GY, 1
    out = []
    for j in range(teeth):
        if j:
            for _ in range(_W * rows):
                X, Y, Z = double(X, Y, Z)
        out.append(affine_tables(((X, Y, Z),), 16)[0])
    return out

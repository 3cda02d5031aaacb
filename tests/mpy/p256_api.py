"""P-256 API edges: range and encoding checks, special verify cases, nonce derivation, tables.

Needs no vectors: the expected values follow from the curve (G, -G = (Gx, p - Gy), 2G = G + G)
and from the ECDSA equations.
"""
import sys
from hashlib import sha256

from common import p256, p256_group

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5

failures = []
checks = 0


def b32(x):
    return x.to_bytes(32, "big")


def point(x, y, prefix=b"\x04"):
    return prefix + b32(x) + b32(y)


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)


def raises(fn, *args):
    try:
        fn(*args)
    except ValueError:
        return True
    return False


def affine(x, y, z):
    """Jacobian (x:y:z) to affine."""
    zi = pow(z, P - 2, P)
    return x * zi * zi % P, y * zi * zi * zi % P


G = point(GX, GY)
NEG_G = point(GX, P - GY)
ONE = b32(1)

# public_key: 1*G, (n-1)*G = -G, and 2*G from the group law
check(p256.public_key(ONE) == G, "public_key(1) != G")
check(p256.public_key(b32(N - 1)) == NEG_G, "public_key(n-1) != -G")
X2, Y2 = affine(*p256_group.double(GX, GY, 1))
G2 = point(X2, Y2)
check(p256.public_key(b32(2)) == G2, "public_key(2) != 2G")

# p256_group.add, the fallback of every inlined addition: doubling, opposite points, infinity
check(affine(*p256_group.add(GX, GY, 1, GX, GY, 1)) == (X2, Y2), "add(G, G) != 2G")
check(p256_group.add(GX, GY, 1, GX, P - GY, 1)[2] == 0, "add(G, -G) is not infinity")
check(affine(*p256_group.add(1, 1, 0, GX, GY, 1)) == (GX, GY), "add(O, G) != G")
check(affine(*p256_group.add(X2, Y2, 1, 1, 1, 0)) == (X2, Y2), "add(2G, O) != 2G")
check(p256_group.double(1, 1, 0)[2] == 0, "double(O) is not infinity")
Z = 0x1234567
X3, Y3 = affine(*p256_group.add(GX * Z * Z % P, GY * Z * Z * Z % P, Z, X2, Y2, 1))
check(point(X3, Y3) == p256.public_key(b32(3)), "add(G, 2G) != 3G")

# private keys: 32 bytes, 1..n-1
for bad in (bytes(32), b32(N), b"\xff" * 32, ONE[1:], b"\x00" + ONE):
    check(raises(p256.public_key, bad), f"public_key accepted {bad!r}")
    check(raises(p256.sign, bad, bytes(32)), f"sign accepted key {bad!r}")
    check(raises(p256.ecdh, bad, G), f"ecdh accepted key {bad!r}")
check(raises(p256.sign, ONE, bytes(31)), "sign accepted a 31-byte digest")

# a point with a small x (p = 3 mod 4: a square root is a power), so x + p still fits 32 bytes
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
SX = 1
while True:
    rhs = (SX * SX * SX - 3 * SX + B) % P
    SY = pow(rhs, (P + 1) // 4, P)
    if SY * SY % P == rhs:
        break
    SX += 1
check(p256.valid_public_key(point(SX, SY)), "small-x point rejected")

# peer points: encoding, range, curve equation
bad_points = [
    b"", b"\x00", G[:64], G + b"\x00", point(GX, GY, b"\x02"), point(GX, GY, b"\x03"),
    b"\x02" + b32(GX), point(GX, GY ^ 1), point(SX + P, SY), point(SX, SY, b"\x06"),
    point(0, 0), point(P, 0), point(0, P), point(GX, 0),
]
for bad in bad_points:
    check(raises(p256.ecdh, ONE, bad), f"ecdh accepted point {bad!r}")
    check(not p256.valid_public_key(bad), f"valid_public_key accepted {bad!r}")
for garbage in (None, 4, "04" * 65, [4] * 65):
    check(not p256.valid_public_key(garbage), f"valid_public_key({garbage!r})")
check(p256.valid_public_key(G) and p256.valid_public_key(NEG_G), "G or -G rejected")
check(p256.ecdh(ONE, G2) == b32(X2), "ecdh(1, 2G) != x(2G)")
check(p256.ecdh(b32(2), G) == b32(X2), "ecdh(2, G) != x(2G)")

# verify: never raises, rejects out-of-range r, s and malformed input
priv, pub = p256.generate()
digest = sha256(b"upurse").digest()
sig = p256.sign(priv, digest)
r = int.from_bytes(sig[:32], "big")
s = int.from_bytes(sig[32:], "big")
check(p256.verify(pub, digest, sig), "own signature rejected")
check(p256.verify(pub, digest, b32(r) + b32(N - s)), "(r, n-s) rejected")
check(p256.verify(pub, bytearray(digest), bytearray(sig)), "bytearray input rejected")
bad_sigs = [b32(0) + b32(s), b32(r) + b32(0), b32(N) + b32(s), b32(r) + b32(N), sig[:63],
            sig + b"\x00", b"", b32(r) + b32(s ^ 1)]
if r + N < 1 << 256:
    bad_sigs.append(b32(r + N) + b32(s))  # same value mod n, out of range
if s + N < 1 << 256:
    bad_sigs.append(b32(r) + b32(s + N))
for bad in bad_sigs:
    check(p256.verify(pub, digest, bad) is False, f"verify accepted sig {bad!r}")
for args in ((None, digest, sig), (pub, None, sig), (pub, digest, None), (pub[:64], digest, sig),
             (pub, digest[:31], sig), ("x" * 65, digest, sig), (pub, "x" * 32, sig),
             (NEG_G, digest, sig), (point(GX, GY ^ 1), digest, sig)):
    check(p256.verify(*args) is False, f"verify{args!r} is not False")

# Shamir edge cases with Q = G. u1 = u2 = 1 makes the first two additions a doubling:
# digest e = r = s = x(2G) gives R = 1*G + 1*G = 2G, whose x is r, so the signature is valid.
e2 = b32(X2)
check(p256.verify(G, e2, e2 + e2), "u1 = u2 = 1 (doubling in the joint sum) rejected")
check(not p256.verify(G, e2, e2 + b32(X2 + 1)), "u1 = u2 = 1 with a wrong s accepted")
# r = n - e, s = 1: R = e*G + (n - e)*G = infinity
check(not p256.verify(G, b32(5), b32(N - 5) + b32(1)), "R = infinity accepted")
# Chosen u1, u2 (Q = G) whose last window meets the table point itself or its negative, in the
# G-table and in the Q-table addition: s = r/u2, e = u1*s. R = (u1 + u2)G gives r (valid), or
# is infinity (never valid).
for u1, u2 in ((65, N - 63), (3, N - 3), (1 << 20, N + 30 - (1 << 20)), (2, N - 2)):
    total = (u1 + u2) % N
    r = int.from_bytes(p256.public_key(b32(total))[1:33], "big") % N if total else 7
    s = r * pow(u2, N - 2, N) % N
    e = u1 * s % N
    check(p256.verify(G, b32(e), b32(r) + b32(s)) == bool(total), f"joint sum u1={u1}")
# e = 0 and e >= n (u1 = 0 and a digest above n): sign and verify still agree
for special in (bytes(32), b32(N), b"\xff" * 32):
    check(p256.verify(pub, special, p256.sign(priv, special)), f"digest {special!r}")

# RFC 6979 3.6: the additional data changes k; fixed additional data gives a fixed signature
plain = p256._sign(priv, digest, b"")
check(plain == p256._sign(priv, digest, b""), "RFC 6979 not deterministic")
extra = p256._sign(priv, digest, b"\x5a" * 32)
check(extra == p256._sign(priv, digest, b"\x5a" * 32), "fixed additional data not deterministic")
check(extra[:32] != plain[:32], "additional data did not change k")
check(p256.sign(priv, digest)[:32] != p256.sign(priv, digest)[:32], "sign() repeated its k")
check(p256.verify(pub, digest, plain) and p256.verify(pub, digest, extra), "RFC 6979 sig rejected")

# the fixed-base comb: every tooth count gives the same keys and signatures
for teeth in (1, 4, 64, 2):
    p256.enable_fixed_base_table(teeth)
    check(p256.public_key(priv) == pub, f"public_key with {teeth} teeth")
    check(p256._sign(priv, digest, b"") == plain, f"RFC 6979 signature with {teeth} teeth")
    check(p256.public_key(b32(N - 1)) == NEG_G, f"public_key(n-1) with {teeth} teeth")
p256.disable_fixed_base_table()
check(p256.public_key(priv) == pub, "public_key after disable_fixed_base_table")
check(raises(p256.enable_fixed_base_table, 3), "enable_fixed_base_table(3) accepted")

for msg in failures:
    print("FAIL", msg)
if failures:
    sys.exit(1)
print(f"OK p256 api {checks} checks native={len(p256_group.NATIVE)}")

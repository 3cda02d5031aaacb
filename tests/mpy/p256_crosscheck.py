"""The native P-256 module (firmware/natmod) against the pure-Python path, on random inputs.

Run with p256_native on the path. Compares each native primitive with the pure code it
replaces (mul_secret, mul_joint, big-integer arithmetic mod n) on random and edge inputs, then
the whole API with p256_group.NATIVE holding the module and empty: the same public keys, ECDH
secrets, RFC 6979 signatures and verify answers. argv[1]: the number of random cases;
argv[2] (optional, default 32): edge scalars k and n - k tried from 1 up (the QEMU board, where
the pure path is slow, takes a few).
"""
import os
import sys

from common import p256, p256_group, p256_joint, p256_mul

if not p256_group.NATIVE:
    print("FAIL p256_native does not import")
    sys.exit(1)
nat = p256_group.NATIVE[0]

P = p256_group.P
N = p256_group.N
GX = p256_group.GX
GY = p256_group.GY
count = int(sys.argv[1])
edge_count = int(sys.argv[2]) if len(sys.argv) > 2 else 32
failures = []
checks = 0


def check(ok, what):
    global checks
    checks += 1
    if not ok:
        failures.append(what)


def b32(x):
    return x.to_bytes(32, "big")


def rand_scalar():
    return p256_group.random_below(N)


def pure_mul(k, x=GX, y=GY):
    xy = p256_mul.mul_secret(k, p256_group.affine_tables(((x, y, 1),), 8))
    return b32(xy[0]) + b32(xy[1])


def pure_mul2(u1, u2, x, y):
    X, Y, Z = p256_joint.mul_joint(u1, u2, x, y)  # noqa: N806
    if not Z:
        return None
    zi = pow(Z, P - 2, P)
    return b32(X * zi * zi % P) + b32(Y * zi * zi * zi % P)


def raises(fn, *args):
    try:
        fn(*args)
    except ValueError:
        return True
    return False


# k*G and k*P: edges (the last window meets the table point for k = 2|d| and n - 2|d|), random
edges = [k for i in range(1, edge_count + 1) for k in (i, N - i)]
edges += [N // 2, 1 << 255, (1 << 128) + 1]
points = [(GX, GY), (GX, P - GY)]
for _ in range(count):
    xy = nat.mul(b32(rand_scalar()), None)
    points.append((int.from_bytes(xy[:32], "big"), int.from_bytes(xy[32:], "big")))
for k in edges + [rand_scalar() for _ in range(count)]:
    check(nat.mul(b32(k), None) == pure_mul(k), f"mul({k}, G)")
for i, (x, y) in enumerate(points):
    k = edges[i % len(edges)] if i % 2 else rand_scalar()
    check(nat.mul(b32(k), b32(x) + b32(y)) == pure_mul(k, x, y), f"mul(k, P{i})")

# u1*G + u2*Q: zero scalars, Q = +-G (doubling and cancellation inside the joint sum), random
joint = [(0, 1, 0), (1, 0, 0), (0, 0, 0), (1, 1, 0), (1, N - 1, 0), (5, N - 5, 0), (2, N - 2, 1),
         (65, N - 63, 0), (1 << 20, N + 30 - (1 << 20), 0)]
joint += [(rand_scalar(), rand_scalar(), 2 + i % (len(points) - 2)) for i in range(count)]
for u1, u2, q in joint:
    x, y = points[q]
    check(nat.mul2(b32(u1), b32(u2), b32(x) + b32(y)) == pure_mul2(u1, u2, x, y),
          f"mul2({u1}, {u2}, P{q})")

# mod n
for _ in range(count):
    a, b = rand_scalar(), rand_scalar()
    check(nat.mul_n(b32(a), b32(b)) == b32(a * b % N), "mul_n")
    check(nat.add_n(b32(a), b32(b)) == b32((a + b) % N), "add_n")
    check(nat.inv_n(b32(a)) == b32(pow(a, N - 2, N)), "inv_n")
check(nat.add_n(b32(N - 1), b32(1)) == bytes(32), "add_n wraps to 0")
check(nat.inv_n(b32(1)) == b32(1) and nat.inv_n(b32(N - 1)) == b32(N - 1), "inv_n of +-1")

# bad arguments: ValueError, never a wrong answer
G = b32(GX) + b32(GY)
for fn, args in ((nat.mul, (bytes(32), None)), (nat.mul, (b32(N), None)), (nat.mul, (b"\1", G)),
                 (nat.mul, (b32(1), G[:63])), (nat.mul, (b32(1), b32(P) + b32(GY))),
                 (nat.mul2, (b32(N), b32(1), G)), (nat.inv_n, (bytes(32),)),
                 (nat.mul_n, (b32(N), b32(1)))):
    check(raises(fn, *args), f"{fn} accepted {args!r}")

# the API: native and pure agree
for i in range(count):
    priv, pub = p256.generate()
    peer_priv, peer_pub = p256.generate()
    digest = os.urandom(32)
    answers = []
    for on in (True, False):
        p256_group.NATIVE[:] = [nat] if on else []
        sig = p256._sign(priv, digest, b"")
        bad = bytearray(sig)
        bad[i % 64] ^= 1
        answers.append((p256.public_key(priv), p256.ecdh(priv, peer_pub), sig,
                        p256.verify(pub, digest, sig), p256.verify(pub, digest, bytes(bad)),
                        p256.verify(peer_pub, digest, sig)))
    check(answers[0] == answers[1], f"api case {i}: native {answers[0]!r}, pure {answers[1]!r}")
    check(answers[0][3] and not answers[0][4] and not answers[0][5], f"api case {i} verify")

for msg in failures:
    print("FAIL", msg)
if failures:
    sys.exit(1)
print(f"OK p256 native {checks} checks")

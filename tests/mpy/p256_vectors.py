"""Published P-256 vectors: Wycheproof ECDSA (P1363) and ECDH, RFC 6979 A.2.5 signatures.

argv[1] is a file the pytest side extracted from the JSON / text vectors, one case a line,
hex fields, "-" for an empty one:
    ecdsa <tcId> <result> <pub> <msg> <sig>      msg is hashed with SHA-256, then verify
    ecdh <tcId> <result> <pub> <priv> <shared>
    rfc6979 <name> <priv> <pub> <msg> <sig>      sign with empty additional data: exact r||s
"""
import sys
from binascii import hexlify, unhexlify
from hashlib import sha256

from common import p256, p256_group

failures = []
counts = {"ecdsa": 0, "ecdh": 0, "rfc6979": 0}


def unhex(field):
    return b"" if field == "-" else unhexlify(field)


def fail(kind, name, what):
    failures.append(f"{kind} {name}: {what}")


def check_ecdsa(tc, result, pub, msg, sig):
    got = p256.verify(pub, sha256(msg).digest(), sig)
    if got not in (True, False):
        fail("ecdsa", tc, f"verify returned {got!r}")
    elif result == "valid" and not got:
        fail("ecdsa", tc, "valid signature rejected")
    elif result == "invalid" and got:
        fail("ecdsa", tc, "invalid signature accepted")


def check_ecdh(tc, result, pub, priv, shared):
    try:
        got = p256.ecdh(priv, pub)
    except ValueError:
        got = None
    if result == "valid" and got != shared:
        fail("ecdh", tc, f"shared secret {got and hexlify(got)!r}")
    elif result == "invalid" and got is not None:
        fail("ecdh", tc, "invalid public key accepted")
    elif result == "acceptable" and got not in (None, shared):
        fail("ecdh", tc, "wrong shared secret")
    if p256.valid_public_key(pub) != (got is not None):
        fail("ecdh", tc, "valid_public_key disagrees with ecdh")


def check_rfc6979(name, priv, pub, msg, sig):
    digest = sha256(msg).digest()
    if p256.public_key(priv) != pub:
        fail("rfc6979", name, "public key")
    got = p256._sign(priv, digest, b"")
    if got != sig:
        fail("rfc6979", name, f"signature {hexlify(got).decode()}")
    if not p256.verify(pub, digest, got):
        fail("rfc6979", name, "own signature does not verify")


for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    kind = f[0]
    counts[kind] += 1
    if kind == "ecdsa":
        check_ecdsa(f[1], f[2], unhex(f[3]), unhex(f[4]), unhex(f[5]))
    elif kind == "ecdh":
        check_ecdh(f[1], f[2], unhex(f[3]), unhex(f[4]), unhex(f[5]))
    else:
        check_rfc6979(f[1], unhex(f[2]), unhex(f[3]), unhex(f[4]), unhex(f[5]))

for msg in failures:
    print("FAIL", msg)
if failures:
    sys.exit(1)
print(f"OK p256 vectors ecdsa={counts['ecdsa']} ecdh={counts['ecdh']} "
      f"rfc6979={counts['rfc6979']} native={len(p256_group.NATIVE)}")

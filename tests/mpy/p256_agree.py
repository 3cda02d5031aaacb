"""Agreement with `cryptography`: the pytest side made the keys, secrets and signatures.

argv[1]: one case a line, hex: <privA> <pubA> <privB> <pubB> <shared> <msg> <sigA>
(sigA is cryptography's r||s by A over SHA-256(msg)). Checks public_key, ECDH both ways and
verify here; prints, for the pytest side to check with cryptography:
    sig <i> <hex>                  our signature by B over SHA-256(msg)
    gen <i> <priv> <pub> <shared>  a key pair from generate() and its ECDH with pubA
argv[2] (optional): comb teeth for enable_fixed_base_table before the run.
"""
import sys
from binascii import hexlify, unhexlify
from hashlib import sha256

from common import p256, p256_group

if len(sys.argv) > 2:
    p256.enable_fixed_base_table(int(sys.argv[2]))

failures = []


def hx(data):
    return hexlify(data).decode()


count = 0
for i, line in enumerate(open(sys.argv[1])):
    f = [unhexlify(x) for x in line.split()]
    if not f:
        continue
    priv_a, pub_a, priv_b, pub_b, shared, msg, sig_a = f
    count += 1
    digest = sha256(msg).digest()
    if p256.public_key(priv_a) != pub_a or p256.public_key(priv_b) != pub_b:
        failures.append(f"{i} public_key")
    if p256.ecdh(priv_a, pub_b) != shared or p256.ecdh(priv_b, pub_a) != shared:
        failures.append(f"{i} ecdh")
    if not p256.verify(pub_a, digest, sig_a):
        failures.append(f"{i} cryptography's signature rejected")
    if p256.verify(pub_b, digest, sig_a):
        failures.append(f"{i} signature accepted under the wrong key")
    flipped = bytearray(digest)
    flipped[i % 32] ^= 1 << (i % 8)
    if p256.verify(pub_a, flipped, sig_a):
        failures.append(f"{i} signature accepted for another digest")
    sig = p256.sign(priv_b, digest)
    if not p256.verify(pub_b, digest, sig):
        failures.append(f"{i} own signature rejected")
    print("sig", i, hx(sig))
    priv_g, pub_g = p256.generate()
    if not p256.valid_public_key(pub_g):
        failures.append(f"{i} generated key not on the curve")
    print("gen", i, hx(priv_g), hx(pub_g), hx(p256.ecdh(priv_g, pub_a)))

for msg in failures:
    print("FAIL", msg)
if failures:
    sys.exit(1)
print(f"OK p256 agree {count} cases native={len(p256_group.NATIVE)}")

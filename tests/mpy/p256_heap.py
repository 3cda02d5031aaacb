"""Sign, verify and ECDH both ways in a small heap (run as `micropython -X heapsize=64k`)."""
import gc
from hashlib import sha256

from common import p256, p256_group

priv_a, pub_a = p256.generate()
priv_b, pub_b = p256.generate()
digest = sha256(b"key roll").digest()
sig = p256.sign(priv_a, digest)
assert p256.verify(pub_a, digest, sig)
assert not p256.verify(pub_b, digest, sig)
assert p256.ecdh(priv_a, pub_b) == p256.ecdh(priv_b, pub_a)
gc.collect()
print(f"OK p256 heap alloc={gc.mem_alloc()} free={gc.mem_free()} native={len(p256_group.NATIVE)}")

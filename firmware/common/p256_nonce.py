"""RFC 6979 nonces for P-256 signing (3.2 steps b-h, additional data k' as in 3.6).

Shared by the pure signing (common.p256_mul) and the native one (common.p256_c).
"""
from common.hmac_sha256 import hmac_sha256
from common.p256_group import N


def nonces(d, e, extra):
    """The candidate nonces k in 1..n-1 for private key d and digest e (ints), each with its
    32 bytes, in RFC 6979 order: the signer takes the first that gives r and s nonzero."""
    n = N
    # int2octets(x) || bits2octets(h1) || k'
    tail = d.to_bytes(32, "big") + (e % n).to_bytes(32, "big") + extra
    # RFC 6979 3.2 steps b-g
    v = b"\x01" * 32
    key = hmac_sha256(bytes(32), v + b"\x00" + tail)
    v = hmac_sha256(key, v)
    key = hmac_sha256(key, v + b"\x01" + tail)
    v = hmac_sha256(key, v)
    while True:
        v = hmac_sha256(key, v)  # step h.2: tlen = qlen, one block is enough
        k = int.from_bytes(v, "big")
        if 0 < k < n:
            yield k, v
        key = hmac_sha256(key, v + b"\x00")  # step h.3
        v = hmac_sha256(key, v)

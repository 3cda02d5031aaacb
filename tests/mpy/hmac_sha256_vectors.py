"""HMAC-SHA-256 against RFC 4231 and host-computed cases.

argv[1]: one case a line, hex: <key> <msg> <mac> ("-" for an empty field).
"""
import sys
from binascii import hexlify, unhexlify

from common.hmac_sha256 import hmac_sha256

count = 0
bad = 0
for line in open(sys.argv[1]):
    f = [b"" if x == "-" else unhexlify(x) for x in line.split()]
    if not f:
        continue
    count += 1
    got = hmac_sha256(f[0], f[1])
    if got != f[2]:
        bad += 1
        print("FAIL", hexlify(f[0]), hexlify(got))
if bad:
    sys.exit(1)
print(f"OK hmac_sha256 {count} vectors")

"""Edge cases of the symmetric core that vectors do not reach: equal() and length limits.

    micropython check_symmetric_edges.py

Prints `OK edges n checks` or the failing checks, exit 1.
"""
import sys

from common import keywrap, x963
from common.cmac import cmac, equal
from common.kdf import counter_mode, derive

_KEY = bytes(range(16))
_failed = []
_count = 0


def check(name, ok):
    global _count
    _count += 1
    if not ok:
        _failed.append(name)


def raises_value_error(fn, *args):
    try:
        fn(*args)
    except ValueError:
        return True
    return False


# equal(): the compare every MAC check goes through
tag = cmac(_KEY, b"upurse")
check("equal same", equal(tag, bytes(tag)))
check("equal bytes/bytearray", equal(tag, bytearray(tag)))
check("equal memoryview", equal(memoryview(tag), tag))
check("equal empty", equal(b"", b""))
for i in range(16):
    for bit in (0x01, 0x80):
        other = bytearray(tag)
        other[i] ^= bit
        check(f"equal flip byte {i} bit {bit:02x}", not equal(tag, other))
        check(f"equal flip byte {i} bit {bit:02x} reversed", not equal(other, tag))
check("equal truncated", not equal(tag, tag[:8]))
check("equal truncated reversed", not equal(tag[:8], tag))
check("equal longer", not equal(tag, tag + b"\x00"))
check("equal empty vs tag", not equal(b"", tag))
check("equal 16 vs 15 zero bytes", not equal(bytes(16), bytes(15)))

# SP 800-108 with an 8-bit counter: 1..255 blocks of 16 bytes
check("kdf length 0", raises_value_error(derive, _KEY, b"l", b"c", 0))
check("kdf length 4081", raises_value_error(derive, _KEY, b"l", b"c", 255 * 16 + 1))
check("kdf length 8192", raises_value_error(derive, _KEY, b"l", b"c", 8192))
check("kdf counter_mode 4081", raises_value_error(counter_mode, _KEY, b"", 255 * 16 + 1))
longest = derive(_KEY, b"l", b"c", 255 * 16)
check("kdf length 4080", len(longest) == 4080)
check("kdf L is bound in", derive(_KEY, b"l", b"c", 32)[:16] != derive(_KEY, b"l", b"c", 16))
check("kdf default 16", derive(_KEY, b"l", b"c") == derive(_KEY, b"l", b"c", 16))

# X9.63: length 0 is empty, longer output extends shorter (L is not in the hash input)
check("x963 length 0", x963.derive(b"z", b"", 0) == b"")
check("x963 prefix", x963.derive(b"z", b"i", 100)[:33] == x963.derive(b"z", b"i", 33))
check("x963 negative", raises_value_error(x963.derive, b"z", b"", -1))

# key wrap: sizes KW cannot carry (SP 800-38F 6.2: at least two 64-bit semiblocks)
for size in (0, 8, 15, 17, 20):
    check(f"wrap size {size}", raises_value_error(keywrap.wrap, _KEY, bytes(size)))
for size in (0, 8, 16, 23, 25, 31):
    check(f"unwrap size {size}", keywrap.unwrap(_KEY, bytes(size)) is None)
wrapped = keywrap.wrap(_KEY, bytes(range(32)))
check("unwrap round trip", keywrap.unwrap(_KEY, wrapped) == bytes(range(32)))
check("unwrap wrong kek", keywrap.unwrap(bytes(16), wrapped) is None)
check("unwrap memoryview", keywrap.unwrap(_KEY, memoryview(wrapped)) == bytes(range(32)))

if _failed:
    for name in _failed:
        print("FAIL", name)
    sys.exit(1)
print("OK edges", _count, "checks")

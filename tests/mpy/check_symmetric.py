"""Run compact symmetric-crypto vectors against common.cmac/kdf/keywrap/x963.

    micropython check_symmetric.py VECTORS NAME

VECTORS has one case a line, `op id result hex...` (`.` is an empty field, `-` an unknown
one); result is valid, invalid or acceptable (Wycheproof's words). The host test builds the file
from Wycheproof / NIST / `cryptography`, so this side reads one line at a time and fits a 64k heap.
Prints `OK NAME n vectors (v valid, i invalid, a acceptable: k accepted)` or FAIL lines, exit 1.
"""
import sys
from binascii import unhexlify

from common import keywrap, x963
from common.cmac import cmac, equal
from common.kdf import counter_mode, derive

_MAX_FAILS = 20


def _hex(field):
    if field == "-":
        return None
    return b"" if field == "." else unhexlify(field)


def _cmac(result, key, msg, tag):
    """valid: tag verifies and is the one computed; invalid: the check rejects it."""
    good = equal(cmac(key, msg), tag)
    if result == "valid" and not good:
        return "tag mismatch"
    if result == "invalid" and good:
        return "modified tag accepted"
    return good


def _wrap_or_reject(kek, key):
    try:
        return keywrap.wrap(kek, key)
    except ValueError:
        return None


def _wrap(result, kek, key, wrapped):
    """valid: wrap and unwrap both agree with the vector; invalid: unwrap refuses `wrapped`
    and wrap of `key` (when known) refuses or makes something else."""
    unwrapped = keywrap.unwrap(kek, wrapped)
    if result == "valid":
        made = keywrap.wrap(kek, key)
        if made != wrapped:
            return "wrap gave " + made.hex()
        if unwrapped != key:
            return "unwrap gave " + repr(unwrapped)
        return True
    if result == "invalid":
        if unwrapped is not None:
            return "unwrap accepted " + unwrapped.hex()
        if key is not None and _wrap_or_reject(kek, key) == wrapped:
            return "wrap produced the invalid vector"
        return False
    # acceptable: either reject cleanly (ValueError / None) or agree with the vector
    made = _wrap_or_reject(kek, key)
    if unwrapped is None and made is None:
        return False
    if unwrapped == key and made == wrapped:
        return True
    return "half-accepted: wrap " + repr(made) + " unwrap " + repr(unwrapped)


def _expect(got, want):
    return True if got == want else "got " + got.hex()


def _run(op, result, f):
    if op == "cmac":
        return _cmac(result, f[0], f[1], f[2])
    if op == "wrap":
        return _wrap(result, f[0], f[1], f[2])
    if op == "kdf":  # NIST CAVP: whole fixed input given
        return _expect(counter_mode(f[0], f[1], len(f[2])), f[2])
    if op == "kbkdf":  # label and context, as `cryptography`'s KBKDFCMAC takes them
        return _expect(derive(f[0], f[1], f[2], len(f[3])), f[3])
    if op == "x963":
        return _expect(x963.derive(f[0], f[1], len(f[2])), f[2])
    raise ValueError("unknown op " + op)


def main(path, name):
    counts = {"valid": 0, "invalid": 0, "acceptable": 0}
    accepted = 0
    fails = 0
    with open(path) as src:
        while True:
            line = src.readline()
            if not line:
                break
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            op, ident, result = parts[0], parts[1], parts[2]
            counts[result] += 1
            try:
                outcome = _run(op, result, [_hex(x) for x in parts[3:]])
            except Exception as e:  # noqa: BLE001 - a crash is a failure to report, not to raise
                outcome = "raised " + repr(e)
            if isinstance(outcome, str):
                fails += 1
                if fails <= _MAX_FAILS:
                    print("FAIL", name, op, ident, result, outcome)
            elif result == "acceptable" and outcome:
                accepted += 1
    total = counts["valid"] + counts["invalid"] + counts["acceptable"]
    if fails or not total:
        print("FAILED", name, fails, "of", total)
        sys.exit(1)
    print(f"OK {name} {total} vectors ({counts['valid']} valid, {counts['invalid']} invalid, "
          f"{counts['acceptable']} acceptable: {accepted} accepted)")


main(sys.argv[1], sys.argv[2])

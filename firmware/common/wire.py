"""Wired link framing: one APDU per text line, so it survives any serial console.

The host sends `A:<hex>\\n`; the card answers `R:<hex>\\n`. Anything else on the line (a boot
banner, a REPL prompt) is not a frame and is skipped by both ends.
"""
import binascii

COMMAND = b"A:"
RESPONSE = b"R:"


def frame(prefix, payload):
    return prefix + binascii.hexlify(payload) + b"\n"


def unframe(prefix, line):
    """The payload of a line with this prefix, or None for any other line."""
    line = line.strip()
    if not line.startswith(prefix):
        return None
    try:
        return binascii.unhexlify(line[len(prefix):])
    except ValueError:
        return None

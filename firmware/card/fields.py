"""The state fields of embodiments 2-5: private record tags and their accessors.

They live in the state record under these tags, kept by card/state.py in `CardState.extra`, so
that the fast path never loads their code. A module of its own so that card/pki.py reads them
without loading card/keys.py.
"""
from micropython import const

# State record tags (private class, clear of card/state.py's C0-C2)
T_SECRET_KEY = const(0xC3)  # card secret key 103A (P-256, 32 bytes): never leaves the card
T_CERTIFICATE = const(0xC4)  # card public key certificate 102A: the whole 7F21 TLV
T_CA_KEY = const(0xC5)  # CA public key 101 (04 || X || Y)
T_PRELOADED = const(0xC6)  # scheme 4: transfer key ID (2) || transfer key (16), repeated


def field(s, tag):
    """A field of embodiments 2-5 from the card state `s`, or None."""
    return s.extra.get(tag) if s.extra else None


def set_field(s, tag, value):
    if s.extra is None:
        s.extra = {}
    s.extra[tag] = value

"""The card's persistent state and its record format (BER-TLV, protocol tags where they fit).

Pending records and log entries are kept as packed bytes (see `common.transfer`): a transfer
context, the session key and key ID for pending records, a direction and MAC for log entries.
"""
from micropython import const

from common import proto as P
from common.tlv import encode, items, uint

# Tags used only inside the state record
_T_OLD_KEYS = const(0xC0)
_T_PERSO_COUNTER = const(0xC2)

_OLD_KEYS = const(4)  # transfer keys kept after a roll, for abort proofs (card/recovery.py)
_OLD_ENTRY = const(18)  # key ID (2) + key (16)

_INTS = (
    (P.TAG_STATE, "life_cycle", 1),
    (_T_PERSO_COUNTER, "perso_counter", 4),
    (P.TAG_SCHEME, "scheme", 1),
    (P.TAG_VALIDITY, "validity", 4),
    (P.TAG_TRANSFER_KEY_ID, "transfer_key_id", 2),
    (P.TAG_TRANSFER_KEY_LIMIT, "transfer_key_limit", 2),
    (P.TAG_UPDATE_KEY_ID, "update_key_id", 2),
    (P.TAG_UPDATE_KEY_LIMIT, "update_key_limit", 2),
    (P.TAG_COUNTER, "counter", 4),
    (P.TAG_LAST_DATE, "last_date", 4),
)
_BYTES = (
    (P.TAG_CARD_ID, "card_id"),
    (P.TAG_PERSO_KEY, "perso_key"),
    (P.TAG_TRANSFER_KEY, "transfer_key"),
    (_T_OLD_KEYS, "old_transfer_keys"),
    (P.TAG_UPDATE_KEY, "update_key"),
    (P.TAG_PENDING_OUT, "pending_out"),
    (P.TAG_PENDING_IN, "pending_in"),
)


class CardState:
    """Everything the card keeps across power cycles; the applet saves it whole on each change.

    `extra` keeps, as they are, record fields this module does not know: those of the
    key-update embodiments 2-5 (card/keys.py), which the fast path never reads.
    """

    extra = None  # {tag: bytes}, or None on cards with no such fields

    def __init__(self):
        for _, name, _ in _INTS:
            setattr(self, name, 0)
        for _, name in _BYTES:
            setattr(self, name, None)
        self.purses = {}  # purse -> [value balance, maximum balance]
        self.log = []  # newest last, at most LOG_SIZE packed entries

    def roll_transfer_key(self, key_id, key):
        """Make `key` the transfer key. The one it replaces joins the last few old ones, so that
        recovery can still answer for transfers made under them (card/recovery.py)."""
        entry = self.transfer_key_id.to_bytes(2, "big") + self.transfer_key
        self.old_transfer_keys = (entry + (self.old_transfer_keys or b""))[
            : _OLD_KEYS * _OLD_ENTRY]
        self.transfer_key_id, self.transfer_key = key_id, key

    def transfer_key_of(self, key_id):
        """The transfer key with this ID, current or one of the old ones kept; None if gone."""
        if key_id == self.transfer_key_id:
            return self.transfer_key
        old = self.old_transfer_keys or b""
        for i in range(0, len(old), _OLD_ENTRY):
            if int.from_bytes(old[i : i + 2], "big") == key_id:
                return old[i + 2 : i + _OLD_ENTRY]
        return None

    def encode(self):
        return b"".join(self.pieces())

    def pieces(self):
        """The record as a list of TLVs, for a store that writes them one after the other."""
        out = []
        for tag, name, size in _INTS:
            out.append(uint(tag, getattr(self, name), size))
        for tag, name in _BYTES:
            value = getattr(self, name)
            if value is not None:
                out.append(encode(tag, value))
        for purse, (balance, maximum) in self.purses.items():
            out.append(encode(P.TAG_PURSE_RECORD, uint(P.TAG_PURSE, purse, 1)
                              + uint(P.TAG_BALANCE, balance, 4)
                              + uint(P.TAG_MAX_BALANCE, maximum, 4)))
        for entry in self.log:
            out.append(encode(P.TAG_LOG_ENTRY, entry))
        if self.extra:
            for tag, value in self.extra.items():
                out.append(encode(tag, value))
        return out

    @classmethod
    def decode(cls, record):
        state = cls()
        ints = {tag: name for tag, name, _ in _INTS}
        raw = {tag: name for tag, name in _BYTES}
        for tag, value in items(record):
            if tag in ints:
                setattr(state, ints[tag], int.from_bytes(bytes(value), "big"))
            elif tag in raw:
                setattr(state, raw[tag], bytes(value))
            elif tag == P.TAG_PURSE_RECORD:
                f = dict(items(value))
                state.purses[f[P.TAG_PURSE][0]] = [
                    int.from_bytes(bytes(f[P.TAG_BALANCE]), "big"),
                    int.from_bytes(bytes(f[P.TAG_MAX_BALANCE]), "big"),
                ]
            elif tag == P.TAG_LOG_ENTRY:
                state.log.append(bytes(value))
            else:
                if state.extra is None:
                    state.extra = {}
                state.extra[tag] = bytes(value)
        return state

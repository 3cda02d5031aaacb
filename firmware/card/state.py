"""The card's persistent state and its record format (BER-TLV, protocol tags where they fit).

Pending records and log entries are kept as packed bytes (see `common.transfer`): a transfer
context, the session key and key ID for pending records, a direction and MAC for log entries.

The record ends with its own MAC (docs/protocol.md section 4, "Record integrity"): HMAC-SHA-256,
cut to 16 bytes, under a key the card derives from its personalization key, which never leaves
it. A record that is damaged, cut short or edited outside the card fails it, and
`CardState.decode` raises ValueError; the applet then refuses to work (SW_RECORD_DAMAGED). The
MAC is part of the one write that saves the record: no extra flash write, one hash per save.
"""
from micropython import const

from common import proto as P
from common.cmac import equal
from common.hmac_sha256 import hmac_sha256
from common.kdf import derive
from common.tlv import encode, items, uint

# Tags used only inside the state record
_T_OLD_KEYS = const(0xC0)
_T_PERSO_COUNTER = const(0xC2)

_T_RECORD_MAC = const(0xCF)  # always the last TLV of a saved record
_MAC_TLV = const(18)  # CF 10 || MAC (16)

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
    (P.TAG_NOT_BEFORE, "not_before", 4),
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


def _record_mac(perso_key, card_id, body):
    """The 16-byte MAC of a record's `body` (bytes, or a list of pieces in order)."""
    key = derive(perso_key, b"upurse record mac", bytes(card_id or b""))
    return hmac_sha256(key, body)[: P.MAC_LEN]


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

    def dated(self, date):
        """Whether the card takes a transaction `date` (it has no clock): not after its term of
        validity, and not before the latest date the issuer vouched for (personalization,
        ISSUER RESOLVE). Dates a terminal names only move `last_date`, which refuses nothing:
        one lying or mistyped date cannot make the card refuse honest terminals later."""
        return self.not_before <= date <= self.validity

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
        if self.perso_key is not None:  # every record a card saves has one (INITIALIZE on)
            out.append(encode(_T_RECORD_MAC, _record_mac(self.perso_key, self.card_id, out)))
        return out

    @classmethod
    def decode(cls, record):
        """The state a saved record holds; an empty record is a blank card. Raises
        ValueError (or another error, for a record no card wrote) unless the record ends
        with its MAC and the MAC checks."""
        state = cls()
        if not record:
            return state
        n = len(record)
        if n < _MAC_TLV or record[n - _MAC_TLV] != _T_RECORD_MAC or record[n - 17] != 16:
            raise ValueError("no record MAC")
        mac = memoryview(record)[n - P.MAC_LEN :]
        record = memoryview(record)[: n - _MAC_TLV]
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
        # Read, but believed only now: the key comes from the record, the MAC covers it all.
        key = state.perso_key
        if key is None or not equal(_record_mac(key, state.card_id, record), mac):
            raise ValueError("record MAC")
        return state

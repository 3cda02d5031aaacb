"""The terminal's journal: what it learned about unfinished transfers, kept across crashes.

Cards keep the truth (their pending records, docs/protocol.md "Resumable transfer"); the journal
keeps what a terminal must carry from one card to the other when they are presented one at a
time: the payer's reception challenge (S2105A) for a payee that has not credited, the payee's
credit proof (S2105B) for a payer still waiting, the payer's abort proof for a payee's
tentative credit, the context and key ID of a payee's pending record for its payer, and of an
amount a payer set aside at S2001 (a partial context) with the payee's release proof for it.
An entry is dropped once both cards are known to have settled it.

    j = Journal("/flash/journal")
    j.learn(context, rx=challenge)  # True when this is news; saved before it returns
    for e in j.involving(card_id): ...

The file is one BER-TLV list, rewritten whole through common.atomicfile, so a terminal that
dies mid-write keeps the journal it had before.
"""
from micropython import const

from common import proto as P
from common import transfer as T
from common.atomicfile import AtomicFile
from common.tlv import encode, items, uint

PAYER_DONE = const(1)  # the payer has no pending record for it and never will
PAYEE_DONE = const(2)  # the payee credited it or dropped its tentative credit
BOTH_DONE = const(3)

_MAX_ENTRIES = const(32)  # oldest dropped beyond this: the cards still hold their records
_T_ENTRY = const(0xE1)  # private constructed: one entry
_T_DONE = const(0xC0)  # private primitive: PAYER_DONE | PAYEE_DONE
_FIELDS = (
    (P.TAG_RX_CHALLENGE, "rx"),
    (P.TAG_CREDIT_PROOF, "cp"),
    (P.TAG_ABORT_PROOF, "ap"),
)


def partial(context):
    """A transfer's context as its payer knew it at S2001 (the context of the amount it set
    aside): payee counter and reception random zero."""
    context = bytes(context)
    return context[:29] + bytes(4) + context[33:49] + bytes(16)


class Entry:
    """One transfer as this terminal knows it; `c` is the unpacked context."""

    def __init__(self, context):
        self.context = bytes(context)
        self.c = T.unpack(self.context)
        self.rx = None  # reception challenge: the payer debited
        self.cp = None  # credit proof: the payee credited
        self.ap = None  # abort proof: the payer never debited and never will
        self.key_id = None  # the payee's transfer key ID for its pending record
        self.done = 0

    @property
    def payer(self):
        return self.c[3]

    @property
    def payee(self):
        return self.c[4]

    def encode(self):
        out = encode(P.TAG_CONTEXT, self.context) + uint(_T_DONE, self.done, 1)
        for tag, name in _FIELDS:
            value = getattr(self, name)
            if value is not None:
                out += encode(tag, value)
        if self.key_id is not None:
            out += uint(P.TAG_TRANSFER_KEY_ID, self.key_id, 2)
        return encode(_T_ENTRY, out)


class Journal:
    def __init__(self, folder):
        self.folder = folder  # terminal/clearing.py keeps its batch next to the journal
        self._file = AtomicFile(folder, "journal")
        self.entries = []  # oldest first
        self.changes = 0  # grows with each saved change: lets recovery see progress
        data = self._file.read()
        for tag, value in items(data or b""):
            if tag == _T_ENTRY:
                self.entries.append(_decode(value))

    def entry(self, context):
        context = bytes(context)
        for e in self.entries:
            if e.context == context:
                return e
        return None

    def find(self, field, value, partial=False):
        """The entry whose context field `field` (7: tx random, 8: rx random) is `value`: of
        a transfer, or with `partial` of a permission set aside (S2001)."""
        value = bytes(value)
        for e in self.entries:
            if e.c[field] == value and T.is_partial(e.context) == partial:
                return e
        return None

    def involving(self, card_id):
        """Entries where `card_id` is payer or payee (a new list: learning may drop entries)."""
        card_id = bytes(card_id)
        return [e for e in self.entries if card_id in (e.payer, e.payee)]

    def learn(self, context, rx=None, cp=None, ap=None, key_id=None, done=0):
        """Merge what was learned about the transfer `context`; True when anything was new."""
        e = self.entry(context)
        if e is None:
            if done and rx is None and cp is None and ap is None and key_id is None:
                return False  # a transfer we never tracked finished: nothing to keep
            e = Entry(context)
            self.entries.append(e)
            del self.entries[:-_MAX_ENTRIES]
        new = False
        for name, value in (("rx", rx), ("cp", cp), ("ap", ap)):
            if value is not None and getattr(e, name) is None:
                setattr(e, name, bytes(value))
                new = True
        if key_id is not None and e.key_id is None:
            e.key_id = key_id
            new = True
        if cp is not None:
            done |= PAYEE_DONE  # only a payee that credited makes a credit proof
        if ap is not None:  # a payer's abort proof: it can no longer debit; a payee's release
            # proof for a permission set aside (partial context): it never takes it
            done |= PAYEE_DONE if T.is_partial(context) else PAYER_DONE
        if done & ~e.done:
            e.done |= done
            new = True
        if e.done == BOTH_DONE:
            self.entries.remove(e)
            new = True
        if new:
            self.save()
        return new

    def save(self):
        self._file.write(b"".join(e.encode() for e in self.entries))
        self.changes += 1


def _decode(value):
    f = dict(items(value))
    e = Entry(f[P.TAG_CONTEXT])
    e.done = f[_T_DONE][0]
    for tag, name in _FIELDS:
        if tag in f:
            setattr(e, name, bytes(f[tag]))
    if P.TAG_TRANSFER_KEY_ID in f:
        e.key_id = int.from_bytes(bytes(f[P.TAG_TRANSFER_KEY_ID]), "big")
    return e

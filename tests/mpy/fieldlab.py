"""A field of cards for interruption tests: RAM stores, power cycles, cuttable exchanges.

`World` holds numbered cards (each an `Applet` over a `RamStore`) and the terminal's journal
folder; `Field` hands out channels that count every exchange of a terminal run and cut exchange
number `at` in one of three ways:

- BEFORE: the card left the field before the command reached it;
- LOST: the card ran the command, then left before the response reached the terminal;
- KILLED: the terminal got the response (and its witness journaled it), then died.

After any cut every card loses power (a new `Applet` on the same store: RAM session gone) and
the terminal keeps nothing but its journal file.
"""
import os

from cards import ISSUER_PERSO_KEY, card_id, profile, value_held

from card.applet import Applet
from card.state import CardState
from common import perso
from common import proto as P
from common import transfer as T
from terminal.journal import Journal

BEFORE = "before"
LOST = "lost"
KILLED = "killed"
KINDS = (BEFORE, LOST, KILLED)
MONEY = P.PURSE_MONEY
POINTS = P.PURSE_POINTS
DATE = 20260315
_RECORDS = {}  # personalized records by profile: personalizing is the slow part


class CutError(Exception):
    """The exchange never completed: card gone or terminal dead."""


class RamStore:
    """card.store.Store's interface on a bytes object: a record is replaced whole."""

    def __init__(self, record=None):
        self.record = record

    def load(self):
        return self.record

    def save(self, record):
        self.record = b"".join(record) if type(record) is list else bytes(record)


class Card:
    def __init__(self, n, record):
        self.n = n
        self.id = card_id(n)
        self.store = RamStore(record)
        self.boot()

    def boot(self):
        """Power up: RAM (session, update random, transmission session) starts empty."""
        self.applet = Applet(self.store)

    def transmit(self, apdu):
        return self.applet.process(apdu)

    def state(self):
        return CardState.decode(self.store.record)


class Field:
    def __init__(self, at=None, kind=None, ins=None):
        """Cut exchange number `at` (or the first command with instruction `ins`) as `kind`."""
        self.at = at
        self.kind = kind
        self.ins = ins
        self.count = 0
        self.cut = False
        self.log = []  # instruction byte of each exchange sent

    def channel(self, card):
        return _Channel(self, card)

    def exchange(self, card, apdu):
        n = self.count
        self.count += 1
        if self.cut:
            raise CutError("after the cut")
        if self.at is None and (self.ins is None or apdu[1] != self.ins):
            self.log.append(apdu[1])
            return card.transmit(apdu)
        if self.at is not None and n != self.at:
            self.log.append(apdu[1])
            return card.transmit(apdu)
        self.cut = True
        if self.kind == BEFORE:
            raise CutError(f"card {card.n} pulled before the command")
        self.log.append(apdu[1])
        resp = card.transmit(apdu)
        if self.kind == LOST:
            raise CutError(f"card {card.n} pulled before the response")
        return resp  # KILLED: answered; the next exchange finds the terminal dead


class _Channel:
    def __init__(self, field, card):
        self.field = field
        self.card = card

    def transmit(self, apdu):
        return self.field.exchange(self.card, apdu)


def personalized(n, **kw):
    key = (n,) + tuple(sorted(kw.items()))
    record = _RECORDS.get(key)
    if record is None:
        store = RamStore()
        applet = Applet(store)
        for apdu in perso.commands(card_id(n), perso.diversify(ISSUER_PERSO_KEY, card_id(n)),
                                   profile(**kw)):
            resp = applet.process(apdu)
            assert resp[-2:] == b"\x90\x00", (apdu, resp)
        record = _RECORDS[key] = store.record
    return record


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for name in names:
        os.remove(path + "/" + name)
    os.rmdir(path)


class World:
    """Cards and one terminal journal folder; `snapshot()`/`restore()` copy both."""

    def __init__(self, root, cards):
        """`cards`: {n: profile kwargs}."""
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass  # exists
        self.cards = {n: Card(n, personalized(n, **kw)) for n, kw in cards.items()}
        self.total = self.value()
        self.points = self.value(POINTS)
        self.key_ids = {n: c.state().transfer_key_id for n, c in self.cards.items()}
        self.fresh_journal("j")

    def fresh_journal(self, name):
        """A terminal that never saw these cards: an empty journal folder."""
        self.journal_dir = self.root + "/" + name
        _rmtree(self.journal_dir)
        return Journal(self.journal_dir)

    def journal(self):
        """The terminal restarting: only what its journal file holds."""
        return Journal(self.journal_dir)

    def power_cycle(self):
        for card in self.cards.values():
            card.boot()

    def snapshot(self):
        try:
            with open(self.journal_dir + "/journal", "rb") as f:
                journal = f.read()
        except OSError:
            journal = None
        return ({n: c.store.record for n, c in self.cards.items()}, journal, dict(self.key_ids))

    def restore(self, snap, journal_name="j"):
        records, journal, key_ids = snap
        self.key_ids = dict(key_ids)  # the highest key IDs seen up to the snapshot
        for n, record in records.items():
            self.cards[n].store.record = record
            self.cards[n].boot()
        self.fresh_journal(journal_name)  # makes the folder
        if journal is not None:
            with open(self.journal_dir + "/journal", "wb") as f:
                f.write(journal)

    # -- invariants ------------------------------------------------------------------------

    def value(self, purse=MONEY):
        """Value held by the field's cards (cards.value_held)."""
        return value_held([c.state() for c in self.cards.values()], purse)

    def check(self, where):
        """Value conserved and transfer key IDs never going back, now."""
        assert self.value() == self.total, (where, "value", self.value(), self.total)
        assert self.value(POINTS) == self.points, (where, "points")
        for n, card in self.cards.items():
            key_id = card.state().transfer_key_id
            assert key_id >= self.key_ids[n], (where, "key ID went back", n)
            self.key_ids[n] = key_id

    def pending(self):
        return [n for n, c in self.cards.items()
                if c.state().pending_out is not None or c.state().pending_in is not None]

    def check_settled(self, where):
        """Nothing pending, and each transfer in the logs took effect once at both ends or
        (absent from both logs) not at all."""
        assert not self.pending(), (where, "still pending", self.pending())
        outs = {}
        ins = {}
        for card in self.cards.values():
            for e in card.state().log:
                book = outs if e[0] == P.LOG_OUT else ins
                context = e[1 : 1 + T.CONTEXT_LEN]
                book[context] = book.get(context, 0) + 1
        for context in set(outs) | set(ins):
            assert outs.get(context) == 1 and ins.get(context) == 1, (where, "once", outs, ins)

"""Power cuts at every flash write of every card command of real flows, on MicroPython's littlefs.

Record: two cards are personalized and settle with each other through the real settlement
program (a transfer-key roll, a plain transfer, and three transfers torn at S2003, S2004 and
S2005 followed by the settlement that recovers them), each card an `Applet` over a RAM store.
Each card's APDUs and responses are kept, split into sessions (one power-up each: a session
starts at SELECT). The cards' randomness is a fixed stream per card and command, so a command
replayed on the same state gives the same answer.

Replay: each card alone, on a `powercut.Rig` flash that starts blank. For each command of each
session, the harness restores the flash as it was at the session's start, boots, replays the
session's earlier commands uncut (each must answer as recorded), cuts the power at each of the
command's flash writes, and boots a fresh `Applet` on the flash: its record, balances and
pending records must be those from before the command or after it. Commands that write
nothing are covered too (W=0). Then the whole session is replayed uncut to move on.

    MICROPYPATH=tests/mpy:firmware micropython tests/mpy/powercut_applet.py

Prints a line per card and per command kind, and `OK powercut applet ...` with the totals.
"""
import hashlib

from cards import ISSUER_PERSO_KEY, card_id, profile, resolution
from powercut import Report, Rig

from card import applet as applet_module
from card.applet import Applet
from card.state import CardState
from card.store import Store
from common import perso
from common import proto as P  # noqa: N812 - the firmware's name for it
from common.apdu import command
from common.tlv import encode, items
from terminal.cardlink import CardLink
from terminal.recovery import resolve_pending
from terminal.settlement import select, settle

_SELECT = command(P.CLA_ISO, P.INS_SELECT, 4, 0, P.AID)
_GET_BALANCE = command(P.CLA_PROPRIETARY, P.INS_GET_BALANCE)
_GET_PENDING = command(P.CLA_PROPRIETARY, P.INS_GET_PENDING)
_DATE = 20261125

NAMES = {getattr(P, n): n[4:] for n in dir(P) if n.startswith("INS_")}

# Commands that change what a card keeps: the test fails unless each of them wrote.
SAVING = ("INITIALIZE", "PERSONALIZE", "LOCK", "KEY_UPDATE", "VALUE_TX_PERMISSION",
          "VALUE_RX_PERMISSION", "VALUE_TX",
          "VALUE_RX", "VALUE_TX_CONFIRM", "VALUE_RX_ABORT", "ISSUER_RESOLVE")


class Chance:
    """The applet's `os` here: urandom from SHA-256 of (card, command number, count)."""

    def __init__(self):
        self.label = b""
        self.count = 0

    def seed(self, label):
        self.label = label
        self.count = 0

    def urandom(self, n):
        self.count += 1
        return hashlib.sha256(self.label + b"/%d" % self.count).digest()[:n]


CHANCE = Chance()
applet_module.os = CHANCE  # the applet uses os for urandom only


class MemStore:
    """The card store's interface over RAM, for recording."""

    def __init__(self):
        self.record = None

    def load(self):
        return self.record

    def save(self, record):
        self.record = b"".join(record) if type(record) is list else bytes(record)


class Card:
    """A channel to one card that keeps its transcript; a new Applet (a power-up) per session."""

    def __init__(self, n):
        self.label = b"card%d" % n
        self.store = MemStore()
        self.sessions = []  # [[(apdu, response), ...], ...]
        self.applet = None

    def power_up(self):
        self.applet = Applet(self.store)
        self.sessions.append([])

    def transmit(self, apdu):
        session = self.sessions[-1]
        CHANCE.seed(self.label + b"/%d/%d" % (len(self.sessions), len(session)))
        resp = self.applet.process(apdu)
        session.append((bytes(apdu), resp))
        return resp


class Tear:
    """A channel that loses the card when `ins` is sent: the command never arrives."""

    def __init__(self, card, ins):
        self.card = card
        self.ins = ins

    def transmit(self, apdu):
        if apdu[1] == self.ins:
            raise OSError("card left the field")
        return self.card.transmit(apdu)


def record_flows():
    """Personalize two cards and run the flows; returns the two Cards with their sessions."""
    one, two = Card(1), Card(2)
    for card, n, key_id in ((one, 1, 1), (two, 2, 2)):
        card.power_up()
        cid = card_id(n)
        for apdu in perso.commands(cid, perso.diversify(ISSUER_PERSO_KEY, cid),
                                   profile(transfer_key_id=key_id)):
            assert card.transmit(apdu)[-2:] == b"\x90\x00"

    def run(payer, payee, amount, tear=None, recover=False):
        payer.power_up()
        payee.power_up()
        if recover:  # what settle() does first when a card reports a pending record
            steps = []
            done = resolve_pending(select(CardLink(payer, "A"), steps),
                                   select(CardLink(payee, "B"), steps), steps)
            assert done and done[-1]["amount"] == 7, done  # (+ "released": S2001's amount)
        a, b = payer, payee
        if tear is not None:
            torn = payer if tear in (P.INS_VALUE_TX, P.INS_VALUE_TX_CONFIRM) else payee
            a, b = (Tear(a, tear), b) if torn is payer else (a, Tear(b, tear))
        try:
            receipt = settle(a, b, P.PURSE_MONEY, amount, _DATE)
        except Exception:  # noqa: BLE001 - the torn settlements stop on the lost card
            if tear is None:
                raise
            return None
        if tear is not None:
            raise AssertionError(f"the tear at {NAMES[tear]} did not stop the settlement")
        return receipt

    assert run(one, two, 100)["key_roll"] == "update-key"  # S1006 on card 1
    assert run(two, one, 30)["key_roll"] == "none"
    # Torn transfers, each recovered by the next settlement between the two cards
    for tear in (P.INS_VALUE_RX, P.INS_VALUE_TX, P.INS_VALUE_TX_CONFIRM):
        run(one, two, 7, tear)
        run(one, two, 5, recover=True)
    # The issuer's way out: a torn transfer's tentative credit dropped by ISSUER RESOLVE, and
    # its payer's amount set aside refunded
    run(one, two, 9, P.INS_VALUE_TX)
    two.power_up()
    assert two.transmit(_SELECT)[-2:] == b"\x90\x00"
    pending = dict(items(two.transmit(_GET_PENDING)[:-2]))
    context = dict(items(pending[P.TAG_PENDING_IN]))[P.TAG_CONTEXT]
    apdu = command(P.CLA_PROPRIETARY, P.INS_ISSUER_RESOLVE, 0, 0, b"".join(
        encode(t, v) for t, v in resolution(2, context, P.VERDICT_ABORT, _DATE)))
    assert two.transmit(apdu)[-2:] == b"\x90\x00"
    one.power_up()  # and gives card 1 back the amount its S2001 set aside
    assert one.transmit(_SELECT)[-2:] == b"\x90\x00"
    pending = dict(items(one.transmit(_GET_PENDING)[:-2]))
    context = dict(items(pending[P.TAG_PENDING_OUT]))[P.TAG_CONTEXT]
    apdu = command(P.CLA_PROPRIETARY, P.INS_ISSUER_RESOLVE, 0, 0, b"".join(
        encode(t, v) for t, v in resolution(1, context, P.VERDICT_REFUND, _DATE)))
    assert one.transmit(apdu)[-2:] == b"\x90\x00"
    total = sum(_balances(card.store.record) for card in (one, two))
    assert total == 2 * 1000, total  # the recording itself kept every unit of value
    return one, two


def _balances(record):
    return CardState.decode(record).purses[P.PURSE_MONEY][0]


def card_state(root):
    """What a fresh Applet on the flash holds: its record, balances and pending records."""
    applet = Applet(Store(root + "/card"))
    CHANCE.seed(b"check")
    applet.process(_SELECT)
    return (applet.store.load(), applet.process(_GET_BALANCE), applet.process(_GET_PENDING))


def _card(path):
    return Applet(Store(path))


def cut_every_command_write(card, rig=None, make=_card):
    """Cut each command of `card`'s sessions at each of its writes; returns (Report, per-INS).

    `make(path)` builds the card under test on the store folder `path` (a broken one for the
    control).
    """
    rig = rig or Rig()
    total = Report()
    per_ins = {}
    for s, session in enumerate(card.sessions):
        for j in range(len(session)):
            name = NAMES[session[j][0][1]]
            try:
                report = rig.cut_every_write(_send(card, s, session, j), card_state,
                                             _replay(card, s, session, j, make))
            except AssertionError as e:
                raise AssertionError(f"{card.label.decode()} session {s} command {j} ({name})"
                                     f", {e}") from None
            per_ins[name] = per_ins.get(name, Report()).add(report)
            total.add(report)
        rig.run(_replay(card, s, session, len(session), make))
    return total, per_ins


def _replay(card, s, session, upto, make):
    """A prepare step: power up the card on the flash and replay `session[:upto]` uncut."""
    def prepare(root):
        applet = make(root + "/card")
        for j in range(upto):
            apdu, want = session[j]
            CHANCE.seed(card.label + b"/%d/%d" % (s + 1, j))
            got = applet.process(apdu)
            if got != want:
                raise _diverged(card, s, j, apdu, got, want)
        return applet
    return prepare


def _send(card, s, session, j):
    apdu, want = session[j]

    def operation(applet):
        CHANCE.seed(card.label + b"/%d/%d" % (s + 1, j))
        got = applet.process(apdu)
        if got != want and got[-2:] != b"\x6f\x00":  # 6F00: the cut, caught by the applet
            raise _diverged(card, s, j, apdu, got, want)
    return operation


# Flash shapes: the default test flash, and rp2 boards' 4096-byte blocks with 256-byte programs
GEOMETRIES = (("512", {}), ("rp2", {"blocks": 16, "block_size": 4096, "progsize": 256}))


class LogLater(Store):
    """A broken store for the control: it saves each record twice, first without its log."""

    def save(self, record):
        record = b"".join(record) if type(record) is list else record
        state = CardState.decode(record)
        state.log = []
        Store.save(self, state.encode())
        Store.save(self, record)


def control(card):
    """The harness must catch a card whose command passes through a state of its own."""
    try:
        cut_every_command_write(card, make=lambda path: Applet(LogLater(path)))
    except AssertionError as e:
        return str(e).split(":")[0]
    raise AssertionError("the harness missed a card that saves a command in two steps")


def _diverged(card, s, j, apdu, got, want):
    return AssertionError(f"{card.label.decode()} session {s} command {j} ({NAMES[apdu[1]]})"
                          f" answered {got.hex()}, recorded {want.hex()}")


def main():
    cards = record_flows()
    total = Report()
    per_ins = {}
    for shape, geometry in GEOMETRIES:
        for card in cards:
            report, kinds = cut_every_command_write(card, Rig(**geometry))
            commands = sum(len(session) for session in card.sessions)
            print(f"{card.label.decode()} on {shape}: {len(card.sessions)} sessions"
                  f" {commands} commands {report}")
            total.add(report)
            for name, r in kinds.items():
                per_ins[name] = per_ins.get(name, Report()).add(r)
    for name in sorted(per_ins):
        print(f"{name}: {per_ins[name]}")
    for name in SAVING:
        if name not in per_ins or not per_ins[name].writes:
            raise AssertionError(f"no {name} command wrote to the flash")
    print(f"control: caught {control(cards[0])}")
    print(f"OK powercut applet {total}")


main()

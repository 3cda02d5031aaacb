"""Cards left refusing honest terminals, and the ways out (issue 9, findings 2 and 5).

Each scenario builds the blocked card as the review found it, shows that no terminal can
unblock it, then unblocks it the way the protocol now allows, and checks value conserved:

- date: a 1-unit transfer dated on the cards' last valid day; today's terminals still work;
- lost proof (section 12 a): the payee's credit proof gone from its log and from every
  journal; the issuer's CREDITED verdict clears the payer's record;
- rolled key (12 b): the payer's key rolled five times; the issuer's ABORT drops the payee's;
- blockers (12 c): a card of balance 1 tries to block three payees.

    MICROPYPATH=tests/mpy:firmware micropython tests/mpy/blocking.py /tmp/x

Prints one line per scenario and `OK blocking N scenarios`.
"""
import sys

from cards import resolution
from driver import SELECT, Run, cmd, fields, select_card, sw_of
from fieldlab import BEFORE, DATE, LOST, MONEY, Field, World

from common import proto as P
from common import transfer as T
from terminal.cardlink import SettlementError
from terminal.settlement import settle

VALIDITY = 20301231
_DONE = []


def scenario(fn):
    _DONE.append(fn)
    return fn


def pay(world, payer, payee, amount, date=DATE, field=None):
    field = field or Field()
    return settle(field.channel(world.cards[payer]), field.channel(world.cards[payee]), MONEY,
                  amount, date)


def refused(fn, step, sw):
    try:
        fn()
    except SettlementError as e:
        assert (e.step, e.sw) == (step, sw), (e.step, hex(e.sw or 0), step, hex(sw))
        return
    raise AssertionError("not refused")


def torn(world, payer, payee, amount, ins, kind):
    """A transfer cut at the first `ins` command; every card then loses power."""
    try:
        pay(world, payer, payee, amount, field=Field(ins=ins, kind=kind))
        raise AssertionError("not cut")
    except SettlementError:
        world.power_cycle()


def issuer(world, n, verdict, record="pending_in", date=DATE):
    """The issuer's verdict on card n's record (what `upurse issuer resolve` sends)."""
    card = world.cards[n]
    context = getattr(card.state(), record)[: T.CONTEXT_LEN]
    assert sw_of(card.transmit(SELECT)) == P.SW_OK
    resp = card.transmit(cmd(P.INS_ISSUER_RESOLVE, resolution(n, context, verdict, date)))
    return fields(resp)


@scenario
def date(root):
    world = World(root, {1: {}, 2: {}})
    pay(world, 1, 2, 1, date=VALIDITY)  # a rogue reader, or a typo, on the last valid day
    pay(world, 1, 2, 5)  # honest terminals with today's date, both ways
    pay(world, 2, 1, 3)
    refused(lambda: pay(world, 1, 2, 1, date=VALIDITY + 1), "S1003", None)  # expired
    assert world.cards[1].state().last_date == VALIDITY
    world.check("date")
    # the issuer's date is trusted time: it becomes the earliest date the card takes
    world = World(root, {1: {}, 2: {}})
    torn(world, 1, 2, 4, P.INS_VALUE_TX, BEFORE)
    issuer(world, 2, P.VERDICT_ABORT, date=DATE + 10)
    assert world.cards[2].state().not_before == DATE + 10
    refused(lambda: pay(world, 1, 2, 1), "S2002", P.SW_DATE_REFUSED)
    pay(world, 1, 2, 1, date=DATE + 10)
    world.check("issuer's date")


@scenario
def lost_proof(root):
    """12 (a): cut after S2004 (the payee credited, its proof lost with the terminal), then
    the payee makes LOG_SIZE more transactions: its log no longer holds the proof."""
    world = World(root, {1: {}, 2: {}, 3: {}})
    torn(world, 1, 2, 40, P.INS_VALUE_RX, LOST)
    for _ in range(P.LOG_SIZE):
        pay(world, 3, 2, 1)
    refused(lambda: pay(world, 1, 2, 1), "RECOVER", P.SW_NOT_FOUND)
    refused(lambda: pay(world, 1, 3, 1), "S2001", P.SW_PENDING)  # card 1 cannot pay anyone
    # card 2 credited the 40 long ago; card 1 still holds them as in flight
    assert sum(c.state().purses[MONEY][0] for c in world.cards.values()) == 3000
    got = issuer(world, 1, P.VERDICT_CREDITED, "pending_out")
    assert int.from_bytes(got[P.TAG_BALANCE], "big") == 960  # the debit stands
    pay(world, 1, 2, 1)
    world.check("lost proof")


@scenario
def rolled_key(root):
    """12 (b): the payee's record names transfer key 1; the payer rolls to key 6."""
    cards = {1: {}, 2: {}}
    for n in range(2, 7):
        cards[n + 1] = {"transfer_key_id": n}
    world = World(root, cards)
    torn(world, 1, 2, 40, P.INS_VALUE_TX, BEFORE)  # card 2: a tentative credit only
    for n in range(3, 8):
        pay(world, n, 1, 1)  # each rolls card 1's transfer key forward
    assert world.cards[1].state().transfer_key_id == 6
    refused(lambda: pay(world, 1, 2, 1), "RECOVER", P.SW_NOT_FOUND)
    issuer(world, 2, P.VERDICT_ABORT)
    pay(world, 1, 2, 1)  # rolls card 2 forward too, and pays
    world.check("rolled key")


@scenario
def blockers(root):
    """12 (c): card 1, balance 1, asks three payees for a permission and never debits. Its
    first permission sets its 1 aside, and it gives no other until that one is settled."""
    world = World(root, {1: {"balance": 1}, 2: {}, 3: {}, 4: {}})
    lab = world_lab(world)
    blocked = []
    for payee in (2, 3, 4):
        world.power_cycle()
        select_card(lab, 1)
        select_card(lab, payee)
        r = Run(lab, payer=1, payee=payee, amount=1)
        if sw_of(r.try_step("S2001")) == P.SW_OK and sw_of(r.try_step("S2002")) == P.SW_OK:
            blocked.append(payee)
    print(f"  blocked payees: {len(blocked)}")
    assert blocked == [2] and world.cards[1].state().purses[MONEY][0] == 0
    refused(lambda: pay(world, 1, 3, 1), "S2001", P.SW_PENDING)  # the blocker pays nobody
    world.check("blocker")
    # the way out for a blocker that never comes back: the issuer drops card 2's record (and
    # gives card 1 its 1 back when it shows up)
    world.power_cycle()
    issuer(world, 2, P.VERDICT_ABORT)
    pay(world, 3, 2, 1)
    issuer(world, 1, P.VERDICT_REFUND, "pending_out")
    pay(world, 1, 4, 1)
    world.check("blockers")
    # or it meets its payee: the abort proof, then the payee's release proof
    world = World(root, {1: {"balance": 1}, 2: {}})
    torn(world, 1, 2, 1, P.INS_VALUE_TX, BEFORE)
    assert [d["outcome"] for d in pay(world, 1, 2, 1)["recovered"]] == ["undone", "released"]
    world.check("blocker meets its payee")


class world_lab:  # noqa: N801 - driver.Run's view of a World
    def __init__(self, world):
        self.cards = world.cards

    def transmit(self, n, apdu):
        return self.cards[n].transmit(apdu)


def run(root):
    for fn in _DONE:
        fn(root + "/" + fn.__name__)
        print(f"{fn.__name__}: ok")
    print(f"OK blocking {len(_DONE)} scenarios")


run(sys.argv[1])

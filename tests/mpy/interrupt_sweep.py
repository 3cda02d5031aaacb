"""Every transfer, key roll and recovery cut at every APDU boundary, then resumed every way.

Each flow starts from a prepared state (fresh cards, or cards left by a transfer torn at a given
step) and runs one terminal action: a transfer (with or without a key roll), a settlement that
first recovers, or one card presented alone. The action is cut at each of its exchanges in each
way of fieldlab.KINDS (card pulled before the command; command run, response lost; terminal
killed after the answer), every card powers down, and the terminal keeps only its journal. Then
each resume mode finishes the job:

- "same both" / "fresh both": the same terminal (its journal) or a new one (empty journal)
  sees both cards, recovers, and runs the next transfer, as `upurse transfer` does;
- "old terminal": plain `settle()` with no journal (its built-in two-card recovery);
- "same 1st" / "same 2nd" / "fresh 1st" / "fresh 2nd": the cards are presented one at a time,
  alternately, card 1 or card 2 first, until nothing is pending; then the next transfer.

Checked after the cut and after every contact: balances plus unclaimed pending debits are
unchanged and no transfer key ID goes back. Checked at the end: nothing pending, the resuming
terminal's journal is empty, each transfer is in both logs once or in neither, and the
balances are the opening ones moved by whole transfers only.

    MICROPYPATH=tests/mpy:firmware micropython tests/mpy/interrupt_sweep.py /tmp/x [GROUP] [rotate]

`rotate` (the QEMU board's run, 13 times slower than the unix port) still cuts every flow at
every point, and resumes each cut one way only, taking the modes in turn.
"""
import sys

from fieldlab import BEFORE, DATE, KILLED, KINDS, LOST, MONEY, Field, World

from common import proto as P
from terminal.cardlink import SettlementError
from terminal.resume import recover
from terminal.settlement import settle
from terminal.witness import Witness

PRIOR, AMOUNT, NEXT = 5, 40, 300  # subset sums all differ: balances tell which took effect
MAX_CONTACTS = 8
MODES = ("same both", "fresh both", "old terminal", "same 1st", "same 2nd", "fresh 1st",
         "fresh 2nd")


def pay(world, field, journal, amount=AMOUNT, payer=1, payee=2):
    trace = Witness(journal) if journal is not None else None
    return settle(field.channel(world.cards[payer]), field.channel(world.cards[payee]), MONEY,
                  amount, DATE, trace)


def contact(world, field, journal, *ns):
    return recover([(f"card{n}", field.channel(world.cards[n])) for n in ns], journal)


def resume_pay(world, field, journal, amount=AMOUNT):
    """What `upurse transfer` does: recover with the journal, then settle."""
    contact(world, field, journal, 1, 2)
    return pay(world, field, journal, amount)


def torn(ins, kind, journal=True):
    """Prepare: card 1 pays PRIOR to card 2, cut at the first `ins` command as `kind`."""
    def prep(world):
        field = Field(ins=ins, kind=kind)
        try:
            pay(world, field, world.journal() if journal else None, PRIOR)
        except SettlementError:
            world.power_cycle()
            return
        raise AssertionError("prep was not cut")
    return prep


def then_alone(prep, n):
    def both(world):
        prep(world)
        contact(world, Field(), world.journal(), n)
        world.power_cycle()
    return both


# (name, group, card profiles, prepare, act)
FLOWS = []


def flow(name, group, profiles, prep, act):
    FLOWS.append((name, group, profiles, prep, act))


_PLAIN = {1: {}, 2: {}}
flow("transfer", "transfers", _PLAIN, None, pay)
flow("transfer rolling the payee's key", "transfers", {1: {"transfer_key_id": 2}, 2: {}}, None,
     pay)
flow("transfer rolling the payer's key", "transfers", {1: {}, 2: {"transfer_key_id": 2}}, None,
     pay)
_TORN = (
    ("torn at S2003, not sent", P.INS_VALUE_TX, BEFORE),  # payee: tentative credit only
    ("torn at S2003, answer lost", P.INS_VALUE_TX, LOST),  # payer debited, payee tentative
    ("torn at S2004, answer lost", P.INS_VALUE_RX, LOST),  # payee credited, payer pending
)
for _name, _ins, _kind in _TORN:
    flow("settle after " + _name, "recoveries", _PLAIN, torn(_ins, _kind, journal=False), pay)
    flow("recover+settle after " + _name, "recoveries", _PLAIN, torn(_ins, _kind), resume_pay)
_ALONE = (
    ("payee alone credits (journal holds the challenge)", torn(P.INS_VALUE_RX, BEFORE), 2),
    ("payer alone confirms (journal holds the proof)", torn(P.INS_VALUE_TX_CONFIRM, BEFORE), 1),
    ("payer alone answers (journal holds the payee's record)", torn(P.INS_VALUE_TX, BEFORE), 1),
    ("payee alone undoes (journal holds the abort proof)",
     then_alone(torn(P.INS_VALUE_TX, BEFORE), 1), 2),
    ("payee alone releases (journal holds the permission)",
     torn(P.INS_VALUE_RX_PERMISSION, BEFORE), 2),
    ("payer alone takes back what it set aside (journal holds the release proof)",
     then_alone(torn(P.INS_VALUE_RX_PERMISSION, BEFORE), 2), 1),
)
for _name, _prep, _n in _ALONE:
    flow(_name, "recoveries", _PLAIN, _prep,
         lambda world, field, journal, n=_n: contact(world, field, journal, n))


def resume(world, mode, name):
    """Finish whatever the cut left, as `mode` says; returns the number of card contacts."""
    journal = world.journal() if mode.startswith("same") else world.fresh_journal("k")
    field = Field()
    if mode == "old terminal":
        pay(world, field, None, NEXT)
        return 1
    if mode.endswith("both"):
        resume_pay(world, field, journal, NEXT)
        assert not journal.entries, (name, mode, "journal kept entries")
        return 1
    order = (1, 2) if mode.endswith("1st") else (2, 1)
    contacts = 0
    while world.pending() or journal.entries:
        assert contacts < MAX_CONTACTS, (name, mode, "unresolved", world.pending())
        contact(world, field, journal, order[contacts % 2])
        contacts += 1
        world.power_cycle()
        world.check((name, mode, "contact", contacts))
    pay(world, field, journal, NEXT)
    assert not journal.entries, (name, mode, "journal kept entries")
    return contacts


def check_balances(world, opening, where):
    """Card 1 paid card 2 some of PRIOR, AMOUNT (each at most once) and NEXT."""
    moved = opening[1] - world.cards[1].state().purses[MONEY][0]
    assert world.cards[2].state().purses[MONEY][0] - opening[2] == moved, (where, "moved")
    sums = [NEXT + PRIOR * a + AMOUNT * b for a in (0, 1) for b in (0, 1)]
    assert moved in sums, (where, "not whole transfers", moved)


def run(root, group, rotate=False):
    points = scenarios = most_contacts = 0
    for name, flow_group, profiles, prep, act in FLOWS:
        if group not in ("all", flow_group):
            continue
        world = World(root, profiles)
        opening = {n: c.state().purses[MONEY][0] for n, c in world.cards.items()}
        if prep is not None:
            prep(world)
            world.check((name, "prep"))
        start = world.snapshot()
        field = Field()
        act(world, field, world.journal())
        exchanges = field.count
        flow_points = 0
        for at in range(exchanges):
            for kind in KINDS:
                if kind == KILLED and at == exchanges - 1:
                    continue  # killed after the last step: nothing was cut
                world.restore(start)
                field = Field(at, kind)
                try:
                    act(world, field, world.journal())
                except SettlementError:
                    pass
                assert field.cut, (name, at, kind, "no cut")
                world.power_cycle()
                where = (name, at, kind)
                world.check(where + ("cut",))
                cut = world.snapshot()
                flow_points += 1
                for mode in (MODES[(points + flow_points) % len(MODES)],) if rotate else MODES:
                    world.restore(cut)
                    contacts = resume(world, mode, where + (mode,))
                    most_contacts = max(most_contacts, contacts)
                    world.check(where + (mode,))
                    world.check_settled(where + (mode,))
                    check_balances(world, opening, where + (mode,))
                    scenarios += 1
        print(f"flow {name}: exchanges {exchanges} points {flow_points}")
        points += flow_points
    print(f"OK interrupt {group} points {points} scenarios {scenarios} "
          f"most_contacts {most_contacts}")


run(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "all", sys.argv[3:] == ["rotate"])

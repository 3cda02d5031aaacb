"""Attacks on both flows (seed Fig. 3 key roll, Fig. 4 value transfer), one card command each.

Every case sends one command an attacker can make (a replayed, spliced, forged, truncated,
out-of-order or lying one) straight to a card and checks the status word it must answer and
that no card's stored record changed by a single byte. A few replays are answered 9000 by
design: they are read-only or idempotent (SELECT, S1005, a repeated S2004, GET PENDING,
PENDING RESOLVE) and are counted apart, with the same byte-identical check.

    MICROPYPATH=tests/mpy:firmware micropython tests/mpy/attacks.py /tmp/x

Prints one line per group and `OK attacks N cases (R rejected, H harmless)`.
"""
import sys

from driver import DATE, MONEY, SELECT, STEPS, Run, cmd, edit, fields, flip, select_card, sw_of, u
from fieldlab import POINTS, World

from common import proto as P
from common import transfer as T
from common.tlv import items
from terminal.settlement import settle

_RESULTS = {"rejected": 0, "harmless": 0}
_GROUPS = []


class Lab(World):
    """Cards, and `attack()` that checks one command's answer and that nothing changed."""

    def __init__(self, root, cards=None):
        World.__init__(self, root, cards or {1: {}, 2: {}, 3: {}})

    def transmit(self, n, apdu):
        return self.cards[n].transmit(apdu)

    def send(self, n, apdu, want=P.SW_OK):
        resp = self.cards[n].transmit(apdu)
        assert sw_of(resp) == want, (hex(sw_of(resp)), hex(want))
        return resp

    def select(self, *ns):
        for n in ns:
            assert sw_of(select_card(self, n)) == P.SW_OK

    def attack(self, name, n, apdu, want):
        before = self.snapshot()[0]
        resp = self.cards[n].transmit(apdu)
        got = sw_of(resp)
        assert got == want, (name, f"SW {got:04X}, want {want:04X}")
        assert want == P.SW_OK or len(resp) == 2, (name, "data with a refusal")
        after = self.snapshot()[0]
        for k in before:
            assert before[k] == after[k], (name, f"card {k}'s record changed")
        _RESULTS["rejected" if want != P.SW_OK else "harmless"] += 1
        return resp


def group(fn):
    _GROUPS.append(fn)
    return fn


# What a replay of each step gets once its transfer is complete (same session or a later one).
# S2001 is not among them: sent again it is a new request, which sets the amount aside until
# that payee proves it holds no record of it (tests/mpy/blocking.py).
REPLAYED = {"S2002": P.SW_SECURITY, "S2003": P.SW_WRONG_STATE, "S2004": P.SW_OK,
            "S2005": P.SW_NOT_FOUND}


@group
def replays_of_a_transfer(root):
    for later_session in (False, True):
        for step in STEPS[1:]:
            lab = Lab(root)
            r = Run(lab).upto("S2005")
            if later_session:
                lab.power_cycle()
                lab.select(1, 2)
            lab.attack("replay " + step, r.card(step), r.apdu(step), REPLAYED[step])
    # each step replayed right after itself, mid-transfer
    mid = {"S2001": P.SW_PENDING, "S2002": P.SW_PENDING, "S2003": P.SW_WRONG_STATE,
           "S2004": P.SW_OK, "S2005": P.SW_NOT_FOUND}
    for step in STEPS:
        lab = Lab(root)
        r = Run(lab).upto(step)
        lab.attack(f"replay {step} at once", r.card(step), r.apdu(step), mid[step])
    # into another card: S2002 of 1 -> 2 sent to card 3, S2004 to card 3, S2005 to card 3
    lab = Lab(root)
    r = Run(lab).upto("S2005")
    lab.select(3)
    lab.attack("S2002 to another payee", 3, r.apdu("S2002"), P.SW_SECURITY)
    lab.attack("S2004 to another payee", 3, r.apdu("S2004"), P.SW_NOT_FOUND)
    lab.attack("S2005 to another payer", 3, r.apdu("S2005"), P.SW_NOT_FOUND)
    lab.attack("SELECT again", 1, SELECT, P.SW_OK)


@group
def replays_of_a_key_roll(root):
    """S1005/S1006 of card 3 (key 2) rolling card 1 (key 1), replayed."""
    for later_session in (False, True):
        lab = Lab(root, {1: {}, 3: {"transfer_key_id": 2}})
        info = fields(lab.send(1, SELECT))
        lab.select(3)
        obtain = cmd(P.INS_KEY_OBTAIN, [(P.TAG_UPDATE_RANDOM, info[P.TAG_UPDATE_RANDOM]),
                                        (P.TAG_PEER_ID, lab.cards[1].id)])
        got = fields(lab.send(3, obtain))
        update = cmd(P.INS_KEY_UPDATE, [(P.TAG_PEER_ID, lab.cards[3].id),
                                        (P.TAG_TRANSFER_KEY_ID, got[P.TAG_TRANSFER_KEY_ID]),
                                        (P.TAG_UPDATE_KEY_ID, got[P.TAG_UPDATE_KEY_ID]),
                                        (P.TAG_WRAPPED_KEY, got[P.TAG_WRAPPED_KEY])])
        lab.send(1, update)
        assert lab.cards[1].state().transfer_key_id == 2
        if later_session:
            lab.power_cycle()
            lab.select(1, 3)
        lab.attack("replay S1005", 3, obtain, P.SW_OK)  # read-only: wraps again
        # same session: the update random was used up; later: a new one no longer matches
        lab.attack("replay S1006", 1, update,
                   P.SW_SECURITY if later_session else P.SW_WRONG_STATE)


@group
def replays_of_recovery(root):
    """Recovery commands replayed after they did their work."""
    lab = Lab(root)
    r = Run(lab).upto("S2002")  # card 2 holds a tentative credit; card 1 never debits
    lab.power_cycle()
    lab.select(1, 2)
    pending = fields(lab.send(2, cmd(P.INS_GET_PENDING, [])))
    rec = dict((t, bytes(v)) for t, v in items(pending[P.TAG_PENDING_IN]))
    resolve = cmd(P.INS_PENDING_RESOLVE, [(P.TAG_CONTEXT, rec[P.TAG_CONTEXT]),
                                          (P.TAG_TRANSFER_KEY_ID, rec[P.TAG_TRANSFER_KEY_ID])])
    proof = fields(lab.send(1, resolve))[P.TAG_ABORT_PROOF]
    abort = cmd(P.INS_VALUE_RX_ABORT, [(P.TAG_ABORT_PROOF, proof),
                                       (P.TAG_RX_RANDOM, r.got["S2002"][P.TAG_RX_RANDOM])])
    lab.attack("abort with a forged proof", 2, cmd(P.INS_VALUE_RX_ABORT, edit(
        [(P.TAG_ABORT_PROOF, proof), (P.TAG_RX_RANDOM, r.got["S2002"][P.TAG_RX_RANDOM])],
        {P.TAG_ABORT_PROOF: flip})), P.SW_SECURITY)
    lab.send(2, abort)
    lab.attack("replay VALUE RX ABORT", 2, abort, P.SW_NOT_FOUND)
    lab.attack("replay PENDING RESOLVE", 1, resolve, P.SW_OK)  # read-only
    lab.attack("replay GET PENDING", 2, cmd(P.INS_GET_PENDING, []), P.SW_OK)
    # the aborted transfer's S2003 can never debit now, in this session or a later one
    lab.attack("S2003 after the abort proof", 1, r.apdu("S2003"), P.SW_WRONG_STATE)


@group
def replays_of_an_aborted_transfer(root):
    """A sniffed S2002 of a transfer recovery undid, sent again and again (issue 9, finding 4):
    each time in a new session of the payee, whose nonce the token no longer carries."""
    lab = Lab(root)
    r = Run(lab).upto("S2002")  # card 2 holds a tentative credit; card 1 never debits
    lab.power_cycle()
    settle(lab.cards[1], lab.cards[2], MONEY, 1, DATE)  # recovery undoes it, then pays 1
    assert lab.cards[2].state().pending_in is None
    for i in range(3):
        lab.power_cycle()
        lab.select(1, 2)
        lab.attack(f"replay aborted S2002 #{i + 1}", 2, r.apdu("S2002"), P.SW_SECURITY)
    settle(lab.cards[3], lab.cards[2], MONEY, 1, DATE)  # card 2 still receives


def _resolution(lab, n, context, verdict, date=DATE, card=None):
    from cards import resolution

    return resolution(n, context, verdict, date, card)


@group
def issuer_resolutions(root):
    """ISSUER RESOLVE forged, moved to another card, record or verdict, or replayed."""
    lab = Lab(root)
    r = Run(lab).upto("S2002")  # card 2 holds a tentative credit
    ctx = r.context()
    good = _resolution(lab, 2, ctx, P.VERDICT_ABORT)
    for name, pairs, want in (
            ("forged MAC", edit(good, {P.TAG_MAC: flip}), P.SW_SECURITY),
            ("zero MAC", edit(good, {P.TAG_MAC: bytes(16)}), P.SW_SECURITY),
            ("another card's key", _resolution(lab, 2, ctx, P.VERDICT_ABORT, card=1),
             P.SW_SECURITY),
            ("verdict changed", edit(good, {P.TAG_VERDICT: u(P.VERDICT_CREDIT, 1)}),
             P.SW_SECURITY),
            ("date changed", edit(good, {P.TAG_DATE: u(DATE + 1, 4)}), P.SW_SECURITY),
            ("context changed", edit(good, {P.TAG_CONTEXT: flip}), P.SW_SECURITY),
            ("no record with this context", _resolution(lab, 2, flip(ctx), P.VERDICT_ABORT),
             P.SW_NOT_FOUND),
            ("the other side's verdict", _resolution(lab, 2, ctx, P.VERDICT_REFUND),
             P.SW_NOT_FOUND),
            ("unknown verdict", _resolution(lab, 2, ctx, 9), P.SW_WRONG_DATA),
            ("MAC truncated", edit(good, {P.TAG_MAC: lambda v: v[:8]}), P.SW_WRONG_DATA)):
        lab.attack("ISSUER RESOLVE " + name, 2, cmd(P.INS_ISSUER_RESOLVE, pairs), want)
    lab.attack("ISSUER RESOLVE sent to the payer", 1, cmd(P.INS_ISSUER_RESOLVE, good),
               P.SW_SECURITY)
    lab.send(2, cmd(P.INS_ISSUER_RESOLVE, good))
    lab.attack("ISSUER RESOLVE replayed", 2, cmd(P.INS_ISSUER_RESOLVE, good), P.SW_NOT_FOUND)


@group
def releases(root):
    """The payee's release proof, which gives a payer back what its S2001 set aside."""
    lab = Lab(root)
    r = Run(lab).upto("S2001")  # card 1 set 100 aside for card 2, in card 2's session
    partial, tx_random = r.context_partial(), r.got["S2001"][P.TAG_TX_RANDOM]
    proof = fields(lab.send(2, cmd(P.INS_PENDING_RESOLVE, [
        (P.TAG_CONTEXT, partial), (P.TAG_TRANSFER_KEY_ID, u(1, 2))])))[P.TAG_ABORT_PROOF]

    def confirm(tag, value, random=tx_random):
        return cmd(P.INS_VALUE_TX_CONFIRM, [(tag, value), (P.TAG_TX_RANDOM, random)])

    lab.attack("S2002 after its payee's release proof", 2, r.apdu("S2002"), P.SW_SECURITY)
    lab.attack("release proof forged", 1, confirm(P.TAG_ABORT_PROOF, flip(proof)),
               P.SW_SECURITY)
    lab.attack("abort label as a release proof", 1, confirm(P.TAG_ABORT_PROOF, T.mac(
        T.session_key(b"\x31" * 16, partial), T.ABORT_PROOF)), P.SW_SECURITY)
    lab.attack("credit proof for an amount set aside", 1, confirm(P.TAG_CREDIT_PROOF, proof),
               P.SW_WRONG_DATA)
    lab.attack("release proof of another permission", 1,
               confirm(P.TAG_ABORT_PROOF, proof, flip(tx_random)), P.SW_NOT_FOUND)
    lab.send(1, confirm(P.TAG_ABORT_PROOF, proof))
    assert lab.cards[1].state().purses[MONEY][0] == 1000
    lab.attack("release proof replayed", 1, confirm(P.TAG_ABORT_PROOF, proof), P.SW_NOT_FOUND)
    # a payee holding that permission's record proves nothing: its payer must answer first
    lab = Lab(root)
    r = Run(lab).upto("S2002")
    lab.attack("release proof asked of a payee holding the record", 2, cmd(
        P.INS_PENDING_RESOLVE, [(P.TAG_CONTEXT, r.context_partial()),
                                (P.TAG_TRANSFER_KEY_ID, u(1, 2))]), P.SW_PENDING)


@group
def splicing(root):
    """Randoms, challenges and proofs of one session put into another."""
    def session(upto):
        """Cards 1 and 2 after a complete transfer (`old`), in a new one run to `upto`."""
        lab = Lab(root)
        old = Run(lab).upto("S2005")
        return lab, old, Run(lab).upto(upto)

    lab, old, new = session("S2002")
    lab.attack("S2003 with the old challenge", 1, new.apdu(
        "S2003", {P.TAG_TX_CHALLENGE: old.got["S2002"][P.TAG_TX_CHALLENGE]}), P.SW_SECURITY)
    lab, old, new = session("S2002")
    lab.attack("S2003 with the old rx random", 1, new.apdu(
        "S2003", {P.TAG_RX_RANDOM: old.got["S2002"][P.TAG_RX_RANDOM]}), P.SW_SECURITY)
    lab, old, new = session("S2002")
    lab.attack("S2003 with the old payee counter", 1, new.apdu(
        "S2003", {P.TAG_PEER_COUNTER: old.got["S2002"][P.TAG_COUNTER]}), P.SW_SECURITY)
    lab, old, new = session("S2003")
    lab.attack("S2004 with the old reception challenge", 2, new.apdu(
        "S2004", {P.TAG_RX_CHALLENGE: old.got["S2003"][P.TAG_RX_CHALLENGE]}), P.SW_SECURITY)
    lab, old, new = session("S2004")
    lab.attack("S2005 with the old credit proof", 1, new.apdu(
        "S2005", {P.TAG_CREDIT_PROOF: old.got["S2004"][P.TAG_CREDIT_PROOF]}), P.SW_SECURITY)
    lab.attack("S2005 with the old tx random", 1, new.apdu(
        "S2005", {P.TAG_TX_RANDOM: old.got["S2001"][P.TAG_TX_RANDOM]}), P.SW_NOT_FOUND)
    old = Run(Lab(root)).upto("S2001")  # the same cards' twins: an earlier session
    lab = Lab(root)
    new = Run(lab).upto("S2001")
    lab.attack("S2002 with the old token", 2, new.apdu(
        "S2002", {P.TAG_MAC: old.got["S2001"][P.TAG_MAC]}), P.SW_SECURITY)
    lab.attack("S2002 with the old tx random", 2, new.apdu(
        "S2002", {P.TAG_TX_RANDOM: old.got["S2001"][P.TAG_TX_RANDOM]}), P.SW_SECURITY)
    # the payer's abort proof for a transfer it debited: it must answer with the challenge
    lab = Lab(root)
    r = Run(lab).upto("S2003")
    got = lab.attack("PENDING RESOLVE of a debited transfer", 1, cmd(
        P.INS_PENDING_RESOLVE, [(P.TAG_CONTEXT, r.context()), (P.TAG_TRANSFER_KEY_ID, u(1, 2))]),
        P.SW_OK)
    assert P.TAG_ABORT_PROOF not in fields(got), "abort proof for a debited transfer"
    assert fields(got)[P.TAG_RX_CHALLENGE] == r.got["S2003"][P.TAG_RX_CHALLENGE]
    lab.attack("PENDING RESOLVE of another payer's transfer", 2, cmd(
        P.INS_PENDING_RESOLVE, [(P.TAG_CONTEXT, r.context()), (P.TAG_TRANSFER_KEY_ID, u(1, 2))]),
        P.SW_WRONG_DATA)
    lab.attack("abort with a proof of another transfer", 2, cmd(P.INS_VALUE_RX_ABORT, [
        (P.TAG_ABORT_PROOF, T.mac(T.session_key(b"\x31" * 16, flip(r.context())),
                                  T.ABORT_PROOF)),
        (P.TAG_RX_RANDOM, r.got["S2002"][P.TAG_RX_RANDOM])]), P.SW_SECURITY)
    # a key roll's wrapped key made for an earlier update random
    lab = Lab(root, {1: {}, 3: {"transfer_key_id": 2}})
    stale = fields(lab.send(1, SELECT))[P.TAG_UPDATE_RANDOM]
    lab.send(1, SELECT)  # a new session: a new update random
    lab.select(3)
    got = fields(lab.send(3, cmd(P.INS_KEY_OBTAIN, [(P.TAG_UPDATE_RANDOM, stale),
                                                   (P.TAG_PEER_ID, lab.cards[1].id)])))
    lab.attack("S1006 with a key wrapped for an old update random", 1, _update(lab, got, 3),
               P.SW_SECURITY)


def _update(lab, got, source, changes=None):
    return cmd(P.INS_KEY_UPDATE, edit([(P.TAG_PEER_ID, lab.cards[source].id),
                                       (P.TAG_TRANSFER_KEY_ID, got[P.TAG_TRANSFER_KEY_ID]),
                                       (P.TAG_UPDATE_KEY_ID, got[P.TAG_UPDATE_KEY_ID]),
                                       (P.TAG_WRAPPED_KEY, got[P.TAG_WRAPPED_KEY])],
                                      changes or {}))


# (step, tag of its MAC-like field, size)
MACS = (("S2002", P.TAG_MAC), ("S2003", P.TAG_TX_CHALLENGE), ("S2004", P.TAG_RX_CHALLENGE),
        ("S2005", P.TAG_CREDIT_PROOF))
BEFORE = {"S2002": "S2001", "S2003": "S2002", "S2004": "S2003", "S2005": "S2004"}


@group
def forged_and_truncated_macs(root):
    ways = (("forged", flip, P.SW_SECURITY),
            ("truncated", lambda v: v[:-1], P.SW_WRONG_DATA),
            ("cut to 8 bytes", lambda v: v[:8], P.SW_WRONG_DATA),
            ("empty", lambda v: b"", P.SW_WRONG_DATA),
            ("zeros", lambda v: bytes(16), P.SW_SECURITY),
            ("dropped", None, P.SW_WRONG_DATA))
    for step, tag in MACS:
        for name, how, want in ways:
            lab = Lab(root)
            r = Run(lab).upto(BEFORE[step])
            lab.attack(f"{step} {name}", r.card(step), r.apdu(step, {tag: how}), want)
    for name, how, want in ways:
        lab = Lab(root, {1: {}, 3: {"transfer_key_id": 2}})
        info = fields(lab.send(1, SELECT))
        lab.select(3)
        got = fields(lab.send(3, cmd(P.INS_KEY_OBTAIN, [(P.TAG_UPDATE_RANDOM,
                                                         info[P.TAG_UPDATE_RANDOM]),
                                                        (P.TAG_PEER_ID, lab.cards[1].id)])))
        if name == "zeros":
            how = lambda v: bytes(24)  # noqa: E731 - a wrapped key is 24 bytes
        lab.attack("S1006 wrapped key " + name, 1,
                   _update(lab, got, 3, {P.TAG_WRAPPED_KEY: how}), want)


@group
def out_of_order(root):
    lab = Lab(root)
    lab.attack("S2001 before SELECT", 1, Run(lab).apdu("S2001"), P.SW_WRONG_STATE)
    lab.attack("GET PENDING before SELECT", 1, cmd(P.INS_GET_PENDING, []), P.SW_WRONG_STATE)
    # a complete transfer's later steps, sent to fresh cards in a new session
    done = Lab(root)
    old = Run(done).upto("S2005")
    lab = Lab(root)
    lab.select(1, 2)
    lab.attack("S2003 without S2001", 1, old.apdu("S2003"), P.SW_WRONG_STATE)
    lab.attack("S2004 without S2002", 2, old.apdu("S2004"), P.SW_NOT_FOUND)
    lab.attack("S2005 without a debit", 1, old.apdu("S2005"), P.SW_NOT_FOUND)
    lab.attack("VALUE RX ABORT without a record", 2, cmd(P.INS_VALUE_RX_ABORT, [
        (P.TAG_ABORT_PROOF, bytes(16)), (P.TAG_RX_RANDOM, bytes(16))]), P.SW_NOT_FOUND)
    # S2002 before S2001 on the payer: a token made up by the terminal
    lab.attack("S2002 with no S2001", 2, Run(lab).made_up_offer().apdu("S2002"), P.SW_SECURITY)
    # S2003 after a new SELECT: the transmission session ended with the old one
    lab = Lab(root)
    r = Run(lab).upto("S2002")
    lab.select(1)
    lab.attack("S2003 after a new SELECT", 1, r.apdu("S2003"), P.SW_WRONG_STATE)
    # S2004 before S2003 (the payer never debited): the terminal has no reception challenge
    lab.attack("S2004 with a made-up challenge", 2, cmd(P.INS_VALUE_RX, [
        (P.TAG_RX_CHALLENGE, bytes(16)), (P.TAG_RX_RANDOM, r.got["S2002"][P.TAG_RX_RANDOM])]),
        P.SW_SECURITY)
    # S1006 twice in one session, S1006 before SELECT
    lab = Lab(root, {1: {}, 3: {"transfer_key_id": 2}})
    lab.attack("S1006 before SELECT", 1, cmd(P.INS_KEY_UPDATE, []), P.SW_WRONG_STATE)
    lab.attack("S1005 before SELECT", 3, cmd(P.INS_KEY_OBTAIN, []), P.SW_WRONG_STATE)
    # a second transfer while the payer's record is pending, and while the payee's is
    lab = Lab(root)
    Run(lab).upto("S2003")
    lab.power_cycle()
    lab.select(1, 3)
    lab.attack("S2001 while a debit is pending", 1, Run(lab, 1, 3).apdu("S2001"), P.SW_PENDING)
    r = Run(lab, payer=3, payee=2).upto("S2001")
    lab.attack("S2002 while a credit is pending", 2, r.apdu("S2002"), P.SW_PENDING)


@group
def key_ids(root):
    # rollback: a card on key 2 offered key 1 by an older card
    lab = Lab(root, {1: {"transfer_key_id": 2}, 3: {}})
    info = fields(lab.send(1, SELECT))
    lab.select(3)
    got = fields(lab.send(3, cmd(P.INS_KEY_OBTAIN, [(P.TAG_UPDATE_RANDOM,
                                                     info[P.TAG_UPDATE_RANDOM]),
                                                    (P.TAG_PEER_ID, lab.cards[1].id)])))
    lab.attack("key ID rollback 2 -> 1", 1, _update(lab, got, 3), P.SW_KEY_ID_REFUSED)
    # the same ID again, and an ID above the card's upper limit
    for name, kw, want in (
            ("same key ID 2 -> 2", {"transfer_key_id": 2}, P.SW_KEY_ID_REFUSED),
            ("key ID above the limit (limit 2, offered 3)", {"limit": 2}, P.SW_KEY_ID_REFUSED)):
        source = {"transfer_key_id": 3} if "limit" in kw else {"transfer_key_id": 2}
        lab = Lab(root, {1: kw, 3: source})
        info = fields(lab.send(1, SELECT))
        lab.select(3)
        got = fields(lab.send(3, cmd(P.INS_KEY_OBTAIN, [(P.TAG_UPDATE_RANDOM,
                                                         info[P.TAG_UPDATE_RANDOM]),
                                                        (P.TAG_PEER_ID, lab.cards[1].id)])))
        lab.attack(name, 1, _update(lab, got, 3), want)
    # an ID the wrapped key was not made for (bound into the KEK): rolled back or pushed up
    lab = Lab(root, {1: {}, 3: {"transfer_key_id": 2}})
    info = fields(lab.send(1, SELECT))
    lab.select(3)
    got = fields(lab.send(3, cmd(P.INS_KEY_OBTAIN, [(P.TAG_UPDATE_RANDOM,
                                                     info[P.TAG_UPDATE_RANDOM]),
                                                    (P.TAG_PEER_ID, lab.cards[1].id)])))
    lab.attack("wrapped key relabelled ID 9", 1, _update(
        lab, got, 3, {P.TAG_TRANSFER_KEY_ID: u(9, 2)}), P.SW_SECURITY)
    lab.send(1, SELECT)
    lab.attack("wrapped key relabelled ID 65535", 1, _update(
        lab, got, 3, {P.TAG_TRANSFER_KEY_ID: u(0xFFFF, 2)}), P.SW_SECURITY)
    lab.send(1, SELECT)
    lab.attack("update key ID not held", 1, _update(
        lab, got, 3, {P.TAG_UPDATE_KEY_ID: u(2, 2)}), P.SW_NOT_FOUND)
    # PENDING RESOLVE under a transfer key ID the payer never held
    lab = Lab(root)
    r = Run(lab).upto("S2002")
    lab.attack("PENDING RESOLVE under key ID 7", 1, cmd(P.INS_PENDING_RESOLVE, [
        (P.TAG_CONTEXT, r.context()), (P.TAG_TRANSFER_KEY_ID, u(7, 2))]), P.SW_NOT_FOUND)


@group
def dates(root):
    """A terminal lying about the date: before the card's issue date, after validity."""
    issued = {"not_before": DATE - 5}
    for step in ("S2001", "S2002"):
        for name, date in (("before the issue date", DATE - 6),
                           ("after validity", 20301231 + 1),
                           ("far future", 0xFFFFFFFF), ("zero", 0)):
            lab = Lab(root, {1: issued, 2: issued, 3: issued})
            Run(lab).upto("S2005")  # last transaction on DATE for cards 1 and 2
            lab.power_cycle()
            r = Run(lab, date=date)
            lab.select(1, 2)
            if step == "S2002":  # the payee, with a genuine token for today's terms
                r.got["S2001"] = Run(lab).upto("S2001", select=False).got["S2001"]
            apdu = r.apdu(step)
            lab.attack(f"{step} date {name}", r.card(step), apdu, P.SW_DATE_REFUSED)


@group
def amounts(root):
    for step in ("S2001", "S2002"):
        for name, amount, want in (("zero", 0, P.SW_WRONG_DATA),
                                   ("negative (2^31)", 0x80000000, P.SW_WRONG_DATA),
                                   ("negative (-1)", 0xFFFFFFFF, P.SW_WRONG_DATA)):
            lab = Lab(root)
            r = Run(lab, amount=amount).made_up_offer()
            lab.select(1, 2)
            apdu = r.apdu(step)
            lab.attack(f"{step} amount {name}", r.card(step), apdu, want)
    lab = Lab(root)
    lab.select(1, 2)
    lab.attack("S2001 amount above balance", 1, Run(lab, amount=1001).apdu("S2001"),
               P.SW_VALUE_LIMIT)  # card 1 holds 1000 money and 50 points
    lab.attack("S2001 points above balance", 1, Run(lab, amount=51, purse=POINTS).apdu("S2001"),
               P.SW_VALUE_LIMIT)
    # the payee's balance would pass its maximum, or the 31-bit ceiling
    for name, kw, amount in (("above the payee's maximum", {"max_balance": 1050}, 51),
                             ("overflowing 2^31 - 1", {"balance": 0x7FFFFFFF,
                                                       "max_balance": 0x7FFFFFFF}, 1)):
        lab = Lab(root, {1: {}, 2: kw})
        r = Run(lab, amount=amount).upto("S2001")
        lab.attack("S2002 " + name, 2, r.apdu("S2002"), P.SW_VALUE_LIMIT)
    # a purse the cards do not hold
    lab = Lab(root)
    lab.select(1, 2)
    lab.attack("S2001 purse not held", 1, Run(lab, purse=7).apdu("S2001"), P.SW_NOT_FOUND)


@group
def same_card(root):
    lab = Lab(root)
    lab.select(1)
    own = lab.cards[1].id
    itself = Run(lab, payer=1, payee=1).made_up_offer()
    lab.attack("S2001 paying itself", 1, itself.apdu("S2001"), P.SW_WRONG_DATA)
    lab.attack("S2002 paid by itself", 1, itself.apdu("S2002"), P.SW_WRONG_DATA)
    lab.attack("S1005 wrapping for itself", 1, cmd(P.INS_KEY_OBTAIN, [
        (P.TAG_UPDATE_RANDOM, bytes(16)), (P.TAG_PEER_ID, own)]), P.SW_WRONG_DATA)
    lab.attack("S1006 from itself", 1, cmd(P.INS_KEY_UPDATE, [
        (P.TAG_PEER_ID, own), (P.TAG_TRANSFER_KEY_ID, u(2, 2)), (P.TAG_UPDATE_KEY_ID, u(1, 2)),
        (P.TAG_WRAPPED_KEY, bytes(24))]), P.SW_WRONG_DATA)
    # the settlement program itself refuses one card on both channels
    before = lab.snapshot()[0]
    try:
        settle(lab.cards[1], lab.cards[1], MONEY, 10, DATE)
        raise AssertionError("settled with itself")
    except Exception as e:  # noqa: BLE001 - SettlementError, checked by its step
        assert getattr(e, "step", None) == "S1002", e
    assert lab.snapshot()[0] == before
    _RESULTS["rejected"] += 1


def run(root):
    for fn in _GROUPS:
        start = _RESULTS["rejected"] + _RESULTS["harmless"]
        fn(root)
        cases = _RESULTS["rejected"] + _RESULTS["harmless"] - start
        print(f"{fn.__name__}: {cases} cases")
    rejected, harmless = _RESULTS["rejected"], _RESULTS["harmless"]
    print(f"OK attacks {rejected + harmless} cases ({rejected} rejected, {harmless} harmless)")


run(sys.argv[1])

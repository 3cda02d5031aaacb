"""Completing or undoing interrupted transfers with one card at a time, through the journal.

terminal/recovery.py settles pending records when both cards are in the field. Here the
terminal's journal (terminal/journal.py) carries what one card tells until the other card is
presented: the payer's reception challenge to its payee, the payee's credit proof back to its
payer, the payee's record to its payer and the payer's abort proof back. Each record is still
settled exactly once, whichever cards and terminals come and go (tests/test_interrupt.py).

    done = recover([("a", channel_a)], journal)  # one card, or two
    for w in waiting(journal, [card_id_a]): ...  # what is left, and which card it needs

Loaded only by terminals that keep a journal: the fast path (settle) never imports it.
"""
from micropython import const

from common import proto as P
from common import transfer as T
from common.tlv import encode, uint
from terminal.cardlink import CardLink, SettlementError
from terminal.journal import BOTH_DONE, PAYEE_DONE, PAYER_DONE
from terminal.recovery import STEP, _outcome, pending_records
from terminal.witness import Witness

_ROUNDS = const(6)  # two cards settle in three; a card that keeps changing its story stops here


def recover(cards, journal, trace=None):
    """Complete or undo every unfinished transfer that the cards present (one or more
    `(label, channel)` pairs) or the journal know of, as far as these cards allow.

    Returns what was done, one dict per action as `_outcome` makes them: "completed" (the
    payee credited), "confirmed" (the payer's record cleared by the credit proof), "undone"
    (the payee dropped a tentative credit its payer never debited), "released" (an amount
    the payer set aside at S2001 came back on its payee's release proof). `waiting()` tells
    what is left and which card it needs.
    """
    witness = Witness(journal, trace)  # every answer is journaled before the next command
    present = []
    for label, channel in cards:
        link = CardLink(channel, label, witness)
        info = link.select(STEP)
        if int.from_bytes(bytes(info[P.TAG_STATE]), "big") == P.STATE_ACTIVE:
            present.append((link, bytes(info[P.TAG_CARD_ID]), info[P.TAG_PENDING][0]))
    done = []
    for _ in range(_ROUNDS):  # until a round teaches nothing: each action is news
        seen = journal.changes
        for link, card_id, flags in present:
            if flags or journal.involving(card_id):
                _contact(link, card_id, journal, done)
        if journal.changes == seen:
            break
    return done


def _contact(link, card_id, journal, done):
    out_rec, in_rec = pending_records(link)  # the witness journals both
    out_ctx = bytes(out_rec[P.TAG_CONTEXT]) if out_rec is not None else None
    in_ctx = bytes(in_rec[P.TAG_CONTEXT]) if in_rec is not None else None
    for e in journal.involving(card_id):
        if journal.entry(e.context) is not e:
            continue  # settled by an earlier entry's action
        if T.is_partial(e.context):
            _permission(link, card_id, e, out_ctx, in_ctx, journal, done)
        elif e.payer == card_id:
            _as_payer(link, e, e.context == out_ctx, journal, done)
        else:
            _as_payee(link, e, e.context == in_ctx, journal, done)


def _as_payer(link, e, pending, journal, done):
    if e.done & PAYER_DONE:
        return
    if pending:
        if e.cp is not None and _try(link, P.INS_VALUE_TX_CONFIRM,
                                     encode(P.TAG_CREDIT_PROOF, e.cp)
                                     + encode(P.TAG_TX_RANDOM, e.c[7])) is not None:
            done.append(_outcome("confirmed", e.c))
    elif e.rx is not None or e.cp is not None:
        # It debited (S2104A) and holds no record: only the payee's credit proof clears one,
        # so another terminal finished both sides.
        journal.learn(e.context, done=BOTH_DONE)
    elif e.key_id is not None:
        # Known from the payee's record only: the payer says whether it debited.
        _try(link, P.INS_PENDING_RESOLVE,
             encode(P.TAG_CONTEXT, e.context) + uint(P.TAG_TRANSFER_KEY_ID, e.key_id, 2))


def _as_payee(link, e, pending, journal, done):
    if e.done & PAYEE_DONE:
        return
    if pending:
        if e.rx is not None:
            if _try(link, P.INS_VALUE_RX, encode(P.TAG_RX_CHALLENGE, e.rx)
                    + encode(P.TAG_RX_RANDOM, e.c[8])) is not None:
                done.append(_outcome("completed", e.c))
        elif e.ap is not None:
            if _try(link, P.INS_VALUE_RX_ABORT, encode(P.TAG_ABORT_PROOF, e.ap)
                    + encode(P.TAG_RX_RANDOM, e.c[8])) is not None:
                done.append(_outcome("undone", e.c))
    elif e.ap is not None:
        journal.learn(e.context, done=PAYEE_DONE)  # it dropped the credit elsewhere
    elif e.rx is not None:
        # It credited elsewhere: asked again, it repeats its proof from its log (S2105B).
        _try(link, P.INS_VALUE_RX, encode(P.TAG_RX_CHALLENGE, e.rx)
             + encode(P.TAG_RX_RANDOM, e.c[8]))


def _permission(link, card_id, e, out_ctx, in_ctx, journal, done):
    """An amount the payer set aside at S2001: the payee's release proof gives it back."""
    if e.payer == card_id:
        if e.context != out_ctx:
            journal.learn(e.context, done=BOTH_DONE)  # used (S2003) or released elsewhere
        elif e.ap is not None and _try(link, P.INS_VALUE_TX_CONFIRM,
                                       encode(P.TAG_ABORT_PROOF, e.ap)
                                       + encode(P.TAG_TX_RANDOM, e.c[7])) is not None:
            done.append(_outcome("released", e.c))
    elif not e.done & PAYEE_DONE and e.key_id is not None and (
            in_ctx is None or T.unpack(in_ctx)[7] != e.c[7]):  # its record, if any, goes first
        _try(link, P.INS_PENDING_RESOLVE,
             encode(P.TAG_CONTEXT, e.context) + uint(P.TAG_TRANSFER_KEY_ID, e.key_id, 2))


def _try(link, ins, data):
    """The answer's fields, or None when the card refuses (its records stay as they were);
    a card that leaves the field still raises."""
    try:
        return link.command(STEP, ins, data)
    except SettlementError as e:
        if e.sw is None:
            raise
        return None


def waiting(journal, card_ids):
    """What is still unfinished for these cards, one dict per transfer: `_outcome` fields plus
    "debited" (the payer's value is in flight or arrived), "credited", and "needs" ("payer"
    or "payee": the card that must be presented next)."""
    out = []
    seen = set()
    for card_id in card_ids:
        for e in journal.involving(card_id):
            if e.context in seen:
                continue
            seen.add(e.context)
            r = _outcome("pending", e.c)
            r["debited"] = e.rx is not None or e.cp is not None
            r["credited"] = e.cp is not None
            r["set_aside"] = T.is_partial(e.context)
            if r["set_aside"]:
                r["needs"] = "payer" if e.done & PAYEE_DONE else "payee"
            elif e.done & PAYEE_DONE or (e.rx is None and e.ap is None and e.cp is None):
                r["needs"] = "payer"
            else:
                r["needs"] = "payee"
            out.append(r)
    return out

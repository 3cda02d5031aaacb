"""Completing or undoing interrupted transfers (docs/protocol.md, "Resumable transfer").

A payer keeps a pending record from its debit (S2104A) until the payee's credit proof arrives;
a payee keeps one from its tentative credit (S2101B) until it credits. With both cards in the
field the terminal settles each record exactly once: it delivers the payer's reception
challenge to the payee (credit, then proof back to the payer), or, when the payer never
debited, carries the payer's abort proof to the payee.

With one card at a time, terminal/resume.py does the same through the terminal's journal.
"""
from common import proto as P
from common import transfer as T
from common.tlv import encode, parse

STEP = "RECOVER"


def pending_records(link):
    """(pending_out, pending_in) of one card: dicts of TLV fields, or None."""
    fields = link.command(STEP, P.INS_GET_PENDING)
    out = fields.get(P.TAG_PENDING_OUT)
    inn = fields.get(P.TAG_PENDING_IN)
    return (parse(out) if out is not None else None, parse(inn) if inn is not None else None)


def _credit(payer, payee, context, reception):
    """Payee credits on the reception challenge; its credit proof clears the payer's record."""
    c = T.unpack(context)
    got = payee.command(STEP, P.INS_VALUE_RX,
                        encode(P.TAG_RX_CHALLENGE, reception) + encode(P.TAG_RX_RANDOM, c[8]))
    return got[P.TAG_CREDIT_PROOF], c


def resolve_pending(a, b, steps):
    """Settle every pending record between cards `a` and `b` (CardInfo); returns what was done,
    one dict per transfer: {"outcome": "completed"|"undone"|"released", "amount", "purse",
    "payer", "payee"}; "released": an amount set aside at S2001 came back to its payer.
    """
    steps.append(STEP)
    records = {a.label: pending_records(a.link), b.label: pending_records(b.link)}
    done = []
    for payer, payee in ((a, b), (b, a)):
        pend_out = records[payer.label][0]
        pend_in = records[payee.label][1]
        if pend_out is not None and T.unpack(pend_out[P.TAG_CONTEXT])[4] == payee.card_id:
            context = bytes(pend_out[P.TAG_CONTEXT])
            if P.TAG_RX_CHALLENGE in pend_out:
                proof, c = _credit(payer.link, payee.link, context,
                                   pend_out[P.TAG_RX_CHALLENGE])
                payer.link.command(STEP, P.INS_VALUE_TX_CONFIRM,
                                   encode(P.TAG_CREDIT_PROOF, proof)
                                   + encode(P.TAG_TX_RANDOM, c[7]))
                done.append(_outcome("completed", c))
                continue
            _undo(payer, payee, pend_in, done)  # a payee record of this permission first
            release(payer.link, payee.link, context, pend_out[P.TAG_TRANSFER_KEY_ID])
            done.append(_outcome("released", T.unpack(context)))
            continue
        _undo(payer, payee, pend_in, done)
    return done


def release(payer, payee, context, key_id):
    """An amount the payer set aside at S2001 for a permission never used comes back: the
    payee proves it holds no record of it (PENDING RESOLVE with the partial context)."""
    got = payee.command(STEP, P.INS_PENDING_RESOLVE,
                        encode(P.TAG_CONTEXT, context) + encode(P.TAG_TRANSFER_KEY_ID, key_id))
    payer.command(STEP, P.INS_VALUE_TX_CONFIRM,
                  encode(P.TAG_ABORT_PROOF, got[P.TAG_ABORT_PROOF])
                  + encode(P.TAG_TX_RANDOM, T.unpack(context)[7]))


def _undo(payer, payee, pend_in, done):
    """The payee's pending record of a transfer from `payer`: completed or undone."""
    if pend_in is None:
        return
    context = bytes(pend_in[P.TAG_CONTEXT])
    c = T.unpack(context)
    if c[3] != payer.card_id:
        return
    answer = payer.link.command(STEP, P.INS_PENDING_RESOLVE,
                                encode(P.TAG_CONTEXT, context)
                                + encode(P.TAG_TRANSFER_KEY_ID, pend_in[P.TAG_TRANSFER_KEY_ID]))
    if P.TAG_RX_CHALLENGE in answer:
        _credit(payer.link, payee.link, context, answer[P.TAG_RX_CHALLENGE])
        done.append(_outcome("completed", c))
    else:
        payee.link.command(STEP, P.INS_VALUE_RX_ABORT,
                           encode(P.TAG_ABORT_PROOF, answer[P.TAG_ABORT_PROOF])
                           + encode(P.TAG_RX_RANDOM, c[8]))
        done.append(_outcome("undone", c))


def _outcome(outcome, c):
    return {"outcome": outcome, "purse": c[0], "amount": c[1], "date": c[2],
            "payer": c[3], "payee": c[4]}

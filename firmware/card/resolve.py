"""ISSUER RESOLVE: the issuer's way out for a pending record no card can settle.

Loaded on first use: a card needs it only when the issuer steps in (common/resolution.py).
"""
from card.applet import check
from common import proto as P
from common import resolution
from common import transfer as T
from common.tlv import need, need_uint, parse, uint


def issuer_resolve(applet, p1, data):
    """Settle the pending record with this context as the issuer's MACed verdict says; the
    issuer's date becomes the card's earliest acceptable date (its only trusted time)."""
    f = parse(data)
    context = bytes(need(f, P.TAG_CONTEXT, T.CONTEXT_LEN))
    verdict = need_uint(f, P.TAG_VERDICT, 1)
    date = need_uint(f, P.TAG_DATE, 4)
    tag = need(f, P.TAG_MAC, P.MAC_LEN)
    s = applet.state
    check(resolution.check(s.perso_key, s.card_id, verdict, date, context, tag), P.SW_SECURITY)
    check(P.VERDICT_CREDIT <= verdict <= P.VERDICT_REFUND, P.SW_WRONG_DATA)
    incoming = verdict <= P.VERDICT_ABORT
    name = "pending_in" if incoming else "pending_out"
    rec = getattr(s, name)
    check(rec is not None and rec[: T.CONTEXT_LEN] == context, P.SW_NOT_FOUND)
    purse, amount = T.unpack(context)[:2]
    balance = s.purses[purse]
    if verdict == P.VERDICT_CREDIT:  # the payer debited: credit as VALUE RX would
        check(balance[0] + amount <= balance[1], P.SW_VALUE_LIMIT)
        balance[0] += amount
        s.counter += 1
        applet.log_entry(P.LOG_IN, context, T.mac(T.record_key(rec), T.CREDIT_PROOF))
    elif verdict == P.VERDICT_REFUND:  # the payee never credits: the value comes back
        balance[0] += amount
    setattr(s, name, None)
    s.not_before = max(s.not_before, date)
    s.last_date = max(s.last_date, date)
    applet.save()
    return uint(P.TAG_BALANCE, balance[0], 4)

"""`upurse issuer resolve NAME`: the issuer settles pending records that no pair of cards can.

A record can outlive every way the cards have to settle it (docs/protocol.md section 12): the
payee's credit proof gone from its log, the payer's transfer key rolled past the four old ones a
card keeps, a payer that never comes back. The issuer decides each such transfer once, from the
cards it can read, and keeps the decision (its *fate*) in the registry, so that every later
verdict on either side of that transfer agrees with it:

- "credited": the payer debited. Its record is dropped, the payee's (if any) is credited.
- "aborted": the payer never debited (or the issuer dropped the payee's record first). The
  payee's record is dropped; a payer's record, if one ever shows up, is refunded, as is an
  amount a payer set aside at S2001 for a permission it never used.

The verdict goes to each card as ISSUER RESOLVE, MACed under that card's personalization key
(common/resolution.py); the card checks it and applies it to that one record.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import date

from common import resolution  # noqa: E402  (port installed by upurse.issuer)
from common import transfer as T  # noqa: E402
from common.tlv import encode, uint  # noqa: E402
from terminal.cardlink import CardLink  # noqa: E402
from terminal.inspect import read_log  # noqa: E402
from terminal.journal import partial  # noqa: E402
from terminal.recovery import pending_records  # noqa: E402
from upurse.issuer import Issuer
from upurse.protocol import proto

CREDITED = "credited"
ABORTED = "aborted"
_TABLE = """CREATE TABLE IF NOT EXISTS resolutions (
    context BLOB PRIMARY KEY, fate TEXT NOT NULL, decided TEXT NOT NULL)"""
_VERDICTS = {  # (outgoing record, fate) -> verdict
    (True, CREDITED): proto.VERDICT_CREDITED, (True, ABORTED): proto.VERDICT_REFUND,
    (False, CREDITED): proto.VERDICT_CREDIT, (False, ABORTED): proto.VERDICT_ABORT,
}
VERDICT_NAMES = {proto.VERDICT_CREDITED: "credited", proto.VERDICT_REFUND: "refunded",
                 proto.VERDICT_CREDIT: "credited", proto.VERDICT_ABORT: "dropped"}


class Side:
    """One card as the issuer reads it: its pending records and logged debits."""

    def __init__(self, issuer: Issuer, name: str, channel):
        self.issuer = issuer
        self.name = name
        self.card_id = issuer.card(name).card_id
        self.link = CardLink(channel, name)
        self.debits = {ctx for d, ctx, _ in read_log(self.link) if d == proto.LOG_OUT}
        out, inn = pending_records(self.link)
        self.records = {}  # context -> True for the outgoing record, False for the incoming
        for rec, outgoing in ((out, True), (inn, False)):
            if rec is not None:
                self.records[bytes(rec[proto.TAG_CONTEXT])] = outgoing

    def debited(self, context: bytes) -> bool:
        return context in self.debits or self.records.get(context) is True

    def settle(self, context: bytes, fate: str) -> dict:
        """Send the verdict on the record `context` to the card; what was done."""
        outgoing = self.records.pop(context)
        verdict = _VERDICTS[outgoing, fate]
        day = int(date.today().strftime("%Y%m%d"))
        tag = resolution.mac(self.issuer.perso_key(self.card_id), self.card_id, verdict, day,
                             context)
        got = self.link.command("RESOLVE", proto.INS_ISSUER_RESOLVE,
                                encode(proto.TAG_CONTEXT, context)
                                + uint(proto.TAG_VERDICT, verdict, 1)
                                + uint(proto.TAG_DATE, day, 4) + encode(proto.TAG_MAC, tag))
        c = T.unpack(context)
        return {"card": self.name, "record": "outgoing" if outgoing else "incoming",
                "outcome": VERDICT_NAMES[verdict], "fate": fate, "purse": c[0], "amount": c[1],
                "date": c[2], "payer": c[3], "payee": c[4],
                "balance": int.from_bytes(bytes(got[proto.TAG_BALANCE]), "big")}


def resolve(issuer: Issuer, name: str, open_card: Callable) -> list[dict]:
    """Settle every pending record of card `name`, and the other side of each transfer where
    the issuer can read that card; one dict per record settled."""
    issuer.db.execute(_TABLE)
    done = []
    with ExitStack() as stack:
        card = Side(issuer, name, stack.enter_context(open_card(name)))
        for context, outgoing in list(card.records.items()):
            c = T.unpack(context)
            known = issuer.card_by_id(c[4] if outgoing else c[3])
            peer = None
            if known is not None and known.name != name:
                peer = Side(issuer, known.name, stack.enter_context(open_card(known.name)))
            fate = _fate(issuer, context, outgoing, card, peer)
            done.append(card.settle(context, fate))
            for other in list(peer.records) if peer is not None else ():
                if partial(other) == partial(context):  # the same permission's other side
                    _fate(issuer, other, peer.records[other], peer, None, fate)
                    done.append(peer.settle(other, fate))
    return done


def _fate(issuer: Issuer, context: bytes, outgoing: bool, card: Side, peer: Side | None,
          fate: str | None = None) -> str:
    """What became of this transfer (or permission): decided once, kept in the registry."""
    row = issuer.db.execute("SELECT fate FROM resolutions WHERE context = ?",
                            (context,)).fetchone()
    if row is not None:
        return row[0]
    if fate is not None:
        pass  # decided on the other side
    elif T.is_partial(context):  # an amount set aside at S2001, never debited
        fate = ABORTED
    elif outgoing:  # the card's record is its debit (S2104A)
        fate = CREDITED
    else:  # the payer's log or record holds its debit, or it never made one
        fate = CREDITED if peer is not None and peer.debited(context) else ABORTED
    issuer.db.execute("INSERT INTO resolutions VALUES (?, ?, ?)",
                      (context, fate, date.today().isoformat()))
    issuer.db.commit()
    return fate

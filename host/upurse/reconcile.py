"""`upurse issuer reconcile`: match every card's log and pending records, transfer by transfer.

Cards that never meet again still each remember their side: the payer logs its debit with the
reception challenge (S2105A), the payee logs its credit with its credit proof (S2105B), and a
pending record marks a side not yet finished. Both sides of one transfer carry the same packed
context, so the issuer matches them by context and checks each logged MAC under the transfer
key generations it issued: a log entry that verifies was written by a genuine card.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from common import transfer as T  # noqa: E402  (port installed by upurse.issuer)
from terminal.cardlink import CardLink  # noqa: E402
from terminal.inspect import read_log  # noqa: E402
from terminal.recovery import pending_records  # noqa: E402
from upurse.issuer import Issuer
from upurse.protocol import PURSE_NAMES, proto


@dataclass
class Transfer:
    """What the cards say about one transfer."""

    context: bytes
    payer_logged: bool = False  # the payer's log holds its debit
    payee_logged: bool = False  # the payee's log holds its credit
    payer_pending: bool = False  # the payer waits for the credit proof
    payee_pending: bool = False  # the payee holds a tentative credit
    macs_ok: bool = True

    @property
    def fields(self) -> tuple:
        return T.unpack(self.context)

    def status(self) -> tuple[str, bool]:
        """(what happened, whether the value is in flight: debited and not credited)."""
        if not self.macs_ok:
            return "a logged MAC does not verify: the log was not written by a genuine card", False
        if self.payer_logged and self.payee_logged:
            if self.payer_pending:
                return "completed; the payer still awaits the credit proof (upurse recover)", False
            return "completed: payer and payee logs agree", False
        if self.payer_pending:
            return "in flight: debited, the payee has not credited (upurse recover)", True
        if self.payee_pending:
            return "tentative: the payee holds a credit its payer never debited", False
        if self.payer_logged:
            return ("completed (the payer holds the credit proof); the payee's log no longer "
                    "holds it", False)
        return "credited; the payer's log no longer holds it", False


def read_cards(issuer: Issuer, open_card: Callable) -> dict[bytes, Transfer]:
    """`open_card(name)`: a context manager giving the card's channel (a CardProcess)."""
    transfers: dict[bytes, Transfer] = {}

    def get(context) -> Transfer:
        context = bytes(context)
        return transfers.setdefault(context, Transfer(context))

    keys = [issuer.key("transfer", g) for g in range(1, issuer.current("transfer") + 1)]
    for rec in issuer.cards():
        with open_card(rec.name) as proc:
            link = CardLink(proc, rec.name)
            log = read_log(link)  # selects the card
            out, inn = pending_records(link)
        for direction, context, mac in log:
            t = get(context)
            label = T.RX_CHALLENGE if direction == proto.LOG_OUT else T.CREDIT_PROOF
            if not any(T.check(T.session_key(k, context), label, mac) for k in keys):
                t.macs_ok = False
            if direction == proto.LOG_OUT:
                t.payer_logged = True
            else:
                t.payee_logged = True
        if out is not None:
            get(out[proto.TAG_CONTEXT]).payer_pending = True
        if inn is not None:
            get(inn[proto.TAG_CONTEXT]).payee_pending = True
    return transfers


def reconcile(issuer: Issuer, open_card: Callable) -> dict:
    """Every transfer any registered card remembers, with its status, and the value in flight."""
    def name(card_id: bytes) -> str:
        known = issuer.card_by_id(card_id)
        return known.name if known else card_id.hex()

    rows = []
    in_flight: dict[str, int] = {}
    for t in read_cards(issuer, open_card).values():
        purse, amount, day, payer, payee, payer_ctr, payee_ctr = t.fields[:7]
        status, flying = t.status()
        purse_name = PURSE_NAMES.get(purse, str(purse))
        if flying:
            in_flight[purse_name] = in_flight.get(purse_name, 0) + amount
        rows.append({
            "payer": name(payer), "payee": name(payee), "amount": amount, "purse": purse_name,
            "date": day, "payer_counter": payer_ctr, "payee_counter": payee_ctr,
            "agree": t.payer_logged and t.payee_logged and t.macs_ok, "in_flight": flying,
            "status": status, "context": t.context.hex(),
        })
    rows.sort(key=lambda r: (r["date"], r["payer"], r["payer_counter"]))
    return {"transfers": rows, "in_flight": in_flight,
            "cards": len(issuer.cards())}

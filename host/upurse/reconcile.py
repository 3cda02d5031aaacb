"""`upurse issuer reconcile`: every card's balance against what central clearing explains.

For each registered card the issuer reads what the card says (balances, log, pending records),
adds the card's own MAC-verified proofs to the clearing registry (upurse.clearing), and computes
the card's expected balance per purse: its opening balance at personalization, plus every
cleared credit, minus every cleared debit and any amount a permission (S2001) holds set aside.
A card is flagged, with the reason, when:

- it refuses to be read (a damaged or edited record answers 6581, card/state.py);
- its balance is not the expected one (an edit made with the card's own keys, or transfers
  cleared nowhere: collect the terminals' batches, `upurse issuer collect`);
- it no longer remembers a transaction the issuer cleared, newer than everything its log holds:
  its record was put back from an older valid copy (a rollback), which no MAC can see;
- a log entry's MAC does not verify, or a transfer holds both an abort proof and a debit proof.

Both sides of one transfer carry the same packed context, so the transfer table matches the
cards' sides by context, as before clearing existed (transfers in flight, tentative credits).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from common import transfer as T  # noqa: E402  (port installed by upurse.issuer)
from terminal.cardlink import CardLink, SettlementError  # noqa: E402
from terminal.clearing import CREDIT, DEBIT  # noqa: E402
from terminal.inspect import read_card, read_log  # noqa: E402
from terminal.recovery import pending_records  # noqa: E402
from upurse.cardproc import LinkError
from upurse.clearing import ClearingRegistry, record
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


@dataclass
class CardView:
    """What one card told the issuer, or why it told nothing."""

    name: str
    card_id: bytes
    purses: dict[int, int] = field(default_factory=dict)
    log: list = field(default_factory=list)  # (direction, context, MAC)
    pending_out: bytes | None = None
    set_aside: bytes | None = None  # a permission's amount set aside, not yet debited
    error: str | None = None
    flags: list[str] = field(default_factory=list)


def read_one(rec, open_card: Callable) -> tuple[CardView, dict | None, dict | None]:
    view = CardView(rec.name, rec.card_id)
    out = inn = None
    try:
        with open_card(rec.name) as proc:
            link = CardLink(proc, rec.name)
            card = read_card(link)
            view.purses = {p: b for p, (b, _) in card.get("purses", {}).items()}
            view.log = read_log(link)
            out, inn = pending_records(link)
    except (SettlementError, LinkError) as e:
        view.error = str(e)
    return view, out, inn


def reconcile(issuer: Issuer, open_card: Callable) -> dict:
    """Every transfer any registered card remembers, each card's balance against clearing,
    the cards flagged and the value in flight."""
    registry = ClearingRegistry(issuer)
    transfers: dict[bytes, Transfer] = {}

    def get(context) -> Transfer:
        context = bytes(context)
        return transfers.setdefault(context, Transfer(context))

    views = []
    for rec in issuer.cards():
        view, out, inn = read_one(rec, open_card)
        views.append(view)
        source = f"card {rec.name}"
        for i, (direction, context, mac) in enumerate(view.log):
            t = get(context)
            kind = DEBIT if direction == proto.LOG_OUT else CREDIT
            if registry.add(record(kind, context, mac, 0), source) == "refused":
                t.macs_ok = False
                view.flags.append(f"log entry {i} does not verify: not written by a genuine card")
            if direction == proto.LOG_OUT:
                t.payer_logged = True
            else:
                t.payee_logged = True
        if out is not None:
            context = bytes(out[proto.TAG_CONTEXT])
            view.pending_out = context
            get(context).payer_pending = True
            if proto.TAG_RX_CHALLENGE in out:  # debited (S2104A); else only set aside (S2101A)
                registry.add(record(DEBIT, context, out[proto.TAG_RX_CHALLENGE], 0), source)
            else:
                view.set_aside = context
        if inn is not None:
            get(inn[proto.TAG_CONTEXT]).payee_pending = True
    issuer.db.commit()

    fates = registry.fates()
    cards = [_balance(registry, v, fates) for v in views]
    return {"transfers": _rows(issuer, transfers), "in_flight": _in_flight(transfers),
            "cards": len(views), "balances": cards,
            "flagged": [c["name"] for c in cards if c["flags"]],
            "refused_proofs": registry.refused()}


def _balance(registry: ClearingRegistry, view: CardView, fates: dict[bytes, str]) -> dict:
    """The card's balances against what clearing explains, with a reason for each mismatch."""
    me = view.card_id
    row = {"name": view.name, "card_id": me.hex(), "balances": {}, "expected": {},
           "flags": list(view.flags)}
    if view.error is not None:
        row["flags"].append(f"the card cannot be read: {view.error}")
        return row
    opening = registry.opening(me)
    cleared = registry.transfers(me)
    expected = dict(opening or {})
    for t in cleared:
        purse, amount, _, payer, payee = t.fields[:5]
        if t.abort and t.debit:
            row["flags"].append(f"transfer #{t.fields[5]} holds an abort proof and a debit "
                                "proof: a transfer key may be compromised")
        if payer == me and t.debit:
            expected[purse] = expected.get(purse, 0) - amount
            if fates.get(t.context) == "aborted" and view.pending_out != t.context:
                expected[purse] += amount  # refunded by the issuer (ISSUER RESOLVE)
        if payee == me and t.credit:
            expected[purse] = expected.get(purse, 0) + amount
    if view.set_aside is not None:  # S2001 took it from the balance until S2003 or a release
        purse, amount = T.unpack(view.set_aside)[:2]
        expected[purse] = expected.get(purse, 0) - amount
    row["balances"] = {PURSE_NAMES.get(p, str(p)): b for p, b in sorted(view.purses.items())}
    if opening is None:
        row["flags"].append("no opening balance on record (card made before clearing): its "
                            "balance cannot be explained")
    else:
        row["expected"] = {PURSE_NAMES.get(p, str(p)): b for p, b in sorted(expected.items())}
        for purse, balance in sorted(view.purses.items()):
            want = expected.get(purse, 0)
            if balance != want:
                row["flags"].append(
                    f"{PURSE_NAMES.get(purse, purse)} balance {balance}, cleared transactions "
                    f"explain {want} ({balance - want:+d} unexplained)")
    forgotten = _forgotten(view, cleared)
    if forgotten:
        t = forgotten[-1]
        side = "paid" if t.fields[3] == me else "was paid"
        day = t.fields[2]
        row["flags"].append(
            f"the card no longer remembers {len(forgotten)} cleared transaction(s) newer than "
            f"its log (latest: it {side} {t.fields[1]} on {day // 10000:04d}-"
            f"{day // 100 % 100:02d}-{day % 100:02d}, from {t.source}): its record was put "
            "back from an older copy")
    return row


def _forgotten(view: CardView, cleared: list) -> list:
    """Cleared transactions in which this card did its part (debited, or credited) that its
    log and pending record do not hold, and that are newer, by the card's own transaction
    counter, than every entry its log still holds: a genuine card drops only its oldest."""
    me = view.card_id
    held = {bytes(ctx) for _, ctx, _ in view.log}
    if view.pending_out is not None:
        held.add(view.pending_out)
    newest = -1
    for direction, ctx, _ in view.log:
        c = T.unpack(ctx)
        newest = max(newest, c[5] if direction == proto.LOG_OUT else c[6])
    out = []
    for t in cleared:
        c = t.fields
        mine = (c[3] == me and t.debit) or (c[4] == me and t.credit)
        counter = c[5] if c[3] == me else c[6]
        if mine and t.context not in held and counter > newest:
            out.append(t)
    return sorted(out, key=lambda t: t.fields[5] if t.fields[3] == me else t.fields[6])


def _rows(issuer: Issuer, transfers: dict[bytes, Transfer]) -> list[dict]:
    def name(card_id: bytes) -> str:
        known = issuer.card_by_id(card_id)
        return known.name if known else card_id.hex()

    rows = []
    for t in transfers.values():
        purse, amount, day, payer, payee, payer_ctr, payee_ctr = t.fields[:7]
        status, flying = t.status()
        rows.append({
            "payer": name(payer), "payee": name(payee), "amount": amount,
            "purse": PURSE_NAMES.get(purse, str(purse)), "date": day,
            "payer_counter": payer_ctr, "payee_counter": payee_ctr,
            "agree": t.payer_logged and t.payee_logged and t.macs_ok, "in_flight": flying,
            "status": status, "context": t.context.hex(),
        })
    rows.sort(key=lambda r: (r["date"], r["payer"], r["payer_counter"]))
    return rows


def _in_flight(transfers: dict[bytes, Transfer]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in transfers.values():
        if t.status()[1]:
            purse = PURSE_NAMES.get(t.fields[0], str(t.fields[0]))
            out[purse] = out.get(purse, 0) + t.fields[1]
    return out

"""`upurse`: the issuer's and the operator's command line.

Every command takes `--json` for scripts. A user mistake prints one line naming the problem and
exits 1; nothing on a card changes.
"""
from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from terminal.cardlink import CardLink, SettlementError  # noqa: E402  (port installed)
from terminal.inspect import read_card, read_log  # noqa: E402
from terminal.settlement import fmt_date, settle  # noqa: E402
from upurse.cardproc import CardProcess, LinkError
from upurse.interpreters import INTERPRETERS, InterpreterMissingError
from upurse.issuer import DEFAULT_DIR, Issuer, IssuerError
from upurse.protocol import PURSE_NAMES, PURSES, proto

SCHEMES = {"symmetric": proto.SCHEME_SYMMETRIC}
SCHEME_NAMES = {v: k for k, v in SCHEMES.items()}


class UserError(Exception):
    """Printed as one line, exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + message
        raise UserError(message)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"malformed date {text!r}: use YYYY-MM-DD") from None


def _yyyymmdd(d: date) -> int:
    return int(d.strftime("%Y%m%d"))


def _out(args, data: dict, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _open_card(issuer: Issuer, name: str, interpreter: str) -> CardProcess:
    issuer.card(name)  # unknown card: one clear line
    return CardProcess(issuer.card_store(name), interpreter)


# -- issuer -------------------------------------------------------------------------------------

def cmd_issuer_init(args) -> None:
    issuer = Issuer.init(args.dir)
    _out(args, {"dir": str(args.dir), "transfer_key_id": 1, "update_key_id": 1},
         f"issuer created in {args.dir}: transfer key generation 1, update key generation 1")
    issuer.db.close()


def cmd_rotate(kind: str):
    def run(args) -> None:
        new_id = Issuer(args.dir).rotate(kind)
        _out(args, {f"{kind}_key_id": new_id}, f"{kind} key generation {new_id} is now current")
    return run


# -- cards --------------------------------------------------------------------------------------

def cmd_card_create(args) -> None:
    issuer = Issuer(args.dir)
    default_validity = date(date.today().year + 5, 12, 31)
    valid_until = _date(args.valid_until) if args.valid_until else default_validity
    scheme = SCHEMES[args.scheme]
    card_id, apdus = issuer.personalization(
        args.name, balance=args.balance, points=args.points, valid_until=valid_until,
        transfer_key_id=args.transfer_key_id, max_balance=args.max_balance, scheme=scheme)
    store = issuer.card_store(args.name)
    if store.exists():
        raise UserError(f"{store} already holds a card's flash; remove it or pick another name")
    with CardProcess(store, args.interpreter) as card:
        for apdu in apdus:
            resp = card.transmit(apdu)
            if resp[-2:] != b"\x90\x00":
                raise UserError(f"personalization refused by the card: {resp[-2:].hex().upper()}")
    tk_id = args.transfer_key_id or issuer.current("transfer")
    issuer.register(args.name, card_id, args.scheme, tk_id, valid_until)
    _out(args, {"name": args.name, "card_id": card_id.hex(), "transfer_key_id": tk_id},
         f"card {args.name} ({card_id.hex()}) personalized on transfer key generation {tk_id}")


def card_summary(issuer: Issuer, name: str, card: dict) -> dict:
    purses = card.get("purses", {})
    return {
        "name": name,
        "card_id": card["card_id"].hex(),
        "balance": purses.get(proto.PURSE_MONEY, (0, 0))[0],
        "points": purses.get(proto.PURSE_POINTS, (0, 0))[0],
        "max_balance": purses.get(proto.PURSE_MONEY, (0, 0))[1],
        "transfer_key_id": card.get("transfer_key_id"),
        "update_key_id": card.get("update_key_id"),
        "valid_until": fmt_date(card["validity"]) if "validity" in card else None,
        "scheme": SCHEME_NAMES.get(card.get("scheme"), card.get("scheme")),
        "pending": card.get("pending", 0),
    }


def cmd_card_show(args) -> None:
    issuer = Issuer(args.dir)
    with _open_card(issuer, args.name, args.interpreter) as proc:
        card = read_card(CardLink(proc, args.name))
    s = card_summary(issuer, args.name, card)
    _out(args, s, "\n".join(f"{k:16} {v}" for k, v in s.items()))


def cmd_card_list(args) -> None:
    cards = [{"name": c.name, "card_id": c.card_id.hex(), "scheme": c.scheme,
              "valid_until": c.valid_until} for c in Issuer(args.dir).cards()]
    _out(args, {"cards": cards},
         "\n".join(f"{c['name']:12} {c['card_id']}  {c['scheme']:10} until {c['valid_until']}"
                   for c in cards) or "no cards")


def cmd_card_log(args) -> None:
    issuer = Issuer(args.dir)
    with _open_card(issuer, args.name, args.interpreter) as proc:
        entries = read_log(CardLink(proc, args.name))
    from common.transfer import unpack

    rows = []
    for direction, context, mac in entries:
        purse, amount, day, payer, payee, payer_ctr, payee_ctr = unpack(context)[:7]
        outgoing = direction == proto.LOG_OUT
        peer = payee if outgoing else payer
        known = issuer.card_by_id(peer)
        rows.append({"direction": "out" if outgoing else "in", "amount": amount,
                     "purse": PURSE_NAMES.get(purse, purse), "date": fmt_date(day),
                     "counterparty": known.name if known else peer.hex(),
                     "counter": payer_ctr if outgoing else payee_ctr, "mac": mac.hex()})
    _out(args, {"name": args.name, "log": rows},
         "\n".join(f"{r['date']} {r['direction']:3} {r['amount']:>8} {r['purse']:6} "
                   f"{r['counterparty']:16} #{r['counter']}" for r in rows) or "empty log")


# -- transfer and demo ----------------------------------------------------------------------------

def run_transfer(issuer: Issuer, payer: str, payee: str, amount: int, purse: int, day: date,
                 interpreter: str, trace=None) -> dict:
    if payer == payee:
        raise UserError("payer and payee are the same card")
    if amount <= 0:
        raise UserError(f"amount {amount} must be a positive whole number")
    with ExitStack() as stack:
        a = stack.enter_context(_open_card(issuer, payer, interpreter))
        b = stack.enter_context(_open_card(issuer, payee, interpreter))
        receipt = settle(a, b, purse, amount, _yyyymmdd(day), trace)
    names = {issuer.card(payer).card_id: payer, issuer.card(payee).card_id: payee}
    return {
        "payer": payer, "payee": payee, "amount": amount, "purse": PURSE_NAMES[purse],
        "date": day.isoformat(), "payer_card_id": receipt["payer"].hex(),
        "payee_card_id": receipt["payee"].hex(), "payer_balance": receipt["payer_balance"],
        "payee_balance": receipt["payee_balance"], "key_roll": receipt["key_roll"],
        "transfer_key_id": receipt["transfer_key_id"], "steps": receipt["steps"],
        "recovered": [dict(r, purse=PURSE_NAMES.get(r["purse"]), date=fmt_date(r["date"]),
                           payer=names.get(r["payer"], r["payer"].hex()),
                           payee=names.get(r["payee"], r["payee"].hex()))
                      for r in receipt["recovered"]],
        "exchanges": receipt["exchanges"],
        "bytes_on_air": receipt["bytes_to_cards"] + receipt["bytes_from_cards"],
        "interpreter": interpreter,
    }


def cmd_transfer(args) -> None:
    issuer = Issuer(args.dir)
    day = _date(args.date) if args.date else date.today()
    purse = PURSES["points" if args.points else "money"]
    r = run_transfer(issuer, args.payer, args.payee, args.amount, purse, day, args.interpreter)
    text = (f"{r['payer']} -> {r['payee']}: {r['amount']} {r['purse']} on {r['date']}; "
            f"key roll: {r['key_roll']}; balances {r['payer']} {r['payer_balance']}, "
            f"{r['payee']} {r['payee_balance']}")
    for rec in r["recovered"]:
        text = (f"recovered: earlier transfer {rec['payer']} -> {rec['payee']} of {rec['amount']} "
                f"{rec['purse']} {rec['outcome']}\n") + text
    _out(args, r, text)


def cmd_demo(args) -> None:
    from upurse.demo import run_demo

    run_demo(args)


# -- parser -------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="issuer folder")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    common.add_argument("--interpreter", choices=INTERPRETERS, default="micropython",
                        help="run emulated cards on MicroPython (default) or CPython")
    parser = _Parser(prog="upurse", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    issuer = sub.add_parser("issuer", help="issuer keys and registry").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    p = issuer.add_parser("init", parents=[common], help="create an issuer")
    p.set_defaults(func=cmd_issuer_init)
    p = issuer.add_parser("rotate-transfer-key", parents=[common],
                          help="make the next transfer key generation current")
    p.set_defaults(func=cmd_rotate("transfer"))

    card = sub.add_parser("card", help="personalize and inspect cards").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    p = card.add_parser("create", parents=[common], help="personalize a new emulated card")
    p.add_argument("name")
    p.add_argument("--balance", type=int, required=True, help="opening money balance")
    p.add_argument("--points", type=int, default=0, help="opening points balance")
    p.add_argument("--valid-until", help="term of validity, YYYY-MM-DD")
    p.add_argument("--transfer-key-id", type=int, help="transfer key generation (default current)")
    p.add_argument("--max-balance", type=int, default=1_000_000, help="maximum balance per purse")
    p.add_argument("--scheme", choices=sorted(SCHEMES), default="symmetric",
                   help="how the card's transfer key is rolled (seed embodiment)")
    p.set_defaults(func=cmd_card_create)
    for action, func, text in (("show", cmd_card_show, "balances, key IDs and validity"),
                               ("log", cmd_card_log, "the card's last transactions")):
        p = card.add_parser(action, parents=[common], help=text)
        p.add_argument("name")
        p.set_defaults(func=func)
    p = card.add_parser("list", parents=[common], help="cards in the registry")
    p.set_defaults(func=cmd_card_list)

    p = sub.add_parser("transfer", parents=[common], help="move value from one card to another")
    p.add_argument("payer")
    p.add_argument("payee")
    p.add_argument("amount", type=int)
    p.add_argument("--points", action="store_true", help="move points instead of money")
    p.add_argument("--date", help="transaction date, YYYY-MM-DD (default today)")
    p.set_defaults(func=cmd_transfer)

    p = sub.add_parser("demo", parents=[common], help="the whole story on a fresh issuer")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.func(args)
        return 0
    except (UserError, IssuerError, SettlementError, LinkError, InterpreterMissingError) as e:
        print(f"upurse: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

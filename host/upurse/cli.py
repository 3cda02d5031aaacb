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
from terminal.journal import Journal  # noqa: E402
from terminal.resume import recover, waiting  # noqa: E402
from terminal.settlement import fmt_date, settle  # noqa: E402
from terminal.witness import Witness  # noqa: E402
from upurse import rigmode
from upurse.cardproc import CardProcess, LinkError
from upurse.fieldcut import STEPS, FieldCut
from upurse.interpreters import INTERPRETERS, InterpreterMissingError
from upurse.issuer import DEFAULT_DIR, Issuer, IssuerError
from upurse.protocol import PURSE_NAMES, PURSES, proto
from upurse.rig.control import RigError
from upurse.terminal import TerminalError

SCHEMES = {"symmetric": proto.SCHEME_SYMMETRIC, "pki": proto.SCHEME_PKI,
           "hybrid": proto.SCHEME_HYBRID, "preloaded": proto.SCHEME_PRELOADED,
           "hybrid-update": proto.SCHEME_HYBRID_UPDATE}  # seed embodiments 1-5
SCHEME_NAMES = {v: k for k, v in SCHEMES.items()}


class UserError(Exception):
    """Printed as one line, exit status 1."""


class TransferInterruptedError(Exception):
    """A transfer cut short on purpose (--interrupt-after): one line, exit status 3."""


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
    rigmode.release_card(issuer, name)  # a running rig lets go of the card's flash first
    return CardProcess(issuer.card_store(name), interpreter)


def _journal(issuer: Issuer) -> Journal:
    """This host terminal's journal of unfinished transfers (terminal/journal.py)."""
    return Journal(str(issuer.root / "terminal"))


def _names(issuer: Issuer, r: dict) -> dict:
    """A recovery record (terminal/recovery.py) with card names, purse name and date."""
    def name(card_id: bytes) -> str:
        known = issuer.card_by_id(card_id)
        return known.name if known else card_id.hex()

    return dict(r, purse=PURSE_NAMES.get(r["purse"], r["purse"]), date=fmt_date(r["date"]),
                payer=name(r["payer"]), payee=name(r["payee"]))


def _recovery_text(r: dict) -> str:
    what = f"{r['payer']} -> {r['payee']} of {r['amount']} {r['purse']}"
    return {
        "completed": f"recovered: earlier transfer {what} completed ({r['payee']} credited)",
        "confirmed": f"recovered: earlier transfer {what} confirmed ({r['payer']}'s pending "
                     f"record cleared by {r['payee']}'s credit proof)",
        "undone": f"recovered: earlier transfer {what} undone ({r['payer']} never debited; "
                  f"{r['payee']} dropped its tentative credit)",
        "released": f"recovered: earlier permission {what} released ({r['payee']} holds no "
                    f"record of it; {r['payer']}'s amount set aside came back)",
    }[r["outcome"]]


def _waiting_text(r: dict) -> str:
    what = f"{r['payer']} -> {r['payee']} of {r['amount']} {r['purse']}"
    if r.get("set_aside"):
        state = f"{r['payer']} set the amount aside for a permission never used"
    elif r["credited"]:
        state = f"{r['payee']} credited; {r['payer']} still holds a pending record"
    elif r["debited"]:
        state = f"{r['payer']} debited; the value is in flight until {r['payee']} credits"
    else:
        state = f"{r['payee']} holds a tentative credit"
    return f"still pending: transfer {what}: {state}; present {r[r['needs']]}"


# -- issuer -------------------------------------------------------------------------------------

def _key_store(args):
    """The key store `issuer init` and `issuer restore` seal the issuer's secrets with."""
    from upurse import keystore

    try:
        return keystore.new_settings(args.key_store, args.pkcs11_module, args.pkcs11_token)
    except keystore.KeyStoreError as e:
        raise UserError(str(e)) from None


def _dev_warning(settings) -> None:
    if settings.dev:
        from upurse.keystore import DEV_PASSPHRASE

        print(f"upurse: warning: the issuer's keys are sealed under the published development "
              f"passphrase {DEV_PASSPHRASE!r}: fine for tests and demos, not for real keys "
              "(set UPURSE_PASSPHRASE, or use --key-store pkcs11)", file=sys.stderr)


def cmd_issuer_init(args) -> None:
    settings = _key_store(args)
    issuer = Issuer.init(args.dir, key_store=settings)
    _dev_warning(settings)
    _out(args, {"dir": str(args.dir), "transfer_key_id": 1, "update_key_id": 1,
                "key_store": settings.kind, "dev_passphrase": settings.dev},
         f"issuer created in {args.dir}: transfer key generation 1, update key generation 1; "
         f"keys sealed by {settings.kind}" + (" (development passphrase)" if settings.dev
                                              else ""))
    issuer.db.close()


def cmd_issuer_backup(args) -> None:
    from upurse import backup

    issuer = Issuer(args.dir)
    try:
        data = backup.export(issuer)
        backup.write_new(args.file, data)
    except backup.BackupError as e:
        raise UserError(str(e)) from None
    _out(args, {"file": str(args.file), "bytes": len(data)},
         f"issuer backed up to {args.file} ({len(data)} bytes, sealed under the backup "
         "passphrase)")


def cmd_issuer_restore(args) -> None:
    from upurse import backup

    settings = _key_store(args)
    try:
        n = backup.restore(args.dir, backup.read(args.file), settings)
        restored = Issuer(args.dir)
        restored.sealer  # noqa: B018 - opens the new key store: the check value must open
        backup.verify(restored, n)
    except backup.BackupError as e:
        raise UserError(str(e)) from None
    _dev_warning(settings)
    _out(args, {"dir": str(args.dir), "secrets": len(n), "key_store": settings.kind},
         f"issuer restored in {args.dir}: {len(n)} secrets checked and sealed by "
         f"{settings.kind}; cards registered: {len(restored.cards())}")


def cmd_rotate(kind: str):
    def run(args) -> None:
        new_id = Issuer(args.dir).rotate(kind)
        _out(args, {f"{kind}_key_id": new_id}, f"{kind} key generation {new_id} is now current")
    return run


def cmd_issuer_revoke(args) -> None:
    issuer = Issuer(args.dir)
    sequence = issuer.revoke(args.name)
    _out(args, {"revoked": args.name, "crl_sequence": sequence},
         f"card {args.name} revoked: CRL {sequence} issued; terminals refuse it from now on")


def cmd_issuer_crl(args) -> None:
    from upurse.issuer_pki import crl_sequence, revoked_names

    issuer = Issuer(args.dir)
    data = issuer.crl()
    if args.out:
        Path(args.out).write_bytes(data)
    r = {"sequence": crl_sequence(data), "revoked": revoked_names(issuer.db),
         "file": str(args.out) if args.out else None, "crl": data.hex()}
    _out(args, r, f"CRL {r['sequence']}: revoked {', '.join(r['revoked']) or 'none'}"
         + (f"; written to {args.out}" if args.out else ""))


def terminal_crl(issuer: Issuer, offered: Path | None = None):
    """The host terminal's CRL holder: the newest list it has seen (kept in the issuer folder),
    updated from the issuer's current list and from `offered`, never rolled back."""
    from terminal.revocation import CrlHolder
    from upurse.issuer_pki import ca_public, terminal_crl_path

    ca = ca_public(issuer.root)
    holder = CrlHolder(ca.public_key, ca.reference, str(terminal_crl_path(issuer.root)))
    for data in (issuer.crl(), offered.read_bytes() if offered else None):
        if data is not None:
            try:
                holder.offer(data)
            except ValueError as e:
                raise UserError(f"CRL refused: {e.args[0]}") from None
    return holder


# -- cards --------------------------------------------------------------------------------------

def cmd_card_create(args) -> None:
    issuer = Issuer(args.dir)
    default_validity = date(date.today().year + 5, 12, 31)
    valid_until = _date(args.valid_until) if args.valid_until else default_validity
    scheme = SCHEMES[args.scheme]
    issuer.profile(args.name, balance=args.balance, points=args.points, valid_until=valid_until,
                   transfer_key_id=args.transfer_key_id, max_balance=args.max_balance,
                   scheme=scheme)  # a user mistake: one line, before any card process starts
    store = issuer.card_store(args.name)
    if store.exists() and not (getattr(args, "port", None) or getattr(args, "terminal_port", None)):
        raise UserError(f"{store} already holds a card's flash; remove it or pick another name")
    with rigmode.perso_channel(args, store) as card:  # emulated, wired board or terminal
        card_id, _ = issuer.personalize(
            card, args.name, balance=args.balance, points=args.points, valid_until=valid_until,
            transfer_key_id=args.transfer_key_id, max_balance=args.max_balance, scheme=scheme)
    tk_id = args.transfer_key_id or issuer.current("transfer")
    issuer.register(args.name, card_id, args.scheme, tk_id, valid_until,
                    opening={proto.PURSE_MONEY: args.balance, proto.PURSE_POINTS: args.points})
    uk_id = 0 if scheme == proto.SCHEME_PKI else issuer.current("update")  # Fig. 6: none
    _out(args, {"name": args.name, "card_id": card_id.hex(), "transfer_key_id": tk_id,
                "update_key_id": uk_id, "scheme": args.scheme},
         f"card {args.name} ({card_id.hex()}) personalized on transfer key generation {tk_id}"
         + (f", update key generation {uk_id}" if uk_id else "") + f" ({args.scheme})")


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
        "last_date": fmt_date(card["last_date"]) if card.get("last_date") else None,
    }


def cmd_card_show(args) -> None:
    issuer = Issuer(args.dir)
    if args.rig in rigmode.TERMINAL_MODES:  # through the terminal board (upurse.rigmode)
        s = rigmode.card_show(args, issuer)
        return _out(args, s, "\n".join(f"{k:16} {v}" for k, v in s.items()))
    rigmode.no_field(args, f"--rig {args.rig}")
    opener = rigmode.card_opener(args, issuer)
    with (opener(args.name) if opener else _open_card(issuer, args.name, args.interpreter)) \
            as proc:
        link = CardLink(proc, args.name)
        card = read_card(link)
        s = card_summary(issuer, args.name, card)
        if card.get("scheme", proto.SCHEME_SYMMETRIC) != proto.SCHEME_SYMMETRIC:
            from upurse.issuer_pki import key_info

            s.update(key_info(link))  # certificate dates, key ID limits, pre-loaded IDs
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

def transfer_problem(payer: str, payee: str, amount: int) -> str | None:
    """What is wrong with a transfer on its face (both modes refuse it), or None."""
    if payer == payee:
        return "payer and payee are the same card"
    if amount <= 0:
        return f"amount {amount} must be a positive whole number"
    return None


def revoked_text(issuer: Issuer, e: SettlementError) -> str | None:
    """The line for a settlement refused because a card is on the CRL (its `card_id` is set:
    terminal.revocation.RevokedCard), or None for any other failure."""
    if getattr(e, "card_id", None) is None:
        return None
    known = issuer.card_by_id(e.card_id)
    return f"card {known.name if known else e.card_id.hex()} is revoked: {e}"


def transfer_result(issuer: Issuer, payer: str, payee: str, amount: int, purse: int, day: date,
                    receipt: dict) -> dict:
    """What `upurse transfer` reports of a settlement receipt, in either mode."""
    return {
        "payer": payer, "payee": payee, "amount": amount, "purse": PURSE_NAMES[purse],
        "date": day.isoformat(), "payer_card_id": receipt["payer"].hex(),
        "payee_card_id": receipt["payee"].hex(), "payer_balance": receipt["payer_balance"],
        "payee_balance": receipt["payee_balance"], "key_roll": receipt["key_roll"],
        "transfer_key_id": receipt["transfer_key_id"], "steps": receipt["steps"],
        "recovered": [_names(issuer, r) for r in receipt["recovered"]],
        "exchanges": receipt["exchanges"],
        "bytes_on_air": receipt["bytes_to_cards"] + receipt["bytes_from_cards"],
    }


def run_transfer(issuer: Issuer, payer: str, payee: str, amount: int, purse: int, day: date,
                 interpreter: str, trace=None, interrupt_after: str | None = None,
                 crl: Path | None = None, open_card=None) -> dict:
    """Recover what the journal or the cards know to be unfinished, then settle; the journal
    follows the settlement step by step, so a transfer cut anywhere can be finished later.
    `open_card(name)`: the card's channel (rigmode.card_opener); default its emulated process."""
    problem = transfer_problem(payer, payee, amount)
    if problem:
        raise UserError(problem)
    journal = _journal(issuer)
    cut = FieldCut(interrupt_after) if interrupt_after else None
    with ExitStack() as stack:
        open_card = open_card or (lambda name: _open_card(issuer, name, interpreter))
        a = stack.enter_context(open_card(payer))
        b = stack.enter_context(open_card(payee))
        before = recover([(payer, a), (payee, b)], journal)  # untraced: SELECTs only, mostly
        channels = (cut.wrap(a), cut.wrap(b)) if cut else (a, b)
        try:
            receipt = settle(*channels, purse, amount, _yyyymmdd(day), Witness(journal, trace),
                             crl=terminal_crl(issuer, crl))
        except SettlementError as e:
            revoked = revoked_text(issuer, e)
            if revoked:
                raise UserError(revoked) from None
            if e.sw == proto.SW_PENDING:  # a record with a card not in the field
                ids = [issuer.card(payer).card_id, issuer.card(payee).card_id]
                hints = [_waiting_text(_names(issuer, w)) for w in waiting(journal, ids)]
                raise UserError("; ".join([str(e)] + hints)) from None
            if cut is None or not cut.fired:
                raise
            raise TransferInterruptedError(
                f"transfer interrupted: the cards left the field after {interrupt_after} "
                f"({e.step} not done); run `upurse recover {payer} {payee}`, or the next "
                f"transfer with either card, to finish it"
            ) from None
        receipt["recovered"] = before + receipt["recovered"]
    return {**transfer_result(issuer, payer, payee, amount, purse, day, receipt),
            "interpreter": interpreter,
            "interrupt_after": interrupt_after}  # set here only when the step never came


DATE_SLACK = 1  # days --date may differ from today's date without --allow-date (time zones)


def _last_dates(args, issuer: Issuer, names) -> str:
    """'a last transacted on 2026-12-01, b on ...': the dates the cards hold."""
    held = []
    for name in names:
        if args.rig != "direct" and not args.interrupt_after:
            summary = rigmode.card_show(argparse.Namespace(**{**vars(args), "name": name}),
                                        issuer)
        else:
            with _open_card(issuer, name, args.interpreter) as proc:
                summary = card_summary(issuer, name, read_card(CardLink(proc, name)))
        held.append(f"{name} on {summary['last_date'] or 'no date yet'}")
    return "last transactions: " + ", ".join(held)


def check_date(args, issuer: Issuer, day: date) -> None:
    """A --date far from today is refused unless --allow-date: whatever date a transfer
    names goes into both cards' logs (a card has no clock)."""
    today = date.today()
    if abs((day - today).days) <= DATE_SLACK or args.allow_date:
        return
    raise UserError(f"--date {day.isoformat()} is {abs((day - today).days)} days from today "
                    f"({today.isoformat()}); {_last_dates(args, issuer, (args.payer, args.payee))}"
                    "; pass --allow-date to use it anyway")


def cmd_transfer(args) -> None:
    issuer = Issuer(args.dir)
    day = _date(args.date) if args.date else date.today()
    problem = transfer_problem(args.payer, args.payee, args.amount)
    if problem:
        raise UserError(problem)
    check_date(args, issuer, day)
    purse = PURSES["points" if args.points else "money"]
    if args.rig in rigmode.TERMINAL_MODES and not args.interrupt_after:  # the terminal board
        r = rigmode.run_transfer(args, issuer, purse, day)
    else:  # the host settles: cards as processes (direct), or on PC/SC readers (pcsc)
        rig = "pcsc" if args.rig == "pcsc" else "direct"
        rigmode.no_field(args, "--interrupt-after" if args.interrupt_after else f"--rig {rig}")
        r = run_transfer(issuer, args.payer, args.payee, args.amount, purse, day,
                         args.interpreter, interrupt_after=args.interrupt_after, crl=args.crl,
                         open_card=rigmode.card_opener(args, issuer))
        r["rig"] = rig
    text = (f"{r['payer']} -> {r['payee']}: {r['amount']} {r['purse']} on {r['date']}; "
            f"key roll: {r['key_roll']}; balances {r['payer']} {r['payer_balance']}, "
            f"{r['payee']} {r['payee_balance']}")
    text = "\n".join([_recovery_text(rec) for rec in r["recovered"]] + [text])
    if args.interrupt_after:
        text += (f"\n(--interrupt-after {args.interrupt_after}: this transfer has no such "
                 "step, so nothing was cut)")
    _out(args, r, text)


def cmd_recover(args) -> None:
    """Finish or undo unfinished transfers with the cards present, one or two."""
    issuer = Issuer(args.dir)
    if len(args.cards) > 2 or len(set(args.cards)) != len(args.cards):
        raise UserError("name one card, or two different cards")
    journal = _journal(issuer)
    with ExitStack() as stack:
        cards = [(n, stack.enter_context(_open_card(issuer, n, args.interpreter)))
                 for n in args.cards]
        done = recover(cards, journal)
    left = waiting(journal, [issuer.card(n).card_id for n in args.cards])
    r = {"cards": args.cards, "done": [_names(issuer, d) for d in done],
         "waiting": [_names(issuer, w) for w in left]}
    lines = [_recovery_text(d) for d in r["done"]] + [_waiting_text(w) for w in r["waiting"]]
    _out(args, r, "\n".join(lines) or f"nothing pending for {', '.join(args.cards)}")


def cmd_reconcile(args) -> int:
    from upurse.reconcile import reconcile

    issuer = Issuer(args.dir)
    r = reconcile(issuer, lambda name: _open_card(issuer, name, args.interpreter))
    lines = [f"{fmt_date(t['date'])} {t['payer']} -> {t['payee']} {t['amount']} {t['purse']} "
             f"#{t['payer_counter']}/#{t['payee_counter']}: {t['status']}"
             for t in r["transfers"]]
    flying = ", ".join(f"{v} {k}" for k, v in sorted(r["in_flight"].items())) or "none"
    lines.append(f"{len(r['transfers'])} transfers on {r['cards']} cards; value in flight: "
                 f"{flying}")
    for c in r["balances"]:
        held = ", ".join(f"{k} {v}" for k, v in c["balances"].items()) or "balances unread"
        verdict = "; ".join(c["flags"]) if c["flags"] else "explained by cleared transactions"
        lines.append(f"card {c['name']}: {held}: {'FLAGGED: ' if c['flags'] else ''}{verdict}")
    if r["flagged"]:
        lines.append(f"{len(r['flagged'])} card(s) flagged: {', '.join(r['flagged'])}")
    _out(args, dict(r, transfers=[dict(t, date=fmt_date(t["date"])) for t in r["transfers"]]),
         "\n".join(lines))
    return 2 if r["flagged"] else 0  # like diff: 2 says "look", not "error"


def cmd_issuer_collect(args) -> None:
    """Bring the terminals' clearing batches to the issuer: the host terminal's (direct mode)
    always, and the terminal board's unless --rig direct."""
    from upurse.clearing import ClearingRegistry, collect_board, collect_host

    issuer = Issuer(args.dir)
    registry = ClearingRegistry(issuer)
    got = {"host terminal": collect_host(registry, str(_journal(issuer).folder))}
    if args.rig != "direct":
        with rigmode.session(args, issuer) as s:
            source = "terminal board" if s.mode == "sim" else f"terminal on {args.terminal_port}"
            got[source] = collect_board(registry, lambda op, **f: rigmode.request(s, op, **f),
                                        source)
    lines = [f"{source}: {c['new']} new, {c['known']} already held, {c['refused']} refused "
             "(MAC does not verify)" for source, c in got.items()]
    _out(args, {"collected": got}, "\n".join(lines))


def _resolved_text(r: dict) -> str:
    what = f"{r['payer']} -> {r['payee']} of {r['amount']} {r['purse']} on {r['date']}"
    why = ("the payer debited it" if r["fate"] == "credited"
           else "the payer never debited it" if r["record"] == "incoming"
           else "its payee's tentative credit was dropped")
    return (f"resolved by the issuer: {r['card']}'s {r['record']} record of {what}: {why}; "
            f"{r['outcome']} (balance {r['balance']})")


def cmd_issuer_resolve(args) -> None:
    """The issuer settles the pending records of a card that no terminal can."""
    from upurse.resolve import resolve

    issuer = Issuer(args.dir)
    done = [_names(issuer, r) for r in resolve(
        issuer, args.name, lambda name: _open_card(issuer, name, args.interpreter))]
    _out(args, {"name": args.name, "resolved": done},
         "\n".join(_resolved_text(r) for r in done) or f"nothing pending for {args.name}")


def cmd_demo(args) -> None:
    from upurse.demo import run_demo

    run_demo(args)


# -- parser -------------------------------------------------------------------------------------

def _key_store_options(p) -> None:
    p.add_argument("--key-store", choices=("passphrase", "pkcs11"), default="passphrase",
                   help="seal the issuer's keys under a passphrase (UPURSE_PASSPHRASE, or "
                        "asked; none: the development one) or a PKCS#11 token's key "
                        "(PIN: UPURSE_PKCS11_PIN, or asked)")
    p.add_argument("--pkcs11-module", help="the token's PKCS#11 library, e.g. "
                                           "/usr/lib/softhsm/libsofthsm2.so")
    p.add_argument("--pkcs11-token", help="the token's label")


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
    _key_store_options(p)
    p.set_defaults(func=cmd_issuer_init)
    p = issuer.add_parser("backup", parents=[common],
                          help="the whole issuer in one file, sealed under a backup passphrase "
                               "(UPURSE_BACKUP_PASSPHRASE or asked)")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_issuer_backup)
    p = issuer.add_parser("restore", parents=[common],
                          help="an issuer from a backup, checked, into --dir (never over an "
                               "issuer)")
    p.add_argument("file", type=Path)
    _key_store_options(p)
    p.set_defaults(func=cmd_issuer_restore)
    p = issuer.add_parser("rotate-transfer-key", parents=[common],
                          help="make the next transfer key generation current")
    p.set_defaults(func=cmd_rotate("transfer"))
    p = issuer.add_parser("rotate-update-key", parents=[common],
                          help="make the next update key generation current (cards made after "
                               "it get it; hybrid-update cards carry it to older ones)")
    p.set_defaults(func=cmd_rotate("update"))
    p = issuer.add_parser("revoke", parents=[common], help="put a card on the CRL")
    p.add_argument("name")
    p.set_defaults(func=cmd_issuer_revoke)
    p = issuer.add_parser("crl", parents=[common], help="show or export the current CRL")
    p.add_argument("--out", type=Path, help="write the signed CRL to this file")
    p.set_defaults(func=cmd_issuer_crl)
    p = issuer.add_parser("resolve", parents=[common],
                          help="settle a card's pending records that no terminal can, by the "
                               "issuer's MACed verdict")
    p.add_argument("name")
    p.set_defaults(func=cmd_issuer_resolve)
    p = issuer.add_parser("reconcile", parents=[common],
                          help="each card's balance against what clearing explains (exit 2 when "
                               "a card is flagged), and every transfer the cards remember")
    p.set_defaults(func=cmd_reconcile)
    p = issuer.add_parser("collect", parents=[common],
                          help="bring the terminals' clearing batches (proofs of every moved "
                               "value) into the registry")
    rigmode.add_options(p)
    p.set_defaults(func=cmd_issuer_collect)

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
    p.add_argument("--port", help="a real card board in wired mode on this serial port")
    p.add_argument("--terminal-port", help="through a terminal board: the card on its reader A")
    p.set_defaults(func=cmd_card_create)
    for action, func, text in (("show", cmd_card_show, "balances, key IDs and validity"),
                               ("log", cmd_card_log, "the card's last transactions")):
        p = card.add_parser(action, parents=[common], help=text)
        p.add_argument("name")
        p.set_defaults(func=func)
        if action == "show":
            rigmode.add_options(p)
    p = card.add_parser("list", parents=[common], help="cards in the registry")
    p.set_defaults(func=cmd_card_list)

    p = sub.add_parser("transfer", parents=[common], help="move value from one card to another")
    p.add_argument("payer")
    p.add_argument("payee")
    p.add_argument("amount", type=int)
    p.add_argument("--points", action="store_true", help="move points instead of money")
    p.add_argument("--date", help="transaction date, YYYY-MM-DD (default today)")
    p.add_argument("--allow-date", action="store_true",
                   help=f"take a --date more than {DATE_SLACK} day from today's")
    p.add_argument("--crl", type=Path, help="a CRL file for the terminal (it keeps the newest "
                                            "it has seen, the issuer's current one at least)")
    p.add_argument("--interrupt-after", choices=sorted(STEPS), metavar="STEP",
                   help="for tests and demos: the cards leave the field right after this seed "
                        f"step ({', '.join(sorted(STEPS))})")
    rigmode.add_options(p)
    p.set_defaults(func=cmd_transfer)

    p = sub.add_parser("recover", parents=[common],
                       help="finish or undo interrupted transfers of one card or two")
    p.add_argument("cards", nargs="+", metavar="NAME", help="the card(s) in the field")
    p.set_defaults(func=cmd_recover)

    p = sub.add_parser("demo", parents=[common], help="the whole story on a fresh issuer")
    rigmode.add_options(p)
    p.set_defaults(func=cmd_demo)
    rigmode.add_commands(sub, common)
    from upurse.doctor import add_command as add_doctor

    add_doctor(sub, common)  # `upurse doctor`
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "dir", None) is not None:
            args.dir = args.dir.resolve()  # board processes run elsewhere: no relative paths
        return args.func(args) or 0
    except (UserError, IssuerError, SettlementError, LinkError, InterpreterMissingError,
            RigError, TerminalError) as e:
        print(f"upurse: error: {e}", file=sys.stderr)
        return 1
    except TransferInterruptedError as e:
        print(f"upurse: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

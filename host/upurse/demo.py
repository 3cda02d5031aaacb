"""`upurse demo`: the seed's story on a fresh issuer, with the APDU trace labelled by seed step.

Card a is issued on transfer key generation 1; the issuer rotates; card b is issued on
generation 2. Paying from b to a makes the terminal roll a's transfer key forward under the
shared update key (S1004-S1006) before the value moves (S2001-S2004).

Second part (seed Fig. 18): cards c and d are of the hybrid-update scheme, d issued after the
issuer rotated both the transfer and the update key. Their update keys differ, so the terminal
rolls c forward over the public-key path: certificates, ECDH to c's certificate key, d's
signature over c's update random, and c takes both d's transfer key and its update key.
"""
from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from terminal.cardlink import CardLink  # noqa: E402  (port installed)
from terminal.inspect import read_card  # noqa: E402
from upurse.cardproc import CardProcess
from upurse.issuer import Issuer
from upurse.keystore import dev_settings
from upurse.protocol import PURSES

SEED_STEP_NAMES = {
    "S1001": "select settlement service (+ card information, update random)",
    "S1005": "transfer-key obtaining (wrapped under the update key)",
    "S1006": "transfer-key update",
    "S2001": "value transmission permission",
    "S2002": "value receive permission",
    "S2003": "value transmission",
    "S2004": "value receiving",
    "S2005": "credit proof to payer",
    "S8002": "card information: card public key certificate",
    "S8004": "transfer-key update permission (peer certificate in, update random out)",
    "S8005": "transfer-key obtaining (ECDH, key wrap, signature)",
    "S8006": "transfer-key update (verify, unwrap, check IDs, install; receipt)",
    "S8007": "key confirmation: the source checks the receipt",
    "RECOVER": "recovery of an interrupted transfer",
    "BALANCE": "read balances",
}


# The story's two parts: (cards as (name, opening balance), their points, their scheme, the
# keys the issuer rotates between the first card and the second)
PARTS = (
    ((("a", 1000), ("b", 500)), 20, "symmetric", ("transfer",)),
    ((("c", 300), ("d", 200)), 0, "hybrid-update", ("transfer", "update")),
)
PART_TWO = "\n-- part two: public-key roll of the transfer key and the update key (Fig. 18) --\n"
PART_TWO_TRANSFER = "\ntransfer d -> c, 50 money (update key IDs differ: the public-key path):"


def _hex(data: bytes, limit: int = 24) -> str:
    h = data.hex().upper()
    return h if len(h) <= 2 * limit else h[: 2 * limit] + f"..({len(data)} B)"


def cli_args(root: Path, **fields) -> SimpleNamespace:
    """The CLI's argument namespace for the demo's own `upurse` commands, filled in each step."""
    return SimpleNamespace(dir=root, json=False, **fields)


def issue(args, part: int) -> None:
    """The cards of part `part` (0 or 1) of the story, issued with `upurse card create`."""
    from upurse.cli import cmd_card_create, cmd_rotate

    cards, points, scheme, rotate = PARTS[part]
    for i, (name, balance) in enumerate(cards):
        if i:
            for kind in rotate:
                cmd_rotate(kind)(args)
        args.name, args.balance, args.points, args.valid_until = name, balance, points, None
        args.transfer_key_id, args.max_balance, args.scheme = None, 1_000_000, scheme
        cmd_card_create(args)


def show(issuer: Issuer, read) -> None:
    """One line a card: `read(name)` is what a terminal reads off it (read_card's dict)."""
    from upurse.cli import card_summary

    for rec in issuer.cards():
        s = card_summary(issuer, rec.name, read(rec.name))
        print(f"  card {s['name']}: balance {s['balance']}, points {s['points']}, "
              f"transfer key ID {s['transfer_key_id']}, update key ID {s['update_key_id']}, "
              f"valid until {s['valid_until']}")


def run_demo(args) -> None:
    if getattr(args, "rig", "direct") != "direct":  # the default: through the emulated rig
        from upurse.demo_rig import run_rig_demo

        return run_rig_demo(args)
    from upurse import rigmode

    rigmode.no_field(args, "--rig direct")
    from upurse.cli import run_transfer

    interpreter = args.interpreter
    with tempfile.TemporaryDirectory(prefix="upurse-demo-") as tmp:
        root = Path(tmp) / "issuer"
        Issuer.init(root, key_store=dev_settings())  # no prompt: a demo's keys
        print(f"issuer in {root}; cards run as `{interpreter}` processes\n")
        a = cli_args(root, interpreter=interpreter)
        issue(a, 0)
        issuer = Issuer(root)
        print("\nbefore:")
        show_direct(issuer, interpreter)
        print("\ntransfer b -> a, 100 money (read/write means A holds payer b, B holds payee a):")
        print(f"  {'step':7} {'card':4} {'command APDU':52} {'response':52} {'ms':>4}")

        def trace(step, label, apdu, resp, ms):
            print(f"  {step:7} {label:4} {_hex(apdu):52} {_hex(resp):52} {ms:4}"
                  f"  {SEED_STEP_NAMES.get(step, '')}")

        r = run_transfer(issuer, "b", "a", 100, PURSES["money"], date.today(), interpreter, trace)
        print(f"\nkey roll: {r['key_roll']}; {r['exchanges']} card exchanges, "
              f"{r['bytes_on_air']} bytes on air")
        print("\nafter:")
        show_direct(issuer, interpreter)
        public_key_roll(a, issuer, trace)


def public_key_roll(args, issuer: Issuer, trace) -> None:
    """Part two: both keys rolled over the public-key path (seed Fig. 18)."""
    from upurse.cli import run_transfer

    print(PART_TWO)
    issue(args, 1)
    print(PART_TWO_TRANSFER)
    print(f"  {'step':7} {'card':4} {'command APDU':52} {'response':52} {'ms':>4}")
    r = run_transfer(issuer, "d", "c", 50, PURSES["money"], date.today(), args.interpreter, trace)
    print(f"\nkey roll: {r['key_roll']}; {r['exchanges']} card exchanges, "
          f"{r['bytes_on_air']} bytes on air")
    print("\nafter:")
    show_direct(issuer, args.interpreter)


def show_direct(issuer: Issuer, interpreter: str) -> None:
    """show() with each card run as an `interpreter` process."""
    def read(name: str) -> dict:
        with CardProcess(issuer.card_store(name), interpreter) as proc:
            return read_card(CardLink(proc, name))

    show(issuer, read)

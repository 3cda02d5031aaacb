"""`upurse demo` on the emulated rig: the same story as upurse.demo, told through the terminal
board, with every APDU shown inside the PN532 frames that carried it.

The cards are personalized as emulated cards (their flash folders), then the rig puts them on
the terminal's readers: card boards running the card firmware behind simulated PN532s in
card-emulation mode, the terminal board running the settlement program behind two reader
PN532s. The host only asks the terminal over its serial console (JSON lines); the trace comes
back from the terminal's own PN532 link, and the field's record says what crossed the air.
"""
from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from upurse import rigmode
from upurse.demo import PART_TWO, PART_TWO_TRANSFER, SEED_STEP_NAMES, _hex, cli_args, issue
from upurse.demo import show as show_cards
from upurse.issuer import Issuer
from upurse.keystore import dev_settings
from upurse.protocol import PURSES

ACK = bytes.fromhex("0000ff00ff00")


def describe_frame(f: bytes) -> str:
    """`00 00 FF LEN LCS | D4 40 01 | <APDU> | DCS 00`: a PN532 frame cut where its parts are
    (UM0701-02 §6.2.1); the payload shortened."""
    if f == ACK:
        return "ACK"
    if len(f) < 7 or f[:3] != b"\x00\x00\xff":
        return f.hex().upper()
    head = 8 if f[3:5] == b"\xff\xff" else 5  # extended frame: LENM LENL LCS
    body = f[head:-2]  # TFI, command code, Tg (host) or status (chip), then the APDU
    return (f"{f[:head].hex(' ').upper()} | {body[:3].hex(' ').upper()} | "
            f"{_hex(bytes(body[3:]), 16)} | {f[-2:].hex(' ').upper()}")


def run_rig_demo(args) -> None:
    with tempfile.TemporaryDirectory(prefix="upurse-demo-") as tmp:
        root = Path(tmp) / "issuer"
        Issuer.init(root, key_store=dev_settings())  # no prompt: a demo's keys
        print(f"issuer in {root}; an emulated rig: terminal board, two reader PN532s, "
              "two card boards (micropython processes), the simulated field\n")
        a = cli_args(root, interpreter="micropython", port=None, terminal_port=None)
        issue(a, 0)
        issuer = Issuer(root)
        with rigmode.session(args, issuer) as s:
            print(f"\nterminal board on {s.terminal.port}")
            print("\nbefore:")
            show(s, issuer)
            print("\ntransfer b -> a, 100 money: card b on reader A (payer), card a on reader B")
            transfer(s, "b", "a", 100)
            print("\nafter:")
            show(s, issuer)
            print(PART_TWO)
            issue(a, 1)
            print(PART_TWO_TRANSFER)
            transfer(s, "d", "c", 50)
            print("\nafter:")
            show(s, issuer)


def transfer(s: rigmode.Session, payer: str, payee: str, amount: int) -> None:
    start = len(s.trace() or [])
    reply = rigmode.transfer(s, payer, payee, amount, PURSES["money"], date.today(), trace=True)
    print_trace(reply["trace"])
    r = reply["receipt"]
    print(f"\nkey roll: {r['key_roll']}; {r['exchanges']} card exchanges, "
          f"{r['bytes_to_cards'] + r['bytes_from_cards']} APDU bytes on air; "
          f"terminal time {sum(t['ms'] for t in reply['trace'])} ms")
    air = s.trace()
    if air is not None:
        kinds = [e[3] for e in air[start:]]
        print(f"the field recorded {len(kinds)} events on the air: "
              f"{kinds.count('activate')} activations, {kinds.count('cmd')} command and "
              f"{kinds.count('rsp')} response APDUs, {kinds.count('release')} releases")


def print_trace(trace: list[dict]) -> None:
    print(f"  {'step':7} {'card':4} {'command APDU':52} {'response':40} {'ms':>3}")
    for t in trace:
        apdu, resp = bytes.fromhex(t["apdu"]), bytes.fromhex(t["response"])
        print(f"  {t['step']:7} {t['card']:4} {_hex(apdu):52} {_hex(resp, 18):40} {t['ms']:3}"
              f"  {SEED_STEP_NAMES.get(t['step'], '')}")
        for direction, f in t["frames"]:
            arrow = "host > PN532" if direction == ">" else "host < PN532"
            print(f"  {'':12} {arrow} {t['card']}: {describe_frame(bytes.fromhex(f))}")


def show(s: rigmode.Session, issuer: Issuer) -> None:
    show_cards(issuer, lambda name: rigmode.show(s, name))

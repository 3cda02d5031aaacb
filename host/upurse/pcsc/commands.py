"""`upurse rig pcsc up|down|status|put|pull`: emulated cards as PC/SC cards (upurse.pcsc.daemon).

`up` starts the daemon in new network and mount namespaces (`unshare`, so root or a user
namespace) and prints what PC/SC clients need to reach its pcscd.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from upurse.issuer import Issuer
from upurse.pcsc.daemon import SLOTS, STATE, reader_name
from upurse.rig import control
from upurse.rig.control import RigError

NEEDS = ("unshare", "pcscd", "mount")


def _release(issuer: Issuer, name: str) -> str:
    """Card `name`'s flash, let go of by a running emulated rig first."""
    from upurse.rigmode import release_card

    issuer.card(name)
    release_card(issuer, name)
    return str(issuer.card_store(name))


def up(root: Path, cards: dict[int, str], interpreter: str = "micropython") -> dict:
    state = control.running(root, STATE)
    if state is not None:
        return dict(state, already=True)
    missing = [c for c in NEEDS if shutil.which(c) is None]
    if missing:
        raise RigError(f"`upurse rig pcsc` needs {', '.join(missing)} (Debian: pcscd "
                       "vsmartcard-vpcd util-linux)")
    argv = ["unshare", "--net", "--mount", sys.executable, "-m", "upurse.pcsc.daemon",
            "--dir", str(root), "--interpreter", interpreter]
    argv += [f"--card={s}={store}" for s, store in cards.items()]
    return control.spawn(root, argv, root / "pcsc.log", STATE)


def usage(state: dict) -> list[str]:
    """What opensc-tool, pcsc_scan, scriptor and pyscard need to reach this pcscd."""
    env = f"PCSCLITE_CSOCK_NAME={state['pcsclite_socket']}"
    return [
        f"  export {env}",
        "  opensc-tool -l                      # the readers; -r 0 -a: the card's ATR",
        "  opensc-tool -r 0 -s '00 A4 04 00 08 F0 75 70 75 72 73 65 01 00'   # our SELECT",
        "  pcsc_scan -r                        # readers once (without -r: watch them)",
        f"  scriptor -r '{reader_name(0)}'       # APDUs typed in hex, one a line",
        "  python -c 'from smartcard.System import readers; print(readers())'   # pyscard",
        "  upurse transfer A B N --rig pcsc    # the settlement program over these readers",
    ]


def cmd_pcsc(action: str):
    def run(args) -> None:
        root = args.dir
        state = control.running(root, STATE)
        if action == "up":
            root.mkdir(parents=True, exist_ok=True)
            issuer = Issuer(root)
            if len(args.names) > len(SLOTS):
                raise RigError(f"name at most {len(SLOTS)} cards, one a reader")
            cards = {s: _release(issuer, n) for s, n in zip(SLOTS, args.names, strict=False)}
            state = up(root, cards, args.interpreter)
        elif action == "down":
            if state is None:
                return _print(args, {"stopped": False}, [f"no PC/SC rig running for {root}"])
            control.down(root, name=STATE)
            return _print(args, {"stopped": True, "pcscd_pid": state["pcscd_pid"]},
                          [f"PC/SC rig stopped (pcscd {state['pcscd_pid']} ended)"])
        elif state is None:
            raise RigError(f"no PC/SC rig running for {root}: `upurse rig pcsc up` first")
        elif action == "put":
            store = _release(Issuer(root), args.name)
            control.call(state, "put", slot=args.slot, store=store)
        elif action == "pull":
            control.call(state, "pull", slot=args.slot, after=args.after)
        info = control.call(state, "info")
        data = {"pid": state["pid"], "pcscd_pid": state["pcscd_pid"],
                "pcsclite_socket": state["pcsclite_socket"], "readers": info["readers"],
                "answered": info["answered"], "longest": info["longest"], "cut": info["cut"]}
        word = "already up" if state.get("already") else "up"
        text = [f"PC/SC rig {word} (pid {state['pid']}, pcscd {state['pcscd_pid']}); readers:"]
        text += [f"  {r}: {Path(s).name if s else 'no card'}" for r, s in info["readers"].items()]
        if action in ("up", "status"):
            text += ["PC/SC clients reach it with:"] + usage(state)
        _print(args, data, text)
    return run


def _print(args, data: dict, text: list[str]) -> None:
    print(json.dumps(data, indent=2) if args.json else "\n".join(text))


def add_commands(actions, common) -> None:
    """`upurse rig pcsc ...` under `upurse rig`."""
    pcsc = actions.add_parser("pcsc", help="emulated cards in vsmartcard's virtual PC/SC "
                                           "readers, under a pcscd of their own")
    sub = pcsc.add_subparsers(dest="pcsc_action", required=True, parser_class=type(pcsc))
    for action, text in (("up", "start pcscd and put the cards named in its readers"),
                         ("down", "take the cards out and end pcscd"),
                         ("status", "readers and the cards in them"),
                         ("put", "put a card in a reader (out of the other)"),
                         ("pull", "take the card out of a reader")):
        p = sub.add_parser(action, parents=[common], help=text)
        if action == "up":
            p.add_argument("names", nargs="*", metavar="NAME",
                           help="cards for reader 00 00 and 00 01")
        if action == "put":
            p.add_argument("name")
        if action in ("put", "pull"):
            p.add_argument("slot", type=int, choices=SLOTS, help="0: Virtual PCD 00 00, 1: 00 01")
        if action == "pull":
            p.add_argument("--after", type=int, metavar="N",
                           help="let N more commands through, then take the card away as "
                                "the next one arrives (it never reaches the card)")
        p.set_defaults(func=cmd_pcsc(action))

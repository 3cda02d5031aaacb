"""How CLI commands reach cards: through a terminal board (the rig) or directly.

`--rig sim` (the default): the emulated rig. The rig daemon of the issuer folder if
`upurse rig up` started one, else an ephemeral rig for this command alone. The CLI puts the
cards wanted on readers A and B (their flash folders go into the card boards), then asks the
terminal board over its serial console to run the settlement program.
`--rig serial --terminal-port PORT`: the same requests to a real terminal board; the cards are
whatever a person put on its readers, checked by identity.
`--rig direct`: no terminal board: cards as wired micropython processes, settlement on the host.
`--rig pcsc`: settlement on the host, the cards on PC/SC readers (upurse.pcsc.channel).
The default can be set with UPURSE_RIG.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import serial

from terminal.cardlink import SettlementError  # noqa: E402  (port installed by upurse.issuer)
from upurse.issuer import Issuer
from upurse.rig import control
from upurse.rig.control import RigError
from upurse.terminal import SerialDevice, Terminal, TerminalError

MODES = ("sim", "serial", "direct", "pcsc")
TERMINAL_MODES = ("sim", "serial")  # a terminal board settles; in the others the host does


def add_options(parser) -> None:
    parser.add_argument("--rig", choices=MODES, default=os.environ.get("UPURSE_RIG", "sim"),
                        help="sim: the emulated rig (default); serial: a real terminal board "
                             "(--terminal-port); direct: cards as processes, no terminal; "
                             "pcsc: the cards on PC/SC readers, the host settles")
    parser.add_argument("--terminal-port", help="serial port of the terminal board (--rig serial)")
    parser.add_argument("--pcap", type=Path, metavar="FILE",
                        help="write what the simulated field recorded as pcapng (Wireshark: "
                             "ISO 14443 frames, one interface per reader)")


class Session:
    """A terminal with cards on its readers A and B."""

    mode = "sim"
    epoch = 0.0  # wall-clock time of the field's time 0

    def __init__(self, issuer: Issuer, terminal: Terminal) -> None:
        self.issuer = issuer
        self.terminal = terminal

    def put(self, cards: dict[str, str]) -> None:
        """Make card cards[reader] (a registry name) the one on each reader named."""
        raise NotImplementedError

    def trace(self) -> list[list] | None:
        """The field's record of the air since the session began (sim only)."""
        return None


class _LocalSession(Session):
    """An ephemeral emulated rig, for one command."""

    def __init__(self, issuer: Issuer, rig) -> None:
        self.rig = rig
        super().__init__(issuer, Terminal(rig.ports()["terminal"]))
        self._since = len(rig.field.trace)
        self.epoch = rig.field.epoch

    def put(self, cards: dict[str, str]) -> None:
        self.rig.arrange({r: self.issuer.card_store(n) for r, n in cards.items()})

    def trace(self) -> list[list]:
        return [[e.time, e.reader, e.card, e.direction, e.data.hex()]
                for e in self.rig.field.trace[self._since:]]


class _DaemonSession(Session):
    """The rig `upurse rig up` left running for this issuer folder."""

    def __init__(self, issuer: Issuer, state: dict) -> None:
        self.state = state
        super().__init__(issuer, _open_terminal(state["ports"]["terminal"]))
        start = control.call(state, "trace", since=1 << 62)
        self._since, self.epoch = start["next"], start["epoch"]

    def put(self, cards: dict[str, str]) -> None:
        control.call(self.state, "arrange",
                     wanted={r: str(self.issuer.card_store(n)) for r, n in cards.items()})

    def trace(self) -> list[list]:
        return control.call(self.state, "trace", since=self._since)["trace"]


class _SerialSession(Session):
    """A real terminal board: a person puts the cards down; we check who is where."""

    mode = "serial"

    def put(self, cards: dict[str, str]) -> None:
        found = {c["reader"]: c for c in self.terminal.request("list")["cards"]}
        for reader, name in cards.items():
            want = self.issuer.card(name).card_id.hex()
            got = found.get(reader, {}).get("card_id")
            if got != want:
                where = f"card {got}" if got else "no card"
                raise RigError(f"put card {name} ({want}) on reader {reader}: it holds {where}")


def _open_terminal(port: str | None) -> Terminal:
    if not port:
        raise RigError("--rig serial needs --terminal-port PORT (the terminal board's serial)")
    try:
        terminal = Terminal(port)
    except (serial.SerialException, ValueError) as e:
        raise RigError(f"cannot open the terminal port {port}: {e}") from None
    return terminal


def no_field(args, what: str) -> None:
    """A command about to run without the simulated field refuses `--pcap` in one line."""
    if getattr(args, "pcap", None):
        raise RigError(f"--pcap records the simulated field: {what} has none (use --rig sim)")


@contextmanager
def session(args, issuer: Issuer) -> Iterator[Session]:
    """The terminal this command talks to, with the rig behind it (see the module docstring);
    with `--pcap FILE`, what the field recorded meanwhile goes to FILE."""
    pcap = getattr(args, "pcap", None)
    if args.rig != "sim":
        no_field(args, f"--rig {args.rig}")
    with _session(args, issuer) as s:
        try:
            yield s
        finally:
            if pcap:
                from upurse.rig.air import write_pcapng

                write_pcapng(pcap, s.trace(), s.epoch)


@contextmanager
def _session(args, issuer: Issuer) -> Iterator[Session]:
    if args.rig == "serial":
        yield from _ready(_SerialSession(issuer, _open_terminal(args.terminal_port)))
        return
    state = control.running(issuer.root)
    if state is None:
        yield from _ephemeral(issuer)
    else:
        yield from _ready(_DaemonSession(issuer, state))


def _ready(s: Session) -> Iterator[Session]:
    """`s` once its terminal answers; the terminal's port closed afterwards."""
    try:
        s.terminal.wait_ready()
        yield s
    finally:
        s.terminal.close()


def _ephemeral(issuer: Issuer) -> Iterator[Session]:
    """A rig for one command. Its boards' flash is the daemon's (ISSUER/rig/): the terminal
    board keeps its journal and CRL from one command to the next, as a real terminal does."""
    from upurse.rig.sim import SimRig

    with SimRig(issuer.root / "rig") as rig:
        yield from _ready(_LocalSession(issuer, rig))


def card_opener(args, issuer: Issuer):
    """Where the host finds card NAME when it settles itself: a function NAME -> context
    manager of the card's channel for `--rig pcsc` (PC/SC readers), None for `--rig direct`
    (the card's emulated process)."""
    if args.rig == "pcsc":
        from upurse.pcsc.channel import PcscReaders

        return PcscReaders(issuer).open
    return None


def release_card(issuer: Issuer, name: str) -> None:
    """A command is about to use card `name`'s flash directly: a running rig lets go of it
    (its card board would otherwise keep the card's state in RAM)."""
    state = control.running(issuer.root)
    if state is not None:
        control.call(state, "eject", store=str(issuer.card_store(name)))


# -- what the CLI asks of the terminal --------------------------------------------------------


def request(s: Session, op: str, **fields) -> dict:
    """A terminal request; a settlement failure comes back as the SettlementError it was."""
    try:
        return s.terminal.request(op, **fields)
    except TerminalError as e:
        if e.step:
            err = SettlementError(e.step, e.reason, e.sw)
            if e.reply.get("card_id"):  # a revoked card (terminal.revocation.RevokedCard)
                err.card_id = bytes.fromhex(e.reply["card_id"])
            err.trace = e.reply.get("trace")
            raise err from None
        raise RigError(f"terminal: {e}") from None


def push_crl(s: Session, issuer: Issuer, offered: Path | None = None) -> None:
    """Give the terminal board the issuer's current CRL (and `offered`): it keeps the newest
    it has seen, as the host terminal of direct mode does."""
    from upurse import issuer_pki

    try:
        ca = issuer_pki.ca_public(issuer.root)
    except issuer_pki.PkiError:
        return  # an issuer from before the public-key schemes: no CA, no CRL
    for data in (issuer.crl(), offered.read_bytes() if offered else None):
        if data:
            request(s, "crl", data=data.hex(), ca=ca.public_key.hex(), car=ca.reference.hex())


def transfer(s: Session, payer: str, payee: str, amount: int, purse: int, day: date,
             trace: bool = False) -> dict:
    """Payer's card on reader A, payee's on B, the settlement program on the terminal board.
    The terminal's reply, receipt bytes back from hex."""
    s.put({"A": payer, "B": payee})
    yyyymmdd = int(day.strftime("%Y%m%d"))
    reply = request(s, "transfer", purse=purse, amount=amount, date=yyyymmdd, trace=trace)
    r = reply["receipt"]
    for k in ("payer", "payee"):
        r[k] = bytes.fromhex(r[k])
    for rec in r.get("recovered", []):
        rec["payer"], rec["payee"] = bytes.fromhex(rec["payer"]), bytes.fromhex(rec["payee"])
    return reply


def show(s: Session, name: str) -> dict:
    """What the card tells anyone who selects it (terminal.inspect.read_card's dict)."""
    s.put({"A": name})
    card = request(s, "show", reader="A")["card"]
    if "card_id" in card:
        card["card_id"] = bytes.fromhex(card["card_id"])
    card["purses"] = {int(k): tuple(v) for k, v in card.get("purses", {}).items()}
    return card


def run_transfer(args, issuer: Issuer, purse: int, day: date, trace=None) -> dict:
    """`upurse transfer` through a terminal board: the dict the direct mode's run_transfer
    returns. `trace(step, label, apdu, resp, ms, frames)` sees every APDU afterwards."""
    from upurse.cli import revoked_text, transfer_problem, transfer_result  # (RigError, not
    # cli's UserError: when cli runs as __main__, upurse.cli is a second copy whose UserError
    # main() does not catch)

    payer, payee, amount = args.payer, args.payee, args.amount
    problem = transfer_problem(payer, payee, amount)
    if problem:
        raise RigError(problem)
    issuer.card(payer), issuer.card(payee)  # unknown names: one clear line
    with session(args, issuer) as s:
        push_crl(s, issuer, getattr(args, "crl", None))
        try:
            reply = transfer(s, payer, payee, amount, purse, day, trace=trace is not None)
        except SettlementError as e:
            revoked = revoked_text(issuer, e)
            if revoked:
                raise RigError(revoked) from None
            raise
        air = s.trace()
    for t in reply.get("trace", []) if trace is not None else ():
        trace(t["step"], t["card"], bytes.fromhex(t["apdu"]), bytes.fromhex(t["response"]),
              t["ms"], [(d, bytes.fromhex(f)) for d, f in t["frames"]])
    return {**transfer_result(issuer, payer, payee, amount, purse, day, reply["receipt"]),
            "interpreter": "micropython", "rig": s.mode, "air": air}


def card_show(args, issuer: Issuer) -> dict:
    """`upurse card show` through a terminal board: the summary the direct mode prints."""
    from terminal.cardlink import CardLink
    from upurse.cli import card_summary, proto

    issuer.card(args.name)
    with session(args, issuer) as s:
        card = show(s, args.name)
        summary = card_summary(issuer, args.name, card)
        if card.get("scheme", proto.SCHEME_SYMMETRIC) != proto.SCHEME_SYMMETRIC:
            from upurse.issuer_pki import key_info

            summary.update(key_info(CardLink(TerminalCard(s.terminal, "A"), args.name)))
    return summary


@contextmanager
def perso_channel(args, store: Path) -> Iterator:
    """Where `upurse card create` personalizes: a real board in wired mode (--port), the card
    on a terminal board's reader A (--terminal-port), else a new emulated card's flash."""
    if getattr(args, "port", None):
        with WiredCard(args.port) as card:
            yield card
    elif getattr(args, "terminal_port", None):
        with _open_terminal(args.terminal_port) as terminal:
            terminal.wait_ready()
            yield TerminalCard(terminal, "A")
    else:
        from upurse.cardproc import CardProcess

        with CardProcess(store, args.interpreter) as card:
            yield card


class TerminalCard:
    """A card on a terminal's reader, as a `transmit(apdu) -> response` channel: the card stays
    activated from the first APDU to the last (personalization runs in one session)."""

    def __init__(self, terminal: Terminal, reader: str = "A") -> None:
        self.terminal, self.reader = terminal, reader
        self._fresh = True

    def transmit(self, apdu: bytes) -> bytes:
        reply = self.terminal.request("apdu", reader=self.reader, apdus=[apdu.hex()],
                                      fresh=self._fresh)
        self._fresh = False
        return bytes.fromhex(reply["responses"][0])


class WiredCard(SerialDevice):
    """A real card board in wired mode on its USB serial port (common.wire line framing)."""

    def __init__(self, port: str, timeout: float = 10.0) -> None:
        from common.wire import COMMAND, RESPONSE, frame, unframe

        self._frame, self._unframe, self._cmd, self._rsp = frame, unframe, COMMAND, RESPONSE
        try:
            self.serial = serial.serial_for_url(port, 115200, timeout=timeout)
        except (serial.SerialException, ValueError) as e:
            raise RigError(f"cannot open the card port {port}: {e}") from None
        self.serial.reset_input_buffer()

    def transmit(self, apdu: bytes) -> bytes:
        self.serial.write(self._frame(self._cmd, apdu))
        while True:
            line = self.serial.readline()
            if not line:
                raise RigError(f"the card on {self.serial.port} did not answer (wired mode?)")
            resp = self._unframe(self._rsp, line)
            if resp is not None:
                return resp


# -- `upurse rig up | down | status | put | pull | reboot` --------------------------------------


def reboot(args) -> tuple[dict, list[str]]:
    """Soft-reset a board: one of the running rig's boards by name, else a port or URL."""
    from upurse.console import ConsoleError, soft_reset

    state = control.running(args.dir)
    ports = {k: v for k, v in (state or {}).get("ports", {}).items()
             if not k.startswith("pn532")}
    port = ports.get(args.board, args.board)
    if port == args.board and "/" not in port and ":" not in port:
        known = ", ".join(ports) or "none: no rig running (`upurse rig up`)"
        raise RigError(f"no board {args.board!r}: name a port or a rig board ({known})")
    try:
        soft_reset(port)
    except ConsoleError as e:
        raise RigError(str(e)) from None
    return {"board": args.board, "port": port}, [f"board {args.board} ({port}) soft-reset: "
                                                   "it runs main.py again"]


def cmd_rig(action: str):
    def run(args) -> None:
        import json

        root = args.dir
        if action == "up":
            root.mkdir(parents=True, exist_ok=True)
            state = control.up(root, pcap=args.pcap)
            info = control.call(state, "info")
            word = "already up" if state.get("already") else "up"
            text = [f"rig {word} (pid {state['pid']}), state in {control.state_file(root)}"]
            text += [f"  {k:14} {v}" for k, v in info["ports"].items()]
            data = {"pid": state["pid"], "ports": info["ports"], "placement": info["placement"]}
        elif action in ("put", "pull"):
            state = control.running(root)
            if state is None:
                raise RigError(f"no rig running for {root}: `upurse rig up` first")
            if action == "put":
                issuer = Issuer(root)
                issuer.card(args.name)
                control.call(state, "arrange", wanted={args.reader: str(issuer.card_store(
                    args.name))})
                text = [f"card {args.name} on reader {args.reader}"]
            else:
                pulled = control.call(state, "pull", reader=args.reader)["pulled"]
                text = [f"took {', '.join(pulled) or 'nothing'} off reader {args.reader}"]
            data = control.call(state, "info")["placement"]
        elif action == "reboot":
            data, text = reboot(args)
        elif action == "down":
            stopped = control.down(root)
            data = {"stopped": stopped}
            text = ["rig stopped" if stopped else f"no rig running for {root}"]
        else:
            state = control.running(root)
            if state is None:
                data, text = {"running": False}, [f"no rig running for {root}"]
            else:
                info = control.call(state, "info")
                data = {"running": True, "pid": state["pid"], **info}
                text = [f"rig running (pid {state['pid']})"]
                text += [f"  {k:14} {v}" for k, v in info["ports"].items()]
                text += [f"  {slot} on reader {p['reader']}: {p['store']}"
                         for slot, p in info["placement"].items()]
        print(json.dumps(data, indent=2) if args.json else "\n".join(text))
    return run


def add_commands(sub, common) -> None:
    """`upurse rig up|down|status|put|pull`."""
    rig = sub.add_parser("rig", help="the emulated rig: field simulator and three boards")
    actions = rig.add_subparsers(dest="action", required=True, parser_class=type(rig))
    for action, text in (("up", "start the emulated rig in the background, print its ports"),
                         ("down", "stop it"), ("status", "ports and which card is where"),
                         ("put", "put a card on a reader (swapping cards as needed)"),
                         ("pull", "take the card off a reader, as a person would"),
                         ("reboot", "soft-reset a board (a rig board's name, a port or a "
                                    "pyserial URL) so it runs main.py again")):
        p = actions.add_parser(action, parents=[common], help=text)
        if action == "put":
            p.add_argument("name")
        if action in ("put", "pull"):
            p.add_argument("reader", choices=("A", "B"))
        if action == "reboot":
            p.add_argument("board", help="terminal, card-1, card-2 (the running rig's boards), "
                                         "or a port: /dev/ttyACM0, rfc2217://host:port")
        if action == "up":
            p.add_argument("--pcap", type=Path, metavar="FILE",
                           help="record the air to FILE (pcapng) as it happens, until rig down")
        p.set_defaults(func=cmd_rig(action))
    from upurse.pcsc.commands import add_commands as add_pcsc_commands

    add_pcsc_commands(actions, common)  # `upurse rig pcsc up|down|status|put|pull`

"""pytest plugin: one end-to-end suite for the emulated rig and for real boards.

    pytest tests/test_hil.py                         # --rig sim: field simulator + 3 boards
    pytest tests/test_hil.py --rig serial --terminal-port /dev/ttyACM0 \\
        --card-ports /dev/ttyUSB0,/dev/ttyUSB1       # real boards (`make hil`)
    pytest tests/test_hil.py --lg-env env.yaml       # a labgrid place (docs/boards.md)

A port is a device or a pyserial URL (rfc2217://host:port from ser2net). With labgrid's plugin
and `--lg-env`, the terminal's console is the place's NetworkSerialPort named `terminal`.

Fixtures (session-wide, one rig per xdist worker):
- `rig`: a `Rig`: `.mode`, `.terminal` (upurse.terminal.Terminal), `.sim` (the SimRig, None on
  real boards), `.card_ports` (the card boards' USB serial ports, real boards only);
- `terminal`: `rig.terminal`;
- `card_a`, `card_b`: the card on reader A / B (`Card`), personalized on first use if blank
  (by a session issuer, through the terminal), so tests find active cards either way.

Markers: `hil` tests need physical boards and skip with the reason unless --rig serial names
the ports; `sim` tests need the simulated field (taking cards out, swapping them) and skip on
real boards.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

HIL_REASON = ("needs physical boards: --rig serial --terminal-port PORT --card-ports A,B "
              "(make hil TERMINAL_PORT=... CARD_PORTS=...)")
SIM_REASON = "needs the simulated PN532 field (--rig sim)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("upurse")
    group.addoption("--rig", choices=("sim", "serial"), default="sim",
                    help="run the rig tests on the emulated rig (sim) or on real boards (serial)")
    group.addoption("--terminal-port", default=None, help="serial port of the terminal board")
    group.addoption("--card-ports", default=None,
                    help="comma-separated serial ports of the card boards (wired mode)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hil: needs physical boards named by --rig serial and "
                                       "their ports")
    config.addinivalue_line("markers", "sim: needs the simulated PN532 field (skips on real "
                                       "boards)")


def _labgrid(config: pytest.Config) -> bool:
    """--lg-env given (labgrid's pytest plugin): the boards are on a labgrid place."""
    return bool(getattr(config.option, "lg_env", None))


def _ports(config: pytest.Config) -> tuple[str | None, list[str]]:
    cards = config.getoption("--card-ports") or ""
    return config.getoption("--terminal-port"), [p for p in cards.split(",") if p]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    serial = config.getoption("--rig") == "serial" or _labgrid(config)
    terminal_port, card_ports = _ports(config)
    physical = serial and (terminal_port or _labgrid(config)) and card_ports
    for item in items:
        if "hil" in item.keywords and not physical:
            item.add_marker(pytest.mark.skip(reason=HIL_REASON))
        if "sim" in item.keywords and serial:
            item.add_marker(pytest.mark.skip(reason=SIM_REASON))


@dataclass
class Rig:
    mode: str  # "sim" or "serial"
    terminal: object  # upurse.terminal.Terminal
    sim: object | None = None  # upurse.rig.sim.SimRig
    card_ports: list[str] = field(default_factory=list)
    workdir: Path | None = None

    def cards(self) -> dict[str, dict]:
        """What the terminal finds on each reader (op list), by reader."""
        return {c["reader"]: c for c in self.terminal.request("list")["cards"]}


@dataclass
class Card:
    """The card on one of the terminal's readers."""

    rig: Rig
    reader: str
    card_id: bytes

    def show(self) -> dict:
        return self.rig.terminal.request("show", reader=self.reader)["card"]

    def balance(self, purse: int = 1) -> int:
        return self.show()["purses"][str(purse)][0]

    def transmit(self, apdu: bytes) -> bytes:
        reply = self.rig.terminal.request("apdu", reader=self.reader, apdus=[apdu.hex()])
        return bytes.fromhex(reply["responses"][0])


@pytest.fixture(scope="session")
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    from upurse.terminal import Terminal

    config = request.config
    if config.getoption("--rig") == "serial" or _labgrid(config):
        terminal_port, card_ports = _ports(config)
        if _labgrid(config):
            from upurse.farm import labgrid_url

            terminal_port = labgrid_url(request.getfixturevalue("target"), "terminal")
        if not terminal_port:
            pytest.skip("--rig serial needs --terminal-port PORT")
        terminal = Terminal(terminal_port)
        try:
            terminal.wait_ready()
            yield Rig("serial", terminal, card_ports=card_ports)
        finally:
            terminal.close()
        return
    from upurse.rig.sim import SimRig

    workdir = tmp_path_factory.mktemp("rig")
    with SimRig(workdir) as sim:
        terminal = Terminal(sim.ports()["terminal"])
        try:
            terminal.wait_ready()
            yield Rig("sim", terminal, sim=sim, workdir=workdir)
        finally:
            terminal.close()


@pytest.fixture
def terminal(rig: Rig):
    return rig.terminal


@pytest.fixture(scope="session")
def issued(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Card identity on each reader; blank cards are personalized by a session issuer."""
    from upurse.issuer import Issuer
    from upurse.keystore import dev_settings
    from upurse.protocol import proto
    from upurse.rigmode import TerminalCard

    found = rig.cards()
    missing = [r for r in ("A", "B") if r not in found]
    if missing:
        pytest.fail(f"no card on reader {', '.join(missing)}: {json.dumps(found)}")
    issuer = None
    ids = {}
    for reader in ("A", "B"):
        card = found[reader]
        if card.get("state") == proto.STATE_ACTIVE:
            ids[reader] = bytes.fromhex(card["card_id"])
            continue
        if issuer is None:
            issuer = Issuer.init(tmp_path_factory.mktemp("issuer") / "issuer",
                                  key_store=dev_settings())
        card_id, _ = issuer.personalize(
            TerminalCard(rig.terminal, reader), f"card-{reader.lower()}", balance=100_000,
            points=1000, valid_until=date(date.today().year + 5, 12, 31), transfer_key_id=None,
            max_balance=1_000_000, scheme=proto.SCHEME_SYMMETRIC)
        ids[reader] = card_id
    return ids


@pytest.fixture
def card_a(rig: Rig, issued: dict[str, bytes]) -> Card:
    return Card(rig, "A", issued["A"])


@pytest.fixture
def card_b(rig: Rig, issued: dict[str, bytes]) -> Card:
    return Card(rig, "B", issued["B"])

"""PC/SC: emulated cards in vsmartcard's virtual readers under a pcscd of their own (`upurse rig
pcsc up`), reached by opensc-tool, pcsc_scan, scriptor and pyscard; and the settlement
program on the host over two PC/SC readers (`--rig pcsc`), cards found by their card ID.

pcscd runs in its own network and mount namespaces (vpcd listens on every interface: there,
only loopback exists), a child of the rig daemon, ended by its PID at `rig pcsc down`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_rig_cli import alive, upurse

from upurse.protocol import proto

D = ["--dir", "iss"]
SELECT = f"00 A4 04 00 {len(proto.AID):02X} {proto.AID.hex(' ')} 00"
READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")


def issue(root: Path, older: str, newer: str, scheme: str = "symmetric") -> None:
    """Two cards, the second on the newer transfer key (and, hybrid-update, update key)."""
    upurse(root, "card", "create", older, "--balance", "1000", "--scheme", scheme, *D)
    upurse(root, "issuer", "rotate-transfer-key", *D)
    if scheme != "symmetric":
        upurse(root, "issuer", "rotate-update-key", *D)
    upurse(root, "card", "create", newer, "--balance", "500", "--scheme", scheme, *D)


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    """An issuer, cards a and b, and a PC/SC rig with them in its readers; each test issues
    the cards it moves value between (so test workers issue only what their tests need)."""
    root = tmp_path_factory.mktemp("pcsc")
    upurse(root, "issuer", "init", *D)
    issue(root, "a", "b")
    state = json.loads(upurse(root, "rig", "pcsc", "up", "a", "b", "--json", *D).stdout)
    env = dict(os.environ, PCSCLITE_CSOCK_NAME=state["pcsclite_socket"])
    try:
        yield root, state, env
    finally:
        down = json.loads(upurse(root, "rig", "pcsc", "down", "--json", *D).stdout)
        assert down["stopped"] and not alive(state["pid"]) and not alive(state["pcscd_pid"])


def put(root: Path, **slots: int) -> dict:
    for name, slot in slots.items():
        upurse(root, "rig", "pcsc", "put", name, str(slot), *D)
    return json.loads(upurse(root, "rig", "pcsc", "status", "--json", *D).stdout)


def ids(root: Path) -> dict[str, str]:
    cards = json.loads(upurse(root, "card", "list", "--json", *D).stdout)["cards"]
    return {c["name"]: c["card_id"] for c in cards}


def run(env: dict, *argv: str, stdin: str | None = None) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, input=stdin)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_pcsc_clients_reach_the_emulated_cards(rig):
    root, state, env = rig
    status = put(root, a=0, b=1)
    held = {r: Path(s).name for r, s in status["readers"].items()}
    assert held == dict(zip(READERS, "ab", strict=True))
    assert state["pcscd_pid"] != state["pid"]
    # vpcd listens on every interface of pcscd's own network namespace, where only lo exists
    pid = state["pcscd_pid"]
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    devices = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    assert [d.split(":")[0].strip() for d in devices] == ["lo"]
    listening = [line.split()[1] for line in Path(f"/proc/{pid}/net/tcp").read_text()
                 .splitlines()[1:] if line.split()[3] == "0A"]
    assert {"00000000:8C7B", "00000000:8C7C"} <= set(listening)  # 35963, 35964
    listed = run(env, "opensc-tool", "-l")
    assert all(f"Yes             {r}" in listed for r in READERS)
    assert run(env, "opensc-tool", "-r", "0", "-a").strip() == "3b:80:80:01:01"
    selected = run(env, "opensc-tool", "-r", "1", "-s", SELECT)
    assert "SW1=0x90, SW2=0x00" in selected
    assert ids(root)["b"].upper() in "".join(selected.split())  # card B's ID, in its answer
    refused = run(env, "opensc-tool", "-r", "0", "-s", "80 FF 00 00 00")
    assert "SW1=0x6D, SW2=0x00" in refused  # an instruction the card does not know
    assert all(r in run(env, "pcsc_scan", "-r") for r in READERS)
    scripted = run(env, "scriptor", "-r", READERS[0], stdin=SELECT + "\n")
    assert ": 90 00" in scripted.replace("\n", " ") or "90 00" in scripted
    probe = ("from smartcard.System import readers\n"
             "for r in readers():\n"
             "    c = r.createConnection(); c.connect()\n"
             f"    data, sw1, sw2 = c.transmit(list(bytes.fromhex('{SELECT.replace(' ', '')}')))\n"
             "    print(r, bytes(c.getATR()).hex(), bytes(data).hex(), '%02X%02X' % (sw1, sw2))\n")
    lines = run(env, sys.executable, "-c", probe).splitlines()
    known = ids(root)
    for line, reader, name in zip(lines, READERS, "ab", strict=True):
        assert line.startswith(reader) and line.endswith(" 9000")
        assert "3b80800101" in line and known[name] in line


def test_transfer_with_key_roll_over_two_readers(rig):
    root, _, _ = rig
    issue(root, "g", "h")
    put(root, g=0, h=1)  # payer h is on the second reader: found by its card ID
    r = json.loads(upurse(root, "transfer", "h", "g", "100", "--rig", "pcsc", "--json",
                          *D).stdout)
    assert r["key_roll"] == "update-key" and r["rig"] == "pcsc"
    assert (r["payer_balance"], r["payee_balance"]) == (400, 1100)
    shown = json.loads(upurse(root, "card", "show", "g", "--rig", "pcsc", "--json", *D).stdout)
    assert (shown["balance"], shown["transfer_key_id"]) == (1100, r["transfer_key_id"])
    absent = upurse(root, "transfer", "a", "g", "1", "--rig", "pcsc", *D, ok=False)
    assert absent.returncode == 1 and len(absent.stderr.strip().splitlines()) == 1
    assert "card a" in absent.stderr and "is on no PC/SC reader" in absent.stderr


def test_public_key_roll_over_pcsc(rig):
    root, _, _ = rig
    issue(root, "c", "d", "hybrid-update")
    put(root, c=0, d=1)
    r = json.loads(upurse(root, "transfer", "d", "c", "50", "--rig", "pcsc", "--json",
                          *D).stdout)
    assert r["key_roll"] not in ("none", "update-key")
    assert (r["payer_balance"], r["payee_balance"]) == (450, 1050)
    status = json.loads(upurse(root, "rig", "pcsc", "status", "--json", *D).stdout)
    assert max(status["longest"].values()) >= 254  # certificates: 254-byte command APDUs


def test_card_pulled_mid_transfer_then_recovered(rig):
    root, _, _ = rig
    issue(root, "e", "f")
    put(root, e=0, f=1)
    upurse(root, "transfer", "f", "e", "1", "--rig", "pcsc", *D)  # the key roll, out of the way
    # payee e sees: the readers' probe SELECT, recovery's SELECT, S1001, S2002; then S2004
    upurse(root, "rig", "pcsc", "pull", "0", "--after", "4", *D)
    cut = upurse(root, "transfer", "f", "e", "100", "--rig", "pcsc", *D, ok=False)
    assert cut.returncode == 1 and "S2004" in cut.stderr and "did not answer" in cut.stderr
    status = json.loads(upurse(root, "rig", "pcsc", "status", "--json", *D).stdout)
    assert status["cut"][READERS[0]] == proto.INS_VALUE_RX and status["readers"][READERS[0]] is None
    payer = json.loads(upurse(root, "card", "show", "f", "--rig", "pcsc", "--json", *D).stdout)
    assert payer["balance"] == 399 and payer["pending"]  # debited: the value is in flight
    put(root, e=0)  # the card is back
    r = json.loads(upurse(root, "transfer", "f", "e", "1", "--rig", "pcsc", "--json",
                          *D).stdout)
    assert [x["outcome"] for x in r["recovered"]] == ["completed", "confirmed"]
    assert (r["payer_balance"], r["payee_balance"]) == (398, 1102)  # 1001 + 100 + 1

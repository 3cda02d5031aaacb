"""The CLI on the emulated rig: `upurse rig up` leaves a daemon running (field simulator, card
boards and terminal board as micropython processes on ptys); `transfer` and `card show` ask
the terminal board over its serial console; `rig down` stops everything. Without a daemon a
command brings up a rig of its own; `upurse demo` shows the APDUs inside PN532 frames."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

UPURSE = [sys.executable, "-m", "upurse.cli"]


def upurse(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "UPURSE_RIG"}
    proc = subprocess.run([*UPURSE, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)
    if ok:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # field 4 of /proc/PID/stat: the parent
            found.append(int(stat.parent.name))
    return found


def test_rig_up_transfer_show_down(tmp_path: Path):
    d = ["--dir", "iss"]
    upurse(tmp_path, "issuer", "init", *d)
    upurse(tmp_path, "card", "create", "a", "--balance", "1000", *d)
    upurse(tmp_path, "issuer", "rotate-transfer-key", *d)
    upurse(tmp_path, "card", "create", "b", "--balance", "500", *d)
    up = json.loads(upurse(tmp_path, "rig", "up", "--json", *d).stdout)
    pid = up["pid"]
    try:
        assert (tmp_path / "iss" / "rig.json").exists()
        assert {"terminal", "card-1", "card-2", "pn532-A", "pn532-B"} <= set(up["ports"])
        assert all(p.startswith("/dev/pts/") for p in up["ports"].values())
        boards = children(pid)
        assert len(boards) == 3  # the daemon's three micropython boards
        subprocess.run([sys.executable, "-m", "mpremote", "connect", up["ports"]["terminal"],
                        "exec", "pass"], check=True, capture_output=True, timeout=60)
        upurse(tmp_path, "rig", "reboot", "terminal", *d)  # at the REPL: main.py again
        r = json.loads(upurse(tmp_path, "transfer", "b", "a", "100", "--json", *d).stdout)
        assert r["rig"] == "sim" and r["key_roll"] == "update-key"
        assert (r["payer_balance"], r["payee_balance"]) == (400, 1100)
        air = [e[3] for e in r["air"]]  # the field's record, from the daemon
        assert air.count("cmd") == air.count("rsp") >= 9
        status = json.loads(upurse(tmp_path, "rig", "status", "--json", *d).stdout)
        where = {p["reader"]: Path(p["store"]).name for p in status["placement"].values()}
        assert where == {"A": "b", "B": "a"}
        show = json.loads(upurse(tmp_path, "card", "show", "a", "--json", *d).stdout)
        assert (show["balance"], show["transfer_key_id"]) == (1100, 2)
        # a direct command on a card's flash makes the rig let go of it first
        direct = upurse(tmp_path, "transfer", "a", "b", "1", "--rig", "direct", "--json", *d)
        assert json.loads(direct.stdout)["payer_balance"] == 1099
        again = json.loads(upurse(tmp_path, "transfer", "a", "b", "1", "--json", *d).stdout)
        assert (again["payer_balance"], again["payee_balance"]) == (1098, 402)
        pulled = json.loads(upurse(tmp_path, "rig", "pull", "B", "--json", *d).stdout)
        assert sorted(str(p["reader"]) for p in pulled.values()) == ["A", "None"]
        upurse(tmp_path, "rig", "put", "b", "B", *d)  # the other card moves to A
        placed = json.loads(upurse(tmp_path, "rig", "status", "--json", *d).stdout)
        where = {p["reader"]: Path(p["store"]).name for p in placed["placement"].values()}
        assert where == {"A": "a", "B": "b"}
        err = upurse(tmp_path, "transfer", "b", "a", "5000", *d, ok=False)
        assert err.returncode == 1
        assert err.stderr.strip() == ("upurse: error: S2001: card A refused: amount above the "
                                      "value balance or above the maximum balance (6A84)")
    finally:
        down = upurse(tmp_path, "rig", "down", *d)
    assert "rig stopped" in down.stdout
    assert not alive(pid) and not any(alive(p) for p in boards)
    assert not (tmp_path / "iss" / "rig.json").exists()


def test_demo_shows_apdus_in_pn532_frames(tmp_path: Path):
    out = upurse(tmp_path, "demo").stdout
    assert "host > PN532 A: 00 00 FF 11 EF | D4 40 01 | 00A4040008F07570757273650100 |" in out
    assert "host < PN532 A: ACK" in out
    assert "| D5 41 00 |" in out  # InDataExchange answers: status 00, then the response APDU
    assert "key roll: update-key" in out and "key roll: public-key" in out
    assert "the field recorded" in out and "card a: balance 1100" in out
    assert "00 00 FF FF FF" in out  # a 260-byte APDU needs an extended frame (§6.2.1.2)


def test_card_create_over_a_wired_port_and_through_a_terminal(tmp_path: Path):
    """`card create --port`: a card board in wired mode (its console pty stands in for a real
    board's USB serial); `--terminal-port`: the blank card on a terminal board's reader A."""
    from upurse.build import cached
    from upurse.rig.emuboard import EmulatedBoard
    from upurse.rig.sim import SimRig
    from upurse.terminal import Terminal

    d = ["--dir", "iss"]
    upurse(tmp_path, "issuer", "init", *d)
    env = {"UPURSE_LINK": "wired", "UPURSE_STORE": str(tmp_path / "wired" / "upurse-card")}
    with EmulatedBoard("wired", tmp_path / "wired", firmware=cached("card", "unix"), env=env,
                       heap="128k") as board:
        r = json.loads(upurse(tmp_path, "card", "create", "w", "--balance", "10", "--port",
                              board.port, "--json", *d).stdout)
    assert (tmp_path / "wired" / "upurse-card" / "state").exists()  # the board's own flash
    assert not (tmp_path / "iss" / "cards" / "w").exists()  # nothing emulated on the host
    with SimRig(tmp_path / "rig") as sim:
        port = sim.ports()["terminal"]
        t = json.loads(upurse(tmp_path, "card", "create", "t", "--balance", "20",
                              "--terminal-port", port, "--json", *d).stdout)
        with Terminal(port) as terminal:
            card = terminal.request("show", reader="A")["card"]
    assert card["card_id"] == t["card_id"] and card["purses"]["1"][0] == 20
    listed = json.loads(upurse(tmp_path, "card", "list", "--json", *d).stdout)["cards"]
    assert {c["name"]: c["card_id"] for c in listed} == {"w": r["card_id"], "t": t["card_id"]}

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
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


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
